"""Fixtures for noisybnn.data: an idx encoder and a tiny MNIST-shaped data set (fake source)."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest

from noisybnn import data

_IDX_CODES = {
    np.dtype(np.uint8): 0x08,
    np.dtype(np.int8): 0x09,
    np.dtype(np.int16): 0x0B,
    np.dtype(np.int32): 0x0C,
    np.dtype(np.float32): 0x0D,
    np.dtype(np.float64): 0x0E,
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "network: fetches a real data set from a package registry (npm, Debian)"
    )


def encode_idx(arr: np.ndarray) -> bytes:
    """Independent idx writer (the module under test has none): header + big-endian data."""
    arr = np.asarray(arr)
    header = bytes([0, 0, _IDX_CODES[arr.dtype], arr.ndim])
    header += struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


@pytest.fixture
def make_idx():
    """``make_idx(arr) -> bytes`` in the idx format."""
    return encode_idx


@dataclasses.dataclass
class TinyDataset:
    """A fake 'mnist' registered in place of the real one, served by a counting fake source."""

    arrays: dict[str, np.ndarray]
    spec: data.DatasetSpec
    calls: list[Path]

    def folder(self, cache_dir: Path) -> Path:
        return cache_dir / "mnist"


@pytest.fixture
def tiny(monkeypatch: pytest.MonkeyPatch) -> TinyDataset:
    """Replace DATASETS['mnist'] by 6 train / 4 test 28x28 images whose md5s we know.

    The fake source writes the images raw and the labels gzipped (sources may give either) and
    records each call, so tests can tell a cache hit (no call) from a fetch.
    """
    rng = np.random.default_rng(7)
    arrays = {
        "train-images": rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
        "train-labels": rng.integers(0, 10, 6, dtype=np.uint8),
        "test-images": rng.integers(0, 256, (4, 28, 28), dtype=np.uint8),
        "test-labels": rng.integers(0, 10, 4, dtype=np.uint8),
    }
    real = data.DATASETS["mnist"]
    files = {
        key: dataclasses.replace(
            real.files[key],
            md5=hashlib.md5(encode_idx(arr)).hexdigest(),
            shape=arr.shape,
        )
        for key, arr in arrays.items()
    }
    calls: list[Path] = []

    def fetch(workdir: Path) -> Path:
        calls.append(workdir)
        for key, arr in arrays.items():
            payload = encode_idx(arr)
            name = files[key].filename
            if key.endswith("labels"):
                (workdir / f"{name}.gz").write_bytes(gzip.compress(payload))
            else:
                (workdir / name).write_bytes(payload)
        return workdir

    spec = dataclasses.replace(
        real,
        files=files,
        sources=(data.Source("fake source", fetch, "install the fake source"),),
    )
    monkeypatch.setitem(data.DATASETS, "mnist", spec)
    return TinyDataset(arrays=arrays, spec=spec, calls=calls)
