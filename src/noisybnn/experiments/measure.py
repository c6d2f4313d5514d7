"""Measuring on the software accelerator: the test images once per process, BLAS and malloc set
for small GEMMs, clean and noisy accuracy of a build, the label entropy the theory needs.

Shared by the sweep, the exploration and the depth-width experiment (and each Dask worker).
"""

from __future__ import annotations

import ctypes
import math
import os
import sys
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from noisybnn.experiments.errors import SweepError

__all__ = ["get_data", "label_entropy", "limit_blas_threads", "measure_accuracy", "tune_malloc"]

_DATA: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}


def get_data(dataset: str, split: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The first n images and labels of a split, loaded once per process."""
    key = (dataset, split, n)
    if key not in _DATA:
        from noisybnn import data

        x, y = data.load(dataset, split)
        if n > len(x):
            raise SweepError(f"{n} images asked, the {dataset} {split} split has {len(x)}")
        _DATA[key] = (np.ascontiguousarray(x[:n]), np.asarray(y[:n]).astype(np.int64))
    return _DATA[key]


_MALLOC_TUNED = False


def tune_malloc() -> bool:
    """Give numpy back glibc's large-array allocation in processes where it was switched off.

    Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536. Setting that variable freezes
    glibc's mmap threshold at 128 KiB, so every temporary array of the software accelerator is a
    fresh mmap, page-faulted and zeroed: a TFC point (10k images) took 420-550 ms instead of
    110-145 ms. When the variable is set (and on glibc only) this sets the mmap threshold to
    32 MiB, glibc's own dynamic ceiling, and the trim threshold to twice that. Once per process.
    """
    global _MALLOC_TUNED
    if _MALLOC_TUNED or "MALLOC_TRIM_THRESHOLD_" not in os.environ:
        return False
    _MALLOC_TUNED = True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (e.g. musl)
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(libc.mallopt(m_mmap_threshold, 32 << 20) and
                libc.mallopt(m_trim_threshold, 64 << 20))


@contextmanager
def limit_blas_threads(n: int | None):
    """Limit BLAS threads to n while running points (threadpoolctl; no-op without it or for None).

    The software accelerator's GEMMs are small (batch x 784 x 64): one BLAS thread is faster than
    several, by about 3x for TFC on a busy 2-core machine, and a sweep gets its parallelism from
    Dask workers instead (whose nannies set OMP_NUM_THREADS=1 anyway).
    """
    if n is None:
        yield
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=int(n), user_api="blas"):
        yield


def measure_accuracy(build_dir: str | os.PathLike, dataset: str, n_images: int,
                     eps_values: Sequence[float], seeds: Sequence[int],
                     loader: Callable | None = None) -> tuple[float, dict[float, list[float]]]:
    """(clean accuracy, {eps: [accuracy per seed]}) on the first n test images, every injector on.

    For each seed the eps values are the inner loop, so the software accelerator draws that
    seed's noise stream once.
    """
    from noisybnn.backends import NoiseSetting, predict

    if loader is None:
        from noisybnn.backends import load as loader
    acc = loader("sim", Path(build_dir))
    x, y = get_data(dataset, "test", n_images)
    with limit_blas_threads(1):
        acc.configure_noise(NoiseSetting(mode="off"))
        clean = float(np.mean(predict(np.asarray(acc.execute(x))) == y))
        noisy: dict[float, list[float]] = {float(e): [] for e in eps_values}
        for seed in seeds:
            for e in noisy:
                acc.configure_noise(NoiseSetting(mode="flip", p=e, seed=int(seed)))
                noisy[e].append(float(np.mean(predict(np.asarray(acc.execute(x))) == y)))
    return clean, noisy


def label_entropy(labels: np.ndarray, n_classes: int) -> float:
    """H(Y) in bits of the labels an accuracy is measured on (the theory's label entropy).

    The theory's default, log2 C, assumes equiprobable classes; MNIST's test split is not quite
    (H = 3.3194 bits, largest class 11.35 %), and near chance a ceiling computed with log2 C can
    fall below what a constant guess of the largest class achieves.
    """
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=n_classes)
    p = counts[counts > 0] / counts.sum()
    return float(min(-(p * np.log2(p)).sum(), math.log2(n_classes)))

