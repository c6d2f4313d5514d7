"""The software accelerator's convolution kernels against code the project did not write: qonnx's
Im2Col (what FINN's ConvolutionInputGenerator executes), qonnx's XNOR-popcount matmul (what FINN's
MVAU executes in binaryXnorMode) and torch's max_pool2d."""

import dataclasses

import numpy as np
import pytest
import torch
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.general.xnorpopcount import xnorpopcountmatmul
from qonnx.util.basic import qonnx_make_model

from noisybnn.backends import conv_kernels, kernels
from noisybnn.backends.conv_kernels import Window
from noisybnn.backends.kernels import pack_rows

# (IFMDim, channels, kernel, stride, dilation): channel counts below, at and across 64-bit words
GEOMETRIES = [
    ((7, 7), 1, (3, 3), (1, 1), (1, 1)),
    ((6, 5), 32, (3, 3), (1, 1), (1, 1)),
    ((6, 6), 64, (3, 3), (1, 1), (1, 1)),
    ((8, 7), 70, (3, 2), (2, 1), (1, 1)),
    ((9, 9), 5, (3, 3), (1, 2), (2, 1)),
    ((8, 8), 130, (2, 2), (2, 2), (1, 1)),
]


def _window(ifm, c, k, s, d) -> Window:
    win = Window(ifm=ifm, channels=c, kernel=k, stride=s, dilation=d, ofm=(0, 0))
    return dataclasses.replace(win, ofm=win.expected_ofm())


def _qonnx_im2col(x: np.ndarray, win: Window) -> np.ndarray:
    """qonnx's Im2Col node, executed by qonnx (as FINN's ConvolutionInputGenerator does), one
    image per call: its batched execution mixes images (see compile.execute.execute_batched)."""
    if x.shape[0] != 1:
        return np.concatenate([_qonnx_im2col(x[i : i + 1], win) for i in range(x.shape[0])])
    import qonnx.core.onnx_exec as oxe

    n, h, w, c = x.shape
    out_shape = (n, *win.ofm, win.mw)
    node = helper.make_node("Im2Col", ["x"], ["y"], domain="qonnx.custom_op.general",
                            stride=list(win.stride), kernel_size=list(win.kernel),
                            dilations=list(win.dilation), input_shape=f"(1,{h},{w},{c})")
    graph = helper.make_graph([node], "im2col",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, x.shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)])
    model = ModelWrapper(qonnx_make_model(graph))
    model.set_tensor_datatype("x", DataType["INT8"])
    return oxe.execute_onnx(model, {"x": x.astype(np.float32)})["y"]


@pytest.mark.parametrize("geom", GEOMETRIES, ids=lambda g: f"{g[0]}x{g[1]}-k{g[2]}s{g[3]}d{g[4]}")
def test_im2col_is_qonnx_im2col(geom):
    win = _window(*geom)
    rng = np.random.default_rng(0)
    x = rng.integers(-3, 4, size=(2, *win.ifm, win.channels)).astype(np.float32)
    assert np.array_equal(conv_kernels.im2col(x, win), _qonnx_im2col(x, win))


@pytest.mark.parametrize("geom", GEOMETRIES, ids=lambda g: f"{g[0]}x{g[1]}-k{g[2]}s{g[3]}d{g[4]}")
def test_conv_xnor_kernels_equal_qonnx_xnor_popcount(geom):
    """Packed window + XOR + popcount (compiled and numpy) = qonnx's XNOR-popcount on its im2col."""
    win = _window(*geom)
    rng = np.random.default_rng(1)
    x = rng.integers(0, 2, size=(3, *win.ifm, win.channels)).astype(np.float32)
    w = rng.integers(0, 2, size=(win.mw, 11)).astype(np.float32)
    want = xnorpopcountmatmul(_qonnx_im2col(x, win), w)
    wpacked = pack_rows(w.T > 0)
    assert np.array_equal(conv_kernels.conv_xnor_matches_numpy(x, wpacked, win), want)
    got = conv_kernels.conv_xnor_matches(x, conv_kernels.transposed_weights(wpacked), win)
    assert got.dtype == np.float32 and np.array_equal(got, want)


@pytest.mark.parametrize("low", [0.0, -1.0])
def test_fused_conv_threshold_equals_count_then_compare(low):
    win = _window((6, 6), 40, (3, 3), (1, 1), (1, 1))
    rng = np.random.default_rng(2)
    x = rng.integers(0, 2, size=(4, 6, 6, 40)).astype(np.float32)
    w = rng.integers(0, 2, size=(win.mw, 9)).astype(np.float32)
    wt = conv_kernels.transposed_weights(pack_rows(w.T > 0))
    matches = conv_kernels.conv_xnor_matches(x, wt, win)
    t = rng.uniform(150, 210, size=9).round(1)
    t[0] = matches[0, 0, 0, 0]  # an exact tie fires (FINN: acc >= threshold)
    want = np.where(matches >= t, 1.0, low)
    assert np.array_equal(conv_kernels.conv_xnor_fire(x, wt, win, t, low), want)


def test_conv_gemm_equals_qonnx_im2col_matmul():
    win = _window((7, 6), 6, (3, 3), (1, 1), (1, 1))
    rng = np.random.default_rng(3)
    x = rng.integers(-2, 2, size=(2, 7, 6, 6)).astype(np.float32)
    w = rng.integers(-2, 2, size=(win.mw, 5)).astype(np.float32)
    assert np.array_equal(conv_kernels.conv_gemm(x, w, win), _qonnx_im2col(x, win) @ w)


@pytest.mark.parametrize("kernel,stride", [((2, 2), (2, 2)), ((3, 3), (2, 2)), ((2, 2), (1, 1))])
def test_max_pool_equals_torch(kernel, stride):
    rng = np.random.default_rng(4)
    x = rng.integers(0, 2, size=(3, 9, 8, 5)).astype(np.float32)  # binary: the OR of the bits
    want = torch.nn.functional.max_pool2d(torch.from_numpy(x).permute(0, 3, 1, 2), kernel, stride)
    got = conv_kernels.max_pool(x, kernel, stride)
    assert np.array_equal(got, want.permute(0, 2, 3, 1).numpy())
    assert np.array_equal(got > 0, conv_kernels.max_pool(x > 0, kernel, stride))


def test_compiled_conv_without_numba_is_numpy(monkeypatch):
    win = _window((5, 5), 3, (3, 3), (1, 1), (1, 1))
    rng = np.random.default_rng(5)
    x = rng.integers(0, 2, size=(2, 5, 5, 3)).astype(np.float32)
    wt = conv_kernels.transposed_weights(pack_rows(rng.integers(0, 2, size=(4, 27)) > 0))
    compiled = conv_kernels.conv_xnor_matches(x, wt, win)
    monkeypatch.setattr(conv_kernels, "AVAILABLE", False)
    assert np.array_equal(conv_kernels.conv_xnor_matches(x, wt, win), compiled)
    assert kernels.AVAILABLE  # the compiled path above really ran compiled
