"""FINN estimates with injectors for several models at several foldings, one row each (issue 5's
table; `bench/estimates_table.py` is its command line)."""

from __future__ import annotations

import json
from collections.abc import Sequence

__all__ = ["estimates_table", "format_estimate_row"]


def estimates_table(models: Sequence[str], fps: Sequence[int], board: str = "pynq-z2",
                    foldings: Sequence[tuple[str, str]] = (), progress: bool = True) -> list[dict]:
    """One row per (model, target FPS) and per (model, folding file): LUT, BRAM, the injectors'
    share, FPS, fit, the injectors' PE. Builds are cached by `pipeline.compile_model`."""
    from noisybnn.compile.paths import ESTIMATES
    from noisybnn.pipeline import compile_model

    jobs = [(m, int(f), None) for m in models for f in fps] + [(m, 0, f) for m, f in foldings]
    rows = []
    for model, target, folding in jobs:
        tag = folding or f"fps{target}"
        bdir = compile_model(model, board=board, target_fps=target or 100_000,
                             folding_file=folding, tag=tag)
        est = json.loads((bdir / ESTIMATES).read_text())
        rows.append({"model": model, "folding": tag, "LUT": est["total"]["LUT"],
                     "BRAM_18K": est["total"]["BRAM_18K"], "injector_LUT": est["injector_LUT"],
                     "injector_share_pct": 100 * est["injector_LUT_share"], "fps": est["fps"],
                     "fits": est["fits"], "injector_pe": [i["pe"] for i in est["injectors"]]})
        if progress:
            print(format_estimate_row(rows[-1]), flush=True)
    return rows


def format_estimate_row(r: dict) -> str:
    return (f"{r['model']:10s} {r['folding']:18s} LUT {r['LUT']:8.0f} BRAM18 {r['BRAM_18K']:6.1f} "
            f"injectors {r['injector_LUT']:6.0f} LUT ({r['injector_share_pct']:.2f} %) "
            f"FPS {r['fps']:10,.0f} fits {r['fits']} PE {r['injector_pe']}")
