"""The shipped CNV-style checkpoints (issue 18): they are what their recipes and cards say.

The fast tests read the files only; the slow one re-measures each card's test accuracy."""

from __future__ import annotations

import json

import pytest
import torch

from noisybnn.models import ModelSpec
from noisybnn.zoo import RECIPES, checkpoint_path

CNV = [name for name in RECIPES if name.startswith("cnv-")]


def _shipped(name):
    path = checkpoint_path(name)
    if not path.is_file():
        pytest.skip(f"{path} not shipped")
    from noisybnn.train import load_checkpoint

    net, payload = load_checkpoint(path)
    return net, payload, json.loads(path.with_suffix(".json").read_text())


@pytest.mark.parametrize("name", CNV)
def test_card_matches_recipe_and_checkpoint(name):
    _, payload, card = _shipped(name)
    recipe = RECIPES[name]
    assert payload["spec"] == recipe.spec.to_dict() == ModelSpec.from_dict(card["spec"]).to_dict()
    assert card["train_config"]["val_images"] == 5000
    assert card["train_config"]["dataset"] == recipe.cfg.dataset
    # the shipped epoch is the one with the best validation accuracy (ties: the later one)
    vals = [h["val_acc"] for h in card["history"]]
    assert card["selected_epoch"] == payload["epoch"]
    assert card["validation_accuracy"] == max(vals) == vals[card["selected_epoch"] - 1]
    assert len(card["history"]) == recipe.cfg.epochs
    assert payload["latent_weights"] is not None and "features.0.0" in payload["latent_weights"]
    w = payload["state_dict"]["features.0.0.weight"]
    assert w.dtype == torch.int8
    # the -in8 models take the raw uint8 image (8-bit input), the others binarized pixels
    assert card["spec"]["in_bits"] == (8 if "-in8" in name else 1)


@pytest.mark.slow
@pytest.mark.parametrize("name", CNV)
def test_card_test_accuracy_is_reproduced(name):
    from noisybnn import data
    from noisybnn.train import evaluate

    net, _, card = _shipped(name)
    x, y = data.load(card["train_config"]["dataset"], "test")
    assert evaluate(net, x, y) == pytest.approx(card["test_accuracy"], abs=0.005)
