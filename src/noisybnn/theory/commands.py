"""The `noisybnn theory` commands: the figures in docs/theory.md.

noisybnn theory tightness --networks 1000 --seed 0   # exact vs ceilings, §3
noisybnn theory tradeoff --target 0.9 --classes 10    # least widths, §4
noisybnn theory predict --checkpoint models/tfc-w1a1.pt
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict


def _tightness(args: argparse.Namespace) -> int:
    from noisybnn.theory.exact import summarize, tightness_study

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
    import numpy as np

    from noisybnn.theory.bounds import min_width, tradeoff_curve

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


def _predict(args: argparse.Namespace) -> int:
    import numpy as np

    from noisybnn import data
    from noisybnn.theory.bounds import accuracy_ceiling
    from noisybnn.theory.faults import certified_robust_fraction, fep_bound, fep_robust_fraction
    from noisybnn.theory.geometry import activation_angles
    from noisybnn.theory.network import forward, load_mlp_checkpoint, simulate_noisy
    from noisybnn.theory.propagation import flip_gain, mean_field_flip_rates, predict_accuracy

    layers = load_mlp_checkpoint(args.checkpoint)
    x, y = data.load(args.dataset, "test")
    x = np.where(x.reshape(len(x), -1) / 255.0 >= 0.5, 1.0, -1.0)
    y = y.astype(np.int64)
    clean = np.mean(forward(layers, x).prediction == y)
    print(f"clean accuracy (all {len(y)} test images): {clean:.4f}")
    x, y = x[: args.samples], y[: args.samples]
    widths = [layer.n_out for layer in layers[:-1]]
    gains = np.round(flip_gain(layers, x), 2)
    print(f"widths {widths}, {args.samples} samples; flip gain per layer {gains}")
    h = x
    for i, layer in enumerate(layers[:-1]):
        pre = h @ layer.w_float.T - layer.thresholds
        angle = activation_angles(pre).mean()
        print(f"layer {i}: mean angle between pre-activation and its sign {angle:.1f} deg")
        h = np.where(pre >= 0, 1.0, -1.0)
    print(
        "| eps | sim rates | mean-field rates | sim acc | predicted | pure mean field | ceiling |"
    )
    print("|---|---|---|---|---|---|---|")
    for eps in args.eps:
        t0 = time.process_time()
        sim = simulate_noisy(layers, x, y, eps, n_draws=args.draws, seed=1)
        t1 = time.process_time()
        rates = np.round([r.mean() for r in mean_field_flip_rates(layers, x, eps)], 4).tolist()
        t2 = time.process_time()
        acc = predict_accuracy(layers, x, y, eps)
        t3 = time.process_time()
        acc0 = predict_accuracy(layers, x, y, eps, exact_tail=0)
        ceil = float(accuracy_ceiling(widths, eps, layers[-1].n_classes))
        sim_rates = np.round(sim.layer_flip_rates, 4).tolist()
        print(
            f"| {eps:g} | {sim_rates} | {rates} | {sim.accuracy:.4f} | {acc:.4f} | {acc0:.4f} "
            f"| {ceil:.4f} |  <!-- cpu s: sim {t1 - t0:.1f}, mean field {t2 - t1:.1f}, "
            f"predictor {t3 - t2:.1f} -->"
        )
    print()
    print("| stuck per layer | FEP logit bound | FEP fraction | certified | measured min / mean |")
    print("|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    for f in args.faults:
        crashed = [int(c) for c in f.split(",")]
        accs = []
        for _ in range(args.placements):
            stuck = []
            for n, k in zip(widths, crashed, strict=True):
                s = np.zeros(n)
                s[rng.choice(n, size=k, replace=False)] = rng.choice([-1.0, 1.0], size=k)
                stuck.append(s)
            accs.append(np.mean(forward(layers, x, stuck=stuck).prediction == y))
        fep = fep_bound(layers, crashed)
        fep_frac = fep_robust_fraction(layers, x, y, crashed)
        cert = certified_robust_fraction(layers, x, y, crashed)
        print(
            f"| {crashed} | {fep:g} | {fep_frac:.4f} | {cert:.4f} "
            f"| {min(accs):.4f} / {np.mean(accs):.4f} |"
        )
    return 0


#: `noisybnn theory FIGURE` -> its handler (the parser is in noisybnn.cli).
HANDLERS = {"tightness": _tightness, "tradeoff": _tradeoff, "predict": _predict}
