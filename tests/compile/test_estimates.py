"""FINN estimate reports with injectors: they include the injectors, which stay cheap."""

import json

from noisybnn.compile.paths import ESTIMATES, MANIFEST


def test_tfc_estimates_at_two_foldings(build_of):
    slow = json.loads((build_of("tfc-w1a1", target_fps=10_000) / ESTIMATES).read_text())
    fast = json.loads((build_of("tfc-w1a1") / ESTIMATES).read_text())
    for est in (slow, fast):
        names = [n for n in est["layers"] if n.startswith("NoiseInjector")]
        assert len(names) == 3
        assert est["injector_LUT"] > 0
        assert 0 < est["injector_LUT_share"] < 1  # the figure is reported in docs/compile.md
        assert est["fits"]
        assert est["board"] == "Pynq-Z2" and est["fpga_part"] == "xc7z020clg400-1"
    assert fast["fps"] > slow["fps"]
    assert fast["fps"] >= 100_000 * 0.9
    assert fast["total"]["LUT"] > slow["total"]["LUT"]
    # injector PE follows the producer's PE: more folding parallelism -> more lanes
    assert sum(i["pe"] for i in fast["injectors"]) >= sum(i["pe"] for i in slow["injectors"])


def test_manifest_records_provenance(build_of):
    bdir = build_of("tfc-w1a1")
    m = json.loads((bdir / MANIFEST).read_text())
    assert len(m["checkpoint_sha256"]) == 64 and len(m["python_model_sha256"]) == 64
    assert m["tools"]["finn-plus"] == "1.6.1"
    assert m["bitfile"] is None  # estimates only
    assert [i["layer"] for i in m["injectors"]] == [0, 1, 2]


def test_clean_build_has_no_injectors(build_of):
    est = json.loads((build_of("tfc-w1a1", noise_layers=[]) / ESTIMATES).read_text())
    assert not [n for n in est["layers"] if n.startswith("NoiseInjector")]
    assert est["injector_LUT"] == 0
