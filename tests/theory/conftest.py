"""Fixtures of the theory tests: random binary networks and inputs, built from explicit seeds."""

from __future__ import annotations

import numpy as np
import pytest

from noisybnn.theory import BinaryLayer, Readout


def build_random_net(
    sizes: list[int], seed: int, *, threshold_spread: float = 0.5, readout_scale=None
) -> list:
    """+-1 weights, thresholds ~ N(0, (spread * sqrt(fan-in))^2): active, chaotic networks."""
    rng = np.random.default_rng(seed)
    layers: list = []
    for n_in, n_out in zip(sizes[:-2], sizes[1:-1], strict=True):
        w = rng.choice([-1, 1], size=(n_out, n_in))
        layers.append(BinaryLayer(w, rng.normal(0.0, threshold_spread * np.sqrt(n_in), n_out)))
    ro_w = rng.choice([-1, 1], size=(sizes[-1], sizes[-2]))
    layers.append(Readout(ro_w, scale=readout_scale))
    return layers


def random_inputs(n: int, n_in: int, seed: int) -> np.ndarray:
    """n random inputs in {-1, +1}^n_in."""
    return np.random.default_rng(seed).choice([-1.0, 1.0], size=(n, n_in))


@pytest.fixture(scope="session")
def random_net():
    """Factory fixture: ``random_net(sizes, seed)`` -> list of layers (hidden..., readout)."""
    return build_random_net


@pytest.fixture(scope="session")
def inputs():
    """Factory fixture: ``inputs(n, n_in, seed)`` -> +-1 array."""
    return random_inputs
