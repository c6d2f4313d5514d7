"""Mean-field flip rates and accuracy prediction against Monte Carlo simulation of the network."""

from __future__ import annotations

import numpy as np
import pytest

from noisybnn.theory import (
    BinaryLayer,
    flip_gain,
    forward,
    mean_field_flip_rates,
    noise_gain,
    predict_accuracy,
    predict_correct_probability,
    simulate_noisy,
)
from noisybnn.theory.propagation import _crossing_exact, _crossing_gaussian, _crossing_uniform_q


def _brute_force_crossing(x, q, layer):
    """P(neuron output flips) by convolving the per-input flip distributions (no tricks)."""
    w = layer.weights.astype(float)
    out = np.empty((x.shape[0], w.shape[0]))
    for b in range(x.shape[0]):
        for j in range(w.shape[0]):
            c = w[j] * x[b]
            pmf = {0: 1.0}  # distribution of D = sum_i c_i B_i
            for ci, qi in zip(c, q[b], strict=True):
                if ci == 0:
                    continue
                new: dict[int, float] = {}
                for d, p in pmf.items():
                    new[d] = new.get(d, 0.0) + p * (1 - qi)
                    new[d + int(ci)] = new.get(d + int(ci), 0.0) + p * qi
                pmf = new
            s0 = c.sum()
            pos = s0 >= layer.thresholds[j]
            out[b, j] = sum(p for d, p in pmf.items() if (s0 - 2 * d >= layer.thresholds[j]) != pos)
    return out


@pytest.mark.parametrize("n_in", [7, 12])  # odd and even fan-in (lattice size)
def test_exact_crossing_matches_brute_force(n_in):
    rng = np.random.default_rng(n_in)
    w = rng.choice([-1, 0, 1], size=(5, n_in), p=[0.45, 0.1, 0.45])
    layer = BinaryLayer(w, rng.normal(0, 2, 5))
    x = rng.choice([-1.0, 1.0], size=(6, n_in))
    q = rng.uniform(0, 1, size=(6, n_in))  # includes q > 1/2
    s0 = x @ layer.w_float.T
    pos = s0 >= layer.thresholds
    np.testing.assert_allclose(
        _crossing_exact(x, q, layer, s0, pos), _brute_force_crossing(x, q, layer), atol=1e-12
    )
    q_u = np.full_like(q, 0.13)
    np.testing.assert_allclose(
        _crossing_uniform_q(0.13, layer, s0, pos), _brute_force_crossing(x, q_u, layer), atol=1e-12
    )
    gauss = _crossing_gaussian(x, q, layer, s0, pos)
    assert np.all((gauss >= 0) & (gauss <= 1))


# one random chaotic mid-size net, the acceptance case of the issue
@pytest.fixture(scope="module")
def mid_net(random_net, inputs):
    net = random_net([64, 32, 32, 10], seed=11)
    x = inputs(1000, 64, seed=12)
    return net, x, forward(net, x).prediction


@pytest.mark.parametrize("eps", [0.01, 0.05, 0.1])
def test_mean_field_rates_match_simulation(mid_net, eps):
    net, x, y = mid_net
    sim = simulate_noisy(net, x, y, eps, n_draws=150, seed=1)
    pred = np.array([r.mean() for r in mean_field_flip_rates(net, x, eps)])
    np.testing.assert_allclose(pred, sim.layer_flip_rates, rtol=0.03)
    # default accuracy predictor: exact up to Monte Carlo error
    assert predict_accuracy(net, x, y, eps, seed=2) == pytest.approx(sim.accuracy, abs=0.01)


def test_deeper_net_mean_field_is_approximate(random_net, inputs):
    """Beyond the second noisy layer flips are correlated; rates stay within ~30% on a chaotic
    random net (docs/theory.md §5), and the default accuracy predictor stays exact."""
    net = random_net([48, 32, 32, 32, 10], seed=3)
    x = inputs(500, 48, seed=4)
    y = forward(net, x).prediction
    for eps in (0.01, 0.1):
        sim = simulate_noisy(net, x, y, eps, n_draws=100, seed=5)
        pred = np.array([r.mean() for r in mean_field_flip_rates(net, x, eps)])
        np.testing.assert_allclose(pred[:2], sim.layer_flip_rates[:2], rtol=0.03)
        assert pred[2] == pytest.approx(sim.layer_flip_rates[2], rel=0.35)
        assert predict_accuracy(net, x, y, eps) == pytest.approx(sim.accuracy, abs=0.015)


def test_noisy_layers_and_per_layer_eps(random_net, inputs):
    net = random_net([20, 16, 16, 16, 4], seed=8)
    x = inputs(300, 20, seed=9)
    rates = mean_field_flip_rates(net, x, 0.1, noisy_layers=[1])
    assert np.all(rates[0] == 0.0)
    assert np.allclose(rates[1], 0.1)
    per_layer = mean_field_flip_rates(net, x, [0.0, 0.1, 0.0])
    for a, b in zip(rates, per_layer, strict=True):
        np.testing.assert_allclose(a, b)
    y = forward(net, x).prediction
    assert predict_accuracy(net, x, y, 0.0) == 1.0
    sim = simulate_noisy(net, x, y, 0.1, noisy_layers=[1], n_draws=200, seed=0)
    assert predict_accuracy(net, x, y, 0.1, noisy_layers=[1]) == pytest.approx(
        sim.accuracy, abs=0.02
    )
    with pytest.raises(ValueError, match="noisy_layers"):
        mean_field_flip_rates(net, x, 0.1, noisy_layers=[3])
    with pytest.raises(ValueError, match="one value per hidden layer"):
        mean_field_flip_rates(net, x, [0.1, 0.1])


def test_pure_mean_field_accuracy_variant(random_net, inputs):
    """exact_tail=0 treats the last layer's flips as independent: exact for one hidden layer."""
    net = random_net([30, 24, 5], seed=21)
    x = inputs(500, 30, seed=22)
    y = forward(net, x).prediction
    sim = simulate_noisy(net, x, y, 0.08, n_draws=300, seed=3)
    for tail in (0, None):
        assert predict_accuracy(net, x, y, 0.08, exact_tail=tail) == pytest.approx(
            sim.accuracy, abs=0.01
        )
    gauss = predict_correct_probability(net, x, y, 0.08, method="gaussian", exact_tail=0)
    assert gauss.shape == (500,) and np.all((gauss >= 0) & (gauss <= 1))
    with pytest.raises(ValueError, match="exact_tail"):
        predict_accuracy(net, x, y, 0.1, exact_tail=1)
    with pytest.raises(ValueError, match="method"):
        predict_accuracy(net, x, y, 0.1, method="magic")


def test_readout_scale_bias_and_ties():
    """Negative per-class scales and ties (lowest index wins) behave as in the accelerator."""
    layer = BinaryLayer(np.array([[1, 1], [1, -1]]), np.array([0.0, 0.0]))
    ro = {"W": np.array([[1, 1], [1, 1], [-1, -1]]), "scale": [1.0, 1.0, -2.0], "bias": [0, 0, 0]}
    x = np.array([[1.0, 1.0], [-1.0, -1.0]])
    out = forward([layer, ro], x)
    np.testing.assert_array_equal(out.hidden[0], [[1, 1], [-1, 1]])
    np.testing.assert_array_equal(out.logits, [[2, 2, 4], [0, 0, 0]])
    np.testing.assert_array_equal(out.prediction, [2, 0])  # tie -> class 0
    assert predict_accuracy([layer, ro], x, [2, 0], 0.0) == 1.0


def test_flip_gain_is_the_small_noise_slope(random_net, inputs):
    """d(mean flip rate)/dq at q -> 0 equals the mean number of pivotal inputs."""
    net = random_net([40, 30, 30, 4], seed=31)
    x = inputs(400, 40, seed=32)
    gains = flip_gain(net, x)
    q = 1e-4
    rate2 = mean_field_flip_rates(net, x, [q, 0.0])[1].mean()
    assert rate2 / q == pytest.approx(gains[1], rel=0.01)


def test_noise_gain():
    w = np.array([[1.0, -1.0, 2.0], [0.5, 0.5, 0.0]])
    np.testing.assert_allclose(noise_gain(w), [6.0, 0.5])
    np.testing.assert_allclose(noise_gain(w, correlated=True), [4.0, 1.0])
    np.testing.assert_allclose(noise_gain(w, slope=[2.0, 1.0]), [24.0, 0.5])
    with pytest.raises(ValueError, match="slope"):
        noise_gain(w, slope=[1.0, 2.0, 3.0])


def test_tfc_sized_net_runs(random_net, inputs):
    """784-64-64-64-10 on 1000 samples: the mean field and the predictor run in seconds."""
    net = random_net([784, 64, 64, 64, 10], seed=41)
    x = inputs(1000, 784, seed=42)
    y = forward(net, x).prediction
    rates = mean_field_flip_rates(net, x, 0.05)
    assert [r.shape for r in rates] == [(1000, 64)] * 3
    acc = predict_accuracy(net, x, y, 0.05)
    assert 0.0 < acc < 1.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"x": np.zeros((3, 20))}, "binary"),
        ({"x": np.ones((3, 7))}, "shape"),
        ({"eps": 1.5}, "eps must be in"),
    ],
)
def test_bad_arguments(random_net, kwargs, message):
    net = random_net([20, 8, 3], seed=0)
    args = {"x": np.ones((3, 20)), "eps": 0.1} | kwargs
    with pytest.raises(ValueError, match=message):
        mean_field_flip_rates(net, args["x"], args["eps"])
