"""The analytic mean field with pairwise correlations: exact where it should be, and closer to the
Monte Carlo truth than independent flips."""

from __future__ import annotations

import numpy as np
import pytest

from noisybnn import theory
from noisybnn.theory.correlated import (
    _bivariate_tail_cov,
    _bivariate_tail_cov_series,
    analytic_accuracy,
    correlated_mean_field,
)


def _random_net(rng, widths=(40, 24, 24, 24), classes=4):
    layers = []
    for n_in, n_out in zip(widths[:-1], widths[1:], strict=True):
        w = rng.choice([-1, 1], size=(n_out, n_in))
        layers.append((w, rng.integers(-3, 4, size=n_out) + 0.5))
    layers.append(rng.choice([-1.0, 1.0], size=(classes, widths[-1])))
    return theory.as_network(layers)


@pytest.fixture(scope="module")
def case():
    rng = np.random.default_rng(3)
    net = _random_net(rng)
    x = rng.choice([-1.0, 1.0], size=(150, 40))
    y = theory.forward(net, x).prediction.copy()
    flip = rng.random(y.shape) < 0.1  # a few wrong labels, so both outcomes occur
    y[flip] = (y[flip] + 1) % 4
    return net, x, y


def test_series_matches_quadrature():
    rng = np.random.default_rng(0)
    a = rng.normal(0, 1.5, size=(20, 6))
    rho = np.clip(rng.normal(0, 0.3, size=(20, 6, 6)), -0.8, 0.8)
    np.testing.assert_allclose(_bivariate_tail_cov_series(a, rho), _bivariate_tail_cov(a, rho),
                               atol=2e-3)


def test_bivariate_tail_covariance_against_sampling():
    rng = np.random.default_rng(1)
    a, rho = np.array([0.3, -0.5]), 0.6
    z = rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], size=400_000)
    e = z > a
    mc = np.cov(e.T.astype(float))[0, 1]
    got = _bivariate_tail_cov(a[None], np.array([[[1.0, rho], [rho, 1.0]]]))[0, 0, 1]
    assert abs(got - mc) < 4 * 0.5 / np.sqrt(400_000) * 2  # ~4 standard errors


def test_first_two_layers_are_exact(case):
    net, x, _ = case
    mf = theory.mean_field_flip_rates(net, x, 0.05)
    cm = correlated_mean_field(net, x, 0.05)
    for layer in (0, 1):
        np.testing.assert_allclose(cm[layer][0], mf[layer], atol=1e-12)
    np.testing.assert_allclose(np.diagonal(cm[0][1], axis1=1, axis2=2), 0.05 * 0.95)
    assert np.all(cm[0][1][:, ~np.eye(24, dtype=bool)] == 0)  # layer 1: independent injectors


def test_layer_two_covariance_against_monte_carlo(case):
    net, x, y = case
    eps, draws = 0.1, 3000
    rng = np.random.default_rng(5)
    clean = theory.forward(net, x).hidden
    f = np.zeros((draws, *clean[1].shape))
    for d in range(draws):
        h1 = np.where(rng.random(clean[0].shape) < eps, -clean[0], clean[0])
        layer = net.hidden[1]
        h2 = np.where(h1 @ layer.w_float.T >= layer.thresholds, 1.0, -1.0)
        h2 = np.where(rng.random(h2.shape) < eps, -h2, h2)
        f[d] = h2 != clean[1]
    mc = np.einsum("dsi,dsj->sij", f, f) / draws - np.einsum("si,sj->sij", f.mean(0), f.mean(0))
    got = correlated_mean_field(net, x, eps)[1][1]
    off = ~np.eye(24, dtype=bool)
    # the Gaussian closure recovers most of the pairwise covariance, pair by pair
    assert np.corrcoef(mc[:, off].ravel(), got[:, off].ravel())[0, 1] > 0.8
    assert 0.8 < got[:, off].sum() / mc[:, off].sum() < 1.2
    gauss = correlated_mean_field(net, x, eps, pairs="series")[1][1]  # a Gaussian closure
    assert gauss[:, off].sum() / mc[:, off].sum() < 0.4  # loses most of it (rare crossings)


def test_analytic_prediction_is_near_the_simulation(case):
    """On a random (untrained) net both readouts land within 3 points of the Monte Carlo truth
    (600 draws x 150 samples: MC standard error ~0.002); the trained-network comparison, where
    the correlations are what matters, is results/mean_field (docs/theory.md section 5.5)."""
    net, x, y = case
    for eps in (0.05, 0.15):
        mc = theory.simulate_noisy(net, x, y, eps, n_draws=600, seed=2).accuracy
        assert abs(analytic_accuracy(net, x, y, eps) - mc) < 0.03


def test_empirical_label_entropy_makes_skewed_ceilings_valid():
    y = np.array([0] * 90 + [1] * 5 + [2] * 5)
    h = theory.empirical_label_entropy(y, 4)
    p = np.array([0.9, 0.05, 0.05])
    assert h == pytest.approx(-(p * np.log2(p)).sum())
    # zero information: a constant guess of class 0 gets 90 %; the ceiling must allow it
    assert theory.fano_accuracy_ceiling(0.0, 4, label_entropy=h) >= 0.9 - 1e-12
    assert theory.fano_accuracy_ceiling(0.0, 4) < 0.9  # the log2 C default would forbid it
    with pytest.raises(ValueError, match="labels"):
        theory.empirical_label_entropy([0, 5], 4)


def test_worst_split_covers_every_split(case):
    from noisybnn.theory.faults import splits, worst_split

    net, x, y = case
    assert sorted(splits(2, [1, 3])) == [(0, 2), (1, 1)]
    w = worst_split(net, 2, x, y)
    each = [theory.certified_robust_fraction(net, x, y, sp) for sp in splits(2, net.widths)]
    assert w["certified_min"] == min(each)
    assert w["fep_max"] == max(theory.fep_bound(net, sp) for sp in splits(2, net.widths))
    # the certificate holds for a random placement at the worst split
    rng = np.random.default_rng(0)
    stuck = []
    for f, layer in zip(w["certified_split"], net.hidden, strict=True):
        s = np.zeros(layer.n_out)
        s[rng.choice(layer.n_out, size=f, replace=False)] = 1.0
        stuck.append(s)
    assert np.mean(theory.forward(net, x, stuck=stuck).prediction == y) >= w["certified_min"]


def test_orthant_accepts_a_covariance_that_is_not_psd():
    """The closure can give an indefinite covariance; the readout projects it, never raises."""
    from noisybnn.theory.correlated import _orthant

    cov = np.array([[1.0, 0.9, -0.9], [0.9, 1.0, 0.9], [-0.9, 0.9, 1.0]])  # eigenvalue < 0
    assert np.linalg.eigvalsh(cov).min() < 0
    p = _orthant(np.zeros(3), cov, np.full(3, -0.5), rng_seed=0)
    assert 0.0 <= p <= 1.0
    # with the projection the answer is that of the nearest PSD matrix
    w, v = np.linalg.eigh(cov)
    near = (v * np.clip(w, 0, None)) @ v.T
    assert p == pytest.approx(_orthant(np.zeros(3), near, np.full(3, -0.5), rng_seed=0), abs=1e-3)
