"""Binarization geometry of trained networks from their latent weights (Anderson & Berg, issue 17).

For each checkpoint that keeps latent float weights (``train.latent_weights``: training
checkpoints, and slim ones written since that key exists), per quantized layer: the angle between
each latent weight row and its binarization (``theory.binarization_angles``; 37 degrees for
Gaussian rows, 30 for uniform ones, which is the initialisation ``U(-1, 1)``), and the Pearson
correlation over test images of the real and binarized dot products with the layer's actual
(binary) inputs (``theory.dot_product_correlation``). Checkpoints without latent weights (the
shipped zoo models) are listed as such.

    noisybnn study geometry CHECKPOINT... --out results/geometry/geometry.csv
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

COLUMNS = ("checkpoint", "model", "epochs", "layer", "fan_in", "rows", "angle_mean", "angle_std",
           "gaussian_angle", "uniform_angle", "abs_over_rms", "dot_corr_mean", "dot_corr_min",
           "note")


def measure(path: Path, n_images: int = 2000) -> list[dict]:
    from noisybnn import theory
    from noisybnn.experiments.sweep import get_data
    from noisybnn.train import latent_weights, load_checkpoint

    net, payload = load_checkpoint(path)
    name = payload["spec"]["name"]
    lat = latent_weights(payload)
    base = {"checkpoint": str(path), "model": name, "epochs": payload.get("epoch")}
    if lat is None:
        return [{**base, "note": "no latent weights in this checkpoint (shipped before they were "
                 "kept): retrain to measure"}]
    if payload["spec"]["arch"] != "mlp":
        return [{**base, "note": "only MLPs are measured (conv rows need im2col inputs)"}]
    x, _ = get_data("mnist", "test", n_images)
    h = np.where(x.reshape(len(x), -1) >= 128, 1.0, -1.0)
    tnet = theory.as_network(theory.load_mlp_checkpoint(path))
    inputs = [h] + theory.forward(tnet, h).hidden
    rows = []
    names = sorted((k for k in lat if k.startswith("features.")), key=lambda k: int(k.split(".")[1]))
    for i, key in enumerate([*names, "readout"]):
        w = lat[key].numpy().astype(float)
        ang = theory.binarization_angles(w)
        corr = theory.dot_product_correlation(w, inputs[i])
        rows.append({**base, "layer": key, "fan_in": w.shape[1], "rows": w.shape[0],
                     "angle_mean": float(np.mean(ang)), "angle_std": float(np.std(ang)),
                     "gaussian_angle": float(theory.expected_sign_angle(w.shape[1])),
                     "uniform_angle": 30.0,
                     "abs_over_rms": float(np.mean(np.abs(w)) / np.sqrt(np.mean(w ** 2))),
                     "dot_corr_mean": float(np.nanmean(corr)), "dot_corr_min": float(np.nanmin(corr)),
                     "note": ""})
    return rows


def run_cli(a: argparse.Namespace) -> int:
    """`noisybnn study geometry` (its options: noisybnn.cli_options.add_study_commands)."""
    rows = [r for c in a.checkpoints for r in measure(c, a.images)]
    a.out.parent.mkdir(parents=True, exist_ok=True)
    with a.out.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(COLUMNS))
        w.writeheader()
        w.writerows(rows)
    for r in rows:
        if r.get("note"):
            print(f"{r['model']}: {r['note']}")
        else:
            print(f"{r['model']} {r['layer']}: angle {r['angle_mean']:.1f} +- {r['angle_std']:.1f} "
                  f"deg (Gaussian {r['gaussian_angle']:.1f}, uniform 30.0), E|w|/rms "
                  f"{r['abs_over_rms']:.3f}, dot-product corr {r['dot_corr_mean']:.3f}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m noisybnn.experiments.geometry`: the same as `noisybnn study geometry ...`."""
    import sys

    from noisybnn import cli

    return cli.main(["study", "geometry", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    raise SystemExit(main())
