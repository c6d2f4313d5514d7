"""CNN design points in the exploration: their spaces, names, theory widths (C x H x W units per
conv), keys (MLP keys unchanged), and one real point trained, estimated by FINN and measured on
the software accelerator (slow: about 2 minutes on the shared machine, most of it FINN)."""

from __future__ import annotations

import json

import pytest

from noisybnn import theory
from noisybnn.experiments.errors import ExploreError
from noisybnn.experiments.explore import point_key
from noisybnn.experiments.space import DesignPoint, cnn_conv_maps, load_space
from noisybnn.fingerprint import json_sha256
from noisybnn.train import TrainConfig

TINY = {"name": "cnn-tiny", "train": {"epochs": 1, "train_limit": 2000},
        "points": [{"arch": "cnn", "channels": [4, 4, 8, 8], "width": 16, "depth": 1,
                    "target_fps": 2000}]}


def test_cnn_space_names_widths_and_spec():
    space = load_space("cnn-small")
    assert [p.name for p in space.points] == ["cnn-4x4x8x8-fc16-w1a1-2kfps",
                                              "cnn-8x8x16x16-fc16-w1a1-2kfps"]
    p = space.points[0]
    # 28 -> conv 26 -> conv 24 (pool 12) -> conv 10 -> conv 8 (pool 4); injectors before pools
    assert cnn_conv_maps(p.channels) == [(4, 26), (4, 24), (8, 10), (8, 8)]
    assert p.noisy_widths == [4 * 26 * 26, 4 * 24 * 24, 8 * 10 * 10, 8 * 8 * 8, 16]
    assert p.neurons == sum(p.noisy_widths) and p.noisy_depth == 5
    spec = p.spec()
    assert (spec.arch, spec.hidden, spec.fc_hidden, spec.name) == (
        "cnn", (4, 4, 8, 8), (16,), "cnn-4x4x8x8-fc16-w1a1")


def test_grid_of_channel_lists_and_single_list(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"grid": {"channels": [2, 2], "width": [8, 16], "depth": 1}}))
    names = [p.name for p in load_space(str(path)).points]
    assert names == ["cnn-2x2-fc8-w1a1-100kfps", "cnn-2x2-fc16-w1a1-100kfps"]


@pytest.mark.parametrize("entry, match", [
    ({"arch": "cnn", "width": 8, "depth": 1}, "needs 'channels'"),
    ({"arch": "mlp", "channels": [4], "width": 8, "depth": 1}, "is for arch 'cnn'"),
    ({"channels": [4] * 13, "width": 8, "depth": 1}, "no 3x3 window"),
    ({"arch": "rnn", "width": 8, "depth": 1}, "arch must be"),
])
def test_bad_cnn_points_are_one_line_errors(entry, match):
    with pytest.raises(ExploreError, match=match):
        load_space({"points": [entry]})


def test_mlp_point_keys_are_unchanged_by_the_cnn_fields():
    """An MLP point's row key is what it was before DesignPoint had arch/channels, so existing
    exploration tables resume without recomputing."""
    p = DesignPoint(32, 2)
    cfg, ev = TrainConfig(epochs=1), type("E", (), {"eps": 0.05, "seeds": (1,), "n_images": 10,
                                                     "theory_target": None})()
    from noisybnn.experiments.cache import recipe_dict

    old = {"width": 32, "depth": 2, "weight_bits": 1, "act_bits": 1, "eps_train": 0.0,
           "target_fps": 100_000, "board": "pynq-z2"}
    want = json_sha256({"point": old, "train": recipe_dict(cfg), "code": "c", "eps": repr(0.05),
                        "seeds": [1], "n_images": 10, "theory_target": None})[:16]
    assert point_key(p, cfg, ev, "c") == want
    assert point_key(DesignPoint(32, 2, arch="cnn", channels=(4, 4)), cfg, ev, "c") != want


@pytest.mark.slow
def test_cnn_point_runs_through_explore(tmp_path):
    from noisybnn.experiments.explore import run_explore

    df = run_explore(TINY, tmp_path / "explore.csv", eps=0.05, seeds=(1, 2), n_images=200,
                     runs_dir=tmp_path / "runs", build_dir=tmp_path / "build", progress=False)
    assert len(df) == 1
    r = df.iloc[0]
    widths = [4 * 26 * 26, 4 * 24 * 24, 8 * 10 * 10, 8 * 8 * 8, 16]
    assert (r["model"], r["depth"], r["width"], r["neurons"]) == (
        "cnn-4x4x8x8-fc16-w1a1", 5, 16, sum(widths))
    assert r["lut"] > 0 and r["fps"] > 0 and r["injector_lut"] > 0
    assert 0.0 <= r["accuracy_under_noise"] <= 1.0 and 0.0 <= r["accuracy_clean"] <= 1.0
    want = theory.min_total_neurons(5, 0.05, r["theory_target"], 10,
                                    label_entropy=r["label_entropy"])
    assert r["theory_min_neurons"] == pytest.approx(want)
    assert r["theory_ceiling"] == pytest.approx(theory.accuracy_ceiling(
        widths, 0.05, 10, label_entropy=r["label_entropy"]))
    assert r["accuracy_under_noise"] <= r["theory_ceiling"] + 1e-9
    assert not r["below_theory_min"]
