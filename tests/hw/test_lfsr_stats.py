"""The injector's random stream (src/noisybnn/hw/lfsr.py, injector.py): algebra and statistics.

Algebra: E's polynomial x^89 + x^41 + x^22 + x + 1 is irreducible (x^(2^89) = x mod f; 89 is
prime) and 2^89 - 1 is a Mersenne prime, so it is primitive; the 16-bit step equals 16 single
steps; resuming a stream equals running it in one go; the numpy and compiled runners agree.

Statistics (z-scores with the exact variance under independence, see `_stats.py`): flip rates,
within-lane joint flip rates at lags 1..256, cross-lane joint rates (offsets 1..8, lags 0..8,
both directions), one-bit seed pairs over beats 0..63, Berlekamp-Massey linear complexity of the
p = 0.5 decision stream. Default suite: 64 lanes x 2^20 beats, |z| < 5 (lags, cross) / 4 (rates);
`slow`: 64 lanes x 2^22 beats. Largest |z| over 256 lags of a correct generator is ~3.3; a
dependence of 1.10 x p^2 at p = 0.01 (the v1 defect) gives z ~ +12 at 2^20 beats, +24 at 2^22.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from _stats import berlekamp_massey, cross_z, flips_packed, lag_z, rate_z

from noisybnn.backends import kernels
from noisybnn.hw import lfsr
from noisybnn.hw.injector import (
    THRESHOLD_FULL,
    InjectorConfig,
    Mode,
    check_probability,
    flip_bits,
    inject_stream,
    lane_samples,
    seed_word,
    threshold_from_p,
    unsplitmix64,
)

LANES = 64
P_PAIRS = (1e-3, 1e-2, 0.1)


# ------------------------------------------------------------------ algebra
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


def _is_prime(n: int) -> bool:  # Miller-Rabin, deterministic for n < 3.3e24 with these bases
    if n < 2:
        return False
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for a in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41):
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def test_e_polynomial_is_the_recurrence_and_primitive():
    assert lfsr.E_POLY == (1 << 89) | sum(1 << (89 - lag) for lag in lfsr.E_LAGS)
    assert _is_prime(89) and _is_prime((1 << 89) - 1)
    y = 2
    for _ in range(89):
        y = _mulmod(y, y, lfsr.E_POLY)
    assert y == 2  # x^(2^89) = x: irreducible (degree prime, no factor x or x + 1)
    assert bin(lfsr.E_POLY).count("1") % 2 == 1 and lfsr.E_POLY & 1


def test_e_step_equals_sixteen_single_steps():
    rng = np.random.default_rng(3)
    for _ in range(20):
        e = int(rng.integers(1 << 62)) << 27 | int(rng.integers(1 << 27))
        x = e
        for _ in range(16):
            x = lfsr.step_bit_reference(x)
        assert lfsr.e_step(e)[0] == x


@pytest.mark.parametrize("word", [0, (1 << 64) - 1, 0x0123456789ABCDEF])
def test_e_never_zero_and_seed_load(word):
    st = lfsr.State((lfsr.E_TOP << 64) | word, lfsr.lane_constants(4).k.copy())
    assert st.e >> 64 == lfsr.E_TOP != 0
    # the hardware's load: E reset to E_RESET, then four 16-bit words shifted in, S[63:48] first
    e = lfsr.E_RESET
    for k in range(lfsr.LOAD_CYCLES):
        e = ((e << 16) | (word >> (48 - 16 * k)) & 0xFFFF) & lfsr.E_MASK
    assert e == st.e
    u = lfsr.stream(word, 4, 300)
    assert len(np.unique(u)) > 250  # seeds 0 and all ones run like any other


def test_seed_word_is_splitmix_and_invertible():
    assert seed_word(0) == 0xE220A8397B1DCDAF  # splitmix64 including the gamma step
    for w in (0, 1, (1 << 64) - 1, 0xDEADBEEF):
        assert seed_word(unsplitmix64(w)) == w


@pytest.mark.parametrize("lanes", [1, 2, 5, 64])
@pytest.mark.parametrize(("n", "start"), [(0, 0), (1, 0), (300, 0), (250, 77), (17, 1000)])
def test_resume_equals_one_run(lanes, n, start):
    lfsr.clear_cache()
    whole = lfsr.stream(0xABC, lanes, start + n)
    lfsr.clear_cache()
    assert np.array_equal(lfsr.stream(0xABC, lanes, n, start), whole[start:])
    assert np.array_equal(kernels.lane_stream(0xABC, lanes, n, start), whole[start:])


def test_flip_bits_is_sample_below_threshold():
    cfg = InjectorConfig(neurons=8, pe=4, bits=2, threshold=6554, seed=9)
    u = lane_samples(cfg, 500).reshape(500, 4, 2)
    np.testing.assert_array_equal(flip_bits(cfg, 500), u < 6554)


def test_threshold_rounding():
    """round(p * 2^16), halves to even; the realised p is within 2^-17 of the asked one."""
    assert threshold_from_p(1.5 / 65536) == 2 and threshold_from_p(2.5 / 65536) == 2
    assert threshold_from_p(0.5) == 32768 and threshold_from_p(1.0) == THRESHOLD_FULL
    for p in (1e-3, 0.01, 0.1, 1 / 3):
        assert abs(threshold_from_p(p) / THRESHOLD_FULL - p) <= 2.0**-17


# ------------------------------------------------------------------ statistics
def _thresholds():
    return [threshold_from_p(p) for p in P_PAIRS]


@pytest.fixture(scope="module")
def packed_1m():
    return flips_packed(seed_word(0xC0FFEE), _thresholds(), 1 << 20, LANES)


@pytest.mark.parametrize("p", [2.0**-16, 1e-3, 1e-2, 0.1, 0.5])
def test_flip_rate_within_4_sigma(p):
    t = threshold_from_p(p)
    u = kernels.lane_stream(seed_word(0x5EED), LANES, 1 << 20)
    pe = t / THRESHOLD_FULL
    n = u.size
    k = int(np.count_nonzero(u < t))
    z = (k - n * pe) / math.sqrt(n * pe * (1 - pe))
    assert n * pe >= 1000 and abs(z) < 4, (p, k, n * pe, z)


@pytest.mark.parametrize("i", range(len(P_PAIRS)), ids=[f"p{p:g}" for p in P_PAIRS])
def test_lags_1_to_256(packed_1m, i):
    pe = _thresholds()[i] / THRESHOLD_FULL
    zs = lag_z(packed_1m[i], pe, range(1, 257))
    worst = max(zs.items(), key=lambda kv: abs(kv[1]))
    assert abs(worst[1]) < 5, f"lag {worst[0]}: z = {worst[1]:.2f}"
    assert abs(rate_z(packed_1m[i], pe)[1]) < 4


@pytest.mark.parametrize("i", range(len(P_PAIRS)), ids=[f"p{p:g}" for p in P_PAIRS])
def test_cross_lane(packed_1m, i):
    pe = _thresholds()[i] / THRESHOLD_FULL
    zs = cross_z(packed_1m[i], pe, range(1, 9), range(0, 9))
    worst = max(zs.items(), key=lambda kv: abs(kv[1]))
    assert abs(worst[1]) < 5, f"lane offset / lag {worst[0]}: z = {worst[1]:.2f}"


def test_rare_flips_are_not_paired():
    """p = 2^-16: ~1000 flips over 64 lanes x 2^20 beats; independent pairs at lags 1..256 within
    a lane: E = 1024 * 256 * 2^-16 = 4; the v1 LFSR paired them 4 beats apart in 1 case of 16."""
    u = kernels.lane_stream(seed_word(0xABCDEF), LANES, 1 << 20)
    b, lane = np.nonzero(u < 1)
    pairs = 0
    for ln in range(LANES):
        t = np.sort(b[lane == ln])
        d = t[None, :] - t[:, None]
        pairs += int(np.count_nonzero((d >= 1) & (d <= 256)))
    assert len(b) > 800 and pairs <= 16, (len(b), pairs)  # P(Poisson(4) > 16) ~ 1e-6


def test_one_bit_seed_pairs_beats_0_to_63():
    """Master seeds s and s ^ (1 << k): joint flips of the same lane and beat over beats 0..63,
    pooled over 256 pairs x 64 lanes x 64 beats = 1.05e6 pairs per p (v1: 12.5 p^2 at 0.01)."""
    rng = np.random.default_rng(11)
    lanes, beats = 64, 64
    a, b = [], []
    for j in range(256):
        s = int(rng.integers(1 << 63))
        k = j % 64
        a.append(lfsr.stream(seed_word(s), lanes, beats, 0, kernels.runner()))
        b.append(lfsr.stream(seed_word(s ^ (1 << k)), lanes, beats, 0, kernels.runner()))
    ua, ub = np.stack(a), np.stack(b)
    for p in (1e-2, 0.1, 0.5):
        t = threshold_from_p(p)
        pe = t / THRESHOLD_FULL
        n = ua.size
        c = int(np.count_nonzero((ua < t) & (ub < t)))
        z = (c - n * pe * pe) / math.sqrt(n * pe * pe * (1 - pe * pe))
        assert abs(z) < 5, (p, c, n * pe * pe, z)
    # and the raw samples agree in half their bits
    same = int(np.bitwise_count(~(ua ^ ub) & np.uint16(0xFFFF)).sum())
    n_bits = ua.size * 16
    assert abs(same - n_bits / 2) < 5 * math.sqrt(n_bits / 4)


@pytest.mark.parametrize("lane", [0, 7])
def test_linear_complexity_of_p_half_decisions(lane):
    """Berlekamp-Massey on 4000 decisions (u < 2^15) of one lane: a random sequence has linear
    complexity N/2 +- a few; any LFSR-like structure shorter than 2000 would show."""
    u = kernels.lane_stream(seed_word(42), 8, 4000)
    bits = (u[:, lane] < 32768).astype(np.uint8)
    lc = berlekamp_massey(bits)
    assert abs(lc - 2000) <= 8, lc


def test_berlekamp_massey_finds_an_lfsr():
    x = [1, 0, 0, 1, 1]
    for _ in range(300):
        x.append(x[-5] ^ x[-3])  # degree-5 recurrence
    assert berlekamp_massey(np.array(x)) <= 5


@pytest.mark.slow
@pytest.mark.parametrize("i", range(len(P_PAIRS)), ids=[f"p{p:g}" for p in P_PAIRS])
def test_lags_and_cross_lane_long(i):
    """64 lanes x 2^22 beats (2.7e8 decisions per p)."""
    t = _thresholds()[i]
    packed = flips_packed(seed_word(2024), [t], 1 << 22, LANES)[0]
    pe = t / THRESHOLD_FULL
    assert abs(rate_z(packed, pe)[1]) < 4
    for zs in (lag_z(packed, pe, range(1, 257)), cross_z(packed, pe, range(1, 9), range(0, 9))):
        worst = max(zs.items(), key=lambda kv: abs(kv[1]))
        assert abs(worst[1]) < 5, f"{worst[0]}: z = {worst[1]:.2f}"


@pytest.mark.slow
def test_linear_complexity_long():
    u = kernels.lane_stream(seed_word(7), 1, 20000)
    lc = berlekamp_massey((u[:, 0] < 32768).astype(np.uint8))
    assert abs(lc - 10000) <= 10, lc


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
        lfsr.lane_constants(0)
    cfg = InjectorConfig(neurons=4, pe=2, mode=Mode.FLIP)
    with pytest.raises(ValueError, match="shape"):
        inject_stream(cfg, np.zeros((3, 3), dtype=int))
    with pytest.raises(ValueError, match="codes"):
        inject_stream(cfg, np.full((3, 2), 2))
    with pytest.raises(ValueError):
        lfsr.stream(1, 2, -1)
    with pytest.raises(ValueError, match="seed word"):
        lfsr.reseed_state(1 << 64, 2)
