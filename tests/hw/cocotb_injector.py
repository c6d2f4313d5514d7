"""cocotb tests of hls/rtl/noise_injector_core.v against noisybnn.hw.injector.inject_stream.

Run by tests/hw/test_rtl_injector.py (not collected by pytest itself). The harness
(`_rtl_harness.py`) holds several cores of different shapes; one coroutine drives all of them.

Each core gets its own schedule of *segments*: a configuration, whether it starts with a reseed
strobe, a block of random input beats, and random valid/ready stall probabilities. A segment
without reseed continues the run (its expected output uses `start_beat` = beats since reseed),
which checks that the generator and the fold counter advance in every mode. The threshold port
is set at the start of each segment, but the core takes it only at a reseed (its reseed sequence
programs the compare tables), so a segment without reseed whose threshold differs is expected
with the threshold of the last reseed: the new value must have no effect yet. A segment whose
mask differs writes every mask word through the core's mask port
(in random order, plus a word beyond the layer that must be ignored) before its first beat is
offered, as the host writes masks only while the stream is idle. After each segment the counters
are compared with the reference. Every output beat is compared in order with the
reference, so a lost, duplicated or reordered beat is a mismatch.

Environment: NB_CORES (json shapes), NB_BEATS (total beats over all cores), NB_SEED, NB_SUMMARY
(path of a json summary written at the end).
"""

from __future__ import annotations

import json
import os
from collections import deque
from dataclasses import dataclass, field

import cocotb
import numpy as np
from _rtl_harness import CoreShape, offsets, shapes_from_env
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly

from noisybnn.hw import registers
from noisybnn.hw.injector import InjectorConfig, Mode, inject_stream, seed_word, unsplitmix64

THRESHOLDS = (0, 1, 655, 6554, 32768, 65536)
#: (p_valid, p_ready): how often the source offers a beat and the sink accepts one.
STALLS = ((1.0, 1.0), (0.9, 0.9), (0.5, 0.95), (0.95, 0.4), (0.3, 0.3), (0.7, 0.7))
LATENCY = 1


def pack(codes: np.ndarray, bits: int) -> list[int]:
    """(n, pe) codes -> one int per beat, PE 0 in the LSBs (FINN packing)."""
    codes = np.asarray(codes, dtype=np.int64)
    n, pe = codes.shape
    lane_bits = ((codes[:, :, None] >> np.arange(bits)) & 1).reshape(n, pe * bits)
    packed = np.packbits(lane_bits.astype(np.uint8), axis=1, bitorder="little")
    return [int.from_bytes(row.tobytes(), "little") for row in packed]


@dataclass
class Segment:
    cfg: InjectorConfig  # what the reference uses (threshold: the one at the last reseed)
    port_threshold: int  # what the bench drives on the threshold port
    reseed: bool
    start_beat: int
    inputs: list[int]
    expected: list[int]
    changed: int
    p_valid: float
    p_ready: float


def make_schedule(shape: CoreShape, n_beats: int, rng: np.random.Generator) -> list[Segment]:
    """Segments covering all thresholds, modes, masks, special seeds and stall patterns."""
    nf = shape.neurons // shape.pe
    zero_word_seed = unsplitmix64(0)  # the master seed whose seed word is 0
    ones_word_seed = unsplitmix64((1 << 64) - 1)

    def rand_seed() -> int:
        return int(rng.integers(0, 1 << 63)) * 2 + int(rng.integers(2))

    def rand_mask():
        kind = rng.integers(4)
        if kind == 0:
            return None
        if kind == 1:
            return tuple(bool(b) for b in rng.integers(0, 2, shape.neurons))
        if kind == 2:
            m = [False] * shape.neurons
            m[int(rng.integers(shape.neurons))] = True
            return tuple(m)
        return tuple(bool(b) for b in rng.random(shape.neurons) < 0.8)

    # (mode, threshold, seed or None, mask or "rand", reseed)
    plan: list[tuple] = []
    for t in THRESHOLDS:
        plan.append((Mode.FLIP, t, None, None, True))
    plan += [
        (Mode.FLIP, 6554, None, "rand", True),
        (Mode.FLIP, 32768, zero_word_seed, None, True),  # seed word 0
        (Mode.FLIP, 655, 0, "rand", True),
        (Mode.FLIP, 32768, (1 << 64) - 1, None, True),
        (Mode.FLIP, 6554, ones_word_seed, None, True),  # seed word all ones
        (Mode.STUCK0, 0, None, "rand", True),
        (Mode.STUCK1, 0, None, "rand", True),
        # one run through all modes without reseed: generator and fold counter keep going
        (Mode.FLIP, 6554, None, "rand", True),
        (Mode.OFF, 6554, "same", "same", False),
        (Mode.STUCK1, 6554, "same", "rand", False),
        (Mode.FLIP, 32768, "same", "same", False),
        (Mode.STUCK0, 655, "same", "rand", False),
        (Mode.FLIP, 655, "same", "same", False),
        # reseed mid-run with the same seed: the sequence restarts at beat 0
        (Mode.FLIP, 32768, "same", "same", True),
        (Mode.OFF, 0, None, None, True),
    ]
    weights = rng.random(len(plan)) + 0.5
    sizes = np.maximum(1, np.round(weights / weights.sum() * n_beats)).astype(int)
    # segments end at random points of a vector (not only on fold boundaries)
    segs: list[Segment] = []
    seed, mask, beat, run_thr = 1, None, 0, 0
    for k, ((mode, thr, sd, mk, reseed), n) in enumerate(zip(plan, sizes, strict=True)):
        if sd is None:
            seed = rand_seed()
        elif sd != "same":
            seed = sd
        if mk == "rand":
            mask = rand_mask()
        elif mk != "same":
            mask = mk
        if reseed:
            beat = 0
            run_thr = thr  # the threshold takes effect at a reseed only
        cfg = InjectorConfig(
            neurons=shape.neurons, pe=shape.pe, bits=shape.bits, mode=mode, threshold=run_thr,
            seed=seed, fault_mask=mask,
        )
        n = int(n) + int(rng.integers(nf))
        codes = rng.integers(0, 1 << shape.bits, size=(n, shape.pe))
        out, changed = inject_stream(cfg, codes, start_beat=beat)
        pv, pr = STALLS[k % len(STALLS)]
        segs.append(Segment(cfg, thr, reseed, beat, pack(codes, shape.bits), pack(out, shape.bits),
                            changed, pv, pr))
        beat += n
    return segs


@dataclass
class CoreBench:
    """Drives and checks one core of the harness."""

    index: int
    shape: CoreShape
    offset: int
    segments: list[Segment]
    rng: np.random.Generator
    dut: object
    seg: int = -1
    pos: int = 0  # next input beat of the current segment
    valid: bool = False
    ready: bool = False
    reseed_now: bool = False
    last_mask: int | None = None
    mask_queue: deque = field(default_factory=deque)
    mask_writes: int = 0
    drain: int = 0
    done: bool = False
    expected: deque = field(default_factory=deque)
    run_beats: int = 0
    run_changed: int = 0
    compared: int = 0
    mismatches: int = 0
    counter_errors: int = 0
    extra: int = 0
    errors: list = field(default_factory=list)

    def port(self, name: str):
        return getattr(self.dut, f"c{self.index}_{name}")

    @property
    def mask(self) -> int:
        return (1 << self.shape.lanes) - 1

    def start_segment(self) -> None:
        self.seg += 1
        if self.seg >= len(self.segments):
            self.done = True
            self.valid = False
            return
        s = self.segments[self.seg]
        cfg = s.cfg
        self.port("mode").value = int(cfg.mode)
        self.port("threshold").value = s.port_threshold
        self.port("seed").value = seed_word(cfg.seed)
        mask = sum(1 << i for i, b in enumerate(cfg.mask_array()) if b)
        if mask != self.last_mask:
            words = list(enumerate(registers.mask_values(cfg)))  # fold order (map version 4)
            order = self.rng.permutation(len(words))
            self.mask_queue.extend(words[k] for k in order)
            self.mask_queue.append((len(words), 0))  # beyond the layer: ignored
            self.last_mask = mask
        if s.reseed:
            self.port("reseed").value = 1
            self.reseed_now = True
            self.run_beats = 0
            self.run_changed = 0
        self.pos = 0
        self.expected.extend(s.expected)

    def drive(self) -> tuple[int, bool, bool]:
        """Decide this cycle's inputs; return (tdata, tvalid, m_tready)."""
        if self.done:
            self.valid = False
        elif self.drain == 0 and self.seg >= 0:
            s = self.segments[self.seg]
            if not self.valid and self.pos < len(s.inputs) and not self.mask_queue:
                # AXI: once offered, a beat stays until taken
                self.valid = bool(self.rng.random() < s.p_valid)
        s = self.segments[min(max(self.seg, 0), len(self.segments) - 1)]
        self.ready = bool(self.rng.random() < s.p_ready)
        data = s.inputs[self.pos] if self.valid else 0
        return data, self.valid, self.ready

    def observe(self, s_ready: bool, m_valid: bool, m_data: int, cycle: int) -> None:
        """Apply the transfers of the coming clock edge."""
        self.observe_mask()
        if m_valid and self.ready:
            got = (m_data >> self.offset) & self.mask
            if not self.expected:
                self.extra += 1
                self.note(f"cycle {cycle}: output beat {got:#x} with none expected")
            else:
                want = self.expected.popleft()
                self.compared += 1
                if got != want:
                    self.mismatches += 1
                    self.note(f"cycle {cycle}: segment {self.seg} got {got:#x} want {want:#x}")
        if self.valid and s_ready:
            s = self.segments[self.seg]
            self.valid = False
            self.pos += 1
            self.run_beats += 1
            if self.pos == len(s.inputs):
                self.run_changed += s.changed
                self.drain = 2

    def end_of_cycle(self) -> None:
        """Between clock edges: finish drains, check counters, start the next segment."""
        if self.reseed_now:
            self.port("reseed").value = 0
            self.reseed_now = False
        if self.done:
            return
        if self.seg < 0:
            self.start_segment()
        elif self.drain:
            self.drain -= 1
            if self.drain == 0:
                self.check_counters()
                self.start_segment()
        self.drive_mask()

    def drive_mask(self) -> None:
        """Offer the next queued mask word (held until mask_wready, AXI style)."""
        if self.mask_queue:
            word, data = self.mask_queue[0]
            self.port("mask_word").value = word
            self.port("mask_wdata").value = data
            self.port("mask_wstrb").value = 0xF
            self.port("mask_wvalid").value = 1
        else:
            self.port("mask_wvalid").value = 0

    def observe_mask(self) -> None:
        """After ReadOnly: a word offered this cycle is taken at the coming edge if ready."""
        if self.mask_queue and self.port("mask_wready").value == 1:
            self.mask_queue.popleft()
            self.mask_writes += 1

    def check_counters(self) -> None:
        beats = self.port("beats").value.to_unsigned()
        changes = self.port("changes").value.to_unsigned()
        if beats != self.run_beats or changes != self.run_changed:
            self.counter_errors += 1
            self.note(
                f"segment {self.seg}: counters (beats, changes) = ({beats}, {changes}), "
                f"expected ({self.run_beats}, {self.run_changed})"
            )

    def note(self, msg: str) -> None:
        if len(self.errors) < 10:
            self.errors.append(f"core {self.index} {self.shape}: {msg}")

    @property
    def finished(self) -> bool:
        return self.done and not self.expected


async def reset(dut, cycles: int = 3) -> None:
    dut.rst_n.value = 0
    dut.s_tvalid.value = 0
    dut.m_tready.value = 0
    dut.s_tdata.value = 0
    for _ in range(cycles):
        await FallingEdge(dut.clk)
    dut.rst_n.value = 1


def make_benches(dut, shapes, n_beats: int, seed: int) -> list[CoreBench]:
    benches = []
    for i, (shape, off) in enumerate(zip(shapes, offsets(shapes), strict=True)):
        rng = np.random.default_rng([seed, i])
        share = max(200, n_beats // len(shapes))  # equal shares: the cores run side by side
        benches.append(CoreBench(i, shape, off, make_schedule(shape, share, rng), rng, dut))
        for name in ("mode", "threshold", "seed", "reseed", "mask_wvalid",
                     "mask_word", "mask_wdata", "mask_wstrb"):
            getattr(dut, f"c{i}_{name}").value = 0
    return benches


@cocotb.test()
async def random_stalls_bit_exact(dut):
    """All shapes, all modes and thresholds, random stalls on both sides, counters."""
    shapes = shapes_from_env(os.environ["NB_CORES"])
    n_beats = int(os.environ.get("NB_BEATS", "100000"))
    seed = int(os.environ.get("NB_SEED", "1234"))
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    benches = make_benches(dut, shapes, n_beats, seed)
    await reset(dut)
    total_in = sum(len(s.inputs) for b in benches for s in b.segments)
    limit = 40 * total_in // len(benches) + 1000
    cycle = 0
    s_tdata, s_tvalid, m_tready = dut.s_tdata, dut.s_tvalid, dut.m_tready
    s_tready, m_tvalid, m_tdata = dut.s_tready, dut.m_tvalid, dut.m_tdata
    while not all(b.finished for b in benches):
        cycle += 1
        assert cycle < limit, f"timeout after {cycle} cycles: the stream stalled"
        await FallingEdge(dut.clk)
        for b in benches:
            b.end_of_cycle()
        data = valid = ready = 0
        for b in benches:
            d, v, r = b.drive()
            data |= d << b.offset
            valid |= v << b.index
            ready |= r << b.index
        s_tdata.value = data
        s_tvalid.value = valid
        m_tready.value = ready
        await ReadOnly()
        sr = s_tready.value.to_unsigned()
        mv = m_tvalid.value.to_unsigned()
        md = m_tdata.value.to_unsigned()
        for b in benches:
            b.observe(bool(sr >> b.index & 1), bool(mv >> b.index & 1), md, cycle)
    # final counters of the last segment were checked at its drain; nothing may follow
    for _ in range(4):
        await FallingEdge(dut.clk)
        m_tready.value = (1 << len(benches)) - 1
        await ReadOnly()
        mv = m_tvalid.value.to_unsigned()
        for b in benches:
            if mv >> b.index & 1:
                b.extra += 1
                b.note("output beat after the end of the stream")
    summary = {
        "test": "random_stalls_bit_exact",
        "cycles": cycle,
        "cores": [
            {
                "shape": [b.shape.pe, b.shape.bits, b.shape.neurons],
                "segments": len(b.segments),
                "beats_in": sum(len(s.inputs) for s in b.segments),
                "beats_compared": b.compared,
                "mismatches": b.mismatches,
                "extra_beats": b.extra,
                "counter_errors": b.counter_errors,
                "mask_writes": b.mask_writes,
                "bits_changed": sum(s.changed for s in b.segments),
            }
            for b in benches
        ],
    }
    write_summary(summary)
    errors = [e for b in benches for e in b.errors]
    assert not errors, "\n".join(errors)
    for b in benches:
        assert b.compared == sum(len(s.inputs) for s in b.segments)


@cocotb.test()
async def throughput_ii1(dut):
    """No stalls: N beats leave N + LATENCY cycles after the first enters, with ready held high."""
    shapes = shapes_from_env(os.environ["NB_CORES"])
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    n = 300
    benches = []
    for i, (shape, off) in enumerate(zip(shapes, offsets(shapes), strict=True)):
        rng = np.random.default_rng([99, i])
        cfg = InjectorConfig(neurons=shape.neurons, pe=shape.pe, bits=shape.bits, mode=Mode.FLIP,
                             threshold=6554, seed=12345 + i)
        codes = rng.integers(0, 1 << shape.bits, size=(n, shape.pe))
        out, _ = inject_stream(cfg, codes)
        benches.append((i, shape, off, cfg, pack(codes, shape.bits), pack(out, shape.bits)))
        getattr(dut, f"c{i}_mode").value = int(cfg.mode)
        getattr(dut, f"c{i}_threshold").value = cfg.threshold
        getattr(dut, f"c{i}_seed").value = seed_word(cfg.seed)
        getattr(dut, f"c{i}_reseed").value = 0
        getattr(dut, f"c{i}_mask_wvalid").value = 0
    await reset(dut)  # reset reseeds from the seed inputs, programs the threshold, fills the mask
    k = len(benches)
    dut.m_tready.value = (1 << k) - 1
    pos = [0] * k
    first_in: list[int | None] = [None] * k
    last_out = [0] * k
    got: list[list[int]] = [[] for _ in range(k)]
    ready_drops = [0] * k
    cycle = 0
    while any(len(g) < n for g in got):
        cycle += 1
        assert cycle < 4 * n, "timeout"
        await FallingEdge(dut.clk)
        data = valid = 0
        for i, _, off, _, inputs, _ in benches:
            if pos[i] < n:
                data |= inputs[pos[i]] << off
                valid |= 1 << i
        dut.s_tdata.value = data
        dut.s_tvalid.value = valid
        await ReadOnly()
        sr = dut.s_tready.value.to_unsigned()
        mv = dut.m_tvalid.value.to_unsigned()
        md = dut.m_tdata.value.to_unsigned()
        for i, shape, off, _, _, _ in benches:
            if valid >> i & 1:
                if sr >> i & 1:
                    if first_in[i] is None:
                        first_in[i] = cycle
                    pos[i] += 1
                elif first_in[i] is not None:
                    ready_drops[i] += 1
            if mv >> i & 1:
                got[i].append((md >> off) & ((1 << shape.lanes) - 1))
                last_out[i] = cycle
    summary = {"test": "throughput_ii1", "beats": n, "latency": LATENCY, "cores": []}
    for i, shape, _, _, _, expected in benches:
        span = last_out[i] - first_in[i] + 1  # cycles from first beat in to last beat out
        summary["cores"].append({"shape": [shape.pe, shape.bits, shape.neurons],
                                 "cycles": span, "ready_drops": ready_drops[i]})
        assert got[i] == expected, f"core {i} {shape}: output differs from the reference"
        assert ready_drops[i] == 0, f"core {i} {shape}: s_axis_tready dropped without stalls"
        assert span == n + LATENCY, (
            f"core {i} {shape}: {n} beats took {span} cycles, expected {n} + {LATENCY} (II=1)"
        )
    write_summary(summary)


def write_summary(summary: dict) -> None:
    path = os.environ.get("NB_SUMMARY")
    if not path:
        return
    existing = []
    if os.path.exists(path):
        with open(path) as f:
            existing = json.load(f)
    existing.append(summary)
    with open(path, "w") as f:
        json.dump(existing, f, indent=1)
