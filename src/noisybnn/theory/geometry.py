"""Geometry of binarization (Anderson & Berg 2017): sign(v) points almost where v points.

For v with i.i.d. N(0, 1) entries in R^d, cos angle(v, sign v) = sum_i |v_i| / (sqrt(d) |v|_2),
whose expectation is sqrt(d) Gamma(d/2) / (sqrt(pi) Gamma((d+1)/2)) and tends to sqrt(2/pi) ~ 0.798,
an angle of arccos(sqrt(2/pi)) ~ 37 degrees, with fluctuations O(1/sqrt(d)). In high dimension two
random vectors are ~90 degrees apart, so 37 degrees means binarization keeps the direction and dot
products with other vectors are roughly proportional (docs/theory.md §7).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import gammaln

ASYMPTOTIC_SIGN_ANGLE_DEG = float(np.degrees(np.arccos(np.sqrt(2.0 / np.pi))))  # 37.0 deg


def _sign(v: NDArray) -> NDArray:
    return np.where(v >= 0, 1.0, -1.0)  # the hidden-layer convention: 0 maps to +1


def _angle_deg(a: NDArray, b: NDArray, axis: int) -> NDArray[np.float64]:
    num = np.sum(a * b, axis=axis)
    den = np.linalg.norm(a, axis=axis) * np.linalg.norm(b, axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.where(den > 0, num / den, np.nan)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def expected_sign_cosine(dim: ArrayLike) -> NDArray[np.float64]:
    """E[cos angle(v, sign v)] for v ~ N(0, I_d): sqrt(d) Gamma(d/2) / (sqrt(pi) Gamma((d+1)/2)).

    By symmetry the expectation is sqrt(d) E|u_1| for u uniform on the sphere. 1 for d = 1,
    decreasing to sqrt(2/pi) as d grows.
    """
    d = np.asarray(dim, dtype=float)
    if np.isnan(d).any() or (d < 1).any() or (d != np.round(d)).any():
        raise ValueError(f"dim must be whole numbers >= 1, got {dim!r}")
    return np.exp(0.5 * np.log(d) + gammaln(d / 2) - gammaln((d + 1) / 2) - 0.5 * np.log(np.pi))


def expected_sign_angle(dim: ArrayLike | None = None) -> NDArray[np.float64] | float:
    """Angle in degrees between a Gaussian vector and its sign.

    Args:
        dim: dimension d; None gives the d -> infinity limit arccos(sqrt(2/pi)) = 37.0 degrees.

    Returns:
        arccos(E[cos]) in degrees (for finite d, the angle of the mean cosine, which differs from
        the mean angle by O(1/d)).
    """
    if dim is None:
        return ASYMPTOTIC_SIGN_ANGLE_DEG
    return np.degrees(np.arccos(np.clip(expected_sign_cosine(dim), -1.0, 1.0)))


def sign_angle(v: ArrayLike, axis: int = -1) -> NDArray[np.float64]:
    """Angle in degrees between ``v`` and ``sign(v)`` along ``axis`` (NaN for a zero vector)."""
    a = np.asarray(v, dtype=float)
    if not np.isfinite(a).all():
        raise ValueError("v must be finite")
    return _angle_deg(a, _sign(a), axis)


def binarization_angles(weights: ArrayLike) -> NDArray[np.float64]:
    """Per output neuron, angle in degrees between its real weight row and the binarized row.

    Args:
        weights: real-valued (latent, pre-binarization) weights, shape (out, in).

    Returns:
        (out,) angles: ~37 degrees for Gaussian-like rows (cos = E|w| / sqrt(E w^2)), 45 for
        Laplace rows, 30 for uniform rows, 0 for rows that are already +-constant.
    """
    w = np.asarray(weights, dtype=float)
    if w.ndim != 2:
        raise ValueError(f"weights must be (out, in), got shape {w.shape}")
    return sign_angle(w, axis=1)


def activation_angles(preactivations: ArrayLike, centered: bool = True) -> NDArray[np.float64]:
    """Per sample, angle in degrees between a layer's pre-activation vector and its binarization.

    Args:
        preactivations: (samples, neurons) real pre-activations (e.g. ``W x - T``).
        centered: subtract the per-neuron mean over samples first (what the threshold does when it
            folds a BatchNorm); False measures the raw vectors.
    """
    a = np.asarray(preactivations, dtype=float)
    if a.ndim != 2:
        raise ValueError(f"preactivations must be (samples, neurons), got shape {a.shape}")
    if centered:
        a = a - a.mean(axis=0, keepdims=True)
    return sign_angle(a, axis=1)


def dot_product_correlation(weights: ArrayLike, activations: ArrayLike) -> NDArray[np.float64]:
    """Per output neuron, Pearson correlation over samples of W_j . a and sign(W_j) . a.

    Anderson & Berg: binarizing the weights keeps dot products roughly proportional; values near 1
    mean the binary layer computes a rescaled version of the real-valued one.

    Args:
        weights: (out, in) real weights.
        activations: (samples, in) inputs of the layer.
    """
    w = np.asarray(weights, dtype=float)
    a = np.asarray(activations, dtype=float)
    if w.ndim != 2 or a.ndim != 2 or a.shape[1] != w.shape[1]:
        raise ValueError(
            f"need weights (out, in) and activations (samples, in); got {w.shape}, {a.shape}"
        )
    real = a @ w.T
    binary = a @ _sign(w).T
    real = real - real.mean(axis=0)
    binary = binary - binary.mean(axis=0)
    den = np.linalg.norm(real, axis=0) * np.linalg.norm(binary, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, np.sum(real * binary, axis=0) / den, np.nan)
