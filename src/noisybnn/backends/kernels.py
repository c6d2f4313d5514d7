"""Compiled inner loops of the software accelerator (numba, one LLVM-IR intrinsic), each with
its numpy twin.

Two loops dominate the software accelerator: the binary layers' match counting and the
injectors' random stream (twin of `noisybnn.hw.lfsr.stream`, which stays numpy-only because it
also runs on the board).

FINN's binary layer (MVAU in XNOR mode) counts, for every neuron, the input bits that match its
weight bits. On a CPU that is popcount(x XOR w) over 64-bit words: a 784-input neuron is 13 words
instead of 784 multiply-adds. Layer outputs stay packed in those words (`xnor_fire_packed`), and
an fc injector's flips are masks on the same words, drawn straight from the stream
(`flip_masks`, the lane ring in LLVM IR). Everything is integer, exact by construction. Where
numba is missing, `AVAILABLE` is False and callers use the numpy paths; the two are tested equal.
"""

from __future__ import annotations

import numpy as np

try:
    import numba
except ImportError:  # pragma: no cover - numba is a pinned dependency; this is the safety net
    numba = None

AVAILABLE = numba is not None


def pack_rows(v: np.ndarray) -> np.ndarray:
    """(N, K) -> (N, ceil(K/64)) uint64: bit k of row = (v[k] > 0), in word k // 64 at k % 64."""
    bits = v if v.dtype == np.bool_ else v > 0
    n, k = bits.shape
    words = -(-k // 64)
    packed = np.packbits(bits, axis=1, bitorder="little")  # (N, ceil(K/8)) bytes
    if packed.shape[1] != words * 8:
        packed = np.concatenate(
            [packed, np.zeros((n, words * 8 - packed.shape[1]), np.uint8)], axis=1)
    return np.ascontiguousarray(packed).view("<u8").astype(np.uint64, copy=False)


def xnor_matches_numpy(v: np.ndarray, wpacked: np.ndarray, mw: int) -> np.ndarray:
    """float32 (n, neurons): matching bits between each row's bits (v > 0) and each neuron."""
    xp = pack_rows(v)
    mismatches = np.zeros((len(v), wpacked.shape[0]), dtype=np.int32)
    for word in range(xp.shape[1]):
        mismatches += np.bitwise_count(xp[:, word, None] ^ wpacked[None, :, word])
    return (mw - mismatches).astype(np.float32)


if AVAILABLE:

    @numba.njit(inline="always")
    def _popcount64(v):  # pragma: no cover - compiled; LLVM turns this idiom into POPCNT
        v = v - ((v >> np.uint64(1)) & np.uint64(0x5555555555555555))
        v = (v & np.uint64(0x3333333333333333)) + ((v >> np.uint64(2)) & np.uint64(0x3333333333333333))
        v = (v + (v >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
        return (v * np.uint64(0x0101010101010101)) >> np.uint64(56)

    @numba.njit(inline="always")
    def _pack_8x8(fb64, j):  # pragma: no cover - compiled
        # 64 bytes of 0/1 (viewed as 8 uint64 from fb64[j]) -> one word, byte k -> bit k: one
        # multiply per 8 bytes (byte k of v sits at bit 8k; v * sum_j 2^(56 - 7j) puts it at
        # bit 56 + k, and no two partial products share a bit, so there are no carries)
        word = np.uint64(0)
        for b in range(8):
            word |= ((fb64[j + b] * np.uint64(0x0102040810204080)) >> np.uint64(56)) \
                << np.uint64(8 * b)
        return word

    @numba.njit(inline="always")
    def _row_mismatches(xp, i, wpacked, counts):  # pragma: no cover - compiled
        # counts[m] = differing bits between input row i and neuron m; a loop of its own (not
        # mixed with what the caller does next) so that it vectorizes
        for m in range(wpacked.shape[0]):
            acc = np.uint64(0)
            for w in range(xp.shape[1]):
                acc += _popcount64(xp[i, w] ^ wpacked[m, w])
            counts[m] = acc

    @numba.njit(cache=True, nogil=True)
    def _xnor_matches(xp, wpacked, mw):  # pragma: no cover - compiled
        n, neurons = xp.shape[0], wpacked.shape[0]
        out = np.empty((n, neurons), dtype=np.float32)
        counts = np.empty(neurons, dtype=np.int64)
        for i in range(n):
            _row_mismatches(xp, i, wpacked, counts)
            for m in range(neurons):
                out[i, m] = mw - counts[m]
        return out

    @numba.njit(cache=True, nogil=True)
    def _xnor_fire(xp, wpacked, max_mismatches, low):  # pragma: no cover - compiled
        # fires when matches = MW - mismatches >= t, i.e. mismatches <= MW - ceil(t)
        n, neurons = xp.shape[0], wpacked.shape[0]
        out = np.empty((n, neurons), dtype=np.float32)
        counts = np.empty(neurons, dtype=np.int64)
        high = np.float32(1.0)
        for i in range(n):
            _row_mismatches(xp, i, wpacked, counts)
            for m in range(neurons):
                out[i, m] = high if counts[m] <= max_mismatches[m] else low
        return out

    @numba.njit(cache=True, nogil=True)
    def _flip_two_valued(v, u, threshold, mask, bipolar):  # pragma: no cover - compiled
        n, neurons = v.shape
        out = np.empty_like(v)
        count = 0
        for i in range(n):
            for j in range(neurons):
                x = v[i, j]
                if mask[j] and np.int64(u[i, j]) < threshold:
                    x = -x if bipolar else np.float32(1.0) - x
                    count += 1
                out[i, j] = x
        return out, count

    @numba.njit(cache=True, nogil=True)
    def _e_words(lo, hi, n_beats):  # pragma: no cover - compiled
        # E as its sequence of 16-bit words: q[k + 6] = N_k, the word step k shifts in; the
        # register before step k holds N_{k-1} (bits 0..15) .. N_{k-5} (64..79) and the low 9 bits
        # of N_{k-6} (80..88), so the taps at 32, 51, 72, 73 are words 3..6 back (lag >= 3).
        q = np.empty(n_beats + 6, dtype=np.uint32)
        m16 = np.uint32(0xFFFF)
        q[5] = np.uint32(lo & np.uint64(0xFFFF))
        q[4] = np.uint32((lo >> np.uint64(16)) & np.uint64(0xFFFF))
        q[3] = np.uint32((lo >> np.uint64(32)) & np.uint64(0xFFFF))
        q[2] = np.uint32(lo >> np.uint64(48))
        q[1] = np.uint32(hi & np.uint64(0xFFFF))
        q[0] = np.uint32(hi >> np.uint64(16))
        for k in range(n_beats):
            a, b, c, d = q[k + 3], q[k + 2], q[k + 1], q[k]
            q[k + 6] = (a ^ (b >> np.uint32(3)) ^ (c << np.uint32(13)) ^ (c >> np.uint32(8))
                        ^ (d << np.uint32(8)) ^ (c >> np.uint32(9)) ^ (d << np.uint32(7))) & m16
        n = n_beats
        lo = (np.uint64(q[n + 5]) | np.uint64(q[n + 4]) << np.uint64(16)
              | np.uint64(q[n + 3]) << np.uint64(32) | np.uint64(q[n + 2]) << np.uint64(48))
        hi = np.uint64(q[n + 1]) | np.uint64(q[n] & np.uint32(0x1FF)) << np.uint64(16)
        return q[6:], q[4:n + 4], lo, hi

    @numba.njit(cache=True, nogil=True)
    def _run(lo, hi, w_in, ua, sa, ub, sb, kd, a16, b16, d16, n_beats,
             collect):  # pragma: no cover - compiled
        # Two passes. (1) The part of X that does not depend on W, Y_l = rotl(N, a_l) ^
        # rotl(E1, b_l) ^ D_l, for every beat and lane: independent work, vectorised over lanes,
        # written into row t + 1 of `buf`. (2) The serial part, beat by beat: row t + 1 becomes
        # W after the step, W_l - (rotl(W_{l-1}, 5) ^ Y_l), read from row t (the samples of beat
        # t are row t). Without `collect`, blocks of 4096 beats reuse one buffer.
        lanes = w_in.shape[0]
        block = n_beats if collect else min(n_beats, 4096)
        buf = np.empty((block + 1, lanes), dtype=np.uint16)
        lo, hi, w_out = _run_blocks(buf, lo, hi, w_in, ua, sa, ub, sb, kd, a16, b16, d16, n_beats)
        return buf[:n_beats] if collect else buf[:0], lo, hi, w_out

    @numba.njit(cache=True, nogil=True)
    def _empty_u16(size):  # pragma: no cover - compiled
        return np.empty(size, dtype=np.uint16)

    @numba.njit(cache=True, nogil=True)
    def _run_into(buf, lo, hi, w_in, ua, sa, ub, sb, kd, a16, b16, d16,
                  n_beats):  # pragma: no cover - compiled
        # `_run` collecting into the caller's buffer (n_beats + 1 rows): samples in rows 0..n-1
        return _run_blocks(buf, lo, hi, w_in, ua, sa, ub, sb, kd, a16, b16, d16, n_beats)

    @numba.njit(cache=True, nogil=True)
    def _run_blocks(buf, lo, hi, w_in, ua, sa, ub, sb, kd, a16, b16, d16,
                    n_beats):  # pragma: no cover - compiled
        # the steps of `_run` in blocks of len(buf) - 1 beats (all of them when collecting)
        ns, e1s, lo, hi = _e_words(lo, hi, n_beats)
        lanes = w_in.shape[0]
        block = buf.shape[0] - 1
        for lane in range(lanes):
            buf[0, lane] = w_in[lane]
        m16 = np.uint32(0xFFFF)
        f15, s16 = np.uint16(15), np.uint16(16)
        done = 0
        while done < n_beats:
            nb = min(block, n_beats - done)
            if done > 0:
                for lane in range(lanes):
                    buf[0, lane] = buf[block, lane]
            if lanes == 1:  # the ring is the lane itself: one fused scalar loop (op-bound)
                w0 = np.uint32(buf[0, 0])
                a0, b0, c0, d0, k0 = ua[0], sa[0], ub[0], sb[0], kd[0]
                for t in range(nb):
                    n, e1 = ns[done + t], e1s[done + t]
                    x0 = ((((w0 << np.uint32(5)) | (w0 >> np.uint32(11))) ^ ((n << a0) | (n >> b0))
                           ^ ((e1 << c0) | (e1 >> d0))) & m16) ^ k0
                    w0 = (w0 - x0) & m16
                    buf[t + 1, 0] = np.uint16(w0)
            else:
                for t0 in range(0, nb, 256):  # sub-blocks of 256 beats: Y stays in L1 for (2)
                    t1 = min(nb, t0 + 256)
                    for t in range(t0, t1):
                        # in 16-bit arithmetic (rotations masked to 0..15) so that LLVM keeps
                        # 16-bit lanes: variable word rotates (vpshldvw where the CPU has it)
                        n, e1 = np.uint16(ns[done + t]), np.uint16(e1s[done + t])
                        for lane in range(lanes):
                            a, b = a16[lane] & f15, b16[lane] & f15
                            ra = np.uint16(np.uint16(n << a) | np.uint16(n >> ((s16 - a) & f15)))
                            rb = np.uint16(np.uint16(e1 << b) | np.uint16(e1 >> ((s16 - b) & f15)))
                            buf[t + 1, lane] = np.uint16(ra ^ rb ^ d16[lane])
                    for t in range(t0, t1):
                        v = np.uint32(buf[t, lanes - 1])
                        buf[t + 1, 0] = np.uint16((np.uint32(buf[t, 0]) - ((((v << np.uint32(5))
                                                   | (v >> np.uint32(11))) & m16)
                                                   ^ np.uint32(buf[t + 1, 0]))) & m16)
                        for lane in range(1, lanes):
                            v = np.uint32(buf[t, lane - 1])
                            buf[t + 1, lane] = np.uint16((np.uint32(buf[t, lane]) - ((((v << np.uint32(5))
                                                          | (v >> np.uint32(11))) & m16)
                                                          ^ np.uint32(buf[t + 1, lane]))) & m16)
            done += nb
            if nb < block:  # last, short block: move its end state to where it is read
                for lane in range(lanes):
                    buf[block, lane] = buf[nb, lane]
        w_out = buf[block].copy()
        return lo, hi, w_out


_LANE_ARGS: dict[int, tuple] = {}


def _lane_args(lanes: int) -> tuple:
    """The lane constants as the compiled runner takes them (uint32 rotations and their
    complements), made once per lane count."""
    args = _LANE_ARGS.get(lanes)
    if args is None:
        from noisybnn.hw import lfsr

        c = lfsr.lane_constants(lanes)
        ua, ub = c.a.astype(np.uint32), c.b.astype(np.uint32)
        args = (ua, (np.uint32(16) - ua) & np.uint32(15), ub, (np.uint32(16) - ub) & np.uint32(15),
                c.d.astype(np.uint32), c.a.astype(np.uint16), c.b.astype(np.uint16),
                c.d.astype(np.uint16))
        _LANE_ARGS[lanes] = args
    return args


def _run_compiled(state, n_beats: int, collect: bool):
    """`noisybnn.hw.lfsr` runner (same signature as its numpy `_run_numpy`), compiled."""
    from noisybnn.hw import lfsr

    lo, hi = state.e & lfsr.MASK64, state.e >> 64
    lanes = state.w.size
    if lanes <= FUSED_MAX_LANES:  # the lane ring in registers (`_ring_beats`)
        out = np.empty((n_beats if collect else 1, lanes), dtype=np.uint16)
        w = np.array(state.w, dtype=np.uint16)
        tag, cst = _fused_consts(lanes)
        lo, hi = _ring_masks(tag, np.uint64(lo), np.uint64(hi), w, cst, 1, int(n_beats), 0, out,
                             bool(collect), _SCRATCH8, 0, False)
        return (out if collect else None), lfsr.State(int(lo) | int(hi) << 64, w)
    out, lo, hi, w = _run(np.uint64(lo), np.uint64(hi), np.ascontiguousarray(state.w, dtype=np.uint16),
                          *_lane_args(lanes), int(n_beats), bool(collect))
    return (out if collect else None), lfsr.State(int(lo) | int(hi) << 64, w)


#: Where the ring kernel writes masks nobody asked for.
_SCRATCH8 = np.zeros(8, dtype=np.uint8)


def runner():
    """The compiled runner where numba is there, else None (the numpy reference runs)."""
    return _run_compiled if AVAILABLE else None


def lane_stream(seed_word: int, lanes: int, n_beats: int, start_beat: int = 0) -> np.ndarray:
    """uint16 (n_beats, lanes): `noisybnn.hw.lfsr.stream` through the compiled runner (tested
    equal); resumes from the states that module caches."""
    from noisybnn.hw import lfsr

    return lfsr.stream(seed_word, lanes, n_beats, start_beat, runner())


def empty_samples(size: int) -> np.ndarray:
    """A new uint16 buffer for `lane_stream_into`, from numba's allocator where numba is there:
    numpy advises huge pages for arrays >= 4 MiB, and on this VM their first touch (zeroing,
    compaction) cost 8x more than small pages (20 MB: 140 ms against 17 ms)."""
    return _empty_u16(int(size)) if AVAILABLE else np.empty(int(size), dtype=np.uint16)


def lane_stream_into(out: np.ndarray, seed_word: int, lanes: int, n_beats: int,
                     start_beat: int = 0) -> np.ndarray:
    """`lane_stream` written into `out`, a uint16 array of at least (n_beats + 1) * lanes
    elements that the caller owns (memory that was touched before: a fresh multi-MB array
    costs a page fault per 4 KiB on first touch, about as much as computing it). Returns the
    (n_beats, lanes) view; resumes from, and records in, `noisybnn.hw.lfsr`'s state cache."""
    from noisybnn.hw import lfsr

    if not AVAILABLE:
        view = out.reshape(-1)[: n_beats * lanes].reshape(n_beats, lanes)
        view[...] = lane_stream(seed_word, lanes, n_beats, start_beat)
        return view
    if n_beats < 0 or start_beat < 0:
        raise ValueError("n_beats and start_beat must be >= 0")
    st = lfsr.state_at(seed_word, lanes, start_beat, runner())
    buf = out.reshape(-1)[: (n_beats + 1) * lanes].reshape(n_beats + 1, lanes)
    lo, hi = st.e & lfsr.MASK64, st.e >> 64
    if lanes <= FUSED_MAX_LANES:  # the lane ring in registers (`_ring_beats`)
        w = np.array(st.w, dtype=np.uint16)
        tag, cst = _fused_consts(lanes)
        lo, hi = _ring_masks(tag, np.uint64(lo), np.uint64(hi), w, cst, 1, int(n_beats), 0, buf,
                             True, _SCRATCH8, 0, False)
        lfsr._remember(seed_word, lanes, start_beat + n_beats,
                       lfsr.State(int(lo) | int(hi) << 64, w))
        return buf[:n_beats]
    lo, hi, w = _run_into(buf, np.uint64(lo), np.uint64(hi), np.ascontiguousarray(st.w, np.uint16),
                          *_lane_args(lanes), int(n_beats))
    lfsr._remember(seed_word, lanes, start_beat + n_beats, lfsr.State(int(lo) | int(hi) << 64, w))
    return buf[:n_beats]


def lane_samples(cfg, n_beats: int, start_beat: int = 0) -> np.ndarray:
    """`noisybnn.hw.injector.lane_samples` through the compiled stream (same result)."""
    from noisybnn.hw.injector import seed_word

    if n_beats < 0 or start_beat < 0:
        raise ValueError("n_beats and start_beat must be >= 0")
    return lane_stream(seed_word(cfg.seed), cfg.lanes, n_beats, start_beat)


def xnor_matches(v: np.ndarray, wpacked: np.ndarray, mw: int) -> np.ndarray:
    """`xnor_matches_numpy` with the counting loop compiled (same result)."""
    if not AVAILABLE:
        return xnor_matches_numpy(v, wpacked, mw)
    return _xnor_matches(pack_rows(v), wpacked, int(mw))


def xnor_fire(v: np.ndarray, wpacked: np.ndarray, mw: int, thresholds: np.ndarray,
              low: float) -> np.ndarray:
    """A binary layer with one threshold per neuron: 1 where matches >= threshold, else `low`
    (0 for BINARY outputs, -1 for BIPOLAR); float32 (n, neurons). Counting and compare fused."""
    t = np.ascontiguousarray(thresholds, dtype=np.float64).reshape(-1)
    if not AVAILABLE:
        fire = xnor_matches_numpy(v, wpacked, mw) >= t[None, :]
        return np.where(fire, np.float32(1), np.float32(low)).astype(np.float32)
    max_mismatches = (mw - np.ceil(t)).astype(np.int64)  # exact: matches are integers
    return _xnor_fire(pack_rows(v), wpacked, max_mismatches, np.float32(low))


def flip_two_valued(v: np.ndarray, u: np.ndarray, threshold: int, mask: np.ndarray | None,
                    bipolar: bool) -> tuple[np.ndarray, int]:
    """Flip neurons of a binary layer where the injector's sample u < threshold (and the neuron
    is in `mask`): BINARY 0 <-> 1, BIPOLAR -1 <-> +1. Returns (new values, number of flips).

    v: float32 (n, neurons); u: uint16 (n, neurons), the lane samples in neuron order.
    """
    mask = np.ones(v.shape[1], dtype=np.bool_) if mask is None else np.asarray(mask, dtype=np.bool_)
    if not AVAILABLE:
        flips = (u.astype(np.int64) < threshold) & mask[None, :]
        return np.where(flips, -v if bipolar else 1 - v, v), int(np.count_nonzero(flips))
    out, count = _flip_two_valued(np.ascontiguousarray(v, dtype=np.float32),
                                  np.ascontiguousarray(u), int(threshold), mask, bool(bipolar))
    return out, int(count)


#: Neurons per block of the packed-output XNOR kernel (weights of a block: words x CH x 8
#: bytes, 32 KiB for CH = 256 and 16 words, which stays in a 48 KiB L1 data cache).
CHUNK = 256


def chunk_weights(wpacked: np.ndarray, chunk: int = CHUNK) -> np.ndarray:
    """(neurons, words) packed weights -> (chunks, words, CH) uint64, the layout
    `xnor_fire_packed` reads; CH = `chunk`, or the neuron count rounded up to 8 for small
    layers; padding is zero weights whose outputs are never written."""
    neurons, words = wpacked.shape
    ch = min(chunk, -(-neurons // 8) * 8)
    nch = -(-neurons // ch)
    padded = np.zeros((nch * ch, words), dtype=np.uint64)
    padded[:neurons] = wpacked
    return np.ascontiguousarray(padded.reshape(nch, ch, words).transpose(0, 2, 1))


def as_bits(v: np.ndarray) -> np.ndarray:
    """Bool view/array of (v > 0): 0/1 bytes are viewed, not compared."""
    if v.dtype == np.bool_:
        return v
    if v.dtype == np.uint8:
        return v.view(np.bool_)  # our 0/1 bytes
    return v > 0


if AVAILABLE:

    @numba.njit(cache=True, nogil=True)
    def _xor_popcount_sum(a, b, reps):  # pragma: no cover - compiled
        # the XNOR layers' arithmetic with nothing else: XOR and popcount of cache-resident words
        # summed into a register (LLVM vectorises it to vpxor / vpopcntq where the CPU has them)
        tot = np.uint64(0)
        for r in range(reps):
            acc = np.uint64(r)
            for i in range(a.shape[0]):
                acc += _popcount64(a[i] ^ b[i])
            tot += acc
        return tot


def popcount_loop(words: int = 2048, reps: int = 2000) -> tuple[int, float]:
    """Run the pure XOR+popcount loop once over `words` x `reps` uint64 words (two 16 KiB
    arrays, L1-resident); returns (words counted, seconds). Its rate bounds what any XNOR kernel
    built the same way can reach on this machine: `bench` divides it by a model's words per
    image for an images/s ceiling. numba is needed."""
    import time

    if not AVAILABLE:
        raise RuntimeError("the popcount ceiling needs numba")
    rng = np.random.default_rng(0)
    a = rng.integers(0, 2**63, words, dtype=np.int64).astype(np.uint64)
    b = rng.integers(0, 2**63, words, dtype=np.int64).astype(np.uint64)
    _xor_popcount_sum(a, b, 1)
    t0 = time.perf_counter()
    _xor_popcount_sum(a, b, reps)
    return words * reps, time.perf_counter() - t0


# --- fused injector stream -> flip masks (the fc fast path) -------------------------------------
#
# An fc injector with PE lanes flips neuron f * PE + l of an image at beat f when lane l's
# sample is below the threshold, so one beat's PE decisions are PE consecutive bits of the
# image's packed row: the stream can be turned into flip masks on packed words directly, the
# samples never written to memory (PE = 8..64 in steps of 8: whole bytes per beat; PE = 1, 2, 4:
# bits ORed into their word). The lane update is written in LLVM IR (one vector of PE 16-bit
# lanes kept in registers across beats: the ring shift is a lane shuffle, vpermw; the rotations
# funnel shifts, vpshldvw / vpshldw; the compare a vector compare whose mask register is the
# beat's flip bits), because numba's arrays would round-trip the ring through memory every beat
# (a misaligned reload of the row just stored: a failed store-to-load forward per beat). The
# same ring, collecting the samples, serves `lane_stream` for every lane count up to 64.

#: Most lanes the IR ring takes (one or two 512-bit vectors of 16-bit lanes).
FUSED_MAX_LANES = 64

if AVAILABLE:
    from llvmlite import ir as _ir
    from numba import types as _nt
    from numba.core import cgutils as _cg
    from numba.extending import intrinsic as _intrinsic

    @_intrinsic
    def _ring_beats(typingctx, tag, w, cst, ew, count, thrm1, u, uoff, ustep, mb, moff,
                    mstep):  # pragma: no cover - compiled
        """count beats of E and the lane ring; lanes = len(tag); state updated in place: w (the
        lanes' W), ew (E as its last six 16-bit words, the window q[k..k+5] of `_e_words`).
        Beat k: sample = W (stored at u[uoff + k*ustep], PE uint16), flip bits (sample <=
        thrm1) stored at mb[moff + ...] (see `_ring_masks`), then the step: E's new word N and
        E1 from the window (scalar, in registers), every lane's update at once."""
        if not isinstance(tag, _nt.UniTuple):
            return None
        lanes = tag.count
        sig = _nt.none(tag, w, cst, ew, count, thrm1, u, uoff, ustep, mb, moff, mstep)

        def codegen(context, builder, sig, args):
            i16, i32, i64 = _ir.IntType(16), _ir.IntType(32), _ir.IntType(64)
            vt = _ir.VectorType(i16, lanes)
            mt = _ir.IntType(lanes)

            def data(i):
                return context.make_array(sig.args[i])(context, builder, args[i]).data

            def as_int(i):
                return context.cast(builder, args[i], sig.args[i], _nt.int64)

            def vptr(elem_ptr, off):
                return builder.bitcast(builder.gep(elem_ptr, [off]), vt.as_pointer())

            undef = _ir.Constant(vt, _ir.Undefined)
            zeros = _ir.Constant(_ir.VectorType(i32, lanes), [0] * lanes)

            def splat(s):
                return builder.shuffle_vector(builder.insert_element(undef, s, i32(0)), undef,
                                              zeros)

            fshl = _cg.get_or_insert_function(builder.module, _ir.FunctionType(vt, [vt, vt, vt]),
                                              f"llvm.fshl.v{lanes}i16")
            wp = builder.bitcast(data(1), vt.as_pointer())
            cp = data(2)
            a = builder.load(vptr(cp, i64(0)), align=2)
            b = builder.load(vptr(cp, i64(lanes)), align=2)
            d = builder.load(vptr(cp, i64(2 * lanes)), align=2)
            state = _cg.alloca_once(builder, vt)
            builder.store(builder.load(wp, align=2), state)
            acc = _cg.alloca_once(builder, i64)  # the mask word being built (1, 2, 4 lanes)
            builder.store(i64(0), acc)
            ep = data(3)
            window = [_cg.alloca_once(builder, i32) for _ in range(6)]
            for j in range(6):
                builder.store(builder.load(builder.gep(ep, [i64(j)])), window[j])
            up, mbp = data(6), data(9)
            uoffv, ustepv = as_int(7), as_int(8)
            moffv, mstepv = as_int(10), as_int(11)
            thr = splat(builder.trunc(as_int(5), i16))
            ring = _ir.Constant(_ir.VectorType(i32, lanes), [lanes - 1] + list(range(lanes - 1)))
            five = _ir.Constant(vt, [5] * lanes)
            with _cg.for_range(builder, as_int(4)) as loop:
                k = loop.index
                q0, q1, q2, q3, q4, q5 = (builder.load(x) for x in window)
                # E's new 16-bit word from words 3..6 back (`_e_words`), E1 = the word 2 back
                shl, shr = builder.shl, builder.lshr
                new = builder.and_(
                    builder.xor(builder.xor(builder.xor(q3, shr(q2, i32(3))),
                                            builder.xor(shl(q1, i32(13)), shr(q1, i32(8)))),
                                builder.xor(builder.xor(shl(q0, i32(8)), shr(q1, i32(9))),
                                            shl(q0, i32(7)))), i32(0xFFFF))
                for x, v in zip(window, (q1, q2, q3, q4, q5, new), strict=True):
                    builder.store(v, x)
                n = splat(builder.trunc(new, i16))
                e1 = splat(builder.trunc(q4, i16))
                wv = builder.load(state)
                builder.store(wv, vptr(up, builder.add(uoffv, builder.mul(k, ustepv))), align=2)
                flips = builder.bitcast(builder.icmp_unsigned("<=", wv, thr), mt)
                if lanes % 8 == 0:  # a beat's bits are whole bytes: store them
                    mptr = builder.gep(mbp, [builder.add(moffv, builder.mul(k, mstepv))])
                    builder.store(flips, builder.bitcast(mptr, mt.as_pointer()), align=1)
                else:  # 1, 2 or 4 lanes: the bits build up their 64-bit word in a register
                    # (bit k * mstep; restarted at each word's first beat), stored every beat
                    bit = builder.mul(k, mstepv)
                    sh = builder.and_(bit, i64(63))
                    kept = builder.select(builder.icmp_unsigned("==", sh, i64(0)), i64(0),
                                          builder.load(acc))
                    word = builder.or_(kept, builder.shl(builder.zext(flips, i64), sh))
                    builder.store(word, acc)
                    mptr = builder.bitcast(builder.gep(mbp, [builder.add(
                        moffv, builder.shl(builder.lshr(bit, i64(6)), i64(3)))]), i64.as_pointer())
                    builder.store(word, mptr, align=1)
                y = builder.xor(builder.xor(builder.call(fshl, [n, n, a]),
                                            builder.call(fshl, [e1, e1, b])), d)
                prev = builder.shuffle_vector(wv, undef, ring)
                x = builder.xor(builder.call(fshl, [prev, prev, five]), y)
                builder.store(builder.sub(wv, x), state)
            builder.store(builder.load(state), wp, align=2)
            for j in range(6):
                builder.store(builder.load(window[j]), builder.gep(ep, [i64(j)]))
            return context.get_dummy_value()

        return sig, codegen

    @numba.njit(cache=True, nogil=True)
    def _ring_masks(tag, lo, hi, w, cst, n_img, nf, thrm1, u, collect, mb, rowbytes,
                    want_masks):  # pragma: no cover - compiled
        # n_img * nf beats from state (lo, hi, w): flip bits of image i, beat f at bytes
        # mb[i, f * PE / 8 ...] if want_masks (else mb is >= 8 bytes of scratch); the samples
        # into u (n_img * nf, PE) if collect (else u is PE scratch); w updated in place
        lanes = len(tag)
        ew = np.empty(6, dtype=np.uint32)  # E as the window q[0..5] of `_e_words`
        m16 = np.uint64(0xFFFF)
        ew[5] = np.uint32(lo & m16)
        ew[4] = np.uint32((lo >> np.uint64(16)) & m16)
        ew[3] = np.uint32((lo >> np.uint64(32)) & m16)
        ew[2] = np.uint32(lo >> np.uint64(48))
        ew[1] = np.uint32(hi & m16)
        ew[0] = np.uint32(hi >> np.uint64(16))
        ustep = lanes if collect else 0
        # bytes per beat where a beat's bits are whole bytes, else bits per beat (1, 2, 4)
        mstep = (lanes // 8 if lanes % 8 == 0 else lanes) if want_masks else 0
        rstep = rowbytes if want_masks else 0
        mflat = mb.reshape(-1)
        uflat = u.reshape(-1)
        for i in range(n_img):
            _ring_beats(tag, w, cst, ew, nf, thrm1, uflat, i * nf * ustep, ustep, mflat,
                        i * rstep, mstep)
        lo = (np.uint64(ew[5]) | np.uint64(ew[4]) << np.uint64(16)
              | np.uint64(ew[3]) << np.uint64(32) | np.uint64(ew[2]) << np.uint64(48))
        hi = np.uint64(ew[1]) | np.uint64(ew[0] & np.uint32(0x1FF)) << np.uint64(16)
        return lo, hi

    @numba.njit(cache=True, nogil=True)
    def _xor_masks(xp, masks, fault):  # pragma: no cover - compiled
        # in place: xp ^= masks & fault (packed words); returns the number of bits flipped
        n, words = xp.shape
        count = np.uint64(0)
        for i in range(n):
            for w in range(words):
                f = masks[i, w] & fault[w]
                xp[i, w] ^= f
                count += _popcount64(f)
        return count


_LANE_CST: dict[int, tuple] = {}


def _fused_consts(lanes: int) -> tuple:
    """(tag, a|b|d as one uint16 array) for the fused kernel, made once per lane count."""
    got = _LANE_CST.get(lanes)
    if got is None:
        from noisybnn.hw import lfsr

        c = lfsr.lane_constants(lanes)
        got = ((0,) * lanes, np.ascontiguousarray(np.concatenate([c.a, c.b, c.d]), np.uint16))
        _LANE_CST[lanes] = got
    return got


def fused_lanes_ok(lanes: int) -> bool:
    """Whether `flip_masks` takes this lane count (compiled kernel; a beat's bits are whole
    bytes, 8..64 lanes, or never straddle a 64-bit word, 1, 2 or 4 lanes)."""
    return AVAILABLE and (lanes in (1, 2, 4) or (lanes % 8 == 0 and 8 <= lanes <= FUSED_MAX_LANES))


def flip_masks(seed_word: int, lanes: int, n_images: int, neurons: int, threshold: int,
               start_beat: int, samples: np.ndarray | None = None) -> np.ndarray:
    """Packed flip masks uint64 (n_images, ceil(neurons / 64)) of an fc injector with `lanes`
    lanes (PE; `fused_lanes_ok`), for beats [start_beat, start_beat + n_images * neurons/lanes)
    of the run seeded with `seed_word`: bit j of row i is set where neuron j of image i flips
    (its lane sample < threshold). The same decisions as `lane_stream` + compare (tested).
    With `samples` (uint16, at least beats * lanes elements), the samples are written there too.
    Resumes from, and records in, `noisybnn.hw.lfsr`'s state cache."""
    from noisybnn.hw import lfsr

    if not fused_lanes_ok(lanes):
        raise ValueError(f"the fused stream kernel takes 1, 2, 4 or 8..{FUSED_MAX_LANES} lanes "
                         f"in steps of 8, got {lanes}")
    if neurons % lanes:
        raise ValueError(f"{neurons} neurons are not a whole number of beats of {lanes} lanes")
    nf = neurons // lanes
    words = -(-neurons // 64)
    masks = np.zeros((n_images, words), dtype=np.uint64)
    if threshold <= 0 or n_images == 0:
        if samples is None:
            return masks
    st = lfsr.state_at(seed_word, lanes, start_beat, runner())
    tag, cst = _fused_consts(lanes)
    w = np.array(st.w, dtype=np.uint16)
    collect = samples is not None
    u = samples.reshape(-1) if collect else np.empty(lanes, np.uint16)
    if collect and u.size < n_images * nf * lanes:
        raise ValueError("samples buffer too small")
    thrm1 = min(int(threshold), 1 << 16) - 1  # flip iff sample <= threshold - 1
    if thrm1 < 0:  # no flips at all; the samples are still wanted
        thrm1, scratch = 0, True
    else:
        scratch = False
    mview = masks.view(np.uint8)
    lo, hi = _ring_masks(tag, np.uint64(st.e & lfsr.MASK64), np.uint64(st.e >> 64), w, cst,
                         int(n_images), int(nf), int(thrm1), u, collect, mview, int(words * 8),
                         True)
    if scratch:
        masks[...] = 0
    lfsr._remember(seed_word, lanes, start_beat + n_images * nf,
                   lfsr.State(int(lo) | int(hi) << 64, w))
    return masks


def flip_masks_numpy(u: np.ndarray, threshold: int, neurons: int) -> np.ndarray:
    """The numpy twin of `flip_masks` from lane samples u (n_images * NF, lanes) uint16."""
    n = u.size // neurons
    bits = u.reshape(n, neurons).astype(np.int64) < threshold
    return pack_rows(bits)


def sample_masks(u: np.ndarray, threshold: int, neurons: int) -> np.ndarray:
    """`flip_masks_numpy` compiled (lane counts the fused kernel does not take: PE < 8)."""
    if not AVAILABLE:
        return flip_masks_numpy(u, threshold, neurons)
    n = u.size // neurons
    out = np.empty((n, -(-neurons // 64)), dtype=np.uint64)
    _sample_masks(np.ascontiguousarray(u).reshape(-1), int(threshold), neurons, out)
    return out


if AVAILABLE:

    @numba.njit(cache=True, nogil=True)
    def _sample_masks(u, threshold, neurons, out):  # pragma: no cover - compiled
        # compare a row's samples into 0/1 bytes (vectorised), 8 bytes -> 8 bits by one
        # multiply (as in `_fire_packed`); bytes past `neurons` stay 0
        n, words = out.shape
        fb = np.zeros(words * 64, dtype=np.uint8)
        fb64 = fb.view(np.uint64)
        for i in range(n):
            base = i * neurons
            for j in range(neurons):
                fb[j] = np.uint8(np.int64(u[base + j]) < threshold)
            for w in range(words):
                out[i, w] = _pack_8x8(fb64, w * 8)


def xor_masks(xp: np.ndarray, masks: np.ndarray, fault: np.ndarray | None) -> int:
    """xp ^= masks (& the packed fault mask), in place on packed words; returns the flips."""
    if fault is None:
        fault = np.full(xp.shape[1], np.uint64(2**64 - 1))
    if not AVAILABLE:
        f = masks & fault[None, :]
        xp ^= f
        return int(np.bitwise_count(f).sum())
    return int(_xor_masks(xp, masks, fault))


# --- binary layer with packed output --------------------------------------------------------------

if AVAILABLE:

    @numba.njit(cache=True, nogil=True)
    def _fire_packed(xp, wc, max_mismatches, neurons):  # pragma: no cover - compiled
        # Blocked for the cache and for SIMD: the neurons in chunks of CH (weights laid out
        # (chunk, word, neuron), a chunk's weights stay in L1 while every image passes); per
        # image the chunk's mismatch counts build up over the words, four words per pass, in a
        # loop over the chunk's neurons that LLVM vectorises (vpxor / vpopcntq / vpaddq across
        # neurons: no horizontal sums). The output is packed like the input: bit m % 64 of word
        # m // 64 of row i is 1 where neuron m fires (padding bits 0), so the next layer and the
        # injector's masks read it as is (no byte array, no packing pass).
        n, words = xp.shape
        nch, _, ch = wc.shape
        out = np.zeros((n, -(-neurons // 64)), dtype=np.uint64)
        counts = np.zeros(ch, dtype=np.uint64)
        fb = np.zeros(-(-ch // 64) * 64, dtype=np.uint8)  # bytes past mlen stay 0
        fb64 = fb.view(np.uint64)
        w4 = words - words % 4
        for c in range(nch):
            m0 = c * ch
            mlen = min(ch, neurons - m0)
            for i in range(n):
                for m in range(ch):
                    counts[m] = 0
                for w in range(0, w4, 4):
                    x0, x1, x2, x3 = xp[i, w], xp[i, w + 1], xp[i, w + 2], xp[i, w + 3]
                    for m in range(ch):
                        counts[m] += ((_popcount64(x0 ^ wc[c, w, m]) + _popcount64(x1 ^ wc[c, w + 1, m]))
                                      + (_popcount64(x2 ^ wc[c, w + 2, m])
                                         + _popcount64(x3 ^ wc[c, w + 3, m])))
                for w in range(w4, words):
                    x0 = xp[i, w]
                    for m in range(ch):
                        counts[m] += _popcount64(x0 ^ wc[c, w, m])
                # compare into 0/1 bytes (vectorised), then 8 bytes -> 8 bits by one multiply:
                # byte k of v at bit 8k, times sum 2^(56 - 7j), puts byte k at bit 56 + k
                for m in range(mlen):
                    fb[m] = np.uint8(np.int64(counts[m]) <= max_mismatches[m0 + m])
                for m in range(mlen, fb.shape[0]):  # a short last chunk: no stale bytes
                    fb[m] = 0
                for g in range(0, mlen, 64):
                    out[i, (m0 + g) >> 6] = _pack_8x8(fb64, g >> 3)
        return out


def xnor_fire_packed(xp: np.ndarray, wpacked: np.ndarray, wchunks: np.ndarray, mw: int,
                     thresholds: np.ndarray) -> np.ndarray:
    """A binary layer (one threshold per neuron, two output values) from packed input rows to
    packed output rows, uint64 (n, ceil(neurons / 64)): bit = 1 where the neuron fires.
    xp: `pack_rows` of the input bits (or a previous layer's output)."""
    t = np.ascontiguousarray(thresholds, dtype=np.float64).reshape(-1)
    neurons = wpacked.shape[0]
    if not AVAILABLE:
        bits = np.unpackbits(xp.view(np.uint8), axis=1, count=wpacked.shape[1] * 64,
                             bitorder="little").view(np.bool_)
        return pack_rows(xnor_matches_numpy(bits, wpacked, mw) >= t[None, :])
    if wchunks.shape[0] > 1 and wchunks.shape[2] % 64:
        raise ValueError("packed output needs chunks of a multiple of 64 neurons")
    max_mismatches = (mw - np.ceil(t)).astype(np.int64)  # exact: matches are integers
    return _fire_packed(xp, wchunks, max_mismatches, neurons)


def xnor_matches_packed(xp: np.ndarray, wpacked: np.ndarray, mw: int) -> np.ndarray:
    """`xnor_matches` on packed input rows: float32 (n, neurons) matching bits."""
    if not AVAILABLE:
        bits = np.unpackbits(xp.view(np.uint8), axis=1, count=wpacked.shape[1] * 64,
                             bitorder="little").view(np.bool_)
        return xnor_matches_numpy(bits, wpacked, mw)
    return _xnor_matches(xp, wpacked, int(mw))


def unpack_rows(xp: np.ndarray, count: int) -> np.ndarray:
    """Bool (n, count): the first `count` bits of each packed row (inverse of `pack_rows`)."""
    return np.unpackbits(np.ascontiguousarray(xp).view(np.uint8), axis=1, count=count,
                         bitorder="little").view(np.bool_)


if AVAILABLE:


    @numba.njit(cache=True, nogil=True)
    def _threshold_pack(x, t):  # pragma: no cover - compiled
        n, k = x.shape
        words = -(-k // 64)
        out = np.empty((n, words), dtype=np.uint64)
        fb = np.zeros(words * 64, dtype=np.uint8)  # bytes past k stay 0
        fb64 = fb.view(np.uint64)
        for i in range(n):
            for j in range(k):
                fb[j] = np.uint8(x[i, j] >= t)
            for w in range(words):
                out[i, w] = _pack_8x8(fb64, w * 8)
        return out


def threshold_pack(x: np.ndarray, t) -> np.ndarray:
    """`pack_rows(x >= t)` for uint8 pixels x (n, K) and one uint8 threshold t, in one pass."""
    if not AVAILABLE:
        return pack_rows(x >= t)
    return _threshold_pack(np.ascontiguousarray(x), np.uint8(t))
