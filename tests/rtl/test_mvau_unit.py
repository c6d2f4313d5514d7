"""The binary MVAU in RTL against a numpy reference, at FINN's folding corner cases.

`verilator --lint-only -Wall` must be clean for every shape. The functional tests run the RTL
in Verilator through the accelerator harness: a chain of MVAUs whose foldings hit the corners
(SIMD = MW, PE = MH, PE = 1, SF = 1, NF = 1, width converters up and down), with random weights
and thresholds, compared with `matches = #(x == w)` and `matches >= T` computed in numpy.
"""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from noisybnn.rtl import emit
from noisybnn.rtl.design import Binarize, Design, Mvau, ScaleBias

pytestmark = pytest.mark.rtl

SHAPES = [  # (MW, MH, SIMD, PE, thresholds)
    (16, 8, 16, 2, True),    # SIMD = MW (SF = 1)
    (8, 6, 2, 6, True),      # PE = MH (NF = 1)
    (6, 5, 3, 1, False),     # PE = 1, accumulators out
    (784, 64, 28, 2, True),  # TFC layer 0
    (64, 10, 1, 1, False),   # TFC last layer
    (1024, 1024, 32, 32, True),
    (4, 4, 4, 4, False),     # one step per vector
]


@pytest.mark.parametrize("mw,mh,simd,pe,thr", SHAPES)
def test_mvau_lints_clean(verilator, mw, mh, simd, pe, thr):
    exe, env = verilator
    m = Mvau(mw=mw, mh=mh, simd=simd, pe=pe, weights=np.zeros((mw, mh), bool), thresholds=None)
    cmd = [exe, "--lint-only", "-Wall", "--top-module", "nbnn_mvau_bin", f"-GMW={mw}",
           f"-GMH={mh}", f"-GSIMD={simd}", f"-GPE={pe}", f"-GTHRESH={int(thr)}",
           f"-GACC_W={m.acc_w}", str(emit.RTL_DIR / "nbnn_mvau_bin.v")]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "%Warning" not in proc.stdout + proc.stderr


def _random_mvau(rng, mw, mh, simd, pe, thr) -> Mvau:
    w = rng.random((mw, mh)) < 0.5
    t = rng.integers(0, mw + 2, size=mh) if thr else None  # 0 (always) .. MW+1 (never)
    if thr:  # most thresholds near the middle, where outputs are mixed
        t = np.where(rng.random(mh) < 0.8, rng.integers(mw // 3, 2 * mw // 3 + 1, size=mh), t)
    return Mvau(mw=mw, mh=mh, simd=simd, pe=pe, weights=w, thresholds=t)


def _reference(design: Design, pixels: np.ndarray) -> np.ndarray:
    x = pixels >= design.binarize.threshold
    for m in design.mvaus:
        matches = (x[:, :, None] == m.weights[None, :, :]).sum(axis=1)
        x = matches >= m.thresholds[None, :] if m.thresholds is not None else matches
    return design.scale_bias.mul * x + design.scale_bias.add


def _run(design: Design, pixels: np.ndarray, backpressure: float) -> np.ndarray:
    from noisybnn.rtl.harness import Harness

    with Harness(design) as h:
        return h.stream(pixels, backpressure=backpressure)


def test_mvau_chain_matches_numpy(verilator, rtl_cache):
    """Three MVAUs: SIMD = MW with PE 2, PE = MH, PE = 1 with accumulators; DWC 4->16, 2->2,
    6->3; 200 random vectors with 30 % output back-pressure."""
    rng = np.random.default_rng(7)
    layers = [_random_mvau(rng, 16, 8, 16, 2, True), _random_mvau(rng, 8, 6, 2, 6, True),
              _random_mvau(rng, 6, 5, 3, 1, False)]
    design = Design(build_dir=rtl_cache / "chain", binarize=Binarize(pe=4, channels=16, threshold=128),
                    layers=layers, scale_bias=ScaleBias(1, 0))
    pixels = rng.integers(0, 256, size=(200, 16), dtype=np.uint8)
    got = _run(design, pixels, backpressure=0.3)
    want = _reference(design, pixels)
    assert got.shape == want.shape
    assert np.unique(want).size > 3  # the outputs vary: the comparison can fail
    np.testing.assert_array_equal(got, want)


@pytest.mark.slow
@pytest.mark.parametrize("mw,mh,simd,pe", [(32, 8, 32, 1), (32, 8, 4, 8), (30, 12, 5, 1),
                                           (64, 16, 64, 16), (784, 64, 28, 2)])
def test_single_mvau_accumulators_match_numpy(verilator, rtl_cache, mw, mh, simd, pe):
    """One MVAU alone (accumulators out, so every count is seen): SIMD = MW, PE = MH, PE = 1."""
    rng = np.random.default_rng(mw * 1000 + mh)
    pe_in = 4 if mw % 4 == 0 else 1
    design = Design(build_dir=rtl_cache / f"single-{mw}-{mh}-{simd}-{pe}",
                    binarize=Binarize(pe=pe_in, channels=mw, threshold=100),
                    layers=[_random_mvau(rng, mw, mh, simd, pe, False)],
                    scale_bias=ScaleBias(2, -mw))
    pixels = rng.integers(0, 256, size=(100, mw), dtype=np.uint8)
    np.testing.assert_array_equal(_run(design, pixels, 0.2), _reference(design, pixels))
