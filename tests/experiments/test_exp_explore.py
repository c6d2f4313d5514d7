"""Design-space exploration: spaces and their validation, the keyed table, resume, the Dask run
(equal to the serial one, with training repeated in the worker processes), the plot, the CLI,
and the depth-width experiment on the exploration's cache.

The real runs use a tiny recipe (1 epoch on 2000 training images, 500 test images): a point is
trained, estimated by FINN and measured on the software accelerator in a few seconds, plus the
imports of each new process.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from noisybnn.experiments import explore as ex
from noisybnn.experiments.errors import ExploreError
from noisybnn.experiments.explore import read_explore, run_explore
from noisybnn.experiments.measure import label_entropy
from noisybnn.experiments.schemas import EXPLORE
from noisybnn.experiments.space import load_space, train_config
from noisybnn.experiments.table import comparable as _comparable
from noisybnn.experiments.table import read_rows
from noisybnn.fingerprint import canonical_onnx_sha256
from noisybnn.report.design import format_summary, pareto_front, plot_explore

COLUMNS = EXPLORE.columns


def comparable(df):
    return _comparable(df, EXPLORE.volatile)

TINY_TRAIN = {"epochs": 1, "train_limit": 2000}
N_IMAGES = 500
EPS = 0.05


def tiny_space(*sizes: tuple[int, int]) -> dict:
    return {"name": "tiny", "points": [{"width": w, "depth": d} for w, d in sizes],
            "train": TINY_TRAIN}


# --- spaces and validation (no work) -----------------------------------------------------------


def test_builtin_spaces():
    default = load_space("default")
    assert len(default) >= 24
    names = [p.name for p in default.points]
    assert len(set(names)) == len(names)
    grid = [p for p in default.points if (p.weight_bits, p.act_bits, p.target_fps) ==
            (1, 1, 100_000) and p.width <= 128]
    assert {(p.width, p.depth, p.eps_train) for p in grid} == {
        (w, d, e) for w in (16, 32, 64, 128) for d in (1, 2, 3) for e in (0.0, 0.05)}
    assert len(grid) == 24 and len({p.model_name for p in default.points}) == 27
    assert default.train.epochs == 2 and default.train.train_limit == 0
    assert {p.board for p in default.points} == {"pynq-z2"}
    small = load_space("small", board="alveo-u250")
    assert len(small) == 4 and {p.board for p in small.points} == {"alveo-u250"}


def test_space_file(tmp_path):
    path = tmp_path / "space.json"
    path.write_text(json.dumps({
        "grid": {"width": [8, 16], "depth": 2, "precision": ["w1a1", "w2a2"]},
        "points": [{"width": 32, "depth": 1, "eps_train": 0.1, "target_fps": 1_000_000},
                   {"width": 8, "depth": 2}],  # a duplicate of a grid point: kept once
        "train": {"epochs": 3, "train_limit": 5000, "seed": 7},
    }))
    space = load_space(str(path))
    assert space.name == "space"
    assert [p.name for p in space.points] == [
        "mlp-8x2-w1a1-100kfps", "mlp-8x2-w2a2-100kfps", "mlp-16x2-w1a1-100kfps",
        "mlp-16x2-w2a2-100kfps", "mlp-32x1-w1a1-eps0.1-1Mfps"]
    assert (space.train.epochs, space.train.train_limit, space.train.seed) == (3, 5000, 7)
    assert space.points[-1].spec().name == "mlp-32x1-w1a1-eps0.1"


@pytest.mark.parametrize(
    "space, kw, match",
    [
        ("no-such-space", {}, "neither a built-in space"),
        ("@malformed", {}, "not valid JSON"),
        ("small", {"eps": 1.5}, "eps"),
        ("small", {"eps": -0.1}, "eps"),
        ("small", {"eps": float("nan")}, "eps"),
        ("small", {"board": "pynq-z9"}, "unknown board"),
        ({"grid": {"width": [8], "depth": [1], "colour": ["red"]}}, {}, "unknown axis"),
        ({"points": [{"width": 8, "depth": 1, "precision": "w3a3"}]}, {}, "unknown precision"),
        ({"points": [{"width": 0, "depth": 1}]}, {}, "width must be"),
        ({"points": [{"width": 8}]}, {}, "missing 'depth'"),
        ({"points": [{"width": 8, "depth": 1, "board": "nope"}]}, {}, "unknown board"),
        ({"points": []}, {}, "has no points"),
        ({"points": [{"width": 8, "depth": 1}], "train": {"epoch": 2}}, {}, "unknown training"),
        ("small", {"seeds": 0}, "seeds"),
        ("small", {"n_images": 10**6}, "test split has"),
        ("small", {"workers": -1}, "workers"),
    ],
)
def test_bad_input_fails_before_any_work(tmp_path, space, kw, match):
    if space == "@malformed":
        space = tmp_path / "bad.json"
        space.write_text('{"grid": {"width": [8,], }')
    out = tmp_path / "out" / "explore.csv"
    with pytest.raises(ExploreError, match=match):
        run_explore(space, out, runs_dir=tmp_path / "runs", build_dir=tmp_path / "build",
                    progress=False, **kw)
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "runs").exists() and not (tmp_path / "build").exists()


def test_cli_bad_input_is_one_line(tmp_path, capsys):
    from noisybnn.cli import main

    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    out = tmp_path / "out" / "x.csv"
    assert main(["explore", "--space", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "not valid JSON" in err and "Traceback" not in err
    assert main(["explore", "--space", "small", "--eps", "2", "--out", str(out)]) == 2
    assert "eps" in capsys.readouterr().err
    assert not out.parent.exists()


def test_table_of_another_schema_is_refused(tmp_path):
    out = tmp_path / "t.csv"
    out.write_text("key,model,accuracy\nabc,tfc,0.9\n")
    with pytest.raises(ExploreError, match="not a table of this kind"):
        run_explore("small", out, progress=False, runs_dir=tmp_path / "r", build_dir=tmp_path)
    assert out.read_text() == "key,model,accuracy\nabc,tfc,0.9\n"


# --- hashes, Pareto front, plot ----------------------------------------------------------------


def _tiny_onnx(path: Path, names: tuple[str, str, str], value: float) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    x, c, y = names
    node = helper.make_node("Add", [x, c], [y], name="Add_0")
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info(y, TensorProto.FLOAT, [1, 4])],
        [numpy_helper.from_array(np.full((1, 4), value, np.float32), c)])
    onnx.save(helper.make_model(graph), str(path))


def test_canonical_onnx_sha256_ignores_tensor_names(tmp_path):
    a, b, c = tmp_path / "a.onnx", tmp_path / "b.onnx", tmp_path / "c.onnx"
    _tiny_onnx(a, ("in", "k", "out"), 1.0)
    _tiny_onnx(b, ("xYz01", "qqA9f", "Zk3"), 1.0)  # qonnx-style random names
    _tiny_onnx(c, ("in", "k", "out"), 2.0)
    assert a.read_bytes() != b.read_bytes()
    assert canonical_onnx_sha256(a) == canonical_onnx_sha256(b)
    assert canonical_onnx_sha256(a) != canonical_onnx_sha256(c)


def test_label_entropy():
    assert label_entropy(np.arange(10).repeat(3), 10) == pytest.approx(np.log2(10))
    assert label_entropy(np.zeros(5, int), 10) == 0.0
    from noisybnn import data

    _, y = data.load("mnist", "test")
    assert label_entropy(y, 10) == pytest.approx(3.3194, abs=1e-4)  # not quite log2(10)


def synthetic_table(n: int = 8) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        w, d = (16, 32, 64, 128)[i % 4], 1 + i % 3
        row = dict.fromkeys(COLUMNS)
        row.update(key=f"k{i}", name=f"mlp-{w}x{d}-w1a1-100kfps", model=f"mlp-{w}x{d}-w1a1",
                   width=w, depth=d, weight_bits=1, act_bits=1 + (i == 5), eps_train=0.05 * (i % 2),
                   target_fps=100_000, board="pynq-z2", lut=1000.0 * (i + 1) ** 1.5,
                   bram_18k=float(i), fps=1e5 * (1 + (i % 3)), fits=i < 6,
                   lut_util=1000.0 * (i + 1) ** 1.5 / 53200, eps=EPS, seeds="1;2",
                   accuracy_clean=0.9, accuracy_under_noise=0.7 + 0.03 * i + 0.01 * rng.random(),
                   accuracy_std=0.002, neurons=w * d, noisy_bits=w * d * (1 + (i == 5)),
                   theory_min_neurons=4.0 * d, below_theory_min=False)
        rows.append(row)
    return pd.DataFrame(rows)


def test_pareto_summary_and_plot(tmp_path):
    df = synthetic_table()
    front = pareto_front(df)
    # accuracy grows with LUT here: every point is on the accuracy-vs-LUT front
    assert front.all()
    text = format_summary(df)
    assert "mlp-16x1-w1a1-100kfps" in text and "6 fit pynq-z2" in text
    assert "0 point(s) below it" in text
    png = plot_explore(df, tmp_path / "p.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000


# --- real runs: train, FINN estimate, software accelerator --------------------------------------


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Serial runs sharing one cache: first one point, then two (the first one resumed)."""
    root = tmp_path_factory.mktemp("explore")
    caches = {"runs_dir": root / "runs", "build_dir": root / "build"}
    out = root / "serial" / "explore.csv"
    first = run_explore(tiny_space((16, 1)), out, eps=EPS, seeds=2, n_images=N_IMAGES,
                        progress=False, **caches)
    first_rows = read_rows(out, EXPLORE)
    calls = []
    original = ex.run_design_point

    def counting(point, *args):
        calls.append(point.name)
        return original(point, *args)

    ex.run_design_point = counting
    try:
        both = run_explore(tiny_space((16, 1), (8, 1)), out, eps=EPS, seeds=2,
                           n_images=N_IMAGES, progress=False, **caches)
        calls_second = list(calls)
        again = run_explore(tiny_space((16, 1), (8, 1)), out, eps=EPS, seeds=2,
                            n_images=N_IMAGES, progress=False, **caches)
    finally:
        ex.run_design_point = original
    return dict(root=root, caches=caches, out=out, first=first, first_rows=first_rows,
                both=both, calls_second=calls_second, calls_third=calls[len(calls_second):],
                again=again)


def test_serial_row(runs):
    row = runs["first"].iloc[0]
    assert row["name"] == "mlp-16x1-w1a1-100kfps" and row["board"] == "pynq-z2"
    assert row["n_images"] == N_IMAGES and row["seeds"] == "1;2" and row["eps"] == EPS
    assert row["lut"] > 0 and row["fps"] > 0 and row["bram_18k"] >= 0
    assert row["fits"] and 0 < row["injector_lut_share"] < 1
    assert 0.1 < row["accuracy_clean"] <= 1 and 0 <= row["accuracy_under_noise"] <= 1
    assert row["neurons"] == row["noisy_bits"] == 16
    assert not row["below_theory_min"] and row["theory_min_neurons"] <= row["noisy_bits"]
    assert row["theory_target"] == row["accuracy_under_noise"]
    assert 3.0 < row["label_entropy"] <= np.log2(10)
    assert row["accuracy_under_noise"] <= row["theory_ceiling"]
    # the estimates are those of the cached build
    bdirs = list((runs["caches"]["build_dir"] / "pynq-z2").glob("mlp-16x1-w1a1-100kfps@*"))
    assert len(bdirs) == 1
    est = json.loads((bdirs[0] / "estimates.json").read_text())
    assert row["lut"] == est["total"]["LUT"] and row["fps"] == est["fps"]
    assert not runs["out"].with_suffix(".png").exists()  # the library run draws nothing


def test_sim_clean_accuracy_equals_brevitas(runs):
    """The clean accuracy measured on the software accelerator is the checkpoint's, exactly."""
    from noisybnn import data
    from noisybnn.train import evaluate, load_checkpoint

    ckpt = next((runs["caches"]["runs_dir"]).glob("mlp-16x1-w1a1@*/last.pt"))
    net, _ = load_checkpoint(ckpt)
    x, y = data.load("mnist", "test")
    correct = round(evaluate(net, x[:N_IMAGES], y[:N_IMAGES].astype(np.int64)) * N_IMAGES / 100)
    assert correct == round(runs["first"].iloc[0]["accuracy_clean"] * N_IMAGES)


def test_resume_skips_done_points(runs):
    assert runs["calls_second"] == ["mlp-8x1-w1a1-100kfps"]  # only the new point ran
    assert runs["calls_third"] == []  # nothing left to do
    rows = read_rows(runs["out"], EXPLORE)
    key = runs["first"].iloc[0]["key"]
    assert rows[key] == runs["first_rows"][key]  # the done row is untouched, byte for byte
    assert len(rows) == 2
    pd.testing.assert_frame_equal(runs["both"], runs["again"])


def test_dask_run_equals_serial(runs):
    """Two worker processes train, build and measure the points again from empty caches; the
    table equals the serial one apart from the volatile columns: training is deterministic."""
    pytest.importorskip("dask.distributed")
    root = runs["root"]
    out = root / "dask" / "explore.csv"
    dist = run_explore(tiny_space((16, 1), (8, 1)), out, eps=EPS, seeds=2, n_images=N_IMAGES,
                       workers=2, progress=False, runs_dir=root / "dask-runs",
                       build_dir=root / "dask-build")
    pd.testing.assert_frame_equal(comparable(runs["both"]), comparable(dist))
    assert dist["worker"].nunique() == 2
    assert not dist["worker"].str.endswith(f":{os.getpid()}").any()
    # weights equal, checkpoint files not (they record wall times)
    assert set(dist["weights_sha256"]) == set(runs["both"]["weights_sha256"])


def test_cli_prints_the_summary_and_draws_the_plot(runs, capsys):
    from noisybnn.cli import main

    space = runs["root"] / "space.json"
    space.write_text(json.dumps(tiny_space((16, 1), (8, 1))))
    argv = ["explore", "--space", str(space), "--eps", str(EPS), "--out", str(runs["out"]),
            "--seeds", "2", "--n-images", str(N_IMAGES), "--quiet",
            "--runs-dir", str(runs["caches"]["runs_dir"]),
            "--build-dir", str(runs["caches"]["build_dir"])]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "mlp-16x1-w1a1-100kfps" in text and "mlp-8x1-w1a1-100kfps" in text
    assert f"table: {runs['out']}" in text and "explore.png" in text
    plot = runs["out"].with_suffix(".png")
    assert plot.is_file() and plot.stat().st_size > 10_000


def test_depth_width_reuses_the_exploration_cache(runs, tmp_path):
    from noisybnn.experiments.depth_width import run_depth_width

    def trained():
        return sorted(p.name for p in runs["caches"]["runs_dir"].iterdir() if p.is_dir())

    before = trained()
    res = run_depth_width(tmp_path / "dw", widths=(8, 16), depths=(1,), eps=(0.05, 0.45),
                          targets=(0.5, 0.2), seeds=2, n_images=N_IMAGES,
                          train=train_config(TINY_TRAIN, "train"), progress=False,
                          **runs["caches"])
    assert trained() == before  # both models came from the exploration's cache
    df = res.table
    assert len(df) == 4 and set(df["eps"]) == {0.05, 0.45}
    explored = runs["both"].set_index("width")
    for _, r in df.iterrows():
        assert r["weights_sha256"] == explored.loc[r["width"], "weights_sha256"]
        assert r["accuracy_clean"] == explored.loc[r["width"], "accuracy_clean"]
    assert res.violations == []
    mw = res.min_width
    assert len(mw) == 2 * 2 and mw["ok"].all()
    assert (tmp_path / "dw" / "min_width.csv").is_file()
    assert not (tmp_path / "dw" / "depth_width.png").exists()  # the CLI draws it, not the run


# --- slow: a killed run resumes to the same table ------------------------------------------------


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_table(runs, tmp_path):
    import subprocess
    import sys
    import time

    out = tmp_path / "killed.csv"
    script = (
        "import sys, json\n"
        "from noisybnn.experiments.explore import run_explore\n"
        f"run_explore(json.loads(sys.argv[1]), {str(out)!r}, eps={EPS}, seeds=2, "
        f"n_images={N_IMAGES}, progress=False, runs_dir={str(tmp_path / 'runs')!r}, "
        f"build_dir={str(tmp_path / 'build')!r})\n"
    )
    space = json.dumps(tiny_space((16, 1), (8, 1)))
    proc = subprocess.Popen([sys.executable, "-c", script, space])
    deadline = time.time() + 300
    while time.time() < deadline and len(read_rows(out, EXPLORE)) < 1:
        time.sleep(0.2)
        assert proc.poll() is None, "the run ended before it could be killed"
    proc.kill()
    proc.wait()
    assert len(read_rows(out, EXPLORE)) == 1
    subprocess.run([sys.executable, "-c", script, space], check=True)
    pd.testing.assert_frame_equal(comparable(read_explore(out)),
                                  comparable(runs["both"]))
