"""From a model name in the results table to its build, accelerator, theory network and test data.

A model is found at ``pipeline.build_dir_for(name, board)`` (or in an explicit ``build_dirs`` map),
compiled there if missing (optional), and opened on the software accelerator. Its executable twin
must be the one the sweep ran: the table's ``build_sha256`` of sim rows is compared with the
manifest's ``python_model_sha256`` and with the twin on disk; differences become warnings in the
report. Networks with binary activations also get their theory twin (``to_theory_network``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from noisybnn.errors import ConfigError
from noisybnn.fingerprint import file_sha256


@dataclass
class ModelInfo:
    """Everything the report knows about one model of the results table.

    Attributes:
        name: the model name in the table.
        build_dir: its build directory, or None when none was found or made.
        manifest: the build's manifest.json ({} without a build).
        accelerator: the software accelerator of the build (None without a build).
        network: the theory network (None for non-binary networks or without a build).
        input_thresholds: pixel >= threshold binarizes to +1 (with ``network``).
        injector_ids: the ``layer`` index of each injector, in graph order.
        injector_hidden: the hidden layer each injector follows (0-based, graph order).
        injector_widths: noisy units per image of each injector, the theory's width: neurons for
            an fc layer, channels x pixels (C x H x W) after a convolution.
        injector_channels: neurons (channels) each injector carries per beat: what a fault
            mask names (a crashed channel is crashed at every pixel).
        injector_pixels: pixels per image of each injector (1 for fc layers).
        injector_bits: output bits per neuron of each injector.
        n_classes: number of classes.
        twin_sha256: SHA-256 of the executable twin on disk.
        warnings: problems to show at the top of the report.
        notes: why parts of the analysis are missing for this model.
    """

    name: str
    build_dir: Path | None = None
    manifest: dict = field(default_factory=dict)
    accelerator: object | None = None
    network: object | None = None
    input_thresholds: np.ndarray | None = None
    injector_ids: list[int] = field(default_factory=list)
    injector_hidden: list[int] = field(default_factory=list)
    injector_widths: list[int] = field(default_factory=list)
    injector_channels: list[int] = field(default_factory=list)
    injector_pixels: list[int] = field(default_factory=list)
    injector_bits: list[int] = field(default_factory=list)
    n_classes: int | None = None
    twin_sha256: str = ""
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def has_build(self) -> bool:
        return self.accelerator is not None

    @property
    def convolutional(self) -> bool:
        """Some injector follows a convolution (more than one pixel per image)."""
        return any(p > 1 for p in self.injector_pixels)

    @property
    def binary(self) -> bool:
        """All injectors carry 1-bit neurons: the BSC model of the theory applies."""
        return bool(self.injector_bits) and all(b == 1 for b in self.injector_bits)

    def active_injectors(self, layers: str) -> list[int]:
        """Positions (in graph order) of the injectors a table `layers` text switches on."""
        text = str(layers).strip().lower()
        if text in ("all", ""):
            return list(range(len(self.injector_ids)))
        if text == "none":
            return []
        wanted = {int(t) for t in text.replace(",", ";").split(";") if t.strip()}
        return [i for i, lid in enumerate(self.injector_ids) if lid in wanted]

    def noisy_hidden(self, layers: str) -> list[int]:
        """Hidden-layer indices (theory numbering) whose injector is active."""
        return [self.injector_hidden[i] for i in self.active_injectors(layers)]

    def noisy_widths(self, layers: str) -> list[int]:
        return [self.injector_widths[i] for i in self.active_injectors(layers)]

    def binarize(self, images: np.ndarray) -> np.ndarray:
        """uint8 images (n, pixels) -> the theory's +-1 inputs."""
        flat = images.reshape(len(images), -1)
        return np.where(flat >= self.input_thresholds[None, :], 1.0, -1.0)


def _find_build(name: str, board: str, build_dirs: dict | None, compile_missing: bool,
                info: ModelInfo) -> Path | None:
    from noisybnn.compile.paths import MANIFEST, PYTHON_MODEL
    from noisybnn.pipeline import build_dir_for

    if build_dirs and name in build_dirs:
        bdir = Path(build_dirs[name])
    else:
        bdir = build_dir_for(name, board)
    if (bdir / MANIFEST).is_file() and (bdir / PYTHON_MODEL).is_file():
        return bdir
    if not compile_missing:
        info.notes.append(f"no build of {name} in {bdir} (compiling was switched off)")
        return None
    try:
        from noisybnn.pipeline import compile_model

        return Path(compile_model(name, board))
    except Exception as exc:  # noqa: BLE001 - any failure only removes this model's theory
        info.notes.append(f"no build of {name} in {bdir}, and compiling it failed: "
                          f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
        return None


def _injectors(acc) -> dict[str, list[int]]:
    """Per injector (graph order): layer id, theory hidden layer, units, channels, pixels, bits."""
    out: dict[str, list[int]] = {k: [] for k in ("ids", "hidden", "widths", "channels",
                                                 "pixels", "bits")}
    out["hidden"] = list(acc.theory_hidden_of_injectors())
    for stage in acc.injector_stages:
        p = stage.params
        out["ids"].append(int(p["layer"]))
        out["channels"].append(int(p["neurons"]))
        out["pixels"].append(int(p.get("pixels", 1)))
        out["widths"].append(int(p["neurons"]) * int(p.get("pixels", 1)))
        out["bits"].append(int(p["bits"]))
    return out


def resolve_model(name: str, board: str, rows: pd.DataFrame, *, build_dirs: dict | None = None,
                  compile_missing: bool = True) -> ModelInfo:
    """Find, check and open the build of `name`; never raises for a missing or odd build."""
    from noisybnn.backends.sim import SimAccelerator
    from noisybnn.compile.paths import MANIFEST, PYTHON_MODEL

    info = ModelInfo(name)
    bdir = _find_build(name, board, build_dirs, compile_missing, info)
    if bdir is None:
        return info
    info.build_dir = bdir
    try:
        info.manifest = json.loads((bdir / MANIFEST).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        info.warnings.append(f"{bdir / MANIFEST} is unreadable ({exc})")
    twin = bdir / PYTHON_MODEL
    info.twin_sha256 = file_sha256(twin)
    expected = info.manifest.get("python_model_sha256")
    if expected and expected != info.twin_sha256:
        info.warnings.append(f"{name}: {twin} changed after its manifest was written (SHA-256 "
                             f"{info.twin_sha256[:12]} on disk, {expected[:12]} in the manifest)")
    sim_rows = rows[(rows["backend"] == "sim") & (rows["build_sha256"] != "")]
    table_hashes = sorted(set(sim_rows["build_sha256"]))
    from noisybnn.errors import NoisyBNNError
    from noisybnn.keys import build_digest

    try:  # the sweep names a sim build by its content digest (keys.build_digest)
        reference = build_digest(twin)
    except NoisyBNNError:
        reference = expected or info.twin_sha256
    other = [h for h in table_hashes if h not in (reference, expected, info.twin_sha256)]
    if other:
        info.warnings.append(
            f"{name}: the results were measured on build(s) {', '.join(h[:12] for h in other)}, "
            f"but the build in {bdir} is {reference[:12]} (its content digest): the "
            "theory below is computed on a different network than the one measured"
        )
    try:
        acc = SimAccelerator(twin)
    except (ValueError, OSError) as exc:
        info.notes.append(f"{name}: the software accelerator cannot open {twin}: {exc}")
        return info
    info.accelerator = acc
    inj = _injectors(acc)
    info.injector_ids, info.injector_hidden = inj["ids"], inj["hidden"]
    info.injector_widths, info.injector_channels = inj["widths"], inj["channels"]
    info.injector_pixels, info.injector_bits = inj["pixels"], inj["bits"]
    info.n_classes = int(info.manifest.get("num_classes") or acc.num_classes)
    if not info.binary:
        info.notes.append(f"{name}: injectors carry {info.injector_bits} bits per neuron; the "
                          "theory (binary symmetric channels, sign neurons) covers 1-bit "
                          "activations only, so its bounds and predictions are not shown")
        return info
    try:
        net, thr = acc.to_theory_network()
    except ValueError as exc:
        info.notes.append(f"{name}: no theory network ({exc})")
        return info
    info.network = net
    info.input_thresholds = np.broadcast_to(np.asarray(thr, float).reshape(-1),
                                            (net.n_in,)).copy()
    return info


class DataCache:
    """Test images and labels, loaded once per (dataset, split)."""

    def __init__(self):
        self._data: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}

    def get(self, dataset: str, split: str, n: int) -> tuple[np.ndarray, np.ndarray]:
        key = (dataset, split)
        if key not in self._data:
            from noisybnn import data

            x, y = data.load(dataset, split)
            self._data[key] = (x.reshape(len(x), -1), np.asarray(y).astype(np.int64))
        x, y = self._data[key]
        if n > len(x):
            raise ConfigError(f"the results use {n} images of {dataset} {split}, which has "
                             f"{len(x)}")
        return x[:n], y[:n]


def label_entropy(labels: np.ndarray, n_classes: int) -> float:
    """Entropy in bits of the empirical label distribution."""
    p = np.bincount(labels, minlength=n_classes) / max(1, len(labels))
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())
