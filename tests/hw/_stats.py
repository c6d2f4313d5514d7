"""Statistics of the injector's decision streams, on flips packed one beat per 64-bit word.

z-scores use the exact variance of the statistic under independent Bernoulli(p) flips:
* rate: count of flips among N draws, var = N p (1 - p);
* joint rate at a lag (pairs (b, b + k), or lane pairs at an offset): S = sum of N products
  X_i X_j where neighbouring products share one factor, var = N p^2 (1 + 2p - 3p^2)
  (within a lane at lag k, product b shares a factor with b - k and b + k; pooled over lanes);
  for the cross-lane statistic products (l, b) x (l + d, b + k) share factors with two others
  too, so the same variance applies.
"""

from __future__ import annotations

import numpy as np

from noisybnn.backends import kernels


def flips_packed(seed_word: int, thresholds: list[int], n_beats: int, lanes: int = 64,
                 chunk: int = 1 << 20) -> list[np.ndarray]:
    """For each threshold, uint64 (n_beats,): bit l of word b = lane l flips at beat b."""
    if lanes != 64:
        raise ValueError("packing assumes 64 lanes")
    outs = [np.empty(n_beats, dtype=np.uint64) for _ in thresholds]
    weights = np.uint64(1) << np.arange(64, dtype=np.uint64)
    for start in range(0, n_beats, chunk):
        n = min(chunk, n_beats - start)
        u = kernels.lane_stream(seed_word, lanes, n, start)
        for out, t in zip(outs, thresholds, strict=True):
            f = u < t
            out[start:start + n] = np.bitwise_or.reduce(np.where(f, weights, np.uint64(0)), axis=1)
    return outs


def rate_z(packed: np.ndarray, p: float) -> tuple[int, float]:
    n = packed.size * 64
    k = int(np.bitwise_count(packed).sum())
    return k, (k - n * p) / np.sqrt(n * p * (1 - p))


def _pair_z(count: int, pairs: int, p: float) -> float:
    var = pairs * p * p * (1 + 2 * p - 3 * p * p)
    return (count - pairs * p * p) / np.sqrt(var)


def _rotl64(x: np.ndarray, d: int) -> np.ndarray:
    d = np.uint64(d)
    return (x << d) | (x >> (np.uint64(64) - d))


def lag_z(packed: np.ndarray, p: float, lags: range) -> dict[int, float]:
    """Within-lane joint flip rate at each lag, pooled over the 64 lanes."""
    out = {}
    for k in lags:
        c = int(np.bitwise_count(packed[:-k] & packed[k:]).sum())
        out[k] = _pair_z(c, (packed.size - k) * 64, p)
    return out


def cross_z(packed: np.ndarray, p: float, offsets: range, lags: range) -> dict[tuple[int, int], float]:
    """Joint flip rate of lane l at beat b and lane l + d (mod 64) at beat b + k, pooled."""
    out = {}
    n = packed.size
    for d in offsets:
        for k in lags:
            a = packed[: n - k] if k else packed
            b = _rotl64(packed[k:], 64 - d)  # bit l of the rotated word = lane l + d
            c = int(np.bitwise_count(a & b).sum())
            out[(d, k)] = _pair_z(c, (n - k) * 64, p)
            if k:  # lane l + d at b and lane l at b + k (the other direction)
                b2 = _rotl64(packed[: n - k], 64 - d)
                c2 = int(np.bitwise_count(packed[k:] & b2).sum())
                out[(-d, k)] = _pair_z(c2, (n - k) * 64, p)
    return out


def berlekamp_massey(bits: np.ndarray) -> int:
    """Linear complexity of a 0/1 sequence over GF(2) (Berlekamp-Massey, numpy-vectorised)."""
    s = np.asarray(bits, dtype=np.uint8)
    n = s.size
    c = np.zeros(n + 1, dtype=np.uint8)
    b = np.zeros(n + 1, dtype=np.uint8)
    c[0] = b[0] = 1
    length, m = 0, -1
    for i in range(n):
        d = int(s[i])
        if length:
            d ^= int(np.bitwise_and(c[1:length + 1], s[i - length:i][::-1]).sum() & 1)
        if d:
            t = c.copy()
            shift = i - m
            c[shift:] ^= b[: n + 1 - shift]
            if 2 * length <= i:
                length, m, b = i + 1 - length, i, t
    return length
