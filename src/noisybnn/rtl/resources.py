"""Resources of the RTL accelerator measured by yosys (`synth_xilinx -family xc7`), per layer.

Each layer is synthesized on its own (a wrapper top that fixes its parameters and ROM files and
brings its ports out, so nothing is optimised away) and the total is the sum. Whole-design
synthesis of LFC takes too long on a small machine, the per-layer table is what is reported
anyway, and the layers share no logic. The stream glue (FIFOs, width converters) is
synthesized as one more row.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from noisybnn.hw.synth import synthesize
from noisybnn.rtl import emit
from noisybnn.rtl.design import Design, Mvau

_SOURCES_OF = {"noise_injector_axil": emit.INJECTOR_SOURCES}
KEYS = ("LUT", "LUT_logic", "LUTRAM", "FF", "CARRY4", "BRAM_18K", "DSP")


def layer_units(design: Design, rom_dir: Path) -> list[tuple[str, str, dict, int, int, bool]]:
    """(layer name, module, parameters, input width, output width, has AXI-Lite) per layer."""
    b = design.binarize
    units = [(b.name, "nbnn_binarize", {"PE": b.pe, "T": b.threshold}, 8 * b.pe, b.pe, False)]
    for idx, layer in enumerate(design.layers):
        if isinstance(layer, Mvau):
            thr = layer.thresholds is not None
            units.append((layer.name, "nbnn_mvau_bin", {
                "MW": layer.mw, "MH": layer.mh, "SIMD": layer.simd, "PE": layer.pe,
                "THRESH": int(thr), "ACC_W": layer.acc_w,
                "WFILE": f'"{rom_dir / f"w{idx}.mem"}"',
                "TFILE": f'"{rom_dir / (f"t{idx}.mem" if thr else "none.mem")}"'},
                layer.simd, layer.out_w, False))
        else:
            w = (layer.pe + 7) // 8 * 8
            units.append((layer.name, "noise_injector_axil", {
                "PE": layer.pe, "BITS": 1, "NEURONS": layer.neurons, "ADDR_W": emit.AXIL_ADDR_W},
                w, w, True))
    last = design.mvaus[-1]
    units.append(("ScaleBias", "nbnn_scale_bias", {
        "PE": last.pe, "IW": last.acc_w, "MUL": design.scale_bias.mul,
        "ADD": design.scale_bias.add}, last.out_w, 32 * last.pe, False))
    return units


def wrapper_source(name: str, module: str, params: dict, in_w: int, out_w: int,
                   axil: bool) -> str:
    ports = ["    input wire ap_clk", "    input wire ap_rst_n",
             f"    input wire [{in_w - 1}:0] s_axis_tdata", "    input wire s_axis_tvalid",
             "    output wire s_axis_tready", f"    output wire [{out_w - 1}:0] m_axis_tdata",
             "    output wire m_axis_tvalid", "    input wire m_axis_tready"]
    conns = [".ap_clk(ap_clk)", ".ap_rst_n(ap_rst_n)", ".s_axis_tdata(s_axis_tdata)",
             ".s_axis_tvalid(s_axis_tvalid)", ".s_axis_tready(s_axis_tready)",
             ".m_axis_tdata(m_axis_tdata)", ".m_axis_tvalid(m_axis_tvalid)",
             ".m_axis_tready(m_axis_tready)"]
    if axil:
        for n, d, w in emit.AXIL_PORTS:
            rng = f"[{w - 1}:0] " if w > 1 else ""
            ports.append(f"    {d} wire {rng}s_axil_{n}")
            conns.append(f".s_axil_{n}(s_axil_{n})")
    ps = ", ".join(f".{k}({v})" for k, v in params.items())
    return (f"module {name} (\n" + ",\n".join(ports) + "\n);\n"
            f"    {module} #({ps}) u (" + ", ".join(conns) + ");\nendmodule\n")


def _glue_units(design: Design) -> list[tuple[str, str, dict, int, int, bool]]:
    """The FIFOs and width converters of the stitched top (parsed from its generator)."""
    import re

    text = emit.top_source(design, Path("/unused"))
    out = []
    for m in re.finditer(r"(nbnn_stream_fifo|nbnn_stream_dwc) #\((.*?)\) (\w+) \(", text):
        params = dict(re.findall(r"\.(\w+)\((\d+)\)", m.group(2)))
        params = {k: int(v) for k, v in params.items()}
        if m.group(1) == "nbnn_stream_fifo":
            out.append((m.group(3), m.group(1), params, params["W"], params["W"], False))
        else:
            out.append((m.group(3), m.group(1), params, params["IW"], params["OW"], False))
    return out


def measure(design: Design, timeout: float | None = 3600, glue: bool = True,
            log=None) -> dict:
    """{"layers": {name: counts + seconds}, "total": counts} for `design` (yosys per layer)."""
    with tempfile.TemporaryDirectory(prefix="noisybnn-rtlres-") as tmp:
        rom = Path(tmp) / "rom"
        emit.write_roms(design, rom)
        units = layer_units(design, rom)
        layers: dict[str, dict] = {}
        glue_total = {k: 0 for k in KEYS}
        seen: dict[str, dict] = {}
        for i, (name, module, params, in_w, out_w, axil) in enumerate(
                units + (_glue_units(design) if glue else [])):
            key = repr((module, sorted(params.items()), in_w, out_w))
            if key in seen:  # identical FIFOs: synthesized once
                util = dict(seen[key], seconds=0.0)
            else:
                top = f"nbnn_res_{i}"
                wrapper = Path(tmp) / f"{top}.v"
                wrapper.write_text(wrapper_source(top, module, params, in_w, out_w, axil))
                srcs = [emit.RTL_DIR / f for f in _SOURCES_OF.get(module, (f"{module}.v",))]
                t0 = time.time()
                util = synthesize([*srcs, wrapper], top, timeout=timeout).as_dict()
                util["seconds"] = round(time.time() - t0, 1)
                seen[key] = util
            if log:
                log(f"{name}: {util}")
            if module in ("nbnn_stream_fifo", "nbnn_stream_dwc"):
                for k in KEYS:
                    glue_total[k] += util[k]
                glue_total["seconds"] = glue_total.get("seconds", 0) + util["seconds"]
            else:
                layers[name] = util
        if glue:
            layers["FIFOs+DWCs"] = glue_total
    total = {k: sum(v[k] for v in layers.values()) for k in KEYS}
    return {"layers": layers, "total": total}
