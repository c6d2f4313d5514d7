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


@pytest.mark.slow
@pytest.mark.parametrize("rev,same_stream", [("HEAD", True), ("98cd8f3", False)],
                         ids=["head", "v1-injector"])
def test_bench_baseline_revision_in_its_own_process(tfc_model, tmp_path, rev, same_stream):
    """`--baseline REV` runs REV's whole package in a child process: HEAD gives this sim's
    logits and flips; the v1 injector (98cd8f3, before the v2 merge) flips other neurons but
    gives the same clean logits."""
    import subprocess

    from noisybnn.resources import source_checkout

    try:
        subprocess.run(["git", "-C", str(source_checkout()), "cat-file", "-e", rev],
                       check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip(f"revision {rev} is not in this checkout's git history")
    res = run_bench(model=tfc_model, n_images=300, finn_images=100, p=0.05, out=None,
                    sweep=False, repeats=1, progress=False, baseline=rev, ceiling=False)
    bl = res["baseline"]
    assert bl["identical_off"] and bl["same_stream"] is same_stream
    assert bl["identical_to_sim"] is same_stream
    assert bl["cold"]["images_per_s"] > 0 and res["ratios"]["sim_over_baseline"] > 0
