"""The one keyed results table: the sweep's and the exploration's schemas, values checked with the
file and line, a row cut short refused, and bad rows never written."""

from __future__ import annotations

import csv

import pytest

from noisybnn.experiments import EXPLORE, SWEEP, ExploreError, ResultsTable, SweepError
from noisybnn.experiments.table import Schema, read_frame, read_rows


def _row(schema: Schema, key: str, **values) -> dict:
    row = dict.fromkeys(schema.columns)
    row.update(key=key, timestamp="2026-01-01T00:00:00Z", **values)
    return row


def _write(tmp_path, schema: Schema, rows: list[dict]):
    out = tmp_path / "t.csv"
    with ResultsTable(out, schema) as t:
        t.add(rows)
    return out


def _edit(path, line: int, column: str, schema: Schema, value: str) -> None:
    rows = list(csv.reader(path.read_text().splitlines()))
    rows[line - 1][schema.columns.index(column)] = value
    path.write_text("".join(",".join(r) + "\n" for r in rows))


@pytest.mark.parametrize("schema, column, value, why", [
    (SWEEP, "accuracy", "0.9x", "is not a number"),
    (SWEEP, "n_images", "10.5", "is not an integer"),
    (SWEEP, "seed", "one", "is not an integer"),
    (SWEEP, "model_sha256", "ZZZ", "is malformed"),
    (SWEEP, "flips_per_layer", "1;x;3", "is malformed"),
    (SWEEP, "timestamp", "2026-01-01T00:0", "is malformed"),
    (EXPLORE, "accuracy_under_noise", "high", "is not a number"),
    (EXPLORE, "fits", "yes", "is not True or False"),
    (EXPLORE, "width", "sixteen", "is not an integer"),
])
def test_a_bad_value_is_refused_with_file_and_line(tmp_path, schema, column, value, why):
    out = _write(tmp_path, schema, [_row(schema, "00aa"), _row(schema, "00bb")])
    assert len(read_rows(out, schema)) == 2
    _edit(out, 3, column, schema, value)
    with pytest.raises(schema.error, match=f"{out} line 3: {column} {value!r} {why}"):
        read_rows(out, schema)
    with pytest.raises(schema.error, match="line 3"):  # and the writer refuses to open it
        ResultsTable(out, schema).__enter__()
    assert f",{value}," in out.read_text() or out.read_text().rstrip().endswith(value)


def test_a_row_cut_inside_its_last_field_is_refused(tmp_path):
    out = _write(tmp_path, SWEEP, [_row(SWEEP, "00aa"), _row(SWEEP, "00bb")])
    text = out.read_text()
    out.write_text(text[:-5])  # a write cut inside the timestamp of the last row
    with pytest.raises(SweepError, match=r"line 3 is cut short"):
        read_rows(out, SWEEP)


def test_values_are_checked_before_anything_is_written(tmp_path):
    out = _write(tmp_path, SWEEP, [_row(SWEEP, "00aa", accuracy=0.5)])
    before = out.read_bytes()
    with ResultsTable(out, SWEEP) as t, pytest.raises(ValueError, match="accuracy 'nope'"):
        t.add([_row(SWEEP, "00bb", accuracy="nope")])
    assert out.read_bytes() == before


def test_two_schemas_one_class(tmp_path):
    sweep = _write(tmp_path, SWEEP, [_row(SWEEP, "00aa", accuracy=0.25, seed=3)])
    df = read_frame(sweep, SWEEP)
    assert df.loc[0, "accuracy"] == 0.25 and df.loc[0, "seed"] == 3
    with pytest.raises(ExploreError, match="not a table of this kind"):
        read_rows(sweep, EXPLORE)  # a sweep table is not an exploration table
    explore = tmp_path / "e.csv"
    with ResultsTable(explore, EXPLORE) as t:
        t.add([_row(EXPLORE, "00aa", fits=True, below_theory_min=False, width=16)])
        with pytest.raises(ExploreError, match="another exploration"):
            ResultsTable(explore, EXPLORE).__enter__()
    df = read_frame(explore, EXPLORE)
    assert bool(df.loc[0, "fits"]) is True and not bool(df.loc[0, "below_theory_min"])
    assert df.loc[0, "width"] == 16
