"""Graph passes that prepare a CNN's input layer for FINN's streamlining (qonnx `Transformation`s).

FINN streamlines a conv net by moving every scale and shift past the convolutions
(`MoveScalarMulPastConv`, `MoveAddPastConv`) into the next thresholds, before it lowers the
convolutions to Im2Col + MatMul; after the lowering nothing moves past an Im2Col but a scale
(`MoveScalesPastIm2Col`). Two input layers leave something in front of the first convolution
that FINN's own passes do not take apart:

* a binarized input feeding a multi-bit (e.g. w2a2) first layer: the input MultiThreshold emits
  {-1, +1} as out_scale 2, out_bias -1, which FINN's thresholding conversion refuses (FINN's XNOR
  conversion takes it apart only for binary weights; extracting the scale as a Mul leaves a float
  in front of the sliding window, and a {0, 1} input to an INT2 MVAU FINN's HLS refuses).
  `BipolarInputThresholds` gives it FINN's own hardware encoding of BIPOLAR instead.
* an 8-bit pixel input (in_bits 8): the input quantizer is a 255-step MultiThreshold on pixel / 255
  with out_scale 1/255. With the x / 255 preprocessing absorbed its thresholds are the half-
  integers 0.5 .. 254.5 on the raw pixel, i.e. the identity on UINT8: `RemoveIdentityInputThresholds`
  drops it, so the first MVAU takes the UINT8 pixel itself (FINN's CNV on CIFAR-10 does the same:
  its first layer is an MVAU on UINT8).
"""

from __future__ import annotations

import numpy as np
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation
from qonnx.transformation.infer_datatypes import InferDataTypes
from qonnx.transformation.infer_shapes import InferShapes

from noisybnn.errors import NoisyBNNError

#: nodes the bipolar levels pass unchanged on their way to a MatMul (a conv's, after the lowering)
_PASS_OPS = ("Transpose", "Reshape", "Flatten", "Im2Col")


def _weight_matmuls(model: ModelWrapper, tensor: str) -> list:
    """The MatMul nodes (fc layers, or lowered convolutions behind an Im2Col) that read `tensor`,
    through layout-only nodes; [] if anything else (or nothing) reads it."""
    found = []
    consumers = model.find_consumers(tensor) or []
    if not consumers:
        return []
    for node in consumers:
        if node.op_type == "MatMul" and node.input[0] == tensor:
            found.append(node)
        elif node.op_type in _PASS_OPS:
            deeper = _weight_matmuls(model, node.output[0])
            if not deeper:
                return []
            found += deeper
        else:
            return []
    return found


def _binary_weights(model: ModelWrapper, node) -> bool:
    return model.get_tensor_datatype(node.input[1]) in (DataType["BIPOLAR"], DataType["BINARY"])


class BipolarInputThresholds(Transformation):
    """A MultiThreshold emitting BIPOLAR levels as out_scale 2, out_bias -1 into fc layers or
    lowered convolutions with non-binary weights: out_scale 1, out_bias 0, type BIPOLAR kept.

    That is FINN's hardware encoding of a BIPOLAR activation: its `Thresholding` layer sends the
    count (one bit) and maps it to -1/+1 itself (`2y - 1` in its execution, `ActVal` 0), and
    FINN's `InferThresholdingLayer` converts only a MultiThreshold with out_scale 1. The MVAU
    behind it then reads BIPOLAR x INT weights (`binaryXnorMode` 0), which FINN's HLS MVAU builds
    (`Recast<Binary>` on the input); a {0, 1} input with integer weights it refuses ("True binary
    (non-bipolar) inputs not yet supported"). Run immediately before `step_convert_to_hw`: a
    qonnx MultiThreshold itself does not read its out_dtype, so between the two the node counts
    0/1 while typed -1/+1.
    """

    def apply(self, model: ModelWrapper):
        for node in model.graph.node:
            if node.op_type != "MultiThreshold":
                continue
            op = getCustomOp(node)
            if op.get_nodeattr("out_dtype") != "BIPOLAR" or \
                    (float(op.get_nodeattr("out_scale")), float(op.get_nodeattr("out_bias"))) != (2.0, -1.0):
                continue
            if model.get_initializer(node.input[1]).shape[-1] != 1:
                continue
            layers = _weight_matmuls(model, node.output[0])
            if not layers or any(_binary_weights(model, n) for n in layers):
                continue
            op.set_nodeattr("out_scale", 1.0)
            op.set_nodeattr("out_bias", 0.0)
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
