"""Resource estimate of the RTL noise injector (v2 generator, register map v4, storage chosen by
size), from yosys measurements, not a model.

Used by the FINN custom op's resource estimate. The coefficients below were measured on
2026-12-02 with yosys 0.23 `synth_xilinx -family xc7 -flatten` through `noisybnn.hw.synth`
(which defines `NBNN_XC7_PRIMS`, so the lanes, compare tables and LUTRAM masks are the
hand-instantiated primitives of `noise_injector_core.v`) on the AXI-Lite IP
`noise_injector_axil`, BITS = 1, counters on (`python bench/synth_injector.py`, with
`--cmp-ram` / `--mask-lutram` to force a variant; docs/injector.md "Cost"):

* NF = 1, RAM32M compare, `--pe 1 4 16 32 --cmp-ram 1`: the `AXIL_*` line; `--counters 0`: the
  `COUNTERS_OFF_*` line.
* NF = 1, LUT compare (what the core builds below 4 lanes), `--pe 1 2 3`: the `LCMP_*` line.
* NF > 1: the fault mask in flip-flops with an NF:1 fold mux per slot (`--mask-lutram 0`) and in
  LUTRAM with the shared writer (`--mask-lutram 1`): the rows of `MEASURED_NF`, fitted by
  `_mask_ff_lut` and `_mask_ram_lut` against the NF = 1 line of the same compare.

The core picks the compare (`cmp_in_ram`) and the mask storage (`mask_in_lutram`, the same
integer rule as the RTL's `USE_MASK_RAM`) by these fits, so the estimate follows what is built;
`tests/hw/test_registers.py` checks it against every measured row.

LUT counts LUT sites: logic LUTs plus LUTRAM sites (`synth.LUTRAM_SITES`: RAM32M 4, RAM256X1S 4,
RAM128X1S 2, RAM64X1S / RAM32X1S 1). yosys also leaves INV cells (not counted: Vivado folds them
into the LUT they feed).
"""

from __future__ import annotations

import math

#: NF = 1, RAM32M compare (`--pe 1 4 16 32 --cmp-ram 1`: LUT 172, 246, 521, 900; FF 367, 424,
#: 652, 956): LUT = 149.5 + 23.41 * lanes (largest residual 3.1), FF = 348 + 19 * lanes (exact).
AXIL_LUT_FIXED = 149.5
AXIL_LUT_PER_LANE = 23.41
AXIL_FF_FIXED = 348
AXIL_FF_PER_LANE = 19
#: NF = 1, LUT compare (`--pe 1 2 3`, the core's own choice: LUT 163, 189, 217; FF 379, 398,
#: 417): no table writer, a 17-bit threshold copy, 8 LUT6_2 per lane.
LCMP_LUT_FIXED = 135.7
LCMP_LUT_PER_LANE = 27.0
LCMP_FF_FIXED = 360
LCMP_FF_PER_LANE = 19
#: The RAM-compare line with COUNTERS = 0 (`--counters 0 --cmp-ram 1 --pe 1 4 16 32`: LUT 122,
#: 189, 454, 821, largest residual 4.5; FF 210, 264, 480, 768).
COUNTERS_OFF_LUT_FIXED = 98.0
COUNTERS_OFF_LUT_PER_LANE = 22.53
COUNTERS_OFF_FF_FIXED = 192
COUNTERS_OFF_FF_PER_LANE = 18
#: What the counters add (COUNTERS = 1 against 0).
COUNTER_LUT_FIXED = AXIL_LUT_FIXED - COUNTERS_OFF_LUT_FIXED
COUNTER_LUT_PER_LANE = AXIL_LUT_PER_LANE - COUNTERS_OFF_LUT_PER_LANE
COUNTER_FF_FIXED = AXIL_FF_FIXED - COUNTERS_OFF_FF_FIXED
COUNTER_FF_PER_LANE = AXIL_FF_PER_LANE - COUNTERS_OFF_FF_PER_LANE
#: The core alone at PE = 1, counters off, RAM compare (`--top noise_injector_core --pe 1
#: --counters 0 --cmp-ram 1`), for the split of the fixed part into the core and the AXI-Lite file.
CORE_LUT_PE1 = 95
CORE_FF_PE1 = 119
#: Fault mask, NF > 1, against the NF = 1 line of the same compare (least squares over the
#: MEASURED_NF rows of each storage): flip-flops + fold mux: LUT = MASK_FF_LUT + MASK_FF_LUT_PER_NEURON
#: * NEURONS + MASK_FF_LUT_PER_ADDR_BIT * clog2(NF); LUTRAM + writer: LUT = WALKER_LUT +
#: WALKER_LUT_PER_ADDR_BIT * clog2(NF) + PE * (sites(NF) + MASK_SLOT_LUT). The LUTRAM rows are
#: of register map version 4 (fold-order mask words, a word stored one fold address a cycle):
#: 2026-12-02, `--mask-lutram 1` at each shape; the flip-flop rows are unchanged by it (the same
#: layout at power-of-two PE).
MASK_FF_LUT = -16.86
MASK_FF_LUT_PER_NEURON = 0.48
MASK_FF_LUT_PER_ADDR_BIT = 6.44
WALKER_LUT = 16.46
WALKER_LUT_PER_ADDR_BIT = 4.03
MASK_SLOT_LUT = 1.03
#: The core takes the LUTRAM mask only when its fit is lower by more than this (LUT): yosys'
#: mapping moves single rows by up to ~21 LUT (the PE 1 rows sit 5-11 above the fit), and the
#: flip-flop mask never stalls the stream.
MASK_RAM_MARGIN = 10
#: (PE, NF, mask in LUTRAM, LUT, FF) of noise_injector_axil, BITS = 1, counters on, the compare
#: forced, as synthesized (`--pe P --nf NF --mask-lutram M`); the fits are over all rows.
MEASURED_NF: tuple[tuple[int, int, int, int, int], ...] = (
    (1, 4, 0, 166, 384), (1, 32, 0, 187, 415), (1, 32, 1, 206, 390), (1, 64, 0, 209, 448),
    (1, 64, 1, 216, 392), (1, 128, 0, 260, 513), (1, 128, 1, 218, 394), (1, 256, 1, 223, 396),
    (1, 1024, 1, 244, 400), (2, 64, 0, 268, 530), (2, 64, 1, 240, 410), (3, 64, 1, 256, 428),
    (4, 32, 0, 323, 553), (4, 32, 1, 287, 432), (4, 64, 0, 381, 682), (4, 64, 1, 287, 434),
    (4, 256, 1, 305, 438), (5, 8, 1, 304, 446), (8, 16, 0, 424, 624), (8, 16, 1, 382, 502),
    (16, 16, 0, 660, 896), (16, 16, 1, 573, 646), (16, 256, 1, 632, 654), (32, 4, 0, 943, 1054),
    (32, 4, 1, 1000, 930), (32, 256, 1, 1117, 942),
)
#: How close the estimate is to every measured row (LUT; FF is exact): yosys' mapping moves
#: single rows by up to ~15 LUT between shapes of the same structure.
LUT_TOLERANCE = 0.06


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


def cmp_in_ram(lanes: int) -> bool:
    """The core's compare choice (`USE_CMP_RAM`): RAM32M tables from 4 lanes on (measured equal
    to the LUT compare at 3 and 4 lanes, cheaper above), LUTs below."""
    return lanes >= 4


def mask_in_lutram(pe: int, neurons: int) -> bool:
    """The core's mask storage choice (`USE_MASK_RAM`, the same integer arithmetic): LUTRAM when
    its fitted cost, in 1/100 LUT, is below that of the flip-flop mask by more than
    MASK_RAM_MARGIN."""
    nf = neurons // pe
    if nf <= 1:
        return False
    fold_w = _clog2(nf)
    sites = 1 if nf <= 64 else 2 if nf <= 128 else 4 * ((nf + 255) // 256)
    ram = (round(100 * WALKER_LUT) + round(100 * WALKER_LUT_PER_ADDR_BIT) * fold_w
           + pe * (100 * sites + round(100 * MASK_SLOT_LUT)))
    ff = (round(100 * MASK_FF_LUT_PER_NEURON) * neurons
          + round(100 * MASK_FF_LUT_PER_ADDR_BIT) * fold_w + round(100 * MASK_FF_LUT))
    return ram + 100 * MASK_RAM_MARGIN < ff


def _mask_ff_lut(pe: int, neurons: int) -> float:
    return (MASK_FF_LUT + MASK_FF_LUT_PER_NEURON * neurons
            + MASK_FF_LUT_PER_ADDR_BIT * _clog2(neurons // pe))


def _mask_ram_lut(pe: int, neurons: int) -> float:
    nf = neurons // pe
    return WALKER_LUT + WALKER_LUT_PER_ADDR_BIT * _clog2(nf) + pe * (_ram_sites(nf) + MASK_SLOT_LUT)


def walker_ff(pe: int, neurons: int) -> int:
    """Flip-flops of the fold counter and the mask writer (the RTL's register widths): the fold
    counter, the writer's address counter (both clog2(NF)) and its 2-bit state."""
    nf = neurons // pe
    if nf == 1:
        return 0
    return 2 * _clog2(nf) + 2


def _check(pe: int, bits: int, neurons: int) -> None:
    for name, v in (("pe", pe), ("bits", bits), ("neurons", neurons)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
    if neurons % pe:
        raise ValueError(f"pe={pe} must divide the layer width {neurons}")


def cost_breakdown(
    pe: int, bits: int, neurons: int, with_counters: bool = True, with_axilite: bool = False,
    mask_lutram: bool | None = None,
) -> dict[str, dict[str, int]]:
    """Every term of the estimate: {part: {"LUT": n, "FF": n}}. With the AXI-Lite file and the
    counters, the terms add up to the measured NF = 1 lines and to the rows of MEASURED_NF.
    `mask_lutram` forces the mask storage (None: the core's own choice, `mask_in_lutram`)."""
    _check(pe, bits, neurons)
    lanes = pe * bits
    nf = neurons // pe
    ram_cmp = cmp_in_ram(lanes)
    line_lut_fixed = AXIL_LUT_FIXED if ram_cmp else LCMP_LUT_FIXED
    line_lut_lane = AXIL_LUT_PER_LANE if ram_cmp else LCMP_LUT_PER_LANE
    line_ff_fixed = AXIL_FF_FIXED if ram_cmp else LCMP_FF_FIXED
    axil_lut = COUNTERS_OFF_LUT_FIXED - CORE_LUT_PE1 + COUNTERS_OFF_LUT_PER_LANE
    axil_ff = COUNTERS_OFF_FF_FIXED - CORE_FF_PE1 + COUNTERS_OFF_FF_PER_LANE
    # per 1-bit lane: the line's slope less the counters' share and the NF = 1 mask bit (FF)
    parts = {
        "lanes": {"LUT": round((line_lut_lane - COUNTER_LUT_PER_LANE) * lanes),
                  "FF": (AXIL_FF_PER_LANE - COUNTER_FF_PER_LANE - 1) * lanes},
        "generator_and_control": {
            "LUT": round(line_lut_fixed - COUNTER_LUT_FIXED - axil_lut),
            "FF": line_ff_fixed - COUNTER_FF_FIXED - axil_ff},
    }
    use_ram = mask_in_lutram(pe, neurons) if mask_lutram is None else bool(mask_lutram and nf > 1)
    if nf == 1:
        parts["fault_mask"] = {"LUT": 0, "FF": neurons}
    elif use_ram:
        parts["fault_mask"] = {"LUT": round(_mask_ram_lut(pe, neurons)),
                               "FF": walker_ff(pe, neurons)}
    else:
        parts["fault_mask"] = {"LUT": round(_mask_ff_lut(pe, neurons)),
                               "FF": neurons + _clog2(nf)}
    if with_counters:
        parts["counters"] = {"LUT": round(COUNTER_LUT_FIXED + COUNTER_LUT_PER_LANE * lanes),
                             "FF": COUNTER_FF_FIXED + COUNTER_FF_PER_LANE * lanes}
    if with_axilite:
        parts["axilite"] = {"LUT": round(axil_lut), "FF": axil_ff}
    return parts


def estimate_resources(
    pe: int, bits: int, neurons: int, with_counters: bool = True, with_axilite: bool = False,
    mask_lutram: bool | None = None,
) -> dict[str, int]:
    """LUT, FF, BRAM, DSP of one injector for a layer of `neurons` neurons at `pe` x `bits` bits.

    Args:
        pe: neurons per beat (the producer's PE).
        bits: bits per neuron in the stream.
        neurons: neurons of the layer (PE must divide it).
        with_counters: include the beat and changed-bit counters (COUNTERS = 1).
        with_axilite: include the AXI-Lite register file around the core (noise_injector_axil).
        mask_lutram: force the mask storage (None: what the core builds).
    """
    parts = cost_breakdown(pe, bits, neurons, with_counters, with_axilite, mask_lutram)
    return {
        "LUT": sum(p["LUT"] for p in parts.values()),
        "FF": sum(p["FF"] for p in parts.values()),
        "BRAM": 0,
        "DSP": 0,
    }
