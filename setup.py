"""Packaging that pyproject.toml cannot say alone: the data folders at the top of the repository
(hls/, bitstreams/configs/, models/, host/) ship inside the package as data-only sub-packages,
without moving them. `noisybnn.resources` reads them (importlib.resources).
"""

from setuptools import find_packages, setup

#: Sub-package -> the repository folder it is made of (keep in step with noisybnn.resources).
DATA_PACKAGES = {"noisybnn._hls": "hls", "noisybnn._configs": "bitstreams/configs",
                 "noisybnn._models": "models", "noisybnn._host": "host"}

setup(packages=find_packages("src") + list(DATA_PACKAGES),
      package_dir={"": "src", **DATA_PACKAGES})
