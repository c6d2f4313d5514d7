"""Bad input to every subcommand, as a new user gives it: one line naming the problem, exit 2,
no traceback, and no existing file changed (the workspace and the shared build are hashed before
and after each case).

The commands run in this process (torch and FINN are imported once); a case that must stop at
argument parsing, at a file check or at a range check never gets to a long step. One small TFC
build is shared by the whole module (the default build, made once if missing).
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def build() -> Path:
    """The default tfc-w1a1 build (made once, ~30 s, when a fresh clone has none)."""
    env = os.environ.get("NOISYBNN_TEST_BUILD")
    for c in ([Path(env)] if env else []) + [REPO / "bitstreams" / "pynq-z2" / "tfc-w1a1"]:
        if (c / "manifest.json").is_file() and (c / "dataflow_python.onnx").is_file():
            return c
    from noisybnn.pipeline import compile_model
    from noisybnn.zoo import checkpoint_path

    if not checkpoint_path("tfc-w1a1").is_file():
        pytest.skip("no shipped tfc-w1a1 checkpoint to build")
    return Path(compile_model("tfc-w1a1"))  # a no-op when up to date


@pytest.fixture(scope="module")
def good_table(build, tmp_path_factory) -> Path:
    """A whole results table of a tiny sweep on the shared build."""
    from noisybnn.experiments import SweepSpec, run_sweep

    out = tmp_path_factory.mktemp("table") / "good.csv"
    run_sweep(SweepSpec(models=[str(build)], eps=[0.0, 0.05], seeds=[1], n_images=100), out,
              progress=False)
    return out


def _tree_hash(root: Path) -> dict[str, str]:
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.name.endswith(".lock"):
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _tree_stat(root: Path) -> dict[str, tuple]:
    """Size and modification time of every file: any write shows (cheaper than hashing)."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def ws(tmp_path, build, good_table):
    """A workspace with files a careless command could clobber; checked after the test."""
    (tmp_path / "a_file").write_text("not a directory\n")
    (tmp_path / "a_dir").mkdir()
    (tmp_path / "a_dir" / "keep.txt").write_text("keep\n")
    (tmp_path / "binary.csv").write_bytes(bytes(range(256)) * 4)
    shutil.copy(good_table, tmp_path / "table.csv")
    text = good_table.read_text()
    (tmp_path / "cut_field.csv").write_text(text[:-5])  # cut inside the last field
    (tmp_path / "cut_row.csv").write_text(text[: text.rindex("\n", 0, len(text) - 1) + 40])
    lines = text.splitlines(keepends=True)
    from noisybnn.experiments.schemas import SWEEP

    acc = SWEEP.columns.index("accuracy")
    fields = lines[-1].rstrip("\n").split(",")
    fields[acc] = "high"
    (tmp_path / "nan_acc.csv").write_text("".join(lines[:-1]) + ",".join(fields) + "\n")
    (tmp_path / "foreign.csv").write_text("a,b\n1,2\n")
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "pe0.json").write_text('{"MVAU_0": {"PE": 0, "SIMD": 49}}')
    (tmp_path / "garbage.pt").write_bytes(b"this is not a checkpoint")
    before = (_tree_hash(tmp_path), _tree_stat(build))
    yield tmp_path
    after = (_tree_hash(tmp_path), _tree_stat(build))
    assert after[0] == before[0], "the command changed a file of the workspace"
    assert after[1] == before[1], "the command changed the shared build"
    assert not list(tmp_path.rglob("*.tmp")), "a temporary file was left behind"


@pytest.fixture
def cli(capsys, monkeypatch):
    """The command in this process: (exit code, stdout, stderr); argparse's exit included."""
    from noisybnn.cli import main

    def run(*args, env=None):
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
        try:
            rc = main([str(a) for a in args])
        except SystemExit as exc:
            rc = exc.code
        out = capsys.readouterr()
        return rc, out.out, out.err

    return run


def assert_one_line(rc, err, *fragments):
    assert rc == 2, err
    assert "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("noisybnn: error: "), err
    for frag in fragments:
        assert frag in lines[0], lines[0]


def _sweep(build, ws, *extra, out="new.csv"):
    out_path = out if out is None or os.path.isabs(str(out)) or out == "" else ws / out
    return ("sweep", "--models", build, "--eps", "0,0.05", "--seeds", "1", "--n-images", "100",
            "--quiet", "--out", out_path, *extra)


# --- the cases ---------------------------------------------------------------------------------
# (argv builder, fragments the one-line message must contain, environment)

W = "{ws}"
B = "{build}"

CASES = {
    # eval
    "eval-n-images-negative": (["eval", "--model", "tfc-w1a1", "--n-images", "-5"], ["--n-images"]),
    "eval-n-images-too-many": (["eval", "--model", "tfc-w1a1", "--eps", "0", "--n-images",
                                "20000"], ["--n-images", "0..10000", "20000"]),
    "eval-n-images-text": (["eval", "--model", "tfc-w1a1", "--n-images", "ten"], ["--n-images"]),
    "eval-seeds-zero": (["eval", "--model", "tfc-w1a1", "--seeds", "0"], ["--seeds"]),
    "eval-seeds-huge": (["eval", "--model", "tfc-w1a1", "--seeds", "1000000000"], ["--seeds"]),
    "eval-eps-above-one": (["eval", "--model", "tfc-w1a1", "--eps", "0,1.5"], ["eps", "1.5"]),
    "eval-eps-nan": (["eval", "--model", "tfc-w1a1", "--eps", "nan"], ["nan"]),
    "eval-layers-out-of-range": (["eval", "--model", "tfc-w1a1", "--eps", "0", "--layers", "9"],
                                 ["--layers 9", "0..2"]),
    "eval-layers-text": (["eval", "--model", "tfc-w1a1", "--layers", "x"], ["layers"]),
    "eval-source": (["eval", "--model", "tfc-w1a1", "--source", "dice"], ["--source"]),
    "eval-dataset": (["eval", "--model", "tfc-w1a1", "--eps", "0", "--dataset", "bogus"],
                     ["bogus"]),
    "eval-missing-checkpoint": (["eval", "--model", f"{W}/none.pt", "--eps", "0"],
                                ["checkpoint not found", "none.pt"]),
    "eval-garbage-checkpoint": (["eval", "--model", f"{W}/garbage.pt", "--eps", "0"],
                                ["garbage.pt"]),
    "eval-spec-lacks-key": (["eval", "--model", f"{W}/nospec.pt", "--eps", "0"],
                            ["nospec.pt", "lacks"]),
    "eval-unknown-model": (["eval", "--model", "xfc-w9a9"], ["xfc-w9a9"]),
    # train
    "train-epochs-zero": (["train", "tfc-w1a1", "--epochs", "0", "--out", f"{W}/runs"],
                          ["--epochs"]),
    "train-epochs-negative": (["train", "tfc-w1a1", "--epochs", "-3", "--out", f"{W}/runs"],
                              ["--epochs"]),
    "train-batch-size-zero": (["train", "tfc-w1a1", "--batch-size", "0", "--out", f"{W}/runs"],
                              ["--batch-size"]),
    "train-lr-zero": (["train", "tfc-w1a1", "--lr", "0", "--out", f"{W}/runs"], ["--lr"]),
    "train-lr-inf": (["train", "tfc-w1a1", "--lr", "inf", "--out", f"{W}/runs"], ["--lr"]),
    "train-eps-train": (["train", "tfc-w1a1", "--eps-train", "1.5", "--out", f"{W}/runs"],
                        ["--eps-train"]),
    "train-dropout": (["train", "tfc-w1a1", "--dropout", "-0.1", "--out", f"{W}/runs"],
                      ["--dropout"]),
    "train-shift": (["train", "tfc-w1a1", "--shift", "14", "--out", f"{W}/runs"], ["shift"]),
    "train-seed": (["train", "tfc-w1a1", "--seed", "-1", "--out", f"{W}/runs"], ["--seed"]),
    "train-out-is-file": (["train", "tfc-w1a1", "--epochs", "1", "--out", f"{W}/a_file"],
                          ["--out", "a_file", "is a file"]),
    "train-ship-is-dir": (["train", "tfc-w1a1", "--epochs", "1", "--out", f"{W}/runs", "--ship",
                           f"{W}/a_dir"], ["--ship", "a_dir", "directory"]),
    "train-threads-zero": (["train", "tfc-w1a1", "--epochs", "1", "--out", f"{W}/runs"],
                           ["NOISYBNN_THREADS", "1..1024", "0"], {"NOISYBNN_THREADS": "0"}),
    "train-threads-text": (["train", "tfc-w1a1", "--epochs", "1", "--out", f"{W}/runs"],
                           ["NOISYBNN_THREADS", "abc"], {"NOISYBNN_THREADS": "abc"}),
    "train-arch": (["train", "xfc-w1a1", "--out", f"{W}/runs"], ["unknown model"]),
    # export
    "export-out-is-dir": (["export", "--model", "tfc-w1a1", "--out", f"{W}/a_dir"],
                          ["--out", "a_dir", "directory"]),
    "export-out-empty": (["export", "--model", "tfc-w1a1", "--out", ""], ["--out is empty"]),
    "export-out-under-file": (["export", "--model", "tfc-w1a1", "--out", f"{W}/a_file/m.onnx"],
                              ["--out", "a_file", "is a file"]),
    "export-missing-model": (["export", "--model", f"{W}/none.pt", "--out", f"{W}/m.onnx"],
                             ["none.pt"]),
    # estimate / build
    "estimate-fps-zero": (["estimate", "--model", "tfc-w1a1", "--target-fps", "0"],
                          ["--target-fps"]),
    "estimate-fps-negative": (["estimate", "--model", "tfc-w1a1", "--target-fps", "-5"],
                              ["--target-fps"]),
    "estimate-fps-text": (["estimate", "--model", "tfc-w1a1", "--target-fps", "fast"],
                          ["--target-fps"]),
    "estimate-noise-layers-9": (["estimate", "--model", "tfc-w1a1", "--noise-layers", "9",
                                 "--out", f"{W}/b"], ["--noise-layers 9", "0..2"]),
    "estimate-noise-layers-text": (["estimate", "--model", "tfc-w1a1", "--noise-layers", "x"],
                                   ["layers"]),
    "estimate-folding-missing": (["estimate", "--model", "tfc-w1a1", "--folding",
                                  f"{W}/none.json"], ["none.json"]),
    "estimate-folding-not-json": (["estimate", "--model", "tfc-w1a1", "--folding",
                                   f"{W}/bad.json"], ["--folding", "bad.json", "JSON"]),
    "estimate-folding-list": (["estimate", "--model", "tfc-w1a1", "--folding", f"{W}/list.json"],
                              ["list.json", "node names"]),
    "estimate-folding-pe-zero": (["estimate", "--model", "tfc-w1a1", "--folding",
                                  f"{W}/pe0.json"], ["pe0.json", "MVAU_0.PE"]),
    "estimate-folding-binary": (["estimate", "--model", "tfc-w1a1", "--folding",
                                 f"{W}/binary.csv"], ["binary.csv", "not a text file"]),
    "estimate-board": (["estimate", "--model", "tfc-w1a1", "--board", "zcu999"], ["zcu999"]),
    "estimate-out-is-file": (["estimate", "--model", "tfc-w1a1", "--out", f"{W}/a_file"],
                             ["--out", "a_file", "is a file"]),
    "build-fps-zero": (["build", "--model", "tfc-w1a1", "--target-fps", "0"], ["--target-fps"]),
    # sweep
    "sweep-seeds-huge": ("sweep", ["--seeds", "1000000000"], ["--seeds"]),
    "sweep-seeds-zero": ("sweep", ["--seeds", "0"], ["--seeds"]),
    "sweep-eps-range-huge": ("sweep", ["--eps", "0:1:1e-9"],
                             ["0:1:1e-9", "limit of 100,000", "--max-points"],
                             {"NOISYBNN_MAX_POINTS": ""}),
    "sweep-eps-limit": ("sweep", ["--eps", "0:0.1:0.001", "--max-points", "50"],
                        ["0:0.1:0.001", "50"]),
    "sweep-grid-limit-env": ("sweep", ["--eps", "0:0.1:0.01"], ["limit of 5"],
                             {"NOISYBNN_MAX_POINTS": "5"}),
    "sweep-limit-env-text": ("sweep", [], ["NOISYBNN_MAX_POINTS", "abc"],
                             {"NOISYBNN_MAX_POINTS": "abc"}),
    "sweep-max-points-zero": ("sweep", ["--max-points", "0"], ["--max-points"]),
    "sweep-eps-above-one": ("sweep", ["--eps", "2"], ["eps"]),
    "sweep-n-images-negative": ("sweep", ["--n-images", "-1"], ["--n-images"]),
    "sweep-n-images-too-many": ("sweep", ["--n-images", "20000"], ["20000", "10000"]),
    "sweep-workers-negative": ("sweep", ["--workers", "-1"], ["--workers"]),
    "sweep-layers-out-of-range": ("sweep", ["--layers", "7"], ["layer 7"]),
    "sweep-modes": ("sweep", ["--modes", "bogus"], ["bogus"]),
    "sweep-faults-too-many": ("sweep", ["--modes", "stuck0", "--faults", "100"], ["100"]),
    "sweep-faults-text": ("sweep", ["--modes", "stuck0", "--faults", "a,b"], ["--faults"]),
    "sweep-dataset": ("sweep", ["--dataset", "bogus"], ["bogus"]),
    "sweep-model-missing": (["sweep", "--models", f"{W}/nobuild/", "--out", f"{W}/n.csv"],
                            ["nobuild"]),
    "sweep-model-not-a-build": (["sweep", "--models", f"{W}/a_dir", "--out", f"{W}/n.csv"],
                                ["a_dir", "manifest.json"]),
    "sweep-out-is-dir": ("sweep-out", f"{W}/a_dir", ["--out", "a_dir", "directory"]),
    "sweep-out-empty": ("sweep-out", "", ["--out is empty"]),
    "sweep-out-under-file": ("sweep-out", f"{W}/a_file/t.csv", ["--out", "a_file", "is a file"]),
    "sweep-table-cut-field": ("sweep-out", f"{W}/cut_field.csv", ["cut_field.csv", "cut short"]),
    "sweep-table-cut-row": ("sweep-out", f"{W}/cut_row.csv", ["cut_row.csv", "cut short"]),
    "sweep-table-binary": ("sweep-out", f"{W}/binary.csv", ["binary.csv", "binary"]),
    "sweep-table-bad-accuracy": ("sweep-out", f"{W}/nan_acc.csv",
                                 ["nan_acc.csv", "accuracy", "high"]),
    "sweep-table-foreign": ("sweep-out", f"{W}/foreign.csv", ["foreign.csv", "not a results"]),
    # report
    "report-missing": (["report", f"{W}/none.csv", "--out", f"{W}/rep"], ["none.csv"]),
    "report-binary": (["report", f"{W}/binary.csv", "--out", f"{W}/rep"], ["binary.csv"]),
    "report-cut-row": (["report", f"{W}/cut_row.csv", "--out", f"{W}/rep"],
                       ["cut_row.csv", "cut short"]),
    "report-cut-field": (["report", f"{W}/cut_field.csv", "--out", f"{W}/rep"],
                         ["cut_field.csv", "cut short"]),
    "report-target-accuracy": (["report", f"{W}/table.csv", "--target-accuracy", "1.5"],
                               ["--target-accuracy"]),
    "report-theory-images": (["report", f"{W}/table.csv", "--theory-images", "0"],
                             ["--theory-images"]),
    "report-out-is-file": (["report", f"{W}/table.csv", "--out", f"{W}/a_file"],
                           ["--out", "a_file", "is a file"]),
    # bench
    "bench-n-images-zero": (["bench", "--n-images", "0"], ["--n-images"]),
    "bench-p": (["bench", "--p", "2"], ["--p"]),
    "bench-out-is-dir": (["bench", "--out", f"{W}/a_dir", "--no-sweep"],
                         ["--out", "a_dir", "directory"]),
    # explore
    "explore-eps": (["explore", "--eps", "2"], ["--eps"]),
    "explore-seeds": (["explore", "--seeds", "0"], ["--seeds"]),
    "explore-workers": (["explore", "--workers", "-2"], ["--workers"]),
    "explore-theory-target": (["explore", "--theory-target", "0"], ["--theory-target"]),
    "explore-out-is-dir": (["explore", "--out", f"{W}/a_dir"], ["--out", "a_dir", "directory"]),
    "explore-runs-dir-is-file": (["explore", "--out", f"{W}/e.csv", "--runs-dir", f"{W}/a_file"],
                                 ["--runs-dir", "a_file"]),
    "explore-space-not-json": (["explore", "--space", f"{W}/bad.json", "--out", f"{W}/e.csv"],
                               ["bad.json", "not valid JSON"]),
    "explore-space-missing": (["explore", "--space", f"{W}/none.json", "--out", f"{W}/e.csv"],
                              ["none.json"]),
    "report-foreign-table": (["report", f"{W}/foreign.csv", "--out", f"{W}/rep"],
                             ["foreign.csv", "lacks the column"]),
    "eval-eps-empty": (["eval", "--model", "tfc-w1a1", "--eps", ""], ["no eps values"]),
    "sweep-pynq-without-bitstream": ("sweep", ["--backend", "pynq"], ["no bitstream"]),
    # data, deploy, demo, zoo
    "data-unknown": (["data", "bogus"], ["bogus"]),
    "data-cache-dir-is-file": (["data", "mnist", "--cache-dir", f"{W}/a_file"], ["a_file"]),
    "deploy-no-host": (["deploy", "--host", "", "--build-dir", B], ["--host"]),
    "deploy-estimates-only": (["deploy", "--host", "10.0.0.9", "--build-dir", B],
                              ["estimates-only", "bitstream"]),
    "zoo-train-unknown": (["zoo", "train", "bogus"], ["bogus"]),
    "demo-out-is-file": (["demo", "--out", f"{W}/a_file"], ["--out", "a_file"]),
    "zoo-action": (["zoo", "fly"], ["fly"]),
    "unknown-command": (["compile", "tfc-w1a1"], ["compile"]),
}


def _argv(case, ws: Path, build: Path) -> list[str]:
    head = case[0]
    if head == "sweep":
        return [*_sweep(build, ws), *case[1]]
    if head == "sweep-out":
        out = case[1].replace(W, str(ws))
        return list(_sweep(build, ws, out=out))
    return [a.replace(W, str(ws)).replace(B, str(build)) for a in head]


def _fragments(case):
    return case[2] if case[0] in ("sweep", "sweep-out") else case[1]


def _env(case):
    extra = case[3:] if case[0] in ("sweep", "sweep-out") else case[2:]
    return extra[0] if extra else {}


def _make_spec_less_checkpoint(ws: Path) -> None:
    import torch

    from noisybnn.zoo import checkpoint_path

    payload = torch.load(checkpoint_path("tfc-w1a1"), map_location="cpu", weights_only=False)
    del payload["spec"]["hidden"]
    torch.save(payload, ws / "nospec.pt")


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input(name, cli, ws, build, monkeypatch):
    monkeypatch.chdir(ws)  # default outputs (e.g. `export` without --out) land in the workspace
    case = CASES[name]
    if name == "eval-spec-lacks-key":
        _make_spec_less_checkpoint(ws)
        before = _tree_hash(ws)
    rc, _, err = cli(*_argv(case, ws, build), env=_env(case))
    frags = [f.replace(W, str(ws)) for f in _fragments(case)]
    if os.environ.get("NOISYBNN_SHOW_ERRORS"):
        print(f"\n{name}: {err.strip()}", file=__import__("sys").__stderr__)
    assert_one_line(rc, err, *frags)
    if name == "eval-spec-lacks-key":
        assert _tree_hash(ws) == before
        (ws / "nospec.pt").unlink()  # the fixture compares with the state before the case


def test_at_least_sixty_cases():
    assert len(CASES) >= 60


# --- outputs the OS refuses ------------------------------------------------------------------


def test_disk_full_while_writing_the_table(cli, ws, build, monkeypatch):
    """ENOSPC in the middle of rewriting the table: one line, the old table whole, no .tmp."""
    import noisybnn.outputs as outputs

    table = ws / "table.csv"
    real_replace = os.replace

    def full_disk(src, dst):
        if str(dst) == str(table):
            raise OSError(errno.ENOSPC, "No space left on device", str(src))
        return real_replace(src, dst)

    monkeypatch.setattr(outputs.os, "replace", full_disk)
    rc, _, err = cli(*_sweep(build, ws, "--eps", "0,0.05,0.1", out=str(table)))
    assert_one_line(rc, err, "table.csv", "disk is full")


def test_read_only_output_folder(cli, ws, build, monkeypatch):
    """A folder the process may not write (simulated: the tests may run as root)."""
    ro = ws / "a_dir"
    real_access = os.access
    monkeypatch.setattr(os, "access",
                        lambda p, mode, **kw: False if Path(p) == ro else real_access(p, mode))
    rc, _, err = cli(*_sweep(build, ws, out=str(ro / "t.csv")))
    assert_one_line(rc, err, "a_dir", "not writable")


def test_bug_keeps_its_traceback(monkeypatch):
    """A plain exception from a bug is not turned into a one-line user error."""
    from noisybnn import cli as cli_mod

    def boom(args):
        raise KeyError("internal")

    monkeypatch.setattr(cli_mod, "cmd_zoo", boom)
    with pytest.raises(KeyError):
        cli_mod.main(["zoo", "list"])
