"""Convolution kernels of the software accelerator: FINN's sliding window + MVAU, and max-pool.

FINN runs a convolution as two streaming layers: a ConvolutionInputGenerator (sliding window,
im2col on the NHWC stream) that sends each output pixel's window as one vector of kh*kw*C values
in (kh, kw, c) order, channels fastest, and an MVAU that multiplies it with the (kh*kw*C, MH)
weight matrix. The kernels here compute the same, image by image:

* binary (XNOR) layers bit-packed: each input pixel's C channel bits are packed into uint64 words
  once; for every output pixel the window's bits are concatenated in FINN's (kh, kw, c) order
  into ceil(kh*kw*C / 64) words (shifts and ORs of the pixels' words), XORed with the neuron's
  packed weight row and counted with popcount; that count is the window's mismatches, and
  matches = MW - mismatches. Compiled with numba (`conv_xnor_matches`, `conv_xnor_fire`, which
  also applies one threshold per neuron); `conv_xnor_matches_numpy` is the numpy twin (im2col in
  bools, then the fully connected kernel), tested equal;
* multi-bit layers (e.g. w2a2) as an exact float32 GEMM on the im2col matrix (`im2col`): every
  partial sum is an integer far below 2^24;
* max-pool (FINN's StreamingMaxPool, or a depthwise sliding window + Pool(MaxPool)) as the max
  over each window (`max_pool`). On a binary layer's outputs (two values, "on" the larger) the
  max is the OR of the window's bits, which is what the hardware's comparator tree computes
  there. Pooling after the activation is exact for the network as trained because a monotone
  non-decreasing activation commutes with max: max_i f(a_i) = f(max_i a_i); and the injector sits
  between activation and pool in both Brevitas and FINN, so pooling the injected bits is the
  order both apply.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from noisybnn.backends.kernels import AVAILABLE, pack_rows, xnor_matches_numpy

if AVAILABLE:
    import numba

    from noisybnn.backends.kernels import _popcount64


@dataclass(frozen=True)
class Window:
    """Geometry of one sliding window (FINN ConvolutionInputGenerator attributes)."""

    ifm: tuple[int, int]  # IFMDim (H, W)
    channels: int  # IFMChannels
    kernel: tuple[int, int]  # ConvKernelDim
    stride: tuple[int, int]
    dilation: tuple[int, int]
    ofm: tuple[int, int]  # OFMDim

    @property
    def taps(self) -> int:
        return self.kernel[0] * self.kernel[1]

    @property
    def mw(self) -> int:
        """Values per window: the MVAU's MW."""
        return self.taps * self.channels

    def expected_ofm(self) -> tuple[int, int]:
        """Output size of a valid (unpadded) window: FINN/qonnx's compute_conv_output_dim."""
        return tuple((i - d * (k - 1) - 1) // s + 1 for i, k, s, d in
                     zip(self.ifm, self.kernel, self.stride, self.dilation, strict=True))


def _gather_index(win: Window) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of the input pixel of every (output pixel, tap): (OH*OW, taps) each."""
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = win.kernel, win.stride, win.dilation, win.ofm
    oy, ox = np.meshgrid(np.arange(oh), np.arange(ow), indexing="ij")
    ty, tx = np.meshgrid(np.arange(kh), np.arange(kw), indexing="ij")
    rows = oy.reshape(-1, 1) * sh + ty.reshape(1, -1) * dh
    cols = ox.reshape(-1, 1) * sw + tx.reshape(1, -1) * dw
    return rows, cols


def im2col(v: np.ndarray, win: Window) -> np.ndarray:
    """(N, H, W, C) -> (N, OH, OW, kh*kw*C): every output pixel's window in FINN's (kh, kw, c)
    order, what the ConvolutionInputGenerator streams to the MVAU."""
    rows, cols = _gather_index(win)
    n = v.shape[0]
    cols_v = v[:, rows, cols, :]  # (N, OH*OW, taps, C)
    return cols_v.reshape(n, win.ofm[0], win.ofm[1], win.mw)


def conv_xnor_matches_numpy(v: np.ndarray, wpacked: np.ndarray, win: Window) -> np.ndarray:
    """float32 (N, OH, OW, MH): matching bits of every window (bits v > 0) with every neuron."""
    cols = im2col(v > 0, win)
    n, oh, ow, mw = cols.shape
    out = xnor_matches_numpy(cols.reshape(-1, mw), wpacked, mw)
    return out.reshape(n, oh, ow, -1)


def pack_pixels(v: np.ndarray) -> np.ndarray:
    """(N, H, W, C) -> (N, H, W, ceil(C/64)) uint64: each pixel's channel bits (v > 0) packed."""
    n, h, w, c = v.shape
    return pack_rows(v.reshape(-1, c)).reshape(n, h, w, -1)


def transposed_weights(wpacked: np.ndarray) -> np.ndarray:
    """(MH, words) packed weight rows -> (words, MH), contiguous: the compiled loops run over
    neurons innermost, which LLVM vectorizes (AVX-512 VPOPCNTQ where the CPU has it)."""
    return np.ascontiguousarray(wpacked.T)


if AVAILABLE:

    @numba.njit(inline="always")
    def _window_words(xp, i, y0, x0, kh, kw, dh, dw, c, buf):  # pragma: no cover - compiled
        # concatenate the window's pixel bit fields at bit offsets tap * C (FINN's order)
        for k in range(buf.shape[0]):
            buf[k] = np.uint64(0)
        pixel_words = xp.shape[3]
        for ty in range(kh):
            for tx in range(kw):
                base = (ty * kw + tx) * c
                for j in range(pixel_words):
                    val = xp[i, y0 + ty * dh, x0 + tx * dw, j]
                    pos = base + 64 * j
                    word, shift = pos >> 6, pos & 63
                    buf[word] |= val << np.uint64(shift)
                    if shift and word + 1 < buf.shape[0]:
                        buf[word + 1] |= val >> np.uint64(64 - shift)

    @numba.njit(inline="always")
    def _window_mismatches(buf, wt, counts):  # pragma: no cover - compiled
        neurons = wt.shape[1]
        for m in range(neurons):
            counts[m] = 0
        for k in range(wt.shape[0]):
            b = buf[k]
            for m in range(neurons):
                counts[m] += _popcount64(b ^ wt[k, m])

    @numba.njit(cache=True, nogil=True)
    def _conv_xnor(xp, wt, geom, mw, max_mismatches, low, fire):  # pragma: no cover - compiled
        kh, kw, sh, sw, dh, dw, c, oh, ow = geom
        n, neurons = xp.shape[0], wt.shape[1]
        out = np.empty((n, oh, ow, neurons), dtype=np.float32)
        buf = np.empty(wt.shape[0], dtype=np.uint64)
        counts = np.empty(neurons, dtype=np.uint64)
        high = np.float32(1.0)
        for i in range(n):
            for y in range(oh):
                for x in range(ow):
                    _window_words(xp, i, y * sh, x * sw, kh, kw, dh, dw, c, buf)
                    _window_mismatches(buf, wt, counts)
                    if fire:
                        for m in range(neurons):
                            out[i, y, x, m] = high if np.int64(counts[m]) <= max_mismatches[m] else low
                    else:
                        for m in range(neurons):
                            out[i, y, x, m] = mw - np.int64(counts[m])
        return out


def _geom(win: Window) -> np.ndarray:
    return np.array([*win.kernel, *win.stride, *win.dilation, win.channels, *win.ofm], dtype=np.int64)


def conv_xnor_matches(v: np.ndarray, wt: np.ndarray, win: Window) -> np.ndarray:
    """`conv_xnor_matches_numpy` with packing per pixel and the window loop compiled (same result).

    wt: `transposed_weights(pack_rows(w.T > 0))`."""
    if not AVAILABLE:
        return conv_xnor_matches_numpy(v, np.ascontiguousarray(wt.T), win)
    return _conv_xnor(pack_pixels(v), wt, _geom(win), win.mw, np.zeros(wt.shape[1], np.int64),
                      np.float32(0), False)


def conv_xnor_fire(v: np.ndarray, wt: np.ndarray, win: Window, thresholds: np.ndarray,
                   low: float) -> np.ndarray:
    """A binary conv layer with one threshold per neuron: 1 where matches >= threshold, else `low`
    (0 for BINARY outputs, -1 for BIPOLAR); float32 (N, OH, OW, MH). Counting and compare fused."""
    t = np.ascontiguousarray(thresholds, dtype=np.float64).reshape(-1)
    if not AVAILABLE:
        fire = conv_xnor_matches_numpy(v, np.ascontiguousarray(wt.T), win) >= t
        return np.where(fire, np.float32(1), np.float32(low)).astype(np.float32)
    max_mismatches = (win.mw - np.ceil(t)).astype(np.int64)  # exact: matches are integers
    return _conv_xnor(pack_pixels(v), wt, _geom(win), win.mw, max_mismatches, np.float32(low), True)


def conv_gemm(v: np.ndarray, w: np.ndarray, win: Window) -> np.ndarray:
    """An integer conv layer as float32 GEMM on im2col: exact, every product and partial sum is
    an integer below 2^24 (checked on load: MW * max|x| * max|w| < 2^24)."""
    cols = im2col(v.astype(np.float32, copy=False), win)
    n, oh, ow, mw = cols.shape
    return (cols.reshape(-1, mw) @ w).reshape(n, oh, ow, -1)


def max_pool(v: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int]) -> np.ndarray:
    """(N, H, W, C) -> (N, OH, OW, C): max over each kernel window (valid windows only, as FINN's
    StreamingMaxPool and Pool); on two-valued outputs the OR of the window's bits."""
    (kh, kw), (sh, sw) = kernel, stride
    n, h, w, c = v.shape
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    if (kh, kw) == (sh, sw) and h % kh == 0 and w % kw == 0:  # non-overlapping: one reshape
        return v.reshape(n, oh, kh, ow, kw, c).max(axis=(2, 4))
    out = None
    for ty in range(kh):
        for tx in range(kw):
            tap = v[:, ty : ty + sh * (oh - 1) + 1 : sh, tx : tx + sw * (ow - 1) + 1 : sw, :]
            out = tap.copy() if out is None else np.maximum(out, tap)
    return out
