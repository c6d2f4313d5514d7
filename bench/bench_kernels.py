#!/usr/bin/env python
"""Why the software accelerator uses compiled kernels: each kernel choice side by side, one run.

    python bench/bench_kernels.py [--model tfc-w1a1] [--images 10000] [--rounds 7]

The command line of `noisybnn.experiments.bench_kernels.run_kernel_bench` (see its docstring).
"""

from __future__ import annotations

import argparse


def main(argv: list[str] | None = None) -> int:
    from noisybnn.experiments.bench_kernels import format_kernel_bench, run_kernel_bench

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="tfc-w1a1", help="model name or build directory")
    ap.add_argument("--board", default="pynq-z2")
    ap.add_argument("--images", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args(argv)
    res = run_kernel_bench(args.model, args.board, args.images, args.rounds)
    print(format_kernel_bench(res))
    return 0 if res["identical"] else 1


if __name__ == "__main__":
    from noisybnn.cli import run_reporting_errors

    raise SystemExit(run_reporting_errors("bench_kernels", main))
