"""The FINN RTL backend of the injector: its generated instance is valid Verilog (Verilator lint)
with FINN's port names, and its estimates enter FINN's reports."""

import importlib.util
from pathlib import Path

import pytest
from onnx import helper
from qonnx.custom_op.registry import getCustomOp

from noisybnn.compile.ops import RTL_DIR
from noisybnn.compile.registry import register_ops

register_ops()

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("_verilator", ROOT / "tests" / "hw" / "_verilator.py")
_verilator = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_verilator)


def _rtl_node(pe, channels, dtype, tmp_path):
    node = helper.make_node(
        "NoiseInjector_rtl", ["in"], ["out"], domain="finn.custom_op.fpgadataflow.rtl",
        backend="fpgadataflow", NumChannels=channels, PE=pe, numInputVectors=[1],
        dataType=dtype, mode="flip", threshold=655, seed=3, name="NoiseInjector_rtl_0",
    )
    op = getCustomOp(node)
    op.set_nodeattr("code_gen_dir_ipgen", str(tmp_path))
    return op


@pytest.mark.rtl
@pytest.mark.parametrize("pe,channels,dtype", [(1, 64, "BINARY"), (16, 64, "BINARY"),
                                               (5, 10, "BINARY"), (4, 64, "INT2")])
def test_generated_wrapper_lints_clean(tmp_path, pe, channels, dtype):
    op = _rtl_node(pe, channels, dtype, tmp_path)
    op.generate_hdl(None, "xc7z020clg400-1", 10.0)
    files = [Path(f) for f in op.get_rtl_file_list(abspath=True)]
    assert all(f.is_file() for f in files)
    text = files[-1].read_text()
    for port in ("ap_clk", "ap_rst_n", "in0_V_TDATA", "out0_V_TREADY", "s_axilite_AWADDR"):
        assert port in text
    result = _verilator.lint(files, op.get_nodeattr("gen_top_module"), {})
    assert result.returncode == 0, result.stderr
    assert "%Warning" not in result.stderr, result.stderr
    tcl = op.code_generation_ipi()
    assert any("create_bd_cell" in c and "NoiseInjector_rtl_0" in c for c in tcl)


def test_rtl_sources_shipped():
    assert (RTL_DIR / "noise_injector_core.v").is_file()
    assert (RTL_DIR / "noise_injector_axil.v").is_file()


def test_estimates_and_cycles(tmp_path):
    op = _rtl_node(8, 64, "BINARY", tmp_path)
    res = op.node_res_estimation("xc7z020clg400-1")
    assert res["LUT"] > 0 and res["BRAM_18K"] == 0 and res["DSP"] == 0
    assert op.get_exp_cycles() == 64 // 8  # one beat per clock
    wide = _rtl_node(32, 64, "BINARY", tmp_path)
    assert wide.node_res_estimation("xc7z020clg400-1")["LUT"] > res["LUT"]
