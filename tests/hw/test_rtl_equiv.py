"""The hand-instantiated 7-series primitives of the injector core equal its behavioural RTL.

`noisybnn.hw.synth` defines `NBNN_XC7_PRIMS` for yosys, which selects LUT4 / RAM32M / LUT6_2 /
CARRY4 instances for the lane accumulator, compare and output (and LUTRAM for a folded mask);
Verilator (every other test in tests/hw) and Vivado see the behavioural branch. This proves
the two branches of `noise_injector_core` equivalent with yosys' own passes (`equiv_make`,
`equiv_simple`, `equiv_induct`) on yosys' own simulation models of the primitives
(`+/xilinx/cells_sim.v`), neither of which the project wrote. A negative control (a wrong
compare LUT function) must fail the same proof, so the check can fail.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from _verilator import CORE_V

from noisybnn.hw import synth

#: (PE, BITS, NEURONS): several bits per neuron, a group count that is not a multiple of 6; 3
#: lanes take the LUT compare, 4 the RAM32M compare (the core's choice by size). NF = 1
#: (the mask in flip-flops): a LUTRAM mask (NF > 1) has RAM32X1S..RAM256X1S state of another
#: shape than the behavioural array, which these passes cannot match; test_rtl_netlist.py
#: simulates the synthesized netlist for those (and for everything else) instead.
SHAPES = [(3, 1, 3), (2, 2, 2)]


def _yosys() -> list[str]:
    try:
        return synth.yosys_command()
    except synth.YosysMissingError as exc:
        pytest.skip(str(exc))


def _prove(core: Path, pe: int, bits: int, neurons: int, tmp_path: Path) -> subprocess.CompletedProcess:
    chparam = f"chparam -set PE {pe} -set BITS {bits} -set NEURONS {neurons} noise_injector_core"
    script = f"""
read_verilog -sv {core}
{chparam}
hierarchy -top noise_injector_core
proc; flatten; opt_clean
rename noise_injector_core gold
design -stash gold
read_verilog +/xilinx/cells_sim.v
read_verilog -sv -D{synth.PRIMS_DEFINE} {core}
{chparam}
hierarchy -top noise_injector_core
proc; flatten; opt_clean
rename noise_injector_core gate
design -copy-from gold -as gold gold
equiv_make gold gate equiv
hierarchy -top equiv
equiv_simple -seq 2
equiv_induct
equiv_status -assert
"""
    ys = tmp_path / f"equiv_{pe}_{bits}_{neurons}.ys"
    ys.write_text(script)
    return subprocess.run([*_yosys(), "-q", "-l", str(ys.with_suffix(".log")), "-s", str(ys)],
                          capture_output=True, text=True, timeout=900)


@pytest.mark.parametrize(("pe", "bits", "neurons"), SHAPES)
def test_primitives_equal_behavioural(pe, bits, neurons, tmp_path):
    res = _prove(CORE_V, pe, bits, neurons, tmp_path)
    log = (tmp_path / f"equiv_{pe}_{bits}_{neurons}.log").read_text()
    assert res.returncode == 0, res.stderr[-2000:] or log[-2000:]
    assert "Equivalence successfully proven!" in log
    # the gate side really holds the primitives (they are flattened into the proof)
    assert "LUT6_2" in log and "CARRY4" in log
    if pe * bits >= 4:  # the RAM32M compare (the core's CMP_RAM rule)
        assert "RAM32M" in log


def test_wrong_primitive_fails(tmp_path):
    """Negative control: the top stage's carry propagates even when threshold[16] is set (so
    threshold 65536 + small would compare on 16 bits only): the proof must fail."""
    text = CORE_V.read_text()
    good = "top_init[32 + i] = (i[0] == i[1]) & ~i[2];"
    assert good in text
    bad = tmp_path / "noise_injector_core.v"
    bad.write_text(text.replace(good, "top_init[32 + i] = (i[0] == i[1]);"))
    res = _prove(bad, 2, 2, 2, tmp_path)  # 4 lanes: the RAM32M compare with that top LUT
    log = (tmp_path / "equiv_2_2_2.log").read_text()
    assert res.returncode != 0 and "Equivalence successfully proven!" not in log


def test_stat_counts_lut6_2_and_lutram_sites():
    """A LUT6_2 is one LUT site; a RAM32M four, a RAM64X1D two; INV is not a LUT."""
    log = """
   Number of cells:                 12
     CARRY4                          2
     INV                             3
     LUT4                            5
     LUT6_2                          4
     RAM32M                          1
     RAM64X1D                        1
     FDRE                            7
"""
    u = synth.parse_stat(log)
    assert (u.lut, u.lutram, u.lut_total, u.ff, u.carry4) == (9, 6, 15, 7, 2)
