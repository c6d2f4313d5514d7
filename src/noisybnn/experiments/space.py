"""The design space of the exploration: design points, spaces, the built-in ones, their JSON form.

A *design space* is a set of design points (hidden width, depth, weight/activation bits,
noise-aware training eps, folding target FPS, board; for CNNs also the conv channels) and one
training recipe. Nothing here
trains, builds or measures; `explore` does, with the caches of `cache`.

    >>> space = load_space("default")                  # 33 points, or "small", or a JSON file
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np

from noisybnn.experiments.errors import ExploreError
from noisybnn.models.spec import PRECISIONS, ModelSpec, mlp
from noisybnn.train import TrainConfig

__all__ = ["BUILTIN_SPACES", "DEFAULT_RECIPE", "DesignPoint", "DesignSpace", "check_board",
           "check_int", "check_n_images",
           "check_prob", "check_seeds", "check_workers", "load_space", "space_from_dict",
           "train_config"]

#: The training recipe of the built-in spaces (and of the depth-width experiment, which reuses
#: their checkpoints): 2 epochs of Adam on all of MNIST, seed 0, one torch thread.
DEFAULT_RECIPE = TrainConfig(dataset="mnist", epochs=2, seed=0, threads=1)


def _fps_label(fps: int) -> str:
    """100000 -> "100k", 1000000 -> "1M", 2500 -> "2.5k"."""
    for unit, div in (("M", 1_000_000), ("k", 1000)):
        if fps >= div:
            return f"{fps / div:g}{unit}"
    return str(fps)


#: Input map side of the CNN points (28 x 28 MNIST images).
IMAGE_SIDE = 28


def cnn_conv_maps(channels: tuple[int, ...]) -> list[tuple[int, int]]:
    """(channels, output map side) of each conv of a CNN point: 3x3 valid convs with a 2x2
    max-pool after every second one (the model family of `models.nets`), the injector before
    the pool; the side is the map the injector sees."""
    side, out = IMAGE_SIDE, []
    for i, c in enumerate(channels):
        side -= 2
        if side < 1:
            raise ValueError(f"conv channels {list(channels)}: conv {i + 1} has no 3x3 window "
                             f"left on the {side + 2}x{side + 2} map")
        out.append((int(c), side))
        if i % 2 == 1:
            side //= 2
    return out


@dataclass(frozen=True)
class DesignPoint:
    """One design: a 784-[width]*depth-10 MLP (arch "mlp"), or a CNN (arch "cnn") with 3x3 convs
    of `channels` (a 2x2 max-pool after every second conv) and an fc head of `depth` layers of
    `width`; its training noise, its folding and board."""

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
    #: "mlp" or "cnn".
    arch: str = "mlp"
    #: Conv channels per conv layer (arch "cnn" only).
    channels: tuple[int, ...] = ()

    @property
    def model_name(self) -> str:
        """Name of the trained model; points that differ only in folding or board share it."""
        bits = f"w{self.weight_bits}a{self.act_bits}"
        if self.arch == "cnn":
            fc = "x".join([str(self.width)] * self.depth)
            base = f"cnn-{'x'.join(map(str, self.channels))}-fc{fc}-{bits}"
        else:
            base = f"mlp-{self.width}x{self.depth}-{bits}"
        return base + (f"-eps{self.eps_train:g}" if self.eps_train else "")

    @property
    def noisy_widths(self) -> list[int]:
        """Noisy units per image of each injector, the theory's widths: C x H x W for a conv
        (every pixel's channel is one noisy binary value), the width for an fc layer."""
        convs = [c * side * side for c, side in cnn_conv_maps(self.channels)] if (
            self.arch == "cnn") else []
        return convs + [self.width] * self.depth

    @property
    def noisy_depth(self) -> int:
        """Noisy layers (injectors): convs plus fc layers."""
        return len(self.noisy_widths)

    def key_dict(self) -> dict:
        """The point as its row key sees it: an MLP point without the CNN fields (so MLP keys
        stay what they were before CNN points existed)."""
        d = asdict(self)
        if self.arch == "mlp":
            d.pop("arch")
            d.pop("channels")
        else:
            d["channels"] = list(self.channels)
        return d

    @property
    def name(self) -> str:
        return f"{self.model_name}-{_fps_label(self.target_fps)}fps"

    @property
    def neurons(self) -> int:
        """Hidden (noisy) neurons in total: units C x H x W of each conv, plus the fc widths."""
        return int(sum(self.noisy_widths))

    def spec(self) -> ModelSpec:
        if self.arch == "cnn":
            return ModelSpec(arch="cnn", hidden=self.channels, fc_hidden=(self.width,) * self.depth,
                             weight_bits=self.weight_bits, act_bits=self.act_bits,
                             eps_train=self.eps_train, name=self.model_name)
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
              "board", "arch", "channels")
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
    # 2 tiny CNNs (conv 4-4-pool-8-8-pool and 8-8-pool-16-16-pool, fc 16), 1 epoch on 10,000
    # images, at a low folding target: a few minutes on 2 shared cores
    "cnn-small": {
        "grid": {"arch": "cnn", "channels": [[4, 4, 8, 8], [8, 8, 16, 16]], "width": 16,
                 "depth": 1, "precision": ["w1a1"], "target_fps": [2000]},
        "train": {"epochs": 1, "train_limit": 10_000},
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


def check_int(value, what: str, lo: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
        raise ExploreError(f"{what} must be an integer >= {lo}, got {value!r}")
    return int(value)


def check_prob(value, what: str) -> float:
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
    return (check_int(entry.get("weight_bits", 1), f"{where} weight_bits"),
            check_int(entry.get("act_bits", 1), f"{where} act_bits"))


def _check_axes(entry: dict, where: str, what: str) -> None:
    """Only known axes, and width and depth present."""
    unknown = set(entry) - set(_GRID_AXES)
    if unknown:
        raise ExploreError(f"{where}: unknown {what} {sorted(unknown)}; known: "
                           f"{', '.join(_GRID_AXES)}")
    for need in ("width", "depth"):
        if need not in entry:
            raise ExploreError(f"{where}: missing {'axis ' if where == 'grid' else ''}{need!r}")


def _arch(entry: dict, where: str) -> tuple[str, tuple[int, ...]]:
    """("mlp", ()) or ("cnn", channels); channels imply a CNN."""
    arch = str(entry.get("arch", "cnn" if "channels" in entry else "mlp")).strip().lower()
    if arch not in ("mlp", "cnn"):
        raise ExploreError(f"{where}: arch must be 'mlp' or 'cnn', got {entry.get('arch')!r}")
    ch = entry.get("channels")
    if arch == "mlp":
        if ch:
            raise ExploreError(f"{where}: 'channels' is for arch 'cnn'")
        return arch, ()
    if not isinstance(ch, (list, tuple)) or not ch:
        raise ExploreError(f"{where}: a CNN point needs 'channels', a list like [4, 4, 8, 8]")
    channels = tuple(check_int(c, f"{where} channels") for c in ch)
    try:
        cnn_conv_maps(channels)
    except ValueError as exc:
        raise ExploreError(f"{where}: {exc}") from None
    return arch, channels


def _point(entry: dict, board: str, where: str) -> DesignPoint:
    _check_axes(entry, where, "key(s)")
    wb, ab = _bits(entry, where)
    arch, channels = _arch(entry, where)
    point = DesignPoint(
        width=check_int(entry["width"], f"{where} width"),
        depth=check_int(entry["depth"], f"{where} depth"),
        weight_bits=wb, act_bits=ab,
        eps_train=check_prob(entry.get("eps_train", 0.0), f"{where} eps_train"),
        target_fps=check_int(entry.get("target_fps", 100_000), f"{where} target_fps"),
        board=str(entry.get("board", board)),
        arch=arch, channels=channels,
    )
    try:
        point.spec()  # bit widths and sizes the model family accepts
    except ValueError as exc:
        raise ExploreError(f"{where}: {exc}") from None
    return point


def train_config(d: dict | None, where: str) -> TrainConfig:
    d = dict(d or {})
    unknown = set(d) - set(_TRAIN_KEYS)
    if unknown:
        raise ExploreError(f"{where}: unknown training key(s) {sorted(unknown)}; known: "
                           f"{', '.join(_TRAIN_KEYS)}")
    for k in ("epochs", "batch_size"):
        if k in d:
            d[k] = check_int(d[k], f"{where} {k}")
    for k in ("train_limit", "seed"):
        if k in d:
            d[k] = check_int(d[k], f"{where} {k}", lo=0)
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
        _check_axes(grid, "grid", "axis/axes")
        axes = {k: _as_list(v, f"grid {k}") for k, v in grid.items()}
        if "channels" in axes and all(isinstance(c, (int, np.integer)) for c in axes["channels"]):
            axes["channels"] = [axes["channels"]]  # one channel list, not a list of them
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
                       train=train_config(d.get("train"), "train"))


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




def check_workers(workers, scheduler) -> None:
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 0:
        raise ExploreError(f"workers must be an integer >= 0, got {workers!r}")
    if scheduler is not None and not str(scheduler).strip():
        raise ExploreError("scheduler must be an address like tcp://10.0.0.5:8786, got ''")


def check_seeds(seeds) -> tuple[int, ...]:
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


def check_board(board: str, where: str = "") -> None:
    """An ExploreError unless `board` has a target description."""
    from noisybnn.compile.targets import load_target

    try:
        load_target(board)
    except ValueError as exc:
        raise ExploreError(f"{where}{exc}") from None


def check_n_images(dataset: str, n_images: int | None) -> int:
    """The number of test images to measure on (None or 0: all); an ExploreError if too many."""
    from noisybnn import data

    if n_images is not None and (isinstance(n_images, bool) or not isinstance(n_images, int)
                                 or n_images < 0):
        raise ExploreError(f"n_images must be an integer >= 1 (or 0/None: all), got {n_images!r}")
    try:
        x, _ = data.load(dataset, "test")
    except (RuntimeError, ValueError, OSError) as exc:
        raise ExploreError(f"data set {dataset}: {exc}") from None
    n = n_images or len(x)
    if n > len(x):
        raise ExploreError(f"n_images={n}, but the {dataset} test split has {len(x)}")
    return n
