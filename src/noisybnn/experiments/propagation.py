"""Noise propagation design criterion on binary networks (Semenova et al., issue 17).

Small-noise recursion of flip rates: q_l ~ eps + (1 - 2 eps) G_l q_{l-1}, with G_l the mean number
of pivotal inputs of layer l (``theory.flip_gain``). With (1 - 2 eps) G < 1 accumulation is
bounded (q -> eps / (1 - (1 - 2 eps) G)); the trained TFC has G = 3.6 and 2.2 in layers 2 and 3,
the growth regime. Here a 784-64-64-64-10 w1a1 MLP is trained with a differentiable surrogate of
G added to the loss,

    lam * sum_{l >= 2} relu((1 - 2 eps_design) G_hat_l - 1),
    G_hat_l = mean over batch and neurons of (n_in / 2) sigmoid((m_l - |y|) / (m_l / 2)),

where y is the BatchNorm output (the neuron fires iff y >= 0) and m_l = 2 |gamma| / sigma_B is how
far one input flip moves y (a neuron within m_l of its threshold has about n_in / 2 pivotal
inputs). Each trained network is then measured: exact G_l on test images, per-layer flip rates
and accuracy under i.i.d. flips (``theory.simulate_noisy``, bit-exact apart from the noise source)
at several eps. Recipe: 2 epochs of Adam on 55,000 MNIST training images (validation: the last
5,000), seed 0.

    noisybnn study propagation --lams 0 1 10 --out results/propagation
"""

from __future__ import annotations

import argparse
import csv
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

DEFAULT_EPS = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2)
COLUMNS = ("lam", "eps_design", "model", "val_acc", "test_clean", "gain", "criterion",
           "eps", "accuracy", "flip_rates", "bounded_prediction")


class GainPenalty:
    """Forward hooks on every hidden BatchNorm; ``__call__(net)`` returns the penalty."""

    def __init__(self, net, lam: float, eps_design: float):
        self.lam = float(lam)
        self.factor = 1.0 - 2.0 * float(eps_design)
        self.records: list[tuple[nn.Module, torch.Tensor, torch.Tensor]] = []
        self.fan_in: dict[nn.Module, int] = {}
        for block in net.features:
            mods = list(block) if isinstance(block, nn.Sequential) else []
            lin = [m for m in mods if hasattr(m, "weight") and m.weight.dim() == 2]
            bns = [m for m in mods if isinstance(m, nn.BatchNorm1d)]
            if lin and bns:
                self.fan_in[bns[0]] = int(lin[0].weight.shape[1])
                bns[0].register_forward_hook(self._hook)

    def _hook(self, module, inputs, output) -> None:
        if module.training:
            self.records.append((module, inputs[0], output))

    def gains(self) -> list[torch.Tensor]:
        out = []
        for bn, s, y in self.records:
            sigma = torch.sqrt(s.var(dim=0, unbiased=False) + bn.eps)
            m = 2.0 * bn.weight.abs() / sigma
            win = torch.sigmoid((m - y.abs()) / (0.5 * m + 1e-6))
            out.append(0.5 * self.fan_in[bn] * win.mean())
        return out

    def __call__(self, net) -> torch.Tensor:
        g = self.gains()
        self.records = []
        if self.lam == 0.0 or len(g) < 2:
            return torch.zeros(())
        return self.lam * sum(torch.relu(self.factor * gl - 1.0) for gl in g[1:])


def run(lams: Sequence[float], eps_design: float, eps_values: Sequence[float], out: Path,
        n_images: int, n_draws: int, epochs: int, width: int) -> list[dict]:
    from noisybnn import theory
    from noisybnn.experiments.sweep import get_data
    from noisybnn.models.spec import mlp
    from noisybnn.train import TrainConfig, train

    x, y = get_data("mnist", "test", n_images)
    xb = np.where(x.reshape(len(x), -1) >= 128, 1.0, -1.0)  # ActQuant: pixel/255 >= 0.5
    rows = []
    for lam in lams:
        name = f"mlp-{width}x3-w1a1-gainreg{lam:g}"
        spec = mlp(width, 3, name=name)
        run_dir = out / "runs" / name
        metrics_path = run_dir / "metrics.json"
        if metrics_path.is_file():
            metrics = json.loads(metrics_path.read_text())
        else:
            penalty: GainPenalty | None = None

            def extra(net, lam=lam):
                nonlocal penalty
                if penalty is None:
                    penalty = GainPenalty(net, lam, eps_design)
                    return torch.zeros(())  # hooks are on from the next batch
                return penalty(net)

            metrics = train(spec, TrainConfig(epochs=epochs, threads=1), run_dir, progress=False,
                            extra_loss=extra)
        net = theory.as_network(theory.load_mlp_checkpoint(run_dir / "best.pt"))
        clean = float(np.mean(theory.forward(net, xb).prediction == y))
        gain = theory.flip_gain(net, xb)
        crit = [(1 - 2 * eps_design) * g for g in gain[1:]]
        for eps in eps_values:
            sim = theory.simulate_noisy(net, xb, y, eps, n_draws=n_draws, seed=0)
            # the small-noise recursion with the measured gains
            q, pred = eps, [eps]
            for g in gain[1:]:
                q = eps + (1 - 2 * eps) * g * q
                pred.append(min(q, 0.5))
            rows.append({"lam": lam, "eps_design": eps_design, "model": name,
                         "val_acc": metrics.get("val_acc"), "test_clean": clean,
                         "gain": ";".join(f"{g:.3f}" for g in gain),
                         "criterion": ";".join(f"{c:.3f}" for c in crit), "eps": eps,
                         "accuracy": sim.accuracy,
                         "flip_rates": ";".join(f"{r:.4f}" for r in sim.layer_flip_rates),
                         "bounded_prediction": ";".join(f"{r:.4f}" for r in pred)})
            print(f"lam={lam:g}: G={np.round(gain, 2).tolist()} (1-2e)G={np.round(crit, 2).tolist()}"
                  f" eps={eps:g} acc={sim.accuracy:.4f} rates={np.round(sim.layer_flip_rates, 4)}",
                  flush=True)
        out.mkdir(parents=True, exist_ok=True)
        with (out / "propagation.csv").open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(COLUMNS))
            w.writeheader()
            w.writerows(rows)
    return rows


def run_cli(a: argparse.Namespace) -> int:
    """`noisybnn study propagation` (its options: noisybnn.cli_options.add_study_commands)."""
    run(a.lams, a.eps_design, a.eps, a.out, a.images, a.draws, a.epochs, a.width)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m noisybnn.experiments.propagation`: the same as `noisybnn study propagation ...`."""
    import sys

    from noisybnn import cli

    return cli.main(["study", "propagation", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    raise SystemExit(main())
