"""The narrow-network experiment's derived tables (no training: synthetic rows)."""

from __future__ import annotations

import math

from noisybnn import theory
from noisybnn.experiments.narrow import ceiling_status, ratio_table


def _row(width, depth, eps, acc):
    h = 3.3
    return {"model": f"mlp-{width}x{depth}", "width": width, "depth": depth, "neurons": width * depth,
            "eps": eps, "accuracy": acc, "label_entropy": h, "eps_train": 0.0,
            "ceiling": float(theory.uniform_accuracy_ceiling(width, depth, eps, 10,
                                                             label_entropy=h))}


def test_ceiling_status_marks_a_ceiling_of_one_vacuous():
    assert ceiling_status(1.0) == "vacuous" and ceiling_status(1 - 1e-7) == "vacuous"
    assert ceiling_status(0.9) == "binding"


def test_ratio_is_fewest_neurons_reaching_the_target_over_the_bound():
    rows = [_row(4, 1, 0.3, 0.25), _row(8, 1, 0.3, 0.35), _row(16, 1, 0.3, 0.5)]
    (r,) = ratio_table(rows, [0.3])
    bound = float(theory.min_total_neurons(1, 0.3, 0.3, 10, label_entropy=3.3))
    assert r["needed_neurons"] == 8 and r["bound_neurons"] == bound
    assert math.isclose(r["ratio"], 8 / bound) and r["ratio"] >= 1
    (none,) = ratio_table(rows, [0.9])
    assert none["needed_neurons"] == "" and "none" in none["needed_by"]
