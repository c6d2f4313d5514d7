"""Reports of partial input: sections without data are skipped with a note, never an error.

These use a model name without a build (and compiling switched off), so they need no FINN build
and exercise the paths where the theory is missing too.
"""

from __future__ import annotations

import argparse
import json
import re

import pandas as pd
import pytest

from noisybnn.report import build_report, cli_report


@pytest.fixture
def opts(fast_options):
    return fast_options(tradeoff_eps=(0.1,))  # one panel: the quickest figure


def _sections(index):
    return json.loads((index.parent / "report.json").read_text())["sections"]


def _imgs(index) -> list[str]:
    return re.findall(r'<img src="([^"]+)"', index.read_text())


def test_flip_only_skips_the_stuck_section_with_a_note(synthetic_csv, tmp_path, opts):
    csv = synthetic_csv(stuck=False)
    index = build_report([csv], tmp_path / "r", options=opts)
    sec = _sections(index)
    assert sec["stuck"]["groups"] == []
    assert "no stuck0/stuck1 rows" in sec["stuck"]["notes"][0]
    assert "no stuck0/stuck1 rows" in index.read_text()
    assert "no exploration table given" in index.read_text()
    # measured means are those of the table; no build: no ceiling, no prediction, with a note
    df = pd.read_csv(csv)
    want = df[df["mode"] == "flip"].groupby("eps")["accuracy"].mean()
    rows = sec["accuracy"]["groups"][0]["rows"]
    assert [r["mean"] for r in rows] == pytest.approx(list(want))
    assert all(r["ceiling"] is None and r["predicted"] is None for r in rows)
    assert "no build" in index.read_text()
    for src in _imgs(index):
        assert (index.parent / src).stat().st_size > 5000


def test_stuck_only_skips_accuracy_and_flip_rates(synthetic_csv, tmp_path, opts):
    index = build_report([synthetic_csv(flip=False, off=False)], tmp_path / "r", options=opts)
    sec = _sections(index)
    assert sec["accuracy"]["groups"] == [] and "no flip-mode rows" in sec["accuracy"]["notes"][0]
    assert sec["flip_rates"]["models"] == []
    assert [r["k"] for r in sec["stuck"]["groups"][0]["rows"]] == [1, 4]
    assert "accuracy_vs_eps.png" not in _imgs(index)
    assert not (index.parent / "accuracy_vs_eps.png").exists()


def test_explore_without_required_columns_is_skipped_with_a_note(synthetic_csv, tmp_path, opts):
    bad = tmp_path / "explore.csv"
    pd.DataFrame({"name": ["a"], "lut": [100]}).to_csv(bad, index=False)
    index = build_report([synthetic_csv(stuck=False)], tmp_path / "r", explore_csv=bad,
                         options=opts)
    sec = _sections(index)
    assert sec["design"]["available"] is False
    assert "design-space section is skipped" in sec["design"]["notes"][0]


def test_cli_report_prints_where_the_report_is(synthetic_csv, tmp_path, capsys, opts,
                                               monkeypatch):
    import noisybnn.report.build as build_mod

    args = argparse.Namespace(results=[str(synthetic_csv(stuck=False))],
                              out=str(tmp_path / "cli"), explore=None, title="T <&> test")
    monkeypatch.setattr(build_mod, "ReportOptions", lambda **kw: opts)  # the fast settings
    assert cli_report(args) == 0
    out = capsys.readouterr().out
    assert "report: " in out and str(tmp_path / "cli" / "index.html") in out
    html = (tmp_path / "cli" / "index.html").read_text()
    assert "<title>T &lt;&amp;&gt; test</title>" in html  # the title is escaped


def test_a_build_the_accelerator_cannot_open_leaves_a_note(synthetic_csv, tmp_path, opts):
    """A build directory whose twin is not ONNX (the sweep tests' fake): no theory, no crash."""
    from noisybnn.experiments.testing import make_fake_build

    build = make_fake_build(tmp_path / "fake")
    index = build_report([synthetic_csv(model="fake-tfc", stuck=False)], tmp_path / "r",
                         options=opts, build_dirs={"fake-tfc": build})
    numbers = json.loads((index.parent / "report.json").read_text())
    assert numbers["models"]["fake-tfc"]["theory_network"] is False
    assert any("cannot open" in n for n in numbers["models"]["fake-tfc"]["notes"])
    assert "cannot open" in index.read_text()
