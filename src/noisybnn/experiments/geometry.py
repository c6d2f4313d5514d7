"""Binarization geometry of trained networks from their latent weights (Anderson & Berg, issue 17).

For each checkpoint that keeps latent float weights (``train.latent_weights``: training
checkpoints, and slim ones written since that key exists), per quantized layer: the angle between
each latent weight row and its binarization (``theory.binarization_angles``; 37 degrees for
Gaussian rows, 30 for uniform ones, which is the initialisation ``U(-1, 1)``), and the Pearson
correlation over test images of the real and binarized dot products with the layer's actual
(binary) inputs (``theory.dot_product_correlation``). Checkpoints without latent weights (shipped
before they were kept) are listed as such. The report's geometry section uses the same
measurement (``latent_geometry``) on each measured model's checkpoint.

    noisybnn study geometry CHECKPOINT... --out results/geometry/geometry.csv
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

COLUMNS = ("checkpoint", "model", "epochs", "layer", "fan_in", "rows", "angle_mean", "angle_std",
           "gaussian_angle", "uniform_angle", "abs_over_rms", "at_clip", "dot_corr_mean",
           "dot_corr_min", "note")


def latent_geometry(path: Path, images: np.ndarray) -> tuple[list[dict], list[np.ndarray]] | str:
    """Per quantized layer of an MLP checkpoint: latent-weight angles and dot-product correlations.

    Returns (rows, per-row angle arrays) or, for a checkpoint that cannot be measured, the reason.
    `images` are uint8 test images; they binarize at 128 (the w1a1 input quantizer) and feed the
    checkpoint's own network, so each layer's dot products are taken with its actual inputs.
    """
    from noisybnn import theory
    from noisybnn.train import latent_weights, load_checkpoint

    _, payload = load_checkpoint(path)
    lat = latent_weights(payload)
    if lat is None:
        return ("no latent weights in this checkpoint (shipped before they were kept): its "
                "weights are already binary, so their angle to their sign is 0 by construction; "
                "retrain to measure")
    if payload["spec"]["arch"] != "mlp":
        return _conv_geometry(path, payload, lat, images)
    h = np.where(np.asarray(images).reshape(len(images), -1) >= 128, 1.0, -1.0)
    tnet = theory.as_network(theory.load_mlp_checkpoint(path))
    inputs = [h] + theory.forward(tnet, h).hidden
    names = sorted((k for k in lat if k.startswith("features.")), key=lambda k: int(k.split(".")[1]))
    rows, angles = [], []
    for i, key in enumerate([*names, "readout"]):
        w = lat[key].numpy().astype(float)
        ang = theory.binarization_angles(w)
        corr = theory.dot_product_correlation(w, inputs[i])
        rows.append({"epochs": payload.get("epoch"), "layer": key, "fan_in": w.shape[1],
                     "rows": w.shape[0], "angle_mean": float(np.mean(ang)),
                     "angle_std": float(np.std(ang)),
                     "gaussian_angle": float(theory.expected_sign_angle(w.shape[1])),
                     "uniform_angle": 30.0,
                     "abs_over_rms": float(np.mean(np.abs(w)) / np.sqrt(np.mean(w ** 2))),
                     # share of latent weights within 1 % of the clipping bound |w| = 1
                     "at_clip": float(np.mean(np.abs(w) >= 0.99)),
                     "dot_corr_mean": float(np.nanmean(corr)),
                     "dot_corr_min": float(np.nanmin(corr)), "note": ""})
        angles.append(ang)
    return rows, angles


#: Input windows (rows) per conv layer for the dot-product correlation (sampled evenly).
CONV_WINDOWS = 20_000


def _layer_inputs(net, images: np.ndarray) -> dict:
    """The actual (binary) input of every quantized layer of a Brevitas net, by module name."""
    import torch

    from noisybnn.train import _is_quant_layer, images_to_tensor

    seen: dict = {}
    hooks = []
    for name, mod in net.named_modules():
        if _is_quant_layer(mod):
            def hook(_m, args, name=name):
                x = args[0]
                seen[name] = getattr(x, "value", x).detach()
            hooks.append(mod.register_forward_pre_hook(hook))
    try:
        net.eval()
        if hasattr(net, "set_eval_noise"):
            net.set_eval_noise(0.0)
        with torch.no_grad():
            net.integer_logits(images_to_tensor(np.asarray(images).reshape(-1, 28, 28)))
    finally:
        for h in hooks:
            h.remove()
    return seen


def _conv_geometry(path, payload, lat, images):
    """Conv checkpoints: a conv layer's rows are its C_out weight sets (fan-in C_in x kh x kw),
    the same kernel at every pixel; their dot products are taken with the layer's actual input
    windows (im2col of its input map, CONV_WINDOWS of them sampled evenly)."""
    import torch.nn.functional as F  # noqa: N812

    from noisybnn import theory
    from noisybnn.train import load_checkpoint

    net, _ = load_checkpoint(path)
    inputs = _layer_inputs(net, images)
    rows, angles = [], []
    names = [n for n in lat if n in inputs]
    for key in names:
        w4 = lat[key].numpy().astype(float)
        x = inputs[key]
        if w4.ndim == 4:
            cols = F.unfold(x, w4.shape[2:]).transpose(1, 2).reshape(-1, int(np.prod(w4.shape[1:])))
            cols = cols.numpy().astype(float)
            if len(cols) > CONV_WINDOWS:
                cols = cols[np.linspace(0, len(cols) - 1, CONV_WINDOWS).astype(int)]
            w = w4.reshape(w4.shape[0], -1)
        else:
            w, cols = w4, x.reshape(len(x), -1).numpy().astype(float)
        ang = theory.binarization_angles(w)
        corr = theory.dot_product_correlation(w, cols)
        rows.append({"epochs": payload.get("epoch"), "layer": key, "fan_in": w.shape[1],
                     "rows": w.shape[0], "angle_mean": float(np.mean(ang)),
                     "angle_std": float(np.std(ang)),
                     "gaussian_angle": float(theory.expected_sign_angle(w.shape[1])),
                     "uniform_angle": 30.0,
                     "abs_over_rms": float(np.mean(np.abs(w)) / np.sqrt(np.mean(w ** 2))),
                     "at_clip": float(np.mean(np.abs(w) >= 0.99)),
                     "dot_corr_mean": float(np.nanmean(corr)),
                     "dot_corr_min": float(np.nanmin(corr)),
                     "note": (f"conv: {w.shape[0]} weight sets, windows of {len(cols)} "
                              "input positions" if w4.ndim == 4 else "")})
        angles.append(ang)
    return rows, angles


def measure(path: Path, n_images: int = 2000) -> list[dict]:
    """The rows of `study geometry` for one checkpoint (one per layer, or one with a note)."""
    from noisybnn.experiments.sweep import get_data
    from noisybnn.train import load_checkpoint

    _, payload = load_checkpoint(path)
    base = {"checkpoint": str(path), "model": payload["spec"]["name"], "epochs": payload.get("epoch")}
    x, _ = get_data("mnist", "test", n_images)
    got = latent_geometry(path, x)
    if isinstance(got, str):
        return [{**base, "note": got}]
    return [{**base, **r} for r in got[0]]


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
                  f"{r['abs_over_rms']:.3f}, at the clip {100 * r['at_clip']:.1f} %, dot-product corr "
                  f"{r['dot_corr_mean']:.3f}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m noisybnn.experiments.geometry`: the same as `noisybnn study geometry ...`."""
    import sys

    from noisybnn import cli

    return cli.main(["study", "geometry", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    raise SystemExit(main())
