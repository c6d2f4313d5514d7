"""Convolutional layers in the theory's network: shared weights, one noisy unit per pixel-channel.

A binary convolution with C output channels on an H x W output map is, for the theory, a hidden
layer of **C x H x W noisy units per image** (the injector after it flips every pixel's channel
independently, docs/injector.md "After a convolution"), whose weight rows are **C distinct weight
sets** (kh x kw x C_in each) repeated over the pixels: an unrolled layer with mostly zero (pruned)
weights and tied rows. Units are numbered as FINN streams them, NHWC: unit ``(h * W + w) * C + c``.

A 2x2 max-pool on two-valued maps is the OR of its window: a *noise-free* threshold layer of
+1 weights over each window (``sum >= 2 - k*k``: at least one +1), so the theory handles it like
any other hidden layer that carries no injector.

Both layers offer what the theory's functions need of a layer (``n_in``, ``n_out``,
``thresholds`` per unit, ``pre_activation`` for +-1 states, ``linear`` / ``abs_linear`` for real
inputs, ``nnz``, ``w_max``, ``top_abs_sum``) without building the unrolled matrix; they compute
through an im2col and a float32 matrix product (exact: every sum of +-1 terms is an integer far
below 2^24). docs/theory.md §11 says which results apply to weight-shared layers, and how.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtr

#: float32 elements per im2col block (64 MiB)
_PATCH_ELEMENTS = 1 << 24


def _patches(v: NDArray, kernel: tuple[int, int], stride: tuple[int, int]) -> NDArray:
    """(N, H, W, C) -> (N, OH, OW, C, kh, kw) view of every valid window."""
    win = np.lib.stride_tricks.sliding_window_view(v, kernel, axis=(1, 2))
    return win[:, :: stride[0], :: stride[1]]


def _out_dim(size: tuple[int, int], kernel: tuple[int, int], stride: tuple[int, int]):
    return tuple((i - k) // s + 1 for i, k, s in zip(size, kernel, stride, strict=True))


@dataclass(frozen=True)
class ConvLayer:
    """A binary convolution (valid windows, no padding) followed by per-channel thresholds.

    Attributes:
        kernel: integer weights in {-1, 0, +1}, shape (C_out, kh, kw, C_in): the C_out weight sets.
        channel_thresholds: (C_out,): a unit fires iff its window's W.x >= the channel's threshold.
        in_shape: (H, W, C_in) of the input map (NHWC).
        stride: window stride (sh, sw).
    """

    kernel: NDArray[np.int8]
    channel_thresholds: NDArray[np.float64]
    in_shape: tuple[int, int, int]
    stride: tuple[int, int] = (1, 1)

    def __post_init__(self) -> None:
        k = np.asarray(self.kernel)
        if k.ndim != 4:
            raise ValueError(f"conv kernel must be (C_out, kh, kw, C_in), got shape {k.shape}")
        if not np.isin(k, (-1, 0, 1)).all():
            raise ValueError("conv weights must be in {-1, 0, +1} (binarized)")
        in_shape = tuple(int(d) for d in self.in_shape)
        if len(in_shape) != 3 or in_shape[2] != k.shape[3]:
            raise ValueError(f"conv input map {in_shape} (H, W, C) does not match a kernel with "
                             f"{k.shape[3]} input channels")
        out = _out_dim(in_shape[:2], k.shape[1:3], tuple(self.stride))
        if min(out) < 1:
            raise ValueError(f"a {k.shape[1:3]} window does not fit the {in_shape[:2]} map")
        t = np.asarray(self.channel_thresholds, dtype=float).reshape(-1)
        if t.shape != (k.shape[0],) or np.isnan(t).any():
            raise ValueError(f"conv thresholds must be ({k.shape[0]},) numbers, got {t.shape}")
        fan = k.shape[1] * k.shape[2] * k.shape[3]
        t = np.clip(t, -(fan + 1.0), fan + 1.0)
        object.__setattr__(self, "kernel", k.astype(np.int8))
        object.__setattr__(self, "channel_thresholds", t)
        object.__setattr__(self, "in_shape", in_shape)
        object.__setattr__(self, "stride", tuple(int(s) for s in self.stride))
        object.__setattr__(self, "out_map", (*out, k.shape[0]))
        # (C_in * kh * kw, C_out): the order of the patch view's (C, kh, kw) axes
        w = k.transpose(3, 1, 2, 0).reshape(-1, k.shape[0])
        object.__setattr__(self, "_w32", w.astype(np.float32))
        object.__setattr__(self, "_w64", w.astype(np.float64))
        object.__setattr__(self, "_abs64", np.abs(w).astype(np.float64))
        nnz_c = np.abs(k).reshape(k.shape[0], -1).sum(axis=1).astype(float)
        object.__setattr__(self, "_nnz", np.tile(nnz_c, self.pixels))
        object.__setattr__(self, "thresholds", np.tile(t, self.pixels))

    # --- shape -----------------------------------------------------------------------------
    @property
    def channels(self) -> int:
        """Distinct weight sets (output channels)."""
        return int(self.kernel.shape[0])

    @property
    def pixels(self) -> int:
        """Output pixels per image: each channel's weight set is applied at every one."""
        return int(self.out_map[0] * self.out_map[1])

    @property
    def fan_in(self) -> int:
        return int(np.prod(self.kernel.shape[1:]))

    @property
    def n_in(self) -> int:
        return int(np.prod(self.in_shape))

    @property
    def n_out(self) -> int:
        return self.channels * self.pixels

    @property
    def nnz(self) -> NDArray[np.float64]:
        """Nonzero weights of every unit, (n_out,)."""
        return self._nnz

    @property
    def w_max(self) -> float:
        return float(np.abs(self.kernel).max()) if self.kernel.size else 0.0

    def top_abs_sum(self, d: NDArray) -> NDArray[np.float64]:
        """(samples, n_out): sum of each unit's d largest |weights| (binary: min(d, nnz))."""
        return np.minimum(np.asarray(d, dtype=float)[:, None], self._nnz[None, :])

    # --- arithmetic ------------------------------------------------------------------------
    def _apply(self, h: NDArray, w: NDArray, dtype) -> NDArray[np.float64]:
        lead = h.shape[:-1]
        if h.shape[-1] != self.n_in:
            raise ValueError(f"conv layer expects {self.n_in} inputs per image, got {h.shape[-1]}")
        v = np.asarray(h, dtype=dtype).reshape(-1, *self.in_shape)
        n = v.shape[0]
        per_image = self.pixels * w.shape[0]
        block = max(1, _PATCH_ELEMENTS // max(1, per_image))
        out = np.empty((n, self.pixels, self.channels), dtype=np.float64)
        kh, kw = self.kernel.shape[1:3]
        for lo in range(0, n, block):
            pt = _patches(v[lo : lo + block], (kh, kw), self.stride)
            cols = np.ascontiguousarray(pt).reshape(-1, w.shape[0])
            out[lo : lo + block] = (cols @ w).reshape(-1, self.pixels, self.channels)
        return out.reshape(*lead, self.n_out)

    def pre_activation(self, h: NDArray) -> NDArray[np.float64]:
        """W.x of every unit for +-1 states h (..., n_in), NHWC order; float32 GEMM, exact."""
        return self._apply(h, self._w32, np.float32)

    def linear(self, v: NDArray) -> NDArray[np.float64]:
        """W.v for real inputs v (float64)."""
        return self._apply(v, self._w64, np.float64)

    def abs_linear(self, v: NDArray) -> NDArray[np.float64]:
        """|W|.v for real inputs v (float64)."""
        return self._apply(v, self._abs64, np.float64)

    def dense_weights(self) -> NDArray[np.int8]:
        """The unrolled (n_out, n_in) weight matrix (tests and small maps only)."""
        eye = np.eye(self.n_in, dtype=np.float32)
        return np.rint(self.pre_activation(eye)).T.astype(np.int8)


@dataclass(frozen=True)
class MaxPoolLayer:
    """A max-pool on a two-valued (+-1) NHWC map: the OR of each window, as a noise-free threshold
    layer (+1 weights over the window, output +1 iff sum >= 2 - k*k, i.e. any input is +1).

    Attributes:
        in_shape: (H, W, C) of the input map.
        kernel: window (kh, kw).
        stride: stride (FINN's pools: = kernel).
    """

    in_shape: tuple[int, int, int]
    kernel: tuple[int, int] = (2, 2)
    stride: tuple[int, int] = (2, 2)

    def __post_init__(self) -> None:
        in_shape = tuple(int(d) for d in self.in_shape)
        kernel, stride = tuple(int(k) for k in self.kernel), tuple(int(s) for s in self.stride)
        if len(in_shape) != 3 or len(kernel) != 2 or len(stride) != 2:
            raise ValueError("max-pool needs in_shape (H, W, C), kernel and stride pairs")
        out = _out_dim(in_shape[:2], kernel, stride)
        if min(out) < 1:
            raise ValueError(f"a {kernel} pool does not fit the {in_shape[:2]} map")
        object.__setattr__(self, "in_shape", in_shape)
        object.__setattr__(self, "kernel", kernel)
        object.__setattr__(self, "stride", stride)
        object.__setattr__(self, "out_map", (*out, in_shape[2]))
        taps = kernel[0] * kernel[1]
        object.__setattr__(self, "thresholds", np.full(self.n_out, 2.0 - taps))
        object.__setattr__(self, "_nnz", np.full(self.n_out, float(taps)))

    @property
    def taps(self) -> int:
        return self.kernel[0] * self.kernel[1]

    fan_in = taps

    @property
    def channels(self) -> int:
        return int(self.in_shape[2])

    @property
    def pixels(self) -> int:
        return int(self.out_map[0] * self.out_map[1])

    @property
    def n_in(self) -> int:
        return int(np.prod(self.in_shape))

    @property
    def n_out(self) -> int:
        return self.channels * self.pixels

    @property
    def nnz(self) -> NDArray[np.float64]:
        return self._nnz

    @property
    def w_max(self) -> float:
        return 1.0

    def top_abs_sum(self, d: NDArray) -> NDArray[np.float64]:
        return np.minimum(np.asarray(d, dtype=float)[:, None], self._nnz[None, :])

    def windows(self, v: NDArray) -> NDArray:
        """(..., n_in) -> (..., n_out, taps): each output's window, NHWC output order."""
        lead = v.shape[:-1]
        m = np.asarray(v).reshape(-1, *self.in_shape)
        pt = _patches(m, self.kernel, self.stride)  # (N, OH, OW, C, kh, kw)
        return pt.reshape(*lead, self.n_out, self.taps)

    def linear(self, v: NDArray) -> NDArray[np.float64]:
        return self.windows(np.asarray(v, dtype=float)).sum(axis=-1)

    pre_activation = linear
    abs_linear = linear

    def crossing(self, h: NDArray, q: NDArray) -> NDArray[np.float64]:
        """Exact P(output differs from clean) for independent input flips q (..., n_in) on clean
        inputs h: a clean +1 output flips iff every +1 of its window flips and no -1 does; a
        clean -1 (all -1) flips iff any input flips."""
        hw, qw = self.windows(h), self.windows(q)
        pos = hw > 0
        any_pos = pos.any(axis=-1)
        p_pos = np.prod(np.where(pos, qw, 1.0 - qw), axis=-1)
        p_neg = 1.0 - np.prod(1.0 - qw, axis=-1)
        return np.where(any_pos, p_pos, p_neg)


def is_conv_like(layer) -> bool:
    """A layer computed without its unrolled matrix (conv or pool)."""
    return isinstance(layer, (ConvLayer, MaxPoolLayer))


def pool_survival(clean: NDArray, noisy: NDArray, pool: MaxPoolLayer) -> dict:
    """How input flips of a max-pool reach its output, measured on +-1 states (samples, n_in).

    Returns the input and output flip rates, output flips per input flip, the share of windows by
    clean +1 count m (m = 0: any input flip flips the output; m = 1: only a flip of the one +1
    does; m >= 2: only several flips together), the output flip rate per m, and, for contrast,
    what independent flips at one uniform rate (the measured mean) would give (``crossing``):
    real flip rates differ from unit to unit, which that figure ignores."""
    cw, nw = pool.windows(clean > 0), pool.windows(noisy > 0)
    m = cw.sum(axis=-1)
    flipped_in = cw != nw
    out_flip = cw.any(axis=-1) != nw.any(axis=-1)
    q_in = float(flipped_in.mean())
    q = np.full(clean.shape, q_in)
    predicted = float(pool.crossing(np.where(clean > 0, 1.0, -1.0), q).mean())
    by_m = {}
    for k in range(pool.taps + 1):
        sel = m == k
        if sel.any():
            by_m[k] = {"share": float(sel.mean()), "out_flip_rate": float(out_flip[sel].mean()),
                       "in_flip_rate": float(flipped_in[sel].mean())}
    return {"in_flip_rate": q_in, "out_flip_rate": float(out_flip.mean()),
            "survival_per_input_flip": (float(out_flip.sum()) / float(flipped_in.sum())
                                        if flipped_in.any() else None),
            "uniform_rate_out_flip_rate": predicted, "by_plus_count": by_m}


def gaussian_crossing(x: NDArray, q: NDArray, layer, s0: NDArray, clean_pos: NDArray) -> NDArray:
    """The Gaussian crossing probability of `propagation` for a conv layer (no unrolled matrix)."""
    mean_d = layer.linear(x * q)
    var_d = layer.abs_linear(q * (1.0 - q))
    k = np.floor((s0 - layer.thresholds) / 2.0)
    sd = np.sqrt(var_d)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (k + 0.5 - mean_d) / sd
    f_k = np.where(sd > 0, ndtr(z), (k + 0.5 - mean_d >= 0).astype(float))
    return np.where(clean_pos, 1.0 - f_k, f_k)
