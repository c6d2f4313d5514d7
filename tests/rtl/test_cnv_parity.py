"""The RTL accelerator of the binary CNN `cnv-w1a1` (sliding windows, conv MVAUs, injectors per
channel, max-pools as OR) under Verilator computes what the `sim` backend computes.

Integer logits equal on MNIST test images, injectors off and on (flip p = 0.02 on every layer;
stuck-at-0 on crashed channels of conv layer 1 with flips on conv layer 3 and the fc layer),
with random output back-pressure; the flip counters read over AXI-Lite equal the sim's, and each
injector's beat counter equals images x pixels x NF (the fold counter wraps once per pixel). The
default suite runs 6 images of the 10k-FPS build; the slow tests run 1000 at two foldings. And
steady-state cycles per image equal FINN's estimate (max_cycles).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from noisybnn.backends.base import NoiseSetting

pytestmark = pytest.mark.rtl

CONV1_MASK = tuple(c % 5 == 1 for c in range(32))


def _settings() -> list[NoiseSetting]:
    return [NoiseSetting(mode="off"),
            NoiseSetting(mode="flip", p=0.02, seed=11),
            NoiseSetting(mode="stuck0", seed=3, layers=(1,), fault_masks={1: CONV1_MASK}),
            NoiseSetting(mode="flip", p=0.1, seed=2024, layers=(3, 4))]


def _compare(build, n_images: int, backpressure: float, settings=None,
             swg: str = "ours") -> list[dict]:
    from noisybnn import data
    from noisybnn.backends.rtl import RtlAccelerator
    from noisybnn.backends.sim import SimAccelerator
    from noisybnn.compile.paths import python_model_path

    x = data.load("mnist", "test")[0][:n_images]
    rtl = RtlAccelerator(build, backpressure=backpressure, jobs=1, swg=swg)
    sim = SimAccelerator(python_model_path(build))
    rows = []
    try:
        for setting in settings or _settings():
            rtl.configure_noise(setting)
            sim.configure_noise(setting)
            half = max(1, n_images // 3)  # two calls: the noise stream continues across them
            got = np.concatenate([rtl.execute(x[:half]), rtl.execute(x[half:])])
            want = np.concatenate([sim.execute(x[:half]), sim.execute(x[half:])])
            flips_rtl, flips_sim = rtl.flip_counts(), sim.flip_counts()
            rows.append({"setting": setting, "rows_differ": int((got != want).any(axis=1).sum()),
                         "flips_rtl": flips_rtl, "flips_sim": flips_sim})
            print(f"{build.name} {n_images} images {setting}: rows differ {rows[-1]['rows_differ']}, "
                  f"flips rtl {flips_rtl} sim {flips_sim}, rtl {rtl.last_run}")
            np.testing.assert_array_equal(got, want, err_msg=f"logits differ at {setting}")
            assert flips_rtl == flips_sim, (setting, flips_rtl, flips_sim)
            assert rtl.beat_counts() == [n_images * i.cycles for i in rtl.design.injectors]
            if setting.mode != "off":
                assert sum(flips_rtl) > 0  # the comparison of counters can fail
    finally:
        rtl.close()
    return rows


def test_cnv_design_has_conv_layers(finn_build):
    from noisybnn.rtl import load_design
    from noisybnn.rtl.design import MaxPool, Swg

    d = load_design(finn_build("cnv-w1a1", 10_000))
    kinds = [type(x).__name__ for x in d.layers]
    assert kinds.count("Swg") == 4 and kinds.count("MaxPool") == 2 and kinds.count("Mvau") == 6
    assert [i.neurons for i in d.injectors] == [32, 32, 64, 64, 256]  # NEURONS = channels
    assert [i.pixels for i in d.injectors] == [676, 576, 100, 64, 1]
    assert [(s.ifm, s.kernel) for s in d.layers if isinstance(s, Swg)][0] == ((28, 28), 3)
    assert [p.ifm for p in d.layers if isinstance(p, MaxPool)] == [(24, 24), (8, 8)]


def test_cnv_rtl_equals_sim_6_images(verilator, finn_build):
    _compare(finn_build("cnv-w1a1", 10_000), 6, backpressure=0.3)


def test_cnv_with_finns_sliding_window_equals_sim(verilator, finn_build):
    """FINN's generated ConvolutionInputGenerator_rtl (SystemVerilog, Verilator only) in place
    of ours: the same logits, so ours sends FINN's window order."""
    settings = [NoiseSetting(mode="off"), NoiseSetting(mode="flip", p=0.02, seed=11)]
    _compare(finn_build("cnv-w1a1", 10_000), 4, backpressure=0.3, settings=settings, swg="finn")


@pytest.mark.slow
@pytest.mark.parametrize("target_fps", [10_000, 2_000])
def test_cnv_rtl_equals_sim_1000_images(verilator, finn_build, target_fps):
    """1000 images per setting, four settings, 20 % output back-pressure."""
    _compare(finn_build("cnv-w1a1", target_fps), 1000, backpressure=0.2)


@pytest.mark.parametrize("target_fps", [10_000, pytest.param(2_000, marks=pytest.mark.slow)])
def test_cnv_cycles_per_image_match_finn_estimate(verilator, finn_build, target_fps):
    from noisybnn.backends.rtl import RtlAccelerator

    build = finn_build("cnv-w1a1", target_fps)
    est = json.loads((build / "estimates.json").read_text())
    rtl = RtlAccelerator(build, jobs=1)
    try:
        res = rtl.throughput_test(6)
    finally:
        rtl.close()
    assert res["cycles_per_image"] == est["max_cycles"] == rtl.design.expected_cycles
