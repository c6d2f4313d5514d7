"""Speed of the three executable levels of one model, side by side, with their outputs compared.

* ``sim``: the software accelerator (`noisybnn.backends.sim`), the sweep's default backend;
* ``finn``: FINN/qonnx python execution of the same twin (`compile.execute.execute_batched`),
  injectors configured with `ConfigureNoiseInjectors`;
* ``brevitas``: the checkpoint in PyTorch on the CPU, noise from the injector reference
  (``source="injector"``) with each layer's PE taken from the twin.

All three run the same images with the injectors on (flip, probability p, one seed) from a fresh
run, so their integer logits must be identical; the bench checks that. FINN python execution is
slow, so it runs on the first `finn_images` images only; sim and Brevitas are timed on that batch
too (the sim/FINN ratio compares equal batches) and on all `n_images`.

Optionally it times a full sweep on sim (20 eps x 5 seeds x n_images by default), a
*baseline* sim (the software accelerator of another git revision, e.g. ``main``, loaded side by
side in the same rounds, so a before/after comparison is one run on one machine load), and the
machine's popcount ceiling: a pure XOR+popcount loop over cache-resident uint64 words (timed in
the same rounds), divided by the model's words per image (neurons x 64-bit words of every XNOR
layer) - an upper bound on the images/s of any XNOR kernel compiled the same way.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from noisybnn.errors import ConfigError
from noisybnn.experiments.measure import limit_blas_threads
from noisybnn.experiments.sweep import resolve_model

#: The sweep the bench times: 20 eps values (0 .. 0.095), 5 seeds.
SWEEP_EPS = tuple(round(0.005 * i, 3) for i in range(20))
SWEEP_SEEDS = (1, 2, 3, 4, 5)


def _best(fn, repeats: int) -> tuple[float, object]:
    """(best wall time of `repeats` calls, last result)."""
    best, out = float("inf"), None
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _injector_pes(twin: Path) -> dict[int, int]:
    """{layer_index: PE} of the injectors in the twin (the PE decides the lane of each neuron)."""
    import onnx
    from onnx import helper

    out = {}
    for node in onnx.load(str(twin)).graph.node:
        if node.op_type.startswith("NoiseInjector"):
            a = {x.name: helper.get_attribute_value(x) for x in node.attribute}
            out[int(a.get("layer_index", len(out)))] = int(a["PE"])
    return out


def xnor_words_per_image(acc) -> int:
    """64-bit words XOR-popcounted per image: neurons x words of every XNOR layer."""
    return int(sum(s.params["wpacked"].size for s in acc.stages
                   if s.kind == "mvau" and s.params.get("xnor")))


def ips_of(fig: dict) -> float:
    return fig["images_per_s"]


def _figure(n: int, seconds: float) -> dict:
    return {"images": n, "seconds": round(seconds, 4), "images_per_s": round(n / seconds, 1)}


def run_bench(
    model: str = "tfc-w1a1",
    board: str = "pynq-z2",
    n_images: int = 10000,
    finn_images: int = 10000,
    p: float = 0.01,
    seed: int = 1,
    out: str | os.PathLike | None = "results/bench.json",
    sweep: bool = True,
    repeats: int = 7,
    threads: int | None = 1,
    progress: bool = True,
    baseline: str | None = None,
    ceiling: bool = True,
) -> dict:
    """Time sim, FINN python execution and Brevitas on one model; check their outputs agree.

    Args:
        model: build directory or model name (compiled on demand, as for sweeps).
        n_images: images for sim and Brevitas (the first of the MNIST test split).
        finn_images: images for FINN python execution (slow), and the common batch.
        p, seed: flip probability of every injector, master seed.
        out: JSON file for the figures (None: do not save).
        sweep: also time a sim sweep of 20 eps x 5 seeds x n_images.
        repeats: rounds of sim and Brevitas runs, interleaved; best of each (FINN runs once).
        threads: BLAS and torch threads for all three (None: leave the defaults).
        baseline: git revision whose sim is timed beside this one (cold), e.g. "main".
        ceiling: also time the pure XOR+popcount loop (the machine's popcount ceiling).

    Returns:
        The figures, as saved in `out`.
    """
    import torch

    import noisybnn.compile  # noqa: F401  registers the NoiseInjector op with FINN
    from noisybnn import data
    from noisybnn.backends import NoiseSetting, load
    from noisybnn.compile import ConfigureNoiseInjectors
    from noisybnn.compile.execute import execute_batched
    from noisybnn.compile.paths import python_model_path
    from noisybnn.train import images_to_tensor, load_checkpoint

    if finn_images > n_images:
        raise ConfigError(f"finn_images ({finn_images}) must be <= n_images ({n_images})")
    bdir, manifest, _ = resolve_model(model, "sim", board)
    twin = python_model_path(bdir)
    x_all, _ = data.load("mnist", "test")
    x = np.ascontiguousarray(x_all[:n_images])
    xf = x[:finn_images]
    torch_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    res: dict = {
        "model": manifest["model"], "build_dir": str(bdir),
        "build_sha256": manifest.get("python_model_sha256"), "p": p, "seed": seed,
        "n_images": n_images, "finn_images": finn_images, "threads": threads,
        "machine": {"cpus": os.cpu_count(), "load_avg": os.getloadavg(),
                    "python": platform.python_version(), "numpy": np.__version__,
                    "torch": torch.__version__},
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    try:
        with limit_blas_threads(threads):
            acc = load("sim", bdir)
            # numba loads its compiled kernels (disk cache) on first use: warm up on another
            # seed, untimed, as any long-lived process (a sweep) is warm
            t0 = time.perf_counter()
            acc.configure_noise(NoiseSetting(mode="flip", p=p, seed=seed + 10_000))
            acc.execute(x[:64])
            warmup = time.perf_counter() - t0
            fresh_seeds = iter(range(seed + 20_000, seed + 40_000))

            def sim_run(imgs, run_seed, acc=acc):
                acc.configure_noise(NoiseSetting(mode="flip", p=p, seed=run_seed))
                return acc.execute(imgs)

            base_acc = None
            if baseline is not None:
                from noisybnn.experiments.bench_baseline import BaselineSim

                base_acc = BaselineSim(baseline, twin, x, Path(tempfile.mkdtemp(
                    prefix="noisybnn-baseline-")), threads)
                base_acc.run(64, "flip", p, seed + 10_000)  # untimed: compile/load its kernels
                res["baseline"] = {"rev": baseline, "commit": base_acc.commit,
                                   "kernel": base_acc.kernel,
                                   "note": "the revision's src/noisybnn (git archive) in a "
                                           "child process, timed there, interleaved with "
                                           "this sim's rounds"}
            if ceiling:
                from noisybnn.backends import kernels

                kernels.popcount_loop(64, 1)  # untimed: load the compiled loop
                words_per_image = xnor_words_per_image(acc)

            net, _ = load_checkpoint(manifest["checkpoint"])
            pes = _injector_pes(twin)
            net.set_eval_noise(p, seed=seed, source="injector")
            for i, layer in enumerate(net.noise_layers):
                layer.pe = pes.get(i, 1)

            def brevitas_run(imgs):
                net.reset_noise()
                with torch.no_grad():
                    return np.rint(net.integer_logits(images_to_tensor(imgs)).numpy()).astype(
                        np.int64)

            brevitas_run(x[:64])  # torch's first call allocates and dispatches: untimed
            # Rounds: each round runs every measured case once, so all cases see the same
            # machine load; each figure is the best of `repeats` rounds. Cold sim runs draw a
            # stream never drawn before (round 0: `seed`, whose outputs are compared).
            batches = {"all": x} if finn_images == n_images else {"all": x, "finn_batch": xf}
            best: dict = {}
            cpu: dict = {}  # CPU seconds of the process: robust where other jobs share the cores
            outs: dict = {}

            def record(case, fn, *args):
                c0, t0 = time.process_time(), time.perf_counter()
                out = fn(*args)
                best[case] = min(best.get(case, float("inf")), time.perf_counter() - t0)
                cpu[case] = min(cpu.get(case, float("inf")), time.process_time() - c0)
                outs.setdefault(case, out)

            for r in range(max(1, repeats)):
                for name, imgs in batches.items():
                    run_seed = seed if r == 0 else next(fresh_seeds)
                    record(("sim_cold", name), sim_run, imgs, run_seed)
                    record(("sim_warm", name), sim_run, imgs, seed)  # stream cached
                    record(("brevitas", name), brevitas_run, imgs)
                    if base_acc is not None:  # timed in its own process
                        got = base_acc.run(len(imgs), "flip", p, run_seed + 50_000)
                        case = ("base_cold", name)
                        best[case] = min(best.get(case, float("inf")), got["wall"])
                        cpu[case] = min(cpu.get(case, float("inf")), got["cpu"])
                if ceiling:  # the pure loop's own time; best of the rounds, like the others
                    done, secs = kernels.popcount_loop()
                    best["popcount"] = min(best.get("popcount", float("inf")), secs / done)
            fb = "all" if finn_images == n_images else "finn_batch"
            sim_all, sim_f = outs[("sim_cold", "all")], outs[("sim_cold", fb)]
            brev_all, brev_f = outs[("brevitas", "all")], outs[("brevitas", fb)]
            sim_run(x, seed)
            res["sim"] = {"cold": _figure(n_images, best[("sim_cold", "all")]),
                          "warm": _figure(n_images, best[("sim_warm", "all")]),
                          "cold_finn_batch": _figure(finn_images, best[("sim_cold", fb)]),
                          "warm_finn_batch": _figure(finn_images, best[("sim_warm", fb)]),
                          "flip_counts": acc.flip_counts(), "kernel": getattr(acc, "kernel", None),
                          "warmup_seconds": round(warmup, 3)}
            res["brevitas"] = {"all": _figure(n_images, best[("brevitas", "all")]),
                               "finn_batch": _figure(finn_images, best[("brevitas", fb)])}
            if base_acc is not None:
                # logits and flip counts of both on one seed (the timed runs use other seeds),
                # and with the injectors off; a revision with another injector stream (v1)
                # flips other neurons, so only its clean logits must agree
                got = base_acc.run(n_images, "flip", p, seed + 70_000, logits=True)
                new_same = sim_run(x, seed + 70_000)
                same_stream = [int(c) for c in got["flips"]] == acc.flip_counts()
                off = base_acc.run(n_images, "off", logits=True)
                acc.configure_noise(NoiseSetting(mode="off"))
                new_off = acc.execute(x)
                res["baseline"].update(
                    cold=_figure(n_images, best[("base_cold", "all")]),
                    cold_finn_batch=_figure(finn_images, best[("base_cold", fb)]),
                    identical_to_sim=bool(np.array_equal(got["logits"], new_same)
                                          and same_stream),
                    same_stream=bool(same_stream),
                    identical_off=bool(np.array_equal(off["logits"], new_off)),
                    flip_counts=got["flips"])
                base_acc.close()
            if ceiling:
                words_per_s = 1.0 / best["popcount"]
                res["popcount_ceiling"] = {
                    "words_per_s": round(words_per_s, 1),
                    "xnor_words_per_image": words_per_image,
                    "images_per_s": round(words_per_s / words_per_image, 1),
                    "sim_fraction": round(ips_of(res["sim"]["cold"]) * words_per_image
                                          / words_per_s, 3),
                    "note": "pure XOR+popcount of L1-resident uint64 words (numba, same compiler "
                            "as the kernels), best of the rounds; images/s = words/s / words "
                            "per image (neurons x 64-bit words of every XNOR layer)"}

            # --- FINN python execution (slow: one run) ----------------------------------------
            from qonnx.core.modelwrapper import ModelWrapper

            from noisybnn.compile.finn_env import prepare_finn

            prepare_finn()  # FINN's settings and ops, as a build does (a build directory given)
            import finn.custom_op.fpgadataflow.rtl  # noqa: F401  declares Reshape & co. (a build
            # imports them on the way; a build directory given to the bench does not)

            finn_model = ModelWrapper(str(twin)).transform(
                ConfigureNoiseInjectors(mode="flip", p=p, seed=seed))
            c0 = time.process_time()
            t_finn, finn_f = _best(lambda: execute_batched(finn_model, xf, batch=finn_images), 1)
            res["finn"] = _figure(finn_images, t_finn)
            cpu["finn"] = time.process_time() - c0
            res["cpu_images_per_s"] = {
                "sim": round(n_images / cpu[("sim_cold", "all")], 1),
                "sim_finn_batch": round(finn_images / cpu[("sim_cold", fb)], 1),
                "brevitas": round(n_images / cpu[("brevitas", "all")], 1),
                "finn": round(finn_images / cpu["finn"], 1),
                **({"baseline": round(n_images / cpu[("base_cold", "all")], 1)}
                   if base_acc is not None else {}),
                "note": "images per CPU second of this process (time.process_time, best of the "
                        "rounds; FINN one run): what each level costs, whatever else runs on "
                        "the machine; the wall-clock figures above are what a user waits"}
    finally:
        torch.set_num_threads(torch_threads)

    # --- agreement and ratios --------------------------------------------------------------
    def mismatched(a, b) -> int:
        return int(np.any(np.asarray(a) != np.asarray(b), axis=1).sum())

    res["identical"] = {
        "sim_vs_finn": mismatched(sim_f, finn_f) == 0,
        "sim_vs_brevitas": mismatched(sim_all, brev_all) == 0,
        "finn_vs_brevitas": mismatched(finn_f, brev_f) == 0,
        "mismatched_images": {"sim_vs_finn": mismatched(sim_f, finn_f),
                              "sim_vs_brevitas": mismatched(sim_all, brev_all),
                              "finn_vs_brevitas": mismatched(finn_f, brev_f)},
        "note": f"integer logits; FINN on the first {finn_images} images, sim vs Brevitas on "
                f"all {n_images}",
    }
    ips = lambda d: d["images_per_s"]  # noqa: E731
    c = res["cpu_images_per_s"]
    res["cpu_ratios"] = {"sim_over_finn": round(c["sim_finn_batch"] / c["finn"], 1),
                         "sim_over_brevitas": round(c["sim"] / c["brevitas"], 1),
                         **({"baseline_over_brevitas": round(c["baseline"] / c["brevitas"], 1),
                             "sim_over_baseline": round(c["sim"] / c["baseline"], 2)}
                            if "baseline" in c else {})}
    res["ratios"] = {
        "sim_over_finn": round(ips(res["sim"]["cold_finn_batch"]) / ips(res["finn"]), 1),
        "sim_over_finn_warm": round(ips(res["sim"]["warm_finn_batch"]) / ips(res["finn"]), 1),
        "sim_over_brevitas": round(ips(res["sim"]["cold"]) / ips(res["brevitas"]["all"]), 1),
        "sim_over_brevitas_warm": round(ips(res["sim"]["warm"]) / ips(res["brevitas"]["all"]),
                                        1),
        **({"baseline_over_finn": round(ips_of(res["baseline"]["cold_finn_batch"])
                                        / ips_of(res["finn"]), 1),
            "baseline_over_brevitas": round(ips_of(res["baseline"]["cold"])
                                            / ips_of(res["brevitas"]["all"]), 1),
            "sim_over_baseline": round(ips_of(res["sim"]["cold"])
                                       / ips_of(res["baseline"]["cold"]), 2)}
           if "baseline" in res else {}),
        "note": "cold: every timed sim run draws an LFSR stream never drawn before (as FINN and "
                "Brevitas do on every run), compiled kernels loaded; warm: the seed of the last "
                "run again, as in a sweep over eps at a fixed seed (samples cached where an "
                "injector keeps them; fc injectors on packed words draw their masks anyway)",
    }

    if sweep:
        from noisybnn.experiments.grid import SweepSpec
        from noisybnn.experiments.sweep import run_sweep

        spec = SweepSpec(models=[str(bdir)], eps=SWEEP_EPS, seeds=SWEEP_SEEDS, n_images=n_images)
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            df = run_sweep(spec, Path(tmp) / "bench_sweep.csv", progress=progress,
                           blas_threads=threads)
            dt = time.perf_counter() - t0
        res["sweep"] = {"points": len(df), "eps": len(SWEEP_EPS), "seeds": len(SWEEP_SEEDS),
                        "images_per_point": n_images, "seconds": round(dt, 2),
                        "seconds_per_point": round(dt / len(df), 4),
                        "images_per_s": round(len(df) * n_images / dt, 1),
                        "note": "serial, backend sim, includes validation and writing the table"}

    if out is not None:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp_out = out.with_name(out.name + ".tmp")
        tmp_out.write_text(json.dumps(res, indent=2) + "\n")
        os.replace(tmp_out, out)
        res["out"] = str(out)
    return res


def format_bench(res: dict) -> str:
    """A readable summary of `run_bench`'s figures."""
    s, f, b, r = res["sim"], res["finn"], res["brevitas"], res["ratios"]
    n, nf = res["n_images"], res["finn_images"]
    lines = [
        f"{res['model']}, injectors on (flip p={res['p']}, seed {res['seed']}), "
        f"threads={res['threads']}, {res['machine']['cpus']} CPUs, "
        f"load {res['machine']['load_avg'][0]:.1f}",
        f"{'level':34s} {'images':>7s} {'seconds':>9s} {'images/s':>11s}",
        f"{'sim (cold: draws the stream)':34s} {n:7d} {s['cold']['seconds']:9.3f} "
        f"{s['cold']['images_per_s']:11,.0f}",
        f"{'sim (warm: same seed again)':34s} {n:7d} {s['warm']['seconds']:9.3f} "
        f"{s['warm']['images_per_s']:11,.0f}",
        f"{'brevitas (CPU)':34s} {n:7d} {b['all']['seconds']:9.3f} "
        f"{b['all']['images_per_s']:11,.0f}",
    ]
    if nf != n:
        lines += [
            f"{'sim (cold)':34s} {nf:7d} {s['cold_finn_batch']['seconds']:9.3f} "
            f"{s['cold_finn_batch']['images_per_s']:11,.0f}",
            f"{'brevitas (CPU)':34s} {nf:7d} {b['finn_batch']['seconds']:9.3f} "
            f"{b['finn_batch']['images_per_s']:11,.0f}",
        ]
    lines += [
        f"{'FINN python execution':34s} {nf:7d} {f['seconds']:9.3f} {f['images_per_s']:11,.1f}",
        f"sim/FINN: {r['sim_over_finn']:,}x (warm {r['sim_over_finn_warm']:,}x, on {nf} images); "
        f"sim/Brevitas: {r['sim_over_brevitas']:,}x (warm {r['sim_over_brevitas_warm']:,}x, "
        f"on {n} images)",
    ]
    if "baseline" in res:
        bl = res["baseline"]
        lines += [
            f"{'baseline sim ' + bl['rev'] + ' @' + bl['commit'][:8] + ' (cold)':34s} {n:7d} "
            f"{bl['cold']['seconds']:9.3f} {bl['cold']['images_per_s']:11,.0f}",
            f"baseline/FINN: {r['baseline_over_finn']:,}x; baseline/Brevitas: "
            f"{r['baseline_over_brevitas']:,}x; sim/baseline: {r['sim_over_baseline']}x; "
            + (f"logits and flip counts {'IDENTICAL' if bl['identical_to_sim'] else 'DIFFER'} "
               "(one seed, all images)" if bl.get("same_stream", True) else
               "another injector stream (flip counts differ); logits with the injectors off "
               + ("IDENTICAL" if bl.get("identical_off") else "DIFFER")),
        ]
    if "cpu_ratios" in res:
        cr = res["cpu_ratios"]
        lines.append("per CPU second: " + ", ".join(
            f"{k.replace('_over_', '/')} {v:,}x" for k, v in cr.items()))
    if "popcount_ceiling" in res:
        pc = res["popcount_ceiling"]
        lines.append(f"popcount ceiling: {pc['words_per_s'] / 1e9:.2f} G words/s (pure XOR+popcount"
                     f" loop) / {pc['xnor_words_per_image']:,} words per image = "
                     f"{pc['images_per_s']:,.0f} images/s; sim cold reaches "
                     f"{100 * pc['sim_fraction']:.0f} %")
    ident = res["identical"]
    same = ident["sim_vs_finn"] and ident["sim_vs_brevitas"] and ident["finn_vs_brevitas"]
    lines.append(
        ("outputs IDENTICAL (integer logits): " if same else "outputs DIFFER: ")
        + ", ".join(f"{k} {v} mismatched images" for k, v in ident["mismatched_images"].items())
        + f" ({ident['note']})"
    )
    if "sweep" in res:
        w = res["sweep"]
        lines.append(f"sweep on sim: {w['eps']} eps x {w['seeds']} seeds x {w['images_per_point']} "
                     f"images = {w['points']} points in {w['seconds']} s "
                     f"({w['seconds_per_point']} s/point, {w['images_per_s']:,.0f} images/s)")
    if "out" in res:
        lines.append(f"saved {res['out']}")
    return "\n".join(lines)


def format_summary(results: list[dict]) -> str:
    """One line per model: images/s of each level side by side, the ratios, the ceiling."""
    head = (f"{'model':10s} {'sim':>10s} {'baseline':>10s} {'Brevitas':>9s} {'FINN':>7s} "
            f"{'sim/FINN':>9s} {'sim/Brev':>9s} {'base/Brev':>9s} {'sim/base':>8s} "
            f"{'ceiling':>10s} {'of ceil':>7s}")
    lines = ["images/s (cold, injectors on, same images and rounds per model)", head]
    for res in results:
        r, bl, pc = res["ratios"], res.get("baseline"), res.get("popcount_ceiling")
        lines.append(
            f"{res['model']:10s} {ips_of(res['sim']['cold']):10,.0f} "
            f"{ips_of(bl['cold']) if bl else float('nan'):10,.0f} "
            f"{ips_of(res['brevitas']['all']):9,.0f} {ips_of(res['finn']):7,.0f} "
            f"{r['sim_over_finn']:8,.1f}x {r['sim_over_brevitas']:8,.1f}x "
            f"{r.get('baseline_over_brevitas', float('nan')):8,.1f}x "
            f"{r.get('sim_over_baseline', float('nan')):7,.2f}x "
            f"{pc['images_per_s'] if pc else float('nan'):10,.0f} "
            f"{100 * pc['sim_fraction'] if pc else float('nan'):6.0f}%")
    return "\n".join(lines)


def cli_bench(args) -> int:
    """`noisybnn bench` (arguments: noisybnn.cli_options.add_bench_args)."""
    res = run_bench(model=args.model, board=args.board, n_images=args.n_images,
                    finn_images=args.finn_images, p=args.p, out=args.out,
                    sweep=not getattr(args, "no_sweep", False),
                    threads=getattr(args, "threads", 1))
    print(format_bench(res))
    same = all(res["identical"][k] for k in ("sim_vs_finn", "sim_vs_brevitas", "finn_vs_brevitas"))
    return 0 if same else 1
