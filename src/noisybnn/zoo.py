"""The checkpoints shipped in `models/`: how each one is made, and where it lies.

Every shipped checkpoint has a recipe here; `noisybnn zoo train NAME` re-makes it and writes
`models/NAME.pt` (quantized weights, no optimizer state) and `models/NAME.json` (its model card:
recipe, accuracy per epoch, wall time, versions).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from noisybnn.errors import ConfigError, MissingInputError
from noisybnn.models import ModelSpec, from_name
from noisybnn.resources import models_dir
from noisybnn.train import TrainConfig

#: The shipped checkpoints (models/ of the checkout or of the wheel; $NOISYBNN_MODELS overrides).
MODELS_DIR = models_dir()


@dataclass(frozen=True)
class Recipe:
    spec: ModelSpec
    cfg: TrainConfig


def _r(name: str, base: str, epochs: int, eps_train: float = 0.0, dataset: str = "mnist",
       dropout: float = 0.0, in_bits: int = 1, **cfg) -> tuple[str, Recipe]:
    spec = from_name(base, eps_train=eps_train, dropout=dropout, in_bits=in_bits)
    spec = replace(spec, name=name)
    return name, Recipe(spec, TrainConfig(dataset=dataset, epochs=epochs, **cfg))


RECIPES: dict[str, Recipe] = dict(
    [
        _r("tfc-w1a1", "tfc-w1a1", 20),
        _r("tfc-w1a1-eps0.05", "tfc-w1a1", 20, eps_train=0.05),
        _r("tfc-w1a1-eps0.1", "tfc-w1a1", 20, eps_train=0.1),
        _r("sfc-w1a1", "sfc-w1a1", 10),
        _r("sfc-w1a1-eps0.05", "sfc-w1a1", 10, eps_train=0.05),
        _r("sfc-w1a1-eps0.1", "sfc-w1a1", 10, eps_train=0.1),
        _r("lfc-w1a1", "lfc-w1a1", 30, dropout=0.2, shift=2),
        _r("tfc-w2a2", "tfc-w2a2", 8),
        _r("sfc-w1a1-fashion", "sfc-w1a1", 8, dataset="fashion-mnist"),
        _r("cnn-w1a1", "cnn-w1a1", 3),
        # CNV-style CNNs (issue 18): epoch selected on the validation split, one torch thread
        _r("cnv-w1a1", "cnv-w1a1", 12, shift=1, threads=1, bn_recal_images=5000),
        _r("cnv-w1a1-fashion", "cnv-w1a1", 12, dataset="fashion-mnist", threads=1,
           bn_recal_images=5000),
        # 6 and 8 epochs, not 12: what this machine's shared CPU allowed before the deadline
        _r("cnv-w1a1-eps0.05", "cnv-w1a1", 6, eps_train=0.05, shift=1, threads=1,
           bn_recal_images=5000),
        _r("cnv-w2a2", "cnv-w2a2", 8, shift=1, threads=1, bn_recal_images=5000),
        # 8-bit input (raw uint8 pixels, as FINN's CNV): epochs are what the shared 2-core machine
        # allowed beside the other jobs in the time left (one torch thread each, load 7-15): 9 for
        # the clean models, 4 and 5 for the noise-aware ones
        _r("cnv-w1a1-in8", "cnv-w1a1", 9, in_bits=8, shift=1, threads=1, bn_recal_images=5000),
        _r("cnv-w1a1-fashion-in8", "cnv-w1a1", 9, in_bits=8, dataset="fashion-mnist", threads=1,
           bn_recal_images=5000),
        _r("cnv-w1a1-fashion-in8-eps0.05", "cnv-w1a1", 4, in_bits=8, eps_train=0.05,
           dataset="fashion-mnist", threads=1, bn_recal_images=5000),
        _r("cnv-w1a1-in8-eps0.05", "cnv-w1a1", 5, in_bits=8, eps_train=0.05, shift=1, threads=1,
           bn_recal_images=5000),
    ]
)


def checkpoint_path(name: str) -> Path:
    return MODELS_DIR / f"{name}.pt"


def resolve(model: str) -> Path:
    """A checkpoint path from a shipped name or a file path; clear error if neither exists."""
    p = Path(model)
    if p.suffix == ".pt" or os.sep in model:
        if not p.is_file():
            raise MissingInputError(f"checkpoint not found: {p}")
        return p
    if model in RECIPES:
        path = checkpoint_path(model)
        if not path.is_file():
            raise MissingInputError(
                f"shipped checkpoint {path} is missing; re-make it with `noisybnn zoo train {model}`"
            )
        return path
    known = ", ".join(sorted(RECIPES))
    raise ConfigError(f"unknown model {model!r}: give a checkpoint file or one of: {known}")


def train_recipe(name: str, work_dir: str | Path = "runs", progress: bool = True) -> Path:
    """Train a shipped model from its recipe and write models/NAME.pt and NAME.json.

    The run resumes from `work_dir/NAME/last.pt` if it exists (a finished run only re-ships)."""
    from noisybnn.train import ship_checkpoint, train

    if name not in RECIPES:
        raise ConfigError(f"no recipe named {name!r}; known: {', '.join(sorted(RECIPES))}")
    recipe = RECIPES[name]
    run_dir = Path(work_dir) / name
    metrics = train(recipe.spec, recipe.cfg, run_dir, resume=True, progress=progress)
    # the epoch selected on the validation split (best.pt) is what ships; its test accuracy was
    # measured once, after training (without a validation split best.pt is the last epoch)
    dst = ship_checkpoint(run_dir / "best.pt", checkpoint_path(name))
    card = {
        "name": name,
        "made_with": f"noisybnn zoo train {name}",
        "spec": recipe.spec.to_dict(),
        "train_config": asdict(recipe.cfg),
        "selected_epoch": metrics["selected_epoch"],
        "validation_accuracy": metrics["val_acc"],
        "test_accuracy": metrics["final_test_acc"],
        "train_seconds": metrics["train_seconds"],
        "history": metrics["history"],
    }
    tmp = dst.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(card, indent=2))
    tmp.replace(dst.with_suffix(".json"))
    return dst
