"""Synthesis-free resource estimate of the RTL noise injector (`hls/rtl/noise_injector_core.v`).

Used by the FINN custom op's resource estimate. The model counts 7-series primitives from the
structure of the RTL, assuming what Vivado does (clock enables on the flip-flops, two small
functions sharing <= 5 inputs packed into one LUT6); each term is listed in `cost_breakdown`.

Per bit lane (PE * BITS of them):

* FF: 64 (the LFSR register) + 1 (output register) + 1 (skid buffer) = 66;
* LUT: 16 for the 16 new bits, each a LUT6 of the 4 taps, the reseed load and the seed bit
  (the lane constant is folded into the LUT); 24 for the reseed load of the other 48 bits
  (2:1 muxes, two per LUT6); 13 for the zero-state check `seed == C_lane` (64-bit compare with
  a constant: 11 LUT6 + 2); 8 (+ 2 CARRY4) for `u < threshold`; 2 for the output select
  (flip / stuck / pass) and the skid mux; 40 (+ 8 CARRY4) for the output filter
  u = (w0 + w2) ^ rotl8(w1 + w3): two 16-bit adders and the XOR folded into the comparator:
  103 LUT.

Per PE slot: the fault-mask bit of the current fold, an NF:1 mux (NF = NEURONS / PE): one LUT6
per 4 inputs plus a second level above 16 inputs (MUXF7/F8 are free).

Fixed: the handshake (3 FF, ~4 LUT), mode decode (~3 LUT), the fold counter (ceil(log2 NF) FF
and LUT). Counters (optional): two 64-bit counters (128 FF on 32 CARRY4, a few LUT), the
register of the changed bits (PE*BITS FF), their popcount and accumulation (~3 LUT per bit).
The AXI-Lite register file (`noise_injector_axil.v`, optional) adds 183 FF (control, threshold,
seed, reseed strobe, counter HI latches, read data, response valids) + one FF per neuron of the
mask, and its read mux.

Measured (yosys 0.23 `synth_xilinx -family xc7`, docs/injector.md, with the output filter):
FF and CARRY4 equal this model exactly; LUT counts are 1.45x-1.65x higher (158 vs 103 per lane)
because yosys neither packs LUT6_2 pairs nor merges the reseed load with the clock enable as
Vivado does. Treat the LUT figure as Vivado-like, and the yosys figure as an upper bound.
BRAM and DSP are 0: the splitmix64 lane constants are elaboration-time constants, never multipliers.
"""

from __future__ import annotations

import math

#: LFSR register width and sample width (fixed by noisybnn.hw.lfsr).
STATE_BITS = 64
SAMPLE_BITS = 16

LANE_FF = STATE_BITS + 2
LANE_LUT_FEEDBACK = SAMPLE_BITS
LANE_LUT_RESEED = (STATE_BITS - SAMPLE_BITS) // 2
LANE_LUT_ZERO_CHECK = 13
LANE_LUT_COMPARE = 8
LANE_LUT_OUTPUT = 2
#: Output filter u = (w0 + w2) ^ rotl8(w1 + w3): two 16-bit adders (one LUT per bit on the carry
#: chain) and the XOR, which widens the comparator's LUTs from 2 to 4 sample inputs (+8).
LANE_LUT_FILTER = 2 * SAMPLE_BITS + 8
LANE_LUT = (
    LANE_LUT_FEEDBACK + LANE_LUT_RESEED + LANE_LUT_ZERO_CHECK + LANE_LUT_COMPARE + LANE_LUT_OUTPUT
    + LANE_LUT_FILTER
)
LANE_CARRY4 = 2 + 2 * SAMPLE_BITS // 4

#: Yosys synth_xilinx LUT count per lane relative to this model (see module docstring).
YOSYS_LUT_FACTOR = 1.55


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
    fold_w = math.ceil(math.log2(nf)) if nf > 1 else 0
    parts = {
        "lanes": {"LUT": LANE_LUT * lanes, "FF": LANE_FF * lanes},
        "fault_mask_mux": {"LUT": _mux_luts(nf) * pe, "FF": 0},
        "fold_counter": {"LUT": fold_w, "FF": fold_w},
        "handshake_and_mode": {"LUT": 7, "FF": 3},
    }
    if with_counters:
        parts["counters"] = {"LUT": 3 * lanes + 8, "FF": 128 + lanes}
    if with_axilite:
        words = (neurons + 31) // 32
        regs = 3 + 17 + 64 + 1 + neurons  # control, threshold, seed, reseed strobe, mask
        parts["axilite"] = {
            "LUT": 32 * (_mux_luts(16 + words) + 1) + 24,  # read mux, decode, handshake
            "FF": regs + 64 + 32 + 2,  # + counter HI latches, read data, bvalid/rvalid
        }
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
        with_axilite: include the AXI-Lite register file around the core.
    """
    parts = cost_breakdown(pe, bits, neurons, with_counters, with_axilite)
    return {
        "LUT": sum(p["LUT"] for p in parts.values()),
        "FF": sum(p["FF"] for p in parts.values()),
        "BRAM": 0,
        "DSP": 0,
    }
