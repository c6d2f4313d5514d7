"""RTL accelerator figures for builds: yosys resources per layer beside FINN's estimate,
cycles per image in steady state beside FINN's estimated cycles, and simulation speed.

    python bench/bench_rtl.py BUILD_DIR [BUILD_DIR ...] [--images 200] [--no-yosys] [--out F]

Writes one JSON record per build (to --out, default build/rtl/bench_rtl.json) and prints a table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def bench_build(build: Path, images: int, yosys: bool, sim: bool = True,
                glue: bool = True) -> dict:
    from noisybnn.backends.rtl import RtlAccelerator
    from noisybnn.rtl import load_design
    from noisybnn.rtl.design import MaxPool, Swg

    est = json.loads((build / "estimates.json").read_text())
    rec: dict = {"build": str(build), "finn_max_cycles": est["max_cycles"],
                 "clock_ns": est.get("clock_ns", 10.0),
                 "finn_layers": est["layers"], "finn_total": est["total"],
                 "finn_layer_cycles": est["layer_cycles"], "available": est["available"]}
    design = load_design(build)
    rec["folding"] = [{"name": m.name, "MW": m.mw, "MH": m.mh, "SIMD": m.simd, "PE": m.pe}
                      for m in design.mvaus]
    rec["windows"] = [{"name": x.name, "kind": type(x).__name__,
                       "SIMD": getattr(x, "simd", getattr(x, "pe", 1))}
                      for x in design.layers if isinstance(x, (Swg, MaxPool))]
    if sim:
        t0 = time.time()
        acc = RtlAccelerator(build, jobs=1)
        rec["verilator_build_s"] = round(time.time() - t0, 1)
        try:
            rec["throughput"] = acc.throughput_test(images)
        finally:
            acc.close()
    if yosys:
        from noisybnn.rtl.resources import measure

        t0 = time.time()
        rec["yosys"] = measure(design, glue=glue,
                               log=lambda m: print("  " + m, file=sys.stderr, flush=True))
        rec["yosys_glue"] = glue
        rec["yosys_s"] = round(time.time() - t0, 1)
        avail = est["available"]
        tot = rec["yosys"]["total"]
        rec["yosys_fits"] = all(tot[k] <= avail[k] for k in ("LUT", "FF", "BRAM_18K", "DSP")
                                if k in avail)
    return rec


def table(rec: dict) -> str:
    fold = " ".join(f"{f['name']}:SIMD{f['SIMD']}/PE{f['PE']}" for f in rec["folding"])
    lines = [f"{rec['build']} ({fold})"]
    if "throughput" in rec:
        tp = rec["throughput"]
        clk = rec.get("clock_ns", 10.0)
        lines.append(f"  cycles/image RTL {tp['cycles_per_image']:.1f} vs FINN estimate "
                     f"{rec['finn_max_cycles']}; FPS at {1e3 / clk:.0f} MHz: RTL "
                     f"{1e9 / (clk * tp['cycles_per_image']):.0f}, FINN estimate "
                     f"{1e9 / (clk * rec['finn_max_cycles']):.0f}; simulation "
                     f"{tp['images_per_s']:.0f} images/s "
                     f"({tp['sim_cycles_per_s'] / 1e6:.2f} Mcycle/s), Verilator build "
                     f"{rec['verilator_build_s']} s")
    if "yosys" in rec:
        from noisybnn.rtl.resources import finn_by_layer, plain_name

        lines.append(f"  {'layer':28s} {'yosys LUT':>9s} {'FF':>7s} {'LUTRAM':>6s} {'BRAM18':>6s} "
                     f"{'DSP':>4s} {'FINN LUT':>9s} {'BRAM18':>6s}  (yosys 0.23 synth_xilinx; "
                     "FINN: estimates)")
        finn = finn_by_layer(rec["finn_layers"], rec["yosys"].get("pool_windows"))
        for name, u in rec["yosys"]["layers"].items():
            f = finn.get(plain_name(name), {})
            lines.append(f"  {name:28s} {u['LUT']:9d} {u['FF']:7d} {u['LUTRAM']:6d} "
                         f"{u['BRAM_18K']:6d} {u['DSP']:4d} "
                         f"{f.get('LUT', float('nan')):9.0f} {f.get('BRAM_18K', float('nan')):6.1f}")
        t, ft = rec["yosys"]["total"], rec["finn_total"]
        lines.append(f"  {'total':28s} {t['LUT']:9d} {t['FF']:7d} {t['LUTRAM']:6d} "
                     f"{t['BRAM_18K']:6d} {t['DSP']:4d} "
                     f"{ft['LUT']:9.0f} {ft['BRAM_18K']:6.1f}   fits: {rec['yosys_fits']}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("builds", nargs="+", type=Path)
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--no-yosys", action="store_true")
    ap.add_argument("--no-sim", action="store_true", help="resources only")
    ap.add_argument("--no-glue", action="store_true",
                    help="leave the FIFOs and width converters out of the yosys total")
    ap.add_argument("--out", type=Path, default=Path("build/rtl/bench_rtl.json"))
    a = ap.parse_args(argv)
    if a.images < 2:
        ap.error("--images must be >= 2 (steady state needs two images)")
    records = json.loads(a.out.read_text()) if a.out.is_file() else {}
    for b in a.builds:
        rec = bench_build(b, a.images, not a.no_yosys, not a.no_sim, not a.no_glue)
        records[str(b)] = {**records.get(str(b), {}), **rec}
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(records, indent=1, default=str))
        print(table(records[str(b)]), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
