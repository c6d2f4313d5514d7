"""The shipped folders and the code fingerprint: one place finds them, in a checkout or a wheel."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from noisybnn import fingerprint, resources

ROOT = Path(__file__).resolve().parents[2]


def test_folders_in_the_checkout():
    assert resources.in_source_checkout()
    assert (resources.rtl_dir() / "noise_injector_core.v").is_file()
    assert (resources.configs_dir() / "pynq-z2.json").is_file()
    assert (resources.models_dir() / "tfc-w1a1.pt").is_file()
    assert (resources.host_dir() / "noisybnn_host" / "__init__.py").is_file()
    assert (resources.hls_dir() / "noise_injector.hpp").is_file()


def test_setup_maps_the_same_folders():
    """setup.py's data sub-packages and resources.FOLDERS name the same repository folders."""
    text = (ROOT / "setup.py").read_text()
    for package, folder in resources.FOLDERS.items():
        assert f'"noisybnn.{package}": "{folder}"' in text


def test_code_fingerprint_follows_the_rtl(tmp_path, monkeypatch):
    here = fingerprint.code_sha256()
    assert here == fingerprint.code_sha256() and len(here) == 12
    rtl = tmp_path / "rtl"
    shutil.copytree(resources.rtl_dir(), rtl)
    monkeypatch.setattr(resources, "rtl_dir", lambda: rtl)
    assert fingerprint.code_sha256() == here  # same bytes, same fingerprint
    (rtl / "noise_injector_core.v").write_text("// changed\n")
    assert fingerprint.code_sha256() != here


@pytest.mark.slow
def test_wheel_ships_the_folders(tmp_path):
    """A non-editable wheel carries the data sub-packages and finds them without the checkout."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path / "dist"), str(ROOT)], check=True, cwd=tmp_path)
    wheel = next((tmp_path / "dist").glob("noisybnn-*.whl"))
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                    str(target), str(wheel)], check=True)
    code = ("import noisybnn.resources as r\n"
            "print(r.in_source_checkout(), (r.rtl_dir() / 'noise_injector_core.v').is_file(),"
            " (r.models_dir() / 'tfc-w1a1.pt').is_file(), (r.configs_dir() / 'pynq-z2.json')"
            f".is_file(), r.rtl_dir().is_relative_to(r'{target}'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path, env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"})
    assert out.stdout.split() == ["False", "True", "True", "True", "True"], out.stderr


def test_every_file_inside_the_package_is_declared_package_data():
    """A file under src/noisybnn that no package-data glob names (a template, a stand-in tool in a
    folder without __init__.py) is missing from the wheel; the editable install would hide it."""
    import fnmatch
    import tomllib

    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    pkg_root = ROOT / "src"
    missing = []
    for path in (pkg_root / "noisybnn").rglob("*"):
        if not path.is_file() or "__pycache__" in path.parts or path.suffix == ".pyc":
            continue
        parent = path.parent
        if path.suffix == ".py" and (parent / "__init__.py").is_file():
            continue  # a module of a package: shipped as code
        while not (parent / "__init__.py").is_file():  # the package that owns this data file
            parent = parent.parent
        package = ".".join(parent.relative_to(pkg_root).parts)
        rel = path.relative_to(parent).as_posix()
        if not any(fnmatch.fnmatch(rel, g) for g in globs.get(package, [])):
            missing.append(f"{package}: {rel}")
    assert not missing, f"not in [tool.setuptools.package-data]: {missing}"
