"""yosys resources of the RTL accelerator: per layer, cached per build, beside FINN's estimate
(`noisybnn estimate --yosys`). Slow: a fresh run synthesizes every layer (minutes)."""

from __future__ import annotations

import json

import pytest

pytestmark = [pytest.mark.rtl, pytest.mark.slow]


def test_tfc_measured_column(finn_build):
    import shutil

    from noisybnn.hw.synth import yosys_command
    from noisybnn.rtl.resources import format_side_by_side, measure_build, measured_totals

    if not shutil.which(yosys_command()[0]):
        pytest.skip("yosys missing")
    build = finn_build("tfc-w1a1")
    result = measure_build(build)
    assert measured_totals(build) == result["total"]
    est = json.loads((build / "estimates.json").read_text())
    layers = result["layers"]
    # the weight ROMs take the block RAMs FINN predicts for this folding (4, 1, 1, 1)
    for i in range(4):
        assert layers[f"MVAU_{i}"]["BRAM_18K"] == est["layers"][f"MVAU_hls_{i}"]["BRAM_18K"]
    assert all(layers[f"NoiseInjector_{i}"]["FF"] > 64 for i in range(3))  # 64 LFSR bits/lane
    assert result["total"]["DSP"] == 0
    text = format_side_by_side(est, result)
    assert "fits Pynq-Z2: yes" in text and "MVAU_0" in text
