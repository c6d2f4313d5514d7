"""Graph passes that prepare a CNN's input layer for FINN's streamlining (qonnx `Transformation`s).

FINN streamlines a conv net by moving every scale and shift past the convolutions
(`MoveScalarMulPastConv`, `MoveAddPastConv`) into the next thresholds, before it lowers the
convolutions to Im2Col + MatMul; after the lowering nothing moves past an Im2Col but a scale
(`MoveScalesPastIm2Col`). Two input layers leave something in front of the first convolution
that FINN's own passes do not take apart:

* a binarized input feeding a multi-bit (e.g. w2a2) first layer: the input MultiThreshold emits
  {-1, +1} as out_scale 2, out_bias -1 (FINN's XNOR conversion takes that apart only for binary
  weights). `SplitScaledThresholdsBeforeConv` writes them as Mul + Add after a {0, 1}
  MultiThreshold, as FINN's `ExtractMultiThresholdScaleBias` does, but only where a non-binary
  weight layer consumes the levels, and before FINN's streamlining so its Conv reorderings take
  them (x = 2b - 1: W x = 2 W b - W 1).
* an 8-bit pixel input (in_bits 8): the input quantizer is a 255-step MultiThreshold on pixel / 255
  with out_scale 1/255. With the x / 255 preprocessing absorbed its thresholds are the half-
  integers 0.5 .. 254.5 on the raw pixel, i.e. the identity on UINT8: `RemoveIdentityInputThresholds`
  drops it, so the first MVAU takes the UINT8 pixel itself (FINN's CNV on CIFAR-10 does the same:
  its first layer is an MVAU on UINT8).
"""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation
from qonnx.transformation.infer_datatypes import InferDataTypes
from qonnx.transformation.infer_shapes import InferShapes

from noisybnn.errors import NoisyBNNError

#: layout-only nodes a scale may pass on its way to the weight layer
_LAYOUT_OPS = ("Transpose", "Reshape", "Flatten")
_WEIGHT_OPS = ("Conv",)


def _weight_consumers(model: ModelWrapper, tensor: str) -> list:
    """The Conv nodes that read `tensor`, through layout-only nodes; [] if anything else
    (or nothing) reads it."""
    found = []
    consumers = model.find_consumers(tensor) or []
    if not consumers:
        return []
    for node in consumers:
        if node.op_type in _WEIGHT_OPS and node.input[0] == tensor:
            found.append(node)
        elif node.op_type in _LAYOUT_OPS:
            deeper = _weight_consumers(model, node.output[0])
            if not deeper:
                return []
            found += deeper
        else:
            return []
    return found


def _binary_weights(model: ModelWrapper, node) -> bool:
    return model.get_tensor_datatype(node.input[1]) in (DataType["BIPOLAR"], DataType["BINARY"])


class SplitScaledThresholdsBeforeConv(Transformation):
    """MultiThreshold(out_scale s, out_bias b) -> MultiThreshold (counts) -> Mul(s) -> Add(b),
    where only Conv layers with non-binary weights read it (a binary-weight consumer keeps the
    bipolar form for FINN's XNOR conversion). Run before FINN's `Streamline`. (An MLP's first
    MatMul takes the same Mul and Add from `steps.step_extract_threshold_scales`, after
    streamlining: nothing is lowered there.)"""

    def apply(self, model: ModelWrapper):
        graph = model.graph
        for node in graph.node:
            if node.op_type != "MultiThreshold":
                continue
            op = getCustomOp(node)
            scale, bias = float(op.get_nodeattr("out_scale")), float(op.get_nodeattr("out_bias"))
            if scale == 1.0 and bias == 0.0:
                continue
            layers = _weight_consumers(model, node.output[0])
            if not layers or any(_binary_weights(model, n) for n in layers):
                continue
            out = node.output[0]
            shape = model.get_tensor_shape(out)
            steps = model.get_initializer(node.input[1]).shape[-1]
            counts = DataType["BINARY"] if steps == 1 else DataType[f"UINT{int(steps).bit_length()}"]
            mid, mid2 = model.make_new_valueinfo_name(), model.make_new_valueinfo_name()
            s_name, b_name = model.make_new_valueinfo_name(), model.make_new_valueinfo_name()
            model.set_initializer(s_name, np.asarray(scale, dtype=np.float32))
            model.set_initializer(b_name, np.asarray(bias, dtype=np.float32))
            node.output[0] = mid
            op.set_nodeattr("out_scale", 1.0)
            op.set_nodeattr("out_bias", 0.0)
            op.set_nodeattr("out_dtype", counts.name)
            pos = list(graph.node).index(node)
            graph.node.insert(pos + 1, helper.make_node("Mul", [mid, s_name], [mid2],
                                                        name=f"{node.name}_scale"))
            graph.node.insert(pos + 2, helper.make_node("Add", [mid2, b_name], [out],
                                                        name=f"{node.name}_bias"))
            for t in (mid, mid2):
                model.set_tensor_shape(t, shape, TensorProto.FLOAT)
            model.set_tensor_datatype(mid, counts)
            model = model.transform(InferShapes()).transform(InferDataTypes())
            return model, True
        return model, False


def is_identity_on_uint8(model: ModelWrapper, node) -> bool:
    """A MultiThreshold on a UINT8 tensor whose thresholds are k - 1/2 for k = 1..255 (every
    channel) with out_scale 1 and out_bias 0: it outputs its input."""
    if node.op_type != "MultiThreshold" or model.get_tensor_datatype(node.input[0]) != DataType["UINT8"]:
        return False
    op = getCustomOp(node)
    if float(op.get_nodeattr("out_scale")) != 1.0 or float(op.get_nodeattr("out_bias")) != 0.0:
        return False
    t = model.get_initializer(node.input[1])
    if t is None or t.shape[-1] != 255:
        return False
    # any threshold in (k-1, k] decides the integer input like k - 1/2
    k = np.arange(1, 256, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64).reshape(-1, 255)
    return bool(np.all((t > k - 1) & (t <= k)))


class RemoveIdentityInputThresholds(Transformation):
    """Drop a MultiThreshold that is the identity on its UINT8 input (`is_identity_on_uint8`):
    its consumers read the pixel itself."""

    def apply(self, model: ModelWrapper):
        graph = model.graph
        for node in graph.node:
            if not is_identity_on_uint8(model, node):
                continue
            src, out = node.input[0], node.output[0]
            if any(o.name == out for o in graph.output):
                continue
            for other in graph.node:
                for i, name in enumerate(other.input):
                    if name == out:
                        other.input[i] = src
            graph.node.remove(node)
            model = model.transform(InferShapes()).transform(InferDataTypes())
            return model, True
        return model, False


class UnsupportedLayerError(NoisyBNNError, ValueError):
    """A layer of the exported network that FINN's conversion left as a plain ONNX node."""


#: host-side nodes allowed at the ends of the graph (FINN leaves the input/output layout there)
_HOST_OPS = ("Reshape", "Transpose", "Flatten")

_WHY = {
    "Im2Col": "a scale or shift that streamlining did not move past the convolution sits in front "
              "of the sliding window (FINN builds sliding windows on integer inputs only; a padded "
              "conv or a per-channel input scale stops the move)",
    "MatMul": "its input or weights are not integers (a float scale streamlining did not absorb)",
    "Conv": "the convolution was not lowered (FINN lowers 2D convs without groups)",
    "MultiThreshold": "FINN's thresholding needs out_scale 1 and an integer out_bias",
    "MaxPoolNHWC": "FINN converts max-pools on integer inputs only",
}


def check_hw_layers(model: ModelWrapper) -> None:
    """Raise `UnsupportedLayerError` (one line) for the first plain node between FINN layers."""
    nodes = list(model.graph.node)
    hw = [n.domain.startswith("finn.custom_op.fpgadataflow") for n in nodes]
    if not any(hw):
        raise UnsupportedLayerError("FINN converted no layer of the network to hardware; the "
                                    "FINN flow supports streamlined integer MLPs and CNNs")
    first, last = hw.index(True), len(hw) - 1 - hw[::-1].index(True)
    for i, node in enumerate(nodes):
        if hw[i] or ((i < first or i > last) and node.op_type in _HOST_OPS):
            continue
        dt = model.get_tensor_datatype(node.input[0]) if node.input else None
        why = _WHY.get(node.op_type, "FINN has no hardware layer for it")
        raise UnsupportedLayerError(
            f"not supported by the FINN flow: {node.op_type} node {node.name} (input "
            f"{dt.name if dt is not None else '?'}) is left between hardware layers: {why}")
