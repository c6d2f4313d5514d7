"""Ceilings: limits, monotonicity, Fano inversion, inverse functions, broadcasting and errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from noisybnn.theory import (
    accuracy_ceiling,
    capacity_bound,
    evans_schulman_ceiling,
    fano_accuracy_ceiling,
    fano_min_info,
    info_ceiling,
    min_total_neurons,
    min_width,
    path_sum_factor,
    percolation_factor,
    tradeoff_curve,
    uniform_accuracy_ceiling,
    uniform_info_ceiling,
)
from noisybnn.theory.bounds import contracted_capacity_bound

half_eps = st.floats(0.0, 0.5, allow_nan=False)
widths_st = st.lists(st.integers(1, 40), min_size=1, max_size=5)
classes = st.integers(2, 20)


# --- limits ----------------------------------------------------------------------------------
@pytest.mark.parametrize("n_classes", [2, 3, 10, 100])
@pytest.mark.parametrize("widths", [[7], [64, 64, 64], [10, 20]])
def test_eps_zero_gives_one_and_half_gives_chance(widths, n_classes):
    if min(widths) >= np.log2(n_classes):  # the capacity cut still allows every class
        assert accuracy_ceiling(widths, 0.0, n_classes) == pytest.approx(1.0)
    assert accuracy_ceiling(widths, 0.5, n_classes) == pytest.approx(1.0 / n_classes, abs=1e-12)
    assert info_ceiling(widths, 0.5, n_classes) == 0.0


def test_vacuous_for_wide_layers():
    """N = 64, eps = 0.01: (4 eps (1-eps))^64 ~ 1.6e-90, the ceiling is 1 to machine precision."""
    assert (4 * 0.01 * 0.99) ** 64 < 1e-89
    assert percolation_factor([64, 64, 64], 0.01) == 1.0
    assert accuracy_ceiling([64] * 3, 0.01, 10) == 1.0


def test_width_one_chain_is_eta_to_the_L():
    eta = (1 - 2 * 0.1) ** 2
    assert percolation_factor([1, 1, 1], 0.1) == pytest.approx(eta**3)
    assert path_sum_factor([1, 1, 1], 0.1) == pytest.approx(eta**3)


def test_fano_binary_closed_form():
    """C = 2: the ceiling P solves h(1 - P) = 1 - I."""
    for p in (0.6, 0.8, 0.95):
        h = -(p * np.log2(p) + (1 - p) * np.log2(1 - p))
        assert fano_accuracy_ceiling(1 - h, 2) == pytest.approx(p, abs=1e-12)


@settings(deadline=None)
@given(st.floats(0.0, 8.0), classes)
def test_fano_round_trip(info, n_classes):
    acc = float(fano_accuracy_ceiling(info, n_classes))
    assert 1.0 / n_classes - 1e-12 <= acc <= 1.0
    if info < np.log2(n_classes) - 1e-9:
        assert fano_min_info(acc, n_classes) == pytest.approx(info, abs=1e-9)
    else:
        assert acc == 1.0


def test_label_entropy_skewed_labels():
    # one dominant class: zero information still allows more than 1/C
    h = -(0.9 * np.log2(0.9) + 0.1 * np.log2(0.1))
    assert fano_accuracy_ceiling(0.0, 2, label_entropy=h) == pytest.approx(0.9, abs=1e-12)
    with pytest.raises(ValueError, match="label_entropy"):
        fano_accuracy_ceiling(0.0, 2, label_entropy=1.5)


# --- ordering and monotonicity ---------------------------------------------------------------
@settings(deadline=None)
@given(widths_st, half_eps, classes)
def test_orderings(widths, eps, n_classes):
    assert percolation_factor(widths, eps) <= path_sum_factor(widths, eps) + 1e-12
    assert contracted_capacity_bound(widths, eps) <= capacity_bound(widths, eps) + 1e-12
    info = info_ceiling(widths, eps, n_classes)
    assert info <= evans_schulman_ceiling(widths, eps, n_classes) + 1e-12
    assert info <= info_ceiling(widths, eps, n_classes, use_capacity=False) + 1e-12
    assert 0.0 <= info <= np.log2(n_classes) + 1e-12


@settings(max_examples=60, deadline=None)
@given(widths_st, half_eps, half_eps, classes)
def test_decreasing_in_eps(widths, e1, e2, n_classes):
    lo, hi = sorted((e1, e2))
    assert (
        accuracy_ceiling(widths, hi, n_classes) <= accuracy_ceiling(widths, lo, n_classes) + 1e-12
    )
    assert info_ceiling(widths, hi, n_classes) <= info_ceiling(widths, lo, n_classes) + 1e-12


@settings(max_examples=60, deadline=None)
@given(widths_st, st.integers(1, 40), half_eps, classes)
def test_decreasing_in_depth(widths, extra, eps, n_classes):
    deeper = widths + [extra]
    assert (
        accuracy_ceiling(deeper, eps, n_classes) <= accuracy_ceiling(widths, eps, n_classes) + 1e-12
    )


@settings(max_examples=60, deadline=None)
@given(widths_st, st.data(), half_eps, classes)
def test_increasing_in_width(widths, data, eps, n_classes):
    i = data.draw(st.integers(0, len(widths) - 1))
    wider = list(widths)
    wider[i] += data.draw(st.integers(1, 20))
    assert (
        accuracy_ceiling(wider, eps, n_classes) >= accuracy_ceiling(widths, eps, n_classes) - 1e-12
    )


def test_uniform_matches_general():
    for n, depth, eps in itertools.product([1, 3, 17], [1, 2, 5], [0.0, 0.1, 0.4, 0.5]):
        assert uniform_info_ceiling(n, depth, eps, 10) == pytest.approx(
            float(info_ceiling([n] * depth, eps, 10)), abs=1e-12
        )


def test_broadcasting_shapes():
    eps = np.linspace(0, 0.5, 7)
    assert accuracy_ceiling([8, 8], eps, 10).shape == (7,)
    widths = np.stack([np.full(3, n) for n in range(1, 11)])  # (10, 3)
    assert accuracy_ceiling(widths, eps[:, None], 10).shape == (7, 10)
    grid = uniform_accuracy_ceiling(
        np.arange(1, 9)[:, None, None], np.arange(1, 5)[None, :, None], eps[None, None, :], 4
    )
    assert grid.shape == (8, 4, 7)
    assert np.all(np.diff(grid, axis=0) >= -1e-12)  # width
    assert np.all(np.diff(grid, axis=1) <= 1e-12)  # depth
    assert np.all(np.diff(grid, axis=2) <= 1e-12)  # eps


# --- inverses --------------------------------------------------------------------------------
@pytest.mark.parametrize("n_classes", [2, 10])
@pytest.mark.parametrize("target", [0.6, 0.9, 0.99])
@pytest.mark.parametrize("eps", [0.0, 0.01, 0.2, 0.4, 0.49])
@pytest.mark.parametrize("depth", [1, 3, 16])
def test_min_width_is_the_boundary(depth, eps, target, n_classes):
    n = float(min_width(depth, eps, target, n_classes))
    assert np.isfinite(n) and n >= 1
    assert uniform_accuracy_ceiling(n, depth, eps, n_classes) >= target - 1e-9
    if n > 1:
        assert uniform_accuracy_ceiling(n - 1, depth, eps, n_classes) < target + 1e-9


def test_min_width_impossible_and_trivial():
    assert min_width(3, 0.5, 0.2, 10) == np.inf
    assert min_width(3, 0.1, 1.0, 10) == np.inf
    assert min_width(3, 0.0, 1.0, 10) == 4  # ceil(log2 10) noise-free bits
    assert min_width(3, 0.3, 0.1, 10) == 1  # chance needs nothing
    out = min_width(np.array([1, 2, 4])[:, None], np.array([0.1, 0.3]), 0.9, 10)
    assert out.shape == (3, 2)


@pytest.mark.parametrize("eps", [0.3, 0.42])
@pytest.mark.parametrize("depth", [1, 2, 3])
def test_min_total_is_necessary_by_brute_force(depth, eps):
    """No width profile with fewer neurons than min_total_neurons reaches the target ceiling."""
    target, n_classes = 0.75, 4
    total = float(min_total_neurons(depth, eps, target, n_classes))
    n_max = int(min_width(depth, eps, target, n_classes)) + 2
    assert total <= depth * (n_max - 2)
    profiles = np.array(list(itertools.product(range(1, n_max + 1), repeat=depth)))
    ok = accuracy_ceiling(profiles, eps, n_classes) >= target - 1e-12
    assert ok.any()
    assert profiles[ok].sum(axis=1).min() >= total


def test_tradeoff_curve():
    curve = tradeoff_curve([1, 2, 4, 8, 64], 0.45, 0.9, 10)
    assert np.all(np.diff(curve.min_width) >= 0)  # deeper needs wider
    assert np.all(curve.min_total_neurons <= curve.depth * curve.min_width)
    assert curve.rows()[0]["depth"] == 1
    with pytest.raises(ValueError, match="scalars"):
        tradeoff_curve([1, 2], [0.1, 0.2], 0.9, 10)


# --- errors ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: accuracy_ceiling([8], 1.2, 10), "eps must be in"),
        (lambda: accuracy_ceiling([8], float("nan"), 10), "NaN"),
        (lambda: accuracy_ceiling([0, 8], 0.1, 10), "widths must be >= 1"),
        (lambda: accuracy_ceiling([2.5], 0.1, 10), "whole numbers"),
        (lambda: accuracy_ceiling([8], 0.1, 1), "n_classes must be >= 2"),
        (lambda: accuracy_ceiling([8], 0.1, 2.5), "n_classes must be an integer"),
        (lambda: fano_accuracy_ceiling(-1.0, 10), "info_bits must be >= 0"),
        (lambda: info_ceiling([8], 0.1, 4, input_info=3.0), "cannot exceed"),
        (lambda: min_width(0, 0.1, 0.9, 10), "depth must be >= 1"),
        (lambda: min_width(2, 0.1, 1.1, 10), "target_accuracy must be in"),
    ],
)
def test_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()
