"""Training selects on a held-out validation split and keeps the latent float weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from noisybnn.models import ModelSpec
from noisybnn.theory import binarization_angles
from noisybnn.train import TrainConfig, latent_weights, load_checkpoint, split_validation, train


def test_split_validation_takes_the_last_images():
    x, y = np.arange(10)[:, None], np.arange(10)
    xt, yt, xv, yv = split_validation(x, y, 3)
    assert yt.tolist() == list(range(7)) and yv.tolist() == [7, 8, 9]
    with pytest.raises(ValueError, match="val_images"):
        split_validation(x, y, 10)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny")
    spec = ModelSpec(arch="mlp", hidden=(8, 8), name="mlp-8x2-w1a1")
    cfg = TrainConfig(epochs=2, train_limit=2000, val_images=1000, threads=1)
    return out, train(spec, cfg, out, progress=False)


def test_selection_uses_validation_and_tests_once(tiny_run):
    out, metrics = tiny_run
    assert all("val_acc" in h and "test_acc" not in h for h in metrics["history"])
    best_val = max(h["val_acc"] for h in metrics["history"])
    assert metrics["val_acc"] == best_val
    _, payload = load_checkpoint(out / "best.pt", harden=False)
    assert payload["epoch"] == metrics["selected_epoch"]
    assert 0.0 < metrics["final_test_acc"] <= 100.0


def test_slim_checkpoint_keeps_latent_weights(tiny_run):
    out, _ = tiny_run
    _, payload = load_checkpoint(out / "best.pt", harden=False)
    lat = latent_weights(payload)
    assert set(lat) == {"features.0.0", "features.1.0", "readout"}
    w = lat["features.0.0"]
    assert w.shape == (8, 784) and not torch.equal(w, w.sign())
    binary = payload["state_dict"]["features.0.0.weight"].float()
    assert torch.equal(binary, torch.where(w >= 0, 1.0, -1.0))  # the stored bits are their signs
    ang = binarization_angles(w.numpy())
    assert np.all((ang > 5) & (ang < 60))


def test_latent_geometry_per_layer_and_without_latent_weights(tiny_run, tmp_path):
    from noisybnn.experiments.geometry import latent_geometry
    from noisybnn.experiments.sweep import get_data
    from noisybnn.train import save_checkpoint, ship_checkpoint

    out, _ = tiny_run
    x, _ = get_data("mnist", "test", 200)
    rows, angles = latent_geometry(out / "best.pt", x)
    assert [r["layer"] for r in rows] == ["features.0.0", "features.1.0", "readout"]
    assert [r["fan_in"] for r in rows] == [784, 8, 8] and [len(a) for a in angles] == [8, 8, 10]
    for r, a in zip(rows, angles, strict=True):
        assert r["angle_mean"] == pytest.approx(float(np.mean(a)))
        assert 0.0 < r["dot_corr_min"] <= r["dot_corr_mean"] <= 1.0
    # shipping the selected checkpoint again (what `zoo train` does) keeps the latent weights
    shipped = ship_checkpoint(out / "best.pt", tmp_path / "shipped.pt")
    again, _ = latent_geometry(shipped, x)
    assert [r["angle_mean"] for r in again] == [r["angle_mean"] for r in rows]
    _, payload = load_checkpoint(shipped, harden=False)
    payload.pop("latent_weights")  # as checkpoints shipped before the key existed
    save_checkpoint(tmp_path / "old.pt", payload)
    reason = latent_geometry(tmp_path / "old.pt", x)
    assert isinstance(reason, str) and "no latent weights" in reason
