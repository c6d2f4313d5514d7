"""theory.conv: weight-shared conv layers and OR max-pools, against their unrolled dense twins.

Every theory function that takes a conv network must give what it gives for the same network
written with dense `BinaryLayer`s (the unrolled matrix: zero weights outside the windows, tied
rows); the max-pool's exact crossing is checked against Monte Carlo.
"""

import numpy as np
import pytest

from noisybnn import theory
from noisybnn.theory.conv import ConvLayer, MaxPoolLayer, gaussian_crossing, pool_survival
from noisybnn.theory.network import BinaryLayer, Network, Readout
from noisybnn.theory.propagation import _crossing_gaussian


def _reference_conv(x, kernel, stride):
    """Direct loops: (N, H, W, C_in) * (C_out, kh, kw, C_in) -> (N, OH, OW, C_out)."""
    n, h, w, _ = x.shape
    c_out, kh, kw, _ = kernel.shape
    oh, ow = (h - kh) // stride[0] + 1, (w - kw) // stride[1] + 1
    out = np.zeros((n, oh, ow, c_out))
    for i in range(oh):
        for j in range(ow):
            win = x[:, i * stride[0] : i * stride[0] + kh, j * stride[1] : j * stride[1] + kw, :]
            out[:, i, j, :] = np.einsum("nabc,oabc->no", win, kernel)
    return out


def _pool_dense(pool: MaxPoolLayer) -> BinaryLayer:
    eye = np.eye(pool.n_in)
    w = pool.windows(eye).sum(axis=-1).T  # (n_out, n_in): 1 on each window
    return BinaryLayer(np.rint(w).astype(np.int8), pool.thresholds)


def _small_cnn(rng):
    """6x6x1 input, conv 3 channels 3x3 -> 4x4x3, pool 2x2 -> 2x2x3, conv 2 ch 2x2 stride 1 ->
    1x1x2, fc 5, readout 3 classes; thresholds spread over the fan-in."""
    c1 = ConvLayer(rng.choice([-1, 1], size=(3, 3, 3, 1)), rng.integers(-3, 4, 3), (6, 6, 1))
    p1 = MaxPoolLayer(c1.out_map, (2, 2), (2, 2))
    c2 = ConvLayer(rng.choice([-1, 0, 1], size=(2, 2, 2, 3)), rng.integers(-2, 3, 2), p1.out_map)
    fc = BinaryLayer(rng.choice([-1, 1], size=(5, c2.n_out)), rng.integers(-1, 2, 5))
    ro = Readout(rng.choice([-1.0, 1.0], size=(3, 5)))
    conv_net = Network((c1, p1, c2, fc), ro)
    dense = Network((BinaryLayer(c1.dense_weights(), c1.thresholds), _pool_dense(p1),
                     BinaryLayer(c2.dense_weights(), c2.thresholds), fc), ro)
    return conv_net, dense


def test_conv_pre_activation_matches_direct_loops_and_stride():
    rng = np.random.default_rng(0)
    for stride in ((1, 1), (2, 1)):
        k = rng.choice([-1, 0, 1], size=(4, 3, 2, 2))
        layer = ConvLayer(k, np.zeros(4), (7, 6, 2), stride)
        x = rng.choice([-1.0, 1.0], size=(5, 7, 6, 2))
        ref = _reference_conv(x, k, stride)
        got = layer.pre_activation(x.reshape(5, -1))
        assert got.shape == (5, layer.n_out) and layer.n_out == ref[0].size
        np.testing.assert_array_equal(got, ref.reshape(5, -1))  # NHWC unit order
        np.testing.assert_array_equal(got, x.reshape(5, -1) @ layer.dense_weights().T.astype(float))
        assert layer.channels == 4 and layer.pixels == ref.shape[1] * ref.shape[2]
        assert layer.fan_in == 3 * 2 * 2


def test_max_pool_is_an_or_threshold_layer():
    rng = np.random.default_rng(1)
    pool = MaxPoolLayer((4, 6, 3))
    x = rng.choice([-1.0, 1.0], size=(20, 4, 6, 3), p=[0.7, 0.3])
    want = x.reshape(20, 2, 2, 3, 2, 3).max(axis=(2, 4)).reshape(20, -1)
    got = theory.network.threshold(pool.pre_activation(x.reshape(20, -1)), pool.thresholds)
    np.testing.assert_array_equal(got, want)


def test_conv_network_equals_its_unrolled_dense_twin():
    rng = np.random.default_rng(2)
    conv_net, dense = _small_cnn(rng)
    x = rng.choice([-1.0, 1.0], size=(64, 36))
    y = rng.integers(0, 3, 64)
    a, b = theory.forward(conv_net, x), theory.forward(dense, x)
    for ha, hb in zip(a.hidden, b.hidden, strict=True):
        np.testing.assert_array_equal(ha, hb)
    np.testing.assert_array_equal(a.logits, b.logits)
    noisy = [0, 2, 3]  # the pool carries no injector
    sa = theory.simulate_noisy(conv_net, x, y, 0.1, noisy, n_draws=20, seed=5)
    sb = theory.simulate_noisy(dense, x, y, 0.1, noisy, n_draws=20, seed=5)
    np.testing.assert_array_equal(sa.correct_probability, sb.correct_probability)
    np.testing.assert_allclose(theory.flip_gain(conv_net, x), theory.flip_gain(dense, x))
    # mean field: the first two noisy layers see one shared rate (exact path) in both; the pool
    # is exact for any rates; later conv layers are Gaussian, like the dense twin's Gaussian
    mf_conv = theory.mean_field_flip_rates(conv_net, x, 0.1, noisy, method="auto")
    mf_exact = theory.mean_field_flip_rates(dense, x, 0.1, noisy, method="exact")
    np.testing.assert_allclose(mf_conv[0], mf_exact[0])
    np.testing.assert_allclose(mf_conv[1], mf_exact[1], atol=1e-12)  # pool: exact = lattice
    h1, q1 = a.hidden[1], mf_conv[1]  # the conv after the pool: same Gaussian as dense
    s0 = conv_net.hidden[2].pre_activation(h1)
    pos = s0 >= conv_net.hidden[2].thresholds
    np.testing.assert_allclose(
        gaussian_crossing(h1, q1, conv_net.hidden[2], s0, pos),
        _crossing_gaussian(h1, q1, dense.hidden[2], s0, pos), atol=1e-12)
    for crashed in ([2, 0, 1, 0], [0, 0, 0, 2], [16, 0, 0, 0]):
        np.testing.assert_array_equal(theory.certified_robust(conv_net, x, y, crashed),
                                      theory.certified_robust(dense, x, y, crashed))
        assert theory.fep_bound(conv_net, crashed) > 0


def test_pool_crossing_is_exact_against_monte_carlo():
    """P(OR output flips) for independent input flips of unequal rates; 20,000 draws: the
    tolerance (4 standard errors, <= 0.014) detects a wrong formula (e.g. q^m alone is off by
    > 0.05 on these windows)."""
    rng = np.random.default_rng(3)
    pool = MaxPoolLayer((2, 2, 4))
    h = np.array([[1, -1, -1, -1, -1, -1, -1, -1, 1, 1, -1, -1, 1, 1, 1, 1.0]])
    q = rng.uniform(0.05, 0.4, size=h.shape)
    exact = pool.crossing(h, q)[0]
    draws = 20_000
    flips = rng.random((draws, h.shape[1])) < q
    noisy = np.where(flips, -h, h)
    clean_out = theory.network.threshold(pool.pre_activation(h), pool.thresholds)
    out = theory.network.threshold(pool.pre_activation(noisy), pool.thresholds)
    mc = (out != clean_out).mean(axis=0)
    se = np.sqrt(exact * (1 - exact) / draws)
    assert np.all(np.abs(mc - exact) <= 4 * se + 1e-3)


def test_pool_survival_counts_windows():
    pool = MaxPoolLayer((2, 4, 1))
    clean = np.array([[1, -1, -1, -1, -1, -1, -1, -1.0]])  # windows: m = 1 and m = 0
    noisy = clean.copy()
    noisy[0, 0] = -1  # kills the only +1 of window 1: survives
    noisy[0, 2] = 1  # a +1 in the all -1 window 2: survives
    got = pool_survival(clean, noisy, pool)
    assert got["in_flip_rate"] == pytest.approx(2 / 8) and got["out_flip_rate"] == 1.0
    assert got["survival_per_input_flip"] == 1.0  # 2 output flips for 2 input flips
    assert got["by_plus_count"][1]["share"] == 0.5 and got["by_plus_count"][0]["share"] == 0.5


def test_conv_layer_rejects_bad_shapes():
    with pytest.raises(ValueError, match="input channels"):
        ConvLayer(np.ones((2, 3, 3, 2)), np.zeros(2), (5, 5, 1))
    with pytest.raises(ValueError, match="does not fit"):
        ConvLayer(np.ones((2, 3, 3, 1)), np.zeros(2), (2, 5, 1))
    with pytest.raises(ValueError, match="binarized"):
        ConvLayer(np.full((2, 3, 3, 1), 2), np.zeros(2), (5, 5, 1))


def test_placed_certificate_is_sound_and_tighter_than_any_placement():
    """For a known placement (crashed channels at every pixel), the mask certificate: every
    certified sample stays correct for random stuck values (+-1) at that placement, and it
    certifies at least what the count certificate (any placement of as many units) does."""
    rng = np.random.default_rng(4)
    for trial in range(6):
        conv_net, dense = _small_cnn(rng)
        x = rng.choice([-1.0, 1.0], size=(200, 36))
        y = theory.forward(conv_net, x).prediction  # correct by construction when clean
        c1 = conv_net.hidden[0]
        ch = rng.choice(c1.channels, size=1 + trial % 2, replace=False)
        mask0 = np.tile(np.isin(np.arange(c1.channels), ch), c1.pixels)
        faulty = [mask0, None, None, None]
        for net in (conv_net, dense):
            placed = theory.certified_robust_placed(net, x, y, faulty)
            anywhere = theory.certified_robust(net, x, y, [int(mask0.sum()), 0, 0, 0])
            assert np.all(placed >= anywhere)
            for _ in range(20):
                stuck = [np.where(mask0, rng.choice([-1.0, 1.0], size=mask0.size), 0.0),
                         None, None, None]
                pred = theory.forward(net, x, stuck=stuck).prediction
                assert np.all(pred[placed] == y[placed])
