"""The depth-width experiment's analysis on synthetic measurements: minimal widths, the check
against the theory's necessary width, the plot, and argument errors (no training here; the real
run on the exploration's cache is in test_exp_explore.py)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from noisybnn import theory
from noisybnn.experiments.depth_width import min_width_table, run_depth_width, violations
from noisybnn.experiments.errors import ExploreError
from noisybnn.report.depth_width import format_min_width, plot_depth_width

WIDTHS = (4, 8, 16, 32, 64)
DEPTHS = (1, 2, 3)
EPS = (0.05, 0.2)


def synthetic(accuracy) -> pd.DataFrame:
    """Rows of every (width, depth, eps) with accuracy(width, depth, eps)."""
    rows = []
    for e in EPS:
        for d in DEPTHS:
            for w in WIDTHS:
                acc = float(accuracy(w, d, e))
                ceiling = float(theory.uniform_accuracy_ceiling(w, d, e, 10))
                rows.append({"model": f"mlp-{w}x{d}-w1a1", "width": w, "depth": d,
                             "eps_train": 0.0, "eps": e, "accuracy": acc, "seeds": "1;2;3",
                             "n_images": 10000, "theory_ceiling": ceiling,
                             "above_ceiling": acc > ceiling + 0.02})
    return pd.DataFrame(rows)


def plausible(w, d, e):
    """Saturates with width, degrades with depth and eps; below every ceiling."""
    return min(0.97, 0.1 + 0.87 * (1 - math.exp(-w / (8 * (1 + 10 * e)))) * (1 - 0.04 * d))


def test_min_width_table_and_no_violation():
    df = synthetic(plausible)
    mw = min_width_table(df, (0.9, 0.8))
    assert len(mw) == len(EPS) * len(DEPTHS) * 2
    for _, r in mw.iterrows():
        g = df[(df["eps"] == r["eps"]) & (df["depth"] == r["depth"])].sort_values("width")
        passing = g[g["accuracy"] >= r["target"]]["width"]
        expect = passing.iloc[0] if len(passing) else math.nan
        assert (math.isnan(expect) and math.isnan(r["measured_min_width"])) or \
            r["measured_min_width"] == expect
        assert r["theory_min_width"] == theory.min_width(r["depth"], r["eps"], r["target"], 10)
    assert mw["ok"].all()
    assert violations(df, mw, (0.9, 0.8)) == []
    text = format_min_width(mw)
    assert "measured / theory" in text and "!" not in text.split("\n", 2)[2].rsplit("\n", 1)[0]


def test_a_width_below_the_theory_is_reported():
    # width 4 reaching 90 % at eps = 0.2 contradicts the theory's necessary width (10)
    assert theory.min_width(1, 0.2, 0.9, 10) > 4
    df = synthetic(lambda w, d, e: 0.95 if (w, d, e) == (4, 1, 0.2) else plausible(w, d, e))
    mw = min_width_table(df, (0.9,))
    bad = mw[~mw["ok"]]
    assert list(zip(bad["eps"], bad["depth"], bad["measured_min_width"], strict=True)) == [
        (0.2, 1, 4.0)]
    v = violations(df, mw, (0.9,))
    assert any("below" not in s and "width 4 <" in s for s in v)
    assert any("measured minimal width 4 < theory" in s for s in v)
    assert "4 / 10 !" in format_min_width(mw)


def test_best_eps_train_variant_counts():
    df = synthetic(plausible)
    other = df.copy()
    other["eps_train"] = 0.05
    other["accuracy"] = np.where(other["width"] == 16, 0.99, other["accuracy"])
    mw = min_width_table(pd.concat([df, other]), (0.9,))
    assert (mw["measured_min_width"] <= 16).all()


def test_plot(tmp_path):
    df = synthetic(plausible)
    mw = min_width_table(df, (0.9, 0.8))
    png = plot_depth_width(df, mw, tmp_path / "dw.png")
    assert png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size > 20_000


@pytest.mark.parametrize("kw, match", [
    ({"widths": (0, 8)}, "widths"),
    ({"depths": ()}, "no depths"),
    ({"eps": (0.1, 1.2)}, "eps"),
    ({"targets": (1.5,)}, "target"),
    ({"seeds": 0}, "seeds"),
    ({"board": "nope"}, "unknown board"),
    ({"n_images": 10**6}, "test split has"),
])
def test_bad_arguments(tmp_path, kw, match):
    with pytest.raises(ExploreError, match=match):
        run_depth_width(tmp_path / "out", progress=False, runs_dir=tmp_path / "r",
                        build_dir=tmp_path / "b", **kw)
    assert not any(tmp_path.iterdir())
