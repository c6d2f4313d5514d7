"""The per-lane random number generator of the noise injector.

Each lane owns a 64-bit Fibonacci LFSR with the recurrence

    s[n] = s[n-60] ^ s[n-61] ^ s[n-63] ^ s[n-64]

(characteristic polynomial x^64 + x^4 + x^3 + x + 1, the reciprocal of the maximal-length
x^64 + x^63 + x^61 + x^60 + 1 of Xilinx XAPP052; primitivity is checked in the tests).
The register holds the last 64 bits, bit 0 the newest. Every beat the LFSR advances 16 steps at
once; because every tap lags by 60 or more, the 16 new bits depend only on the old register and
are 16 independent 4-input XORs in hardware ("leap-forward", II=1).

The lane's 16-bit sample is a nonlinear output filter of the register after the beat, read as four
16-bit words w0 (newest) .. w3:  u = (w0 + w2) ^ rotl8(w1 + w3)  (additions mod 2^16). Without it
the raw 16 new bits are a fixed XOR of the bits 4 beats earlier (64 steps = the polynomial's span),
and rare events (u < T for small T) came in pairs 4 beats apart (P(flip | flip 4 beats earlier)
was 6x p at p = 0.01 and ~4500x p at p = 2^-16). The carries of the two adders break that linear
relation; the statistics tests check lags 1..8 and lane pairs. Cost: two 16-bit adders per lane.

This module is the single source of truth for those bits: the HLS C++, the Verilog RTL, the FINN
op, the software accelerator and the Brevitas noise module all take them from here or are tested
against it.
"""

from __future__ import annotations

import numpy as np

STATE_BITS = 64
SAMPLE_BITS = 16
MASK64 = (1 << 64) - 1
SAMPLE_MASK = (1 << SAMPLE_BITS) - 1
#: Lags of the recurrence s[n] = XOR of s[n - lag].
TAP_LAGS = (60, 61, 63, 64)
#: Period of one lane's register sequence, in LFSR steps (and in beats, as 2^64-1 is odd).
PERIOD = (1 << 64) - 1
#: Replaces an all-zero initial state, the one state from which an LFSR never leaves.
ZERO_STATE_SUBSTITUTE = 1

_U64 = np.uint64


def step_beat(state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Advance registers by one beat (16 LFSR steps); return (new_state, 16-bit samples).

    Works elementwise on an array of uint64 registers of any shape.
    """
    s = np.asarray(state, dtype=_U64)
    new_bits = ((s >> _U64(44)) ^ (s >> _U64(45)) ^ (s >> _U64(47)) ^ (s >> _U64(48))) & _U64(
        SAMPLE_MASK
    )
    new_state = (s << _U64(SAMPLE_BITS)) | new_bits
    return new_state, output_filter(new_state)


def output_filter(register: np.ndarray) -> np.ndarray:
    """The lane's sample from its register: u = (w0 + w2) ^ rotl8(w1 + w3), w_i = 16-bit words."""
    r = np.asarray(register, dtype=_U64)
    m = _U64(SAMPLE_MASK)
    w0, w1, w2, w3 = r & m, (r >> _U64(16)) & m, (r >> _U64(32)) & m, (r >> _U64(48)) & m
    a = (w0 + w2) & m
    b = (w1 + w3) & m
    return a ^ (((b << _U64(8)) | (b >> _U64(8))) & m)


def step_bit_reference(state: int) -> int:
    """One single LFSR step on a Python int: the textbook form, used to check `step_beat`."""
    fb = 0
    for lag in TAP_LAGS:
        fb ^= (state >> (lag - 1)) & 1
    return ((state << 1) | fb) & MASK64


# --- GF(2) jump-ahead, so that long streams can be produced in parallel chunks ---------------


def _beat_matrix_columns() -> list[int]:
    """Columns of the 64x64 GF(2) matrix of one beat: column i = image of basis vector e_i."""
    cols = []
    for i in range(64):
        v = np.array([1 << i], dtype=_U64)
        cols.append(int(step_beat(v)[0][0]))
    return cols


def _apply_columns(cols: list[int], v: int) -> int:
    out = 0
    i = 0
    while v:
        if v & 1:
            out ^= cols[i]
        v >>= 1
        i += 1
    return out


def _compose(a: list[int], b: list[int]) -> list[int]:
    """Columns of A @ B (apply B first)."""
    return [_apply_columns(a, c) for c in b]


_BEAT_COLS = _beat_matrix_columns()


def jump_columns(beats: int) -> list[int]:
    """Columns of the matrix that advances a register by `beats` beats (square-and-multiply).

    Plain Python integers: the reference that the vectorized `_jump_tables_cached` (same
    square-and-multiply on byte tables) is tested against, and the period proof's arithmetic.
    """
    if beats < 0:
        raise ValueError(f"beats must be >= 0, got {beats}")
    result = [1 << i for i in range(64)]
    base = _BEAT_COLS
    while beats:
        if beats & 1:
            result = _compose(base, result)
        beats >>= 1
        if beats:
            base = _compose(base, base)
    return result


def _byte_tables(cols: list[int]) -> np.ndarray:
    """8 lookup tables of 256 entries so that a matrix applies with 8 gathers per register."""
    col = np.asarray(cols, dtype=_U64).reshape(8, 8)  # [byte, bit]
    values = np.arange(256)
    tables = np.zeros((8, 256), dtype=_U64)
    for bit in range(8):
        hit = ((values >> bit) & 1).astype(bool)
        tables[:, hit] ^= col[:, bit][:, None]
    return tables


def apply_jump(tables: np.ndarray, state: np.ndarray) -> np.ndarray:
    """Apply a jump matrix (given by its byte tables) to every register in `state`."""
    s = np.asarray(state, dtype=_U64)
    out = np.zeros_like(s)
    for byte in range(8):
        out ^= tables[byte][((s >> _U64(8 * byte)) & _U64(0xFF)).astype(np.intp)]
    return out


_JUMP_TABLES: dict[int, np.ndarray] = {}
_BASIS = np.array([1 << i for i in range(64)], dtype=_U64)


def _squared(tables: np.ndarray) -> np.ndarray:
    """Byte tables of M @ M from those of M."""
    return _byte_tables(apply_jump(tables, apply_jump(tables, _BASIS)))


def _jump_tables_cached(beats: int) -> np.ndarray:
    """Byte tables of the jump by `beats` beats, built once per process (vectorized squaring;
    one squaring when the jump by beats / 2 is already known, as in `samples`' doubling)."""
    tabs = _JUMP_TABLES.get(beats)
    if tabs is None:
        half = _JUMP_TABLES.get(beats // 2) if beats % 2 == 0 else None
        if half is not None:
            tabs = _squared(half)
        else:
            cols = _BASIS.copy()
            base = _byte_tables(_BEAT_COLS)
            k = beats
            while k:
                if k & 1:
                    cols = apply_jump(base, cols)
                k >>= 1
                if k:
                    base = _squared(base)
            tabs = _byte_tables(cols)
        _JUMP_TABLES[beats] = tabs
    return tabs


def advance(state: np.ndarray, beats: int) -> np.ndarray:
    """Registers after `beats` beats, by at most 64 table-driven jumps (one per set bit)."""
    if beats < 0:
        raise ValueError(f"beats must be >= 0, got {beats}")
    s = np.asarray(state, dtype=_U64)
    k = 0
    while beats:
        if beats & 1:
            s = apply_jump(_jump_tables_cached(1 << k), s)
        beats >>= 1
        k += 1
    return s


#: Beats produced per vector step of `samples`: the recurrence's shortest lag is 60 steps, so
#: 48 new bits (3 beats) follow from the register at once.
BEATS_PER_STEP = 3


def samples(initial: np.ndarray, n_beats: int, start_beat: int = 0) -> np.ndarray:
    """16-bit samples of every lane for beats [start_beat, start_beat + n_beats).

    `initial` holds the lanes' registers at beat 0, shape (lanes,). Returns uint16 of shape
    (n_beats, lanes), equal to stepping `step_beat` (tested), in vectorized numpy (this module
    also runs on the board, with numpy only; the software accelerator uses a compiled twin,
    `noisybnn.backends.kernels.lane_stream`, tested equal):

    * the register's 16-bit words form a sequence x[n] (x[n] = the word beat n shifts in), and
      since every tap lags by >= 60 steps, three words (48 bits) follow from one register;
    * the time axis is cut into chunks whose start registers come from GF(2) jump-ahead
      (doubling), so the chunks and the lanes step side by side in numpy;
    * the output filter u[n] = (x[n] + x[n-2]) ^ rotl8(x[n-1] + x[n-3]) then runs on the whole
      word array in uint16 arithmetic (wrapping adds are the hardware's mod-2^16 adders).
    """
    init = np.asarray(initial, dtype=_U64).reshape(-1)
    if n_beats < 0 or start_beat < 0:
        raise ValueError("n_beats and start_beat must be >= 0")
    lanes = init.size
    if n_beats == 0:
        return np.zeros((0, lanes), dtype=np.uint16)
    state = advance(init, start_beat)
    # Chunk length: ~sqrt(n_beats) for short streams, 48 beats (16 vector steps) for long ones.
    steps = max(1, min(16, int(np.sqrt(n_beats / BEATS_PER_STEP))))
    chunk = steps * BEATS_PER_STEP
    n_chunks = -(-n_beats // chunk)
    starts = state[None, :]
    have = 1
    while have < n_chunks:  # starts cover chunks [0, have); a jump by have chunks doubles them
        tabs = _jump_tables_cached(have * chunk)
        starts = np.concatenate([starts, apply_jump(tabs, starts[: n_chunks - have])])
        have = len(starts)
    s = starts  # (n_chunks, lanes) registers, then stepped in place of the chunks
    m16 = _U64(SAMPLE_MASK)
    # words[c, 3 + t] = x[c*chunk + t]; words[c, 0..2] = the three words before the chunk.
    words = np.empty((n_chunks, chunk + 3, lanes), dtype=np.uint16)
    words[:, 0] = (s >> _U64(32)) & m16
    words[:, 1] = (s >> _U64(16)) & m16
    words[:, 2] = s & m16
    for step in range(steps):
        new48 = ((s >> _U64(12)) ^ (s >> _U64(13)) ^ (s >> _U64(15)) ^ (s >> _U64(16))) & _U64(
            (1 << 48) - 1
        )
        t = 3 + BEATS_PER_STEP * step
        words[:, t] = new48 >> _U64(32)  # oldest of the three new words
        words[:, t + 1] = (new48 >> _U64(16)) & m16
        words[:, t + 2] = new48 & m16
        s = (s << _U64(48)) | new48
    x0, x1, x2, x3 = words[:, 3:], words[:, 2:-1], words[:, 1:-2], words[:, :-3]
    a = x0 + x2
    b = x1 + x3
    u = a ^ ((b << np.uint16(8)) | (b >> np.uint16(8)))
    return u.reshape(n_chunks * chunk, lanes)[:n_beats]


def jump_tables(beats: int) -> np.ndarray:
    """Byte tables of the `beats`-beat jump matrix (for tests and one-off use)."""
    return _byte_tables(jump_columns(beats))
