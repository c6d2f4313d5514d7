"""Resources of the RTL accelerator measured by yosys (`synth_xilinx -family xc7`), per layer.

Each layer is synthesized on its own (a wrapper top that fixes its parameters and ROM files and
brings its ports out, so nothing is optimised away) and the total is the sum. Whole-design
synthesis of LFC takes too long on a small machine, the per-layer table is what is reported
anyway, and the layers share no logic. The stream glue (FIFOs, width converters) is
synthesized as one more row.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
import time
from pathlib import Path

from noisybnn.hw.synth import synthesize
from noisybnn.resources import work_dir
from noisybnn.rtl import emit
from noisybnn.rtl.design import Design, MaxPool, Mvau, Swg

_SOURCES_OF = {"noise_injector_axil": emit.INJECTOR_SOURCES}
DEFAULT_CACHE = work_dir("build", "rtl", "yosys-cache")
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
        elif isinstance(layer, Swg):
            units.append((layer.name, "nbnn_swg_bin", emit.swg_params(layer), layer.simd,
                          layer.simd, False))
        elif isinstance(layer, MaxPool):
            units.append((layer.name, "nbnn_maxpool_bin", emit.pool_params(layer), layer.pe,
                          layer.pe, False))
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


def _cache_path(cache_dir: Path, srcs: list[Path], wrapper: Path, top: str) -> Path:
    """Result file of one synthesis, keyed by every input (sources, wrapper, ROM contents)."""
    h = hashlib.sha256()
    for f in srcs:
        h.update(f.read_bytes())
    text = wrapper.read_text()
    h.update(text.replace(top, "TOP").replace(str(wrapper.parent), "").encode())
    for rom in sorted(set(re.findall(r'"([^"]+\.mem)"', text))):
        h.update(Path(rom).read_bytes() if Path(rom).is_file() else b"-")
    return cache_dir / f"{h.hexdigest()[:20]}.json"


def measure(design: Design, timeout: float | None = 3600, glue: bool = True,
            log=None, cache_dir: Path | None = DEFAULT_CACHE) -> dict:
    """{"layers": {name: counts + seconds}, "total": counts} for `design` (yosys per layer).

    Results are cached on disk per layer (keyed by sources, parameters and ROM contents): a
    layer shared by builds, or unchanged since the last run, is not synthesized again."""
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
            top = f"nbnn_res_{i}"
            wrapper = Path(tmp) / f"{top}.v"
            wrapper.write_text(wrapper_source(top, module, params, in_w, out_w, axil))
            srcs = [emit.RTL_DIR / f for f in _SOURCES_OF.get(module, (f"{module}.v",))]
            disk = _cache_path(cache_dir, srcs, wrapper, top) if cache_dir else None
            if key in seen:  # identical FIFOs: synthesized once
                util = dict(seen[key], seconds=0.0)
            elif disk is not None and disk.is_file():
                util = dict(json.loads(disk.read_text()), cached=True)
            else:
                t0 = time.time()
                util = synthesize([*srcs, wrapper], top, timeout=timeout).as_dict()
                util["seconds"] = round(time.time() - t0, 1)
                if disk is not None:
                    disk.parent.mkdir(parents=True, exist_ok=True)
                    disk.write_text(json.dumps(util))
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
    pool_windows = {x.name: x.window for x in design.layers if isinstance(x, MaxPool)}
    return {"layers": layers, "total": total, "pool_windows": pool_windows}


RESULT_FILE = Path("rtl") / "yosys.json"


def measure_build(build_dir: str | Path, log=None) -> dict:
    """Measure a build's RTL accelerator and keep the result in `<build>/rtl/yosys.json`."""
    from noisybnn.rtl.design import load_design

    design = load_design(build_dir)
    key = emit.design_key(design)
    hit = measured_totals(build_dir, key=key, full=True)
    if hit is not None:
        return hit
    result = measure(design, log=log)
    result["design_key"] = key
    path = Path(build_dir) / RESULT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=1))
    tmp.replace(path)
    return result


def measured_totals(build_dir: str | Path, key: str | None = None, full: bool = False):
    """The measured totals of a build if `measure_build` ran for its current design, else None
    (cheap: for tables such as `explore`'s, which cannot wait for yosys)."""
    path = Path(build_dir) / RESULT_FILE
    if not path.is_file():
        return None
    result = json.loads(path.read_text())
    if key is None:
        from noisybnn.rtl.design import load_design

        key = emit.design_key(load_design(build_dir))
    if result.get("design_key") != key:
        return None
    return result if full else result["total"]


def finn_by_layer(finn_layers: dict, pool_windows: dict | None = None) -> dict:
    """FINN's estimate per layer under our layer names (FINN's without _hls/_rtl); a max-pool's
    row is FINN's Pool plus its sliding window (`pool_windows`: pool -> window name; one unit
    here)."""
    finn = {plain_name(k): dict(v) for k, v in finn_layers.items()}
    for pool_name, window in (pool_windows or {}).items():
        if window and plain_name(window) in finn:
            win = finn.pop(plain_name(window))
            pool = finn.setdefault(plain_name(pool_name), {})
            for k in ("LUT", "BRAM_18K", "DSP"):
                pool[k] = pool.get(k, 0) + win.get(k, 0)
    return finn


def plain_name(name: str) -> str:
    return name.replace("_hls", "").replace("_rtl", "")


def format_side_by_side(summary: dict, measured: dict) -> str:
    """FINN's estimate and yosys' measurement per layer, and whether the design fits."""
    finn = finn_by_layer(summary["layers"], measured.get("pool_windows"))
    lines = [f"{'layer':22s} {'FINN LUT':>9s} {'yosys LUT':>9s} {'FF':>7s} {'LUTRAM':>6s} "
             f"{'FINN BRAM':>9s} {'BRAM18':>6s} {'DSP':>4s}"]
    for name, u in measured["layers"].items():
        f = finn.get(plain_name(name), {})
        lines.append(f"{name:22s} {f.get('LUT', float('nan')):9.0f} {u['LUT']:9d} {u['FF']:7d} "
                     f"{u['LUTRAM']:6d} {f.get('BRAM_18K', float('nan')):9.1f} "
                     f"{u['BRAM_18K']:6d} {u['DSP']:4d}")
    t, ft = measured["total"], summary["total"]
    avail = summary.get("available", {})
    fits = all(t[k] <= avail[k] for k in ("LUT", "FF", "BRAM_18K", "DSP") if k in avail)
    lines.append(f"{'total':22s} {ft['LUT']:9.0f} {t['LUT']:9d} {t['FF']:7d} {t['LUTRAM']:6d} "
                 f"{ft['BRAM_18K']:9.1f} {t['BRAM_18K']:6d} {t['DSP']:4d}")
    util = ", ".join(f"{k} {100 * t[k] / avail[k]:.1f} %" for k in ("LUT", "FF", "BRAM_18K")
                     if avail.get(k))
    lines.append(f"measured (yosys synth_xilinx -family xc7, per layer, summed): fits "
                 f"{summary.get('board', '?')}: {'yes' if fits else 'NO'} ({util})")
    return "\n".join(lines)
