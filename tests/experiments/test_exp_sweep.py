"""The serial runner on a fake accelerator: rows, provenance, resume, bad input, the table."""

from __future__ import annotations

import csv
import json
import math
import os
import types

import numpy as np
import pandas as pd
import pytest

from noisybnn.experiments import (
    COLUMNS,
    ResultsTable,
    SweepError,
    SweepSpec,
    comparable,
    read_table,
    run_sweep,
    validate,
)
from noisybnn.experiments.sweep import cli_sweep, spec_from_args
from noisybnn.experiments.testing import FakeAccelerator, load_fake, make_fake_build


def _run(spec, out, **kw):
    return run_sweep(spec, out, progress=False, loader=load_fake, **kw)


def test_rows_and_provenance(small_spec, fake_build, tmp_path):
    out = tmp_path / "res" / "sweep.csv"
    df = _run(small_spec(), out)
    assert len(df) == 12 + 8 + 1  # flip 2 layers x 2 seeds x 3 eps; stuck0 2 x 2 x 2 k; off
    assert list(df.columns) == list(COLUMNS)
    assert df["key"].is_unique and list(df["key"]) == sorted(df["key"])
    man = json.loads((fake_build / "manifest.json").read_text())
    assert set(df["model"]) == {"fake-tfc"}
    assert set(df["model_sha256"]) == {man["checkpoint_sha256"]}
    from noisybnn.keys import build_digest

    assert set(df["build_sha256"]) == {build_digest(fake_build / "dataflow_python.onnx")}
    assert set(df["backend"]) == {"sim"} and set(df["n_images"]) == {300}
    assert (df["accuracy"] == df["n_correct"] / 300).all()
    flips = df["flips_per_layer"].str.split(";").map(lambda v: sum(map(int, v)))
    assert (flips == df["flips_total"]).all()
    flip = df[df["mode"] == "flip"]
    assert (flip["threshold"] == (flip["eps"] * 65536).round()).all()
    assert (flip.loc[flip["eps"] == 0, "flips_total"] == 0).all()
    assert (flip.loc[flip["eps"] > 0, "flips_total"] > 0).all()
    one = flip[flip["layers"] == "1"]
    assert (one["flips_per_layer"].str.split(";").str[0] == "0").all()  # only layer 1 active
    stuck = df[df["mode"] == "stuck0"]
    assert stuck["eps"].isna().all() and stuck["threshold"].isna().all()
    assert (stuck.loc[stuck["faults_per_layer"] == 0, "flips_total"] == 0).all()
    k4 = stuck[(stuck["faults_per_layer"] == 4) & (stuck["layers"] == "all")]
    assert k4["fault_spec"].str.count(r"\|").eq(2).all()  # three layers listed
    assert (df["images_per_s"] > 0).all() and df["git_commit"].notna().all()


def test_results_equal_a_direct_run(small_spec, fake_build, tmp_path):
    """A row is what the accelerator gives for the point's setting (nothing lost on the way)."""
    df = _run(small_spec(), tmp_path / "t.csv")
    from noisybnn import data

    x, y = data.load("mnist", "test")
    acc = FakeAccelerator(fake_build)
    _, points = validate(small_spec(), loader=load_fake)
    for p in points[::4]:
        acc.configure_noise(p.setting())
        correct = int((acc.execute(x[:300]).argmax(1) == y[:300]).sum())
        row = df.set_index("key").loc[p.key]
        assert row["n_correct"] == correct
        assert row["flips_total"] == sum(acc.flip_counts())


def test_resume_skips_done_points_and_keeps_bytes(small_spec, tmp_path):
    out = tmp_path / "t.csv"
    _run(small_spec(eps=[0.0, 0.02]), out)
    first = out.read_bytes()
    n_first = len(read_table(out))
    df = _run(small_spec(), out)  # adds the eps=0.1 points only
    table = read_table(out)
    assert len(table) == len(df) == n_first + 4
    old = pd.read_csv(pd.io.common.BytesIO(first), dtype=str)
    new = pd.read_csv(out, dtype=str).set_index("key")
    pd.testing.assert_frame_equal(new.loc[old["key"]].reset_index(), old)  # old rows untouched
    again = out.read_bytes()
    _run(small_spec(), out)  # nothing to do
    assert out.read_bytes() == again
    assert not list(tmp_path.glob(".t.csv.*.tmp"))


def test_table_keeps_rows_of_other_sweeps(small_spec, tmp_path):
    out = tmp_path / "t.csv"
    a = _run(small_spec(seeds=[1]), out)
    b = _run(small_spec(seeds=[2], modes=["flip"]), out)
    assert len(read_table(out)) == len(a) + len(b)
    assert set(b["seed"]) == {2}  # run_sweep returns its own points only


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(layers=[(3,)]), "layer 3 is out of range"),
        (dict(layers=[(0, 7)]), "layer 7 is out of range"),
        (dict(modes=["stuck1"], faults_per_layer=[65]), "65 crashed neurons"),
        (dict(n_images=10001), "has 10000"),
        (dict(models="MISSING"), "build directory .* not found"),
        (dict(models="NOMANIFEST"), "no manifest.json"),
    ],
)
def test_bad_grid_fails_before_writing(small_spec, tmp_path, change, message):
    if change.get("models") == "MISSING":
        change["models"] = [str(tmp_path / "no" / "such-build")]
    elif change.get("models") == "NOMANIFEST":
        (tmp_path / "empty").mkdir()
        change["models"] = [str(tmp_path / "empty")]
    out = tmp_path / "out" / "t.csv"
    with pytest.raises(SweepError, match=message):
        _run(small_spec(**change), out)
    assert not (tmp_path / "out").exists()  # neither the table nor its lock or folder


@pytest.mark.parametrize("bad", [dict(eps=[1.5]), dict(eps=[float("nan")]), dict(modes=["flop"])])
def test_bad_values_fail_in_the_spec(small_spec, bad):
    with pytest.raises(SweepError):
        small_spec(**bad)


def test_bad_backend_and_workers(small_spec, tmp_path):
    out = tmp_path / "t.csv"
    with pytest.raises(SweepError, match="unknown backend 'fpga'"):
        _run(small_spec(), out, backend="fpga")
    with pytest.raises(SweepError, match="workers"):
        _run(small_spec(), out, workers=-1)
    assert not out.exists()


def test_pynq_unavailable_fails_before_writing(fake_build, tmp_path, monkeypatch):
    """A build with a bitfile, on a machine without a board: clear error, nothing written."""
    import sys

    (fake_build / "design.bit").write_bytes(b"not a real bitstream")
    man = json.loads((fake_build / "manifest.json").read_text())
    man["bitfile"] = "design.bit"
    (fake_build / "manifest.json").write_text(json.dumps(man))
    monkeypatch.setitem(sys.modules, "pynq", None)
    out = tmp_path / "out" / "t.csv"
    spec = SweepSpec(models=[str(fake_build)], eps=[0.01], n_images=10)
    with pytest.raises(SweepError, match="cannot open the pynq accelerator"):
        run_sweep(spec, out, backend="pynq", progress=False)
    with pytest.raises(SweepError, match="one board"):
        run_sweep(spec, out, backend="pynq", workers=2, progress=False)
    # an estimates-only build has no bitstream for the board at all
    man["bitfile"] = None
    (fake_build / "manifest.json").write_text(json.dumps(man))
    with pytest.raises(SweepError, match="no bitstream"):
        run_sweep(spec, out, backend="pynq", progress=False)
    assert not (tmp_path / "out").exists()


def test_changed_twin_is_refused(small_spec, fake_build, tmp_path):
    (fake_build / "dataflow_python.onnx").write_bytes(b"edited")
    with pytest.raises(SweepError, match="changed after"):
        _run(small_spec(), tmp_path / "t.csv")


def test_foreign_table_is_refused_and_kept(small_spec, tmp_path):
    out = tmp_path / "t.csv"
    out.write_text("a,b\n1,2\n")
    with pytest.raises(SweepError, match="not a results table"):
        _run(small_spec(), out)
    assert out.read_text() == "a,b\n1,2\n"


def test_second_writer_is_refused(small_spec, tmp_path):
    out = tmp_path / "t.csv"
    with ResultsTable(out):
        with pytest.raises(SweepError, match="another sweep"):
            _run(small_spec(), out)
    _run(small_spec(), out)  # the lock is gone with its holder


def test_table_rejects_duplicates_and_partial_rows(tmp_path):
    out = tmp_path / "t.csv"
    row = {c: "" for c in COLUMNS} | {"key": "00aa"}
    with ResultsTable(out) as t:
        t.add([row])
        with pytest.raises(SweepError, match="already"):
            t.add([row])
    with open(out, "a", newline="") as f:
        csv.writer(f).writerow(["00bb", "x"])  # what a non-atomic writer could leave
    with pytest.raises(SweepError, match="fields"):
        ResultsTable.read_rows(out)


def test_two_models_in_one_table(small_spec, fake_build, tmp_path):
    other = make_fake_build(tmp_path / "builds" / "other", name="fake-sfc", widths=(32, 32),
                            weights_seed=3)
    df = _run(small_spec(models=[str(fake_build), str(other)], modes=["flip"]), tmp_path / "t.csv")
    assert df.groupby("model").size().to_dict() == {"fake-sfc": 12, "fake-tfc": 12}
    assert set(df.loc[df["model"] == "fake-sfc", "flips_per_layer"].str.count(";")) == {1}


def test_cli_adapter(fake_build, tmp_path, monkeypatch, capsys):
    import noisybnn.experiments.sweep as sweep_mod

    monkeypatch.setattr(sweep_mod, "_loader_or_default", lambda loader: load_fake)
    args = types.SimpleNamespace(
        models=str(fake_build), board="pynq-z2", backend="sim", eps="0,0.05", modes="flip,stuck1",
        layers="all;0,2", seeds=2, faults="1,3", dataset="mnist", n_images=50,
        out=str(tmp_path / "cli.csv"), workers=0, scheduler=None, quiet=False)
    spec = spec_from_args(args)
    assert spec.layers == (None, (0, 2)) and spec.seeds == (1, 2)
    assert spec.faults_per_layer == (1, 3)
    assert cli_sweep(args) == 0
    assert "16 points" in capsys.readouterr().out
    assert len(read_table(args.out)) == 16


def test_comparable_ignores_timing(small_spec, tmp_path):
    a = _run(small_spec(), tmp_path / "a.csv")
    b = _run(small_spec(), tmp_path / "b.csv")
    assert not a["timestamp"].isna().any()
    pd.testing.assert_frame_equal(comparable(a), comparable(b))
    assert math.isclose(float(np.nanmax(a["eps"])), 0.1)
    assert os.path.getsize(tmp_path / "a.csv") > 0


def test_pynq_on_a_cluster_of_boards_plans_from_the_manifest(fake_build):
    """With a scheduler, the client need not own a board: widths come from the manifest."""
    from noisybnn.experiments import validate

    (fake_build / "design.bit").write_bytes(b"bits")
    man = json.loads((fake_build / "manifest.json").read_text())
    man["bitfile"] = "design.bit"
    man["injectors"] = [{"layer": i, "neurons": 64} for i in (2, 0, 1)]
    (fake_build / "manifest.json").write_text(json.dumps(man))
    spec = SweepSpec(models=[str(fake_build)], eps=[0.01], modes=["flip", "stuck0"],
                     faults_per_layer=[2], n_images=10)
    refs, points = validate(spec, "pynq", remote=True)
    assert refs[0].injector_widths == (64, 64, 64)
    assert refs[0].build_sha256 == __import__("hashlib").sha256(b"bits").hexdigest()
    assert {p.backend for p in points} == {"pynq"} and len(points) == 2


def test_tune_malloc_only_where_dask_changed_it(monkeypatch):
    import platform

    import noisybnn.experiments.measure as sweep_mod

    monkeypatch.setattr(sweep_mod, "_MALLOC_TUNED", False)
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    assert sweep_mod.tune_malloc() is False  # a plain process is left alone
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")  # as a Dask nanny starts its workers
    assert sweep_mod.tune_malloc() is (platform.libc_ver()[0] == "glibc")
    assert sweep_mod.tune_malloc() is False  # once per process
