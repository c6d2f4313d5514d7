"""The RTL sliding window (`nbnn_swg_bin`) and binary max-pool (`nbnn_maxpool_bin`) against
numpy references, at folding corner cases.

`verilator --lint-only -Wall` must be clean for every shape. The functional tests stream random
maps through small designs in the accelerator harness (binarize -> window/pool -> MVAU with
accumulators out, so every window's count against random weights is seen) and compare with
`conv_kernels.im2col` (FINN's (kh, kw, c) window order, the sim's) and `conv_kernels.max_pool`:
a window sent in another order, a dropped or repeated beat, or a wrong pool window changes the
counts. Strides above 1 with rows left over, SIMD = 1 and SIMD = C, and random output
back-pressure.
"""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from noisybnn.backends import conv_kernels
from noisybnn.backends.conv_kernels import Window
from noisybnn.rtl import emit
from noisybnn.rtl.design import Binarize, Design, MaxPool, Mvau, ScaleBias, Swg

pytestmark = pytest.mark.rtl

SWG_SHAPES = [  # (H, W, C, SIMD, K, S)
    (28, 28, 1, 1, 3, 1),    # cnv conv 0
    (26, 26, 32, 8, 3, 1),   # cnv conv 1 @10k
    (10, 10, 64, 64, 3, 1),  # SIMD = C
    (10, 10, 4, 2, 3, 2),    # stride 2, one row and column left over
    (9, 7, 6, 3, 2, 2),
]
POOL_SHAPES = [(24, 24, 32, 2, 2), (8, 8, 64, 1, 2), (7, 9, 4, 4, 2), (6, 6, 2, 1, 3)]


@pytest.mark.parametrize("h,w,c,simd,k,s", SWG_SHAPES)
def test_swg_lints_clean(verilator, h, w, c, simd, k, s):
    exe, env = verilator
    cmd = [exe, "--lint-only", "-Wall", "--top-module", "nbnn_swg_bin", f"-GIFM_H={h}",
           f"-GIFM_W={w}", f"-GC={c}", f"-GSIMD={simd}", f"-GK={k}", f"-GS={s}",
           str(emit.RTL_DIR / "nbnn_swg_bin.v")]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert proc.returncode == 0 and "%Warning" not in proc.stdout + proc.stderr, proc.stderr


@pytest.mark.parametrize("h,w,c,pe,k", POOL_SHAPES)
def test_maxpool_lints_clean(verilator, h, w, c, pe, k):
    exe, env = verilator
    cmd = [exe, "--lint-only", "-Wall", "--top-module", "nbnn_maxpool_bin", f"-GIFM_H={h}",
           f"-GIFM_W={w}", f"-GC={c}", f"-GPE={pe}", f"-GK={k}",
           str(emit.RTL_DIR / "nbnn_maxpool_bin.v")]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert proc.returncode == 0 and "%Warning" not in proc.stdout + proc.stderr, proc.stderr


def _mvau(rng, mw, mh, simd, pe, vectors, thr=False) -> Mvau:
    w = rng.random((mw, mh)) < 0.5
    t = rng.integers(mw // 3, 2 * mw // 3 + 1, size=mh) if thr else None
    return Mvau(mw=mw, mh=mh, simd=simd, pe=pe, weights=w, thresholds=t, vectors=vectors)


def _reference(design: Design, pixels: np.ndarray, hwc: tuple[int, int, int]) -> np.ndarray:
    """What the design computes, in numpy: maps (N, H, W, C) through the layers."""
    n = len(pixels)
    v = (pixels >= design.binarize.threshold).reshape(n, *hwc)
    for layer in design.layers:
        if isinstance(layer, Swg):
            k, s = layer.kernel, layer.stride
            win = Window(ifm=layer.ifm, channels=layer.channels, kernel=(k, k), stride=(s, s),
                         dilation=(1, 1), ofm=layer.ofm)
            v = conv_kernels.im2col(v, win)
        elif isinstance(layer, MaxPool):
            v = conv_kernels.max_pool(v, (layer.kernel,) * 2, (layer.kernel,) * 2)
        else:
            shape = v.shape
            x = v.reshape(-1, layer.mw)
            matches = (x[:, :, None] == layer.weights[None, :, :]).sum(axis=1)
            out = matches >= layer.thresholds if layer.thresholds is not None else matches
            v = out.reshape(*shape[:-1], layer.mh) if layer.vectors > 1 else out.reshape(n, -1)
    return design.scale_bias.mul * v.reshape(n, -1) + design.scale_bias.add


def _check(design: Design, hwc, n_images: int, backpressure: float, rng) -> None:
    from noisybnn.rtl.harness import Harness

    pixels = rng.integers(0, 256, size=(n_images, int(np.prod(hwc))), dtype=np.uint8)
    want = _reference(design, pixels, hwc)
    with Harness(design) as h:
        got = h.stream(pixels, backpressure=backpressure)
    assert np.unique(want).size > 3  # the counts vary: the comparison can fail
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("h,w,c,simd,k,s", [SWG_SHAPES[3], SWG_SHAPES[4], (6, 5, 4, 4, 3, 1)])
def test_swg_windows_match_im2col(verilator, rtl_cache, h, w, c, simd, k, s):
    rng = np.random.default_rng(h * 100 + w * 10 + c)
    swg = Swg(ifm=(h, w), channels=c, kernel=k, stride=s, simd=simd)
    oh, ow = swg.ofm
    mw = k * k * c
    design = Design(build_dir=rtl_cache / f"swg-{h}-{w}-{c}-{simd}-{k}-{s}",
                    binarize=Binarize(pe=1, channels=h * w * c, threshold=128),
                    layers=[swg, _mvau(rng, mw, 3, mw // 2 if mw % 2 == 0 else mw, 1, oh * ow)])
    _check(design, (h, w, c), 6, 0.3, rng)


@pytest.mark.parametrize("h,w,c,pe,k", [POOL_SHAPES[2], POOL_SHAPES[3]])
def test_maxpool_matches_numpy(verilator, rtl_cache, h, w, c, pe, k):
    rng = np.random.default_rng(h * 100 + w * 10 + c)
    pool = MaxPool(ifm=(h, w), channels=c, kernel=k, pe=pe)
    mw = (h // k) * (w // k) * c
    design = Design(build_dir=rtl_cache / f"pool-{h}-{w}-{c}-{pe}-{k}",
                    binarize=Binarize(pe=1, channels=h * w * c, threshold=160),
                    layers=[pool, _mvau(rng, mw, 7, c, 1, 1)])
    _check(design, (h, w, c), 12, 0.3, rng)


def test_conv_pool_conv_chain_matches_numpy(verilator, rtl_cache):
    """conv 3x3 (thresholds, PE 2) -> pool 2x2 -> conv 3x3 (accumulators): width converters
    between every unit (SIMD 2 -> 18 -> PE 2 -> pool PE 4 -> SIMD 2 -> 24)."""
    rng = np.random.default_rng(18)
    layers = [Swg(ifm=(12, 12), channels=2, kernel=3, stride=1, simd=2),
              _mvau(rng, 18, 8, 18, 2, 100, thr=True),
              MaxPool(ifm=(10, 10), channels=8, kernel=2, pe=4),
              Swg(ifm=(5, 5), channels=8, kernel=3, stride=1, simd=2),
              _mvau(rng, 72, 4, 24, 2, 9)]
    design = Design(build_dir=rtl_cache / "conv-chain",
                    binarize=Binarize(pe=2, channels=12 * 12 * 2, threshold=128), layers=layers,
                    scale_bias=ScaleBias(2, -72))
    _check(design, (12, 12, 2), 8, 0.25, rng)
