"""The yosys-synthesized netlist of the injector (the `NBNN_XC7_PRIMS` branch) against the reference.

Verilator (test_rtl_injector.py) runs the behavioural branch. The primitive branch holds state in
LUTRAM (the fault mask per PE slot, the compare tables per lane in RAM32M), which yosys' equiv
passes cannot compare combinationally, so this test simulates what synthesis produced: the
harness of `_rtl_harness.py` with small cores and the AXI-Lite IP goes through `synth_xilinx
-family xc7 -flatten` (through `noisybnn.hw.synth`'s script), `write_verilog` writes the netlist
of 7-series cells, and Icarus Verilog runs it on yosys' own cell models (`+/xilinx/cells_sim.v`)
under the same cocotb benches as the RTL: every beat against `inject_stream`, random stalls,
mask writes through the core's port and through the bus, threshold loads, resets, reseeds.
A negative control (a wrong INIT in the compare's top LUT, primitive branch only) must fail.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest
from _rtl_harness import TOP, CoreShape, harness_source, shapes_to_env
from _verilator import AXIL_V, BUILD_ROOT, CORE_V, require_cocotb

from noisybnn.hw import synth

#: The core picks its storage by size (docs/injector.md, "Cost"): NF = 5 (flip-flop mask with a
#: fold mux, LUT compare), 64 with PE = 3 and BITS = 2 (LUTRAM mask, RAM64X1S, eight mask words
#: of 8 folds each, one bit of every 4 empty; RAM32M compare), 64 with PE = 2 (LUTRAM mask, four
#: words; LUT compare), 1 (mask flip-flops), and PE 5 x NF 8 forced to the LUTRAM mask (RAM32X1S,
#: 4 folds a word); the AXI-Lite IP at NF = 8 (flip-flop mask) with two mask words.
SHAPES = [CoreShape(1, 1, 5), CoreShape(3, 2, 192), CoreShape(2, 1, 128), CoreShape(4, 1, 4),
          CoreShape(5, 1, 40, mask_lutram=1)]
AXIL_SHAPE = CoreShape(5, 1, 40)
GOOD_TOP = "top_init[i]      = (~i[0] & i[1]) | i[2];"
BAD_TOP = "top_init[i]      = (~i[0] & i[1]);"


def _iverilog() -> str:
    exe = shutil.which("iverilog")
    if exe is None:
        pytest.skip("iverilog not found (Debian: apt-get install iverilog)")
    return exe


def _cells_sim() -> Path:
    """yosys' xilinx cell models, from the yosys data directory."""
    exe = Path(shutil.which(synth.yosys_command()[0]) or "/usr/bin/yosys").resolve()
    for cand in (exe.parent.parent / "share" / "yosys" / "xilinx" / "cells_sim.v",
                 Path("/usr/share/yosys/xilinx/cells_sim.v")):
        if cand.is_file():
            return cand
    pytest.skip(f"yosys' xilinx/cells_sim.v not found next to {exe}")


def netlist(core_v: Path, shapes: list[CoreShape], axil: CoreShape, tag: str) -> Path:
    """Synthesize the harness (core source `core_v`) and write its netlist; cached by content."""
    try:
        yosys = synth.yosys_command()
    except synth.YosysMissingError as exc:
        pytest.skip(str(exc))
    harness = harness_source(shapes, axil)
    h = hashlib.sha256(harness.encode() + core_v.read_bytes() + AXIL_V.read_bytes())
    out_dir = BUILD_ROOT / f"netlist-{tag}-{h.hexdigest()[:12]}"
    net = out_dir / "netlist.v"
    if net.exists():
        return net
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "harness.v").write_text(harness)
    d = f"-D{synth.PRIMS_DEFINE}=1"
    script = (
        "read_verilog -lib -specify +/xilinx/cells_sim.v\n"
        "read_verilog -lib +/xilinx/cells_xtra.v\n"
        f"read_verilog -sv {d} {core_v}\nread_verilog -sv {d} {AXIL_V}\n"
        f"read_verilog -sv {d} {out_dir / 'harness.v'}\n"
        f"hierarchy -check -top {TOP}\n"
        f"synth_xilinx -family xc7 -top {TOP} -flatten\n"
        # flip-flops without an init value power up 0, as on the FPGA (INIT = 0) and in
        # Verilator (--x-initial fast); reset defines every state the output depends on
        "setundef -zero -params\n"
        f"write_verilog -noattr {net}.tmp\nstat\n"
    )
    (out_dir / "synth.ys").write_text(script)
    res = subprocess.run([*yosys, "-q", "-l", str(out_dir / "log.txt"), "-s",
                          str(out_dir / "synth.ys")], capture_output=True, text=True, timeout=1800)
    assert res.returncode == 0, (res.stderr or res.stdout)[-2000:]
    Path(f"{net}.tmp").rename(net)
    return net


def _runner(net: Path):
    require_cocotb()
    _iverilog()
    from cocotb_tools.runner import get_runner

    cells = _cells_sim()
    build_dir = net.parent / "icarus"
    runner = get_runner("icarus")
    runner.build(sources=[str(net), str(cells)], hdl_toplevel=TOP, build_dir=str(build_dir),
                 timescale=("1ns", "1ps"), always=not (build_dir / "sim.vvp").exists(),
                 log_file=str(net.parent / "icarus_build.log"))
    return runner


def _run(runner, module: str, tests: list[str], env: dict, tmp_path: Path) -> tuple[bool, list]:
    import json

    summary = tmp_path / "summary.json"
    try:
        runner.test(test_module=module, hdl_toplevel=TOP, hdl_toplevel_lang="verilog",
                    testcase=tests, test_dir=str(tmp_path),
                    extra_env={**env, "NB_SUMMARY": str(summary)})
        ok = True
    except SystemExit:
        ok = False
    results = json.loads(summary.read_text()) if summary.exists() else []
    # cocotb writes results.xml: a failed test is a <failure> element
    xml = tmp_path / "results.xml"
    if xml.exists() and "<failure" in xml.read_text():
        ok = False
    return ok, results


@pytest.mark.rtl
@pytest.mark.slow
def test_netlist_bit_exact(tmp_path):
    """14-18 minutes on a loaded 2-core machine (Icarus runs the gate-level netlist at ~15 cycles
    per second under cocotb): marked slow."""
    runner = _runner(netlist(CORE_V, SHAPES, AXIL_SHAPE, "good"))
    env = {"NB_CORES": shapes_to_env(SHAPES), "NB_BEATS": "12000", "NB_SEED": "77"}
    ok, results = _run(runner, "cocotb_injector", ["random_stalls_bit_exact", "throughput_ii1"],
                       env, tmp_path / "core")
    assert ok, f"netlist: cocotb benches failed, log in {tmp_path / 'core'}"
    rs = next(r for r in results if r["test"] == "random_stalls_bit_exact")
    total = sum(c["beats_compared"] for c in rs["cores"])
    bad = sum(c["mismatches"] + c["extra_beats"] + c["counter_errors"] for c in rs["cores"])
    writes = sum(c["mask_writes"] for c in rs["cores"])
    print(f"\nnetlist: {total} beats over {len(SHAPES)} cores in {rs['cycles']} cycles, "
          f"{writes} mask-word writes, {bad} mismatches/counter errors")
    assert total >= 12000 and bad == 0 and writes > 0
    s = AXIL_SHAPE
    ok, results = _run(runner, "cocotb_axil", ["axil_registers_and_stream"],
                       {"NB_AXIL": f"{s.pe},{s.bits},{s.neurons}", "NB_SEED": "5"},
                       tmp_path / "axil")
    assert ok and results and results[0]["beats"] > 0, f"netlist AXI-Lite failed ({tmp_path})"


@pytest.mark.rtl
@pytest.mark.slow
def test_netlist_sabotage_fails(tmp_path):
    """Negative control: threshold[16] no longer forces the flip in the top LUT of the compare
    (primitive branch only; T = 65536 is in the schedule): the netlist run must fail."""
    text = CORE_V.read_text()
    assert GOOD_TOP in text
    bad = tmp_path / "noise_injector_core.v"
    bad.write_text(text.replace(GOOD_TOP, BAD_TOP))
    shapes = SHAPES[:2]  # two cores: the valid/ready vectors stay vectors
    runner = _runner(netlist(bad, shapes, AXIL_SHAPE, "sabotage"))
    env = {"NB_CORES": shapes_to_env(shapes), "NB_BEATS": "3000", "NB_SEED": "77"}
    ok, results = _run(runner, "cocotb_injector", ["random_stalls_bit_exact"], env,
                       tmp_path / "run")
    rs = [r for r in results if r["test"] == "random_stalls_bit_exact"]
    assert not ok and rs and sum(c["mismatches"] for c in rs[0]["cores"]) > 0
