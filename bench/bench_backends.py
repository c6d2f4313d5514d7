#!/usr/bin/env python
"""Images/s of the software accelerator vs FINN python execution vs Brevitas (CPU), per model.

    python bench/bench_backends.py --model tfc-w1a1 --out results/bench.json
    python bench/bench_backends.py --model tfc-w1a1 sfc-w1a1 lfc-w1a1 --baseline main \
        --no-sweep --out results/bench.json      # one run, several models, old sim beside

Same as `noisybnn bench`; see noisybnn.experiments.bench and docs/experiments.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from noisybnn.experiments.bench import format_bench, format_summary, run_bench


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", nargs="+", default=["tfc-w1a1"],
                    help="model names or build directories (each benched in turn)")
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
    ap.add_argument("--baseline", metavar="REV", default=None,
                    help="also time the sim of git revision REV (e.g. main, or 98cd8f3 for the "
                         "v1 injector) in the same rounds, in a child process of its own")
    ap.add_argument("--no-ceiling", action="store_true",
                    help="skip timing the pure popcount loop (the machine's ceiling)")
    ap.add_argument("--out", default="results/bench.json",
                    help="JSON file; with several models, one file per model (name inserted)")
    args = ap.parse_args(argv)
    ok = True
    summary = []
    for model in args.model:
        out = args.out
        if len(args.model) > 1:
            stem = Path(model).name
            out = str(Path(args.out).with_name(f"{Path(args.out).stem}_{stem}{Path(args.out).suffix}"))
        res = run_bench(model=model, board=args.board, n_images=args.n_images,
                        finn_images=args.finn_images, p=args.p, seed=args.seed, out=out,
                        sweep=not args.no_sweep, repeats=args.repeats,
                        threads=args.threads or None, baseline=args.baseline,
                        ceiling=not args.no_ceiling)
        print(format_bench(res), flush=True)
        ident = res["identical"]
        ok &= ident["sim_vs_finn"] and ident["sim_vs_brevitas"] and ident["finn_vs_brevitas"]
        bl = res.get("baseline", {})
        # the same stream must give the same logits; another stream (v1) the same clean ones
        ok &= bl.get("identical_to_sim", True) if bl.get("same_stream", True) else \
            bl.get("identical_off", True)
        summary.append(res)
    if len(summary) > 1:
        print(format_summary(summary))
    return 0 if ok else 1


if __name__ == "__main__":
    from noisybnn.cli import run_reporting_errors

    sys.exit(run_reporting_errors("bench_backends", main))
