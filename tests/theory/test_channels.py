"""Binary symmetric channel: closed forms against direct computation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from noisybnn.theory import (
    binary_entropy,
    bsc_capacity,
    bsc_contraction,
    cascade_bsc,
    dobrushin_coefficient,
    node_erasure_probability,
)
from noisybnn.theory.exact import mutual_information

probabilities = st.floats(0.0, 1.0, allow_nan=False)


def test_binary_entropy_known_values():
    assert binary_entropy(0.5) == pytest.approx(1.0)
    assert binary_entropy(0.0) == 0.0 and binary_entropy(1.0) == 0.0
    assert binary_entropy(0.11) == pytest.approx(0.4999, abs=1e-4)
    np.testing.assert_allclose(binary_entropy([0.1, 0.9]), [0.4689955935892812] * 2)


def test_capacity_is_mutual_information_of_uniform_input():
    for eps in (0.0, 0.01, 0.2, 0.5):
        joint = 0.5 * np.array([[1 - eps, eps], [eps, 1 - eps]])
        assert mutual_information(joint) == pytest.approx(float(bsc_capacity(eps)), abs=1e-12)


@settings(deadline=None)
@given(probabilities)
def test_contraction_and_erasure_are_complements(eps):
    assert bsc_contraction(eps) + node_erasure_probability(eps) == pytest.approx(1.0)
    assert dobrushin_coefficient(eps) ** 2 == pytest.approx(float(bsc_contraction(eps)))


@pytest.mark.parametrize("stages", [0, 1, 2, 5])
@pytest.mark.parametrize("eps", [0.0, 0.03, 0.3, 0.5])
def test_cascade_matches_matrix_power(eps, stages):
    m = np.array([[1 - eps, eps], [eps, 1 - eps]])
    assert cascade_bsc(eps, stages) == pytest.approx(np.linalg.matrix_power(m, stages)[0, 1])


def test_contraction_is_sdpi_constant_for_weak_dependence():
    """I(U;Y)/I(U;X) approaches (1-2eps)^2 when X barely depends on U (the SDPI is tight there)."""
    eps, d = 0.2, 1e-3
    p_x_given_u = np.array([[0.5 + d, 0.5 - d], [0.5 - d, 0.5 + d]])
    bsc = np.array([[1 - eps, eps], [eps, 1 - eps]])
    i_x = mutual_information(0.5 * p_x_given_u)
    i_y = mutual_information(0.5 * p_x_given_u @ bsc)
    assert i_y / i_x == pytest.approx(float(bsc_contraction(eps)), rel=1e-4)


def test_broadcasting():
    eps = np.linspace(0, 0.5, 6)[:, None]
    assert cascade_bsc(eps, np.arange(4)[None, :]).shape == (6, 4)
    assert binary_entropy(np.zeros((2, 3))).shape == (2, 3)


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), "x"])
def test_bad_probability_raises(bad):
    with pytest.raises(ValueError, match="eps|p must"):
        bsc_contraction(bad) if bad != "x" else binary_entropy(bad)


def test_bad_stages_raise():
    with pytest.raises(ValueError, match="n_stages"):
        cascade_bsc(0.1, 1.5)
