"""The `NoiseInjector` FINN layer: hardware-abstraction op (numpy execution) and RTL backend.

The numpy execution is the injector reference of `noisybnn.hw`, applied to the tensor in FINN's
stream order, so a FINN graph with injectors computes exactly what the accelerator computes.
`NoiseInjector_rtl` instantiates `hls/rtl/noise_injector_axil.v` for FINN's IP stitching; its
resource and cycle estimates feed FINN's estimate reports.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from finn.custom_op.fpgadataflow.hwcustomop import HWCustomOp
from finn.custom_op.fpgadataflow.rtlbackend import RTLBackend
from qonnx.core.datatype import DataType

from noisybnn.hw import InjectorConfig, Mode
from noisybnn.hw.injector import inject_stream
from noisybnn.resources import rtl_dir

RTL_DIR = rtl_dir()
MODES = {"off", "flip", "stuck0", "stuck1"}


class NoiseInjector(HWCustomOp):
    """Flips (or forces) the bits of a folded stream of neuron outputs, as the hardware does."""

    def get_nodeattr_types(self):
        attrs = super().get_nodeattr_types()
        attrs.update(
            {
                "NumChannels": ("i", True, 0),
                "PE": ("i", True, 1),
                "numInputVectors": ("ints", False, [1]),
                "dataType": ("s", True, ""),
                "mode": ("s", False, "flip", MODES),
                "threshold": ("i", False, 0),
                "seed": ("i", False, 1),
                "fault_mask": ("ints", False, []),
                "layer_index": ("i", False, 0),
            }
        )
        return attrs

    # --- shapes and types --------------------------------------------------------------------
    def get_normal_input_shape(self, ind=0):
        return tuple(self.get_nodeattr("numInputVectors")) + (self.get_nodeattr("NumChannels"),)

    def get_normal_output_shape(self, ind=0):
        return self.get_normal_input_shape()

    def get_folded_input_shape(self, ind=0):
        pe = self.get_nodeattr("PE")
        ch = self.get_nodeattr("NumChannels")
        return tuple(self.get_nodeattr("numInputVectors")) + (ch // pe, pe)

    def get_folded_output_shape(self, ind=0):
        return self.get_folded_input_shape()

    def get_input_datatype(self, ind=0):
        return DataType[self.get_nodeattr("dataType")]

    def get_output_datatype(self, ind=0):
        return self.get_input_datatype()

    def get_instream_width(self, ind=0):
        return self.get_input_datatype().bitwidth() * self.get_nodeattr("PE")

    def get_outstream_width(self, ind=0):
        return self.get_instream_width()

    def get_number_output_values(self):
        return int(np.prod(self.get_folded_output_shape()[:-1]))

    def get_exp_cycles(self):
        """One beat per clock (II=1): cycles = vectors * NumChannels / PE."""
        return int(np.prod(self.get_folded_output_shape()[:-1]))

    def make_shape_compatible_op(self, model):
        return super().make_const_shape_op(self.get_normal_input_shape())

    def infer_node_datatype(self, model):
        idt = model.get_tensor_datatype(self.onnx_node.input[0])
        if idt != self.get_input_datatype():
            self.set_nodeattr("dataType", idt.name)
        model.set_tensor_datatype(self.onnx_node.output[0], self.get_output_datatype())

    def verify_node(self):
        msgs = []
        ch, pe = self.get_nodeattr("NumChannels"), self.get_nodeattr("PE")
        if pe < 1 or ch % pe:
            msgs.append(f"PE={pe} must divide NumChannels={ch}")
        return msgs

    # --- the reference behaviour -------------------------------------------------------------
    def injector_config(self) -> InjectorConfig:
        mask = self.get_nodeattr("fault_mask")
        return InjectorConfig(
            neurons=self.get_nodeattr("NumChannels"),
            pe=self.get_nodeattr("PE"),
            bits=self.get_input_datatype().bitwidth(),
            mode=Mode.parse(self.get_nodeattr("mode")),
            threshold=self.get_nodeattr("threshold"),
            seed=self.get_nodeattr("seed"),
            fault_mask=tuple(bool(m) for m in mask) if len(mask) else None,
        )

    def execute_node(self, context, graph):
        node = self.onnx_node
        x = context[node.input[0]]
        cfg = self.injector_config()
        dt = self.get_input_datatype()
        vectors = x.reshape(-1, cfg.neurons)
        codes = values_to_codes(vectors, dt)
        beats = codes.reshape(-1, cfg.pe)  # NHWC: pixel-major, channels fastest (docs/injector.md)
        out, _ = inject_stream(cfg, beats, samples=_samples(cfg, len(beats)))
        y = codes_to_values(out.reshape(vectors.shape), dt).reshape(x.shape)
        context[node.output[0]] = y.astype(x.dtype)

    # --- estimates -----------------------------------------------------------------------------
    def node_res_estimation(self, fpgapart):
        from noisybnn.hw.rtl_cost import estimate_resources

        est = estimate_resources(
            pe=self.get_nodeattr("PE"),
            bits=self.get_input_datatype().bitwidth(),
            neurons=self.get_nodeattr("NumChannels"),
            with_counters=True,
            with_axilite=True,  # the instance is noise_injector_axil: core + register file
        )
        return {"BRAM_18K": est.get("BRAM", 0), "BRAM_efficiency": 1, "LUT": est["LUT"],
                "URAM": 0, "URAM_efficiency": 1, "DSP": est.get("DSP", 0)}

    def lut_estimation(self, fpgapart=None):
        return self.node_res_estimation(fpgapart)["LUT"]

    def bram_estimation(self, fpgapart=None):
        return 0

    def dsp_estimation(self, fpgapart=None):
        return 0

    def uram_estimation(self, fpgapart=None):
        return 0


class ModuleReferenceIPI:
    """`code_generation_ipi` of an RTL layer of ours: add its Verilog files, then one block-design
    cell that references its top module (as FINN's own RTL layers do, rtl/thresholding_rtl.py)."""

    def code_generation_ipi(self):
        cmd = [f"add_files -norecurse {f}" for f in self.get_rtl_file_list(abspath=True)]
        cmd.append(f"create_bd_cell -type module -reference {self.get_nodeattr('gen_top_module')} "
                   f"{self.onnx_node.name}")
        return cmd


class NoiseInjector_rtl(ModuleReferenceIPI, NoiseInjector, RTLBackend):  # noqa: N801 - FINN's naming convention
    """RTL flavour: an instance of our Verilog injector with an AXI-Lite control port."""

    def get_nodeattr_types(self):
        attrs = NoiseInjector.get_nodeattr_types(self)
        attrs.update(RTLBackend.get_nodeattr_types(self))
        return attrs

    def generate_hdl(self, model, fpgapart, clk):
        top = self.get_verilog_top_module_name()
        self.set_nodeattr("gen_top_module", top)
        code_gen_dir = self.get_nodeattr("code_gen_dir_ipgen")
        Path(code_gen_dir).mkdir(parents=True, exist_ok=True)
        Path(code_gen_dir, top + ".v").write_text(self.wrapper_verilog(top))
        self.set_nodeattr("ipgen_path", code_gen_dir)
        self.set_nodeattr("ip_path", code_gen_dir)

    def wrapper_verilog(self, top: str) -> str:
        """A wrapper with FINN's port names (in0_V / out0_V / s_axilite) around
        noise_injector_axil; stream widths are padded to bytes, as FINN pads them. The clock carries the
        interface attributes every FINN wrapper carries, so IP integrator associates the
        streams and the AXI-Lite port with ap_clk / ap_rst_n."""
        cfg = self.injector_config()
        padded = self.get_instream_width_padded()
        return f"""// Generated by noisybnn for FINN node {self.onnx_node.name}
module {top} (
  (* X_INTERFACE_PARAMETER = "ASSOCIATED_BUSIF s_axilite:in0_V:out0_V, ASSOCIATED_RESET ap_rst_n" *)
  (* X_INTERFACE_INFO = "xilinx.com:signal:clock:1.0 ap_clk CLK" *)
  input  wire ap_clk,
  (* X_INTERFACE_PARAMETER = "POLARITY ACTIVE_LOW" *)
  input  wire ap_rst_n,
  input  wire [{padded - 1}:0] in0_V_TDATA,
  input  wire in0_V_TVALID,
  output wire in0_V_TREADY,
  output wire [{padded - 1}:0] out0_V_TDATA,
  output wire out0_V_TVALID,
  input  wire out0_V_TREADY,
  input  wire [11:0] s_axilite_AWADDR,
  input  wire s_axilite_AWVALID,
  output wire s_axilite_AWREADY,
  input  wire [31:0] s_axilite_WDATA,
  input  wire [3:0] s_axilite_WSTRB,
  input  wire s_axilite_WVALID,
  output wire s_axilite_WREADY,
  output wire [1:0] s_axilite_BRESP,
  output wire s_axilite_BVALID,
  input  wire s_axilite_BREADY,
  input  wire [11:0] s_axilite_ARADDR,
  input  wire s_axilite_ARVALID,
  output wire s_axilite_ARREADY,
  output wire [31:0] s_axilite_RDATA,
  output wire [1:0] s_axilite_RRESP,
  output wire s_axilite_RVALID,
  input  wire s_axilite_RREADY
);
  noise_injector_axil #(
    .PE({cfg.pe}), .BITS({cfg.bits}), .NEURONS({cfg.neurons}), .COUNTERS(1), .ADDR_W(12)
  ) injector (
    .ap_clk(ap_clk), .ap_rst_n(ap_rst_n),
    .s_axil_awaddr(s_axilite_AWADDR), .s_axil_awvalid(s_axilite_AWVALID),
    .s_axil_awready(s_axilite_AWREADY), .s_axil_wdata(s_axilite_WDATA),
    .s_axil_wstrb(s_axilite_WSTRB), .s_axil_wvalid(s_axilite_WVALID),
    .s_axil_wready(s_axilite_WREADY), .s_axil_bresp(s_axilite_BRESP),
    .s_axil_bvalid(s_axilite_BVALID), .s_axil_bready(s_axilite_BREADY),
    .s_axil_araddr(s_axilite_ARADDR), .s_axil_arvalid(s_axilite_ARVALID),
    .s_axil_arready(s_axilite_ARREADY), .s_axil_rdata(s_axilite_RDATA),
    .s_axil_rresp(s_axilite_RRESP), .s_axil_rvalid(s_axilite_RVALID),
    .s_axil_rready(s_axilite_RREADY),
    .s_axis_tdata(in0_V_TDATA), .s_axis_tvalid(in0_V_TVALID), .s_axis_tready(in0_V_TREADY),
    .m_axis_tdata(out0_V_TDATA), .m_axis_tvalid(out0_V_TVALID), .m_axis_tready(out0_V_TREADY)
  );
endmodule
"""

    def get_verilog_top_module_intf_names(self):
        intf = super().get_verilog_top_module_intf_names()
        intf["axilite"] = ["s_axilite"]
        return intf

    def get_rtl_file_list(self, abspath=False):
        files = ["noise_injector_core.v", "noise_injector_axil.v"]
        top = self.get_nodeattr("gen_top_module") + ".v"
        if abspath:
            return [str(RTL_DIR / f) for f in files] + [
                os.path.join(self.get_nodeattr("code_gen_dir_ipgen"), top)
            ]
        return files + [top]

    def execute_node(self, context, graph):
        if self.get_nodeattr("exec_mode") == "rtlsim":
            RTLBackend.execute_node(self, context, graph)
        else:
            NoiseInjector.execute_node(self, context, graph)


def _samples(cfg: InjectorConfig, n_beats: int) -> np.ndarray | None:
    """The lanes' samples of a run of `n_beats` beats, drawn by the sim's compiled runner of
    `hw.lfsr` (tested equal to the numpy reference in tests/experiments/test_sim_kernels.py):
    a conv layer streams H*W*C/PE beats per image, too many for the numpy loop. None where no
    sample is needed or numba is missing (the reference draws them)."""
    if cfg.mode is not Mode.FLIP or cfg.threshold == 0:
        return None
    from noisybnn.backends import kernels

    return kernels.lane_samples(cfg, n_beats) if kernels.AVAILABLE else None


def values_to_codes(values: np.ndarray, dt: DataType) -> np.ndarray:
    """Tensor values -> unsigned stream codes of `dt.bitwidth()` bits (two's complement)."""
    v = np.rint(values).astype(np.int64)
    if dt == DataType["BIPOLAR"]:
        return (v + 1) // 2
    return v & ((1 << dt.bitwidth()) - 1)


def codes_to_values(codes: np.ndarray, dt: DataType) -> np.ndarray:
    if dt == DataType["BIPOLAR"]:
        return (2 * codes - 1).astype(np.float32)
    bits = dt.bitwidth()
    if dt.signed():
        half = 1 << (bits - 1)
        codes = np.where(codes >= half, codes - (1 << bits), codes)
    return codes.astype(np.float32)
