"""The injector's random numbers (src/noisybnn/hw/lfsr.py, injector.py): algebra and statistics.

* the characteristic polynomial x^64 + x^4 + x^3 + x + 1 is primitive, proved by GF(2)
  polynomial arithmetic, so every nonzero register has period 2^64 - 1 (also checked on the
  implemented 16-step beat map with its GF(2) matrix);
* the leap-forward beat equals 16 single steps; `samples` with jump-ahead equals stepping;
* flip rates within 4 sigma of p, lane-to-lane and lag 1..4 correlations within 4 sigma of 0;
* bad configurations raise ValueError with a message.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from noisybnn.hw import lfsr
from noisybnn.hw.injector import (
    THRESHOLD_FULL,
    InjectorConfig,
    Mode,
    check_probability,
    flip_bits,
    inject_stream,
    lane_constant,
    lane_initial_states,
    lane_samples,
    threshold_from_p,
)

#: 2^64 - 1 = 3 * 5 * 17 * 257 * 641 * 65537 * 6700417
PERIOD_PRIMES = (3, 5, 17, 257, 641, 65537, 6700417)
#: x^64 + x^4 + x^3 + x + 1, from the recurrence's lags 60, 61, 63, 64: bit i = coefficient of x^i
POLY = (1 << 64) | sum(1 << (64 - lag) for lag in lfsr.TAP_LAGS)


# ------------------------------------------------------------------ GF(2)[x] arithmetic
def _mulmod(a: int, b: int, f: int) -> int:
    deg = f.bit_length() - 1
    r = 0
    while b:
        if b & 1:
            r ^= a
        b >>= 1
        a <<= 1
        if a >> deg & 1:
            a ^= f
    return r


def _powmod(a: int, e: int, f: int) -> int:
    r = 1
    while e:
        if e & 1:
            r = _mulmod(r, a, f)
        a = _mulmod(a, a, f)
        e >>= 1
    return r


def _gcd(a: int, b: int) -> int:
    while b:
        while a and a.bit_length() >= b.bit_length():
            a ^= b << (a.bit_length() - b.bit_length())
        a, b = b, a
    return a


def _is_prime(n: int) -> bool:
    return n > 1 and all(n % d for d in range(2, math.isqrt(n) + 1))


def test_polynomial_is_the_recurrence():
    assert POLY == (1 << 64) | 0b11011  # x^64 + x^4 + x^3 + x + 1
    assert lfsr.PERIOD == (1 << 64) - 1


def test_period_factorisation():
    assert math.prod(PERIOD_PRIMES) == lfsr.PERIOD
    assert all(_is_prime(q) for q in PERIOD_PRIMES)


def test_characteristic_polynomial_is_primitive():
    """ord(x) mod f = 2^64 - 1: x^(2^64-1) = 1 and x^((2^64-1)/q) != 1 for every prime q.

    An element of order 2^64 - 1 needs a unit group of at least that size, which a ring
    GF(2)[x]/f of 2^64 elements has only when f is irreducible; so f is irreducible and x
    generates GF(2^64)^*, i.e. f is primitive. (Rabin's irreducibility test is checked too.)
    """
    x = 0b10
    assert _powmod(x, lfsr.PERIOD, POLY) == 1
    for q in PERIOD_PRIMES:
        assert _powmod(x, lfsr.PERIOD // q, POLY) != 1, f"x^((2^64-1)/{q}) = 1"
    # Rabin: x^(2^64) = x mod f, and gcd(x^(2^32) - x, f) = 1 (64 has the single prime 2)
    assert _powmod(x, 1 << 64, POLY) == x
    assert _gcd(POLY, _powmod(x, 1 << 32, POLY) ^ x) == 1


def _identity() -> list[int]:
    return [1 << i for i in range(64)]


def test_beat_map_has_full_period():
    """The implemented 16-step beat (GF(2) matrix) has order exactly 2^64 - 1 as well."""
    assert lfsr.jump_columns(lfsr.PERIOD) == _identity()
    for q in PERIOD_PRIMES:
        assert lfsr.jump_columns(lfsr.PERIOD // q) != _identity()


def test_leap_forward_equals_sixteen_single_steps():
    rng = np.random.default_rng(1)
    states = rng.integers(0, 1 << 63, size=200, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    new_state, sample = lfsr.step_beat(states)
    for s0, s1, u in zip(states, new_state, sample, strict=True):
        s = int(s0)
        for _ in range(lfsr.SAMPLE_BITS):
            s = lfsr.step_bit_reference(s)
        assert s == int(s1)
        w = [(s >> (16 * i)) & 0xFFFF for i in range(4)]  # words, w0 newest
        a, b = (w[0] + w[2]) & 0xFFFF, (w[1] + w[3]) & 0xFFFF
        assert int(u) == a ^ (((b << 8) | (b >> 8)) & 0xFFFF)  # the output filter


@pytest.mark.parametrize("lanes", [1, 5])
@pytest.mark.parametrize("n", [1, 2, 3, 4, 17, 1000, 4099])
@pytest.mark.parametrize("start", [0, 1, 999])
def test_samples_equal_stepping(lanes, n, start):
    """`samples` (jump-ahead chunks, 3 beats per vector step) = plain beat-by-beat stepping."""
    init = lane_initial_states(0x5EED, lanes)
    state, ref = init.copy(), []
    for _ in range(start + n):
        state, u = lfsr.step_beat(state)
        ref.append(u)
    ref = np.array(ref[start:], dtype=np.uint16)
    got = lfsr.samples(init, n, start_beat=start)
    assert got.dtype == np.uint16 and got.shape == (n, lanes)
    np.testing.assert_array_equal(got, ref)
    np.testing.assert_array_equal(lfsr.advance(init, start + n), state)


def test_cached_jump_tables_equal_matrix_powers():
    for beats in (1, 3, 48, 1000, 12345):
        np.testing.assert_array_equal(lfsr._jump_tables_cached(beats), lfsr.jump_tables(beats))


def test_jump_ahead_composes_for_long_distances():
    init = lane_initial_states(42, 3)
    a, b = 1 << 40, 123_456_789
    direct = lfsr.samples(init, 10, start_beat=a + b)
    mid = lfsr.apply_jump(lfsr.jump_tables(a), init)
    np.testing.assert_array_equal(mid, lfsr.advance(init, a))
    np.testing.assert_array_equal(direct, lfsr.samples(mid, 10, start_beat=b))


# ------------------------------------------------------------------ statistics
P_VALUES = [2.0**-16, 1e-3, 1e-2, 0.1, 0.5]
LANES = 64


@pytest.fixture(scope="module")
def sample_histogram() -> tuple[np.ndarray, int]:
    """Histogram of the 16-bit samples of 64 lanes over 2^21 beats (1.3e8 samples)."""
    init = lane_initial_states(0xC0FFEE, LANES)
    hist = np.zeros(1 << 16, dtype=np.int64)
    block = 1 << 18
    for k in range(8):
        u = lfsr.samples(init, block, start_beat=k * block)
        hist += np.bincount(u.ravel(), minlength=1 << 16)
    return hist, int(hist.sum())


@pytest.mark.parametrize("p", P_VALUES)
def test_flip_rate_within_4_sigma(sample_histogram, p):
    hist, n = sample_histogram
    t = threshold_from_p(p)
    p_real = t / THRESHOLD_FULL  # the realised probability; resolution 2^-16
    assert abs(p_real - p) <= 2.0**-17
    flips = int(hist[:t].sum())
    sigma = math.sqrt(n * p_real * (1 - p_real))
    assert n * p_real >= 1000, "too few expected flips for a meaningful test"
    assert abs(flips - n * p_real) <= 4 * sigma, (flips, n * p_real, sigma)


def test_flip_bits_is_sample_below_threshold():
    cfg = InjectorConfig(neurons=8, pe=4, bits=2, threshold=6554, seed=9)
    u = lane_samples(cfg, 500).reshape(500, 4, 2)
    np.testing.assert_array_equal(flip_bits(cfg, 500), u < 6554)


def _coincidence_z(a: np.ndarray, b: np.ndarray) -> float:
    """Pooled dependence test of paired flip indicators, in sigmas.

    Columns of `a` and `b` (bool, same shape) are pairs of indicator sequences. Under
    independence the coincidences C = sum(a & b) have mean E = sum_col n_a * n_b / N and variance
    sum_col N q (1 - q), q = (n_a / N)(n_b / N). Pooling over many pairs keeps E large enough for
    rare flips, where a per-pair Pearson r would be dominated by Poisson tails.
    """
    n = a.shape[0]
    na = a.sum(axis=0).astype(np.float64)
    nb = b.sum(axis=0).astype(np.float64)
    q = na * nb / (n * n)
    expected = float((q * n).sum())
    assert expected >= 10, f"only {expected:.1f} coincidences expected: not a meaningful test"
    c = float(np.count_nonzero(a & b))
    return (c - expected) / math.sqrt(float((n * q * (1 - q)).sum()))


CORRELATION_P = (1e-3, 1e-2, 0.1, 0.5)


@pytest.fixture(scope="module")
def flip_samples() -> np.ndarray:
    """Samples of 64 lanes over 2^18 beats."""
    cfg = InjectorConfig(neurons=LANES, pe=LANES, seed=0xBADC0DE)
    return lane_samples(cfg, 1 << 18)


@pytest.mark.parametrize("p", CORRELATION_P)
def test_lane_to_lane_correlation(flip_samples, p):
    """Adjacent lanes and lane 0 against every other lane, pooled."""
    x = flip_samples < threshold_from_p(p)
    a = np.concatenate([x[:, :-1], np.repeat(x[:, :1], LANES - 2, axis=1)], axis=1)
    b = np.concatenate([x[:, 1:], x[:, 2:]], axis=1)
    z = _coincidence_z(a, b)
    assert abs(z) < 4, f"lanes correlate at {z:.2f} sigma"


def _lag_params():
    for lag in range(1, 9):
        for p in CORRELATION_P:
            yield pytest.param(lag, p, id=f"lag{lag}-p{p:g}")


@pytest.mark.parametrize(("lag", "p"), list(_lag_params()))
def test_beat_to_beat_correlation(flip_samples, lag, p):
    """Each lane against itself `lag` beats later, pooled over lanes (lag 4 is the LFSR's span:
    the raw 16 new bits are a fixed XOR of bits 4 beats back; the output filter breaks that)."""
    x = flip_samples < threshold_from_p(p)
    z = _coincidence_z(x[:-lag], x[lag:])
    assert abs(z) < 4, f"lag {lag} correlates at {z:.2f} sigma"


@pytest.mark.parametrize("lag", range(1, 9))
def test_rare_flips_are_not_paired(lag):
    """At p = 2^-16 flips must not come in pairs `lag` beats apart (the raw LFSR bits paired them
    4 beats apart in 1 case of 16)."""
    u = lfsr.samples(lane_initial_states(0xABCDEF, 16), 1 << 20)
    x = u < 1
    pairs = int(np.count_nonzero(x[:-lag] & x[lag:]))
    # independent: E = 256 flips * 2^-16 = 0.004 pairs; P(pairs >= 3) ~ 1e-8
    assert pairs < 3, f"{pairs} flip pairs {lag} beats apart among {int(x.sum())} flips"


def test_register_xor_is_seed_independent():
    """A documented property of the linear seeding (docs/injector.md, "Lane independence").

    register_lane = C_lane ^ seed and the LFSR is linear, so the registers of lanes i and j differ
    by the LFSR sequence started at C_i ^ C_j whatever the seed. The samples go through the
    nonlinear output filter, so the flip patterns of two seeds are not related this way.
    """
    ra = lane_initial_states(1, 8)
    rb = lane_initial_states(0xFEED, 8)
    for _ in range(50):
        ra, ua = lfsr.step_beat(ra)
        rb, ub = lfsr.step_beat(rb)
        d = ra ^ rb
        assert (d == d[0]).all()
    assert not (ua ^ ub == (ua ^ ub)[0]).all()


def test_zero_substitute():
    lane = 3
    seed = lane_constant(lane)
    states = lane_initial_states(seed, 8)
    assert states[lane] == lfsr.ZERO_STATE_SUBSTITUTE
    assert all(int(s) == lane_constant(i) ^ seed for i, s in enumerate(states) if i != lane)
    u = lfsr.samples(states, 200)
    assert u[:, lane].any()  # the substituted lane runs


# ------------------------------------------------------------------ bad configurations
@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan"), float("inf"), "x", None])
def test_bad_probability(p):
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        check_probability(p)
    with pytest.raises(ValueError):
        InjectorConfig.from_p(8, p)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"neurons": 8, "pe": 0}, "lane count"),
        ({"neurons": 0}, "neurons must be >= 1"),
        ({"neurons": 8, "pe": 3}, "must divide"),
        ({"neurons": 8, "bits": 0}, "bits per neuron"),
        ({"neurons": 8, "threshold": 65537}, "threshold"),
        ({"neurons": 8, "threshold": -1}, "threshold"),
        ({"neurons": 4, "fault_mask": (True,) * 5}, "fault mask has 5 entries"),
        ({"neurons": 4, "fault_mask": (True,) * 3}, "fault mask has 3 entries"),
        ({"neurons": 8, "seed": -1}, "seed"),
        ({"neurons": 8, "seed": 1 << 64}, "seed"),
        ({"neurons": 8, "seed": 1.5}, "seed"),
        ({"neurons": 8, "mode": "noisy"}, "unknown injector mode"),
        ({"neurons": 8, "mode": 7}, "unknown injector mode"),
    ],
)
def test_bad_config(kwargs, message):
    with pytest.raises(ValueError, match=message):
        InjectorConfig(**kwargs)


def test_bad_lane_count_and_stream():
    with pytest.raises(ValueError, match="lane count"):
        lane_initial_states(1, 0)
    cfg = InjectorConfig(neurons=4, pe=2, mode=Mode.FLIP)
    with pytest.raises(ValueError, match="shape"):
        inject_stream(cfg, np.zeros((3, 3), dtype=int))
    with pytest.raises(ValueError, match="codes"):
        inject_stream(cfg, np.full((3, 2), 2))
    with pytest.raises(ValueError):
        lfsr.samples(np.ones(2, dtype=np.uint64), -1)
