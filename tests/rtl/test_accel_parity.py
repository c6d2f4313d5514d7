"""The stitched RTL accelerator under Verilator computes what the `sim` backend computes.

Integer logits equal on MNIST test images, injectors off and on (flip p = 0.01 and 0.1, stuck-at
with a fault mask, a subset of layers), with random output back-pressure; the flip counters read
over AXI-Lite (registers.read_counters) equal the sim's counts, and the beat counters the number
of beats each injector saw. The default suite runs TFC on 50 images; the slow tests run TFC, SFC
and LFC at two folding targets on 1000 images.
"""

from __future__ import annotations

import numpy as np
import pytest

from noisybnn.backends.base import NoiseSetting

pytestmark = pytest.mark.rtl


def _settings(widths: list[int]) -> list[NoiseSetting]:
    mask0 = tuple(bool(i % 3 == 0) for i in range(widths[0]))
    mask1 = tuple(bool(i % 5 == 1) for i in range(widths[1]))
    return [
        NoiseSetting(mode="off"),
        NoiseSetting(mode="flip", p=0.01, seed=3),
        NoiseSetting(mode="flip", p=0.1, seed=5, fault_masks={0: mask0}),
        NoiseSetting(mode="stuck1", seed=2, fault_masks={0: mask0}),
        NoiseSetting(mode="stuck0", seed=2, layers=(1,), fault_masks={1: mask1}),
    ]


def _compare(build, n_images: int, backpressure: float) -> list[dict]:
    from noisybnn import data
    from noisybnn.backends.rtl import RtlAccelerator
    from noisybnn.backends.sim import SimAccelerator
    from noisybnn.compile.paths import python_model_path

    imgs, _ = data.load("mnist", "test")
    x = imgs[:n_images]
    rtl = RtlAccelerator(build, backpressure=backpressure, jobs=2)
    sim = SimAccelerator(python_model_path(build))
    rows = []
    try:
        for setting in _settings(rtl.injector_widths):
            rtl.configure_noise(setting)
            sim.configure_noise(setting)
            half = n_images // 3  # two calls: the noise stream continues across them
            got = np.concatenate([rtl.execute(x[:half]), rtl.execute(x[half:])])
            want = np.concatenate([sim.execute(x[:half]), sim.execute(x[half:])])
            flips_rtl, flips_sim = rtl.flip_counts(), sim.flip_counts()
            beats = rtl.beat_counts()
            rows.append({"setting": setting, "equal": bool((got == want).all()),
                         "rows_differ": int((got != want).any(axis=1).sum()),
                         "flips_rtl": flips_rtl, "flips_sim": flips_sim})
            np.testing.assert_array_equal(got, want, err_msg=f"logits differ at {setting}")
            assert flips_rtl == flips_sim, (setting, flips_rtl, flips_sim)
            assert beats == [n_images * i.neurons // i.pe for i in rtl.design.injectors]
            if setting.mode == "flip":
                assert sum(flips_rtl) > 0  # the comparison of counters can fail
    finally:
        rtl.close()
    return rows


def test_tfc_rtl_equals_sim_50_images(verilator, finn_build):
    _compare(finn_build("tfc-w1a1"), 50, backpressure=0.3)


@pytest.mark.slow
@pytest.mark.parametrize("model", ["tfc-w1a1", "sfc-w1a1", "lfc-w1a1"])
@pytest.mark.parametrize("target_fps", [100_000, 10_000])
def test_rtl_equals_sim_1000_images(verilator, finn_build, model, target_fps):
    """1000 images per setting, five settings. On the shared 2-core machine the six took 34 min
    in all (LFC folded for 10k FPS, 8192 cycles/image: 15 min; TFC at 100k FPS: 14 s)."""
    _compare(finn_build(model, target_fps), 1000, backpressure=0.25)


def test_rtl_cycles_per_image_match_finn_estimate(verilator, finn_build):
    """Steady-state cycles per image = FINN's estimate for the slowest layer (max_cycles)."""
    import json

    from noisybnn.backends.rtl import RtlAccelerator

    build = finn_build("tfc-w1a1")
    est = json.loads((build / "estimates.json").read_text())
    rtl = RtlAccelerator(build, jobs=2)
    try:
        res = rtl.throughput_test(20)
    finally:
        rtl.close()
    assert res["cycles_per_image"] == est["max_cycles"] == rtl.design.expected_cycles
