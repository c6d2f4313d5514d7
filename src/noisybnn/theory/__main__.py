"""Command line for the figures in docs/theory.md.

python -m noisybnn.theory tightness --networks 1000 --seed 0   # exact vs ceilings, §3
python -m noisybnn.theory tradeoff --target 0.9 --classes 10    # least widths, §4
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import asdict

import numpy as np

from noisybnn.theory.bounds import min_width, tradeoff_curve
from noisybnn.theory.exact import summarize, tightness_study


def _tightness(args: argparse.Namespace) -> int:
    cases = tightness_study(
        args.networks, args.seed, max_width=args.max_width, max_depth=args.max_depth
    )
    for key, value in summarize(cases).items():
        print(f"{key:40s} {value:.6g}" if isinstance(value, float) else f"{key:40s} {value}")
    if args.csv:
        import pandas as pd

        pd.DataFrame([asdict(c) for c in cases]).to_csv(args.csv, index=False)
    return 0


def _tradeoff(args: argparse.Namespace) -> int:
    depths = list(range(1, args.max_depth + 1)) if args.depths is None else args.depths
    eps_list = args.eps
    print(f"least uniform width, target accuracy {args.target}, {args.classes} classes")
    print("| depth | " + " | ".join(f"eps={e:g}" for e in eps_list) + " |")
    print("|---|" + "---|" * len(eps_list))
    table = np.array([min_width(depths, e, args.target, args.classes) for e in eps_list])
    for j, d in enumerate(depths):
        cells = [("inf" if not np.isfinite(v) else f"{int(v)}") for v in table[:, j]]
        print(f"| {d} | " + " | ".join(cells) + " |")
    print()
    print("necessary total neurons (percolation + per-layer cuts, balanced profiles)")
    print("| depth | " + " | ".join(f"eps={e:g}" for e in eps_list) + " |")
    print("|---|" + "---|" * len(eps_list))
    curves = [tradeoff_curve(depths, e, args.target, args.classes) for e in eps_list]
    for j, d in enumerate(depths):
        cells = [
            "inf" if not np.isfinite(c.min_total_neurons[j]) else f"{int(c.min_total_neurons[j])}"
            for c in curves
        ]
        print(f"| {d} | " + " | ".join(cells) + " |")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: ``python -m noisybnn.theory {tightness,tradeoff} ...``."""
    parser = argparse.ArgumentParser(prog="python -m noisybnn.theory", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("tightness", help="exact enumeration of random tiny networks vs ceilings")
    t.add_argument("--networks", type=int, default=1000, help="random networks (default 1000)")
    t.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    t.add_argument("--max-width", type=int, default=4, help="max neurons per layer (default 4)")
    t.add_argument("--max-depth", type=int, default=3, help="max hidden layers (default 3)")
    t.add_argument("--csv", default=None, help="write one row per network to this CSV file")
    t.set_defaults(func=_tightness)
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
    r.set_defaults(func=_tradeoff)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
