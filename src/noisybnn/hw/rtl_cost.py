"""Resource estimate of the RTL noise injector (v2 generator, register map v3), from yosys
measurements, not a model.

Used by the FINN custom op's resource estimate. The coefficients below were measured on
2026-12-02 with yosys 0.23 `synth_xilinx -family xc7 -flatten` through `noisybnn.hw.synth`
(which defines `NBNN_XC7_PRIMS`, so the lanes are the hand-instantiated LUT4 / LUT6_2 / CARRY4 of
`noise_injector_core.v`) on the AXI-Lite IP `noise_injector_axil`, BITS = 1, NEURONS = PE:
`python bench/synth_injector.py --pe 1 4 16 32` gave LUT 161, 242, 565, 1,009 and FF 361, 418,
646, 950, a least-squares line LUT = 132.0 + 27.34 * lanes (largest residual 4.4), FF = 342 +
19 * lanes (exact), CARRY4 = 26 + 6 * lanes. `--counters 0 --pe 1 16`: LUT 116, 490 (91.1 +
24.93 * lanes), FF 204, 474 (186 + 18 * lanes). The core alone at PE = 1 (counters on): 83 LUT,
209 FF. PE = 1, NEURONS = 256: 333 LUT, 624 FF. yosys also leaves INV cells (not counted as LUTs
here, as before: Vivado folds most into the LUT they feed): 144.5 + 1.0 per lane, and one per
mask bit (402 at PE = 1, NEURONS = 256). The slow test
`tests/hw/test_registers.py::test_estimate_against_yosys` re-synthesizes and checks the estimate.

Where the cost goes (docs/injector.md, "Cost"): per 1-bit lane 16 LUT4 accumulator (on 4 CARRY4),
8 LUT6_2 compare (on 2 CARRY4), 1 LUT6_2 output + changed bit: 25 (24.9 measured without
counters); the change counter's popcount adds ~2.4. FF: 16 accumulator, output register,
changed bit, mask bit. Fixed: the 89-bit LFSR with its seed load, reseed sequencer, handshake,
the two 48-bit counters (41 LUT, mostly their read-mux words and HI latches; 156 FF) and the
AXI-Lite register file (~35 LUT: write decode and the read mux of ID/PARAMS/NEURONS/CAPS; seed,
threshold and control flops). noise_injector_axil minus the core at PE = 1: 78 LUT, 152 FF.

Per PE slot and fold beyond the first, the fault-mask bit of the current fold is an NF:1 mux
(one LUT6 per 4 inputs, `_mux_luts`) plus ~0.11 LUT per fold of shared select logic; per neuron one mask FF
(write-only, no read mux) and ~0.26 LUT of write enables. BRAM = DSP = 0: the splitmix64 lane
constants are elaboration-time constants.
"""

from __future__ import annotations

import math

#: Measured (see module docstring): noise_injector_axil, COUNTERS = 1, BITS = 1, NF = 1.
AXIL_LUT_FIXED = 132.0
AXIL_LUT_PER_LANE = 27.34
AXIL_FF_FIXED = 342
AXIL_FF_PER_LANE = 19
#: Per neuron beyond the NF = 1 line: one mask FF and write-enable logic; per injector with
#: NF > 1 a share of the fold mux's select logic that grows with NF. Fitted with `_mux_luts` for
#: the NF:1 muxes to PE = 1, NEURONS = 256 (333 LUT, 624 FF), PE = 4, NEURONS = 1024 (817 LUT,
#: 1,446 FF) and PE = 1, NEURONS = 64 (206 LUT, 430 FF): 333 = 161 + 8 + 68 + 255 n + s(256),
#: 817 = 242 + 8 + 4 * 68 + 1020 n + s(256), 206 = 161 + 6 + 17 + 63 n + s(64) give n = 0.26,
#: s(256) = 30, s(64) = 6: s ~ 0.11 NF.
NEURON_FF = 1
NEURON_LUT = 0.26
FOLD_LUT_PER_FOLD = 0.11
#: Counters (COUNTERS = 1 against 0, noise_injector_axil): 41.0 LUT and 156 FF fixed (two 48-bit
#: counters, their 16-bit HI latches, their words of the read mux), per lane 2.4 LUT (popcount)
#: and 1 FF (the changed-bit register).
COUNTER_LUT_FIXED = 41.0
COUNTER_LUT_PER_LANE = 2.41
COUNTER_FF_FIXED = 156
COUNTER_FF_PER_LANE = 1
#: The core without counters at PE = 1 (81 LUT, 112 FF) less one lane of the counters-off line
#: (24.93 LUT, 17 FF): the 89-bit LFSR with its seed load, the reseed sequencer, the handshake.
CORE_LUT_FIXED = 81 - 24.93
CORE_FF_FIXED = 112 - 17
#: The AXI-Lite register file: what is left of the measured fixed part.
AXILITE_LUT = AXIL_LUT_FIXED - COUNTER_LUT_FIXED - CORE_LUT_FIXED
AXILITE_FF = AXIL_FF_FIXED - COUNTER_FF_FIXED - CORE_FF_FIXED


def _check(pe: int, bits: int, neurons: int) -> None:
    for name, v in (("pe", pe), ("bits", bits), ("neurons", neurons)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
    if neurons % pe:
        raise ValueError(f"pe={pe} must divide the layer width {neurons}")


def _mux_luts(n: int) -> int:
    """LUT6 of an n:1 mux: one LUT6 per 4 inputs, MUXF7/MUXF8 (free) join four of them into a
    16:1, and the 16:1 outputs are muxed again the same way."""
    if n <= 1:
        return 0
    first = math.ceil(n / 4)
    return first if first <= 4 else first + _mux_luts(math.ceil(n / 16))


def cost_breakdown(
    pe: int, bits: int, neurons: int, with_counters: bool = True, with_axilite: bool = False
) -> dict[str, dict[str, int]]:
    """Every term of the estimate: {part: {"LUT": n, "FF": n}}. With the AXI-Lite file and the
    counters, the terms add up to the measured line for NEURONS = PE, BITS = 1."""
    _check(pe, bits, neurons)
    lanes = pe * bits
    nf = neurons // pe
    lane_lut = AXIL_LUT_PER_LANE - COUNTER_LUT_PER_LANE - NEURON_LUT
    lane_ff = AXIL_FF_PER_LANE - COUNTER_FF_PER_LANE - NEURON_FF
    fold_w = math.ceil(math.log2(nf)) if nf > 1 else 0
    parts = {
        "lanes": {"LUT": round(lane_lut * lanes), "FF": lane_ff * lanes},
        "generator_and_control": {"LUT": round(CORE_LUT_FIXED) + fold_w,
                                  "FF": CORE_FF_FIXED + fold_w},
        "fault_mask_mux": {"LUT": _mux_luts(nf) * pe + (round(FOLD_LUT_PER_FOLD * nf) if nf > 1
                                                        else 0), "FF": 0},
    }
    if with_counters:
        parts["counters"] = {"LUT": round(COUNTER_LUT_FIXED + COUNTER_LUT_PER_LANE * lanes),
                             "FF": COUNTER_FF_FIXED + COUNTER_FF_PER_LANE * lanes}
    if with_axilite:
        parts["axilite"] = {"LUT": round(AXILITE_LUT + NEURON_LUT * neurons),
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
