"""Where the files the library reads at run time are: RTL, HLS sources, board configs, shipped
checkpoints, the host bundle.

They stay in the repository's top-level folders (hls/, bitstreams/configs/, models/, host/); the
wheel ships each of them as a data-only sub-package (`noisybnn._hls`, ... mapped onto those
folders by `package-dir` in pyproject.toml), read through `importlib.resources`. In a source
checkout run with ``PYTHONPATH=src`` those sub-packages are not importable, and the folders are
the checkout's own. Every module that needs one of these folders asks this one.
"""

from __future__ import annotations

import importlib.resources
import importlib.util
import os
from functools import cache
from pathlib import Path

#: Shipped sub-package -> the repository folder it is made of.
FOLDERS = {"_hls": "hls", "_configs": "bitstreams/configs", "_models": "models", "_host": "host"}


@cache
def _folder(package: str) -> Path:
    """The folder of a shipped data sub-package, else the checkout's folder it is made of."""
    try:
        root = importlib.resources.files(f"noisybnn.{package}")
    except ModuleNotFoundError:
        return source_checkout() / FOLDERS[package]
    if isinstance(root, Path):
        return root
    # a data folder has no __init__.py, so it is a namespace package: its Traversable is a
    # MultiplexedPath over the folders of its search locations (one, in a wheel or an editable
    # install), which the import system names
    spec = importlib.util.find_spec(f"noisybnn.{package}")
    return Path(next(iter(spec.submodule_search_locations)))


def source_checkout() -> Path:
    """The repository this package runs from (src/noisybnn -> repository root)."""
    return Path(__file__).resolve().parent.parent.parent


def in_source_checkout() -> bool:
    """True when running from a clone (pyproject.toml beside src/), not from an installed wheel."""
    return (source_checkout() / "pyproject.toml").is_file() and \
        (source_checkout() / "src" / "noisybnn").is_dir()


def hls_dir() -> Path:
    """hls/: the HLS sources, their testbench and compatibility headers."""
    return _folder("_hls")


def rtl_dir() -> Path:
    """hls/rtl/: the Verilog of the noise injector."""
    return hls_dir() / "rtl"


def configs_dir() -> Path:
    """bitstreams/configs/: one JSON per board (part, clock, resources, shell flow)."""
    return _folder("_configs")


def models_dir() -> Path:
    """models/: the shipped checkpoints and their cards; $NOISYBNN_MODELS overrides it."""
    env = os.environ.get("NOISYBNN_MODELS")
    return Path(env) if env else _folder("_models")


def host_dir() -> Path:
    """host/: the board-side bundle (noisybnn_host and its scripts)."""
    return _folder("_host")


def work_dir(*parts: str) -> Path:
    """Default folder for outputs (builds, runs, caches): the checkout's, or the user cache of an
    installed package (a wheel's site-packages is not the place for builds)."""
    root = source_checkout() if in_source_checkout() else Path.home() / ".cache" / "noisybnn"
    return root.joinpath(*parts)
