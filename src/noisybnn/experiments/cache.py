"""The checkpoint and build caches of the exploration and the depth-width experiment.

A design point's model is trained once into `runs_dir/<model>@<recipe key>/` (keyed by the model
spec and the training config; an interrupted training resumes from its last epoch) and built
once into `build_dir/<board>/<point>@<recipe key>/` (`pipeline.compile_model`, estimates only;
its build key includes `fingerprint.code_sha256()`, so a build made by other code is redone).
Both are safe to fill from several processes: one flock per directory.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from noisybnn.buildlock import build_lock
from noisybnn.experiments.space import DesignPoint
from noisybnn.fingerprint import json_sha256, weights_sha256
from noisybnn.models.spec import ModelSpec
from noisybnn.resources import work_dir
from noisybnn.train import TrainConfig

__all__ = ["DEFAULT_BUILD_DIR", "DEFAULT_RUNS_DIR", "TrainedModel", "build_cached",
           "recipe_dict", "recipe_key", "train_cached"]

#: Where trained checkpoints and FINN builds of explored points are cached.
DEFAULT_RUNS_DIR = work_dir("runs", "explore")
DEFAULT_BUILD_DIR = work_dir("build", "explore")


def recipe_dict(cfg: TrainConfig) -> dict:
    """The training config without what does not change the result (threads)."""
    return {k: v for k, v in asdict(cfg).items() if k != "threads"}


def recipe_key(spec: ModelSpec, cfg: TrainConfig) -> str:
    """12 hex digits over the model spec and the training config (threads excluded)."""
    return json_sha256({"spec": spec.to_dict(), "train": recipe_dict(cfg)})[:12]


@dataclass(frozen=True)
class TrainedModel:
    """A trained checkpoint of the cache."""

    checkpoint: Path
    key: str
    metrics: dict
    weights_sha256: str
    trained_now: bool


def train_cached(spec: ModelSpec, cfg: TrainConfig, runs_dir: str | os.PathLike = DEFAULT_RUNS_DIR,
                 progress: bool = False) -> TrainedModel:
    """Train `spec` with `cfg` into `runs_dir/<name>@<recipe key>/`, or reuse what is there.

    A run that finished (metrics.json with the same recipe and all epochs) is reused; one that
    was interrupted resumes from its last epoch (`train.train(resume=True)`).
    """
    from noisybnn.train import train

    key = recipe_key(spec, cfg)
    run = Path(runs_dir) / f"{spec.name}@{key}"
    recipe = {"spec": spec.to_dict(), "train": recipe_dict(cfg), "key": key}
    with build_lock(run):  # one trainer per run folder; the others wait and reuse it
        metrics = _finished_metrics(run, spec, cfg)
        trained_now = metrics is None
        if trained_now:
            run.mkdir(parents=True, exist_ok=True)
            (run / "recipe.json").write_text(json.dumps(recipe, indent=2))
            metrics = train(spec, cfg, run, resume=True, progress=progress)
        ckpt = run / "last.pt"
        return TrainedModel(ckpt, key, metrics, weights_sha256(ckpt), trained_now)


def _finished_metrics(run: Path, spec: ModelSpec, cfg: TrainConfig) -> dict | None:
    path = run / "metrics.json"
    if not (path.is_file() and (run / "last.pt").is_file()):
        return None
    try:
        m = json.loads(path.read_text())
    except (json.JSONDecodeError, OSError):
        return None
    done = (m.get("spec") == json.loads(json.dumps(spec.to_dict()))
            and {k: v for k, v in m.get("config", {}).items() if k != "threads"}
            == recipe_dict(cfg) and len(m.get("history", [])) == cfg.epochs)
    return m if done else None


def build_cached(checkpoint: str | os.PathLike, point: DesignPoint, key: str,
                 build_dir: str | os.PathLike = DEFAULT_BUILD_DIR) -> Path:
    """FINN estimates of a design point in `build_dir/<board>/<point name>@<recipe key>/` (cached
    by `pipeline.compile_model`: a no-op when the build is up to date, redone when the code
    fingerprint changed). FINN's console output goes to `explore_compile.log` there."""
    from noisybnn.pipeline import compile_model

    bdir = Path(build_dir) / point.board / f"{point.name}@{key}"
    onnx_log = logging.getLogger("torch.onnx")  # "torchvision is not installed" warnings
    level = onnx_log.level
    # no lock here: compile_model holds the build directory's lock (noisybnn.buildlock)
    buf = io.StringIO()
    try:
        onnx_log.setLevel(logging.ERROR)
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
            compile_model(str(checkpoint), point.board, point.target_fps, out_dir=bdir)
    finally:
        onnx_log.setLevel(level)
        if buf.getvalue():
            bdir.mkdir(parents=True, exist_ok=True)
            (bdir / "explore_compile.log").write_text(buf.getvalue())
    return bdir
