"""FINN python execution of a twin image by image, with each injector's flip count: the reference
run that the software accelerator is compared with (tests, bench).

Each image is its own run (injectors start from their seed); the flip count of an injector is the
number of stream bits its output differs from its input in, what the hardware's counter counts.
One image per call also keeps clear of qonnx's Im2Col execution (what FINN's
ConvolutionInputGenerator runs), which mixes the images of a batch: its `im2col_indices_nchw`
orders columns image-fastest, then reads them back image-slowest (tests/experiments/
test_sim_conv_kernels.py compares with it one image at a time).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper

from noisybnn.compile.execute import SetBatchSize


@contextlib.contextmanager
def compiled_injector_stream() -> Iterator[None]:
    """Inside: the NoiseInjector op draws its lane samples from the compiled stream
    (`backends.kernels.lane_samples`, tested equal to the numpy reference `hw.injector.lane_samples`)
    instead of the numpy reference, which steps beat by beat in Python (~0.4 ms a beat): a CNN
    streams ~40,000 injector beats per image, hours for 1000 images. Every other layer is still
    FINN's own python execution."""
    from noisybnn.backends import kernels
    from noisybnn.hw import injector

    reference = injector.lane_samples
    injector.lane_samples = kernels.lane_samples if kernels.AVAILABLE else reference
    try:
        yield
    finally:
        injector.lane_samples = reference


def has_sliding_window(model: ModelWrapper) -> bool:
    """Whether the graph holds an Im2Col or ConvolutionInputGenerator (a convolution or pool)."""
    return any(n.op_type == "Im2Col" or n.op_type.startswith("ConvolutionInputGenerator")
               for n in model.graph.node)


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

