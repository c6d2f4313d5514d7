"""Stuck-at bounds: the certified fraction never exceeds a measured stuck-at accuracy."""

from __future__ import annotations

import numpy as np
import pytest

from noisybnn.theory import (
    certified_robust,
    certified_robust_fraction,
    fep_bound,
    fep_layer_bounds,
    fep_robust_fraction,
    forward,
    hardtanh_forward,
)


def _random_stuck(rng, widths, crashed):
    stuck = []
    for n, f in zip(widths, crashed, strict=True):
        s = np.zeros(n)
        idx = rng.choice(n, size=f, replace=False)
        s[idx] = rng.choice([-1.0, 1.0], size=f)
        stuck.append(s)
    return stuck


@pytest.mark.parametrize("crashed", [[0, 0, 1], [0, 2, 0], [1, 0, 0], [2, 1, 3], [0, 0, 6]])
def test_certified_fraction_is_sound(random_net, inputs, crashed):
    """Measured accuracy under any sampled placement >= certified fraction, and every certified
    sample keeps its correct decision."""
    rng = np.random.default_rng(sum(crashed))
    net = random_net([32, 24, 24, 16, 6], seed=7, threshold_spread=1.0)
    x = inputs(600, 32, seed=8)
    y = forward(net, x).prediction
    y[::7] = (y[::7] + 1) % 6  # some clean mistakes, which are never certified
    cert = certified_robust(net, x, y, crashed)
    assert not np.any(cert & (forward(net, x).prediction != y))
    for _ in range(40):
        stuck = _random_stuck(rng, [24, 24, 16], crashed)
        pred = forward(net, x, stuck=stuck).prediction
        assert np.all(pred[cert] == y[cert])
        assert np.mean(pred == y) >= certified_robust_fraction(net, x, y, crashed)


def test_certificate_is_tight_for_last_layer_faults():
    """One stuck neuron where the two readout rows disagree moves l_0 - l_1 by up to 4: a margin
    of 4 is safe (the tie goes to class 0), a margin of 3.9 is not, and that fault breaks it."""
    from noisybnn.theory import BinaryLayer, Readout

    layer = BinaryLayer(np.eye(3, dtype=int) * 2 - 1, np.full(3, -10.0))  # all outputs +1
    x = np.ones((1, 3))
    w = np.array([[1, 1, 1], [1, 1, -1]])  # logits 3 and 1 before the bias
    stuck = [np.array([0.0, 0.0, -1.0])]  # logits become 1 and 3
    for bias, safe in [(0.0, False), (1.9, False), (2.0, True), (5.0, True)]:
        net = [layer, Readout(w, bias=[bias, 0.0])]
        assert certified_robust(net, x, [0], [1])[0] == safe
        assert (forward(net, x, stuck=stuck).prediction[0] == 0) == (bias >= 2.0)


def test_fep_closed_form():
    from noisybnn.theory import BinaryLayer, Readout

    rng = np.random.default_rng(0)
    net = [
        BinaryLayer(rng.choice([-1, 1], size=(16, 9)), np.zeros(16)),
        BinaryLayer(rng.choice([-1, 1], size=(16, 16)), np.zeros(16)),
        Readout(rng.choice([-1, 1], size=(4, 16)), scale=[0.5, -2.0, 1.0, 1.0]),
    ]
    # E1 = 2 f1; E2 = 2 f2 + g2 (16 - f2) E1 with g2 = 1/4; readout * max|a| = 2
    e = fep_layer_bounds(net, [1, 2])
    np.testing.assert_allclose(e, [2.0, 4.0 + 0.25 * 14 * 2.0])
    assert fep_bound(net, [1, 2]) == pytest.approx(2.0 * e[-1])
    assert fep_bound(net, [0, 0]) == 0.0
    assert fep_bound(net, [1, 0], stuck_error=1.0, preact_scale=0.5) == pytest.approx(2.0 * 8.0)


@pytest.mark.parametrize("crashed", [[0, 1], [1, 0], [0, 3], [2, 2]])
def test_fep_is_sound_for_the_hardtanh_surrogate(random_net, inputs, crashed):
    rng = np.random.default_rng(3)
    net = random_net([24, 16, 16, 5], seed=2)
    x = inputs(400, 24, seed=1)
    clean = hardtanh_forward(net, x)
    y = np.argmax(clean, axis=1)
    bound = fep_bound(net, crashed)
    frac = fep_robust_fraction(net, x, y, crashed, surrogate=True)
    for _ in range(30):
        stuck = _random_stuck(rng, [16, 16], crashed)
        faulty = hardtanh_forward(net, x, stuck=stuck)
        assert np.max(np.abs(faulty - clean)) <= bound + 1e-9
        assert np.mean(np.argmax(faulty, axis=1) == y) >= frac


def test_fep_fraction_on_sign_network_runs_and_errors(random_net, inputs):
    net = random_net([24, 16, 16, 5], seed=2)
    x = inputs(100, 24, seed=1)
    y = forward(net, x).prediction
    assert 0.0 <= fep_robust_fraction(net, x, y, [0, 1]) <= 1.0
    assert fep_robust_fraction(net, x, y, [0, 0]) == 1.0
    with pytest.raises(ValueError, match="one count per hidden layer"):
        fep_bound(net, [1])
    with pytest.raises(ValueError, match="exceed the layer widths"):
        certified_robust(net, x, y, [0, 17])
    with pytest.raises(ValueError, match="integers >= 0"):
        fep_bound(net, [0.5, 0])
