"""FINN's own sliding window (ConvolutionInputGenerator_rtl, finn-rtllib `swg`) in the Verilator
simulation, as a cross-check of ours (`nbnn_swg_bin`).

FINN fills its SystemVerilog template (`swg_template_default.sv`, with `swg_pkg.sv` and
`swg_common.sv`) from the folded model's node (`generate_hdl`). Verilator reads it; yosys 0.23
does not (`module swg_controller import swg::*; #(` in swg_common.sv and `int unsigned`
parameters in the generated module are SystemVerilog it cannot parse), so resources are always
measured on ours and this path is for simulation only: `RtlAccelerator(build, swg="finn")`.
Each FINN window is wrapped in a small adapter with our stream port names.
"""

from __future__ import annotations

from pathlib import Path

from noisybnn.rtl.design import FOLDED_MODEL, Design, Swg, UnsupportedLayerError


def _plain(name: str) -> str:
    return name.replace("_rtl", "").replace("_hls", "")


def generate(design: Design, out_dir: Path) -> tuple[dict[int, str], list[Path], str]:
    """Write FINN's generated SWG of every conv window of `design` under `out_dir`.

    Returns ({layer index: adapter module}, source files, adapter Verilog)."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    from noisybnn.compile.finn_env import prepare_finn

    prepare_finn()
    from finn.util.settings import get_settings

    folded = ModelWrapper(str(design.build_dir / FOLDED_MODEL))
    nodes = {_plain(n.name): n for n in folded.graph.node
             if n.op_type.startswith("ConvolutionInputGenerator")}
    rtllib = Path(get_settings().finn_rtllib) / "swg"
    sources = [rtllib / "swg_pkg.sv", rtllib / "swg_common.sv"]
    modules: dict[int, str] = {}
    adapters = []
    for idx, layer in enumerate(design.layers):
        if not isinstance(layer, Swg):
            continue
        node = nodes.get(_plain(layer.name))
        if node is None or node.op_type != "ConvolutionInputGenerator_rtl":
            raise UnsupportedLayerError(f"{layer.name}: the folded model has no "
                                        "ConvolutionInputGenerator_rtl for it")
        op = getCustomOp(node)
        gen = (out_dir / node.name).resolve()
        gen.mkdir(parents=True, exist_ok=True)
        op.set_nodeattr("code_gen_dir_ipgen", str(gen))
        op.generate_hdl(folded, "xc7z020clg400-1", 10.0)
        sources += [gen / f"{node.name}_impl.sv", gen / f"{node.name}_wrapper.v"]
        name = f"nbnn_finn_swg{idx}"
        modules[idx] = name
        pad = (layer.simd + 7) // 8 * 8
        din = f"{{{pad - layer.simd}'d0, s_axis_tdata}}" if pad > layer.simd else "s_axis_tdata"
        adapters.append(
            f"module {name} (\n    input wire ap_clk, input wire ap_rst_n,\n"
            f"    input wire [{layer.simd - 1}:0] s_axis_tdata, input wire s_axis_tvalid,\n"
            "    output wire s_axis_tready,\n"
            f"    output wire [{layer.simd - 1}:0] m_axis_tdata, output wire m_axis_tvalid,\n"
            "    input wire m_axis_tready);\n"
            f"    wire [{pad - 1}:0] o;\n"
            f"    {node.name} u (.ap_clk(ap_clk), .ap_rst_n(ap_rst_n),\n"
            f"        .in0_V_TDATA({din}), "
            ".in0_V_TVALID(s_axis_tvalid), .in0_V_TREADY(s_axis_tready),\n"
            "        .out0_V_TDATA(o), .out0_V_TVALID(m_axis_tvalid), "
            ".out0_V_TREADY(m_axis_tready));\n"
            f"    assign m_axis_tdata = o[{layer.simd - 1}:0];\nendmodule\n")
    return modules, sources, "\n".join(adapters)
