"""Accuracy of a Brevitas network under neuron flips, over several seeds."""

from __future__ import annotations

import numpy as np
import torch

from noisybnn.errors import ConfigError
from noisybnn.hw import check_probability
from noisybnn.models import BinaryNet
from noisybnn.train import images_to_tensor


def parse_eps_list(text: str) -> list[float]:
    """"0,0.01,0.05" -> [0.0, 0.01, 0.05]; each value checked to be a probability."""
    values = []
    for item in str(text).split(","):
        item = item.strip()
        if not item:
            continue
        try:
            values.append(check_probability(item, "eps"))
        except ValueError as exc:  # noisybnn.hw stays free of package imports (board bundle)
            raise ConfigError(str(exc)) from None
    if not values:
        raise ConfigError(f"no eps values in {text!r}; give a comma-separated list like 0,0.01,0.05")
    return values


def accuracy_under_noise(
    net: BinaryNet,
    images: np.ndarray,
    labels: np.ndarray,
    eps: float,
    seed: int,
    source: str = "torch",
    layers: list[int] | None = None,
    pe: list[int] | None = None,
    batch_size: int = 2000,
) -> float:
    """Top-1 accuracy (%) with every chosen hidden neuron flipping with probability eps.

    `source="injector"` draws the flips from the hardware injector's LFSR stream (bit-exact with
    the accelerator when `pe` gives each injector's PE); "torch" from a seeded torch generator.
    """
    net.eval()
    net.set_eval_noise(eps, layers=layers, seed=seed, source=source)
    if pe is not None:
        if len(pe) != len(net.noise_layers):
            raise ConfigError(f"pe has {len(pe)} entries, the model has {len(net.noise_layers)} "
                             "noisy layers")
        for layer, p in zip(net.noise_layers, pe, strict=True):
            layer.pe = int(p)
    net.reset_noise()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            logits = net.integer_logits(images_to_tensor(images[start : start + batch_size]))
            correct += int((logits.argmax(1).numpy() == labels[start : start + batch_size]).sum())
    net.set_eval_noise(0.0)
    return 100.0 * correct / len(images)


def noise_table(
    net: BinaryNet,
    images: np.ndarray,
    labels: np.ndarray,
    eps_list: list[float],
    seeds: int = 3,
    source: str = "torch",
    layers: list[int] | None = None,
) -> list[dict]:
    """One row per eps: mean and standard deviation of accuracy over `seeds` seeds."""
    if seeds < 1:
        raise ConfigError(f"seeds must be >= 1, got {seeds}")
    rows = []
    for eps in eps_list:
        accs = [accuracy_under_noise(net, images, labels, eps, s, source, layers)
                for s in range(seeds if eps > 0 else 1)]
        rows.append({"eps": eps, "mean": float(np.mean(accs)), "std": float(np.std(accs)),
                     "min": float(np.min(accs)), "max": float(np.max(accs)), "runs": len(accs)})
    return rows


def format_table(rows: list[dict], title: str = "") -> str:
    out = [title] if title else []
    out.append(f"{'eps':>8s} {'accuracy %':>11s} {'± std':>7s} {'min':>7s} {'max':>7s} {'runs':>5s}")
    for r in rows:
        out.append(f"{r['eps']:8.4f} {r['mean']:11.2f} {r['std']:7.2f} {r['min']:7.2f} "
                   f"{r['max']:7.2f} {r['runs']:5d}")
    return "\n".join(out)
