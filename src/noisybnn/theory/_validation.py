"""Argument checks shared by the theory modules: each raises ValueError saying what was wrong."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def probability(value: ArrayLike, name: str) -> NDArray[np.float64]:
    """Return `value` as a float array, or raise if any entry is NaN or outside [0, 1]."""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be a number or array of numbers in [0, 1], got {value!r}"
        ) from None
    if np.isnan(arr).any():
        raise ValueError(f"{name} must be in [0, 1], got NaN")
    if arr.size and (arr.min() < 0.0 or arr.max() > 1.0):
        bad = arr[(arr < 0.0) | (arr > 1.0)].ravel()[0]
        raise ValueError(f"{name} must be in [0, 1], got {bad!r}; pass a flip probability")
    return arr


def positive_integers(value: ArrayLike, name: str) -> NDArray[np.float64]:
    """Return `value` as a float array of integers >= 1, or raise (NaN, non-integer, < 1)."""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be integers >= 1, got {value!r}") from None
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty")
    if np.isnan(arr).any() or np.isinf(arr).any():
        raise ValueError(f"{name} must be finite integers >= 1, got {value!r}")
    if (arr < 1).any():
        raise ValueError(f"{name} must be >= 1, got {arr[arr < 1].ravel()[0]!r}")
    if (arr != np.round(arr)).any():
        raise ValueError(
            f"{name} must be whole numbers, got {arr[arr != np.round(arr)].ravel()[0]!r}"
        )
    return arr


def n_classes(value: object) -> int:
    """Return the number of classes as int, or raise if it is not an integer >= 2."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            value = int(value)
        else:
            raise ValueError(f"n_classes must be an integer >= 2, got {value!r}")
    if int(value) < 2:
        raise ValueError(f"n_classes must be >= 2 (a decision needs two classes), got {value!r}")
    return int(value)


def nonnegative(value: ArrayLike, name: str) -> NDArray[np.float64]:
    """Return `value` as a float array of non-negative, non-NaN numbers (inf allowed)."""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be non-negative numbers, got {value!r}") from None
    if np.isnan(arr).any():
        raise ValueError(f"{name} must not be NaN")
    if arr.size and arr.min() < 0:
        raise ValueError(f"{name} must be >= 0, got {arr[arr < 0].ravel()[0]!r}")
    return arr


def label_entropy(value: ArrayLike | None, n_classes_: int) -> NDArray[np.float64]:
    """Label entropy in bits; default log2(C) (equiprobable classes); must lie in [0, log2 C]."""
    top = np.log2(n_classes_)
    if value is None:
        return np.asarray(top, dtype=float)
    arr = nonnegative(value, "label_entropy")
    if arr.size and arr.max() > top * (1 + 1e-12):
        raise ValueError(
            f"label_entropy must be <= log2(n_classes) = {top:.6g} bits, got {arr.max()!r}"
        )
    return np.minimum(arr, top)
