#!/usr/bin/env python
"""Images/s of the software accelerator vs FINN python execution vs Brevitas (CPU), one model.

    python bench/bench_backends.py --model tfc-w1a1 --out results/bench.json

Same as `noisybnn bench`; see noisybnn.experiments.bench and docs/experiments.md.
"""

from __future__ import annotations

import argparse
import sys

from noisybnn.experiments.bench import format_bench, run_bench


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="tfc-w1a1", help="model name or build directory")
    ap.add_argument("--board", default="pynq-z2")
    ap.add_argument("--n-images", type=int, default=10000, help="images for sim and Brevitas")
    ap.add_argument("--finn-images", type=int, default=10000,
                    help="images for FINN python execution (slow) and the common batch")
    ap.add_argument("--p", type=float, default=0.01, help="flip probability of every injector")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=7,
                    help="interleaved rounds of sim and Brevitas runs; best of each")
    ap.add_argument("--threads", type=int, default=1,
                    help="BLAS and torch threads for all three levels (0: library defaults)")
    ap.add_argument("--no-sweep", action="store_true",
                    help="skip timing the 20 eps x 5 seeds sweep on sim")
    ap.add_argument("--out", default="results/bench.json")
    args = ap.parse_args(argv)
    res = run_bench(model=args.model, board=args.board, n_images=args.n_images,
                    finn_images=args.finn_images, p=args.p, seed=args.seed, out=args.out,
                    sweep=not args.no_sweep, repeats=args.repeats,
                    threads=args.threads or None)
    print(format_bench(res))
    ident = res["identical"]
    same = ident["sim_vs_finn"] and ident["sim_vs_brevitas"] and ident["finn_vs_brevitas"]
    return 0 if same else 1


if __name__ == "__main__":
    from noisybnn.cli import run_reporting_errors

    sys.exit(run_reporting_errors("bench_backends", main))
