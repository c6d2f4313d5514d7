"""What the RTL accelerator is made of, read from a FINN build directory.

Weights, thresholds and injectors come from the executable twin (`dataflow_python.onnx`, the
file the `sim` backend runs, so both run the same numbers); PE/SIMD of every layer come from the
folded model FINN made its estimates from (`intermediate_models/step_generate_estimate_reports`).
What the RTL covers: Thresholding on uint8 pixels with one threshold, binary (XNOR) MVAUs with one
threshold per neuron or none (the last layer), binary injectors, and scalar integer Mul/Add at
the end; for CNNs also 'VALID' square sliding windows into an MVAU (convolutions, MVAU and
injector then run once per output pixel) and K x K / stride K max-pools on binary maps (FINN's
depthwise sliding window + Pool(MaxPool)). Anything else raises `UnsupportedLayerError`; such
builds stay on the HLS/FINN path.
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
    vectors: int = 1  # input vectors per image: the output pixels of a convolution

    @property
    def acc_w(self) -> int:
        return max(2, math.ceil(math.log2(self.mw + 1)))

    @property
    def out_w(self) -> int:
        return self.pe if self.thresholds is not None else self.pe * self.acc_w

    @property
    def cycles(self) -> int:
        return self.vectors * (self.mw // self.simd) * (self.mh // self.pe)


@dataclass
class Injector:
    layer: int
    neurons: int
    pe: int
    name: str = "NoiseInjector"
    pixels: int = 1  # vectors per image (a conv layer's map: NEURONS = channels, per pixel)

    @property
    def cycles(self) -> int:
        return self.pixels * self.neurons // self.pe


@dataclass
class Swg:
    """A convolution's sliding window ('VALID', square kernel, no dilation), `nbnn_swg_bin`."""

    ifm: tuple[int, int]
    channels: int
    kernel: int
    stride: int
    simd: int
    name: str = "ConvolutionInputGenerator"

    @property
    def ofm(self) -> tuple[int, int]:
        return tuple((d - self.kernel) // self.stride + 1 for d in self.ifm)

    @property
    def slack_rows(self) -> int:
        """Line-buffer rows beyond K + S (`nbnn_swg_bin`'s SLACK): 2K rows in all, so the next
        image's first K rows fit beside the current image's last window and a slower consumer
        does not wait at image starts; at least one, so the writer can run ahead in an image."""
        return max(1, self.kernel - self.stride)

    @property
    def cycles(self) -> int:
        """Beats out (every window) or in (every pixel), whichever is more, per image."""
        cf = self.channels // self.simd
        oh, ow = self.ofm
        return max(oh * ow * self.kernel ** 2 * cf, self.ifm[0] * self.ifm[1] * cf)


@dataclass
class MaxPool:
    """K x K / stride K max-pool on a binary map as the OR of each window, `nbnn_maxpool_bin`."""

    ifm: tuple[int, int]
    channels: int
    kernel: int
    pe: int
    name: str = "Pool"
    window: str = ""  # FINN's sliding-window node this unit also replaces

    @property
    def cycles(self) -> int:
        return self.ifm[0] * self.ifm[1] * self.channels // self.pe


@dataclass
class ScaleBias:
    mul: int
    add: int


@dataclass
class Design:
    """The layers in stream order, plus the build they came from."""

    build_dir: Path
    binarize: Binarize
    layers: list = field(default_factory=list)  # Mvau, Injector, Swg, MaxPool in stream order
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
    def outputs_per_image(self) -> int:
        """Values the last MVAU sends per image (its classes; x pixels in unit-test designs
        that end in a convolution)."""
        return self.mvaus[-1].mh * self.mvaus[-1].vectors

    @property
    def pixels(self) -> int:
        return self.binarize.channels

    @property
    def expected_cycles(self) -> int:
        """Cycles per image of the slowest layer (FINN's own formula for each kind)."""
        return max([self.binarize.channels // self.binarize.pe]
                   + [x.cycles for x in self.layers])



def _folding(path: Path) -> dict[str, list]:
    """Folding of the folded model, per kind in order: PE of each Thresholding ("thr"), (SIMD,
    PE) of each MVAU ("mvau"), SIMD of each sliding window ("swg"), PE of each Pool ("pool")."""
    import onnx

    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: the build has no folded model; rerun "
                                "`noisybnn estimate` for it")
    fold: dict[str, list] = {"thr": [], "mvau": [], "swg": [], "pool": []}
    for node in onnx.load(str(path)).graph.node:
        a = node_attributes(node)
        if node.op_type.startswith("Thresholding"):
            fold["thr"].append(int(a.get("PE", 1)))
        elif node.op_type.startswith("MVAU"):
            fold["mvau"].append((int(a.get("SIMD", 1)), int(a.get("PE", 1))))
        elif node.op_type.startswith("ConvolutionInputGenerator"):
            fold["swg"].append(int(a.get("SIMD", 1)))
        elif node.op_type.startswith("Pool"):
            fold["pool"].append(int(a.get("PE", 1)))
    return fold


def _square(v, what: str, where: str) -> int:
    vals = [int(x) for x in (v if isinstance(v, (list, tuple)) else [v])]
    if len(set(vals)) != 1:
        raise UnsupportedLayerError(f"{where}: {what} {vals} is not square; the RTL sliding "
                                    "window takes square kernels and strides")
    return vals[0]


def _window(node, a: dict, simd: int) -> tuple[Swg, bool]:
    """(the sliding window of a ConvolutionInputGenerator node, whether it is depthwise)."""
    where = node.name
    if [int(d) for d in a.get("Dilation", [1, 1])] != [1, 1]:
        raise UnsupportedLayerError(f"{where}: dilated sliding windows are not covered")
    if a.get("inputDataType") not in ("BINARY", "BIPOLAR"):
        raise UnsupportedLayerError(f"{where}: the RTL sliding window takes 1-bit maps, got "
                                    f"{a.get('inputDataType')}")
    ifm = tuple(int(d) for d in a["IFMDim"])
    win = Swg(ifm=ifm, channels=int(a["IFMChannels"]),
              kernel=_square(a["ConvKernelDim"], "kernel", where),
              stride=_square(a.get("Stride", [1, 1]), "stride", where), simd=simd, name=node.name)
    if tuple(int(d) for d in a["OFMDim"]) != win.ofm:
        raise UnsupportedLayerError(f"{where}: OFMDim {a['OFMDim']} is not the 'VALID' output "
                                    f"{win.ofm} (padding is not covered)")
    if win.channels % simd:
        raise UnsupportedLayerError(f"{where}: SIMD {simd} does not divide {win.channels} channels")
    return win, bool(a.get("depthwise", 0))


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
    fold = _folding(bdir / FOLDED_MODEL)
    thr_pe, mv_fold = fold["thr"], fold["mvau"]
    n_swg = n_pool = 0
    pending: tuple[Swg, bool] | None = None  # a sliding window waiting for its MVAU / Pool
    graph = onnx.load(str(twin_path)).graph
    inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    binarize: Binarize | None = None
    layers: list = []
    mul, add = 1, 0
    n_mvau = 0
    for node in graph.node:
        a, op = node_attributes(node), node.op_type
        if pending is not None and op not in ("MVAU", "Pool"):
            raise UnsupportedLayerError(f"{node.name} ({op}) follows a sliding window; the RTL "
                                        "takes a window into an MVAU or a Pool only")
        if op in ("Reshape", "Flatten"):  # NHWC streams: a reshape leaves the stream as it is
            continue
        if op.startswith("ConvolutionInputGenerator"):
            if n_swg >= len(fold["swg"]):
                raise UnsupportedLayerError(f"{node.name}: not in the folded model")
            pending = _window(node, a, fold["swg"][n_swg])
            n_swg += 1
            continue
        if op.startswith("Pool"):
            if pending is None or not pending[1]:
                raise UnsupportedLayerError(f"{node.name}: a Pool must follow a depthwise window")
            win = pending[0]
            pending = None
            if a.get("Function", "MaxPool") != "MaxPool" or win.kernel != win.stride:
                raise UnsupportedLayerError(f"{node.name}: only max-pools with stride = kernel "
                                            "are covered")
            if a.get("InputDataType", "BINARY") not in ("BINARY", "BIPOLAR"):
                raise UnsupportedLayerError(f"{node.name}: max-pool as OR needs a 1-bit map")
            pe = fold["pool"][n_pool] if n_pool < len(fold["pool"]) else 1
            n_pool += 1
            if win.channels % pe:
                raise UnsupportedLayerError(f"{node.name}: PE {pe} does not divide "
                                            f"{win.channels} channels")
            layers.append(MaxPool(ifm=win.ifm, channels=win.channels, kernel=win.kernel, pe=pe,
                                  name=f"Pool_{n_pool - 1}", window=win.name))
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
            values = int(a["NumChannels"]) * int(np.prod(a.get("numInputVectors", [1])[1:]))
            binarize = Binarize(pe=thr_pe[0] if thr_pe else 1, channels=values,
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
            vectors = int(np.prod(a.get("numInputVectors", [1])[1:]))
            if pending is not None:
                win, depthwise = pending
                pending = None
                if depthwise or win.channels * win.kernel ** 2 != mw:
                    raise UnsupportedLayerError(f"{node.name}: its sliding window {win.name} "
                                                "does not feed a dense convolution of MW "
                                                f"{mw}")
                if vectors != win.ofm[0] * win.ofm[1]:
                    raise UnsupportedLayerError(f"{node.name}: {vectors} input vectors, its "
                                                f"window makes {win.ofm}")
                layers.append(win)
            layers.append(Mvau(mw=mw, mh=mh, simd=simd, pe=pe, weights=w > 0,
                               thresholds=thresholds, name=f"MVAU_{n_mvau}", vectors=vectors))
            n_mvau += 1
        elif op.startswith("NoiseInjector"):
            if a["dataType"] not in ("BINARY", "BIPOLAR"):
                raise UnsupportedLayerError(f"{node.name}: only 1-bit injectors are covered")
            prev = layers[-1] if layers else None
            if not isinstance(prev, Mvau) or prev.pe != int(a["PE"]):
                raise UnsupportedLayerError(f"{node.name}: expected after an MVAU of the same PE")
            layers.append(Injector(layer=int(a.get("layer_index", len(layers))),
                                   neurons=int(a["NumChannels"]), pe=int(a["PE"]), name=node.name,
                                   pixels=int(np.prod(a.get("numInputVectors", [1])[1:]))))
        elif op in ("ElementwiseMul", "Mul"):
            m = _integer(inits[node.input[1]], node.name)
            mul, add = mul * m, add * m
        elif op in ("ElementwiseAdd", "Add"):
            add += _integer(inits[node.input[1]], node.name)
        else:
            raise UnsupportedLayerError(f"{node.name}: layer type {op} has no RTL implementation")
    if pending is not None:
        raise UnsupportedLayerError(f"{twin_path}: the sliding window {pending[0].name} ends the graph")
    if binarize is None or not layers or not isinstance(layers[-1], Mvau):
        raise UnsupportedLayerError(f"{twin_path}: expected input thresholding, MVAUs, and an MVAU last")
    if layers[-1].thresholds is not None:
        raise UnsupportedLayerError(f"{twin_path}: the last MVAU must output accumulators")
    return Design(build_dir=bdir, binarize=binarize, layers=layers, scale_bias=ScaleBias(mul, add))
