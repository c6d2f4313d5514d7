"""The benchmark of sim vs FINN python execution vs Brevitas (slow: imports FINN and torch)."""

from __future__ import annotations

import json

import pytest

from noisybnn.experiments.bench import format_bench, run_bench


@pytest.mark.slow
def test_bench_three_levels_agree(tfc_model, tmp_path):
    model = tfc_model
    out = tmp_path / "bench.json"
    res = run_bench(model=model, n_images=600, finn_images=200, p=0.05, out=out, sweep=False,
                    repeats=1, progress=False)
    assert res["identical"]["sim_vs_finn"] and res["identical"]["sim_vs_brevitas"]
    assert res["identical"]["finn_vs_brevitas"]
    assert sum(res["sim"]["flip_counts"]) > 0
    saved = json.loads(out.read_text())
    assert saved["ratios"]["sim_over_finn"] > 0 and saved["finn"]["images"] == 200
    assert "IDENTICAL" in format_bench(res)
