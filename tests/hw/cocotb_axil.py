"""cocotb test of hls/rtl/noise_injector_axil.v: configured through its AXI-Lite bus only.

The host's register writes are `noisybnn.hw.registers.encode(cfg)`; the stream output and the
counters read over the bus are compared with `inject_stream`. Run by
tests/hw/test_rtl_injector.py on the `a_*` ports of the shared harness.
"""

from __future__ import annotations

import os

import cocotb
import numpy as np
from _rtl_harness import CoreShape
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly
from cocotb_injector import pack, write_summary

from noisybnn.hw import registers as reg
from noisybnn.hw.injector import InjectorConfig, Mode, inject_stream, unsplitmix64


class AxiLiteMaster:
    """Minimal AXI-Lite master on the harness's a_* ports (one transaction at a time)."""

    def __init__(self, dut):
        self.dut = dut
        for name in ("awvalid", "wvalid", "bready", "arvalid", "rready"):
            getattr(dut, f"a_{name}").value = 0

    async def _wait(self, *names: str) -> None:
        """Wait until all signals are 1 before a rising edge, then let that edge pass."""
        d = self.dut
        for _ in range(100):
            await ReadOnly()
            if all(getattr(d, f"a_{n}").value == 1 for n in names):
                await FallingEdge(d.clk)
                return
            await FallingEdge(d.clk)
        raise AssertionError(f"AXI-Lite handshake {names} timed out")

    async def write(self, addr: int, data: int, strb: int = 0xF) -> None:
        d = self.dut
        await FallingEdge(d.clk)
        d.a_awaddr.value = addr
        d.a_wdata.value = data & 0xFFFFFFFF
        d.a_wstrb.value = strb
        d.a_awvalid.value = 1
        d.a_wvalid.value = 1
        d.a_bready.value = 1
        await self._wait("awready", "wready")
        d.a_awvalid.value = 0
        d.a_wvalid.value = 0
        await self._wait("bvalid")
        d.a_bready.value = 0
        assert d.a_bresp.value.to_unsigned() == 0

    async def read(self, addr: int) -> int:
        d = self.dut
        await FallingEdge(d.clk)
        d.a_araddr.value = addr
        d.a_arvalid.value = 1
        d.a_rready.value = 1
        await self._wait("arready")
        d.a_arvalid.value = 0
        for _ in range(100):
            await ReadOnly()
            if d.a_rvalid.value == 1:
                value = d.a_rdata.value.to_unsigned()
                assert d.a_rresp.value.to_unsigned() == 0
                await FallingEdge(d.clk)
                d.a_rready.value = 0
                return value
            await FallingEdge(d.clk)
        raise AssertionError("AXI-Lite read timed out")

    async def counters(self) -> reg.Counters:
        return reg.decode_counters([await self.read(a) for a in reg.COUNTER_READ_ORDER])


async def stream(dut, inputs: list[int], lanes: int, rng, p_valid: float, p_ready: float):
    """Send `inputs` through a_s_* and collect as many beats from a_m_*, with random stalls."""
    width = (lanes + 7) // 8 * 8
    outputs, pos, valid = [], 0, False
    for _ in range(40 * len(inputs) + 100):
        if len(outputs) == len(inputs):
            break
        await FallingEdge(dut.clk)
        if not valid and pos < len(inputs):
            valid = bool(rng.random() < p_valid)
            # random garbage in the pad bits above the lanes: the injector must ignore it
            pad = int(rng.integers(1 << (width - lanes))) << lanes if width > lanes else 0
            dut.a_s_tdata.value = (inputs[pos] | pad) if valid else 0
        ready = bool(rng.random() < p_ready)
        dut.a_s_tvalid.value = int(valid)
        dut.a_m_tready.value = int(ready)
        await ReadOnly()
        if ready and dut.a_m_tvalid.value == 1:
            outputs.append(dut.a_m_tdata.value.to_unsigned())
        if valid and dut.a_s_tready.value == 1:
            valid = False
            pos += 1
    else:
        raise AssertionError("stream timed out")
    await FallingEdge(dut.clk)
    dut.a_s_tvalid.value = 0
    dut.a_m_tready.value = 0
    return outputs


@cocotb.test()
async def axil_registers_and_stream(dut):
    shape = CoreShape(*[int(v) for v in os.environ["NB_AXIL"].split(",")])
    rng = np.random.default_rng(int(os.environ.get("NB_SEED", "1234")))
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst_n.value = 0
    dut.a_s_tvalid.value = 0
    dut.a_m_tready.value = 0
    bus = AxiLiteMaster(dut)
    for _ in range(3):
        await FallingEdge(dut.clk)
    dut.rst_n.value = 1

    # identification
    words = [await bus.read(a) for a in (reg.ID, reg.PARAMS, reg.NEURONS, reg.CAPS)]
    hw = reg.decode_params(*words)
    assert (hw.pe, hw.bits, hw.neurons, hw.counters) == (shape.pe, shape.bits, shape.neurons, True)

    # the configuration registers are write-only (map version 3): they read 0
    n_words = reg.mask_words(shape.pe, shape.neurons)
    for off in (reg.CONTROL, reg.THRESHOLD, reg.SEED_LO, reg.SEED_HI, reg.RESEED,
                *(reg.mask_offset(k) for k in range(n_words))):
        assert await bus.read(off) == 0, f"write-only register {off:#x} reads nonzero"
    assert await bus.read(0x0FC) == 0  # unmapped
    lanes = shape.lanes
    beats_total = 0
    nf = shape.neurons // shape.pe

    # byte strobes, seen through the stream: THRESHOLD 0x1FFFF with strobe 0b0001 leaves 0x000FF
    # (reset 0), then 0x1AB00 with strobe 0b0010 makes it 0x0ABFF; MASK_0 = 0 with strobe 0b0010
    # clears mask bits 8..15 (`mask_bit_index`) of the reset value (all ones); SEED_HI's top byte only
    await bus.write(reg.THRESHOLD, 0x1FFFF, strb=0b0001)
    await bus.write(reg.THRESHOLD, 0x1AB00, strb=0b0010)
    await bus.write(reg.mask_offset(0), 0x0, strb=0b0010)
    await bus.write(reg.SEED_LO, 0x12345678)
    await bus.write(reg.SEED_HI, 0xDEADBEEF, strb=0b1000)
    await bus.write(reg.RESEED, 1)
    await bus.write(reg.CONTROL, reg.control_value(Mode.FLIP))
    strobe_mask = tuple(not 8 <= reg.mask_bit_index(shape.pe, j) < 16
                        for j in range(shape.neurons))
    strobe_cfg = InjectorConfig(neurons=shape.neurons, pe=shape.pe, bits=shape.bits,
                                mode=Mode.FLIP, threshold=0x0ABFF,
                                seed=unsplitmix64(0xDE000000_12345678), fault_mask=strobe_mask)
    codes0 = rng.integers(0, 1 << shape.bits, size=(4 * nf + 3, shape.pe))
    want0, _ = inject_stream(strobe_cfg, codes0)
    got0 = await stream(dut, pack(codes0, shape.bits), lanes, rng, 0.9, 0.8)
    assert got0 == pack(want0, shape.bits), "byte strobes of THRESHOLD / MASK / SEED"
    beats_total += len(codes0)
    cases = [
        (Mode.FLIP, 6554, 0x0123456789ABCDEF, "rand"),
        (Mode.FLIP, 65536, unsplitmix64(0), None),  # seed word 0
        (Mode.STUCK1, 0, 5, "rand"),
        (Mode.STUCK0, 0, 6, "rand"),
        (Mode.OFF, 32768, 7, None),
        (Mode.FLIP, 32768, (1 << 64) - 1, "rand"),
        (Mode.FLIP, 655, unsplitmix64((1 << 64) - 1), None),  # seed word all ones
    ]
    for k, (mode, thr, seed, mk) in enumerate(cases):
        mask = None if mk is None else tuple(bool(b) for b in rng.integers(0, 2, shape.neurons))
        cfg = InjectorConfig(neurons=shape.neurons, pe=shape.pe, bits=shape.bits, mode=mode,
                             threshold=thr, seed=seed, fault_mask=mask)
        for off, val in reg.encode(cfg):
            await bus.write(off, val)
        n = 600 + int(rng.integers(nf))
        codes = rng.integers(0, 1 << shape.bits, size=(n, shape.pe))
        want, changed = inject_stream(cfg, codes)
        got = await stream(dut, pack(codes, shape.bits), lanes, rng, 0.8, 0.7 if k % 2 else 1.0)
        assert got == pack(want, shape.bits), f"case {k} ({mode.name}): stream differs"
        await FallingEdge(dut.clk)
        cnt = await bus.counters()
        assert (cnt.beats, cnt.bits_changed) == (n, changed), f"case {k}: counters {cnt}"
        beats_total += n

    # mid-run reseed through the bus: the sequence restarts; enable = 0 passes through while the
    # generator keeps going
    cfg = InjectorConfig(neurons=shape.neurons, pe=shape.pe, bits=shape.bits, mode=Mode.FLIP,
                         threshold=32768, seed=99)
    for off, val in reg.encode(cfg):
        await bus.write(off, val)
    codes = rng.integers(0, 1 << shape.bits, size=(3 * nf + 1, shape.pe))
    first = await stream(dut, pack(codes, shape.bits), lanes, rng, 0.9, 0.9)
    await bus.write(reg.RESEED, 1)
    again = await stream(dut, pack(codes, shape.bits), lanes, rng, 0.5, 0.5)
    want, _ = inject_stream(cfg, codes)
    assert first == again == pack(want, shape.bits), "reseed did not restart the sequence"
    await bus.write(reg.CONTROL, reg.control_value(Mode.FLIP, enable=False))
    m = 2 * nf + 3
    codes2 = rng.integers(0, 1 << shape.bits, size=(m, shape.pe))
    passed = await stream(dut, pack(codes2, shape.bits), lanes, rng, 0.9, 0.9)
    assert passed == pack(codes2, shape.bits), "enable = 0 must pass the stream through"
    await bus.write(reg.CONTROL, reg.control_value(Mode.FLIP))
    codes3 = rng.integers(0, 1 << shape.bits, size=(50, shape.pe))
    cont = await stream(dut, pack(codes3, shape.bits), lanes, rng, 0.9, 0.9)
    want3, ch3 = inject_stream(cfg, codes3, start_beat=len(codes) + m)
    assert cont == pack(want3, shape.bits), "the generator must advance while disabled"
    await FallingEdge(dut.clk)
    cnt = await bus.counters()
    _, ch_again = inject_stream(cfg, codes)
    assert cnt == reg.Counters(beats=len(codes) + m + 50, bits_changed=ch_again + ch3)
    beats_total += 2 * len(codes) + m + 50

    # writes where Vitis keeps ap_ctrl and numReps (0x00-0x10) change nothing
    for off in reg.VITIS_RESERVED:
        await bus.write(off, 0xFFFFFFFF)
    assert [await bus.read(a) for a in (reg.ID, reg.PARAMS, reg.NEURONS, reg.CAPS)] == words
    assert await bus.read(0x010) == 0
    assert await bus.read(reg.CONTROL) == 0  # write-only
    cont2 = await stream(dut, pack(codes3, shape.bits), lanes, rng, 0.9, 0.9)
    want4, _ = inject_stream(cfg, codes3, start_beat=len(codes) + m + 50)
    assert cont2 == pack(want4, shape.bits), "a write to 0x00-0x10 disturbed the stream"
    beats_total += 50

    # a one-cycle and a long ap_rst_n pulse give the same run: the compare tables hold THRESHOLD's
    # reset value 0 (FLIP passes through, though the last run's threshold was 32768), SEED is 0;
    # a THRESHOLD write takes effect only at the next RESEED, which loads seed word 0
    reset_cfg = InjectorConfig(neurons=shape.neurons, pe=shape.pe, bits=shape.bits,
                               mode=Mode.FLIP, threshold=65535, seed=unsplitmix64(0))
    codes5 = rng.integers(0, 1 << shape.bits, size=(4 * nf + 5, shape.pe))
    want5, _ = inject_stream(reset_cfg, codes5)
    for cycles in (1, 7):
        await FallingEdge(dut.clk)
        dut.rst_n.value = 0
        for _ in range(cycles):
            await FallingEdge(dut.clk)
        dut.rst_n.value = 1
        await bus.write(reg.CONTROL, reg.control_value(Mode.FLIP))
        got0 = await stream(dut, pack(codes5, shape.bits), lanes, rng, 0.8, 0.8)
        assert got0 == pack(codes5, shape.bits), f"after a {cycles}-cycle reset T must be 0"
        await bus.write(reg.THRESHOLD, 65535)
        got1 = await stream(dut, pack(codes5, shape.bits), lanes, rng, 0.8, 0.8)
        assert got1 == pack(codes5, shape.bits), "THRESHOLD took effect before a reseed"
        await bus.write(reg.RESEED, 1)
        got5 = await stream(dut, pack(codes5, shape.bits), lanes, rng, 0.8, 0.8)
        assert got5 == pack(want5, shape.bits), f"run after a {cycles}-cycle reset differs"
        beats_total += 3 * len(codes5)
    # thresholds above 2^16 (bit 16 and more set) flip every bit, as T = 2^16
    await bus.write(reg.THRESHOLD, 0x1FFFF)
    await bus.write(reg.RESEED, 1)
    codes6 = rng.integers(0, 1 << shape.bits, size=(20, shape.pe))
    got6 = await stream(dut, pack(codes6, shape.bits), lanes, rng, 0.9, 0.9)
    assert got6 == pack(codes6 ^ ((1 << shape.bits) - 1), shape.bits), "T > 2^16 must flip all"
    beats_total += 20
    write_summary({"test": "axil_registers_and_stream", "beats": beats_total,
                    "shape": [shape.pe, shape.bits, shape.neurons]})
