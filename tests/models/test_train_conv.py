"""A tiny conv net trains, is selected on validation, ships slim with its latent weights, and its
hardened reload computes the same accuracy (no retraining of the shipped CNNs here)."""

from __future__ import annotations

import pytest
import torch

from noisybnn.models import ModelSpec
from noisybnn.train import TrainConfig, evaluate, latent_weights, load_checkpoint, ship_checkpoint, train


@pytest.fixture(scope="module")
def tiny_cnn(tmp_path_factory):
    pytest.importorskip("brevitas")
    from noisybnn import data

    try:
        data.load("mnist", "test")
    except Exception as exc:  # noqa: BLE001 - no data set here: skip, do not fail
        pytest.skip(f"MNIST not available: {exc}")
    out = tmp_path_factory.mktemp("tiny_cnn")
    spec = ModelSpec(arch="cnn", hidden=(4, 4, 8, 8), fc_hidden=(16,), name="cnn-tiny-w1a1")
    cfg = TrainConfig(epochs=2, batch_size=50, train_limit=1000, val_images=500, threads=1,
                      bn_recal_images=500)
    return out, train(spec, cfg, out, progress=False)


def test_tiny_cnn_learns_and_selects_on_validation(tiny_cnn):
    out, metrics = tiny_cnn
    assert [h["epoch"] for h in metrics["history"]] == [1, 2]
    assert metrics["val_acc"] == max(h["val_acc"] for h in metrics["history"])
    assert metrics["final_test_acc"] > 30.0  # chance is 10 %; 1000 images, 2 epochs


def test_tiny_cnn_ships_slim_with_latent_conv_weights(tiny_cnn, tmp_path):
    out, metrics = tiny_cnn
    dst = ship_checkpoint(out / "best.pt", tmp_path / "tiny.pt")
    net, payload = load_checkpoint(dst)
    assert "optimizer" not in payload
    w = payload["state_dict"]["features.0.0.weight"]
    assert w.dtype == torch.int8 and set(torch.unique(w).tolist()) <= {-1, 1}
    lat = latent_weights(payload)["features.0.0"]
    assert lat.shape == (4, 1, 3, 3) and torch.equal(torch.where(lat >= 0, 1, -1).to(torch.int8), w)
    from noisybnn import data

    x, y = data.load("mnist", "test")
    assert evaluate(net, x, y) == pytest.approx(metrics["final_test_acc"], abs=1e-9)


def test_batchnorm_recalibration_matches_batch_statistics_and_keeps_the_rng():
    """After recalibration the running statistics are the batch statistics of the given images
    (one batch here), and torch's RNG is where it was, so training does not change."""
    from noisybnn.models import build
    from noisybnn.train import recalibrate_batchnorm

    torch.manual_seed(0)
    net = build(ModelSpec(arch="cnn", hidden=(4, 4, 8, 8), fc_hidden=(16,), eps_train=0.1,
                          name="cnn-tiny-w1a1")).eval()
    x = torch.rand(64, 1, 28, 28)
    first_bn = net.features[0][1]
    with torch.no_grad():
        pre = net.features[0][0](net.input_quant(2.0 * x - 1.0))
    state = torch.get_rng_state()
    recalibrate_batchnorm(net, x, batch_size=64)
    assert torch.equal(torch.get_rng_state(), state)
    assert not net.training and first_bn.momentum == 0.1
    torch.testing.assert_close(first_bn.running_mean, pre.mean(dim=(0, 2, 3)))
    torch.testing.assert_close(first_bn.running_var, pre.var(dim=(0, 2, 3)), rtol=1e-4, atol=1e-4)
