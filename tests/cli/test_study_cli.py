"""`noisybnn study NAME`: the five theory studies in the one argparse tree (noisybnn.cli), their
modules' `main` forwarding to it. The experiments themselves take minutes: their `run`/`measure`
are replaced by recorders here, so these tests check the wiring, not the science."""

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from noisybnn import cli

ROOT = Path(__file__).resolve().parents[2]
STUDIES = ("narrow", "mean-field", "propagation", "geometry", "crashed")


def _run(capsys, *args):
    rc = cli.main(list(args))
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def _one_line_error(rc, err, *fragments):
    assert rc == 2, err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("noisybnn: error: "), err
    for f in fragments:
        assert f in lines[0], err


def _module(name):
    return importlib.import_module(f"noisybnn.experiments.{cli.STUDY_MODULES[name]}")


@pytest.fixture
def no_experiment(monkeypatch):
    """Make every study's work a recorder: (module name, args) of each call."""
    calls = []
    for name in STUDIES:
        mod = _module(name)
        target = "measure" if name == "geometry" else "run"

        def rec(*a, _n=name, **k):
            calls.append((_n, a, k))
            return ([], []) if _n == "narrow" else []

        monkeypatch.setattr(mod, target, rec)
    return calls


def test_study_help_lists_the_five(capsys):
    rc, out, _ = _run(capsys, "study", "--help")
    assert rc == 0
    for name in STUDIES:
        assert f"    {name}" in out
    rc, out, _ = _run(capsys, "--help")
    assert rc == 0 and "study" in out and "mean-field" in out


@pytest.mark.parametrize("name", STUDIES)
def test_each_study_help(capsys, name):
    rc, out, _ = _run(capsys, "study", name, "--help")
    assert rc == 0 and out.startswith(f"usage: noisybnn study {name}")
    assert "--images" in out


@pytest.mark.parametrize(("args", "fragment"), [
    (("narrow", "--eps", "0.1,0.7"), "must be in [0, 0.5], got 0.7"),
    (("narrow", "--widths", "4,x"), "not a list of integers"),
    (("narrow", "--rtl-models", "mlp-8x1", "--rtl-eps", "0.6"), "must be in [0, 0.5], got 0.6"),
    (("narrow", "--rtl-models", "tfc-w1a1"), "not a narrow model name"),
    (("narrow", "--rtl-models", "mlp-8x1-w1a1", "--rtl-images", "0"), "--rtl-images must be"),
    (("mean-field", "--models", "tfc-w1a1", "sfc-w1a1", "--images", "1", "2", "3"),
     "--images takes one value or one per model"),
    (("propagation", "--lams", "big"), "argument --lams"),
    (("geometry",), "required: checkpoints"),
    (("crashed", "--totals", "1", "two"), "argument --totals"),
])
def test_bad_argument_is_one_line_exit_2(capsys, no_experiment, args, fragment):
    rc, _, err = _run(capsys, "study", *args)
    _one_line_error(rc, err, fragment)
    assert no_experiment == []  # refused before any work


def test_defaults_equal_the_modules_constants():
    """cli.py copies the modules' defaults (so the parser imports no numpy): they must agree."""
    from noisybnn.experiments import mean_field, narrow, propagation

    p = cli.build_parser()
    a = p.parse_args(["study", "narrow"])
    assert a.widths == list(narrow.DEFAULT_WIDTHS) and a.depths == list(narrow.DEFAULT_DEPTHS)
    assert a.eps_train == list(narrow.DEFAULT_EPS_TRAIN) and a.eps == list(narrow.DEFAULT_EPS)
    assert a.seeds == list(narrow.DEFAULT_SEEDS)
    assert p.parse_args(["study", "mean-field"]).eps == list(mean_field.DEFAULT_EPS)
    assert p.parse_args(["study", "propagation"]).eps == list(propagation.DEFAULT_EPS)


def test_study_calls_the_experiment_with_the_parsed_options(capsys, tmp_path, no_experiment):
    assert _run(capsys, "study", "narrow", "--out", str(tmp_path), "--widths", "2 4",
                "--eps", "0.1,0.49", "--images", "50")[0] == 0
    assert _run(capsys, "study", "mean-field", "--models", "a", "b", "--images", "10", "20",
                "--out", str(tmp_path))[0] == 0
    assert _run(capsys, "study", "propagation", "--lams", "0", "3", "--width", "8")[0] == 0
    ckpt = tmp_path / "x.pt"
    assert _run(capsys, "study", "geometry", str(ckpt), "--images", "7",
                "--out", str(tmp_path / "g.csv"))[0] == 0
    assert _run(capsys, "study", "crashed", "--totals", "3", "5", "--draws", "2")[0] == 0
    by = {}
    for name, a, _k in no_experiment:
        by.setdefault(name, []).append(a)
    n = by["narrow"][0]
    assert n[0] == tmp_path and n[1] == [2, 4] and n[4] == [0.1, 0.49] and n[6] == 50
    assert [(c[0], c[1]) for c in by["mean-field"]] == [(["a"], 10), (["b"], 20)]
    assert by["propagation"][0][0] == [0.0, 3.0] and by["propagation"][0][7] == 8
    assert by["geometry"] == [(ckpt, 7)]
    assert by["crashed"][0][1:4] == ([3, 5], 1000, 2)
    assert (tmp_path / "g.csv").is_file()


def test_module_main_forwards_to_the_cli(capsys, no_experiment):
    from noisybnn.experiments import narrow

    rc = narrow.main(["--eps", "0.9"])
    _one_line_error(rc, capsys.readouterr().err, "got 0.9")
    assert no_experiment == []


def test_python_m_module_is_the_study_command():
    out = subprocess.run([sys.executable, "-m", "noisybnn.experiments.crashed", "--help"],
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0 and out.stdout.startswith("usage: noisybnn study crashed"), out.stderr
