"""Reading the inputs, bad input, and the small pure helpers of the report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from noisybnn.report import build_report, load_explore, load_results
from noisybnn.report.compute import TheoryCache, _pick_eps
from noisybnn.report.design import pareto_mask
from noisybnn.report.inputs import REQUIRED_COLUMNS
from noisybnn.report.stuck import parse_fault_spec


def test_load_results_reads_and_records_provenance(synthetic_csv):
    a = synthetic_csv("a.csv")
    b = synthetic_csv("b.csv", model="other", stuck=False, seed=1)
    df, files = load_results([a, b])
    assert set(df["model"]) == {"toy-net", "other"}
    assert [f.rows for f in files] == [len(pd.read_csv(a)), len(pd.read_csv(b))]
    assert all(len(f.sha256) == 64 for f in files)
    assert df.loc[df["mode"] == "flip", "eps"].notna().all()
    assert df.loc[df["mode"] == "stuck0", "faults_per_layer"].notna().all()


def test_the_same_table_twice_counts_each_point_once(synthetic_csv):
    a = synthetic_csv("a.csv")
    df, _ = load_results([a, a])
    assert len(df) == len(pd.read_csv(a))
    assert df.attrs["duplicates_dropped"] == len(df)


def test_missing_csv_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        build_report([tmp_path / "nope.csv"], tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing written for bad input


@pytest.mark.parametrize("drop", list(REQUIRED_COLUMNS))  # each required column in turn
def test_csv_without_a_required_column_is_value_error(synthetic_csv, tmp_path, drop):
    path = synthetic_csv()
    pd.read_csv(path).drop(columns=[drop]).to_csv(path, index=False)
    with pytest.raises(ValueError, match=drop):
        build_report([path], tmp_path / "out")


@pytest.mark.parametrize("column, value, message", [
    ("accuracy", 1.5, "accuracy"),     # not a fraction
    ("mode", "wobble", "unknown mode"),
    ("n_images", 0, "n_images"),
])
def test_bad_values_are_value_errors(make_rows, column, value, message):
    df = make_rows()
    df.loc[0, column] = value
    with pytest.raises(ValueError, match=message):
        load_results(df)


def test_no_results_is_value_error(make_rows, tmp_path):
    with pytest.raises(ValueError, match="no results"):
        load_results([])
    empty = tmp_path / "empty.csv"
    make_rows().iloc[:0].to_csv(empty, index=False)
    with pytest.raises(ValueError, match="no rows"):
        load_results([empty])


def test_explore_columns_are_the_schema_s_and_missing_ones_are_named(tmp_path):
    from noisybnn.experiments.schemas import EXPLORE
    from noisybnn.report.inputs import EXPLORE_FIELDS

    assert set(EXPLORE_FIELDS.values()) <= set(EXPLORE.columns)
    path = tmp_path / "x.csv"
    pd.DataFrame({"name": ["a", "b"], "lut": [10, 20], "fps": [5.0, 3.0],
                  "accuracy_under_noise": [0.8, 0.9], "width": [64, 32],
                  "depth": [2, 3]}).to_csv(path, index=False)
    t = load_explore(path)
    assert t.df is not None
    assert list(t.df["accuracy"]) == [0.8, 0.9]
    assert list(t.df["neurons"]) == [128.0, 96.0]  # width * depth without a neurons column
    other = tmp_path / "other.csv"  # another spelling is not guessed at
    pd.DataFrame({"Design": ["a"], "LUTs": [10], "throughput_fps": [5.0],
                  "noisy_accuracy": [0.8]}).to_csv(other, index=False)
    t = load_explore(other)
    assert t.df is None
    assert "accuracy_under_noise" in t.notes[0] and "'lut'" in t.notes[0]
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"name": ["a"], "lut": [1]}).to_csv(bad, index=False)
    t = load_explore(bad)
    assert t.df is None and "accuracy_under_noise" in t.notes[0] and "fps" in t.notes[0]
    with pytest.raises(FileNotFoundError):
        load_explore(tmp_path / "missing.csv")


def test_pareto_mask():
    cost = np.array([1.0, 2.0, 2.0, 3.0, 4.0])
    value = np.array([0.5, 0.7, 0.6, 0.7, 0.9])
    # (2, 0.6) is beaten by (2, 0.7); (3, 0.7) by (2, 0.7)
    assert pareto_mask(cost, value).tolist() == [True, True, False, False, True]


def test_parse_fault_spec():
    assert parse_fault_spec("0:3 17|2:5") == {0: [3, 17], 2: [5]}
    assert parse_fault_spec("") == {}


def test_pick_eps_prefers_the_values_nearest_the_preferred_ones():
    got = _pick_eps([0.0, 0.001, 0.01, 0.02, 0.05, 0.1, 0.2], (0.01, 0.05, 0.1, 0.2))
    assert got == [0.01, 0.05, 0.1, 0.2]
    assert _pick_eps([0.0, 0.3], (0.01, 0.05)) == [0.3]
    assert _pick_eps([0.0], (0.01,)) == []


def test_theory_cache_round_trip(tmp_path):
    cache = TheoryCache(tmp_path / "c.json")
    calls = []
    key = TheoryCache.key("f", "sha", 0.1)
    assert cache.get(key, lambda x: calls.append(x) or x * 2, 3) == 6
    cache.save()
    again = TheoryCache(tmp_path / "c.json")
    assert again.get(key, lambda x: calls.append(x) or 0, 3) == 6
    assert calls == [3] and again.hits == 1
    (tmp_path / "c.json").write_text("{not json")
    assert TheoryCache(tmp_path / "c.json").data == {}  # a corrupt cache starts empty
