"""Verilog test harness with several injector cores of different shapes in one Verilator model.

One model serves every (PE, BITS, NEURONS) the tests need, so the C++ build is paid once, and one
cocotb coroutine drives all cores side by side each clock (the Python cost per cycle is shared).
The streams of all cores are concatenated into one vector per signal: core i occupies bits
[offset_i, offset_i + pe_i * bits_i) of s_tdata / m_tdata and bit i of the valid/ready vectors.
Configuration ports are per core: c<i>_mode, c<i>_threshold, c<i>_seed,
c<i>_reseed, the mask write port c<i>_mask_wvalid / _wready / _word / _wdata / _wstrb, c<i>_beats,
c<i>_changes.

The harness also holds one `noise_injector_axil` (the register file around a core), with ports
`a_<name>` for its AXI-Lite and stream ports, so that all RTL tests share one build.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

TOP = "tb_injector_multi"


@dataclass(frozen=True)
class CoreShape:
    pe: int
    bits: int
    neurons: int
    mask_lutram: int = -1  # the core's MASK_LUTRAM: -1 its choice by size, 0 / 1 forced

    @property
    def lanes(self) -> int:
        return self.pe * self.bits


def offsets(shapes: list[CoreShape]) -> list[int]:
    out, acc = [], 0
    for s in shapes:
        out.append(acc)
        acc += s.lanes
    return out


AXIL_PORTS = [
    # (name, direction, width or None for 1 bit); AXI-Lite first, then the streams
    ("awaddr", "input", "ADDR"), ("awvalid", "input", None), ("awready", "output", None),
    ("wdata", "input", 32), ("wstrb", "input", 4), ("wvalid", "input", None),
    ("wready", "output", None), ("bresp", "output", 2), ("bvalid", "output", None),
    ("bready", "input", None), ("araddr", "input", "ADDR"), ("arvalid", "input", None),
    ("arready", "output", None), ("rdata", "output", 32), ("rresp", "output", 2),
    ("rvalid", "output", None), ("rready", "input", None),
]
AXIL_ADDR_W = 12


def axis_width(shape: CoreShape) -> int:
    return (shape.lanes + 7) // 8 * 8


def harness_source(shapes: list[CoreShape], axil: CoreShape) -> str:
    total = sum(s.lanes for s in shapes)
    k = len(shapes)
    ports = [
        "    input  wire clk,",
        "    input  wire rst_n,",
        f"    input  wire [{total - 1}:0] s_tdata,",
        f"    input  wire [{k - 1}:0] s_tvalid,",
        f"    output wire [{k - 1}:0] s_tready,",
        f"    output wire [{total - 1}:0] m_tdata,",
        f"    output wire [{k - 1}:0] m_tvalid,",
        f"    input  wire [{k - 1}:0] m_tready,",
    ]
    body = []
    for i, (s, off) in enumerate(zip(shapes, offsets(shapes), strict=True)):
        ports += [
            f"    input  wire [1:0] c{i}_mode,",
            f"    input  wire [16:0] c{i}_threshold,",
            f"    input  wire [63:0] c{i}_seed,",
            f"    input  wire c{i}_reseed,",
            f"    input  wire c{i}_mask_wvalid,",
            f"    output wire c{i}_mask_wready,",
            f"    input  wire [15:0] c{i}_mask_word,",
            f"    input  wire [31:0] c{i}_mask_wdata,",
            f"    input  wire [3:0] c{i}_mask_wstrb,",
            f"    output wire [63:0] c{i}_beats,",
            f"    output wire [63:0] c{i}_changes,",
        ]
        hi = off + s.lanes - 1
        body.append(
            f"""    noise_injector_core #(.PE({s.pe}), .BITS({s.bits}),
        .NEURONS({s.neurons}), .MASK_LUTRAM({s.mask_lutram})) u_c{i} (
        .clk(clk), .rst_n(rst_n), .mode(c{i}_mode), .threshold(c{i}_threshold),
        .seed(c{i}_seed), .reseed(c{i}_reseed),
        .mask_wvalid(c{i}_mask_wvalid), .mask_wready(c{i}_mask_wready),
        .mask_word(c{i}_mask_word), .mask_wdata(c{i}_mask_wdata), .mask_wstrb(c{i}_mask_wstrb),
        .s_axis_tdata(s_tdata[{hi}:{off}]), .s_axis_tvalid(s_tvalid[{i}]),
        .s_axis_tready(s_tready[{i}]),
        .m_axis_tdata(m_tdata[{hi}:{off}]), .m_axis_tvalid(m_tvalid[{i}]),
        .m_axis_tready(m_tready[{i}]),
        .beat_count(c{i}_beats), .change_count(c{i}_changes));
"""
        )
    conns = []
    for name, direction, width in AXIL_PORTS:
        w = AXIL_ADDR_W if width == "ADDR" else width
        rng = f"[{w - 1}:0] " if w else ""
        ports.append(f"    {direction} wire {rng}a_{name},")
        conns.append(f".s_axil_{name}(a_{name})")
    aw = axis_width(axil)
    ports += [
        f"    input  wire [{aw - 1}:0] a_s_tdata,",
        "    input  wire a_s_tvalid,",
        "    output wire a_s_tready,",
        f"    output wire [{aw - 1}:0] a_m_tdata,",
        "    output wire a_m_tvalid,",
        "    input  wire a_m_tready,",
    ]
    conns += [".s_axis_tdata(a_s_tdata)", ".s_axis_tvalid(a_s_tvalid)",
              ".s_axis_tready(a_s_tready)", ".m_axis_tdata(a_m_tdata)",
              ".m_axis_tvalid(a_m_tvalid)", ".m_axis_tready(a_m_tready)"]
    body.append(
        f"    noise_injector_axil #(.PE({axil.pe}), .BITS({axil.bits}), .NEURONS({axil.neurons}),"
        f" .MASK_LUTRAM({axil.mask_lutram}), .ADDR_W({AXIL_ADDR_W})) u_axil (\n"
        "        .ap_clk(clk), .ap_rst_n(rst_n),\n        "
        + ",\n        ".join(conns) + ");\n"
    )
    ports[-1] = ports[-1].rstrip(",")
    return (
        "// generated by tests/hw/_rtl_harness.py: noise_injector_core shapes side by side\n"
        "`default_nettype none\n"
        f"module {TOP} (\n" + "\n".join(ports) + "\n);\n" + "".join(body) + "endmodule\n"
        "`default_nettype wire\n"
    )


def write_harness(shapes: list[CoreShape], axil: CoreShape, directory: Path) -> Path:
    src = harness_source(shapes, axil)
    digest = hashlib.sha256(src.encode()).hexdigest()[:12]
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{TOP}_{digest}.v"
    if not path.exists():
        path.write_text(src)
    return path


def shapes_to_env(shapes: list[CoreShape]) -> str:
    return json.dumps([[s.pe, s.bits, s.neurons, s.mask_lutram] for s in shapes])


def shapes_from_env(text: str) -> list[CoreShape]:
    return [CoreShape(*v) for v in json.loads(text)]
