"""The report on a convolutional build: the theory's view of a CNN (C x H x W units per conv,
max-pools as noise-free OR layers), bit-exact with the accelerator, every section filled with the
CNN quantities, and section 0 saying what applies to weight-shared layers.

Slow: it trains a tiny CNN (conv 4-4-pool-8-8-pool, fc 16; 1 epoch on 400 images), builds it
with FINN (estimates) and sweeps it on the sim; about 2-3 minutes on the shared machine.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from noisybnn.report import ReportOptions

pytestmark = pytest.mark.slow

WIDTHS = [4 * 26 * 26, 4 * 24 * 24, 8 * 10 * 10, 8 * 8 * 8, 16]


@pytest.fixture(scope="module")
def cnn_report(tmp_path_factory):
    from noisybnn.experiments import SweepSpec, run_sweep
    from noisybnn.models.spec import ModelSpec
    from noisybnn.pipeline import compile_model
    from noisybnn.report import build_report
    from noisybnn.train import TrainConfig, train

    root = tmp_path_factory.mktemp("cnn-report")
    spec = ModelSpec(arch="cnn", hidden=(4, 4, 8, 8), fc_hidden=(16,), name="cnn-tiny-w1a1")
    train(spec, TrainConfig(epochs=1, train_limit=400, val_images=200, threads=1, batch_size=50),
          root / "run", progress=False)
    bdir = compile_model(str(root / "run" / "best.pt"), out_dir=root / "build", target_fps=2000)
    sweep = root / "sweep.csv"
    run_sweep(SweepSpec(models=[str(bdir)], eps=[0.0, 0.05, 0.2], seeds=[1, 2],
                        modes=["flip", "stuck0", "off"], faults_per_layer=[1], n_images=200),
              sweep, progress=False)
    from noisybnn.experiments import read_table

    name = read_table(sweep)["model"].iloc[0]
    opts = ReportOptions(theory_images=300, conv_theory_images=60, conv_n_draws=4, n_draws=4,
                         mc_draws=4, tradeoff_eps=(0.05, 0.2), max_depth=8, flip_rate_seeds=2,
                         compile_missing=False)
    index = build_report([sweep], root / "report", options=opts, build_dirs={name: bdir})
    return index, json.loads((root / "report" / "report.json").read_text())


def test_theory_network_is_the_accelerator(cnn_report):
    _, numbers = cnn_report
    assert numbers["parity"] and all(p["ok"] for p in numbers["parity"])
    model = next(iter(numbers["models"].values()))
    assert model["injector_widths"] == WIDTHS and model["injector_channels"] == [4, 4, 8, 8, 16]
    assert not numbers["flags"]


def test_sections_carry_the_cnn_quantities(cnn_report):
    index, numbers = cnn_report
    sec = numbers["sections"]
    group = next(g for g in sec["accuracy"]["groups"] if g["layers"] == "all")
    assert group["noisy_widths"] == WIDTHS
    assert all(r["ceiling"] is not None and r["check"] for r in group["rows"] if r["eps"] > 0)
    assert all(r["predicted"] is not None for r in group["rows"])
    layers = sec["cnn"]["models"][0]["layers"]
    assert [r["kind"] for r in layers] == ["conv", "conv", "max-pool 2x2", "conv", "conv",
                                           "max-pool 2x2", "fc"]
    assert [r["units"] for r in layers if r["noisy"]] == WIDTHS
    assert [r["fan_in"] for r in layers if r["kind"] == "conv"] == [9, 36, 36, 72]
    applies = {a["result"]: a["applies"] for a in sec["cnn"]["models"][0]["applies"]}
    assert applies["sufficiency / constructive neuron counts"] == "no"
    assert applies["analytic correlated mean field (§5.5)"] == "not computed"
    # a pool output flips only if an input of its window flipped: at most one per input flip
    pools = sec["flip_rates"]["models"][0]["pools"]
    assert len(pools) == 2 * 2  # two pools at each of the two eps > 0 picked
    for p in pools:
        assert 0 < p["survival_per_input_flip"] <= 1.0
        assert p["out_flip_rate"] <= 4 * p["in_flip_rate"] + 1e-12
    rows = [r for g in sec["stuck"]["groups"] for r in g["rows"]]
    assert rows and all(r["replay_ok"] for r in rows)  # a crashed channel, at every pixel
    assert all(r["certified_placed"] >= r["certified"] for r in rows)
    assert all(r["min"] >= r["certified_placed"] for r in rows)
    w = sec["geometry"]["weights"][0]["layers"]
    assert [r["fan_in"] for r in w][:4] == [9, 36, 36, 72] and all(
        np.isfinite(r["dot_corr_mean"]) for r in w)
    html = index.read_text()
    assert "weight-shared layers" in html and "surviving per input flip" in html
