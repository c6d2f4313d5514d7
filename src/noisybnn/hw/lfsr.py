"""The random source of the noise injector (v2): one shared LFSR driving a ring of lane accumulators.

Specification (docs/injector.md has the reasoning, cost and statistics):

* **E**, one 89-bit Fibonacci LFSR per injector, s[t] = s[t-48] ^ s[t-67] ^ s[t-88] ^ s[t-89]
  (characteristic polynomial x^89 + x^41 + x^22 + x + 1, irreducible; 2^89 - 1 is a Mersenne prime,
  so it is primitive: period 2^89 - 1). Register bit 0 is the newest; a step shifts in 16 bits:
  ``N = XOR over lag of (E >> (lag - 16)) & 0xFFFF;  E = ((E << 16) | N) mod 2^89``.
* **W_l**, a 16-bit accumulator per bit lane l (lanes L = PE * BITS). A step, all lanes at once from
  the old values:  ``X_l = rotl(W_{(l-1) mod L}, 5) ^ rotl(N, a_l) ^ rotl(E1, b_l) ^ D_l``,
  ``W_l = (W_l - X_l) mod 2^16``, with E1 = bits [31:16] of the old E and per-lane constants
  from h_l = splitmix64(l): K_l = h[15:0] (reset value), D_l = h[31:16], a_l = h[35:32],
  b_l = h[39:36]. The carries make the lanes nonlinear; the ring and the constants make every
  lane different; E (autonomous, never zero) guarantees the period (a multiple of 2^89 - 1) and
  that no state locks up.
* **Sample** of lane l for a beat: u_l = W_l *before* the beat's step. Flip iff u_l < threshold.
* **Reseed** with the 64-bit seed word S: E = (E_TOP << 64) | S (E_TOP a nonzero 25-bit
  constant, so E is never 0), W_l = K_l, then `WARMUP` steps; the run's beat 0 follows.
  In hardware: E and W reset to constants, S is shifted into E 16 bits per cycle (4 cycles,
  S[63:48] first), then the warm-up steps run; `s_axis_tready` is low for those 20 cycles.

The seed word written to the hardware is ``splitmix64(master seed)`` (`injector.seed_word`): the
seeding is nonlinear in the master seed.

This module is numpy-only (it also runs on the board); `noisybnn.backends.kernels` has a compiled
twin, tested equal. The lane update is sequential in time, so streams resume from cached states
(`stream`) instead of jumping ahead.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

MASK64 = (1 << 64) - 1
SAMPLE_BITS = 16
SAMPLE_MASK = (1 << SAMPLE_BITS) - 1
#: Width of the shared LFSR E and the lags of its recurrence s[t] = XOR of s[t - lag].
E_BITS = 89
E_LAGS = (48, 67, 88, 89)
E_MASK = (1 << E_BITS) - 1
#: Polynomial x^89 + x^41 + x^22 + x + 1 as an integer (bit k = coefficient of x^k).
E_POLY = (1 << 89) | (1 << 41) | (1 << 22) | (1 << 1) | 1
#: Bits [88:64] of E after a reseed (nonzero: E never starts at 0, whatever the seed).
E_TOP = 0x1C3A5F1
#: Value E resets to in hardware before the seed is shifted in (its low 25 bits become E_TOP).
E_RESET = E_TOP
#: Seed words shifted into E after a reseed (cycles) and warm-up steps that follow.
LOAD_CYCLES = 4
WARMUP = 16
#: Rotation of the neighbour lane's accumulator in X_l.
NEIGHBOUR_ROT = 5


def splitmix64(x: int) -> int:
    """SplitMix64 output function of state x (Steele, Lea, Flood 2014) *including* the gamma step:
    z = x + 0x9E3779B97F4A7C15, then the two xor-shift-multiply rounds and a final xor-shift.
    A bijection of 64-bit words (splitmix64(0) = 0xE220A8397B1DCDAF)."""
    z = (x + 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


@dataclass(frozen=True)
class LaneConstants:
    """Elaboration-time constants of all lanes (arrays of shape (lanes,))."""

    k: np.ndarray  #: uint16 reset value of W_l
    d: np.ndarray  #: uint16 constant XORed into X_l
    a: np.ndarray  #: rotation of N in X_l (0..15)
    b: np.ndarray  #: rotation of E1 in X_l (0..15)


_CONSTS: dict[int, LaneConstants] = {}


def lane_constants(lanes: int) -> LaneConstants:
    """Per-lane constants K, D, a, b from splitmix64(lane) (cached per lane count)."""
    if lanes < 1:
        raise ValueError(f"lane count must be >= 1, got {lanes}")
    c = _CONSTS.get(lanes)
    if c is None:
        h = [splitmix64(i) for i in range(lanes)]
        c = LaneConstants(
            k=np.array([x & 0xFFFF for x in h], dtype=np.uint16),
            d=np.array([(x >> 16) & 0xFFFF for x in h], dtype=np.uint16),
            a=np.array([(x >> 32) & 15 for x in h], dtype=np.uint16),
            b=np.array([(x >> 36) & 15 for x in h], dtype=np.uint16),
        )
        _CONSTS[lanes] = c
    return c


@dataclass(frozen=True)
class State:
    """Generator state between beats: E (int, 89 bits) and the lane accumulators W (uint16)."""

    e: int
    w: np.ndarray


def e_new16(e: int) -> int:
    """The 16 bits one step shifts into E (every lag >= 48 > 16, so they depend on old bits only)."""
    n = 0
    for lag in E_LAGS:
        n ^= e >> (lag - SAMPLE_BITS)
    return n & SAMPLE_MASK


def e_step(e: int) -> tuple[int, int]:
    """(new E, N) after one step."""
    n = e_new16(e)
    return ((e << SAMPLE_BITS) | n) & E_MASK, n


def step_bit_reference(e: int) -> int:
    """One single step of E's recurrence: the textbook form, used to check `e_step`."""
    fb = 0
    for lag in E_LAGS:
        fb ^= (e >> (lag - 1)) & 1
    return ((e << 1) | fb) & E_MASK


_ROT = np.arange(16, dtype=np.uint32)


def _rotations(v: int) -> np.ndarray:
    """uint32 (16,): rotl16(v, r) for r = 0..15."""
    return ((v << _ROT) | (v >> ((16 - _ROT) & 15))) & 0xFFFF


def _run_numpy(state: State, n_beats: int, collect: bool) -> tuple[np.ndarray | None, State]:
    """Step `n_beats` beats; samples (n_beats, lanes) uint16 if `collect`."""
    lanes = state.w.size
    c = lane_constants(lanes)
    a, b, d = c.a.astype(np.intp), c.b.astype(np.intp), c.d.astype(np.uint32)
    w = state.w.astype(np.uint32)
    e = state.e
    out = np.empty((n_beats, lanes), dtype=np.uint16) if collect else None
    r = NEIGHBOUR_ROT
    for t in range(n_beats):
        if collect:
            out[t] = w
        e1 = (e >> 16) & SAMPLE_MASK
        e, n = e_step(e)
        prev = np.roll(w, 1)
        x = ((prev << r) | (prev >> (16 - r))) & 0xFFFF
        x ^= _rotations(n)[a] ^ _rotations(e1)[b] ^ d
        w = (w - x) & 0xFFFF
    return out, State(e, w.astype(np.uint16))


Runner = Callable[[State, int, bool], "tuple[np.ndarray | None, State]"]


def reseed_state(seed_word: int, lanes: int, run: Runner | None = None) -> State:
    """State at beat 0 of a run: E = E_TOP << 64 | S, W = K, then `WARMUP` steps."""
    if not 0 <= int(seed_word) <= MASK64:
        raise ValueError(f"seed word must be in [0, 2^64), got {seed_word}")
    e = (E_TOP << 64) | int(seed_word)
    st = State(e, lane_constants(lanes).k.copy())
    return (run or _run_numpy)(st, WARMUP, False)[1]


_CACHE: OrderedDict[tuple[int, int, int], State] = OrderedDict()
_CACHE_SIZE = 256


def state_at(seed_word: int, lanes: int, beat: int, run: Runner | None = None) -> State:
    """State before beat `beat` of the run seeded with `seed_word`: resumed from the latest cached
    state of that run at or before `beat` (streams are usually consumed in order)."""
    if beat < 0:
        raise ValueError(f"start beat must be >= 0, got {beat}")
    run = run or _run_numpy
    best = None
    for (s, n, b), st in _CACHE.items():
        if s == seed_word and n == lanes and b <= beat and (best is None or b > best[0]):
            best = (b, st)
    if best is None:
        best = (0, reseed_state(seed_word, lanes, run))
    b, st = best
    if beat > b:
        st = run(st, beat - b, False)[1]
    _remember(seed_word, lanes, beat, st)
    return st


def _remember(seed_word: int, lanes: int, beat: int, st: State) -> None:
    _CACHE[(seed_word, lanes, beat)] = st
    _CACHE.move_to_end((seed_word, lanes, beat))
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)


def stream(seed_word: int, lanes: int, n_beats: int, start_beat: int = 0,
           run: Runner | None = None) -> np.ndarray:
    """uint16 samples (n_beats, lanes) of beats [start_beat, start_beat + n_beats) of a run."""
    if n_beats < 0 or start_beat < 0:
        raise ValueError("n_beats and start_beat must be >= 0")
    run = run or _run_numpy
    st = state_at(seed_word, lanes, start_beat, run)
    out, end = run(st, n_beats, True)
    _remember(seed_word, lanes, start_beat + n_beats, end)
    return out


def clear_cache() -> None:
    """Forget cached run states (tests use it to check that resuming changes nothing)."""
    _CACHE.clear()
