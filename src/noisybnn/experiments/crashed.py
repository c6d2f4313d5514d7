"""Crashed neurons with the worst split of a total number of failures (El Mhamdi & Guerraoui).

For a total T of faulty hidden neurons placed anywhere in the network: the FEP logit bound
maximised over every split (f_1, ..., f_L) of T, the sound certified robust fraction minimised over
them (``theory.faults.worst_split``), and beside them measurements: the bit-exact theory network
(which reproduces the accelerator's stuck-at runs exactly, see the report's "replayed" column)
with random placements at the worst certified split and at a uniform random split, crashed to -1
(the injector's stuck0) and stuck at +1 (stuck1).

    noisybnn study crashed --model models/tfc-w1a1.pt --totals 1 2 4 8
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

COLUMNS = ("model", "images", "total", "fep_max", "fep_split", "certified_min", "certified_split",
           "mode", "measured_worst_split_min", "measured_worst_split_mean",
           "measured_random_split_min", "measured_random_split_mean", "clean")


def _measure(net, xb, y, split, value, rng, draws):
    from noisybnn import theory

    accs = []
    for _ in range(draws):
        stuck = []
        for f, layer in zip(split, net.hidden, strict=True):
            s = np.zeros(layer.n_out)
            s[rng.choice(layer.n_out, size=f, replace=False)] = value
            stuck.append(s)
        accs.append(float(np.mean(theory.forward(net, xb, stuck=stuck).prediction == y)))
    return min(accs), float(np.mean(accs))


def run(model: Path, totals: Sequence[int], n_images: int, draws: int, out: Path) -> list[dict]:
    from noisybnn import theory
    from noisybnn.experiments.sweep import get_data
    from noisybnn.theory.faults import worst_split

    net = theory.as_network(theory.load_mlp_checkpoint(model))
    x, y = get_data("mnist", "test", n_images)
    xb = np.where(x.reshape(len(x), -1) >= 128, 1.0, -1.0)
    clean = float(np.mean(theory.forward(net, xb).prediction == y))
    rng = np.random.default_rng(0)
    rows = []
    for total in totals:
        w = worst_split(net, total, xb, y)
        for mode, value in (("stuck0", -1.0), ("stuck1", 1.0)):
            wm, wa = _measure(net, xb, y, w["certified_split"], value, rng, draws)
            rand = []
            for _ in range(draws):
                layer_of = rng.choice(len(net.hidden), size=total)
                rand.append(tuple(int(np.sum(layer_of == i)) for i in range(len(net.hidden))))
            rm = [_measure(net, xb, y, sp, value, rng, 1)[0] for sp in rand]
            row = {"model": model.stem, "images": n_images, "total": total,
                   "fep_max": w["fep_max"], "fep_split": "-".join(map(str, w["fep_split"])),
                   "certified_min": w["certified_min"],
                   "certified_split": "-".join(map(str, w["certified_split"])), "mode": mode,
                   "measured_worst_split_min": wm, "measured_worst_split_mean": wa,
                   "measured_random_split_min": min(rm),
                   "measured_random_split_mean": float(np.mean(rm)), "clean": clean}
            rows.append(row)
            print(f"T={total} {mode}: FEP max {w['fep_max']:.1f} at {row['fep_split']}, certified "
                  f"min {w['certified_min']:.4f} at {row['certified_split']}; measured at that "
                  f"split min {wm:.4f} mean {wa:.4f}; random splits min {min(rm):.4f}", flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=list(COLUMNS))
        wr.writeheader()
        wr.writerows(rows)
    return rows


def run_cli(a: argparse.Namespace) -> int:
    """`noisybnn study crashed` (its options: noisybnn.cli_options.add_study_commands)."""
    run(a.model, a.totals, a.images, a.draws, a.out)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m noisybnn.experiments.crashed`: the same as `noisybnn study crashed ...`."""
    import sys

    from noisybnn import cli

    return cli.main(["study", "crashed", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    raise SystemExit(main())
