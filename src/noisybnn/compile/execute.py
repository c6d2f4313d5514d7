"""FINN python execution of a dataflow graph on many images at once (the reference level)."""

from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation
from qonnx.transformation.infer_shapes import InferShapes

from noisybnn.errors import ConfigError

_BATCH_ATTRS = ("inp_shape", "out_shape", "lhs_shape")


class SetBatchSize(Transformation):
    """Make every tensor's leading (batch) dimension `n`, for batched python execution.

    FINN layers process `numInputVectors` vectors per call, so one call on N images is far
    faster than N calls on one. Works for fully connected graphs, QONNX or FINN.
    """

    def __init__(self, n: int):
        super().__init__()
        if n < 1:
            raise ConfigError(f"batch size must be >= 1, got {n}")
        self.n = int(n)

    def apply(self, model: ModelWrapper):
        n = self.n
        dynamic = {model.graph.input[0].name}
        for node in model.graph.node:  # tensors that depend on the input carry the batch
            if any(i in dynamic for i in node.input):
                dynamic.update(node.output)
        for vi in list(model.graph.input) + list(model.graph.output) + list(model.graph.value_info):
            dims = vi.type.tensor_type.shape.dim
            if len(dims) > 1 and vi.name in dynamic:
                dims[0].dim_value = n
        for node in model.graph.node:
            if node.op_type == "Reshape" and len(node.input) > 1:
                shape = model.get_initializer(node.input[1])
                if shape is not None and len(shape) > 1 and shape[0] in (1, n):
                    shape = shape.copy()
                    shape[0] = n
                    model.set_initializer(node.input[1], shape)
            for attr in node.attribute:
                if attr.name == "numInputVectors":
                    vals = list(helper.get_attribute_value(attr))
                    attr.CopyFrom(helper.make_attribute(attr.name, [n] + vals[1:]))
                elif attr.name in _BATCH_ATTRS:
                    vals = list(helper.get_attribute_value(attr))
                    if len(vals) > 1:
                        attr.CopyFrom(helper.make_attribute(attr.name, [n] + vals[1:]))
        model = model.transform(InferShapes())
        return model, False


def execute_batched(model: ModelWrapper, images: np.ndarray, batch: int = 1000) -> np.ndarray:
    """Run FINN/qonnx python execution on uint8 images (N, 28, 28); return integer logits.

    Each call of the graph is one run of the accelerator: noise injectors restart their streams
    from the seed at every call, so for injector parity pass `batch >= len(images)`.
    """
    import qonnx.core.onnx_exec as oxe

    from noisybnn.compile.registry import register_ops

    register_ops()

    imgs = np.asarray(images)
    in_name = model.graph.input[0].name
    out_name = model.graph.output[0].name
    in_shape = model.get_tensor_shape(in_name)
    outs = []
    cache: dict[int, ModelWrapper] = {}
    for start in range(0, len(imgs), batch):
        chunk = imgs[start : start + batch]
        m = cache.get(len(chunk))
        if m is None:
            m = model.transform(SetBatchSize(len(chunk)))
            cache[len(chunk)] = m
        x = chunk.reshape([len(chunk)] + list(in_shape[1:])).astype(np.float32)
        outs.append(oxe.execute_onnx(m, {in_name: x})[out_name])
    return np.rint(np.concatenate(outs)).astype(np.int64)
