#!/usr/bin/env python
"""Why the software accelerator uses compiled kernels: each kernel choice side by side, one run.

    python bench/bench_kernels.py [--model tfc-w1a1] [--images 10000] [--rounds 7]

Times `SimAccelerator.execute` on the MNIST test images with every injector on (flip, p = 0.01,
a stream never drawn before in each timed run) for:

* ``xnor``: popcount kernels and LFSR stream compiled with numba (the default);
* ``xnor-numpy``: the same popcount arithmetic in numpy, stream still compiled;
* ``gemm``: binary layers as exact float32 GEMM (BLAS, 1 thread), stream still compiled;
* ``numpy only``: what runs where numba is missing (`kernels.AVAILABLE = False`): gemm and the
  numpy stream of `noisybnn.hw.lfsr`.

Rounds are interleaved (each round times every variant once) and the best round is printed, with
the ratio to the default. All variants must give identical logits; the script checks that.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from noisybnn.errors import ConfigError


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="tfc-w1a1", help="model name or build directory")
    ap.add_argument("--board", default="pynq-z2")
    ap.add_argument("--images", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args(argv)

    from noisybnn import data
    from noisybnn.backends import NoiseSetting, kernels
    from noisybnn.backends.sim import SimAccelerator
    from noisybnn.compile_paths import python_model_path
    from noisybnn.experiments.sweep import limit_blas_threads, resolve_model

    if args.rounds < 1:
        raise ConfigError(f"--rounds must be >= 1, got {args.rounds}")
    test_images = data.load("mnist", "test")[0]
    if not 1 <= args.images <= len(test_images):
        raise ConfigError(f"--images must be in 1..{len(test_images)}, got {args.images}")
    x = np.ascontiguousarray(test_images[: args.images])
    bdir, _, _ = resolve_model(args.model, "sim", args.board)
    variants = {"xnor": ("xnor", True), "xnor-numpy": ("xnor-numpy", True),
                "gemm": ("gemm", True), "numpy only": ("gemm", False)}
    accs = {name: SimAccelerator(python_model_path(bdir), kernel=k) for name, (k, _) in variants.items()}
    best = dict.fromkeys(variants, float("inf"))
    outs = {}
    seeds = iter(range(1000, 100000))
    with limit_blas_threads(1):
        for acc in accs.values():  # untimed: load compiled kernels, allocate
            acc.configure_noise(NoiseSetting(mode="flip", p=0.01, seed=next(seeds)))
            acc.execute(x[:64])
        for r in range(args.rounds):
            seed = 1 if r == 0 else next(seeds)
            for name, acc in accs.items():
                compiled = variants[name][1]
                saved = kernels.AVAILABLE
                kernels.AVAILABLE = compiled and saved
                try:
                    acc.configure_noise(NoiseSetting(mode="flip", p=0.01, seed=seed))
                    t0 = time.perf_counter()
                    out = acc.execute(x)
                    best[name] = min(best[name], time.perf_counter() - t0)
                finally:
                    kernels.AVAILABLE = saved
                if r == 0:
                    outs[name] = out
    ref = outs["xnor"]
    same = all(np.array_equal(o, ref) for o in outs.values())
    print(f"{bdir.name}: {len(x)} images, injectors on (p=0.01), best of {args.rounds} "
          f"interleaved rounds, 1 thread")
    print(f"{'variant':12s} {'seconds':>9s} {'images/s':>11s} {'x slower than xnor':>19s}")
    for name, t in best.items():
        print(f"{name:12s} {t:9.4f} {len(x) / t:11,.0f} {t / best['xnor']:19.1f}")
    print("logits IDENTICAL across variants" if same else "logits DIFFER between variants")
    return 0 if same else 1


if __name__ == "__main__":
    from noisybnn.cli import run_reporting_errors

    raise SystemExit(run_reporting_errors("bench_kernels", main))
