"""The sim's integer conv path (float32 GEMM on im2col) is exact where FINN's layers are integer:
8-bit pixels x +-1 weights (the first layer of an 8-bit-input CNN) and 2-bit x 2-bit (w2a2),
checked against int64 arithmetic, worst cases included (every pixel 255, every weight +1)."""

import numpy as np
import pytest

from noisybnn.backends import conv_kernels
from noisybnn.backends.conv_kernels import Window


def _win(hw=(28, 28), c=1, k=(3, 3)):
    ofm = (hw[0] - k[0] + 1, hw[1] - k[1] + 1)
    return Window(ifm=hw, channels=c, kernel=k, stride=(1, 1), dilation=(1, 1), ofm=ofm)


def _int64_conv(x: np.ndarray, w: np.ndarray, win: Window) -> np.ndarray:
    cols = conv_kernels.im2col(x.astype(np.int64), win)
    return np.einsum("nhwk,km->nhwm", cols, w.astype(np.int64))


@pytest.mark.parametrize("channels", [1, 3, 64])
def test_uint8_times_bipolar_is_exact(channels):
    rng = np.random.default_rng(channels)
    win = _win(hw=(12, 10), c=channels)
    x = rng.integers(0, 256, size=(3, 12, 10, channels)).astype(np.uint8)
    x[0] = 255  # largest sums: 255 * MW, one sign everywhere
    w = rng.choice([-1, 1], size=(win.mw, 7)).astype(np.float32)
    w[:, 0] = 1
    got = conv_kernels.conv_gemm(x, w, win)
    want = _int64_conv(x, w, win)
    assert got.dtype == np.float32
    assert np.array_equal(got.astype(np.int64), want)
    assert want[0, :, :, 0].min() == 255 * win.mw  # the worst case was reached


def test_int2_times_int2_is_exact():
    rng = np.random.default_rng(5)
    win = _win(hw=(9, 9), c=64)
    x = rng.integers(-1, 2, size=(2, 9, 9, 64)).astype(np.float32)
    w = rng.integers(-1, 2, size=(win.mw, 11)).astype(np.float32)
    assert np.array_equal(conv_kernels.conv_gemm(x, w, win).astype(np.int64),
                          _int64_conv(x, w, win))
