"""FINN python execution of a twin image by image, with each injector's flip count: the reference
run that the software accelerator is compared with (tests, bench).

Each image is its own run (injectors start from their seed), as `execute_batched` runs conv
graphs; the flip count of an injector is the number of stream bits its output differs from its
input in, what the hardware's counter counts.
"""

from __future__ import annotations

import contextlib

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper

from noisybnn.compile.execute import SetBatchSize, compiled_injector_stream


def finn_runs(model: ModelWrapper, images: np.ndarray, compiled_stream: bool = True):
    """(integer logits (N, classes), flips (N, injectors)): one FINN run per image."""
    import qonnx.core.onnx_exec as oxe

    from noisybnn.compile.registry import register_ops
    from noisybnn.compile.transforms import injectors

    register_ops()
    m = model.transform(SetBatchSize(1))
    in_name, out_name = m.graph.input[0].name, m.graph.output[0].name
    in_shape = m.get_tensor_shape(in_name)
    inj = [(n.input[0], n.output[0], m.get_tensor_datatype(n.input[0])) for n in injectors(m)]
    logits, flips = [], []
    with compiled_injector_stream() if compiled_stream else contextlib.nullcontext():
        for img in np.asarray(images):
            x = img.reshape(in_shape).astype(np.float32)
            ctx = oxe.execute_onnx(m, {in_name: x}, return_full_exec_context=True)
            logits.append(ctx[out_name].reshape(-1))
            flips.append([_changed_bits(ctx[a], ctx[b], dt) for a, b, dt in inj])
    flips = np.array(flips, dtype=np.int64).reshape(len(logits), len(inj))
    return np.rint(np.array(logits)).astype(np.int64), flips


def _changed_bits(before: np.ndarray, after: np.ndarray, dt) -> int:
    from noisybnn.compile.ops import values_to_codes

    diff = values_to_codes(before, dt) ^ values_to_codes(after, dt)
    return int(np.bitwise_count(diff.astype(np.uint64)).sum())

