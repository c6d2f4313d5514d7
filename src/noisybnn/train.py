"""Training: Adam + cosine schedule, weight clipping (BinaryConnect), checkpoints every epoch, resume.

Checkpoints are plain dicts saved with torch.save: the model spec, the state dict, the optimizer
and scheduler states, the epoch, the metric history and a record of how the model was made
(command, data set, seed, versions, wall time), so a shipped checkpoint documents itself.

Model selection never looks at the test set: the last ``val_images`` training images are held out,
the epoch with the best validation accuracy is kept (``best.pt``), and the test accuracy is
measured once, on that model. Shipped (slim) checkpoints also keep the latent float weights under
``latent_weights`` (the binarization geometry of docs/theory.md §7 needs them); older checkpoints
without that key load as before.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from noisybnn import data as datasets
from noisybnn.errors import ConfigError, InputFileError
from noisybnn.models import BinaryNet, ModelSpec, build
from noisybnn.validation import check_float, check_int, threads_from_env


@dataclass
class TrainConfig:
    """Hyper-parameters of one training run."""

    dataset: str = "mnist"
    epochs: int = 10
    batch_size: int = 100
    lr: float = 0.02
    lr_min: float = 1e-4
    weight_decay: float = 0.0
    seed: int = 0
    threads: int = 2
    train_limit: int = 0  # use only the first N training images (0: all), for smoke runs
    shift: int = 0  # augment: move each training image by up to this many pixels in x and y
    #: hold out the last N training images as a validation set: epochs are selected on it and the
    #: test set is evaluated once, on the selected model (0: no validation, the last epoch is kept)
    val_images: int = 5000
    #: after each epoch, recompute the BatchNorm statistics on the first N training images with the
    #: epoch's final weights (0: keep the running averages). Binary weights flip often at a high
    #: learning rate, so running averages lag the weights (a CNV net at lr 0.02: 57 % validation
    #: with them, 97 % recalibrated, epoch 2); training itself is unchanged (batch statistics).
    bn_recal_images: int = 0


class CheckpointError(InputFileError):
    """A checkpoint file is missing, unreadable, or not a noisybnn checkpoint."""


def checkpoint_dataset(payload: dict, path) -> str:
    """The data set a checkpoint was trained on (its record); a clear error if it lacks one."""
    try:
        name = payload["record"]["config"]["dataset"]
    except (KeyError, TypeError):
        raise CheckpointError(f"checkpoint {path} does not record its data set "
                              "(record.config.dataset); pass --dataset or retrain it") from None
    if not isinstance(name, str):
        raise CheckpointError(f"checkpoint {path}: record.config.dataset is {name!r}, not a name")
    return name


def check_train_config(cfg: TrainConfig) -> None:
    """Ranges of the hyper-parameters, checked before any data is loaded (ConfigError)."""
    check_int(cfg.epochs, "--epochs", 1, 100_000)
    check_int(cfg.batch_size, "--batch-size", 1, 1_000_000)
    check_float(cfg.lr, "--lr", 0.0, 10.0, lo_open=True)
    check_float(cfg.lr_min, "lr_min", 0.0, None)
    check_float(cfg.weight_decay, "weight_decay", 0.0, None)
    check_int(cfg.seed, "--seed", 0, 2**63 - 1)
    check_int(cfg.threads, "threads", 1, 1024)
    check_int(cfg.train_limit, "train_limit", 0)
    check_int(cfg.shift, "--shift", 0, 13)
    check_int(cfg.bn_recal_images, "bn_recal_images", 0)


def set_seed(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % (2**32))
    torch.use_deterministic_algorithms(True, warn_only=True)


def images_to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float32 (N, 1, 28, 28) in [0, 1]."""
    return torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)


def random_shift(batch: torch.Tensor, max_shift: int) -> torch.Tensor:
    """Move each (N, 1, H, W) image by its own random offset in [-max_shift, max_shift]^2.

    Vacated pixels are zero (background). A cheap augmentation that keeps pixel values, so the
    binarized input stays exactly what the hardware sees.
    """
    if max_shift <= 0:
        return batch
    n, _, h, w = batch.shape
    padded = nn.functional.pad(batch, (max_shift,) * 4)
    dy, dx = torch.randint(0, 2 * max_shift + 1, (2, n))
    rows = (dy[:, None] + torch.arange(h)[None, :])[:, None, :, None]
    cols = (dx[:, None] + torch.arange(w)[None, :])[:, None, None, :]
    return padded[torch.arange(n)[:, None, None, None], torch.zeros(1, 1, 1, 1, dtype=torch.long), rows, cols]


def evaluate(net: BinaryNet, images: np.ndarray, labels: np.ndarray, batch_size: int = 1000) -> float:
    """Top-1 accuracy in percent; argmax ties go to the lowest class index (as the hardware)."""
    net.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            x = images_to_tensor(images[start : start + batch_size])
            pred = net.integer_logits(x).argmax(dim=1).numpy()
            correct += int((pred == labels[start : start + batch_size]).sum())
    return 100.0 * correct / len(images)


def save_checkpoint(path: Path, payload: dict) -> None:
    """Write atomically: a crash mid-write never leaves a truncated checkpoint."""
    from noisybnn.outputs import atomic_write

    path = Path(path)
    atomic_write(path, lambda tmp: torch.save(payload, tmp), "checkpoint",
                 tmp=path.with_name(path.name + ".tmp"))


def load_checkpoint(path: str | Path, harden: bool = True) -> tuple[BinaryNet, dict]:
    """Rebuild the network of a checkpoint; raise CheckpointError with the reason if it cannot.

    With `harden` (the default for inference), binary thresholds are moved to half-integers
    (`BinaryNet.harden_thresholds`) so that Brevitas, QONNX, FINN and the accelerator compute the
    same bits; pass False to resume training.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises many types for a corrupt file
        raise CheckpointError(f"cannot read checkpoint {path}: {type(exc).__name__}: {exc}") from None
    if not isinstance(payload, dict) or "spec" not in payload or "state_dict" not in payload:
        raise CheckpointError(f"{path} is not a noisybnn checkpoint (no 'spec'/'state_dict')")
    try:
        net = build(ModelSpec.from_dict(payload["spec"]))
    except (KeyError, TypeError, ValueError) as exc:
        what = f"lacks {exc}" if isinstance(exc, KeyError) else f"is invalid ({exc})"
        raise CheckpointError(f"checkpoint {path}: its model spec {what}; it was not written by "
                              "`noisybnn train`, or was edited") from None
    try:
        net.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        raise CheckpointError(f"checkpoint {path} does not match its model spec: {exc}") from None
    net.eval()
    if harden:
        net.harden_thresholds()
    return net, payload


def train(
    spec: ModelSpec,
    cfg: TrainConfig,
    out_dir: str | Path,
    resume: bool = False,
    progress: bool = True,
    cache_dir: str | Path | None = None,
    extra_loss: Callable[[BinaryNet], torch.Tensor] | None = None,
) -> dict:
    """Train `spec` on `cfg.dataset`; write `last.pt`, `best.pt` and `metrics.json` in `out_dir`.

    With `resume`, continue from `out_dir/last.pt` (same spec and config required). `extra_loss`,
    called after each forward pass, adds a regularizer (e.g. the flip-gain penalty of
    `experiments.propagation`). Returns the metrics dict.
    """
    if not 0 <= cfg.shift <= 13:
        raise ConfigError(f"shift must be 0..13 pixels, got {cfg.shift}")
    check_train_config(cfg)
    out = Path(out_dir)
    from noisybnn.outputs import check_output_dir

    check_output_dir(out, "--out")
    torch.set_num_threads(threads_from_env(cfg.threads))
    set_seed(cfg.seed)
    x_train, y_train = datasets.load(cfg.dataset, "train", cache_dir)
    x_train, y_train, x_val, y_val = split_validation(x_train, y_train, cfg.val_images)
    if cfg.train_limit:
        x_train, y_train = x_train[: cfg.train_limit], y_train[: cfg.train_limit]
    net = build(spec)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs, eta_min=cfg.lr_min)
    history: list[dict] = []
    start_epoch = 0
    best = -1.0
    elapsed = 0.0
    last = out / "last.pt"
    if resume and last.is_file():
        _, payload = load_checkpoint(last, harden=False)
        if payload["spec"] != spec.to_dict():
            raise CheckpointError(f"cannot resume: {last} was trained for another model spec")
        net.load_state_dict(payload["state_dict"])
        opt.load_state_dict(payload["optimizer"])
        sched.load_state_dict(payload["scheduler"])
        torch.set_rng_state(payload["rng"])
        history = payload["history"]
        start_epoch = payload["epoch"]
        best = max((_selection_score(h) for h in history), default=-1.0)
        elapsed = payload["record"]["train_seconds"]
    loss_fn = nn.CrossEntropyLoss()
    y_train_t = torch.from_numpy(y_train.astype(np.int64))
    x_train_t = images_to_tensor(x_train)
    for epoch in range(start_epoch, cfg.epochs):
        t0 = time.time()
        net.train()
        perm = torch.randperm(len(x_train_t))
        total_loss = 0.0
        batches = range(0, len(perm), cfg.batch_size)
        bar = tqdm(batches, desc=f"{spec.name} epoch {epoch + 1}/{cfg.epochs}", disable=not progress,
                   leave=False)
        for start in bar:
            idx = perm[start : start + cfg.batch_size]
            opt.zero_grad()
            loss = loss_fn(net(random_shift(x_train_t[idx], cfg.shift)), y_train_t[idx])
            if extra_loss is not None:
                loss = loss + extra_loss(net)
            loss.backward()
            opt.step()
            net.clip_weights()
            total_loss += loss.item() * len(idx)
        sched.step()
        if cfg.bn_recal_images:
            recalibrate_batchnorm(net, x_train_t[: cfg.bn_recal_images])
        elapsed += time.time() - t0
        entry = {"epoch": epoch + 1, "loss": total_loss / len(perm),
                 "lr": opt.param_groups[0]["lr"], "seconds": round(time.time() - t0, 2)}
        if len(x_val):
            entry["val_acc"] = evaluate(net, x_val, y_val)
        history.append(entry)
        if progress:
            val = f"val {entry['val_acc']:.2f}% " if "val_acc" in entry else ""
            print(f"{spec.name} epoch {epoch + 1}/{cfg.epochs}: loss {entry['loss']:.4f} "
                  f"{val}({entry['seconds']:.0f} s)", flush=True)
        payload = {
            "spec": spec.to_dict(),
            "state_dict": net.state_dict(),
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
            "rng": torch.get_rng_state(),
            "epoch": epoch + 1,
            "history": history,
            "record": _record(cfg, elapsed),
        }
        save_checkpoint(last, payload)
        score = _selection_score(entry)
        if score >= best:  # ties: the later epoch (with no validation set: always the last)
            best = score
            save_checkpoint(out / "best.pt", _slim(payload))
    selected, test_acc = _test_selected(out / "best.pt", cfg.dataset, cache_dir)
    metrics = {"model": spec.name, "spec": spec.to_dict(), "config": asdict(cfg),
               "history": history, "selected_epoch": selected,
               "val_acc": next((h.get("val_acc") for h in history if h["epoch"] == selected), None),
               "final_test_acc": test_acc, "best_test_acc": test_acc,
               "train_seconds": round(elapsed, 1)}
    _write_json(out / "metrics.json", metrics)
    return metrics


def recalibrate_batchnorm(net: BinaryNet, images: torch.Tensor, batch_size: int = 500) -> None:
    """Set every BatchNorm's running statistics to the average batch statistics over `images`.

    Runs in training mode (noise-aware flips and dropout as in training, so the statistics are
    those the layers saw), without gradients, and restores torch's RNG state afterwards: the
    training trajectory is the same with or without recalibration.
    """
    norms = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms or not len(images):
        return
    rng = torch.get_rng_state()
    was_training = net.training
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the batches below
    net.train()
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            net.integer_logits(images[start : start + batch_size])
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum
    net.train(was_training)
    torch.set_rng_state(rng)


def split_validation(
    images: np.ndarray, labels: np.ndarray, n_val: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train images, train labels, validation images, validation labels): the last ``n_val``
    training images are the validation set, so selection never sees the test set."""
    n_val = int(n_val)
    if not 0 <= n_val < len(images):
        raise ValueError(f"val_images must be 0..{len(images) - 1}, got {n_val}")
    cut = len(images) - n_val
    return images[:cut], labels[:cut], images[cut:], labels[cut:]


def _selection_score(entry: dict) -> float:
    """What picks the kept epoch: validation accuracy, else the epoch number (keep the last).
    Never the test accuracy."""
    return float(entry["val_acc"]) if "val_acc" in entry else float(entry["epoch"]) - 1e6


def _test_selected(best: Path, dataset: str, cache_dir) -> tuple[int | None, float | None]:
    """The selected epoch and its test accuracy, measured once, after training."""
    if not best.is_file():
        return None, None
    net, payload = load_checkpoint(best, harden=False)
    x_test, y_test = datasets.load(dataset, "test", cache_dir)
    return int(payload["epoch"]), evaluate(net, x_test, y_test)


def _slim(payload: dict) -> dict:
    """What a shipped checkpoint needs: no optimizer state, weights as their quantized values.

    Latent float weights only matter for further training; the quantizer maps its own output
    values back to themselves, so storing them (as int8 where they are integers) loses nothing.
    """
    from brevitas.nn import QuantConv2d, QuantLinear

    net = build(ModelSpec.from_dict(payload["spec"]))
    net.load_state_dict(payload["state_dict"])
    state = dict(payload["state_dict"])
    with torch.no_grad():
        for name, module in net.named_modules():
            if isinstance(module, (QuantLinear, QuantConv2d)):
                values = module.quant_weight().value.detach()
                if torch.equal(values, values.round()) and values.abs().max() <= 127:
                    values = values.to(torch.int8)
                state[f"{name}.weight"] = values
    slim = {k: payload[k] for k in ("spec", "epoch", "history", "record")}
    slim["state_dict"] = state
    slim["latent_weights"] = latent_weights(payload)
    return slim


def latent_weights(payload: dict) -> dict[str, torch.Tensor] | None:
    """The latent float weights (before binarization) of every quantized layer, by module name.

    Training checkpoints (``last.pt``) hold them in their state dict; slim ones under
    ``latent_weights``; checkpoints shipped before that key existed return None (their state dict
    holds only the binarized values, whose angle to their own sign is 0).
    """
    if payload.get("latent_weights") is not None:
        return dict(payload["latent_weights"])
    net = build(ModelSpec.from_dict(payload["spec"]))
    names = [n for n, m in net.named_modules() if _is_quant_layer(m)]
    state = payload["state_dict"]
    out = {}
    for name in names:
        w = state.get(f"{name}.weight")
        if w is None or not torch.is_floating_point(w):
            return None
        if torch.equal(w, w.sign()) or w.abs().max() == 0:
            return None  # already binarized: no latent weights here
        out[name] = w.detach().float().clone()
    return out or None


def _is_quant_layer(module: nn.Module) -> bool:
    from brevitas.nn import QuantConv2d, QuantLinear

    return isinstance(module, (QuantLinear, QuantConv2d))


def _record(cfg: TrainConfig, seconds: float) -> dict:
    import brevitas

    return {
        "config": asdict(cfg),
        "train_seconds": round(seconds, 1),
        "torch": torch.__version__,
        "brevitas": brevitas.__version__,
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {torch.get_num_threads()} threads",
    }


def _write_json(path: Path, obj: dict) -> None:
    from noisybnn.outputs import atomic_write

    text = json.dumps(obj, indent=2)
    atomic_write(path, lambda tmp: tmp.write_text(text), tmp=path.with_name(path.name + ".tmp"))


def ship_checkpoint(src: str | Path, dst: str | Path) -> Path:
    """Copy a trained checkpoint in slim form (no optimizer), with its record, for `models/`."""
    _, payload = load_checkpoint(src, harden=False)
    save_checkpoint(Path(dst), _slim(payload))
    return Path(dst)
