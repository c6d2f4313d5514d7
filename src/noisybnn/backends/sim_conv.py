"""The software accelerator's convolutional stages: how FINN's conv nodes become sim stages.

A FINN CNN twin streams NHWC feature maps through these nodes (finn-plus 1.6.1 names; the
specialized _hls/_rtl flavours carry the same attributes):

* ``Transpose`` (the NCHW -> NHWC input conversion) -> stage "transpose"; ``Reshape`` (for C = 1
  FINN may convert the input with a reshape) -> stage "reshape" (C order, as ONNX reshapes);
* ``FMPadding`` (Padding, ImgDim, NumChannels) -> stage "pad" (zeros, as FINN pads);
* ``ConvolutionInputGenerator`` (ConvKernelDim, IFMChannels, IFMDim, OFMDim, Stride, Dilation,
  depthwise) followed by an ``MVAU`` (MW = kh*kw*IFMChannels) -> stage "conv", the pair run as one
  kernel (`conv_kernels`): FINN's sliding window is an im2col that the MVAU consumes window by
  window, so fusing them changes nothing but the speed;
* a depthwise ``ConvolutionInputGenerator`` followed by ``Pool`` (Function MaxPool, KernelSize,
  Channels) -> stage "maxpool", as FINN lowers MaxPool; ``StreamingMaxPool`` (PoolDim,
  NumChannels, ImgDim) from older FINN versions -> the same stage.

Every attribute is read through `noisybnn.compile.graph.node_attributes`; `sim_checks` checks the
chain of shapes on load.
"""

from __future__ import annotations

import numpy as np

from noisybnn.backends import conv_kernels
from noisybnn.backends.conv_kernels import Window
from noisybnn.errors import InputFileError

WINDOW_OPS = ("ConvolutionInputGenerator", "ConvolutionInputGenerator_rtl",
              "ConvolutionInputGenerator_hls")
POOL_OPS = ("Pool", "Pool_hls")
STREAMING_POOL_OPS = ("StreamingMaxPool", "StreamingMaxPool_hls", "StreamingMaxPool_Batch")
PAD_OPS = ("FMPadding", "FMPadding_rtl", "FMPadding_hls", "FMPadding_Batch")
CONV_OPS = WINDOW_OPS + POOL_OPS + STREAMING_POOL_OPS + PAD_OPS + ("Transpose",)
#: stage kinds this module runs
KINDS = ("reshape", "transpose", "pad", "conv", "maxpool")


class ConvGraphError(InputFileError):
    """A convolutional twin the software accelerator cannot run (layer order or attributes)."""


def _pair(v, name: str, where: str) -> tuple[int, int]:
    vals = [int(x) for x in (v if isinstance(v, (list, tuple)) else [v])]
    if len(vals) == 1:
        vals = vals * 2
    if len(vals) != 2:
        raise ConvGraphError(f"{where}: attribute {name}={list(vals)} is not a 2D size")
    return vals[0], vals[1]


def window_from(a: dict, where: str) -> Window:
    """The sliding window of a ConvolutionInputGenerator node's attributes."""
    try:
        return Window(ifm=_pair(a["IFMDim"], "IFMDim", where), channels=int(a["IFMChannels"]),
                      kernel=_pair(a["ConvKernelDim"], "ConvKernelDim", where),
                      stride=_pair(a.get("Stride", [1, 1]), "Stride", where),
                      dilation=_pair(a.get("Dilation", [1, 1]), "Dilation", where),
                      ofm=_pair(a["OFMDim"], "OFMDim", where))
    except KeyError as exc:
        raise ConvGraphError(f"{where}: sliding window lacks attribute {exc}") from None


class ConvParser:
    """Turns the conv nodes of a twin into stages; holds a sliding window until its consumer.

    `take(node, attrs, shape_of)` returns a list of (kind, params) for a conv node, [] when the
    node is a window waiting for its consumer, None when it is not a conv node (an MVAU then asks
    `window_for_mvau`)."""

    def __init__(self, path):
        self.path = path
        self.pending: tuple[Window, bool, str] | None = None  # (window, depthwise, node name)

    def _where(self, node) -> str:
        return f"{self.path}: node {node.name} ({node.op_type})"

    def take(self, node, a: dict, shape_of) -> list[tuple[str, dict]] | None:
        op, where = node.op_type, self._where(node)
        if op not in CONV_OPS:
            if self.pending is not None and op not in ("MVAU",):
                raise ConvGraphError(f"{where} follows the sliding window {self.pending[2]}; the "
                                     "software accelerator runs a sliding window only into an "
                                     "MVAU (convolution) or a Pool (max-pool)")
            return None
        if self.pending is not None and op not in POOL_OPS:
            raise ConvGraphError(f"{where} follows the sliding window {self.pending[2]}; expected "
                                 "an MVAU or a Pool")
        if op == "Transpose":
            perm = [int(p) for p in a.get("perm", [])]
            shape = shape_of(node.input[0])
            if not perm or perm[0] != 0 or sorted(perm) != list(range(len(perm))) or shape is None:
                raise ConvGraphError(f"{where}: only a transpose that keeps the batch axis first "
                                     f"is supported (perm {perm}, input shape {shape})")
            return [("transpose", {"perm": tuple(perm), "in_shape": tuple(shape[1:])})]
        if op in WINDOW_OPS:
            win = window_from(a, where)
            self.pending = (win, bool(a.get("depthwise", 0)), node.name)
            return []
        if op in POOL_OPS:
            if self.pending is None or not self.pending[1]:
                raise ConvGraphError(f"{where}: a Pool must follow a depthwise sliding window")
            if a.get("Function", "MaxPool") != "MaxPool":
                raise ConvGraphError(f"{where}: Pool function {a.get('Function')!r} is not "
                                     "supported (only MaxPool)")
            win = self.pending[0]
            self.pending = None
            if win.dilation != (1, 1):
                raise ConvGraphError(f"{where}: dilated max-pool windows are not supported")
            k = _pair(a.get("KernelSize", list(win.kernel)), "KernelSize", where)
            if k != win.kernel or int(a.get("Channels", win.channels)) != win.channels:
                raise ConvGraphError(f"{where}: Pool KernelSize/Channels {k}/{a.get('Channels')} "
                                     f"differ from its sliding window's {win.kernel}/{win.channels}")
            return [("maxpool", {"kernel": win.kernel, "stride": win.stride, "ifm": win.ifm,
                                 "channels": win.channels, "ofm": win.ofm})]
        if op in STREAMING_POOL_OPS:
            k = _pair(a["PoolDim"], "PoolDim", where)
            ifm = _pair(a["ImgDim"], "ImgDim", where)
            if int(a.get("CeilMode", 0)) and (ifm[0] % k[0] or ifm[1] % k[1]):
                raise ConvGraphError(f"{where}: ceil-mode max-pool is not supported")
            ofm = (ifm[0] // k[0], ifm[1] // k[1])
            return [("maxpool", {"kernel": k, "stride": k, "ifm": ifm,
                                 "channels": int(a["NumChannels"]), "ofm": ofm})]
        # FMPadding: [H_begin, W_begin, H_end, W_end]
        pad = [int(x) for x in a["Padding"]]
        if len(pad) != 4 or min(pad) < 0:
            raise ConvGraphError(f"{where}: Padding {pad} is not [top, left, bottom, right]")
        return [("pad", {"pad": tuple(pad), "ifm": _pair(a["ImgDim"], "ImgDim", where),
                         "channels": int(a["NumChannels"])})]

    def window_for_mvau(self, node) -> Window | None:
        """The sliding window feeding this MVAU (which then is a convolution), or None."""
        if self.pending is None:
            return None
        win, depthwise, name = self.pending
        if depthwise:
            raise ConvGraphError(f"{self._where(node)} follows the depthwise sliding window {name}; "
                                 "depthwise convolutions (VVAU) are not supported")
        self.pending = None
        return win

    def finish(self) -> None:
        if self.pending is not None:
            raise ConvGraphError(f"{self.path}: the sliding window {self.pending[2]} ends the graph")


def conv_params(params: dict, win: Window) -> dict:
    """An MVAU's params (as sim parses them) made a convolution's: the window and, for binary
    layers, the packed weight rows transposed for the compiled loop."""
    out = dict(params, window=win)
    if "wpacked" in params:
        out["wt"] = conv_kernels.transposed_weights(params["wpacked"])
    return out


def apply_shape_stage(kind: str, p: dict, v: np.ndarray) -> np.ndarray:
    """Run a transpose, pad or max-pool stage on a batch (N, ...)."""
    n = v.shape[0]
    if kind == "reshape":
        return v.reshape((n, *p["shape"]))
    if kind == "transpose":
        return np.ascontiguousarray(v.reshape((n, *p["in_shape"])).transpose(p["perm"]))
    if kind == "pad":
        top, left, bottom, right = p["pad"]
        return np.pad(v, ((0, 0), (top, bottom), (left, right), (0, 0)))
    if kind == "maxpool":
        return conv_kernels.max_pool(v, p["kernel"], p["stride"])
    raise AssertionError(kind)


def stage_out_shape(kind: str, p: dict, shape: tuple[int, ...], where: str, fail) -> tuple:
    """Per-image shape after a conv stage, checked against what the stage expects (`fail(msg)`
    raises the build-check error)."""
    if kind == "reshape":
        if int(np.prod(shape)) != int(np.prod(p["shape"])):
            raise fail(f"{where}: input of shape {shape} reshaped to {p['shape']}")
        return tuple(p["shape"])
    if kind == "transpose":
        if int(np.prod(shape)) != int(np.prod(p["in_shape"])):
            raise fail(f"{where}: input of shape {shape} for a transpose of {p['in_shape']}")
        return tuple(p["in_shape"][i - 1] for i in p["perm"][1:])
    hwc = (*p["ifm"], p["channels"]) if kind in ("pad", "maxpool") else None
    if kind == "conv":
        win = p["window"]
        hwc = (*win.ifm, win.channels)
    if tuple(shape) != hwc:
        raise fail(f"{where}: input feature map {shape} (H, W, C), the layer expects {hwc}")
    if kind == "pad":
        top, left, bottom, right = p["pad"]
        return (shape[0] + top + bottom, shape[1] + left + right, shape[2])
    if kind == "maxpool":
        (kh, kw), (sh, sw) = p["kernel"], p["stride"]
        got = ((shape[0] - kh) // sh + 1, (shape[1] - kw) // sw + 1)
        if got != tuple(p["ofm"]):
            raise fail(f"{where}: a {p['kernel']} pool with stride {p['stride']} on {shape[:2]} "
                       f"gives {got}, the node says {tuple(p['ofm'])}")
        return (*got, shape[2])
    win = p["window"]
    if win.expected_ofm() != win.ofm:
        raise fail(f"{where}: sliding window {win.kernel} stride {win.stride} dilation "
                   f"{win.dilation} on {win.ifm} gives {win.expected_ofm()}, the node says "
                   f"OFMDim {win.ofm}")
    if p["mw"] != win.mw:
        raise fail(f"{where}: MVAU has MW={p['mw']}, its window carries {win.taps} x "
                   f"{win.channels} = {win.mw} values")
    return (*win.ofm, int(p["w"].shape[1]))
