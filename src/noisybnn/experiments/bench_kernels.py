"""Why the software accelerator uses compiled kernels: each kernel choice side by side, one run.

Times `SimAccelerator.execute` on the MNIST test images with every injector on (flip, p = 0.01,
a stream never drawn before in each timed run) for:

* ``xnor``: popcount kernels and LFSR stream compiled with numba (the default);
* ``xnor-numpy``: the same popcount arithmetic in numpy, stream still compiled;
* ``gemm``: binary layers as exact float32 GEMM (BLAS, 1 thread), stream still compiled;
* ``numpy only``: what runs where numba is missing (`kernels.AVAILABLE = False`): gemm and the
  numpy stream of `noisybnn.hw.lfsr`.

Rounds are interleaved (each round times every variant once) and the best round is kept, with
the ratio to the default. All variants must give identical logits; `identical` says whether
they did. `bench/bench_kernels.py` is its command line.
"""

from __future__ import annotations

import time

import numpy as np

from noisybnn.errors import ConfigError

__all__ = ["format_kernel_bench", "run_kernel_bench"]

VARIANTS = {"xnor": ("xnor", True), "xnor-numpy": ("xnor-numpy", True),
            "gemm": ("gemm", True), "numpy only": ("gemm", False)}


def run_kernel_bench(model: str = "tfc-w1a1", board: str = "pynq-z2", images: int = 10000,
                     rounds: int = 7) -> dict:
    """Best seconds per kernel variant over `rounds` interleaved rounds, and whether the logits
    of all variants are identical."""
    from noisybnn import data
    from noisybnn.backends import NoiseSetting, kernels
    from noisybnn.backends.sim import SimAccelerator
    from noisybnn.compile.paths import python_model_path
    from noisybnn.experiments.measure import limit_blas_threads
    from noisybnn.experiments.sweep import resolve_model

    if rounds < 1:
        raise ConfigError(f"--rounds must be >= 1, got {rounds}")
    test_images = data.load("mnist", "test")[0]
    if not 1 <= images <= len(test_images):
        raise ConfigError(f"--images must be in 1..{len(test_images)}, got {images}")
    x = np.ascontiguousarray(test_images[:images])
    bdir, _, _ = resolve_model(model, "sim", board)
    accs = {name: SimAccelerator(python_model_path(bdir), kernel=k)
            for name, (k, _) in VARIANTS.items()}
    best = dict.fromkeys(VARIANTS, float("inf"))
    outs = {}
    seeds = iter(range(1000, 100000))
    with limit_blas_threads(1):
        for acc in accs.values():  # untimed: load compiled kernels, allocate
            acc.configure_noise(NoiseSetting(mode="flip", p=0.01, seed=next(seeds)))
            acc.execute(x[:64])
        for r in range(rounds):
            seed = 1 if r == 0 else next(seeds)
            for name, acc in accs.items():
                saved = kernels.AVAILABLE
                kernels.AVAILABLE = VARIANTS[name][1] and saved
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
    return {"build": bdir.name, "images": len(x), "rounds": rounds, "seconds": best,
            "identical": all(np.array_equal(o, ref) for o in outs.values())}


def format_kernel_bench(res: dict) -> str:
    """The table `bench/bench_kernels.py` prints."""
    best, n = res["seconds"], res["images"]
    lines = [f"{res['build']}: {n} images, injectors on (p=0.01), best of {res['rounds']} "
             "interleaved rounds, 1 thread",
             f"{'variant':12s} {'seconds':>9s} {'images/s':>11s} {'x slower than xnor':>19s}"]
    for name, t in best.items():
        lines.append(f"{name:12s} {t:9.4f} {n / t:11,.0f} {t / best['xnor']:19.1f}")
    lines.append("logits IDENTICAL across variants" if res["identical"]
                 else "logits DIFFER between variants")
    return "\n".join(lines)
