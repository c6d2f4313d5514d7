"""The dry run: stand-in Vivado/Vitis HLS execute generated Tcl in tclsh and fail as Vivado would.

The fast tests drive the stand-ins directly; the slow ones run FINN's whole hardware build for
the shipped models (about 2 minutes each on 2 cores) and need finn-hlslib and attention-hlslib
under FINN_DEPS (FINN's own variable; `finn deps update` fetches them)."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from noisybnn.compile.dry_run import standin_tools, summarize
from noisybnn.compile.finn_env import HardwareDeps

pytestmark = pytest.mark.skipif(shutil.which("tclsh") is None, reason="tclsh not installed")


def _vivado(tmp_path: Path, tcl: str):
    script = tmp_path / "make_project.tcl"
    script.write_text(tcl)
    log = tmp_path / "log.jsonl"
    with standin_tools(tmp_path / "work", log):
        proc = subprocess.run(["vivado", "-mode", "batch", "-source", str(script)],
                              capture_output=True, text=True, timeout=60, env=dict(os.environ))
    return proc, summarize(log, HardwareDeps(finn_deps=tmp_path))


def test_good_script_is_logged(tmp_path):
    src = tmp_path / "a.v"
    src.write_text("module a; endmodule\n")
    proc, rep = _vivado(tmp_path, f"""
create_project p {tmp_path}/proj -part xc7z020clg400-1
set_property ip_repo_paths $::env(FINN_RTLLIB) [current_project]
add_files -norecurse {src}
create_bd_design "top"
make_wrapper -files [get_files top.bd] -top
add_files -norecurse {tmp_path}/proj/p.srcs/sources_1/bd/top/hdl/top_wrapper.v
""".replace("$::env(FINN_RTLLIB)", "$::env(XILINX_VIVADO)"))
    assert proc.returncode == 0, proc.stderr
    assert rep["counts"]["missing"] == 0 and rep["counts"]["scripts"] == 1
    assert rep["env"]["XILINX_VIVADO"]["defined"]
    assert str(src) in rep["files"] and rep["files"][str(src)]["exists"]
    assert "set_property" in rep["unmodelled_commands"]


@pytest.mark.parametrize("tcl, why", [
    ("puts $::env(NOISYBNN_NOT_SET)", "no such"),
    ("puts $undefined_var", "no such variable"),
    ("add_files -norecurse /nonexistent/x.v", "not found"),
    ("create_project only_one_arg", "wrong # args"),
    ("set_param board.repoPaths", "wrong # args"),
])
def test_bad_script_fails(tmp_path, tcl, why):
    proc, rep = _vivado(tmp_path, tcl + "\n")
    assert proc.returncode != 0
    assert why in proc.stderr
    assert rep["errors"]


def test_absent_finn_dependency_is_expected_not_missing(tmp_path, monkeypatch):
    """Scripts can be generated without finn-hlslib: an -I under FINN_DEPS that is absent is
    reported as an expected external input; any other absent include folder fails."""
    src = tmp_path / "top.cpp"
    src.write_text("int top() { return 0; }\n")
    deps = tmp_path / "finn_deps"
    monkeypatch.setenv("FINN_DEPS", str(deps))
    proc, rep = _vivado(tmp_path, f'add_files {src} -cflags "-std=c++14 -I{deps}/finn-hlslib"\n')
    assert proc.returncode == 0, proc.stderr
    assert rep["missing"] == [] and rep["expected_external_missing"] == [str(deps / "finn-hlslib")]
    proc, rep = _vivado(tmp_path, f'add_files {src} -cflags "-I{tmp_path}/elsewhere"\n')
    assert proc.returncode != 0 and "include-dir file not found" in proc.stderr


def _counts(path: Path) -> dict:
    d = json.loads(path.read_text())
    return d


def check_zynq_addresses(dry_dir: Path, n_injectors: int = 3) -> dict:
    """End to end on FINN's real output of the dry run: the cells and AXI-Lite interfaces of
    the shell script MakeZYNQProject generated (ip_config.tcl), the nodes of each partition FINN
    wrote (kernel_partitions/partition_k.onnx), a .hwh with those cells at FINN's addresses, and
    our reader + partition join must put each injector at its partition's base."""
    import re

    from qonnx.core.modelwrapper import ModelWrapper

    from noisybnn.compile.addresses import injector_bases, read_hwh
    from noisybnn.compile.registry import register_ops
    from tests.compile._hwh import finn_zynq_hwh

    register_ops()
    (tcl,) = dry_dir.glob("finn_build/vivado_zynq_proj_*/ip_config.tcl")
    text = tcl.read_text()
    cells = dict(re.findall(
        r"create_bd_cell -type ip -vlnv \S+:(StreamingDataflowPartition_\d+):\S+ (\S+)", text))
    axilite = re.findall(r"^assign_axi_addr_proc (\S+)/(\S+)$", text, re.M)
    carriers = {}  # FINN prefixes a partition's nodes with the partition node's name
    for f in (dry_dir / "finn" / "intermediate_models" / "kernel_partitions").glob("partition_*.onnx"):
        for node in ModelWrapper(str(f)).graph.node:
            if node.op_type == "NoiseInjector_rtl":
                sdp = re.match(r"(StreamingDataflowPartition_\d+)_", node.name).group(1)
                layer = next(a.i for a in node.attribute if a.name == "layer_index")
                carriers[layer] = cells[sdp]
    assert sorted(carriers) == list(range(n_injectors))
    assert {(c, i) for c, i in axilite if c in carriers.values()} == {
        (c, "s_axilite_0") for c in carriers.values()}
    hwh_text, _ = finn_zynq_hwh(list(cells), set(carriers.values()))
    hwh = dry_dir / "fixture.hwh"
    hwh.write_text(hwh_text)
    slaves = read_hwh(hwh)
    assert [(s.instance, s.interface) for s in slaves] == axilite  # FINN's cells, order, ports
    bases = injector_bases(slaves, carriers)
    assert len(set(bases.values())) == n_injectors
    return bases


@pytest.mark.slow
@pytest.mark.parametrize("model, board", [("tfc-w1a1", "pynq-z2"), ("sfc-w1a1", "pynq-z2"),
                                          ("lfc-w1a1", "pynq-z2"), ("tfc-w1a1", "alveo-u250"),
                                          ("cnv-w1a1", "pynq-z2"), ("cnv-w2a2", "pynq-z2"),
                                          ("cnv-w1a1-in8", "pynq-z2")])
def test_dry_run_reports_nothing_missing(model, board, tmp_path):
    from noisybnn.compile.dry_run import dry_run
    from noisybnn.zoo import checkpoint_path

    if not checkpoint_path(model).is_file():
        pytest.skip(f"shipped checkpoint {model} missing")

    deps = Path(os.environ.get("FINN_DEPS", "build/finn_deps"))
    if not (deps / "finn-hlslib" / "bnn-library.h").is_file():
        pytest.skip(f"finn-hlslib not under FINN_DEPS={deps}")
    os.environ["FINN_DEPS"] = str(deps.resolve())
    d = _counts(dry_run(model, board, tmp_path))
    assert d["missing"] == [] and not d["errors"]
    assert d["completed"] or d["stopped_at"]
    assert d["counts"]["scripts"] > 5 and d["counts"]["files"] > 10
    assert {"FINN_RTLLIB", "FINN_CUSTOM_HLS"} <= set(d["env"]) or board == "alveo-u250"
    if board == "pynq-z2":  # cnv: 4 conv + 1 fc injectors, sliding windows and pools between
        check_zynq_addresses(tmp_path, 5 if model.startswith("cnv") else 3)
    if board == "alveo-u250":  # FINN's Vitis packaging: numReps on the injectors' control port
        inj = [a for a in d["vitis_kernel_args"] if a["arg"] == "numReps" and a["port"] == "s_axilite_0"]
        assert inj and {a["offset"] for a in inj} == {"0x10"}
