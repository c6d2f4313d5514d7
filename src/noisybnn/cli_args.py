"""Arguments of the subcommands whose implementations live in experiments/ and report/."""

from __future__ import annotations

from noisybnn.validation import float_arg, int_arg, probability_arg

#: Seeds a command line may ask for as a count (1..N); more is refused before any allocation.
MAX_SEED_COUNT = 1_000_000


def add_sweep_args(s) -> None:
    s.add_argument("--models", default="tfc-w1a1", help="comma-separated model names or build dirs")
    s.add_argument("--board", default="pynq-z2")
    s.add_argument("--backend", default="sim", choices=["sim", "pynq"])
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
