"""Predictors of accuracy under noise against the accelerator, on the same images (issue 17).

For each shipped model and eps, on the first ``--images`` MNIST test images:

* **measured**: the software accelerator (bit-exact FPGA model, LFSR injectors), mean of seeds;
* **Monte Carlo i.i.d.**: ``theory.simulate_noisy``, exact propagation of independent flips;
* **analytic, correlated**: ``theory.correlated.analytic_accuracy``, mean field carrying pairwise
  flip covariances, Gaussian readout: no sampling of the network;
* **analytic, independent**: the same Gaussian readout on independent flips;
* **pure mean field**: ``theory.predict_accuracy(exact_tail=0)`` (independent last-layer flips,
  drawn);
* and two diagnostics that locate the remaining error of the analytic predictor: the Gaussian
  readout fed with the *Monte Carlo* mean and covariance of the last layer's flips (error of the
  Gaussian readout alone), and the share of the true off-diagonal flip covariance the analytic
  covariance recovers.

    noisybnn study mean-field --models tfc-w1a1 sfc-w1a1 --images 2000

Writes ``results/mean_field/mean_field.csv`` and prints a table.
"""

from __future__ import annotations

import argparse
import csv
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

DEFAULT_EPS = (0.01, 0.02, 0.05, 0.1)
COLUMNS = ("model", "images", "eps", "clean", "measured", "measured_std", "mc_iid",
           "analytic", "analytic_independent", "pure_mean_field", "gauss_readout_mc_moments",
           "offdiag_cov_share", "diag_images", "mc_iid_diag", "analytic_diag",
           "analytic_minus_measured", "mc_minus_measured",
           "rate_measured", "rate_analytic", "seconds_analytic")


def _accelerator(model: str, build_root: Path):
    from noisybnn.backends import load
    from noisybnn.compile.paths import PYTHON_MODEL
    from noisybnn.pipeline import compile_model

    bdir = build_root / model
    if not (bdir / PYTHON_MODEL).is_file():
        compile_model(model, out_dir=str(bdir))
    return load("sim", bdir)


def _mc_diagnostics(net, xb, y, eps, n_draws, seed, q_an, cov_an):
    """(Gaussian-readout accuracy with MC flip moments, share of MC off-diagonal covariance
    recovered by the analytic covariance) from one Monte Carlo run of the last layer."""
    from noisybnn import theory
    from noisybnn.theory.correlated import _orthant
    from noisybnn.theory.network import threshold

    rng = np.random.default_rng(seed)
    clean = theory.forward(net, xb)
    h0 = clean.hidden[-1]
    n, width = h0.shape
    s1 = np.zeros((n, width))
    s2 = np.zeros((n, width, width))
    correct = np.zeros(n)
    for _ in range(n_draws):
        h = xb
        for layer in net.hidden:
            h = threshold(h @ layer.w_float.T, layer.thresholds)
            h = np.where(rng.random(h.shape) < eps, -h, h)
        correct += net.readout.logits(h).argmax(axis=1) == y
        f = (h != h0).astype(float)
        s1 += f
        s2 += f[:, :, None] * f[:, None, :]
    mean = s1 / n_draws
    cov = s2 / n_draws - mean[:, :, None] * mean[:, None, :]
    off = ~np.eye(width, dtype=bool)
    share = float(np.sum(cov_an[:, off]) / np.sum(cov[:, off]))
    w = net.readout.weights
    acc = []
    for s in range(n):
        others = np.array([c for c in range(w.shape[0]) if c != y[s]])
        g = w * h0[s][None, :]
        mu = clean.logits[s] - 2.0 * g @ mean[s]
        sig = 4.0 * g @ cov[s] @ g.T
        con = -np.eye(w.shape[0])[others]
        con[:, y[s]] = 1.0
        thr = np.where(others < y[s], 1.0, -1.0)
        acc.append(_orthant(con @ mu, con @ sig @ con.T, thr, seed + s))
    return float(np.mean(acc)), share, float(np.mean(correct) / n_draws)


def run(models: Sequence[str], n_images: int, eps_values: Sequence[float], seeds: Sequence[int],
        n_draws: int, out: Path, build_root: Path, diag_images: int) -> list[dict]:
    from noisybnn import theory
    from noisybnn.backends import NoiseSetting, predict
    from noisybnn.experiments.sweep import get_data
    from noisybnn.theory.correlated import analytic_accuracy, correlated_mean_field

    rows = []
    x, y = get_data("mnist", "test", n_images)
    for model in models:
        acc = _accelerator(model, build_root)
        net, thr = acc.to_theory_network()
        xb = np.where(x.reshape(len(x), -1) >= thr[None, :], 1.0, -1.0)
        acc.configure_noise(NoiseSetting(mode="off"))
        clean_pred = predict(np.asarray(acc.execute(x)))
        assert np.array_equal(clean_pred, theory.forward(net, xb).prediction), "twin differs"
        clean_hidden = [a > 0 for a in acc.hidden_activations(x)]
        for eps in eps_values:
            meas, rates = [], []
            for seed in seeds:
                acc.configure_noise(NoiseSetting(mode="flip", p=eps, seed=int(seed)))
                meas.append(float(np.mean(predict(np.asarray(acc.execute(x))) == y)))
                acc.configure_noise(NoiseSetting(mode="flip", p=eps, seed=int(seed)))
                noisy = acc.hidden_activations(x)
                rates.append([float(np.mean((a > 0) != c)) for a, c in zip(noisy, clean_hidden,
                                                                           strict=True)])
            sim = theory.simulate_noisy(net, xb, y, eps, n_draws=n_draws, seed=0)
            t0 = time.perf_counter()
            an = analytic_accuracy(net, xb, y, eps)
            t_an = time.perf_counter() - t0
            ind = analytic_accuracy(net, xb, y, eps, correlations=False)
            pmf = theory.predict_accuracy(net, xb, y, eps, exact_tail=0, n_draws=64, seed=0)
            nd = min(diag_images, n_images)
            q_an, cov_an = correlated_mean_field(net, xb[:nd], eps)[-1]
            g_mc, share, mc_nd = _mc_diagnostics(net, xb[:nd], y[:nd], eps, n_draws, 1, q_an,
                                                 cov_an)
            an_nd = analytic_accuracy(net, xb[:nd], y[:nd], eps)
            rate_an = [float(q.mean()) for q, _ in correlated_mean_field(net, xb[:nd], eps)]
            m = float(np.mean(meas))
            row = {"model": model, "images": n_images, "eps": eps,
                   "clean": float(np.mean(clean_pred == y)), "measured": m,
                   "measured_std": float(np.std(meas, ddof=1)) if len(meas) > 1 else 0.0,
                   "mc_iid": sim.accuracy, "analytic": an, "analytic_independent": ind,
                   "pure_mean_field": pmf, "gauss_readout_mc_moments": g_mc,
                   "offdiag_cov_share": share, "diag_images": nd, "mc_iid_diag": mc_nd,
                   "analytic_diag": an_nd, "analytic_minus_measured": an - m,
                   "mc_minus_measured": sim.accuracy - m,
                   "rate_measured": ";".join(f"{r:.4f}" for r in np.mean(rates, axis=0)),
                   "rate_analytic": ";".join(f"{r:.4f}" for r in rate_an),
                   "seconds_analytic": round(t_an, 1)}
            rows.append(row)
            print(f"{model} eps={eps:g}: measured {m:.4f}, MC iid {sim.accuracy:.4f}, analytic "
                  f"{an:.4f} ({100 * (an - m):+.2f} pts), analytic indep {ind:.4f}, pure MF "
                  f"{pmf:.4f}; first {nd} images: MC {mc_nd:.4f}, analytic {an_nd:.4f}, Gaussian "
                  f"readout on MC moments {g_mc:.4f}, cov share {share:.2f}", flush=True)
            out.mkdir(parents=True, exist_ok=True)
            with (out / "mean_field.csv").open("w", newline="") as f:
                w = csv.DictWriter(f, fieldnames=list(COLUMNS))
                w.writeheader()
                w.writerows(rows)
    return rows


def run_cli(a: argparse.Namespace) -> int:
    """`noisybnn study mean-field` (its options: noisybnn.cli_options.add_study_commands)."""
    from noisybnn.errors import ConfigError

    images = a.images * len(a.models) if len(a.images) == 1 else a.images
    if len(images) != len(a.models):
        raise ConfigError(f"--images takes one value or one per model ({len(a.models)}), "
                          f"got {len(a.images)}")
    for model, n in zip(a.models, images, strict=True):
        run([model], n, a.eps, a.seeds, a.draws, a.out / model, a.build_root,
                    a.diag_images)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m noisybnn.experiments.mean_field`: the same as `noisybnn study mean-field ...`."""
    import sys

    from noisybnn import cli

    return cli.main(["study", "mean-field", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    raise SystemExit(main())
