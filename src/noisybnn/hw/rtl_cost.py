"""Resource estimate of the RTL noise injector (v2 generator, register map v3, mask and compare
in LUTRAM), from yosys measurements, not a model.

Used by the FINN custom op's resource estimate. The coefficients below were measured on
2026-12-02 with yosys 0.23 `synth_xilinx -family xc7 -flatten` through `noisybnn.hw.synth`
(which defines `NBNN_XC7_PRIMS`, so the lanes are the hand-instantiated LUT4 / RAM32M / LUT6_2 /
CARRY4 and the fault mask the RAM32X1S..RAM256X1S of `noise_injector_core.v`) on the AXI-Lite
IP `noise_injector_axil`, BITS = 1 (`python bench/synth_injector.py`, docs/injector.md "Cost"):

* NEURONS = PE (NF = 1), counters on, `--pe 1 4 16 32`: LUT 177, 247, 524, 903, FF 371, 428,
  656, 960: LUT = 152.7 + 23.40 * lanes (largest residual 3.1), FF = 352 + 19 * lanes (exact).
* the same, `--counters 0`: `COUNTERS_OFF_*` below.
* NF = 256, `--pe 1 4 16 32 --nf 256`: LUT 250, 343, 694, 1,152, FF 398, 455, 675, 965; NF = 64
  (`--pe 1 4 --nf 64`), NF = 32 (`--pe 1 4 --nf 32`), NF = 4 (`--pe 1 --nf 4`): the rows in
  `MEASURED_NF`; `tests/hw/test_registers.py` checks that the estimate reproduces every row.

LUT counts LUT sites: logic LUTs plus LUTRAM sites (`synth.LUTRAM_SITES`: RAM32M 4, RAM256X1S 4,
RAM128X1S 2, RAM64X1S / RAM32X1S 1). yosys also leaves INV cells (not counted: Vivado folds them
into the LUT they feed).

Where the cost goes: per 1-bit lane 16 LUT4 accumulator (4 CARRY4), the compare as one RAM32M
(4 sites) + one LUT6_2 on one CARRY4, one LUT6_2 output + changed bit: 22, plus the change
counter's popcount; FF 16 accumulator, output register, changed bit, and at NF = 1 the mask bit
of its neuron. Fixed: the 89-bit LFSR with its seed load, reseed sequencer, handshake, the shared
compare-table writer, the two 48-bit counters and the AXI-Lite file. With NF > 1 the mask is one
LUTRAM of depth NF per PE slot (`_ram_sites`) plus its write enable, read at the fold counter,
and a shared walker writes it (fold counter, jump / bit walker, address mux).
"""

from __future__ import annotations

import math

#: Measured (see module docstring): noise_injector_axil, COUNTERS = 1, BITS = 1, NF = 1.
AXIL_LUT_FIXED = 152.7
AXIL_LUT_PER_LANE = 23.40
AXIL_FF_FIXED = 352
AXIL_FF_PER_LANE = 19
#: The same line with COUNTERS = 0.
#: The same line with COUNTERS = 0 (`--counters 0 --pe 1 4 16 32`: LUT 128, 191, 457, 811; FF
#: 214, 268, 484, 772): the counters cost 48.4 LUT / 156 FF fixed and 1.33 LUT / 1 FF per lane.
COUNTERS_OFF_LUT_FIXED = 104.3
COUNTERS_OFF_LUT_PER_LANE = 22.07
COUNTERS_OFF_FF_FIXED = 196
COUNTERS_OFF_FF_PER_LANE = 18
#: What the counters add (COUNTERS = 1 against 0).
COUNTER_LUT_FIXED = AXIL_LUT_FIXED - COUNTERS_OFF_LUT_FIXED
COUNTER_LUT_PER_LANE = AXIL_LUT_PER_LANE - COUNTERS_OFF_LUT_PER_LANE
COUNTER_FF_FIXED = AXIL_FF_FIXED - COUNTERS_OFF_FF_FIXED
COUNTER_FF_PER_LANE = AXIL_FF_PER_LANE - COUNTERS_OFF_FF_PER_LANE
#: The core alone at PE = 1, counters off (`--top noise_injector_core --pe 1 --counters 0`):
#: 98 LUT, 122 FF, for the split of the fixed part into the core and the AXI-Lite file.
CORE_LUT_PE1 = 98
CORE_FF_PE1 = 122
#: NF > 1: the walker and the RAMs, against the NF = 1 line: LUT = WALKER_LUT +
#: WALKER_LUT_PER_ADDR_BIT * ceil(log2 NF) + PE * (sites(NF) + MASK_SLOT_LUT), least squares over
#: the MEASURED_NF rows.
WALKER_LUT = 41.7
WALKER_LUT_PER_ADDR_BIT = 3.58
MASK_SLOT_LUT = 1.72
#: (PE, NF, LUT, FF) of noise_injector_axil, BITS = 1, counters on, as synthesized (the fit's
#: largest LUT residual is 8.2, at PE 4 x NF 32: 325 synthesized, 317 estimated).
MEASURED_NF: tuple[tuple[int, int, int, int], ...] = (
    (1, 256, 250, 398), (4, 256, 343, 455), (16, 256, 694, 675), (32, 256, 1152, 965),
    (1, 64, 238, 392), (4, 64, 314, 449), (1, 32, 237, 391), (4, 32, 325, 447), (1, 4, 224, 387),
)


def _clog2(n: int) -> int:
    """Bits the RTL gives a counter of n values (its `clog2`, at least 1)."""
    return max(1, math.ceil(math.log2(n))) if n > 1 else 1


def _ram_sites(nf: int) -> int:
    """LUT sites of one PE slot's mask RAM of depth nf (RAM32X1S / RAM64X1S: 1, RAM128X1S: 2,
    RAM256X1S: 4; deeper: yosys' inference, counted as RAM256X1S banks plus their mux)."""
    if nf <= 64:
        return 1
    if nf <= 128:
        return 2
    banks = math.ceil(nf / 256)
    return 4 * banks + (math.ceil(banks / 4) if banks > 1 else 0)


def walker_ff(pe: int, neurons: int) -> int:
    """Flip-flops of the fold counter and the mask walker (the RTL's register widths)."""
    nf = neurons // pe
    if nf == 1:
        return 0
    words = (neurons + 31) // 32
    slot_w = _clog2(pe) if pe > 1 else 1
    return _clog2(nf) + 2 + slot_w + _clog2(nf + 33) + (_clog2(words) if words > 1 else 1) + 5


def _check(pe: int, bits: int, neurons: int) -> None:
    for name, v in (("pe", pe), ("bits", bits), ("neurons", neurons)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
    if neurons % pe:
        raise ValueError(f"pe={pe} must divide the layer width {neurons}")


def cost_breakdown(
    pe: int, bits: int, neurons: int, with_counters: bool = True, with_axilite: bool = False
) -> dict[str, dict[str, int]]:
    """Every term of the estimate: {part: {"LUT": n, "FF": n}}. With the AXI-Lite file and the
    counters, the terms add up to the measured line for NEURONS = PE, BITS = 1, and to the
    measured rows of MEASURED_NF."""
    _check(pe, bits, neurons)
    lanes = pe * bits
    nf = neurons // pe
    # the counters-off line per 1-bit lane: lane (22 LUT, 17 FF) plus the NF = 1 mask bit
    lane_ff = COUNTERS_OFF_FF_PER_LANE - 1
    core_lut = CORE_LUT_PE1 - COUNTERS_OFF_LUT_PER_LANE
    core_ff = CORE_FF_PE1 - COUNTERS_OFF_FF_PER_LANE
    parts = {
        "lanes": {"LUT": round(COUNTERS_OFF_LUT_PER_LANE * lanes), "FF": lane_ff * lanes},
        "generator_and_control": {"LUT": round(core_lut), "FF": core_ff},
    }
    if nf == 1:
        parts["fault_mask"] = {"LUT": 0, "FF": neurons}
    else:
        parts["fault_mask"] = {
            "LUT": round(WALKER_LUT + WALKER_LUT_PER_ADDR_BIT * _clog2(nf)
                         + pe * (_ram_sites(nf) + MASK_SLOT_LUT)),
            "FF": walker_ff(pe, neurons)}
    if with_counters:
        parts["counters"] = {"LUT": round(COUNTER_LUT_FIXED + COUNTER_LUT_PER_LANE * lanes),
                             "FF": COUNTER_FF_FIXED + COUNTER_FF_PER_LANE * lanes}
    if with_axilite:
        parts["axilite"] = {"LUT": round(COUNTERS_OFF_LUT_FIXED - core_lut),
                            "FF": COUNTERS_OFF_FF_FIXED - core_ff}
    return parts


def estimate_resources(
    pe: int, bits: int, neurons: int, with_counters: bool = True, with_axilite: bool = False
) -> dict[str, int]:
    """LUT, FF, BRAM, DSP of one injector for a layer of `neurons` neurons at `pe` x `bits` bits.

    Args:
        pe: neurons per beat (the producer's PE).
        bits: bits per neuron in the stream.
        neurons: neurons of the layer (PE must divide it).
        with_counters: include the beat and changed-bit counters (COUNTERS = 1).
        with_axilite: include the AXI-Lite register file around the core (noise_injector_axil).
    """
    parts = cost_breakdown(pe, bits, neurons, with_counters, with_axilite)
    return {
        "LUT": sum(p["LUT"] for p in parts.values()),
        "FF": sum(p["FF"] for p in parts.values()),
        "BRAM": 0,
        "DSP": 0,
    }
