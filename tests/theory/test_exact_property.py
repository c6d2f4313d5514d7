"""The ceilings are true: exact enumeration of random tiny noisy networks never exceeds them.

For each network: every input (2-4 uniform bits) times every noise pattern of every layer gives the
exact law of (label, state of each hidden layer); I(label; H_l) and the accuracy of the Bayes (MAP)
decoder of H_l (the strongest readout there is) are compared with the ceilings computed from the
noisy widths, eps and the label entropy only. The figures in docs/theory.md §3 come from
``python -m noisybnn.theory tightness --networks 1000 --seed 0`` (same generator as here).
"""

from __future__ import annotations

import numpy as np
import pytest

from noisybnn.theory import BinaryLayer, cascade_bsc, exact_label_joints, percolation_factor
from noisybnn.theory.channels import binary_entropy
from noisybnn.theory.exact import (
    all_states,
    layer_transition,
    map_accuracy,
    mutual_information,
    summarize,
    tightness_study,
)
from noisybnn.theory.network import threshold

TOL = 1e-9


def _assert_no_violations(summary: dict) -> None:
    for key in (
        "info_violations",
        "info_violations_log2c_balanced",
        "es_violations",
        "sdpi_violations",
        "accuracy_violations",
        "prefix_violations",
    ):
        assert summary[key] == 0, (key, summary)


def test_ceilings_hold_on_1000_random_tiny_networks():
    cases = tightness_study(1000, seed=0)
    summary = summarize(cases, tol=TOL)
    _assert_no_violations(summary)
    assert summary["networks"] == 1000
    # the study must exercise the bounds, not only vacuous cases
    assert summary["sdpi_binding_fraction"] > 0.5
    assert summary["info_ratio_max"] > 0.99  # the capacity term is attained (width-1 layers)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_ceilings_hold_on_wider_deeper_networks(seed):
    cases = tightness_study(10000, seed=seed, max_width=5, max_depth=4)
    _assert_no_violations(summarize(cases, tol=TOL))


def test_layer_transition_matches_noise_loop():
    """The transition matrix equals an explicit loop over noise patterns."""
    rng = np.random.default_rng(5)
    layer = BinaryLayer(rng.choice([-1, 1], size=(3, 4)), rng.uniform(-4, 4, 3))
    x = all_states(4)
    eps = 0.17
    m = layer_transition(x, layer, eps)
    ref = np.zeros_like(m)
    clean = threshold(x @ layer.weights.T, layer.thresholds)
    for row in range(x.shape[0]):
        for pattern in range(8):
            flips = np.array([(pattern >> j) & 1 for j in range(3)], dtype=bool)
            out = np.where(flips, -clean[row], clean[row])
            idx = sum(1 << j for j in range(3) if out[j] > 0)
            ref[row, idx] += eps ** flips.sum() * (1 - eps) ** (3 - flips.sum())
    np.testing.assert_allclose(m, ref, atol=1e-15)
    np.testing.assert_allclose(m.sum(axis=1), 1.0)


def test_buffer_chain_exact_value_and_tightness():
    """Width-1 copy neurons: I = 1 - h(cascade eps) <= eta^L, ratio -> 1/(2 ln 2) as eps -> 1/2."""
    x = all_states(1)
    labels = np.array([0, 1])
    copy = BinaryLayer(np.array([[1]]), np.array([0.0]))
    for depth, eps in [(1, 0.1), (3, 0.05), (4, 0.45)]:
        joints = exact_label_joints([copy] * depth, x, labels, 2, eps)
        info = mutual_information(joints[-1])
        assert info == pytest.approx(1 - float(binary_entropy(cascade_bsc(eps, depth))), abs=1e-12)
        assert info <= float(percolation_factor([1] * depth, eps)) + 1e-12
        assert map_accuracy(joints[-1]) == pytest.approx(1 - float(cascade_bsc(eps, depth)))
    joints = exact_label_joints([copy] * 2, x, labels, 2, 0.499)
    ratio = mutual_information(joints[-1]) / float(percolation_factor([1, 1], 0.499))
    assert ratio == pytest.approx(1 / (2 * np.log(2)), rel=1e-3)


def test_noise_free_layers_are_not_counted():
    """A noise-free layer passes information unchanged; only noisy widths enter the ceiling."""
    x = all_states(2)
    labels = np.array([0, 1, 1, 0])  # XOR: needs both bits
    rng = np.random.default_rng(0)
    hidden = [BinaryLayer(rng.choice([-1, 1], size=(2, 2)), [0.5, -0.5]) for _ in range(2)]
    joints = exact_label_joints(hidden, x, labels, 2, 0.2, noisy_layers=[1])
    joints_clean = exact_label_joints(hidden, x, labels, 2, 0.0)
    assert mutual_information(joints[0]) == pytest.approx(mutual_information(joints_clean[0]))
