"""The options of the experiment, report, theory and study commands of `noisybnn`.

Part of the one argparse tree that `noisybnn.cli.build_parser` builds (kept apart only to keep
each file short). Building these parsers imports nothing heavy: defaults that are constants of
the experiment modules are literal copies, checked equal by tests/cli/test_study_cli.py.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from noisybnn.validation import float_arg, int_arg, probability_arg

#: Seeds a command line may ask for as a count (1..N); more is refused before any allocation.
MAX_SEED_COUNT = 1_000_000


def add_sweep_args(s) -> None:
    s.add_argument("--models", default="tfc-w1a1", help="comma-separated model names or build dirs")
    s.add_argument("--board", default="pynq-z2")
    s.add_argument("--backend", default="sim", choices=["sim", "pynq", "rtl"],
                   help="sim (software model), pynq (board), rtl (Verilator; slow, use --n-images)")
    s.add_argument("--eps", default="0,0.001,0.002,0.005,0.01,0.02,0.05,0.1,0.2",
                   help="comma-separated flip probabilities")
    s.add_argument("--modes", default="flip", help="comma-separated: flip, stuck0, stuck1")
    s.add_argument("--layers", default="all",
                   help="semicolon-separated layer sets, each 'all' or indices like 0,2")
    s.add_argument("--seeds", type=int_arg(1, MAX_SEED_COUNT), default=3,
                   help="number of seeds N (seeds 1..N)")
    s.add_argument("--faults", default="", help="stuck modes: crashed neurons per layer, e.g. 1,4,16")
    s.add_argument("--dataset", default="mnist")
    s.add_argument("--n-images", type=int_arg(0), default=0, help="first N test images (0: all)")
    s.add_argument("--out", default="results/sweep.csv")
    s.add_argument("--workers", type=int_arg(0, 1024), default=0,
                   help="Dask local cluster workers (0: serial)")
    s.add_argument("--max-points", type=int_arg(1), default=None,
                   help="refuse grids of more points (default 100000 or $NOISYBNN_MAX_POINTS)")
    s.add_argument("--scheduler", default=None, help="address of an existing Dask scheduler")
    s.add_argument("--quiet", action="store_true")


def add_bench_args(s) -> None:
    s.add_argument("--model", default="tfc-w1a1")
    s.add_argument("--board", default="pynq-z2")
    s.add_argument("--n-images", type=int_arg(1, 10_000), default=10000)
    s.add_argument("--finn-images", type=int_arg(1, 10_000), default=10000,
                   help="images for FINN python execution (slow) and the common batch")
    s.add_argument("--p", type=probability_arg(), default=0.01)
    s.add_argument("--no-sweep", action="store_true",
                   help="skip timing the 20 eps x 5 seeds sweep on sim")
    s.add_argument("--out", default="results/bench.json")


def add_report_args(s) -> None:
    s.add_argument("results", nargs="+", help="sweep CSV file(s)")
    s.add_argument("--out", default="results/report", help="output directory for HTML and PNGs")
    s.add_argument("--explore", default=None, help="exploration CSV to include")
    s.add_argument("--title", default="noisybnn: measured accuracy under noise vs theory")
    s.add_argument("--board", default="pynq-z2", help="board whose builds the sweeps used")
    s.add_argument("--target-accuracy", type=float_arg(0.0, 1.0, lo_open=True), default=0.9,
                   help="accuracy target for the neurons-required plot (fraction)")
    s.add_argument("--theory-images", type=int_arg(1, 10_000), default=2000,
                   help="test images used for the theory's predictions")
    s.add_argument("--quiet", action="store_true")


def add_explore_args(s) -> None:
    s.add_argument("--space", default="default", help="'default', 'small', or a JSON file")
    s.add_argument("--eps", type=probability_arg(), default=0.05,
                   help="noise level to rank designs at")
    s.add_argument("--board", default="pynq-z2")
    s.add_argument("--out", default="results/explore/explore.csv")
    s.add_argument("--runs-dir", default="runs/explore", help="cache of trained design points")
    s.add_argument("--build-dir", default="build/explore", help="cache of FINN builds")
    s.add_argument("--theory-target", type=float_arg(0.0, 1.0, lo_open=True), default=None,
                   help="accuracy target for the theory's minimum neurons (default: each point's)")
    s.add_argument("--workers", type=int_arg(0, 1024), default=0)
    s.add_argument("--scheduler", default=None)
    s.add_argument("--seeds", type=int_arg(1, 10_000), default=2)
    s.add_argument("--n-images", type=int_arg(0), default=0)
    s.add_argument("--quiet", action="store_true")


def add_depth_width_args(s) -> None:
    def floats(text: str) -> list[float]:
        try:
            return [float(x) for x in text.split(",") if x.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"not comma-separated numbers: {text!r}") from None

    def ints(text: str) -> list[int]:
        try:
            return [int(x) for x in text.split(",") if x.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"not comma-separated integers: {text!r}") from None

    # defaults (None) are depth_width.DEFAULT_*, filled in by its handler: no import here
    s.add_argument("--out", default="results/depth_width")
    s.add_argument("--widths", type=ints, default=None, help="default 4,8,16,32,64,128,256")
    s.add_argument("--depths", type=ints, default=None, help="default 1,2,3,4,6")
    s.add_argument("--eps", type=floats, default=None, help="default 0.01,0.05,0.1,0.2,0.45")
    s.add_argument("--targets", type=floats, default=None, help="default 0.9,0.8")
    s.add_argument("--eps-train", type=floats, default=[0.0])
    s.add_argument("--seeds", type=int, default=3)
    s.add_argument("--n-images", type=int, default=0)
    s.add_argument("--workers", type=int, default=0)
    s.add_argument("--scheduler", default=None)
    s.add_argument("--quiet", action="store_true")


def add_theory_commands(parser: argparse.ArgumentParser) -> None:
    """The tightness, tradeoff and predict subcommands under `parser` (`noisybnn theory`); their
    handlers are `noisybnn.theory.commands.HANDLERS`, imported when one runs."""
    sub = parser.add_subparsers(dest="theory_command", metavar="FIGURE", required=True)
    t = sub.add_parser("tightness", help="exact enumeration of random tiny networks vs ceilings")
    t.add_argument("--networks", type=int, default=1000, help="random networks (default 1000)")
    t.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    t.add_argument("--max-width", type=int, default=4, help="max neurons per layer (default 4)")
    t.add_argument("--max-depth", type=int, default=3, help="max hidden layers (default 3)")
    t.add_argument("--csv", default=None, help="write one row per network to this CSV file")
    t.set_defaults(theory_func="tightness")
    r = sub.add_parser("tradeoff", help="least width / total neurons per depth and eps")
    r.add_argument("--target", type=float, default=0.9, help="target accuracy (default 0.9)")
    r.add_argument("--classes", type=int, default=10, help="number of classes (default 10)")
    r.add_argument(
        "--eps",
        type=float,
        nargs="+",
        default=[0.01, 0.1, 0.2, 0.3, 0.4, 0.45, 0.49],
        help="flip probabilities (columns)",
    )
    r.add_argument("--max-depth", type=int, default=8, help="depths 1..max (default 8)")
    r.add_argument("--depths", type=int, nargs="+", default=None, help="explicit depths")
    r.set_defaults(theory_func="tradeoff")
    p = sub.add_parser("predict", help="mean field, predictor, faults on a zoo MLP checkpoint")
    p.add_argument("--checkpoint", default="models/tfc-w1a1.pt", help="zoo MLP .pt file")
    p.add_argument("--dataset", default="mnist", help="mnist or fashion-mnist")
    p.add_argument("--samples", type=int, default=2000, help="first N test images (default 2000)")
    p.add_argument("--eps", type=float, nargs="+", default=[0.01, 0.05, 0.1, 0.2])
    p.add_argument("--draws", type=int, default=200, help="Monte Carlo draws per image")
    p.add_argument(
        "--faults",
        nargs="+",
        default=["0,0,1", "0,0,4", "0,1,0", "1,0,0", "1,1,1"],
        help="stuck neurons per hidden layer, comma separated",
    )
    p.add_argument("--placements", type=int, default=30, help="random fault placements")
    p.set_defaults(theory_func="predict")


def _name_list(text: str) -> list[str]:
    """`--rtl-models a,b` or `"a b"`: names separated by commas or spaces."""
    return text.replace(",", " ").split()


def _number_list(kind: type):
    """`--eps 0.1,0.2` or `--eps "0.1 0.2"`: numbers separated by commas or spaces."""
    name = "integers" if kind is int else "numbers"

    def parse(text: str) -> list:
        try:
            return [kind(v) for v in text.replace(",", " ").split()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a list of {name}: {text!r}") from None

    parse.__name__ = f"list of {name}"
    return parse


def add_study_commands(parser: argparse.ArgumentParser) -> None:
    """The studies of docs/theory.md under `parser` (`noisybnn study`); each one's handler is
    `run_cli(args)` of its module in noisybnn.experiments (STUDY_MODULES), imported when it runs.
    Defaults are literal copies of the modules' DEFAULT_* (tests/cli checks they are equal), so
    that building the parser imports no numpy or torch."""
    sub = parser.add_subparsers(dest="study_command", metavar="STUDY", required=True)

    n = sub.add_parser("narrow", help="narrow networks where the Fano/SDPI ceiling binds (§8)",
                       description="Train, build and measure narrow 784-[width]*depth-10 w1a1 MLPs "
                       "on the software accelerator up to eps 0.49, beside the accuracy ceiling and "
                       "the neuron-count bound. Writes narrow.csv, ratio.csv, narrow.png in --out; "
                       "models already in narrow.csv are not remeasured. Exit 1 if a measurement "
                       "is above its ceiling.")
    n.add_argument("--out", type=Path, default=Path("results/narrow"))
    n.add_argument("--widths", type=_number_list(int), default=[2, 4, 8, 16, 32])
    n.add_argument("--depths", type=_number_list(int), default=[1, 2, 3, 4, 6])
    n.add_argument("--eps-train", type=_number_list(float), default=[0.0, 0.2])
    n.add_argument("--eps", type=_number_list(float),
                   default=[0.01, 0.05, 0.1, 0.2, 0.3, 0.35, 0.4, 0.45, 0.49])
    n.add_argument("--seeds", type=_number_list(int), default=[1, 2, 3])
    n.add_argument("--images", type=int, default=10000)
    n.add_argument("--rtl-models", type=_name_list, default=[],
                   help="instead of the sweep: run these narrow models (e.g. mlp-32x1-w1a1-eps0.2) "
                   "on the RTL backend (Verilator) beside the sim; writes OUT/rtl.csv, exit 1 if "
                   "any logits differ")
    n.add_argument("--rtl-eps", type=_number_list(float), default=[0.4, 0.49])
    n.add_argument("--rtl-seeds", type=_number_list(int), default=[1])
    n.add_argument("--rtl-images", type=int, default=200)

    m = sub.add_parser("mean-field", help="accuracy predictors vs the accelerator, same images (§5.5)",
                       description="For each model and eps on the first --images MNIST test images: "
                       "the software accelerator's accuracy beside Monte Carlo i.i.d. flips, the "
                       "analytic correlated mean field and its diagnostics. Writes "
                       "OUT/MODEL/mean_field.csv.")
    m.add_argument("--models", nargs="+", default=["tfc-w1a1", "sfc-w1a1"])
    m.add_argument("--images", type=int, nargs="+", default=[2000],
                   help="images per model (one value, or one per model)")
    m.add_argument("--diag-images", type=int, default=300,
                   help="images for the Monte Carlo moment diagnostics (memory: images x width^2)")
    m.add_argument("--eps", type=float, nargs="+", default=[0.01, 0.02, 0.05, 0.1])
    m.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    m.add_argument("--draws", type=int, default=200)
    m.add_argument("--out", type=Path, default=Path("results/mean_field"))
    m.add_argument("--build-root", type=Path, default=Path("build/mean_field"))

    r = sub.add_parser("propagation", help="flip gain of trained layers, with a gain penalty (§5.6)",
                       description="Train 784-W-W-W-10 w1a1 MLPs with a flip-gain penalty of each "
                       "weight --lams, then measure the exact gains, per-layer flip rates and "
                       "accuracy under i.i.d. flips. Writes OUT/propagation.csv.")
    r.add_argument("--lams", type=float, nargs="+", default=[0.0, 1.0, 10.0])
    r.add_argument("--eps-design", type=float, default=0.05)
    r.add_argument("--eps", type=float, nargs="+", default=[0.0, 0.01, 0.02, 0.05, 0.1, 0.2])
    r.add_argument("--images", type=int, default=2000)
    r.add_argument("--draws", type=int, default=100)
    r.add_argument("--epochs", type=int, default=2)
    r.add_argument("--width", type=int, default=64)
    r.add_argument("--out", type=Path, default=Path("results/propagation"))

    g = sub.add_parser("geometry", help="binarization angles of latent weights (§7)",
                       description="Per quantized layer of each checkpoint with latent weights: the "
                       "angle between latent rows and their binarization, and the correlation of "
                       "real and binarized dot products on test images. Writes --out (CSV).")
    g.add_argument("checkpoints", nargs="+", type=Path)
    g.add_argument("--images", type=int, default=2000)
    g.add_argument("--out", type=Path, default=Path("results/geometry/geometry.csv"))

    c = sub.add_parser("crashed", help="worst split of a total of crashed neurons (§6.1)",
                       description="For each total of faulty hidden neurons: the FEP bound over "
                       "every split, the certified robust fraction, and measured accuracy with "
                       "random placements (stuck0 and stuck1). Writes --out (CSV).")
    c.add_argument("--model", type=Path, default=Path("models/tfc-w1a1.pt"))
    c.add_argument("--totals", type=int, nargs="+", default=[1, 2, 4, 8])
    c.add_argument("--images", type=int, default=1000)
    c.add_argument("--draws", type=int, default=20)
    c.add_argument("--out", type=Path, default=Path("results/crashed/crashed.csv"))
