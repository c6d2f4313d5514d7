"""FINN estimates with injectors for the shipped FC models at several foldings (issue 5's table).

    .venv/bin/python bench/estimates_table.py [--models tfc-w1a1,sfc-w1a1,lfc-w1a1] \
        [--fps 10000,100000] [--out results/estimates.json]

Also builds LFC-w1a1 at BNN-PYNQ's published folding (bitstreams/configs/folding/
lfc-w1a1-bnnpynq.json) for the comparison with the published 28,360 LUT / 110 BRAM.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from noisybnn.compile_paths import ESTIMATES
from noisybnn.pipeline import compile_model


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="tfc-w1a1,sfc-w1a1,lfc-w1a1")
    ap.add_argument("--fps", default="10000,100000")
    ap.add_argument("--board", default="pynq-z2")
    ap.add_argument("--out", default="results/estimates.json")
    args = ap.parse_args()
    rows = []
    jobs = [(m, int(f), None) for m in args.models.split(",") for f in args.fps.split(",")]
    if "lfc-w1a1" in args.models:
        jobs.append(("lfc-w1a1", 0, "lfc-w1a1-bnnpynq"))
    for model, fps, folding in jobs:
        tag = folding or f"fps{fps}"
        bdir = compile_model(model, board=args.board, target_fps=fps or 100_000,
                             folding_file=folding, tag=tag)
        est = json.loads((bdir / ESTIMATES).read_text())
        rows.append({"model": model, "folding": tag, "LUT": est["total"]["LUT"],
                     "BRAM_18K": est["total"]["BRAM_18K"], "injector_LUT": est["injector_LUT"],
                     "injector_share_pct": 100 * est["injector_LUT_share"], "fps": est["fps"],
                     "fits": est["fits"], "injector_pe": [i["pe"] for i in est["injectors"]]})
        r = rows[-1]
        print(f"{model:10s} {tag:18s} LUT {r['LUT']:8.0f} BRAM18 {r['BRAM_18K']:6.1f} "
              f"injectors {r['injector_LUT']:6.0f} LUT ({r['injector_share_pct']:.2f} %) "
              f"FPS {r['fps']:10,.0f} fits {r['fits']} PE {r['injector_pe']}", flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
