"""What the RTL accelerator is made of, read from a FINN build directory.

Weights, thresholds and injectors come from the executable twin (`dataflow_python.onnx`, the
file the `sim` backend runs, so both run the same numbers); PE/SIMD of every layer come from the
folded model FINN made its estimates from (`intermediate_models/step_generate_estimate_reports`).
What the RTL covers: Thresholding on uint8 pixels with one threshold, binary (XNOR) MVAUs with one
threshold per neuron or none (the last layer), binary injectors, and scalar integer Mul/Add at
the end. Anything else raises `UnsupportedLayerError`; such builds stay on the HLS/FINN path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from noisybnn.compile.graph import node_attributes
from noisybnn.errors import ConfigError

FOLDED_MODEL = Path("intermediate_models") / "step_generate_estimate_reports.onnx"


class UnsupportedLayerError(ConfigError):
    """A layer of the build that the RTL accelerator does not implement."""


@dataclass
class Binarize:
    pe: int
    channels: int
    threshold: int  # pixel >= threshold (0..256)
    name: str = "Thresholding_0"


@dataclass
class Mvau:
    mw: int
    mh: int
    simd: int
    pe: int
    weights: np.ndarray  # bool (MW, MH), True = +1
    thresholds: np.ndarray | None  # int (MH,), fire when matches >= T; None: accumulators out
    name: str = "MVAU"

    @property
    def acc_w(self) -> int:
        return max(2, math.ceil(math.log2(self.mw + 1)))

    @property
    def out_w(self) -> int:
        return self.pe if self.thresholds is not None else self.pe * self.acc_w

    @property
    def cycles(self) -> int:
        return (self.mw // self.simd) * (self.mh // self.pe)


@dataclass
class Injector:
    layer: int
    neurons: int
    pe: int
    name: str = "NoiseInjector"


@dataclass
class ScaleBias:
    mul: int
    add: int


@dataclass
class Design:
    """The layers in stream order, plus the build they came from."""

    build_dir: Path
    binarize: Binarize
    layers: list = field(default_factory=list)  # Mvau and Injector in stream order
    scale_bias: ScaleBias = field(default_factory=lambda: ScaleBias(1, 0))

    @property
    def mvaus(self) -> list[Mvau]:
        return [x for x in self.layers if isinstance(x, Mvau)]

    @property
    def injectors(self) -> list[Injector]:
        return [x for x in self.layers if isinstance(x, Injector)]

    @property
    def num_classes(self) -> int:
        return self.mvaus[-1].mh

    @property
    def pixels(self) -> int:
        return self.binarize.channels

    @property
    def expected_cycles(self) -> int:
        """Cycles per image of the slowest layer (FINN's own formula for each kind)."""
        c = [self.binarize.channels // self.binarize.pe] + [m.cycles for m in self.mvaus]
        c += [i.neurons // i.pe for i in self.injectors]
        return max(c)




def _folding(path: Path) -> tuple[list[int], list[tuple[int, int]]]:
    """(PE of each Thresholding, (SIMD, PE) of each MVAU) of the folded model, in order."""
    import onnx

    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: the build has no folded model; rerun "
                                "`noisybnn estimate` for it")
    thr, mv = [], []
    for node in onnx.load(str(path)).graph.node:
        a = node_attributes(node)
        if node.op_type.startswith("Thresholding"):
            thr.append(int(a.get("PE", 1)))
        elif node.op_type.startswith("MVAU"):
            mv.append((int(a.get("SIMD", 1)), int(a.get("PE", 1))))
    return thr, mv


def _integer(value: np.ndarray, what: str) -> int:
    v = np.asarray(value, dtype=np.float64).reshape(-1)
    if v.size != 1 or v[0] != np.rint(v[0]):
        raise UnsupportedLayerError(f"{what}: the RTL output stage takes one integer constant, "
                                    f"got {v[:4]}{'...' if v.size > 4 else ''}")
    return int(v[0])


def load_design(build_dir: str | Path) -> Design:
    """Read a build directory into a `Design`; UnsupportedLayerError names what is not covered."""
    import onnx
    from onnx import numpy_helper

    from noisybnn.compile.paths import python_model_path

    bdir = Path(build_dir)
    twin_path = python_model_path(bdir)
    thr_pe, mv_fold = _folding(bdir / FOLDED_MODEL)
    graph = onnx.load(str(twin_path)).graph
    inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    binarize: Binarize | None = None
    layers: list = []
    mul, add = 1, 0
    n_mvau = 0
    for node in graph.node:
        a, op = node_attributes(node), node.op_type
        if op in ("Reshape", "Flatten"):
            continue
        if op in ("Thresholding", "MultiThreshold"):
            t = inits[node.input[1]].astype(np.float64)
            if binarize is not None or layers:
                raise UnsupportedLayerError(f"{node.name}: only the input thresholding is covered")
            if a.get("inputDataType") != "UINT8" or t.shape[1] != 1 or a.get("ActVal", 0):
                raise UnsupportedLayerError(f"{node.name}: the RTL binarizer takes uint8 pixels "
                                            "and one threshold step")
            levels = np.unique(np.clip(np.ceil(t[:, 0]), 0, 256))
            if levels.size != 1:
                raise UnsupportedLayerError(f"{node.name}: per-pixel thresholds are not covered "
                                            "by the RTL binarizer (one threshold for all pixels)")
            binarize = Binarize(pe=thr_pe[0] if thr_pe else 1, channels=int(a["NumChannels"]),
                                threshold=int(levels[0]), name=node.name)
        elif op == "MVAU":
            if a.get("binaryXnorMode", 0) != 1:
                raise UnsupportedLayerError(f"{node.name}: only binary (XNOR, w1a1) MVAUs have "
                                            "an RTL implementation; this one stays HLS")
            w = inits[node.input[1]]
            mw, mh = w.shape
            simd, pe = mv_fold[n_mvau]
            thresholds = None
            if a.get("noActivation", 0) == 0:
                t = inits[node.input[2]].astype(np.float64)
                if t.shape[1] != 1:
                    raise UnsupportedLayerError(f"{node.name}: multi-step thresholds (multi-bit "
                                                "activations) are not covered")
                t = np.broadcast_to(t[:, 0], (mh,))
                # matches >= t  <=>  matches >= ceil(t); matches is in 0..MW
                thresholds = np.clip(np.ceil(t), 0, mw + 1).astype(np.int64)
            if mw % simd or mh % pe:
                raise UnsupportedLayerError(f"{node.name}: SIMD {simd} / PE {pe} do not divide "
                                            f"MW {mw} / MH {mh}")
            layers.append(Mvau(mw=mw, mh=mh, simd=simd, pe=pe, weights=w > 0,
                               thresholds=thresholds, name=f"MVAU_{n_mvau}"))
            n_mvau += 1
        elif op.startswith("NoiseInjector"):
            if a["dataType"] not in ("BINARY", "BIPOLAR"):
                raise UnsupportedLayerError(f"{node.name}: only 1-bit injectors are covered")
            prev = layers[-1] if layers else None
            if not isinstance(prev, Mvau) or prev.pe != int(a["PE"]):
                raise UnsupportedLayerError(f"{node.name}: expected after an MVAU of the same PE")
            layers.append(Injector(layer=int(a.get("layer_index", len(layers))),
                                   neurons=int(a["NumChannels"]), pe=int(a["PE"]), name=node.name))
        elif op in ("ElementwiseMul", "Mul"):
            m = _integer(inits[node.input[1]], node.name)
            mul, add = mul * m, add * m
        elif op in ("ElementwiseAdd", "Add"):
            add += _integer(inits[node.input[1]], node.name)
        else:
            raise UnsupportedLayerError(f"{node.name}: layer type {op} has no RTL implementation")
    if binarize is None or not layers or not isinstance(layers[-1], Mvau):
        raise UnsupportedLayerError(f"{twin_path}: expected input thresholding, MVAUs, and an MVAU last")
    if layers[-1].thresholds is not None:
        raise UnsupportedLayerError(f"{twin_path}: the last MVAU must output accumulators")
    return Design(build_dir=bdir, binarize=binarize, layers=layers, scale_bias=ScaleBias(mul, add))
