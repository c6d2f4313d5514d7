"""The narrow-network experiment's derived tables (no training: synthetic rows)."""

from __future__ import annotations

import math

import numpy as np

from noisybnn import theory
from noisybnn.experiments.narrow import ceiling_status, ratio_table


def _row(width, depth, eps, acc, eps_train=0.0):
    h = 3.3
    return {"model": f"mlp-{width}x{depth}", "width": width, "depth": depth, "neurons": width * depth,
            "eps": eps, "accuracy": acc, "label_entropy": h, "eps_train": eps_train,
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


def test_ratio_is_per_eps_train():
    rows = [_row(4, 1, 0.3, 0.25), _row(8, 1, 0.3, 0.35), _row(4, 1, 0.3, 0.32, eps_train=0.2)]
    plain, aware = ratio_table(rows, [0.3])
    assert (plain["eps_train"], plain["needed_neurons"]) == (0.0, 8)
    assert (aware["eps_train"], aware["needed_neurons"]) == (0.2, 4)


class _FakeAcc:
    """An accelerator whose logits depend on the seed (and, with `skew`, differ from another's)."""

    def __init__(self, skew=0):
        self.skew = skew
        self.seed = 0

    def configure_noise(self, setting):
        self.seed = setting.seed

    def execute(self, x):
        rng = np.random.default_rng(self.seed)
        out = rng.integers(-5, 5, size=(len(x), 10))
        out[0, 0] += self.skew
        return out

    def flip_counts(self):
        return [self.seed]


def test_rtl_check_compares_logits_on_the_same_images_and_seeds():
    from noisybnn.experiments.narrow import rtl_check

    same = rtl_check({"m": "b"}, [0.4], [1, 2], 20, loader=lambda kind, b: _FakeAcc())
    assert [r["seed"] for r in same] == [1, 2] and all(r["logits_equal"] for r in same)
    assert all(r["sim_accuracy"] == r["rtl_accuracy"] and r["sim_flips"] == r["rtl_flips"]
               for r in same)
    differ = rtl_check({"m": "b"}, [0.4], [1], 20,
                       loader=lambda kind, b: _FakeAcc(skew=100 if kind == "rtl" else 0))
    assert differ[0]["logits_equal"] is False
