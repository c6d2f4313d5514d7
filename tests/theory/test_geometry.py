"""Binarization geometry: a Gaussian vector and its sign are ~37 degrees apart."""

from __future__ import annotations

import numpy as np
import pytest

from noisybnn.theory import (
    ASYMPTOTIC_SIGN_ANGLE_DEG,
    activation_angles,
    binarization_angles,
    dot_product_correlation,
    expected_sign_angle,
    expected_sign_cosine,
    sign_angle,
)


def test_asymptotic_angle():
    assert ASYMPTOTIC_SIGN_ANGLE_DEG == pytest.approx(np.degrees(np.arccos(np.sqrt(2 / np.pi))))
    assert ASYMPTOTIC_SIGN_ANGLE_DEG == pytest.approx(37.0, abs=0.1)
    assert expected_sign_angle() == ASYMPTOTIC_SIGN_ANGLE_DEG
    assert expected_sign_cosine(1) == pytest.approx(1.0)
    assert expected_sign_cosine(10**6) == pytest.approx(np.sqrt(2 / np.pi), rel=1e-6)
    assert np.all(np.diff(expected_sign_cosine(np.arange(1, 100))) < 0)


@pytest.mark.parametrize("dim", [2, 16, 1024])
def test_expected_cosine_matches_sampling(dim):
    n = 5000
    v = np.random.default_rng(dim).standard_normal((n, dim))
    cos = np.cos(np.radians(sign_angle(v)))
    assert cos.mean() == pytest.approx(
        float(expected_sign_cosine(dim)), abs=4 * cos.std() / np.sqrt(n)
    )


def test_gaussian_rows_are_37_degrees():
    w = np.random.default_rng(0).standard_normal((200, 4096))
    angles = binarization_angles(w)
    assert angles.shape == (200,)
    assert angles.mean() == pytest.approx(37.0, abs=0.3)
    assert angles.std() < 0.5


def test_other_distributions():
    rng = np.random.default_rng(1)
    assert binarization_angles(rng.laplace(size=(50, 8192))).mean() == pytest.approx(45, abs=0.5)
    assert binarization_angles(rng.uniform(-1, 1, size=(50, 8192))).mean() == pytest.approx(
        30, abs=0.5
    )
    assert binarization_angles(np.sign(rng.standard_normal((5, 100)))).max() == pytest.approx(0)


def test_activation_angles_and_dot_products():
    rng = np.random.default_rng(2)
    pre = rng.standard_normal((300, 512)) + 3.0  # offset: centering matters
    assert activation_angles(pre).mean() == pytest.approx(37.0, abs=1.0)
    assert activation_angles(pre, centered=False).mean() == pytest.approx(
        np.degrees(np.arccos(3 / np.sqrt(10))), abs=1.0
    )  # E|v| / sqrt(E v^2)
    w = rng.standard_normal((64, 256))
    a = rng.standard_normal((500, 256))
    corr = dot_product_correlation(w, a)
    assert corr.shape == (64,)
    assert corr.mean() == pytest.approx(np.sqrt(2 / np.pi), abs=0.05)  # = cos of the angle


def test_errors():
    with pytest.raises(ValueError, match="out, in"):
        binarization_angles(np.ones(3))
    with pytest.raises(ValueError, match="dim"):
        expected_sign_cosine(0)
    with pytest.raises(ValueError, match="finite"):
        sign_angle([1.0, np.inf])
    assert np.isnan(sign_angle(np.zeros(4)))
