"""The NoiseInjector op after a convolution: FINN's NHWC stream, channels over pixels.

The contract (docs/injector.md, "After a convolution"): image i, pixel (h, w), fold f is beat
b = ((i * H + h) * W + w) * NF + f; lane p carries channel c = f * PE + p. Checked here against
the op's python execution (the level FINN runs), written out index by index, so a reshape that
silently reorders pixels or channels fails.
"""

import numpy as np
import pytest
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.util.basic import qonnx_make_model

from noisybnn.compile.registry import FPGADATAFLOW, register_ops
from noisybnn.hw import InjectorConfig, Mode, threshold_from_p
from noisybnn.hw.injector import flip_bits

register_ops()


def _injector(n, h, w, c, pe, **attrs):
    shape = [n, h, w, c]
    node = helper.make_node("NoiseInjector", ["x"], ["y"], domain=FPGADATAFLOW,
                            backend="fpgadataflow", NumChannels=c, PE=pe,
                            numInputVectors=shape[:-1], dataType="BIPOLAR", **attrs)
    graph = helper.make_graph([node], "inj", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)])
    model = ModelWrapper(qonnx_make_model(graph))
    model.set_tensor_datatype("x", DataType["BIPOLAR"])
    return model, getCustomOp(model.graph.node[0])


def _run(model, op, x):
    ctx = {"x": x, "y": np.zeros_like(x)}
    op.execute_node(ctx, model.graph)
    return ctx["y"]


@pytest.mark.parametrize("pe", [1, 4, 8])
def test_flip_lanes_follow_the_contract_beat_by_beat(pe):
    n, h, w, c = 3, 5, 4, 8
    p, seed = 0.2, 99
    model, op = _injector(n, h, w, c, pe, mode="flip", threshold=threshold_from_p(p), seed=seed)
    rng = np.random.default_rng(0)
    x = rng.choice([-1.0, 1.0], size=(n, h, w, c)).astype(np.float32)
    y = _run(model, op, x)
    nf = c // pe
    flips = flip_bits(InjectorConfig(neurons=c, pe=pe, mode=Mode.FLIP,
                                     threshold=threshold_from_p(p), seed=seed),
                      n * h * w * nf)[:, :, 0]
    expected = x.copy()
    for i in range(n):
        for hh in range(h):
            for ww in range(w):
                for f in range(nf):
                    b = ((i * h + hh) * w + ww) * nf + f
                    for lane in range(pe):
                        if flips[b, lane]:
                            expected[i, hh, ww, f * pe + lane] *= -1
    assert np.array_equal(y, expected)
    # a size that can fail: 480 bits at p = 0.2 flip ~96 (sd ~8.8); none or all would show
    changed = int((y != x).sum())
    assert 50 < changed < 150


def test_stuck_channel_is_stuck_at_every_pixel():
    n, h, w, c, pe = 2, 3, 3, 8, 4
    mask = [ch in (1, 6) for ch in range(c)]
    model, op = _injector(n, h, w, c, pe, mode="stuck0", seed=5, fault_mask=[int(m) for m in mask])
    x = np.ones((n, h, w, c), dtype=np.float32)
    y = _run(model, op, x)
    assert np.all(y[..., 1] == -1) and np.all(y[..., 6] == -1)
    keep = [ch for ch in range(c) if not mask[ch]]
    assert np.all(y[..., keep] == 1)


def test_stream_continues_over_images_of_one_run():
    """Image 2 of a batch sees beats H*W*NF*2 onwards, not a restarted stream."""
    n, h, w, c, pe = 3, 2, 2, 4, 2
    model, op = _injector(n, h, w, c, pe, mode="flip", threshold=threshold_from_p(0.5), seed=3)
    x = -np.ones((n, h, w, c), dtype=np.float32)
    y = _run(model, op, x)
    assert not np.array_equal(y[0], y[1]) or not np.array_equal(y[1], y[2])
    one, op1 = _injector(1, h, w, c, pe, mode="flip", threshold=threshold_from_p(0.5), seed=3)
    assert np.array_equal(_run(one, op1, x[:1]), y[:1])
