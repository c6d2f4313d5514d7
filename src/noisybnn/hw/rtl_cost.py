"""Resource estimate of the RTL noise injector (v2), from yosys measurements, not a model.

Used by the FINN custom op's resource estimate. The coefficients below were measured with
`bench/synth_injector.py` (yosys 0.23 `synth_xilinx -family xc7 -flatten`, via
`noisybnn.hw.synth`) on the AXI-Lite IP `noise_injector_axil` with counters, by a least-squares
line through PE = 1, 4, 16, 32 (BITS = 1, NEURONS = PE): LUT = 165.7 + 34.76 * lanes (largest
residual 5.7), FF = 408 + 20 * lanes (exact), CARRY4 = 34.9 + 6.1 * lanes. The slow test
`tests/hw/test_registers.py::test_estimate_against_yosys` re-synthesizes and checks the estimate.

Where the cost goes (docs/injector.md, "Cost"):

* per 1-bit lane, 20 FF: the 16-bit accumulator, output register, skid buffer, the changed-bit
  register of the counter, one mask bit (NEURONS = PE); LUT: 16 for the subtracting accumulator
  (one LUT4 per bit on the carry chain: w - (rotl(w_prev) ^ rotl(n) ^ rotl(e1) ^ D)), 12 for
  `w < threshold` (2 CARRY4), ~2 output select and skid mux, ~3 popcount of the changed bits,
  ~1 mask register bit and its read mux;
* fixed: the 89-bit LFSR and its seed load (89 FF, ~32 LUT), reseed sequencer, fold counter and
  handshake (~20 LUT), the two 64-bit counters (128 FF, 32 CARRY4), the AXI-Lite register file
  (threshold, control, seed word, counter HI latches, read data: ~110 LUT, ~190 FF).

Per PE slot and fold beyond the first, the fault-mask bit of the current fold is an NF:1 mux
(one LUT6 per 4 inputs); per neuron one mask FF. BRAM = DSP = 0: the splitmix64 lane constants
are elaboration-time constants.
"""

from __future__ import annotations

import math

#: Measured (see module docstring): noise_injector_axil, COUNTERS = 1, BITS = 1, NF = 1.
AXIL_LUT_FIXED = 166
AXIL_LUT_PER_LANE = 34.76
AXIL_FF_FIXED = 408
AXIL_FF_PER_LANE = 20
#: The part of the per-lane figures that belongs to a neuron (mask register bit, its write enable
#: and read mux), so that BITS > 1 and NF > 1 scale right: 1 FF and 1 LUT per neuron, measured
#: with PE = 1, NEURONS = 256 (540 LUT, 691 FF) and PE = 4, NEURONS = 1024 (1,697 LUT, 1,516 FF);
#: the estimate gives 544 / 691 and 1,653 / 1,516.
NEURON_FF = 1
NEURON_LUT = 1
#: Counters: 128 FF + one changed-bit register per lane; ~3 LUT popcount per lane + ~8.
COUNTER_FF_FIXED = 128
COUNTER_LUT_PER_LANE = 3
#: AXI-Lite register file (all of it fixed except the mask words).
AXILITE_LUT = 110
AXILITE_FF = 190


def _check(pe: int, bits: int, neurons: int) -> None:
    for name, v in (("pe", pe), ("bits", bits), ("neurons", neurons)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
    if neurons % pe:
        raise ValueError(f"pe={pe} must divide the layer width {neurons}")


def _mux_luts(n: int) -> int:
    """LUT6 of an n:1 mux (4 data inputs per LUT6, MUXF7/F8 up to 16:1, then another level)."""
    if n <= 1:
        return 0
    first = math.ceil(n / 4)
    return first + (math.ceil(first / 4) if n > 16 else 0)


def cost_breakdown(
    pe: int, bits: int, neurons: int, with_counters: bool = True, with_axilite: bool = False
) -> dict[str, dict[str, int]]:
    """Every term of the estimate: {part: {"LUT": n, "FF": n}}."""
    _check(pe, bits, neurons)
    lanes = pe * bits
    nf = neurons // pe
    lane_lut = AXIL_LUT_PER_LANE - NEURON_LUT - COUNTER_LUT_PER_LANE
    lane_ff = AXIL_FF_PER_LANE - NEURON_FF - 1  # - mask bit - changed-bit register
    core_lut_fixed = AXIL_LUT_FIXED - AXILITE_LUT - 8
    core_ff_fixed = AXIL_FF_FIXED - AXILITE_FF - COUNTER_FF_FIXED
    fold_w = math.ceil(math.log2(nf)) if nf > 1 else 0
    parts = {
        "lanes": {"LUT": round(lane_lut * lanes), "FF": lane_ff * lanes},
        "generator_and_control": {"LUT": core_lut_fixed + fold_w, "FF": core_ff_fixed + fold_w},
        "fault_mask_mux": {"LUT": _mux_luts(nf) * pe, "FF": 0},
    }
    if with_counters:
        parts["counters"] = {"LUT": COUNTER_LUT_PER_LANE * lanes + 8,
                             "FF": COUNTER_FF_FIXED + lanes}
    if with_axilite:
        parts["axilite"] = {"LUT": AXILITE_LUT + NEURON_LUT * neurons,
                            "FF": AXILITE_FF + NEURON_FF * neurons}
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
