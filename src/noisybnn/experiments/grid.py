"""The sweep grid: what a sweep covers (`SweepSpec`), its points, their keys, the parsers.

Nothing here touches a file or an accelerator; `sweep.py` resolves the models and runs the points.

A point is one (model, backend, data, seed, mode, layers, eps or k) combination. Its key is a hash
of everything that fixes its result (the model's and build's SHA-256, never a path), so the same
point computed twice, on any machine, in any order, has the same key and the same result.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from noisybnn.experiments.errors import SweepError
from noisybnn.hw import Mode, check_probability
from noisybnn.hw.injector import check_seed
from noisybnn.validation import check_grid_size

#: Modes a sweep may ask for (`off` gives the clean baseline: one point, no eps, no faults).
MODES = ("off", "flip", "stuck0", "stuck1")
STUCK_MODES = ("stuck0", "stuck1")
#: Salt of the RNG that picks crashed neurons, so it never shares a stream with anything else.
FAULT_RNG_SALT = 0x5EED_FA17


# --- parsers (for the CLI and for humans) ------------------------------------------------------


def _split(text: str, sep: str = ",") -> list[str]:
    return [t.strip() for t in str(text).split(sep) if t.strip()]


def _float(text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise SweepError(f"{what}: {text!r} is not a number") from None


def parse_eps(text: str, limit: int | None = None) -> list[float]:
    """Flip probabilities from "0,0.01,0.05"; an item "start:stop:step" is an inclusive range.

    >>> parse_eps("0,0.01:0.03:0.01")
    [0.0, 0.01, 0.02, 0.03]
    """
    out: list[float] = []
    for item in _split(text):
        if ":" in item:
            parts = item.split(":")
            if len(parts) != 3:
                raise SweepError(f"eps range {item!r} must be start:stop:step, e.g. 0:0.1:0.01")
            lo, hi, step = (_float(x, "eps range") for x in parts)
            if not step > 0 or hi < lo:
                raise SweepError(f"eps range {item!r} needs step > 0 and stop >= start")
            n = int(math.floor((hi - lo) / step + 1e-9)) + 1
            check_grid_size(len(out) + n, f"eps range {item!r}", limit)  # before the list is made
            out.extend(round(lo + i * step, 12) for i in range(n))
        else:
            out.append(_float(item, "eps"))
    if not out:
        raise SweepError("no eps values given; e.g. --eps 0,0.01,0.05")
    return [check_eps(e) for e in out]


def parse_seeds(text: str | int, limit: int | None = None) -> list[int]:
    """Seeds from "1,2,7" or an inclusive range "1-5"; a bare int N means seeds 1..N."""
    if isinstance(text, (int, np.integer)):
        if text < 1:
            raise SweepError(f"seed count must be >= 1, got {text}")
        check_grid_size(int(text), "the seed list", limit)
        return list(range(1, int(text) + 1))
    out: list[int] = []
    for item in _split(text):
        try:
            if "-" in item[1:]:
                lo, hi = item.split("-", 1)
                check_grid_size(len(out) + max(0, int(hi) - int(lo) + 1), f"seeds {item!r}", limit)
                out.extend(range(int(lo), int(hi) + 1))
            else:
                out.append(int(item))
        except ValueError:
            raise SweepError(f"seeds: {item!r} is not an integer or a range like 1-5") from None
    if not out:
        raise SweepError("no seeds given; e.g. --seeds 1,2,3")
    return out


def parse_modes(text: str) -> list[str]:
    """Modes from "flip,stuck0"."""
    modes = [m.lower() for m in _split(text)]
    if not modes:
        raise SweepError(f"no modes given; choose from {', '.join(MODES)}")
    return [check_mode(m) for m in modes]


def parse_layers(text: str) -> list[tuple[int, ...] | None]:
    """Layer sets from "all;0;0,2" (sets separated by ';', indices by ','); "none": no injector."""
    sets = _split(text, ";")
    if not sets:
        raise SweepError("no layer sets given; e.g. --layers 'all;0;1,2'")
    return [layers_from_text(s.replace(",", " ")) for s in sets]


def parse_ints(text: str, what: str = "values") -> list[int]:
    """Integers from "1,4,16" (e.g. crashed neurons per layer)."""
    try:
        return [int(x) for x in _split(text)]
    except ValueError:
        raise SweepError(f"{what}: {text!r} must be comma-separated integers") from None


# --- checks ------------------------------------------------------------------------------------


def check_eps(eps: float) -> float:
    try:
        return check_probability(eps, "eps")
    except ValueError as exc:
        raise SweepError(f"{exc} (eps is a flip probability per neuron bit)") from None


def check_mode(mode: str) -> str:
    if not isinstance(mode, str) or mode.strip().lower() not in MODES:
        raise SweepError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")
    return Mode.parse(mode).name.lower()


def layers_from_text(text: str | Sequence[int] | None) -> tuple[int, ...] | None:
    """None / "all" -> None (every injector); "none" -> (); "0;2", "0 2", [0, 2] -> (0, 2)."""
    if text is None:
        return None
    if isinstance(text, str):
        t = text.strip().lower()
        if t in ("all", ""):
            return None
        if t == "none":
            return ()
        items = t.replace(";", " ").replace(",", " ").split()
    else:
        items = list(text)
    try:
        idx = sorted({int(i) for i in items})
    except (TypeError, ValueError):
        raise SweepError(f"layer set {text!r} must be 'all', 'none' or layer indices") from None
    if any(i < 0 for i in idx):
        raise SweepError(f"layer set {text!r}: layer indices start at 0")
    return tuple(idx)


def layers_to_text(layers: tuple[int, ...] | None) -> str:
    """The table's form of a layer set: "all", "none" or "0;2"."""
    if layers is None:
        return "all"
    return ";".join(str(i) for i in layers) if layers else "none"


# --- the spec ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepSpec:
    """A grid of model x mode x layers x seed x (eps for flip | k for stuck modes).

    Lists may be given as any sequence; they are stored as tuples, duplicates removed, order kept.
    """

    #: Build directories (with manifest.json), or shipped model names (compiled on demand).
    models: tuple[str, ...]
    #: Flip probabilities per neuron bit (flip mode). Innermost loop: one noise stream per seed.
    eps: tuple[float, ...] = (0.0,)
    #: Injector modes: flip, stuck0, stuck1, off (the clean baseline).
    modes: tuple[str, ...] = ("flip",)
    #: Layer sets with an active injector: None/"all", ()/"none", (0, 2)/"0;2"; a flat list of
    #: ints, e.g. [0, 2], is one set (give [(0,), (2,)] for two).
    layers: tuple[tuple[int, ...] | None, ...] = (None,)
    #: Master seeds: noise streams (flip) and crashed-neuron choice (stuck).
    seeds: tuple[int, ...] = (1,)
    #: Data set name (noisybnn.data).
    dataset: str = "mnist"
    #: Data set split.
    split: str = "test"
    #: The first n images of the split; None = all.
    n_images: int | None = None
    #: Stuck modes: crashed neurons per active layer (k), each k a point; chosen by a seeded RNG.
    faults_per_layer: tuple[int, ...] = (1,)
    #: Board a model name is compiled for (sim) or whose bitstream is used (pynq).
    board: str = "pynq-z2"

    def __post_init__(self) -> None:
        def tup(value, conv):
            if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
                value = [value]
            return tuple(dict.fromkeys(conv(v) for v in value))

        models = tup(self.models, str)
        if not models:
            raise SweepError("no models given: pass build directories or model names")
        object.__setattr__(self, "models", models)
        object.__setattr__(self, "eps", tup(self.eps, check_eps))
        object.__setattr__(self, "modes", tup(self.modes, check_mode))
        layers = self.layers
        if layers is None or isinstance(layers, str):
            layers = [layers]
        elif all(isinstance(i, (int, np.integer)) for i in layers) and len(layers):
            layers = [layers]  # one set given as a flat list of indices
        object.__setattr__(self, "layers", tup(layers, layers_from_text))
        object.__setattr__(self, "seeds", tup(self.seeds, _check_seed))
        object.__setattr__(self, "faults_per_layer", tup(self.faults_per_layer, _check_k))
        for name in ("eps", "modes", "layers", "seeds"):
            if not getattr(self, name):
                raise SweepError(f"the sweep has no {name}")
        if any(m in STUCK_MODES for m in self.modes) and not self.faults_per_layer:
            raise SweepError("stuck modes need faults_per_layer (crashed neurons per layer)")
        if self.n_images is not None:
            n = self.n_images
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
                raise SweepError(f"n_images must be a positive integer or None, got {n!r}")
            if self.n_images < 1:
                raise SweepError(f"n_images must be >= 1 (or None for all), got {self.n_images}")
            object.__setattr__(self, "n_images", int(self.n_images))
        from noisybnn import data

        try:
            object.__setattr__(self, "dataset", data.get_spec(self.dataset).name)
            data.get_spec(self.dataset).split_files(self.split)
        except ValueError as exc:
            raise SweepError(str(exc)) from None

    def to_dict(self) -> dict:
        return {
            "models": list(self.models), "eps": list(self.eps), "modes": list(self.modes),
            "layers": [layers_to_text(s) for s in self.layers], "seeds": list(self.seeds),
            "dataset": self.dataset, "split": self.split, "n_images": self.n_images,
            "faults_per_layer": list(self.faults_per_layer), "board": self.board,
        }


def _check_seed(seed) -> int:
    try:
        return check_seed(seed)
    except ValueError as exc:
        raise SweepError(str(exc)) from None


def _check_k(k) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
        raise SweepError(f"faults_per_layer must be integers >= 0, got {k!r}")
    return int(k)


# --- points ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelRef:
    """A model entry of the spec, resolved to a build (see `sweep.resolve_model`)."""

    entry: str
    name: str
    build_dir: str
    model_sha256: str
    build_sha256: str
    injector_widths: tuple[int, ...]


@dataclass(frozen=True)
class Point:
    """One measurement. `eps` is None outside flip mode; `faults` is None outside stuck modes."""

    model: ModelRef
    backend: str
    dataset: str
    split: str
    n_images: int
    seed: int
    mode: str
    layers: tuple[int, ...] | None
    eps: float | None = None
    faults: int | None = None
    key: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", point_key(self))

    @property
    def group(self) -> tuple:
        """Points of one group share a noise stream: same model, seed, mode, layers, faults."""
        return (self.model.entry, self.seed, self.mode, self.layers, self.faults)

    def active_layers(self) -> tuple[int, ...]:
        n = len(self.model.injector_widths)
        return tuple(range(n)) if self.layers is None else self.layers

    def fault_masks(self) -> dict[int, tuple[bool, ...]]:
        if self.faults is None:
            return {}
        return fault_masks(self.model.injector_widths, self.active_layers(), self.faults, self.seed)

    def setting(self):
        from noisybnn.backends.base import NoiseSetting

        return NoiseSetting(mode=self.mode, p=self.eps or 0.0, seed=self.seed,
                            layers=self.layers, fault_masks=self.fault_masks())


def point_key(p: Point) -> str:
    """16 hex digits of SHA-256 over everything that fixes the point's result."""
    params = {
        "model": p.model.name, "model_sha256": p.model.model_sha256,
        "build_sha256": p.model.build_sha256, "backend": p.backend, "dataset": p.dataset,
        "split": p.split, "n_images": p.n_images, "seed": p.seed, "mode": p.mode,
        "layers": layers_to_text(p.layers), "eps": None if p.eps is None else repr(float(p.eps)),
        "faults_per_layer": p.faults,
    }
    from noisybnn.keys import point_key as key_of

    return key_of(params)


def fault_masks(widths: Sequence[int], layers: Iterable[int], k: int,
                seed: int) -> dict[int, tuple[bool, ...]]:
    """k crashed neurons in each of `layers`, chosen by an RNG seeded with (salt, seed, layer).

    The choice is the first k of a seeded permutation, so for one seed the set for k is a subset
    of the set for k + 1 (accuracy vs k is measured on nested fault sets).
    """
    out = {}
    for layer in layers:
        width = widths[layer]
        if k > width:
            raise SweepError(f"{k} crashed neurons asked in layer {layer}, which has {width}")
        rng = np.random.default_rng([FAULT_RNG_SALT, int(seed), int(layer)])
        mask = np.zeros(width, dtype=bool)
        mask[rng.permutation(width)[:k]] = True
        out[layer] = tuple(bool(b) for b in mask)
    return out


def fault_spec_text(masks: dict[int, tuple[bool, ...]]) -> str:
    """The crashed neurons of each layer, e.g. "0:3 17|2:5 9"; empty without faults."""
    parts = []
    for layer in sorted(masks):
        idx = np.flatnonzero(masks[layer])
        parts.append(f"{layer}:" + " ".join(str(i) for i in idx))
    return "|".join(parts)


def expand(spec: SweepSpec, models: Sequence[ModelRef], backend: str,
           n_images: int) -> list[Point]:
    """All points of the spec, in run order: eps innermost per (model, seed, mode, layers, k).

    Modes without eps (off, stuck) contribute one point per group; `off` (deterministic, no
    injector active) is one point per model, at the first seed, whatever the layers and k.
    Duplicate points (same key) appear once.
    """
    check_grid_size(planned_size(spec, len(models)), "the sweep's grid")  # before any point exists
    points: dict[str, Point] = {}
    for ref in models:
        for mode in spec.modes:
            for layers in (spec.layers if mode != "off" else (None,)):
                for seed in (spec.seeds if mode != "off" else spec.seeds[:1]):
                    common = dict(model=ref, backend=backend, dataset=spec.dataset,
                                  split=spec.split, n_images=n_images, seed=seed, mode=mode,
                                  layers=layers)
                    if mode == "flip":
                        new = [Point(**common, eps=e) for e in spec.eps]
                    elif mode in STUCK_MODES:
                        new = [Point(**common, faults=k) for k in spec.faults_per_layer]
                    else:
                        new = [Point(**common)]
                    for p in new:
                        points.setdefault(p.key, p)
    return list(points.values())


def planned_size(spec: SweepSpec, n_models: int | None = None) -> int:
    """Points the spec asks for (before duplicates are merged), computed without making them."""
    per_seed = 0
    for mode in spec.modes:
        if mode == "flip":
            per_seed += len(spec.layers) * len(spec.seeds) * len(spec.eps)
        elif mode in STUCK_MODES:
            per_seed += len(spec.layers) * len(spec.seeds) * len(spec.faults_per_layer)
        else:
            per_seed += 1
    return per_seed * (len(spec.models) if n_models is None else n_models)


def check_against(spec: SweepSpec, ref: ModelRef) -> None:
    """Layer sets and fault counts that the model cannot take: one SweepError naming them."""
    n = len(ref.injector_widths)
    for layers in spec.layers:
        bad = [i for i in (layers or ()) if i >= n]
        if bad:
            raise SweepError(
                f"layer {bad[0]} is out of range for {ref.name} ({ref.build_dir}): it has {n} "
                f"injectors, layers 0..{n - 1}"
            )
    if any(m in STUCK_MODES for m in spec.modes):
        for layers in spec.layers:
            for i in (range(n) if layers is None else layers):
                k = max(spec.faults_per_layer)
                if k > ref.injector_widths[i]:
                    raise SweepError(
                        f"{k} crashed neurons per layer asked, but layer {i} of {ref.name} has "
                        f"only {ref.injector_widths[i]} neurons"
                    )
