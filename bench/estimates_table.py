"""FINN estimates with injectors for the shipped FC models at several foldings (issue 5's table).

    .venv/bin/python bench/estimates_table.py [--models tfc-w1a1,sfc-w1a1,lfc-w1a1] \
        [--fps 10000,100000] [--out results/estimates.json]

Also builds LFC-w1a1 at BNN-PYNQ's published folding (bitstreams/configs/folding/
lfc-w1a1-bnnpynq.json) for the comparison with the published 28,360 LUT / 110 BRAM, and a
cnv-w1a1 model (a shipped name or a checkpoint path whose name is cnv-w1a1) at the
finn-examples-style folding bitstreams/configs/folding/cnv-w1a1-fast.json (docs/compile.md):

    .venv/bin/python bench/estimates_table.py --models cnv-w1a1 --fps 1000 \
        --out results/estimates_cnv.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from noisybnn.experiments.estimates import estimates_table


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="tfc-w1a1,sfc-w1a1,lfc-w1a1")
    ap.add_argument("--fps", default="10000,100000")
    ap.add_argument("--board", default="pynq-z2")
    ap.add_argument("--out", default="results/estimates.json")
    args = ap.parse_args()
    models = args.models.split(",")
    foldings = [("lfc-w1a1", "lfc-w1a1-bnnpynq")] if "lfc-w1a1" in models else []
    foldings += [(m, "cnv-w1a1-fast") for m in models if _is_cnv_w1a1(m)]
    rows = estimates_table(models, [int(f) for f in args.fps.split(",")], args.board, foldings)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(rows, indent=2))


def _is_cnv_w1a1(model: str) -> bool:
    """A shipped name or a checkpoint file of the cnv-w1a1 topology (the folding names its nodes)."""
    if model == "cnv-w1a1":
        return True
    if not model.endswith(".pt"):
        return False
    from noisybnn.train import load_checkpoint

    spec = load_checkpoint(model)[1]["spec"]
    return spec["arch"] == "cnn" and tuple(spec["hidden"]) == (32, 32, 64, 64) and \
        tuple(spec["fc_hidden"]) == (256,) and spec["weight_bits"] == spec["act_bits"] == 1


if __name__ == "__main__":
    main()
