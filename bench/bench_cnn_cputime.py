#!/usr/bin/env python
"""CPU-time images/s of sim, Brevitas and FINN python execution for one CNN build, side by side.

    python bench/bench_cnn_cputime.py BUILD_DIR [--sim 1000] [--brevitas 200] [--finn 10]

One thread each, injectors on (flip p=0.01, seed 1), timed with `time.process_time` (the CPU
time of this process), so the figures hold on a shared machine where `bench_backends.py`'s
wall-clock figures swing with other processes' load; best of 3 rounds for sim and Brevitas, one
FINN run (image by image, `compile.parity.finn_runs`), whose logits are checked equal to sim
run image by image.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def _cpu(fn) -> tuple[float, object]:
    t0 = time.process_time()
    out = fn()
    return time.process_time() - t0, out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("build")
    ap.add_argument("--sim", type=int, default=1000)
    ap.add_argument("--brevitas", type=int, default=200)
    ap.add_argument("--finn", type=int, default=10)
    args = ap.parse_args(argv)

    import torch
    from qonnx.core.modelwrapper import ModelWrapper
    from threadpoolctl import threadpool_limits

    import noisybnn.compile  # noqa: F401  registers the NoiseInjector op
    from noisybnn import data
    from noisybnn.backends import NoiseSetting
    from noisybnn.backends.sim import SimAccelerator
    from noisybnn.compile import ConfigureNoiseInjectors
    from noisybnn.compile.parity import finn_runs
    from noisybnn.train import images_to_tensor, load_checkpoint

    torch.set_num_threads(1)
    threadpool_limits(1)
    bdir = Path(args.build)
    twin = bdir / "dataflow_python.onnx"
    x = data.load("mnist", "test")[0]
    sim = SimAccelerator(twin)
    sim.configure_noise(NoiseSetting(p=0.01, seed=99))
    sim.execute(x[:20])  # loads the compiled kernels
    net, _ = load_checkpoint(json.loads((bdir / "manifest.json").read_text())["checkpoint"])
    net.eval()
    net.set_eval_noise(0.01, seed=1, source="injector")
    for layer, st in zip(net.noise_layers, sim.injector_stages, strict=True):
        layer.pe = st.params["pe"]

    def brevitas(imgs):
        net.reset_noise()
        with torch.no_grad():
            return net.integer_logits(images_to_tensor(imgs)).numpy()

    def sim_run(imgs, seed):
        sim.configure_noise(NoiseSetting(p=0.01, seed=seed))
        return sim.execute(imgs)

    brevitas(x[:8])
    best = {"sim": float("inf"), "brevitas": float("inf")}
    for r in range(3):
        best["sim"] = min(best["sim"], _cpu(lambda r=r: sim_run(x[: args.sim], 1 + 1000 * r))[0])
        best["brevitas"] = min(best["brevitas"], _cpu(lambda: brevitas(x[: args.brevitas]))[0])
    finn_model = ModelWrapper(str(twin)).transform(ConfigureNoiseInjectors(p=0.01, seed=1))
    best["finn"], (finn_logits, _) = _cpu(lambda: finn_runs(finn_model, x[: args.finn]))
    sim_each = np.concatenate([sim_run(img[None], 1) for img in x[: args.finn]])
    ips = {k: n / best[k] for k, n in (("sim", args.sim), ("brevitas", args.brevitas),
                                       ("finn", args.finn))}
    print(f"CPU-time images/s, 1 thread, injectors on: sim {ips['sim']:,.0f}, Brevitas "
          f"{ips['brevitas']:,.0f}, FINN python {ips['finn']:,.1f}; sim/FINN "
          f"{ips['sim'] / ips['finn']:,.0f}x, sim/Brevitas {ips['sim'] / ips['brevitas']:.1f}x; "
          f"FINN = sim image by image: {np.array_equal(finn_logits, sim_each)}")
    return 0 if np.array_equal(finn_logits, sim_each) else 1


if __name__ == "__main__":
    raise SystemExit(main())
