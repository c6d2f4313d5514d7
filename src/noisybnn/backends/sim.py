"""The software accelerator: a bit-exact, fast model of the FINN dataflow accelerator.

It reads the executable twin of a build (`dataflow_python.onnx`: weights, thresholds, injector
configuration) and runs it in numpy, layer by layer on whole batches:

* binary layers (FINN's XNOR-popcount MVAU) as XOR + popcount on bit-packed uint64 words, the
  counting loop compiled with numba (`kernels`); or, as checks and fallbacks, the same in numpy
  or an exact float32 GEMM (every partial sum is an integer below 2^24). All are tested equal.
  With the compiled kernel a two-valued layer's outputs travel packed (`_Bits`: uint64 words,
  the binarized pixels packed in the same pass) to the injector and the next XNOR layer; floats
  are made only where a stage needs values (the last layer's counts, integer layers, conv maps,
  the trace);
* integer layers (e.g. w2a2) as exact float32 GEMM;
* thresholds as FINN's MultiThreshold: count of thresholds met, plus the activation bias
  (binarized pixels as an integer compare);
* injectors from the one reference in `noisybnn.hw` (the LFSR stream, compiled too): the same
  lane samples. An fc injector on packed words (PE 1, 2, 4 or 8..64 in steps of 8) draws its
  flip masks straight from the stream (`kernels.flip_masks`: no sample is stored); the others
  take samples cached per seed, so a sweep over p with a fixed seed draws the stream once
  (up to `_SAMPLE_CACHE_BYTES`; past it a new stream is written into the oldest one's memory,
  which costs no page faults).
* convolutional twins (sliding window + MVAU, max-pool, NHWC feature maps) through `sim_conv`
  and `conv_kernels`: an injector after a conv layer sees its map as H*W vectors of C channels
  per image, beat ((i*H + h)*W + w)*NF + f, exactly FINN's stream order (docs/injector.md).

Speed against FINN python execution and Brevitas: `noisybnn bench` (docs/experiments.md).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from noisybnn.backends import conv_kernels, kernels, sim_conv
from noisybnn.backends.base import NoiseSetting, check_images
from noisybnn.backends.kernels import pack_rows
from noisybnn.backends.sim_checks import check_against_manifest, check_stages
from noisybnn.compile.graph import node_attributes
from noisybnn.errors import ConfigError, InputFileError
from noisybnn.hw import Mode, threshold_from_p
from noisybnn.hw.injector import derive_layer_seed, seed_word

_INJECTOR_OPS = ("NoiseInjector", "NoiseInjector_rtl")
#: Bytes of lane samples a sim keeps for reuse (a sweep over p at one seed draws them once).
_SAMPLE_CACHE_BYTES = 128 * 2**20


class ModelFormatError(InputFileError):
    """The ONNX file is not an executable noisybnn/FINN dataflow graph."""




@dataclass
class _Stage:
    kind: str
    params: dict


@dataclass
class _Bits:
    """Outputs of a two-valued layer, bit-packed like `kernels.pack_rows`: uint64 words
    (n, ceil(neurons / 64)), bit j of row i set where neuron j of image i has the value 1 (else
    `low`: 0 for BINARY, -1 for BIPOLAR). XNOR layers read the words as their input and fc
    injectors flip them with packed masks; the float values are made only where a stage needs
    them."""

    words: np.ndarray
    neurons: int
    low: float

    def bools(self) -> np.ndarray:
        return kernels.unpack_rows(self.words, self.neurons)

    def values(self) -> np.ndarray:
        return np.where(self.bools(), np.float32(1), np.float32(self.low))


def _values(v):
    """The float values of a stage's output (bytes of a two-valued layer widened)."""
    return v.values() if isinstance(v, _Bits) else v


def _thresholds_apply(acc: np.ndarray, thresholds: np.ndarray, act_val: float) -> np.ndarray:
    """FINN MultiThreshold on (..., C): number of thresholds <= acc per channel, plus the bias."""
    t = thresholds
    if t.shape[0] == 1:
        t = np.broadcast_to(t, (acc.shape[-1], t.shape[1]))
    if t.shape[1] == 1:
        out = (acc >= t[:, 0][None, :]).astype(np.float32)
    else:
        out = np.zeros(acc.shape, dtype=np.float32)
        for k in range(t.shape[1]):
            out += acc >= t[:, k][None, :]
    return out + np.float32(act_val) if act_val else out


def _pixel_threshold(thresholds: np.ndarray, act_val: float, bipolar: bool):
    """For a binarizing threshold on uint8 pixels, what `pixels >= it` compares against exactly:
    pixel >= t  <=>  pixel >= ceil(t). A uint8 scalar when all channels share it (one SIMD
    compare), else an int16 row. None where the stage is not a plain 0/1 binarization."""
    if thresholds.shape[1] != 1 or act_val or bipolar:
        return None
    t = np.clip(np.ceil(thresholds[:, 0]), 0, 256).astype(np.int16)
    if np.all(t == t[0]) and t[0] <= 255:
        return np.uint8(t[0])
    return t[None, :]


def _mvau_activation(acc: np.ndarray, p: dict) -> np.ndarray:
    """An MVAU's output from its accumulators: as is (noActivation) or through its thresholds."""
    if "t" not in p:
        return acc
    # FINN: a BIPOLAR output is the count of thresholds met mapped to -1/+1
    if p["bipolar"]:
        return 2 * _thresholds_apply(acc, p["t"], 0) - 1
    return _thresholds_apply(acc, p["t"], p["act"])


def _bipolar_if(v: np.ndarray, bipolar: bool) -> np.ndarray:
    """FINN's Thresholding with a BIPOLAR output maps the count (0/1) to -1/+1."""
    return 2 * v - 1 if bipolar else v


KERNELS = ("auto", "xnor", "xnor-numpy", "gemm")
#: images per internal block of a convolutional twin (its im2col of a 24x24x288 map is 0.6 MB
#: per image in float32)
CONV_BATCH = 100


class SimAccelerator:
    """Runs a dataflow twin in numpy. Implements the `Accelerator` interface.

    Args:
        model: path of `dataflow_python.onnx` (or any FINN graph of supported layers).
        kernel: how binary layers count matches: "xnor" (bit-packed XOR + popcount, compiled with
            numba), "xnor-numpy" (the same in numpy), "gemm" (float32 matrix product), or "auto"
            (xnor where numba is installed, else gemm; `bench/bench_kernels.py` measures them).
        batch_size: images per internal block.
    """

    def __init__(self, model: str | Path, kernel: str = "auto", batch_size: int = 2000):
        if kernel not in KERNELS:
            raise ConfigError(f"kernel must be one of {', '.join(KERNELS)}, got {kernel!r}")
        self.path = Path(model)
        if kernel == "auto":
            kernel = "xnor" if kernels.AVAILABLE else "gemm"
        self.kernel = kernel
        self.batch_size = batch_size
        try:
            self.stages = self._parse(self.path)
        except (KeyError, IndexError) as exc:  # an attribute or initializer a layer needs
            raise ModelFormatError(f"{self.path}: a layer lacks {exc}; rebuild it with "
                                   "`noisybnn estimate --model MODEL --force`") from None
        # checked whatever the kernel: the compiled one does not check bounds
        self._out_width = check_stages(self.stages, self._input_pixels, self.path)
        self.injector_stages = [s for s in self.stages if s.kind == "inject"]
        if any(s.kind == "conv" for s in self.stages):  # feature maps: keep a block's maps small
            self.batch_size = min(self.batch_size, CONV_BATCH)
        self.injector_widths = [s.params["neurons"] for s in self.injector_stages]
        self.num_classes = int(self._out_width)
        check_against_manifest(self.path, self.injector_widths, self.num_classes)
        self._setting = NoiseSetting(mode="off")
        self._sample_cache: dict[tuple, np.ndarray] = {}
        self._fault_cache: dict[tuple, tuple] = {}
        self._vectors_done = 0
        self._flips = [0] * len(self.injector_stages)
        self._trace: list | None = None

    # --- loading -----------------------------------------------------------------------------
    def _parse(self, path: Path) -> list[_Stage]:
        if not path.is_file():
            raise FileNotFoundError(f"model not found: {path}")
        try:
            model = onnx.load(str(path))
        except Exception as exc:
            raise ModelFormatError(f"{path} is not a readable ONNX file ({exc})") from None
        graph = model.graph
        inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
        stages: list[_Stage] = []
        width = None
        conv = sim_conv.ConvParser(path)
        shapes = {vi.name: [d.dim_value for d in vi.type.tensor_type.shape.dim]
                  for vi in [*graph.input, *graph.value_info, *graph.output]}
        for node in graph.node:
            a = node_attributes(node)
            op = node.op_type
            conv_stages = conv.take(node, a, shapes.get)
            if conv_stages is not None:
                stages.extend(_Stage(kind, params) for kind, params in conv_stages)
                continue
            if op in ("Reshape", "Reshape_rtl", "Flatten"):
                out_shape = shapes.get(node.output[0])
                if out_shape and len(out_shape) > 1 and all(d > 0 for d in out_shape[1:]):
                    # the values per image in C order, as the next layer reads them (NHWC maps)
                    stages.append(_Stage("reshape", {"shape": tuple(out_shape[1:])}))
                continue
            if op in ("Thresholding", "MultiThreshold"):
                thr = inits[node.input[1]].astype(np.float32)
                act = a.get("ActVal", a.get("out_bias", 0))
                bipolar = a.get("outputDataType", a.get("out_dtype", "")) == "BIPOLAR"
                stages.append(_Stage("threshold", {"t": thr, "act": act, "bipolar": bipolar,
                                                   "pixel_t": _pixel_threshold(thr, act, bipolar)}))
            elif op == "MVAU":
                w = inits[node.input[1]]
                xnor = a.get("binaryXnorMode", 0) == 1
                params = {"xnor": xnor, "mw": w.shape[0], "w": w.astype(np.float32),
                          "wsum": w.sum(axis=0).astype(np.float32)}
                if xnor:
                    params["wpacked"] = pack_rows(w.T > 0)
                    params["wchunks"] = kernels.chunk_weights(params["wpacked"])
                if a.get("noActivation", 0) == 0:
                    params["t"] = inits[node.input[2]].astype(np.float32)
                    params["act"] = a.get("ActVal", 0)
                    params["bipolar"] = a.get("outputDataType") == "BIPOLAR"
                    if xnor and params["t"].shape[1] == 1 and (params["bipolar"] or not params["act"]):
                        # one threshold per neuron, two output values: the fused kernel applies
                        params["fire_t"] = np.ascontiguousarray(np.broadcast_to(
                            params["t"][:, 0], (w.shape[1],)), dtype=np.float64)
                win = conv.window_for_mvau(node)
                stages.append(_Stage("conv", sim_conv.conv_params(params, win)) if win
                              else _Stage("mvau", params))
                width = w.shape[1]
            elif op in _INJECTOR_OPS:
                bits = _bitwidth(a["dataType"])
                mask = a.get("fault_mask", [])
                stages.append(_Stage("inject", {
                    "neurons": a["NumChannels"], "pe": a["PE"], "bits": bits,
                    # vectors per image: the pixels of a conv layer's map (1 for fc layers)
                    "pixels": int(np.prod(a.get("numInputVectors", [1])[1:], dtype=np.int64)),
                    "dtype": a["dataType"], "layer": a.get("layer_index", len(
                        [s for s in stages if s.kind == "inject"])),
                    "mask": np.asarray(mask, dtype=bool) if len(mask) else None,
                }))
            elif op in ("ElementwiseMul", "Mul"):
                stages.append(_Stage("mul", {"c": inits[node.input[1]].astype(np.float32)}))
            elif op in ("ElementwiseAdd", "Add"):
                stages.append(_Stage("add", {"c": inits[node.input[1]].astype(np.float32)}))
            else:
                raise ModelFormatError(
                    f"{path}: layer type {op!r} (node {node.name}) is not supported by the software "
                    "accelerator (supported: Thresholding, MVAU, NoiseInjector, Mul/Add, Reshape, "
                    "Transpose, FMPadding, ConvolutionInputGenerator + MVAU or Pool(MaxPool))"
                )
        conv.finish()
        for here, after in zip(stages[:-1], stages[1:], strict=True):  # pixels -> XNOR words
            if here.kind == "threshold" and after.kind == "mvau" and after.params["xnor"]:
                here.params["feeds_xnor"] = True
        if width is None:
            raise ModelFormatError(f"{path}: no MVAU layer found; is this a FINN dataflow twin?")
        self._out_width = width
        self._input_pixels = int(np.prod([d.dim_value for d in
                                          graph.input[0].type.tensor_type.shape.dim][1:]))
        return stages

    # --- the Accelerator interface -----------------------------------------------------------
    def configure_noise(self, setting: NoiseSetting) -> None:
        for layer in setting.layers or ():
            if not 0 <= layer < len(self.injector_stages):
                raise ConfigError(
                    f"layer {layer} has no injector: this accelerator has "
                    f"{len(self.injector_stages)} (layers 0..{len(self.injector_stages) - 1})"
                )
        for layer, mask in setting.fault_masks.items():
            if len(mask) != self.injector_widths[layer]:
                raise ConfigError(f"fault mask for layer {layer} has {len(mask)} entries, the "
                                 f"layer has {self.injector_widths[layer]} neurons")
        self._setting = setting
        self.reset_noise()

    def reset_noise(self) -> None:
        self._vectors_done = 0
        self._flips = [0] * len(self.injector_stages)

    def flip_counts(self) -> list[int]:
        return list(self._flips)

    def execute(self, images: np.ndarray) -> np.ndarray:
        x = check_images(images, self._input_pixels)
        outs = []
        self._call_start = self._vectors_done
        self._call_samples = {}
        with _single_blas_thread():
            for start in range(0, len(x), self.batch_size):
                outs.append(self._run(x[start : start + self.batch_size], len(x)))
        return np.concatenate(outs) if outs else np.zeros((0, self.num_classes), np.int64)

    def throughput_test(self, n_images: int = 10000) -> dict:
        rng = np.random.default_rng(0)
        imgs = rng.integers(0, 256, size=(n_images, self._input_pixels), dtype=np.uint8)
        self.reset_noise()
        t0 = time.perf_counter()
        self.execute(imgs)
        dt = time.perf_counter() - t0
        self.reset_noise()
        return {"backend": "sim", "kernel": self.kernel, "images": n_images, "runtime_s": dt,
                "images_per_s": n_images / dt}

    # --- views for the theory and the report ------------------------------------------------
    def hidden_activations(self, images: np.ndarray) -> list[np.ndarray]:
        """Outputs of every injector (after the noise) for one run over `images`, per layer.

        Continues the current run like `execute`; compare with a run at mode "off" to measure
        how far flips propagate (the fraction of hidden neurons that differ from the clean net).
        """
        x = check_images(images, self._input_pixels)
        self._trace = [[] for _ in self.injector_stages]
        try:
            self.execute(x)
            return [np.concatenate(t) for t in self._trace]
        finally:
            self._trace = None

    def to_theory_network(self):
        """This accelerator as the theory's network: +-1 weights, thresholds on W.x, a readout.

        FINN's XNOR-popcount layer fires when matches >= T with matches = (MW + W.x) / 2 for
        bipolar x and w = 2 w_bin - 1, i.e. when W.x >= 2T - MW. The readout's Mul(2)/Add(-MW)
        recovers W.x. Returns (network, input thresholds) where a pixel binarizes to +1 iff
        pixel >= threshold.
        """
        from noisybnn.theory import BinaryLayer, Network, Readout

        mvaus = [s for s in self.stages if s.kind == "mvau"]
        # a Reshape/Transpose of the input moves no pixel through the theory's flat input
        first = next(s for s in self.stages if s.kind not in ("reshape", "transpose"))
        if any(s.kind in ("conv", "maxpool", "pad") for s in self.stages):
            return self.to_conv_theory_network()
        if first.kind != "threshold" or any(not s.params["xnor"] for s in mvaus):
            raise ConfigError("the theory model covers binary (w1a1) networks with binarized input")
        layers = []
        for s in mvaus[:-1]:
            w = 2 * s.params["w"].T.astype(np.int8) - 1
            t = 2 * s.params["t"][:, 0].astype(np.float64) - s.params["mw"]
            layers.append(BinaryLayer(w, t))
        last = mvaus[-1].params
        readout = Readout(2 * last["w"].T.astype(np.float64) - 1)
        return Network(tuple(layers), readout), first.params["t"].reshape(-1)

    def to_conv_theory_network(self):
        """A convolutional twin as the theory's network (`theory.conv`): each conv stage a
        `ConvLayer` (C weight sets, C x H x W units in NHWC order, as the injector after it sees
        them), each max-pool a noise-free `MaxPoolLayer` (OR of its window), fc stages
        `BinaryLayer`s, the last MVAU the readout. Thresholds as in `to_theory_network`
        (W.x >= 2T - MW). Returns (network, input thresholds).

        Covered: binary (XNOR) layers on a binarized single-channel input, valid (unpadded)
        windows without dilation, max-pools on binary maps; anything else is a ConfigError.
        """
        from noisybnn.theory import BinaryLayer, Network, Readout
        from noisybnn.theory.conv import ConvLayer, MaxPoolLayer

        body = list(self.stages)
        while body and body[0].kind in ("reshape", "transpose"):
            body.pop(0)
        if not body or body[0].kind != "threshold" or body[0].params["bipolar"]:
            raise ConfigError("the theory model covers binary (w1a1) networks with binarized input")
        compute = [s for s in body if s.kind in ("conv", "mvau")]
        if any(not s.params["xnor"] for s in compute):
            raise ConfigError("the theory model covers binary (w1a1) networks with binarized input")
        if compute[-1].kind != "mvau":
            raise ConfigError("the theory model needs a fully connected readout after the convs")
        layers: list = []
        for s in body[1:]:
            p = s.params
            if s.kind == "pad":
                raise ConfigError("padded convolutions are not in the theory view (the padding "
                                  "is a constant input, not a +-1 unit); our CNNs use valid windows")
            if s.kind == "transpose":
                raise ConfigError("a transpose inside the network is not in the theory view "
                                  "(units are numbered NHWC as the stream carries them)")
            if s.kind == "conv":
                win = p["window"]
                if win.dilation != (1, 1):
                    raise ConfigError("dilated convolutions are not in the theory view")
                if not layers and win.channels != 1 and any(
                        st.kind == "transpose" for st in self.stages[:2]):
                    raise ConfigError("multi-channel inputs with a transpose: the theory's flat "
                                      "input order would differ from the images'")
                kh, kw = win.kernel
                k = (2 * p["w"].T.astype(np.int8) - 1).reshape(-1, kh, kw, win.channels)
                t = 2 * np.broadcast_to(p["t"][:, 0], (k.shape[0],)).astype(np.float64) - p["mw"]
                layers.append(ConvLayer(k, t, (*win.ifm, win.channels), win.stride))
            elif s.kind == "maxpool":
                layers.append(MaxPoolLayer((*p["ifm"], p["channels"]), p["kernel"], p["stride"]))
            elif s.kind == "mvau" and s is not compute[-1]:
                w = 2 * p["w"].T.astype(np.int8) - 1
                t = 2 * p["t"][:, 0].astype(np.float64) - p["mw"]
                layers.append(BinaryLayer(w, t))
        readout = Readout(2 * compute[-1].params["w"].T.astype(np.float64) - 1)
        return Network(tuple(layers), readout), body[0].params["t"].reshape(-1)

    def theory_hidden_of_injectors(self) -> list[int]:
        """For each injector (graph order), the index of the theory hidden layer it follows
        (`to_theory_network`: conv, max-pool and fc stages each make one hidden layer)."""
        out, hidden, compute = [], -1, [s for s in self.stages if s.kind in ("conv", "mvau")]
        for s in self.stages:
            if s.kind in ("conv", "maxpool") or (s.kind == "mvau" and s is not compute[-1]):
                hidden += 1
            elif s.kind == "inject":
                out.append(hidden)
        return out

    # --- execution ---------------------------------------------------------------------------
    def _run(self, x: np.ndarray, call_size: int) -> np.ndarray:
        n = len(x)
        v = x
        inj = 0
        for stage in self.stages:
            if stage.kind == "inject":
                if isinstance(v, _Bits):  # an fc layer's bits, (images, neurons)
                    v = self._inject(inj, v, n, call_size)
                else:  # a conv layer's map: pixels x channels vectors per image
                    shape = v.shape
                    v = self._inject(inj, v.reshape(-1, shape[-1]), n, call_size).reshape(shape)
                if self._trace is not None:
                    self._trace[inj].append(_values(v).reshape(n, -1).astype(np.int8))
                inj += 1
            elif stage.kind == "conv":
                v = self._conv(stage.params, _values(v))
            elif stage.kind in sim_conv.KINDS:
                v = sim_conv.apply_shape_stage(stage.kind, stage.params, _values(v))
            else:
                # an fc layer after a conv: flatten the NHWC map
                if stage.kind == "mvau" and not isinstance(v, _Bits) and v.ndim > 2:
                    v = v.reshape(n, -1)
                v = self._apply_plain(stage, v)
        self._vectors_done += n
        return np.rint(_values(v)).astype(np.int64)

    def _apply_plain(self, stage: _Stage, v: np.ndarray) -> np.ndarray:
        p = stage.params
        if not (stage.kind == "mvau" and p["xnor"] and self.kernel == "xnor"):
            v = _values(v)
        elif isinstance(v, _Bits):
            v = v.words  # an XNOR layer reads the packed bits as they are
        if stage.kind == "threshold":
            if v.dtype == np.uint8 and p["pixel_t"] is not None:
                if p.get("feeds_xnor") and self.kernel == "xnor" and np.ndim(p["pixel_t"]) == 0 \
                        and v.ndim == 2:  # binarize and pack for the XNOR layer in one pass
                    return _Bits(kernels.threshold_pack(v, p["pixel_t"]), v.shape[1], 0.0)
                return v >= p["pixel_t"]
            return _bipolar_if(_thresholds_apply(v, p["t"], p["act"]), p["bipolar"])
        if stage.kind == "mvau":
            if self.kernel == "xnor" and "fire_t" in p:  # count and compare in one pass
                xp = v if v.dtype == np.uint64 else pack_rows(kernels.as_bits(v))
                return _Bits(kernels.xnor_fire_packed(xp, p["wpacked"], p["wchunks"], p["mw"],
                                                      p["fire_t"]), p["wpacked"].shape[0],
                             -1.0 if p["bipolar"] else 0.0)
            return _mvau_activation(self._matmul(v, p), p)
        if stage.kind == "mul":
            return v * p["c"]
        if stage.kind == "add":
            return v + p["c"]
        raise AssertionError(stage.kind)

    def _matmul(self, v: np.ndarray, p: dict) -> np.ndarray:
        if not p["xnor"]:
            return v.astype(np.float32, copy=False) @ p["w"]
        if self.kernel == "xnor":
            if v.dtype == np.uint64:  # packed bits of the layer before
                return kernels.xnor_matches_packed(v, p["wpacked"], p["mw"])
            return kernels.xnor_matches(v, p["wpacked"], p["mw"])
        if self.kernel == "xnor-numpy":
            return kernels.xnor_matches_numpy(v, p["wpacked"], p["mw"])
        # matches = sum x*w + (1-x)(1-w) = MW - sum(x) - sum(w) + 2 x.w; every term is an
        # integer below 2^24, so float32 arithmetic is exact.
        v = v.astype(np.float32, copy=False)
        dot = v @ p["w"]
        return (p["mw"] - v.sum(axis=1, keepdims=True)) - p["wsum"][None, :] + 2 * dot

    def _conv(self, p: dict, v: np.ndarray) -> np.ndarray:
        """A sliding window + MVAU on (N, H, W, C) maps: the compiled bit-packed kernel, or im2col
        and the fully connected path of the chosen kernel (numpy XNOR, GEMM; multi-bit layers)."""
        win = p["window"]
        if self.kernel == "xnor" and p["xnor"]:
            if "fire_t" in p:
                return conv_kernels.conv_xnor_fire(v, p["wt"], win, p["fire_t"],
                                                   -1.0 if p["bipolar"] else 0.0)
            return _mvau_activation(conv_kernels.conv_xnor_matches(v, p["wt"], win), p)
        cols = conv_kernels.im2col(v, win)
        n, oh, ow, mw = cols.shape
        out = self._apply_plain(_Stage("mvau", p), cols.reshape(-1, mw))
        return out.reshape(n, oh, ow, -1)

    def _inject(self, index: int, v: np.ndarray, n: int, call_size: int) -> np.ndarray:
        p = self.injector_stages[index].params
        s = self._setting
        active = s.mode != "off" and (s.layers is None or p["layer"] in s.layers)
        if not active:
            return v
        bits, neurons = p["bits"], p["neurons"]
        mode = Mode.parse(s.mode)
        threshold = threshold_from_p(s.p) if mode is Mode.FLIP else 0
        if mode is Mode.FLIP and threshold == 0:
            return v
        if mode is Mode.FLIP and isinstance(v, _Bits) and bits == 1:  # packed masks, in place
            self._flips[index] += kernels.xor_masks(v.words, self._flip_words(index, p, n, call_size,
                                                                              threshold),
                                                    self._fault_words(p))
            return v
        v = _values(v)
        if mode is Mode.FLIP and p["dtype"] in ("BINARY", "BIPOLAR"):
            # binary layers: a flipped neuron takes the other of its two values (one fused pass)
            u = self._call_stream(index, p, n, call_size).reshape(-1, neurons)
            out, count = kernels.flip_two_valued(v, u, threshold, s.fault_masks.get(p["layer"]),
                                                 p["dtype"] == "BIPOLAR")
            self._flips[index] += count
            return out
        codes = _to_codes(v, p["dtype"], bits)
        if mode is Mode.FLIP:
            flips = self._flip_mask(index, p, n, call_size, threshold)  # (n, neurons, bits)
            xor = (flips.astype(np.int64) << np.arange(bits)).sum(axis=2)
            out = codes ^ xor
        else:
            mask = s.fault_masks.get(p["layer"])
            hit = np.ones(neurons, bool) if mask is None else np.asarray(mask, dtype=bool)
            forced = 0 if mode is Mode.STUCK0 else (1 << bits) - 1
            out = np.where(hit[None, :], forced, codes)
        self._flips[index] += int(np.bitwise_count((out ^ codes).astype(np.uint64)).sum())
        return _from_codes(out, p["dtype"], bits)

    def _call_stream(self, index: int, p: dict, n: int, call_size: int) -> np.ndarray:
        """uint16 (n * pixels * NF, PE * bits): the injector's lane samples for the next n images."""
        nf = p["neurons"] // p["pe"] * p["pixels"]
        u_call = self._call_samples.get(index)
        if u_call is None:
            seed = derive_layer_seed(self._setting.seed, p["layer"])
            u_call = self._samples(p, seed, call_size)
            self._call_samples[index] = u_call
        offset = (self._vectors_done - self._call_start) * nf
        return u_call[offset : offset + n * nf]

    def _flip_words(self, index: int, p: dict, n: int, call_size: int,
                    threshold: int) -> np.ndarray:
        """Packed flip masks uint64 (n, ceil(neurons / 64)) of an fc injector for the next n
        images: drawn straight from the stream where the fused kernel takes the lane count (the
        samples are never stored), else from the call's samples."""
        lanes = p["pe"]
        if kernels.fused_lanes_ok(lanes) and p["pixels"] == 1:
            seed = derive_layer_seed(self._setting.seed, p["layer"])
            return kernels.flip_masks(seed_word(seed), lanes, n, p["neurons"], threshold,
                                      self._vectors_done * (p["neurons"] // lanes))
        u = self._call_stream(index, p, n, call_size)
        return kernels.sample_masks(u, threshold, p["neurons"])

    def _fault_words(self, p: dict) -> np.ndarray | None:
        """The fault mask of an injector's layer packed like its outputs (None: every neuron)."""
        mask = self._setting.fault_masks.get(p["layer"])
        if mask is None:
            return None
        key = (p["layer"], id(mask))
        cached = self._fault_cache.get(key)
        if cached is None or cached[0] is not mask:
            cached = (mask, pack_rows(np.asarray(mask, dtype=bool)[None, :])[0])
            self._fault_cache[key] = cached
        return cached[1]

    def _flip_mask(self, index: int, p: dict, n: int, call_size: int,
                   threshold: int) -> np.ndarray:
        """Bool (n, neurons, bits): which bits of the next n vectors the injector inverts."""
        u = self._call_stream(index, p, n, call_size)
        flips = u < np.uint16(threshold) if threshold < 1 << 16 else np.ones(u.shape, bool)
        flips = flips.reshape(-1, p["neurons"], p["bits"])  # lane = pe * bits + bit
        mask = self._setting.fault_masks.get(p["layer"])
        if mask is not None:
            flips &= np.asarray(mask, dtype=bool)[None, :, None]
        return flips

    def _samples(self, p: dict, seed: int, n: int) -> np.ndarray:
        """Lane samples for vectors [done, done + n) of this injector; cached per seed.

        A sweep over p at a fixed seed sees the same samples (only the threshold changes), so
        the stream is drawn once per seed and reused."""
        nf = p["neurons"] // p["pe"] * p["pixels"]
        start = self._vectors_done * nf
        key = (p["layer"], seed, p["pe"], p["bits"], start, n * nf)
        cached = self._sample_cache.get(key)
        if cached is None:
            lanes, beats = p["pe"] * p["bits"], n * nf
            buf = self._reusable_buffer((beats + 1) * lanes)
            cached = kernels.lane_stream_into(buf, seed_word(seed), lanes, beats, start)
            self._sample_cache[key] = cached
        return cached

    def _reusable_buffer(self, size: int) -> np.ndarray:
        """A uint16 buffer of `size` for a new stream: the oldest cached stream's memory when
        the cache is over its budget (memory already touched: no page faults), else a new one.
        Streams of the running call are never taken."""
        in_use = {id(a) for a in self._call_samples.values()}
        total = sum(a.base.nbytes if a.base is not None else a.nbytes
                    for a in self._sample_cache.values())
        reuse = None
        while total > _SAMPLE_CACHE_BYTES:
            old = next((k for k, a in self._sample_cache.items() if id(a) not in in_use), None)
            if old is None:
                break
            arr = self._sample_cache.pop(old)
            base = arr.base if arr.base is not None else arr
            total -= base.nbytes
            if reuse is None and base.dtype == np.uint16 and base.size >= size and base.ndim == 1:
                reuse = base
        return reuse if reuse is not None else kernels.empty_samples(size)


_BLAS_CONTROLLER = None


@contextlib.contextmanager
def _single_blas_thread():
    """Small GEMMs run faster on one BLAS thread (measured 3x on 2 busy cores). The controller
    is made once: building it scans the loaded libraries (~1.5 ms, as long as a TFC run)."""
    global _BLAS_CONTROLLER
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        yield
        return
    if _BLAS_CONTROLLER is None:
        _BLAS_CONTROLLER = ThreadpoolController()
    with _BLAS_CONTROLLER.limit(limits=1, user_api="blas"):
        yield


def _bitwidth(dtype: str) -> int:
    if dtype in ("BINARY", "BIPOLAR"):
        return 1
    digits = "".join(ch for ch in dtype if ch.isdigit())
    if not digits:
        raise ModelFormatError(f"injector data type {dtype!r} is not an integer type")
    return int(digits)


def _to_codes(v: np.ndarray, dtype: str, bits: int) -> np.ndarray:
    iv = np.rint(v).astype(np.int64)
    if dtype == "BIPOLAR":
        return (iv + 1) // 2
    return iv & ((1 << bits) - 1)


def _from_codes(codes: np.ndarray, dtype: str, bits: int) -> np.ndarray:
    if dtype == "BIPOLAR":
        return (2 * codes - 1).astype(np.float32)
    if dtype.startswith("INT"):
        half = 1 << (bits - 1)
        codes = np.where(codes >= half, codes - (1 << bits), codes)
    return codes.astype(np.float32)
