"""The report of a real (small) sweep on the TFC build: pages, plots, numbers and bounds.

Skipped when no TFC build exists (see conftest.existing_tfc_build); the build is never compiled
here. One report is built per session and every test reads it.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from matplotlib.image import imread

from noisybnn.report.build import FIGURES


def test_page_and_every_plot_are_written(tfc_report):
    index, numbers, _ = tfc_report
    html = index.read_text()
    srcs = re.findall(r'<img src="([^"]+)"', html)
    assert sorted(srcs) == sorted(FIGURES.values())  # all six sections drawn
    for src in srcs:
        png = index.parent / src
        assert png.stat().st_size > 10_000
        pixels = imread(png)
        assert pixels.shape[0] > 300 and pixels.shape[1] > 600
        assert pixels[..., :3].std() > 0.05, f"{src} looks empty"
    assert numbers["flags"] == []
    assert numbers["warnings"] == []


def test_page_is_self_contained(tfc_report):
    html = tfc_report[0].read_text()
    assert "<script" not in html.lower()
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", html)
    assert all(not s.startswith("/") for s in re.findall(r'src="([^"]+)"', html))
    for anchor in re.findall(r'href="#([^"]+)"', html):
        assert f'id="{anchor}"' in html


def test_json_numbers_are_those_of_the_csv(tfc_report):
    _, numbers, df = tfc_report
    flip = df[df["mode"] == "flip"]
    want = flip.groupby("eps")["accuracy"].agg(["mean", "count"])
    (group,) = numbers["sections"]["accuracy"]["groups"]
    assert [r["eps"] for r in group["rows"]] == list(want.index)
    assert [r["mean"] for r in group["rows"]] == pytest.approx(list(want["mean"]), abs=1e-12)
    assert [r["n_seeds"] for r in group["rows"]] == list(want["count"])
    assert group["clean_off"] == df.loc[df["mode"] == "off", "accuracy"].iloc[0]
    stuck = df[df["mode"] == "stuck0"].groupby("faults_per_layer")["accuracy"].mean()
    (sgroup,) = numbers["sections"]["stuck"]["groups"]
    assert [r["k"] for r in sgroup["rows"]] == [int(k) for k in stuck.index]
    assert [r["mean"] for r in sgroup["rows"]] == pytest.approx(list(stuck), abs=1e-12)


def test_measured_accuracy_respects_the_bounds(tfc_report):
    _, numbers, _ = tfc_report
    (group,) = numbers["sections"]["accuracy"]["groups"]
    for r in group["rows"]:
        assert r["ceiling"] is not None
        assert all(v <= r["ceiling"] + 1e-12 for v in r["values"])
        assert r["gap"] == pytest.approx(r["ceiling"] - r["mean"])
        assert not r["exceeds_ceiling"]
        # the prediction runs the same network on i.i.d. flips: within a few points
        assert abs(r["predicted"] - r["mean"]) < 0.06
        # predictors and measurement on the same images: the Monte Carlo within 4 standard
        # errors of the difference of two binomial estimates (n images x seeds measured, n images
        # x draws predicted): z = 4, about 2 points near p = 0.9, 7 near p = 0.5 at these sizes
        p_hat, n_img = r["measured_same_images"], group["theory_images"]
        draws = numbers["options"]["n_draws"]
        se = np.sqrt(p_hat * (1 - p_hat) * (1 / (n_img * r["n_seeds"]) + 1 / (n_img * draws)))
        assert abs(r["predicted"] - p_hat) <= 4 * se + 1e-9
        assert r["analytic"] is not None
        # 64-wide layers: the ceiling is 1 to 1e-6, a check that cannot fail is vacuous
        clean = next(x["mean"] for x in group["rows"] if x["eps"] == 0)
        assert r["check"] == ("vacuous" if r["ceiling"] >= min(1 - 1e-6, clean) else "passed")
    assert group["ceiling_curve"]["eps"][-1] == 0.5
    assert 0.25 < group["ceiling_binds_from"] < 0.4  # 64-wide layers: only near 1/2
    for r in numbers["sections"]["stuck"]["groups"][0]["rows"]:
        assert 0.0 <= r["certified"] <= r["min"]
        assert r["replay_ok"] is True  # the theory network with the same stuck neurons
    assert all(p["ok"] for p in numbers["parity"])


def test_flip_rates_predicted_vs_measured(tfc_report):
    _, numbers, _ = tfc_report
    (entry,) = numbers["sections"]["flip_rates"]["models"]
    pts = entry["points"]
    assert {p["eps"] for p in pts} == {0.05, 0.2}
    for p in pts:
        assert 0.0 < p["measured"] < 0.5
        if p["layer"] == 0:  # fed by the noise-free input: exactly the injector's own rate
            assert p["predicted"] == pytest.approx(p["eps_realised"])
            n = entry["images"] * p["width"] * len(entry["seeds"])
            se = np.sqrt(p["eps_realised"] * (1 - p["eps_realised"]) / n)
            assert abs(p["measured"] - p["eps_realised"]) < 5 * se
            assert p["injector_rate_counters"] == pytest.approx(p["eps_realised"], abs=0.01)
        else:  # flips propagate: deeper layers differ more than their injector alone
            assert p["measured"] > p["eps_realised"]
        assert abs(p["rel_error"]) < 0.25  # mean field within 25 % (it ignores correlations)


def test_tradeoff_and_design_sections(tfc_report):
    _, numbers, _ = tfc_report
    t = numbers["sections"]["tradeoff"]
    assert [c["eps"] for c in t["curves"]] == [0.05, 0.2]
    for c in t["curves"]:
        w = [v for v in c["min_width"] if v is not None]
        assert w == sorted(w)  # more depth never needs fewer neurons per layer
        (m,) = c["models"]
        assert m["below"] is False and m["measured"] is not None
    d = numbers["sections"]["design"]
    assert d["available"] and d["has_theory"]
    rows = {r["name"]: r for r in d["rows"]}
    assert rows["a"]["below_min_neurons"] is True  # 3 neurons, depth 1
    assert rows["e"]["pareto_lut"] and not rows["e"]["fits"]


def test_a_cache_sits_next_to_the_report(tfc_report):
    import json

    index, numbers, _ = tfc_report
    cache = json.loads((index.parent / "theory_cache.json").read_text())
    sha = numbers["models"][next(iter(numbers["models"]))]["twin_sha256"]
    keys = list(cache["entries"])
    assert any(k.startswith("predict_accuracy") and sha in k for k in keys)
    assert any(k.startswith("certified_robust_fraction") for k in keys)


def test_a_measurement_above_the_ceiling_is_flagged(tfc_report, tfc_build, tmp_path,
                                                      fast_options):
    """At eps = 0.45 three 64-wide noisy layers allow about 1/4 accuracy: 99 % must be flagged."""
    from noisybnn.report import compute, load_results
    from noisybnn.report.models import DataCache, resolve_model

    _, _, df = tfc_report
    fake = df[(df["mode"] == "flip") & (df["eps"] == 0.2)].copy()
    fake["eps"], fake["threshold"], fake["accuracy"] = 0.45, np.nan, 0.99
    fake["key"] = [f"fake{i}" for i in range(len(fake))]
    rows, _ = load_results(fake)
    name = rows["model"].iloc[0]
    models = {name: resolve_model(name, "pynq-z2", rows, build_dirs={name: tfc_build},
                                  compile_missing=False)}
    ctx = compute.Context(rows, models, DataCache(), fast_options(theory_images=50, n_draws=2),
                          compute.TheoryCache(tmp_path / "c.json"))
    sec = compute.accuracy_section(ctx)
    (row,) = sec["groups"][0]["rows"]
    assert row["ceiling"] < 0.5 and row["exceeds_ceiling"]
    assert "exceeds the Fano/SDPI ceiling" in sec["violations"][0]


def test_a_table_measured_on_another_build_is_warned_about(tfc_report, tfc_build):
    from noisybnn.report import load_results
    from noisybnn.report.models import resolve_model

    _, _, df = tfc_report
    other = df.copy()
    other["build_sha256"] = "0" * 64
    rows, _ = load_results(other)
    info = resolve_model(rows["model"].iloc[0], "pynq-z2", rows,
                         build_dirs={rows["model"].iloc[0]: tfc_build}, compile_missing=False)
    assert info.network is not None
    assert any("different network than the one measured" in w for w in info.warnings)
