"""Write a `Design` as RTL: ROM files, one Verilog top that chains the layers as FINN stitches
them, and the Verilator C++ harness that drives it (`harness.cpp.in`).

Stream chain (FINN's order; a FIFO after every layer, a width converter where the producer's
beat differs from the consumer's, and in front of every MVAU a FIFO that holds one input vector):

    pixels (PE_in x 8 bit) -> binarize -> DWC -> MVAU_0 -> injector_0 -> DWC -> MVAU_1 -> ...
        -> MVAU_last (accumulators) -> scale/bias (32-bit logits) -> out

and for a CNN, in FINN's order: binarize -> [sliding window (SIMD_swg) -> DWC -> MVAU ->
injector] per conv, max-pool (PE_pool) after the injector where the build pools, ... -> fc MVAUs.

Injectors are `noise_injector_axil` as they are (byte-padded streams, one AXI-Lite port each:
`s_axil<k>_*`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from noisybnn.resources import rtl_dir
from noisybnn.rtl.design import Design, Injector, MaxPool, Mvau, Swg

RTL_DIR = rtl_dir()
TOP = "nbnn_accel"
OUR_SOURCES = ("nbnn_mvau_bin.v", "nbnn_binarize.v", "nbnn_stream_fifo.v", "nbnn_stream_dwc.v",
               "nbnn_scale_bias.v", "nbnn_swg_bin.v", "nbnn_maxpool_bin.v")
INJECTOR_SOURCES = ("noise_injector_core.v", "noise_injector_axil.v")
AXIL_ADDR_W = 12
AXIL_PORTS = [  # (name, direction as seen by the top, width)
    ("awaddr", "input", AXIL_ADDR_W), ("awvalid", "input", 1), ("awready", "output", 1),
    ("wdata", "input", 32), ("wstrb", "input", 4), ("wvalid", "input", 1), ("wready", "output", 1),
    ("bresp", "output", 2), ("bvalid", "output", 1), ("bready", "input", 1),
    ("araddr", "input", AXIL_ADDR_W), ("arvalid", "input", 1), ("arready", "output", 1),
    ("rdata", "output", 32), ("rresp", "output", 2), ("rvalid", "output", 1), ("rready", "input", 1),
]


def sources() -> list[Path]:
    """Every Verilog file the top needs (ours and the injector's)."""
    return [RTL_DIR / s for s in OUR_SOURCES + INJECTOR_SOURCES]


def _hex_rows(bits: np.ndarray) -> list[str]:
    """Rows of a bool matrix as hex words, column 0 the LSB."""
    width = bits.shape[1]
    packed = np.packbits(bits.astype(np.uint8), axis=1, bitorder="little")
    digits = (width + 3) // 4
    return [bytes(row[::-1]).hex()[-digits:] if digits else "0" for row in packed]


def weight_words(m: Mvau) -> list[str]:
    """ROM of an MVAU: word nf*SF + sf, bit p*SIMD + s = w[nf*PE + p][sf*SIMD + s]."""
    nf, sf = m.mh // m.pe, m.mw // m.simd
    w = m.weights.T.reshape(nf, m.pe, sf, m.simd).transpose(0, 2, 1, 3)
    return _hex_rows(w.reshape(nf * sf, m.pe * m.simd))


def threshold_words(m: Mvau) -> list[str]:
    """Threshold ROM: word nf, lane p (THR_W = ACC_W + 1 bits) = T[nf*PE + p]."""
    tw = m.acc_w + 1
    digits = (m.pe * tw + 3) // 4
    out = []
    for f in range(m.mh // m.pe):
        v = 0
        for p in range(m.pe):
            v |= int(m.thresholds[f * m.pe + p]) << (p * tw)
        out.append(f"{v:0{digits}x}")
    return out


def swg_params(s: Swg) -> dict:
    return {"IFM_H": s.ifm[0], "IFM_W": s.ifm[1], "C": s.channels, "SIMD": s.simd,
            "K": s.kernel, "S": s.stride, "SLACK": s.slack_rows}


def pool_params(p: MaxPool) -> dict:
    return {"IFM_H": p.ifm[0], "IFM_W": p.ifm[1], "C": p.channels, "PE": p.pe, "K": p.kernel}


@dataclass
class Stream:
    name: str
    width: int


class _Chain:
    """Builds the top's body: each stage consumes the current stream and yields the next."""

    def __init__(self, fifo_depth: int):
        self.body: list[str] = []
        self.wires: list[str] = []
        self.n = 0
        self.fifo_depth = fifo_depth

    def stream(self, width: int) -> Stream:
        name = f"st{self.n}"
        self.n += 1
        self.wires.append(f"    wire [{width - 1}:0] {name}_tdata;\n"
                          f"    wire {name}_tvalid, {name}_tready;")
        return Stream(name, width)

    def instance(self, module: str, params: dict, src: Stream, out_w: int, inst: str,
                 extra: str = "", pad_in: int = 0, pad_out: int = 0) -> Stream:
        dst = self.stream(out_w)
        ps = ", ".join(f".{k}({v})" for k, v in params.items())
        ps = f"#({ps}) " if ps else ""
        sd = f"{{{pad_in}'d0, {src.name}_tdata}}" if pad_in else f"{src.name}_tdata"
        if pad_out:
            pad_wire = f"{inst}_mdata"
            self.wires.append(f"    wire [{out_w + pad_out - 1}:0] {pad_wire};")
            md = pad_wire
            self.body.append(f"    assign {dst.name}_tdata = {pad_wire}[{out_w - 1}:0];\n"
                             f"    wire unused_{inst}_pad = ^{pad_wire}[{out_w + pad_out - 1}:{out_w}];")
        else:
            md = f"{dst.name}_tdata"
        self.body.append(
            f"    {module} {ps}{inst} (\n"
            f"        .ap_clk(ap_clk), .ap_rst_n(ap_rst_n),{extra}\n"
            f"        .s_axis_tdata({sd}), .s_axis_tvalid({src.name}_tvalid), "
            f".s_axis_tready({src.name}_tready),\n"
            f"        .m_axis_tdata({md}), .m_axis_tvalid({dst.name}_tvalid), "
            f".m_axis_tready({dst.name}_tready));")
        return dst

    def fifo(self, src: Stream) -> Stream:
        return self.instance("nbnn_stream_fifo", {"W": src.width, "DEPTH": self.fifo_depth}, src,
                             src.width, f"u_fifo{self.n}")

    def dwc(self, src: Stream, width: int) -> Stream:
        if src.width == width:
            return src
        return self.instance("nbnn_stream_dwc", {"IW": src.width, "OW": width}, src, width,
                             f"u_dwc{self.n}")


def top_source(design: Design, rom_dir: Path, fifo_depth: int = 8,
               swg_modules: dict[int, str] | None = None) -> str:
    """Verilog of the stitched accelerator for `design`, its ROMs in `rom_dir`.

    `swg_modules` (layer index -> module with our stream ports) replaces our sliding window
    there (FINN's generated one, `finn_swg`, for simulation)."""
    ch = _Chain(fifo_depth)
    b = design.binarize
    ports = ["    input  wire ap_clk,", "    input  wire ap_rst_n,",
             f"    input  wire [{8 * b.pe - 1}:0] s_axis_tdata,", "    input  wire s_axis_tvalid,",
             "    output wire s_axis_tready,"]
    src = Stream("s_axis", 8 * b.pe)
    cur = ch.instance("nbnn_binarize", {"PE": b.pe, "T": b.threshold}, src, b.pe, "u_binarize")
    cur = ch.fifo(cur)
    k = 0
    for idx, layer in enumerate(design.layers):
        if isinstance(layer, Mvau):
            cur = ch.dwc(cur, layer.simd)
            # room for one whole input vector: the MVAU reads its input only during its first
            # neuron fold, so the producer must run ahead by a vector for the layers to overlap
            # (FINN's FIFO sizing finds the same; its estimate assumes full overlap)
            cur = ch.instance("nbnn_stream_fifo", {"W": cur.width,
                                                   "DEPTH": max(fifo_depth, layer.mw // layer.simd + 2)},
                              cur, cur.width, f"u_vfifo{idx}")
            thresh = layer.thresholds is not None
            params = {"MW": layer.mw, "MH": layer.mh, "SIMD": layer.simd, "PE": layer.pe,
                      "THRESH": int(thresh), "ACC_W": layer.acc_w,
                      "WFILE": f'"{rom_dir / f"w{idx}.mem"}"',
                      "TFILE": f'"{rom_dir / (f"t{idx}.mem" if thresh else "none.mem")}"'}
            cur = ch.instance("nbnn_mvau_bin", params, cur, layer.out_w, f"u_mvau{idx}")
            cur = ch.fifo(cur)
        elif isinstance(layer, Swg):
            cur = ch.dwc(cur, layer.simd)
            if swg_modules and idx in swg_modules:
                cur = ch.instance(swg_modules[idx], {}, cur, layer.simd, f"u_swg{idx}")
            else:
                cur = ch.instance("nbnn_swg_bin", swg_params(layer), cur, layer.simd,
                                  f"u_swg{idx}")
            cur = ch.fifo(cur)
        elif isinstance(layer, MaxPool):
            cur = ch.dwc(cur, layer.pe)
            cur = ch.instance("nbnn_maxpool_bin", pool_params(layer), cur, layer.pe,
                              f"u_pool{idx}")
            cur = ch.fifo(cur)
        else:
            axis_w = (layer.pe + 7) // 8 * 8
            axil = "".join(f"\n        .s_axil_{n}(s_axil{k}_{n})," for n, _, _ in AXIL_PORTS)
            for n, d, w in AXIL_PORTS:
                rng = f"[{w - 1}:0] " if w > 1 else ""
                ports.append(f"    {d:6s} wire {rng}s_axil{k}_{n},")
            cur = ch.instance("noise_injector_axil",
                              {"PE": layer.pe, "BITS": 1, "NEURONS": layer.neurons,
                               "ADDR_W": AXIL_ADDR_W}, cur, layer.pe, f"u_inj{k}", extra=axil,
                              pad_in=axis_w - layer.pe, pad_out=axis_w - layer.pe)
            cur = ch.fifo(cur)
            k += 1
    last = design.mvaus[-1]
    sb = design.scale_bias
    cur = ch.instance("nbnn_scale_bias", {"PE": last.pe, "IW": last.acc_w, "MUL": sb.mul,
                                          "ADD": sb.add}, cur, 32 * last.pe, "u_scale_bias")
    ports += [f"    output wire [{32 * last.pe - 1}:0] m_axis_tdata,",
              "    output wire m_axis_tvalid,", "    input  wire m_axis_tready"]
    tail = (f"    assign m_axis_tdata = {cur.name}_tdata;\n"
            f"    assign m_axis_tvalid = {cur.name}_tvalid;\n"
            f"    assign {cur.name}_tready = m_axis_tready;")
    return ("// generated by noisybnn.rtl.emit from " + str(design.build_dir) + "\n"
            "`default_nettype none\n"
            f"module {TOP} (\n" + "\n".join(ports) + "\n);\n"
            + "\n".join(ch.wires) + "\n" + "\n".join(ch.body) + "\n" + tail + "\nendmodule\n"
            "`default_nettype wire\n")


def write_roms(design: Design, rom_dir: Path) -> None:
    rom_dir.mkdir(parents=True, exist_ok=True)
    (rom_dir / "none.mem").write_text("0\n")
    for idx, layer in enumerate(design.layers):
        if isinstance(layer, Mvau):
            (rom_dir / f"w{idx}.mem").write_text("\n".join(weight_words(layer)) + "\n")
            if layer.thresholds is not None:
                (rom_dir / f"t{idx}.mem").write_text("\n".join(threshold_words(layer)) + "\n")


def design_key(design: Design) -> str:
    """Hash of everything that shapes the simulator: layers, folding, constants, RTL sources."""
    h = hashlib.sha256()
    here = Path(__file__).parent
    for s in sources() + [here / "harness.cpp.in", here / "emit.py", here / "verilate.py"]:
        h.update(s.read_bytes())
    h.update(repr((design.binarize, design.scale_bias)).encode())
    for layer in design.layers:
        if isinstance(layer, Mvau):
            h.update(repr((layer.mw, layer.mh, layer.simd, layer.pe)).encode())
            h.update(np.packbits(layer.weights).tobytes())
            h.update(b"none" if layer.thresholds is None else layer.thresholds.tobytes())
            h.update(repr(layer.vectors).encode())
        elif isinstance(layer, (Injector, Swg, MaxPool)):  # small dataclasses
            h.update(repr(layer).encode())
    return h.hexdigest()[:16]
