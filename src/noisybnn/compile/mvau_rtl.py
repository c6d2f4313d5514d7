"""FINN's binary MVAU as our RTL: the `MVAU_xnor_rtl` layer and the pass that selects it.

FINN implements the XNOR-popcount matrix-vector-threshold layer only in HLS (finn-hlslib), so a
w1a1 build needs Vitis HLS for every MVAU. `MVAU_xnor_rtl` is an `RTLBackend` flavour of FINN's
MVAU whose HDL is `hls/rtl/nbnn_mvau_bin.v` with the layer's weights and thresholds as ROM files
(embedded, like FINN's `internal_embedded` memory mode). `SpecializeBinaryMVAUs` (run after FINN's
`step_specialize_layers`) swaps every covered `MVAU_hls` for it.

Covered: binaryXnorMode = 1 (binary weights and inputs), one threshold per neuron or no
activation (the accumulator layer), any SIMD/PE that divide MW/MH, one input vector per image
(fully connected). Not covered, so left to HLS: multi-bit weights or activations (w2a2 ...),
multi-step thresholds, convolutions (numInputVectors > 1), decoupled/external weight memories.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from finn.custom_op.fpgadataflow.matrixvectoractivation import MVAU
from finn.custom_op.fpgadataflow.rtlbackend import RTLBackend
from qonnx.transformation.base import Transformation

from noisybnn.compile.ops import ModuleReferenceIPI
from noisybnn.rtl import emit
from noisybnn.rtl.design import Mvau

RTL_FILES = ("nbnn_mvau_bin.v",)


def covered(node, model) -> bool:
    """Whether an MVAU node can be our RTL layer (see the module docstring)."""
    from qonnx.custom_op.registry import getCustomOp

    op = getCustomOp(node)
    if op.get_nodeattr("binaryXnorMode") != 1:
        return False
    if int(np.prod(op.get_nodeattr("numInputVectors"))) != 1:
        return False
    if op.get_nodeattr("noActivation") == 0:
        t = model.get_initializer(node.input[2])
        if t is None or t.shape[-1] != 1:
            return False
    return True


class MVAU_xnor_rtl(ModuleReferenceIPI, MVAU, RTLBackend):  # noqa: N801 - FINN's <op>_<style> naming
    """A binary MVAU implemented by `nbnn_mvau_bin` (weights and thresholds as ROMs)."""

    def get_nodeattr_types(self):
        attrs = MVAU.get_nodeattr_types(self)
        attrs.update(RTLBackend.get_nodeattr_types(self))
        return attrs

    def lut_estimation(self, fpgapart):
        """FINN's LUT formula of the HLS layer this replaces, so estimate reports stay
        comparable; the measured figure is yosys' (`noisybnn.rtl.resources`)."""
        from finn.custom_op.fpgadataflow.hls.matrixvectoractivation_hls import MVAU_hls

        return MVAU_hls.lut_estimation(self, fpgapart)

    def layer(self, model) -> Mvau:
        """This node as the RTL generator's `Mvau` (weights bool, integer thresholds)."""
        node = self.onnx_node
        w = model.get_initializer(node.input[1])
        mw, mh = w.shape
        t = None
        if self.get_nodeattr("noActivation") == 0:
            thr = np.broadcast_to(model.get_initializer(node.input[2])[:, 0], (mh,))
            t = np.clip(np.ceil(thr.astype(np.float64)), 0, mw + 1).astype(np.int64)
        return Mvau(mw=mw, mh=mh, simd=self.get_nodeattr("SIMD"), pe=self.get_nodeattr("PE"),
                    weights=w > 0, thresholds=t, name=node.name)

    def generate_hdl(self, model, fpgapart, clk):
        top = self.get_verilog_top_module_name()
        self.set_nodeattr("gen_top_module", top)
        out = Path(self.get_nodeattr("code_gen_dir_ipgen"))
        out.mkdir(parents=True, exist_ok=True)
        m = self.layer(model)
        (out / "weights.mem").write_text("\n".join(emit.weight_words(m)) + "\n")
        if m.thresholds is not None:
            (out / "thresholds.mem").write_text("\n".join(emit.threshold_words(m)) + "\n")
        (out / f"{top}.v").write_text(self.wrapper_verilog(top, m, out))
        self.set_nodeattr("ipgen_path", str(out))
        self.set_nodeattr("ip_path", str(out))

    def wrapper_verilog(self, top: str, m: Mvau, rom_dir: Path) -> str:
        """FINN's port names (in0_V / out0_V, byte-padded) around nbnn_mvau_bin. Accumulator
        lanes are zero-extended to FINN's accumulator width when it is wider than ours."""
        in_w = self.get_instream_width_padded()
        out_w = self.get_outstream_width_padded()
        thr = m.thresholds is not None
        lane = 1 if thr else self.get_outstream_width() // m.pe
        if lane < (1 if thr else m.acc_w):
            raise ValueError(f"{self.onnx_node.name}: FINN's output lane of {lane} bits is "
                             f"narrower than the accumulator ({m.acc_w} bits)")
        ours = m.out_w
        lanes = "\n".join(
            f"  assign out0_V_TDATA[{p * lane + lane - 1}:{p * lane}] = "
            + (f"core_out[{p}];" if thr else
               (f"{{{lane - m.acc_w}'d0, core_out[{(p + 1) * m.acc_w - 1}:{p * m.acc_w}]}};"
                if lane > m.acc_w else f"core_out[{(p + 1) * m.acc_w - 1}:{p * m.acc_w}];"))
            for p in range(m.pe))
        pad = (f"  assign out0_V_TDATA[{out_w - 1}:{m.pe * lane}] = 0;\n"
               if out_w > m.pe * lane else "")
        if in_w > m.simd:  # FINN's byte padding carries nothing
            pad += f"  wire unused_in_pad = ^in0_V_TDATA[{in_w - 1}:{m.simd}];\n"
        tfile = f'"{rom_dir / "thresholds.mem"}"' if thr else '""'
        return f"""// Generated by noisybnn for FINN node {self.onnx_node.name}
module {top} (
  input  wire ap_clk,
  input  wire ap_rst_n,
  input  wire [{in_w - 1}:0] in0_V_TDATA,
  input  wire in0_V_TVALID,
  output wire in0_V_TREADY,
  output wire [{out_w - 1}:0] out0_V_TDATA,
  output wire out0_V_TVALID,
  input  wire out0_V_TREADY
);
  wire [{ours - 1}:0] core_out;
  nbnn_mvau_bin #(
    .MW({m.mw}), .MH({m.mh}), .SIMD({m.simd}), .PE({m.pe}), .THRESH({int(thr)}),
    .ACC_W({m.acc_w}), .WFILE("{rom_dir / "weights.mem"}"), .TFILE({tfile})
  ) mvau (
    .ap_clk(ap_clk), .ap_rst_n(ap_rst_n),
    .s_axis_tdata(in0_V_TDATA[{m.simd - 1}:0]), .s_axis_tvalid(in0_V_TVALID),
    .s_axis_tready(in0_V_TREADY),
    .m_axis_tdata(core_out), .m_axis_tvalid(out0_V_TVALID), .m_axis_tready(out0_V_TREADY)
  );
{lanes}
{pad}endmodule
"""

    def get_rtl_file_list(self, abspath=False):
        top = self.get_nodeattr("gen_top_module") + ".v"
        if abspath:
            return [str(emit.RTL_DIR / f) for f in RTL_FILES] + [
                os.path.join(self.get_nodeattr("code_gen_dir_ipgen"), top)]
        return [*RTL_FILES, top]

    def execute_node(self, context, graph):
        if self.get_nodeattr("exec_mode") == "rtlsim":
            RTLBackend.execute_node(self, context, graph)
        else:
            MVAU.execute_node(self, context, graph)


class SpecializeBinaryMVAUs(Transformation):
    """Swap every covered `MVAU_hls` for `MVAU_xnor_rtl` (after FINN's specialize step)."""

    def apply(self, model):
        for node in model.graph.node:
            if node.op_type == "MVAU_hls" and covered(node, model):
                node.op_type = "MVAU_xnor_rtl"
                node.domain = "finn.custom_op.fpgadataflow.rtl"
                node.name = node.name.replace("MVAU_hls", "MVAU_xnor_rtl")
        return model, False


def step_binary_mvau_to_rtl(model, cfg):
    """FINN builder step: binary MVAUs as our RTL (place after step_specialize_layers)."""
    return model.transform(SpecializeBinaryMVAUs())
