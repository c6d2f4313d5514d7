"""The whole accelerator in RTL: a FINN build's layers as our Verilog (binary MVAU, input
binarizer, output scaling) stitched with the noise injectors, FIFOs and width converters; the
top is simulated with Verilator through a C++ harness (`harness`) and synthesized per layer with
yosys (`resources`).

`design.load_design(build_dir)` reads the build; `emit.write_design` writes the Verilog top, the
ROM files and the harness; `verilate.build_simulator` compiles it once (cached by content).
"""

from noisybnn.rtl.design import Design, UnsupportedLayerError, load_design

__all__ = ["Design", "UnsupportedLayerError", "load_design"]
