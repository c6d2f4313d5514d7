"""The theory's numpy network model: parsing, forward semantics, simulation, CLI."""

from __future__ import annotations

import numpy as np
import pytest

from noisybnn.theory import BinaryLayer, Readout, as_network, forward, simulate_noisy
from noisybnn.theory.__main__ import main


def test_threshold_tie_goes_to_plus_one():
    layer = BinaryLayer(np.array([[1, -1]]), np.array([0.0]))
    out = forward([layer, np.array([[1.0], [-1.0]])], np.array([[1.0, 1.0], [-1.0, 1.0]]))
    np.testing.assert_array_equal(out.hidden[0][:, 0], [1.0, -1.0])  # 0 >= 0 -> +1


def test_plain_containers_are_accepted():
    w = np.array([[1, -1, 1], [-1, -1, 1]])
    net = as_network([(w, [0.0, 0.5]), {"W": np.ones((2, 2)), "scale": [1, -1], "bias": [0, 1]}])
    assert net.widths == (2,)
    assert isinstance(net.hidden[0], BinaryLayer) and isinstance(net.readout, Readout)
    net2 = as_network([{"weights": w, "thresholds": [0.0, 0.5]}, np.ones((2, 2))])
    assert net2.n_in == 3


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        ([], "non-empty"),
        ([(np.ones((2, 3)) * 2, [0, 0]), np.ones((2, 2))], r"\{-1, 0, \+1\}"),
        ([(np.ones((2, 3)), [0, 0, 0]), np.ones((2, 2))], "thresholds must have shape"),
        ([(np.ones((2, 3)), [0, 0]), np.ones((2, 5))], "expects 5 inputs"),
        ([(np.ones((2, 3)), [0, 0]), (np.ones((2, 2)),)], "readout"),
        ([(np.ones((2, 3)), [0, 0]), np.ones((1, 2))], "classes >= 2"),
        (["nonsense", np.ones((2, 2))], "hidden layer 0"),
    ],
)
def test_bad_networks(layers, message):
    with pytest.raises(ValueError, match=message):
        as_network(layers)


def test_stuck_and_flip_masks(random_net, inputs):
    net = random_net([10, 6, 6, 3], seed=1)
    x = inputs(50, 10, seed=2)
    clean = forward(net, x)
    stuck = [None, np.array([1, -1, 0, 0, 0, 0])]
    out = forward(net, x, stuck=stuck)
    np.testing.assert_array_equal(out.hidden[1][:, :2], np.tile([1.0, -1.0], (50, 1)))
    np.testing.assert_array_equal(out.hidden[0], clean.hidden[0])
    flipped = forward(net, x, flip_masks=[np.ones((50, 6), dtype=bool), None])
    assert np.all(flipped.hidden[0] == -clean.hidden[0])
    with pytest.raises(ValueError, match="stuck"):
        forward(net, x, stuck=[None])


def test_simulation_is_seeded(random_net, inputs):
    net = random_net([10, 6, 6, 3], seed=1)
    x = inputs(40, 10, seed=2)
    y = forward(net, x).prediction
    a = simulate_noisy(net, x, y, 0.1, n_draws=20, seed=7)
    b = simulate_noisy(net, x, y, 0.1, n_draws=20, seed=7)
    np.testing.assert_array_equal(a.correct_probability, b.correct_probability)
    assert a.layer_flip_rates[0] == pytest.approx(0.1, abs=0.03)
    assert simulate_noisy(net, x, y, 0.0, n_draws=3).accuracy == 1.0
    with pytest.raises(ValueError, match="labels"):
        simulate_noisy(net, x, y[:5], 0.1)


def test_cli(capsys):
    assert main(["tightness", "--networks", "30", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "accuracy_violations                      0" in out
    assert main(["tradeoff", "--eps", "0.3", "0.45", "--depths", "1", "4", "--target", "0.8"]) == 0
    assert "| 4 |" in capsys.readouterr().out
