#!/usr/bin/env python
"""Where the software accelerator's CPU time goes, per image, kernel by kernel.

    python bench/sim_breakdown.py bitstreams/pynq-z2/lfc-w1a1 [--images 10000] [--runs 5]

Runs the sim on the first MNIST test images with every injector on (flip, p = 0.01), each run
on a fresh seed (cold: the stream is drawn), and adds up `time.process_time` (CPU seconds of
this process, robust where other jobs share the cores) spent in each kernel of
`noisybnn.backends.kernels`; the rest is Python and numpy glue. One thread.
"""

from __future__ import annotations

import argparse
import collections
import os
import time

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

#: The kernels the sim calls per block (wrapped to time them).
KERNELS = ("threshold_pack", "xnor_fire_packed", "flip_masks", "xor_masks",
           "xnor_matches_packed", "lane_stream_into", "sample_masks", "xnor_matches")


def main(argv: list[str] | None = None) -> int:
    import numpy as np

    from noisybnn import data
    from noisybnn.backends import NoiseSetting, kernels, load

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("build", help="build directory (with dataflow_python.onnx)")
    ap.add_argument("--images", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--p", type=float, default=0.01)
    args = ap.parse_args(argv)
    acc = load("sim", args.build)
    x = np.ascontiguousarray(data.load("mnist", "test")[0][: args.images])
    acc.configure_noise(NoiseSetting(mode="flip", p=args.p, seed=1))
    acc.execute(x[:100])  # untimed: load the compiled kernels
    spent: dict[str, float] = collections.defaultdict(float)

    def timed(name, fn):
        def run(*a, **kw):
            c0 = time.process_time()
            try:
                return fn(*a, **kw)
            finally:
                spent[name] += time.process_time() - c0
        return run

    for name in KERNELS:
        setattr(kernels, name, timed(name, getattr(kernels, name)))
    total = 0.0
    for r in range(args.runs):
        acc.configure_noise(NoiseSetting(mode="flip", p=args.p, seed=100 + r))
        c0 = time.process_time()
        acc.execute(x)
        total += time.process_time() - c0
    n = args.runs * len(x)
    print(f"{args.build}: {total / n * 1e6:.2f} us of CPU per image ({n / total:,.0f} images per "
          f"CPU second), {args.runs} cold runs x {len(x)} images, flip p = {args.p}")
    for name, secs in sorted(spent.items(), key=lambda kv: -kv[1]):
        print(f"  {name:22s} {secs / n * 1e6:7.3f} us/image  {100 * secs / total:5.1f} %")
    rest = total - sum(spent.values())
    print(f"  {'rest (Python, numpy)':22s} {rest / n * 1e6:7.3f} us/image  {100 * rest / total:5.1f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
