"""Design-space exploration: accuracy under noise vs FPGA resources and throughput.

A *design space* is a set of design points (hidden width, depth, weight/activation bits,
noise-aware training eps, folding target FPS, board) and one training recipe. For each point

1. **train** the MLP (or reuse its checkpoint: `runs/explore/<model>@<recipe-key>/`, keyed by
   the model spec and the training config, so a point trained once is never trained again and
   an interrupted training resumes from its last epoch);
2. **estimate** it with FINN (`pipeline.compile_model`, estimates only: LUT, BRAM, DSP, FPS,
   fits the board; cached in `build/explore/<board>/<point>@<recipe-key>/`);
3. **measure** its accuracy on the software accelerator, clean and under neuron flips at one
   eps (every injector on), mean and spread over noise seeds;
4. set it beside the theory: the least total number of noisy neurons that any network of that
   depth needs for the point's accuracy at that eps (`theory.min_total_neurons`) and the
   accuracy ceiling of its widths (`theory.accuracy_ceiling`).

    >>> space = load_space("default")                  # 33 points, or "small", or a JSON file
    >>> df = run_explore(space, "results/explore/explore.csv", eps=0.05, seeds=(1, 2))
    >>> df = run_explore(space, "results/explore/explore.csv", workers=2)   # Dask LocalCluster

Rows go into one CSV, keyed by everything that fixes a row and rewritten atomically after each
point (see `KeyedTable`), so a killed run restarted with the same arguments skips the points
that are done. On Dask there is one task per point; only the client writes the table. Training
is deterministic given the recipe's seed (one torch thread, deterministic algorithms), so a
serial run, a Dask run and a resumed run give the same table up to `VOLATILE_COLUMNS`.
The Pareto plot (`<table>.png`) is redrawn at the end. See docs/experiments.md.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import hashlib
import io
import json
import logging
import math
import os
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np

from noisybnn.experiments.grid import SweepError
from noisybnn.experiments.table import ResultsTable, format_value, read_keyed_csv
from noisybnn.models.spec import PRECISIONS, ModelSpec, mlp
from noisybnn.train import TrainConfig

__all__ = [
    "BUILTIN_SPACES", "COLUMNS", "DEFAULT_RECIPE", "VOLATILE_COLUMNS", "DesignPoint",
    "DesignSpace", "EvalConfig", "ExploreError", "KeyedTable", "TrainedModel", "build_cached",
    "canonical_onnx_sha256", "check_code", "cli_explore", "code_sha256", "comparable",
    "format_summary", "label_entropy", "load_space",
    "measure_accuracy", "pareto_front", "plot_explore", "read_keyed_table", "recipe_key",
    "run_design_point", "run_explore", "train_cached", "validate_explore",
]

REPO_ROOT = Path(__file__).resolve().parents[3]
#: Where trained checkpoints and FINN builds of explored points are cached.
DEFAULT_RUNS_DIR = REPO_ROOT / "runs" / "explore"
DEFAULT_BUILD_DIR = REPO_ROOT / "build" / "explore"
#: The training recipe of the built-in spaces (and of the depth-width experiment, which reuses
#: their checkpoints): 2 epochs of Adam on all of MNIST, seed 0, one torch thread.
DEFAULT_RECIPE = TrainConfig(dataset="mnist", epochs=2, seed=0, threads=1)


class ExploreError(ValueError):
    """An exploration cannot start: bad design space, eps, board, seeds or table."""


# --- design points and spaces ------------------------------------------------------------------


def _fps_label(fps: int) -> str:
    """100000 -> "100k", 1000000 -> "1M", 2500 -> "2.5k"."""
    for unit, div in (("M", 1_000_000), ("k", 1000)):
        if fps >= div:
            return f"{fps / div:g}{unit}"
    return str(fps)


@dataclass(frozen=True)
class DesignPoint:
    """One design: a 784-[width]*depth-10 MLP, its training noise, its folding and board."""

    #: Hidden neurons per layer.
    width: int
    #: Hidden layers (each followed by a noise injector).
    depth: int
    #: Weight bits (1: binary).
    weight_bits: int = 1
    #: Activation bits of the hidden layers (1: binary neurons).
    act_bits: int = 1
    #: Neuron flip probability during training (0: plain training).
    eps_train: float = 0.0
    #: Folding goal of FINN's SetFolding, in frames per second.
    target_fps: int = 100_000
    #: Target board (a file in bitstreams/configs).
    board: str = "pynq-z2"

    @property
    def model_name(self) -> str:
        """Name of the trained model; points that differ only in folding or board share it."""
        base = f"mlp-{self.width}x{self.depth}-w{self.weight_bits}a{self.act_bits}"
        return base + (f"-eps{self.eps_train:g}" if self.eps_train else "")

    @property
    def name(self) -> str:
        return f"{self.model_name}-{_fps_label(self.target_fps)}fps"

    @property
    def neurons(self) -> int:
        """Hidden (noisy) neurons in total."""
        return self.width * self.depth

    def spec(self) -> ModelSpec:
        return mlp(self.width, self.depth, self.weight_bits, self.act_bits,
                   eps_train=self.eps_train, name=self.model_name)


@dataclass(frozen=True)
class DesignSpace:
    """Design points and the one training recipe they share."""

    name: str
    points: tuple[DesignPoint, ...]
    train: TrainConfig = field(default_factory=lambda: DEFAULT_RECIPE)

    def __len__(self) -> int:
        return len(self.points)


_GRID_AXES = ("width", "depth", "precision", "weight_bits", "act_bits", "eps_train", "target_fps",
              "board")
_TRAIN_KEYS = tuple(f.name for f in fields(TrainConfig) if f.name != "threads")

#: Built-in spaces, in the JSON form `load_space` reads from files.
BUILTIN_SPACES: dict[str, dict] = {
    # 24 w1a1 points at 100k FPS, 2 w2a2 points, a wider model (256x3) at 100k and 1M FPS, and
    # 5 folding variants of grid models (no extra training): 33 points, 27 trained models
    "default": {
        "grid": {"width": [16, 32, 64, 128], "depth": [1, 2, 3], "precision": ["w1a1"],
                 "eps_train": [0.0, 0.05], "target_fps": [100_000]},
        "points": [
            {"width": 64, "depth": 2, "precision": "w2a2", "eps_train": 0.0},
            {"width": 64, "depth": 2, "precision": "w2a2", "eps_train": 0.05},
            {"width": 64, "depth": 2, "eps_train": 0.05, "target_fps": 10_000},
            {"width": 64, "depth": 2, "eps_train": 0.05, "target_fps": 1_000_000},
            {"width": 128, "depth": 2, "eps_train": 0.05, "target_fps": 10_000},
            {"width": 32, "depth": 2, "eps_train": 0.05, "target_fps": 1_000_000},
            {"width": 128, "depth": 3, "eps_train": 0.05, "target_fps": 1_000_000},
            {"width": 256, "depth": 3, "eps_train": 0.05},
            {"width": 256, "depth": 3, "eps_train": 0.05, "target_fps": 1_000_000},
        ],
        "train": {"epochs": 2},
    },
    # 4 tiny points for a quick look (about a minute on 2 cores)
    "small": {
        "grid": {"width": [16, 32], "depth": [1, 2], "precision": ["w1a1"], "eps_train": [0.0],
                 "target_fps": [100_000]},
        "train": {"epochs": 1, "train_limit": 10_000},
    },
}


def _as_list(value, what: str) -> list:
    if isinstance(value, (list, tuple)):
        if not value:
            raise ExploreError(f"{what} is an empty list")
        return list(value)
    return [value]


def _int(value, what: str, lo: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
        raise ExploreError(f"{what} must be an integer >= {lo}, got {value!r}")
    return int(value)


def _prob(value, what: str) -> float:
    from noisybnn.hw import check_probability

    try:
        return check_probability(value, what)
    except ValueError as exc:
        raise ExploreError(str(exc)) from None


def _bits(entry: dict, where: str) -> tuple[int, int]:
    prec = entry.get("precision")
    if prec is not None:
        if "weight_bits" in entry or "act_bits" in entry:
            raise ExploreError(f"{where}: give 'precision' or 'weight_bits'/'act_bits', not both")
        key = str(prec).strip().lower()
        if key not in PRECISIONS:
            raise ExploreError(f"{where}: unknown precision {prec!r}; known: "
                               f"{', '.join(PRECISIONS)}")
        return PRECISIONS[key]
    return (_int(entry.get("weight_bits", 1), f"{where} weight_bits"),
            _int(entry.get("act_bits", 1), f"{where} act_bits"))


def _point(entry: dict, board: str, where: str) -> DesignPoint:
    unknown = set(entry) - set(_GRID_AXES)
    if unknown:
        raise ExploreError(f"{where}: unknown key(s) {sorted(unknown)}; known: "
                           f"{', '.join(_GRID_AXES)}")
    for need in ("width", "depth"):
        if need not in entry:
            raise ExploreError(f"{where}: missing {need!r}")
    wb, ab = _bits(entry, where)
    point = DesignPoint(
        width=_int(entry["width"], f"{where} width"),
        depth=_int(entry["depth"], f"{where} depth"),
        weight_bits=wb, act_bits=ab,
        eps_train=_prob(entry.get("eps_train", 0.0), f"{where} eps_train"),
        target_fps=_int(entry.get("target_fps", 100_000), f"{where} target_fps"),
        board=str(entry.get("board", board)),
    )
    try:
        point.spec()  # bit widths and sizes the model family accepts
    except ValueError as exc:
        raise ExploreError(f"{where}: {exc}") from None
    return point


def _train_config(d: dict | None, where: str) -> TrainConfig:
    d = dict(d or {})
    unknown = set(d) - set(_TRAIN_KEYS)
    if unknown:
        raise ExploreError(f"{where}: unknown training key(s) {sorted(unknown)}; known: "
                           f"{', '.join(_TRAIN_KEYS)}")
    for k in ("epochs", "batch_size"):
        if k in d:
            d[k] = _int(d[k], f"{where} {k}")
    for k in ("train_limit", "seed"):
        if k in d:
            d[k] = _int(d[k], f"{where} {k}", lo=0)
    for k in ("lr", "lr_min", "weight_decay"):
        if k in d:
            v = d[k]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                    or v < 0 or (k == "lr" and v == 0):
                raise ExploreError(f"{where} {k} must be a finite number >= 0 (lr > 0), got {v!r}")
            d[k] = float(v)
    if "dataset" in d:
        from noisybnn import data

        try:
            d["dataset"] = data.get_spec(str(d["dataset"])).name
        except ValueError as exc:
            raise ExploreError(f"{where}: {exc}") from None
    return replace(DEFAULT_RECIPE, **d)


def space_from_dict(d: dict, board: str = "pynq-z2", name: str = "custom") -> DesignSpace:
    """A DesignSpace from its JSON form: {"grid": {axis: [values]}, "points": [...], "train": {}}.

    Grid axes: width, depth, precision ("w1a1", "w2a2", ...) or weight_bits/act_bits, eps_train,
    target_fps, board; the grid is their product. "points" adds single points (same keys, one
    value each). Points without a board get `board`. "train" overrides fields of
    `DEFAULT_RECIPE` (epochs, train_limit, seed, lr, batch_size, dataset, ...).
    """
    if not isinstance(d, dict):
        raise ExploreError(f"a design space is a JSON object, got {type(d).__name__}")
    unknown = set(d) - {"name", "description", "grid", "points", "train"}
    if unknown:
        raise ExploreError(f"design space: unknown key(s) {sorted(unknown)}; known: name, "
                           "description, grid, points, train")
    name = str(d.get("name", name))
    points: dict[tuple, DesignPoint] = {}
    grid = d.get("grid")
    if grid is not None:
        if not isinstance(grid, dict):
            raise ExploreError("design space 'grid' must be an object of axis: [values]")
        unknown = set(grid) - set(_GRID_AXES)
        if unknown:
            raise ExploreError(f"grid: unknown axis/axes {sorted(unknown)}; known: "
                               f"{', '.join(_GRID_AXES)}")
        for need in ("width", "depth"):
            if need not in grid:
                raise ExploreError(f"grid: missing axis {need!r}")
        axes = {k: _as_list(v, f"grid {k}") for k, v in grid.items()}
        combos: list[dict] = [{}]
        for axis, values in axes.items():
            combos = [{**c, axis: v} for c in combos for v in values]
        for c in combos:
            p = _point(c, board, "grid")
            points.setdefault((p.name, p.board), p)
    extra = d.get("points", [])
    if not isinstance(extra, list):
        raise ExploreError("design space 'points' must be a list of objects")
    for i, entry in enumerate(extra):
        if not isinstance(entry, dict):
            raise ExploreError(f"points[{i}] must be an object, e.g. "
                               '{"width": 64, "depth": 2}')
        p = _point(entry, board, f"points[{i}]")
        points.setdefault((p.name, p.board), p)
    if not points:
        raise ExploreError(f"design space {name!r} has no points: give a 'grid' or 'points'")
    return DesignSpace(name=name, points=tuple(points.values()),
                       train=_train_config(d.get("train"), "train"))


def load_space(space: str | os.PathLike | dict | DesignSpace,
               board: str = "pynq-z2") -> DesignSpace:
    """A design space: a DesignSpace, a dict, a built-in name ("default", "small"), or a JSON file.

    Raises:
        ExploreError: unknown name or missing file, malformed JSON, invalid values.
    """
    if isinstance(space, DesignSpace):
        return space
    if isinstance(space, dict):
        return space_from_dict(space, board)
    text = str(space)
    if text in BUILTIN_SPACES:
        return space_from_dict(BUILTIN_SPACES[text], board, name=text)
    path = Path(text).expanduser()
    if not path.is_file():
        raise ExploreError(f"design space {text!r} is neither a built-in space "
                           f"({', '.join(BUILTIN_SPACES)}) nor an existing JSON file")
    try:
        d = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ExploreError(f"design space file {path} is not valid JSON: {exc.msg} at line "
                           f"{exc.lineno} column {exc.colno}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ExploreError(f"cannot read design space file {path}: {exc}") from None
    return space_from_dict(d, board, name=path.stem)


@dataclass(frozen=True)
class EvalConfig:
    """How each point's accuracy is measured on the software accelerator."""

    #: Flip probability of every hidden neuron bit (all injectors on).
    eps: float = 0.05
    #: Noise seeds; accuracy under noise is their mean.
    seeds: tuple[int, ...] = (1, 2)
    #: The first n images of the test split (set by `validate_explore`; None: all).
    n_images: int | None = None
    #: Accuracy for the theory's neuron count; None: each point's own accuracy under noise.
    theory_target: float | None = None


# --- the table -------------------------------------------------------------------------------

#: Columns of the exploration table, in order.
COLUMNS = (
    "key",                  # hash of everything that fixes the row (point, recipe, evaluation)
    "name",                 # point name: model name + folding target
    "model",                # trained model name (shared by points that differ in folding/board)
    "width", "depth", "weight_bits", "act_bits", "eps_train", "target_fps", "board",
    "dataset", "epochs", "train_limit", "train_seed",
    "lut", "ff", "bram_18k", "dsp",  # FINN estimates, whole accelerator (ff: empty, see docs)
    "lut_util",             # LUT / LUT available on the board
    "fps",                  # FINN's estimated throughput
    "fits",                 # LUT, BRAM and DSP within the board's
    "injector_lut", "injector_ff", "injector_lut_share",
    "eps", "seeds", "n_images",
    "accuracy_clean",       # on the sim, injectors off, in [0, 1]
    "accuracy_under_noise", # on the sim, flip at eps on every injector, mean over seeds
    "accuracy_std",         # sample standard deviation over seeds (0 for one seed)
    "accuracy_torch",       # the trainer's own test accuracy after the last epoch (all images)
    "neurons",              # hidden neurons in total (width * depth)
    "noisy_bits",           # neurons * act_bits: the noisy binary units the theory counts
    "label_entropy",        # H(Y) of the evaluated labels in bits (the theory's input)
    "theory_target",        # accuracy for which theory_min_neurons is computed
    "theory_min_neurons",   # theory.min_total_neurons(depth, eps, theory_target, C, H)
    "below_theory_min",     # noisy_bits < theory_min_neurons (must never be true)
    "theory_ceiling",       # theory.accuracy_ceiling(widths * act_bits, eps, C, H)
    "code_sha256",          # fingerprint of the build, estimate and sim code and tools (in key)
    "weights_sha256",       # SHA-256 of the trained weights (state dict), reproducible
    "twin_sha256",          # SHA-256 of the executable twin with canonical tensor names
    "checkpoint_sha256",    # SHA-256 of the checkpoint file (it records wall times)
    "build_sha256",         # SHA-256 of dataflow_python.onnx (its tensor names are random)
    "train_seconds", "build_seconds", "eval_seconds",
    "seconds",              # wall time of the point in this run (train and build if not cached)
    "worker", "git_commit", "timestamp",
)
#: Columns that differ between two runs of the same points.
VOLATILE_COLUMNS = ("checkpoint_sha256", "build_sha256", "train_seconds", "build_seconds",
                    "eval_seconds", "seconds", "worker", "git_commit", "timestamp")


class KeyedTable(ResultsTable):
    """`table.ResultsTable` (atomic rewrite, sorted by key, one writer by flock) over any columns.

    Args:
        path: the CSV.
        columns: its columns; the first must be "key".
    """

    def __init__(self, path: str | os.PathLike, columns: Sequence[str]):
        super().__init__(path)
        if not columns or columns[0] != "key":
            raise ValueError("the first column of a keyed table must be 'key'")
        self.columns = tuple(columns)

    def read_rows(self, path: str | os.PathLike) -> dict[str, list[str]]:  # type: ignore[override]
        return read_keyed_rows(path, self.columns)

    def add(self, rows: Iterable[dict]) -> None:
        if self._lock_fd is None:
            raise RuntimeError("use `with KeyedTable(path, columns) as table:` to write")
        new = {}
        for row in rows:
            missing = set(self.columns) - set(row)
            if missing:
                raise ValueError(f"row lacks columns {sorted(missing)}")
            key = row["key"]
            if key in self._rows or key in new:
                raise ExploreError(f"row {key} is already in {self.path}")
            new[key] = [format_value(row[c]) for c in self.columns]
        if new:
            self._rows.update(new)
            self._write_columns()

    def _write_columns(self) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with open(tmp, "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(self.columns)
            for key in sorted(self._rows):
                w.writerow(self._rows[key])
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        dfd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def read_keyed_rows(path: str | os.PathLike, columns: Sequence[str]) -> dict[str, list[str]]:
    """key -> row of an existing keyed table; {} if none; ExploreError for another schema."""
    return read_keyed_csv(path, columns, ExploreError, "a table of this kind and version")


def read_keyed_table(path: str | os.PathLike, columns: Sequence[str] = COLUMNS):
    """A keyed table as a DataFrame, floats exactly as written (empty one if no file)."""
    import pandas as pd

    path = Path(path)
    if not path.exists():
        return pd.DataFrame(columns=list(columns))
    read_keyed_rows(path, columns)
    text = [c for c in columns if c in (
        "key", "name", "model", "board", "dataset", "seeds", "code_sha256", "weights_sha256",
        "twin_sha256", "checkpoint_sha256", "build_sha256", "worker", "git_commit", "timestamp")]
    df = pd.read_csv(path, float_precision="round_trip", dtype=dict.fromkeys(text, str),
                     keep_default_na=False,
                     na_values={c: [""] for c in columns if c not in text})
    for c in ("fits", "below_theory_min"):
        if c in df:
            df[c] = df[c].map(lambda v: str(v) == "True")
    return df


def comparable(df, volatile: Sequence[str] = VOLATILE_COLUMNS):
    """The table without its volatile columns, rows sorted by key: equal for equal results."""
    return (df.drop(columns=[c for c in volatile if c in df.columns])
            .sort_values("key").reset_index(drop=True))


# --- keys and hashes ---------------------------------------------------------------------------


def _sha(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


def _recipe_dict(cfg: TrainConfig) -> dict:
    return {k: v for k, v in asdict(cfg).items() if k != "threads"}


def recipe_key(spec: ModelSpec, cfg: TrainConfig) -> str:
    """12 hex digits over the model spec and the training config (threads excluded)."""
    return _sha({"spec": spec.to_dict(), "train": _recipe_dict(cfg)})[:12]


def point_key(point: DesignPoint, cfg: TrainConfig, ev: EvalConfig, code: str) -> str:
    """16 hex digits over everything that fixes a row (`code`: `code_sha256()`)."""
    return _sha({"point": asdict(point), "train": _recipe_dict(cfg), "code": code,
                 "eps": repr(float(ev.eps)),
                 "seeds": list(ev.seeds), "n_images": ev.n_images,
                 "theory_target": None if ev.theory_target is None
                 else repr(float(ev.theory_target))})[:16]


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


#: Sources whose changes change a build or its estimates (with the tool versions below).
BUILD_SOURCES = ("pipeline.py", "export.py", "compile/flow.py", "compile/ops.py",
                 "compile/transforms.py", "hw/rtl_cost.py")
#: Sources whose changes change what the software accelerator computes from a build.
SIM_SOURCES = ("backends/sim.py", "backends/base.py", "hw/lfsr.py", "hw/injector.py")
CODE_PACKAGES = ("finn-plus", "qonnx", "brevitas", "onnx", "numpy")


def code_sha256(sources: Sequence[str] = BUILD_SOURCES + SIM_SOURCES) -> str:
    """12 hex digits over noisybnn sources (paths under the package) and the tool versions.

    `pipeline.compile_model` reuses a build whose checkpoint and config are unchanged, whatever
    the code that made it. The exploration rebuilds a cached build when `code_sha256(
    BUILD_SOURCES)` changed (e.g. a new cost model in `hw/rtl_cost.py`), and keys its rows by
    `code_sha256()`, so a change of the build, estimate or simulation code re-measures.
    """
    from importlib.metadata import PackageNotFoundError, version

    h = hashlib.sha256()
    pkg = Path(__file__).resolve().parents[1]
    for rel in sources:
        path = pkg / rel
        h.update(rel.encode() + b"\0" + (path.read_bytes() if path.is_file() else b"-") + b"\0")
    for name in CODE_PACKAGES:
        try:
            h.update(f"{name}={version(name)}\0".encode())
        except PackageNotFoundError:
            h.update(f"{name}=-\0".encode())
    return h.hexdigest()[:12]


def weights_sha256(checkpoint: str | os.PathLike) -> str:
    """SHA-256 over the checkpoint's state dict (names, dtypes, shapes, bytes), sorted by name.

    The checkpoint file itself records wall times, so its hash differs between two identical
    trainings; this one does not.
    """
    import torch

    state = torch.load(checkpoint, map_location="cpu", weights_only=False)["state_dict"]
    h = hashlib.sha256()
    for name in sorted(state):
        t = state[name].detach().contiguous().cpu()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
    return h.hexdigest()


def canonical_onnx_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of an ONNX graph with its tensors renamed t0, t1, ... in order of use.

    qonnx names new tensors with random strings, so two builds of the same checkpoint give
    different `dataflow_python.onnx` bytes; this hash is equal for equal graphs.
    """
    import onnx

    model = onnx.load(str(path))
    g = model.graph
    names: dict[str, str] = {}

    def canon(name: str) -> str:
        if not name:
            return name
        if name not in names:
            names[name] = f"t{len(names)}"
        return names[name]

    for vi in g.input:
        canon(vi.name)
    for node in g.node:
        for n in list(node.input) + list(node.output):
            canon(n)
    for vi in g.output:
        canon(vi.name)
    for node in g.node:
        node.input[:] = [canon(n) for n in node.input]
        node.output[:] = [canon(n) for n in node.output]
        node.doc_string = ""
    for coll in (g.input, g.output):
        for vi in coll:
            vi.name = canon(vi.name)
    inits = sorted((t for t in g.initializer if t.name in names), key=lambda t: names[t.name])
    for t in inits:
        t.name = names[t.name]
    del g.initializer[:]
    g.initializer.extend(inits)
    infos = sorted((v for v in g.value_info if v.name in names), key=lambda v: names[v.name])
    for v in infos:
        v.name = names[v.name]
    del g.value_info[:]
    g.value_info.extend(infos)
    annos = sorted((a for a in g.quantization_annotation if a.tensor_name in names),
                   key=lambda a: names[a.tensor_name])
    for a in annos:
        a.tensor_name = names[a.tensor_name]
    del g.quantization_annotation[:]
    g.quantization_annotation.extend(annos)
    g.name = ""
    g.doc_string = ""
    model.doc_string = ""
    return hashlib.sha256(model.SerializeToString(deterministic=True)).hexdigest()


# --- train, build, measure (cached, safe to run from several processes) ------------------------


@contextlib.contextmanager
def _locked(path: Path):
    """An exclusive flock on `.<name>.lock` beside `path`, waiting for it: one process trains or
    builds a directory at a time (two Dask tasks may need the same checkpoint)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.parent / f".{path.name}.lock", os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


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
    recipe = {"spec": spec.to_dict(), "train": _recipe_dict(cfg), "key": key}
    with _locked(run):
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
            == _recipe_dict(cfg) and len(m.get("history", [])) == cfg.epochs)
    return m if done else None


def build_cached(checkpoint: str | os.PathLike, point: DesignPoint, key: str,
                 build_dir: str | os.PathLike = DEFAULT_BUILD_DIR) -> Path:
    """FINN estimates of a point in `build_dir/<board>/<point name>@<recipe key>/` (cached by
    `pipeline.compile_model`: a no-op when the build is up to date). FINN's console output goes
    to `explore_compile.log` in the build directory."""
    from noisybnn.pipeline import compile_model

    bdir = Path(build_dir) / point.board / f"{point.name}@{key}"
    stamp = bdir / "explore_build_code.txt"
    build_code = code_sha256(BUILD_SOURCES)
    onnx_log = logging.getLogger("torch.onnx")  # "torchvision is not installed" warnings
    level = onnx_log.level
    with _locked(bdir):
        stale = stamp.is_file() and stamp.read_text().strip() != build_code
        buf = io.StringIO()
        try:
            onnx_log.setLevel(logging.ERROR)
            with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
                compile_model(str(checkpoint), point.board, point.target_fps, out_dir=bdir,
                              force=stale or not stamp.is_file())
        finally:
            onnx_log.setLevel(level)
            if buf.getvalue():
                bdir.mkdir(parents=True, exist_ok=True)
                (bdir / "explore_compile.log").write_text(buf.getvalue())
        stamp.write_text(build_code + "\n")
    return bdir


def measure_accuracy(build_dir: str | os.PathLike, dataset: str, n_images: int,
                     eps_values: Sequence[float], seeds: Sequence[int],
                     loader: Callable | None = None) -> tuple[float, dict[float, list[float]]]:
    """(clean accuracy, {eps: [accuracy per seed]}) on the first n test images, every injector on.

    For each seed the eps values are the inner loop, so the software accelerator draws that
    seed's noise stream once.
    """
    from noisybnn.backends import NoiseSetting, predict
    from noisybnn.experiments.sweep import get_data, limit_blas_threads

    if loader is None:
        from noisybnn.backends import load as loader
    acc = loader("sim", Path(build_dir))
    x, y = get_data(dataset, "test", n_images)
    with limit_blas_threads(1):
        acc.configure_noise(NoiseSetting(mode="off"))
        clean = float(np.mean(predict(np.asarray(acc.execute(x))) == y))
        noisy: dict[float, list[float]] = {float(e): [] for e in eps_values}
        for seed in seeds:
            for e in noisy:
                acc.configure_noise(NoiseSetting(mode="flip", p=e, seed=int(seed)))
                noisy[e].append(float(np.mean(predict(np.asarray(acc.execute(x))) == y)))
    return clean, noisy


def label_entropy(labels: np.ndarray, n_classes: int) -> float:
    """H(Y) in bits of the labels an accuracy is measured on (the theory's label entropy).

    The theory's default, log2 C, assumes equiprobable classes; MNIST's test split is not quite
    (H = 3.3194 bits, largest class 11.35 %), and near chance a ceiling computed with log2 C can
    fall below what a constant guess of the largest class achieves.
    """
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=n_classes)
    p = counts[counts > 0] / counts.sum()
    return float(min(-(p * np.log2(p)).sum(), math.log2(n_classes)))


def _theory(point: DesignPoint, eps: float, target: float, n_classes: int,
            h_y: float) -> tuple[float, float]:
    """(least noisy binary units for `target` at this depth and eps, ceiling of these widths).

    A neuron of a bits is a bits binary units, each flipped independently (one LFSR lane per
    bit), so the binary-neuron theory applies to width * act_bits units per layer.
    """
    from noisybnn import theory

    target = min(max(float(target), 0.0), 1.0)
    need = float(theory.min_total_neurons(point.depth, eps, target, n_classes, label_entropy=h_y))
    ceiling = float(theory.accuracy_ceiling([point.width * point.act_bits] * point.depth, eps,
                                            n_classes, label_entropy=h_y))
    return need, ceiling


def check_code(code: str) -> None:
    """Raise if this process's build/sim code differs from the one the run was planned with."""
    here = code_sha256()
    if here != code:
        raise ExploreError(
            f"the build and simulation code on {socket.gethostname()} (fingerprint {here}) differs "
            f"from the one this run was planned with ({code}): it changed during the run, or "
                        "the workers run another checkout; restart the run (done points are kept)")


def run_design_point(point: DesignPoint, cfg: TrainConfig, ev: EvalConfig, code: str,
                     runs_dir: str | os.PathLike = DEFAULT_RUNS_DIR,
                     build_dir: str | os.PathLike = DEFAULT_BUILD_DIR,
                     loader: Callable | None = None) -> dict:
    """Train (or reuse), estimate and measure one point; return its table row (a Dask task).

    `code` is the client's `code_sha256()`; a worker whose code differs refuses.
    """
    from noisybnn.compile_paths import ESTIMATES, MANIFEST, PYTHON_MODEL
    from noisybnn.experiments.sweep import git_commit, tune_malloc

    tune_malloc()  # Dask workers: give the sim its usual malloc behaviour back
    check_code(code)
    t0 = time.perf_counter()
    spec = point.spec()
    trained = train_cached(spec, cfg, runs_dir)
    bdir = build_cached(trained.checkpoint, point, trained.key, build_dir)
    check_code(code)  # the build code did not change while this point was built
    t2 = time.perf_counter()
    est = json.loads((bdir / ESTIMATES).read_text())
    man = json.loads((bdir / MANIFEST).read_text())
    if ev.n_images is None:
        raise ExploreError("EvalConfig.n_images must be set (validate_explore does it)")
    clean, noisy = measure_accuracy(bdir, cfg.dataset, ev.n_images, [ev.eps], ev.seeds, loader)
    t3 = time.perf_counter()
    accs = noisy[float(ev.eps)]
    mean = float(np.mean(accs))
    std = float(np.std(accs, ddof=1)) if len(accs) > 1 else 0.0
    target = mean if ev.theory_target is None else float(ev.theory_target)
    from noisybnn.experiments.sweep import get_data

    h_y = label_entropy(get_data(cfg.dataset, "test", ev.n_images)[1], spec.num_classes)
    need, ceiling = _theory(point, ev.eps, target, spec.num_classes, h_y)
    total = est["total"]
    avail = est.get("available", {})
    hist = trained.metrics.get("history") or [{}]
    acc_torch = trained.metrics.get("final_test_acc", hist[-1].get("test_acc"))
    return {
        "key": point_key(point, cfg, ev, code), "name": point.name, "model": point.model_name,
        "width": point.width, "depth": point.depth, "weight_bits": point.weight_bits,
        "act_bits": point.act_bits, "eps_train": point.eps_train,
        "target_fps": point.target_fps, "board": point.board, "dataset": cfg.dataset,
        "epochs": cfg.epochs, "train_limit": cfg.train_limit, "train_seed": cfg.seed,
        "lut": float(total.get("LUT", 0)), "ff": total.get("FF"),
        "bram_18k": float(total.get("BRAM_18K", 0)), "dsp": float(total.get("DSP", 0)),
        "lut_util": float(total.get("LUT", 0)) / avail["LUT"] if avail.get("LUT") else None,
        "fps": float(est["fps"]), "fits": bool(est["fits"]),
        "injector_lut": float(est["injector_LUT"]), "injector_ff": est.get("injector_FF"),
        "injector_lut_share": float(est["injector_LUT_share"]),
        "eps": float(ev.eps), "seeds": ";".join(str(s) for s in ev.seeds),
        "n_images": ev.n_images, "accuracy_clean": clean, "accuracy_under_noise": mean,
        "accuracy_std": std,
        "accuracy_torch": None if acc_torch is None else float(acc_torch) / 100.0,
        "neurons": point.neurons, "noisy_bits": point.neurons * point.act_bits,
        "label_entropy": h_y, "theory_target": target, "theory_min_neurons": need,
        "below_theory_min": bool(point.neurons * point.act_bits < need),
        "theory_ceiling": ceiling,
        "code_sha256": code, "weights_sha256": trained.weights_sha256,
        "twin_sha256": canonical_onnx_sha256(bdir / PYTHON_MODEL),
        "checkpoint_sha256": man["checkpoint_sha256"],
        "build_sha256": man.get("python_model_sha256") or _file_sha256(bdir / PYTHON_MODEL),
        "train_seconds": trained.metrics.get("train_seconds"),
        "build_seconds": man.get("build_seconds"),
        "eval_seconds": round(t3 - t2, 3), "seconds": round(t3 - t0, 3),
        "worker": f"{socket.gethostname()}:{os.getpid()}", "git_commit": git_commit(),
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


# --- running tasks: serial or Dask, the client writes the table ---------------------------------


def run_tasks(tasks: Sequence[tuple[str | tuple[str, ...], Callable, tuple]],
              csv_path: str | os.PathLike, columns: Sequence[str], workers: int = 0,
              scheduler: str | None = None, progress: bool = True, desc: str = "explore",
              describe: Callable[[list[dict]], str] | None = None,
              connect_timeout_s: float = 30.0) -> None:
    """Run the `(keys, fn, args)` tasks with a key not yet in the table at `csv_path`; add each
    result (a row or a list of rows; rows already there are left alone) to the table as it
    arrives. Serial, or one Dask task each on a LocalCluster of `workers` processes or on
    `scheduler` (reached before the table is opened: an unreachable one leaves nothing behind).
    """
    from tqdm.auto import tqdm

    def keys_of(task) -> tuple[str, ...]:
        return (task[0],) if isinstance(task[0], str) else tuple(task[0])

    done_keys = set(read_keyed_rows(csv_path, columns))
    if all(set(keys_of(t)) <= done_keys for t in tasks):
        return
    client = cluster = None
    if workers or scheduler:
        from noisybnn.experiments.sweep import _connect

        try:
            client, cluster = _connect(workers, scheduler, connect_timeout_s)
        except SweepError as exc:
            raise ExploreError(str(exc)) from None
    try:
        with KeyedTable(csv_path, columns) as table:
            todo = [t for t in tasks if not set(keys_of(t)) <= table.keys]
            bar = tqdm(total=len(tasks), initial=len(tasks) - len(todo), disable=not progress,
                       unit="task", desc=desc, dynamic_ncols=True)

            def done(result) -> None:
                rows = result if isinstance(result, list) else [result]
                have = table.keys
                table.add([r for r in rows if r["key"] not in have])
                bar.update(1)
                if progress and describe is not None:
                    bar.write(describe(rows))

            try:
                if client is None:
                    for _, fn, args in todo:
                        done(fn(*args))
                else:
                    from dask.distributed import as_completed

                    futures = [client.submit(t[1], *t[2], key=f"noisybnn-{keys_of(t)[0]}",
                                             pure=False) for t in todo]
                    try:
                        for fut in as_completed(futures):
                            done(fut.result())
                    except BaseException:
                        client.cancel(futures)
                        raise
            finally:
                bar.close()
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()


def _describe_point(rows: list[dict]) -> str:
    r = rows[0]
    return (f"{r['name']}: LUT {r['lut']:,.0f}, {r['fps']:,.0f} FPS, fits {r['board']}: "
            f"{'yes' if r['fits'] else 'NO'}; accuracy {100 * r['accuracy_clean']:.2f} % clean, "
            f"{100 * r['accuracy_under_noise']:.2f} % at eps={r['eps']:g} ({r['seconds']:.0f} s)")


def _cost(point: DesignPoint) -> int:
    """Rough training cost, for submitting the longest Dask tasks first."""
    return point.width * (784 + point.width * (point.depth - 1)) * point.weight_bits


# --- validation and the runner ------------------------------------------------------------------


def _check_workers(workers, scheduler) -> None:
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 0:
        raise ExploreError(f"workers must be an integer >= 0, got {workers!r}")
    if scheduler is not None and not str(scheduler).strip():
        raise ExploreError("scheduler must be an address like tcp://10.0.0.5:8786, got ''")


def _check_seeds(seeds) -> tuple[int, ...]:
    from noisybnn.hw.injector import check_seed

    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ExploreError(f"the number of seeds must be >= 1, got {seeds}")
        seeds = range(1, int(seeds) + 1)
    try:
        out = tuple(dict.fromkeys(check_seed(s) for s in seeds))
    except (TypeError, ValueError) as exc:
        raise ExploreError(f"seeds: {exc}") from None
    if not out:
        raise ExploreError("no seeds given")
    return out


def check_toolchain() -> None:
    """The modules FINN estimates need; a clear error before any training starts."""
    import importlib

    for mod, why in (("noisybnn.compile.flow", "the FINN build flow"),
                     ("noisybnn.hw.rtl_cost", "the injector cost model used by the estimates")):
        try:
            importlib.import_module(mod)
        except ImportError as exc:
            raise ExploreError(f"cannot import {mod} ({why}): {exc}; the exploration needs FINN "
                               "estimates (pip install -e '.[finn]')") from None


def validate_explore(space, eps: float = 0.05, seeds=(1, 2), n_images: int | None = None,
                     theory_target: float | None = None, board: str = "pynq-z2",
                     workers: int = 0, scheduler: str | None = None) -> tuple[DesignSpace,
                                                                              EvalConfig]:
    """Check everything before any work: space, eps, seeds, images, boards, data set, tools.

    Returns the space and the evaluation config (n_images resolved to a number).
    """
    eps = _prob(eps, "eps")
    if theory_target is not None:
        theory_target = _prob(theory_target, "theory_target")
    seeds = _check_seeds(seeds)
    _check_workers(workers, scheduler)
    from noisybnn.compile.flow import load_target

    try:
        load_target(board)
    except ValueError as exc:
        raise ExploreError(str(exc)) from None
    space = load_space(space, board)
    for b in sorted({p.board for p in space.points}):
        try:
            load_target(b)
        except ValueError as exc:
            raise ExploreError(f"design space {space.name!r}: {exc}") from None
    if n_images is not None and (isinstance(n_images, bool) or not isinstance(n_images, int)
                                 or n_images < 0):
        raise ExploreError(f"n_images must be an integer >= 1 (or 0/None: all), got {n_images!r}")
    from noisybnn import data

    try:
        x, _ = data.load(space.train.dataset, "test")
    except (RuntimeError, ValueError, OSError) as exc:
        raise ExploreError(f"data set {space.train.dataset}: {exc}") from None
    n = n_images or len(x)
    if n > len(x):
        raise ExploreError(f"n_images={n}, but the {space.train.dataset} test split has {len(x)}")
    check_toolchain()
    return space, EvalConfig(eps=eps, seeds=seeds, n_images=n, theory_target=theory_target)


def run_explore(
    space: str | os.PathLike | dict | DesignSpace,
    out_csv: str | os.PathLike,
    eps: float = 0.05,
    seeds: int | Sequence[int] = (1, 2),
    n_images: int | None = None,
    *,
    board: str = "pynq-z2",
    theory_target: float | None = None,
    workers: int = 0,
    scheduler: str | None = None,
    runs_dir: str | os.PathLike = DEFAULT_RUNS_DIR,
    build_dir: str | os.PathLike = DEFAULT_BUILD_DIR,
    plot: bool = True,
    progress: bool = True,
    loader: Callable | None = None,
):
    """Explore a design space; return its rows (done now or before) as a DataFrame.

    Args:
        space: built-in name ("default", "small"), JSON file, dict or DesignSpace.
        out_csv: results table; created, or extended with the points not yet in it.
        eps: flip probability at which accuracy under noise is measured.
        seeds: noise seeds (or their number N: seeds 1..N).
        n_images: first n test images (None or 0: all).
        board: board of points that do not name one.
        theory_target: accuracy for the theory's least neuron count; None: the point's own.
        workers: 0 runs here; N > 0 on a Dask LocalCluster of N processes (one task per point).
        scheduler: address of a running Dask scheduler (overrides `workers`); its workers must
            see the same runs/build directories and data cache.
        runs_dir, build_dir: caches of checkpoints and FINN builds.
        plot: draw the Pareto plot `<out_csv stem>.png` next to the table.
        progress: progress bar and one line per finished point.
        loader: `loader(backend, build_dir)` for the sim (tests); default backends.load.

    Raises:
        ExploreError: bad space, eps, seeds, board, table; raised before anything is written.
    """
    space, ev = validate_explore(space, eps, seeds, n_images, theory_target, board, workers,
                                 scheduler)
    out_csv = Path(out_csv)
    read_keyed_rows(out_csv, COLUMNS)  # another schema fails here, before any work
    cfg = space.train
    points = sorted(space.points, key=_cost, reverse=bool(workers or scheduler))
    code = code_sha256()
    tasks = [(point_key(p, cfg, ev, code), run_design_point,
              (p, cfg, ev, code, str(runs_dir), str(build_dir), loader)) for p in points]
    run_tasks(tasks, out_csv, COLUMNS, workers, scheduler, progress,
              desc=f"explore -> {out_csv.name}", describe=_describe_point)
    df = read_keyed_table(out_csv)
    keys = [t[0] for t in tasks]
    df = df[df["key"].isin(keys)].reset_index(drop=True)
    if plot and len(df):
        plot_explore(df, out_csv.with_suffix(".png"))
    return df


# --- Pareto fronts, summary, plot ---------------------------------------------------------------


def pareto_front(df, cost: str = "lut", value: str = "accuracy_under_noise",
                 maximize_cost: bool = False) -> np.ndarray:
    """Mask of the rows no other row beats (cost <= and value >=, one strictly)."""
    from noisybnn.report.compute import pareto_mask

    c = df[cost].to_numpy(float)
    return pareto_mask(-c if maximize_cost else c, df[value].to_numpy(float))


def format_summary(df) -> str:
    """A readable table: one line per point, by LUT; * on the LUT front, + on the FPS front."""
    if not len(df):
        return "(no points)"
    d = df.copy()
    d["front"] = [("*" if a else "") + ("+" if b else "") for a, b in
                  zip(pareto_front(d), pareto_front(d, "fps", maximize_cost=True), strict=True)]
    d = d.sort_values(["lut", "name"])
    width = max(24, max(len(n) for n in d["name"]))
    eps = sorted(set(d["eps"]))
    lines = [f"{'design':{width}s} {'LUT':>7s} {'BRAM18':>6s} {'FPS':>10s} {'fits':>4s} "
             f"{'clean %':>7s} {'noisy %':>7s} {'std':>5s} {'min N':>6s} front",
             "-" * (width + 66)]
    for _, r in d.iterrows():
        lines.append(
            f"{r['name']:{width}s} {r['lut']:7,.0f} {r['bram_18k']:6.1f} {r['fps']:10,.0f} "
            f"{'yes' if r['fits'] else 'NO':>4s} {100 * r['accuracy_clean']:7.2f} "
            f"{100 * r['accuracy_under_noise']:7.2f} {100 * r['accuracy_std']:5.2f} "
            f"{r['theory_min_neurons']:6.0f} {r['front']}")
    n_fit = int(d["fits"].sum())
    below = int(d["below_theory_min"].sum())
    lines.append(f"{len(d)} points at eps={', '.join(f'{e:g}' for e in eps)}; {n_fit} fit "
                 f"{', '.join(sorted(set(d['board'])))}; * Pareto front accuracy vs LUT, + vs FPS; "
                 f"min N: theory's least noisy units for the point's accuracy; "
                 f"{below} point(s) below it" + (" (a bug: investigate)" if below else ""))
    return "\n".join(lines)


def _short(name: str) -> str:
    """mlp-128x2-w1a1-eps0.05-10kfps -> 128x2 e.05 10k (plot labels)."""
    out = name.removeprefix("mlp-").removesuffix("fps").replace("-w1a1", "")
    return out.replace("-eps0.", " e.").replace("-", " ")


def plot_explore(df, out_png: str | os.PathLike, title: str | None = None) -> Path:
    """Three panels: accuracy under noise vs LUT, vs FPS (Pareto fronts, fits marked), and vs
    noisy units beside the theory (accuracy ceiling per depth, each point's least units)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from noisybnn import theory

    out_png = Path(out_png)
    d = df.reset_index(drop=True)
    acc = 100 * d["accuracy_under_noise"].to_numpy(float)
    depths = sorted(int(x) for x in d["depth"].unique())
    cmap = plt.get_cmap("viridis")
    color = {dep: cmap(i / max(1, len(depths) - 1) * 0.85) for i, dep in enumerate(depths)}
    fig, axes = plt.subplots(1, 3, figsize=(17, 5.6))

    def scatter(ax, x):
        for i, r in d.iterrows():
            c = color[int(r["depth"])]
            marker = "o" if int(r["act_bits"]) == 1 else "s"
            ax.scatter(x[i], acc[i], s=18 + 2.2 * math.sqrt(r["width"]) * 6, marker=marker,
                       facecolors=c if r["fits"] else "none", edgecolors=c, linewidths=1.4,
                       alpha=0.9 if r["eps_train"] else 0.55, zorder=3)

    for ax, col, label, maximize in ((axes[0], "lut", "LUT (FINN estimate)", False),
                                     (axes[1], "fps", "throughput (FINN estimate, FPS)", True)):
        x = d[col].to_numpy(float)
        scatter(ax, x)
        front = pareto_front(d, col, maximize_cost=maximize)
        order = np.argsort(x[front])
        fx, fy = x[front][order], acc[front][order]
        ax.step(fx, fy, where="post" if not maximize else "pre", color="crimson", lw=1.5,
                zorder=2, label="Pareto front")
        ax.scatter(fx, fy, s=150, facecolors="none", edgecolors="crimson", lw=1.2, zorder=4)
        names = d["name"].to_numpy()[front][order]
        for k, (xi, yi, name) in enumerate(zip(fx, fy, names, strict=True)):
            ax.annotate(_short(name), (xi, yi), fontsize=6.5, color="crimson",
                        xytext=(5, -10 if k % 2 == 0 else 6), textcoords="offset points")
        ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel(f"accuracy under noise (%), eps={d['eps'].iloc[0]:g}")
        ax.grid(alpha=0.3, which="both")
    lut_cap = (d["lut"] / d["lut_util"]).dropna()
    if len(lut_cap):
        axes[0].axvline(lut_cap.iloc[0], color="grey", ls="--", lw=1)
        axes[0].text(lut_cap.iloc[0], axes[0].get_ylim()[1], f"{d['board'].iloc[0]} LUTs ",
                     rotation=90, va="top", ha="right", fontsize=7, color="grey")
    axes[0].set_title("accuracy under noise vs LUT")
    axes[1].set_title("accuracy under noise vs throughput")

    # theory panel
    ax = axes[2]
    bits = d["noisy_bits"].to_numpy(float)
    need = d["theory_min_neurons"].to_numpy(float)
    scatter(ax, bits)
    for i in range(len(d)):
        if np.isfinite(need[i]):
            ax.plot([need[i], bits[i]], [acc[i], acc[i]], color="grey", lw=0.5, alpha=0.5)
            ax.plot(need[i], acc[i], marker="|", color="black", ms=7)
    eps = float(d["eps"].iloc[0])
    n_cls = 10
    h_y = float(d["label_entropy"].iloc[0]) if "label_entropy" in d and \
        d["label_entropy"].notna().all() else None
    for dep in depths:
        widths = np.unique(np.round(np.logspace(0, np.log10(max(bits.max(), 64)), 200)))
        ceil = 100 * theory.uniform_accuracy_ceiling(widths, dep, eps, n_cls,
                                                     label_entropy=h_y)
        ax.plot(widths * dep, ceil, color=color[dep], lw=1.2, ls="--",
                label=f"theory ceiling, depth {dep}")
    bad = d["below_theory_min"].to_numpy(bool)
    if bad.any():
        ax.scatter(bits[bad], acc[bad], marker="x", s=120, color="red", zorder=5,
                   label="below theory minimum (bug!)")
    ax.set_xscale("log")
    ax.set_xlabel("noisy binary units (hidden neurons x activation bits)")
    ax.set_ylabel("accuracy under noise (%)")
    ax.set_title("vs the theory: | = least units for that accuracy")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="lower right")

    from matplotlib.lines import Line2D

    handles = [Line2D([], [], marker="o", ls="", color=color[dep], label=f"depth {dep}")
               for dep in depths]
    grey = dict(ls="", mec="grey")
    handles += [Line2D([], [], marker="o", mfc="grey", label="fits the board", **grey),
                Line2D([], [], marker="o", mfc="none", label="does not fit", **grey),
                Line2D([], [], marker="s", mfc="none", label="2-bit activations", **grey),
                Line2D([], [], color="crimson", label="Pareto front")]
    axes[0].legend(handles=handles, fontsize=7, loc="lower right",
                   title="size ~ width; faint: eps_train = 0", title_fontsize=7)
    fig.suptitle(title or f"design space: {len(d)} points, accuracy on the software accelerator "
                 f"(eps={eps:g}, mean of {len(str(d['seeds'].iloc[0]).split(';'))} seeds)")
    fig.tight_layout()
    out_png.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_png.with_name(f".{out_png.stem}.{os.getpid()}.tmp.png")
    fig.savefig(tmp, dpi=130)
    plt.close(fig)
    os.replace(tmp, out_png)
    return out_png


# --- the command line ---------------------------------------------------------------------------


def cli_explore(args) -> int:
    """`noisybnn explore`: run (or resume) the exploration, print the table, name the files."""
    t0 = time.perf_counter()
    out = Path(args.out)
    df = run_explore(
        args.space, out, eps=args.eps, seeds=args.seeds, n_images=args.n_images or None,
        board=args.board, theory_target=getattr(args, "theory_target", None),
        workers=args.workers, scheduler=args.scheduler,
        runs_dir=getattr(args, "runs_dir", None) or DEFAULT_RUNS_DIR,
        build_dir=getattr(args, "build_dir", None) or DEFAULT_BUILD_DIR,
        progress=not args.quiet,
    )
    print(format_summary(df))
    print(f"table: {out}  plot: {out.with_suffix('.png')}  "
          f"({len(df)} points, {time.perf_counter() - t0:.1f} s)")
    return 0
