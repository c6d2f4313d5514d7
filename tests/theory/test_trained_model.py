"""Parity and prediction on the trained tfc-w1a1 (784-64-64-64-10) of the model zoo.

Slow, and skipped where the checkpoint, torch or the MNIST cache is missing. The BatchNorm of each
hidden layer is folded into thresholds (:func:`load_mlp_checkpoint`); the folded network must
reproduce the recorded test accuracy exactly, then the mean field and the accuracy predictor are
compared with Monte Carlo simulation (the figures of docs/theory.md §5).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from noisybnn.theory import (
    forward,
    mean_field_flip_rates,
    predict_accuracy,
    simulate_noisy,
)
from noisybnn.theory.network import load_mlp_checkpoint

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
CHECKPOINT = ROOT / "models" / "tfc-w1a1.pt"


@pytest.fixture(scope="module")
def tfc():
    pytest.importorskip("torch")
    if not CHECKPOINT.exists():
        pytest.skip(f"no checkpoint {CHECKPOINT}")
    try:
        from noisybnn import data

        x, y = data.load("mnist", "test")
    except Exception as exc:  # noqa: BLE001 - any missing piece of the data path skips
        pytest.skip(f"MNIST not available: {exc}")
    layers = load_mlp_checkpoint(CHECKPOINT)
    x = np.where(x.reshape(len(x), -1) / 255.0 >= 0.5, 1.0, -1.0)
    return layers, x, y.astype(np.int64)


def test_folded_network_reproduces_recorded_accuracy(tfc):
    layers, x, y = tfc
    record = json.loads(CHECKPOINT.with_suffix(".json").read_text())
    assert 100 * np.mean(forward(layers, x).prediction == y) == pytest.approx(
        record["test_accuracy"], abs=0.005
    )


@pytest.mark.parametrize("eps", [0.01, 0.05, 0.1])
def test_prediction_matches_simulation(tfc, eps):
    layers, x, y = tfc
    xs, ys = x[:2000], y[:2000]
    sim = simulate_noisy(layers, xs, ys, eps, n_draws=200, seed=1)
    rates = np.array([r.mean() for r in mean_field_flip_rates(layers, xs, eps)])
    np.testing.assert_allclose(rates[:2], sim.layer_flip_rates[:2], rtol=0.03)
    assert rates[2] == pytest.approx(sim.layer_flip_rates[2], rel=0.1)
    assert predict_accuracy(layers, xs, ys, eps) == pytest.approx(sim.accuracy, abs=0.01)
