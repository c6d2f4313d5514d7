"""FINN's folded-stream packing in the board bundle: round trips, the byte layout, FINN parity."""

from __future__ import annotations

import numpy as np
import pytest
from _fake_pynq import decode_beats
from noisybnn_host import packing

# datatype x values per beat (SIMD/PE); widths chosen to hit byte padding and byte crossings
DTYPES = ["UINT8", "BINARY", "BIPOLAR", "TERNARY", "UINT3", "INT4", "INT7", "INT16", "UINT13"]
SIMDS = [1, 3, 8, 16, 49]


def _random_values(dt: packing.IntType, shape, rng) -> np.ndarray:
    if dt.name == "BIPOLAR":
        return rng.choice(np.array([-1, 1]), size=shape)
    return rng.integers(dt.min, dt.max + 1, size=shape)


@pytest.mark.parametrize("simd", SIMDS)  # elements per beat
@pytest.mark.parametrize("name", DTYPES)  # element datatype
def test_pack_round_trip_and_layout(name, simd):
    rng = np.random.default_rng(simd)
    dt = packing.parse_dtype(name)
    folded = _random_values(dt, (3, 5, simd), rng)
    packed = packing.pack(folded, dt)
    assert packed.dtype == np.uint8
    assert packed.shape == (3, 5, -(-simd * dt.bits // 8))
    assert np.array_equal(packing.unpack(packed, dt, (1, 5, simd)), folded)
    # byte layout: element i at bits [i*w, (i+1)*w) of a little-endian word, per beat
    decoded = decode_beats(packed.tobytes(), simd, dt.bits, dt.signed)
    if dt.name == "BIPOLAR":
        decoded = [2 * (v & 1) - 1 for v in decoded]
    assert decoded == folded.reshape(-1).tolist()


@pytest.mark.parametrize("simd", [1, 3, 16])
@pytest.mark.parametrize("name", DTYPES)
def test_pack_matches_finn(name, simd):
    """Same bytes as FINN's finnpy_to_packed_bytearray(reverse_inner, reverse_endian)."""
    dp = pytest.importorskip("finn.util.data_packing")
    from qonnx.core.datatype import DataType

    rng = np.random.default_rng(3)
    dt = packing.parse_dtype(name)
    folded = _random_values(dt, (2, 4, simd), rng)
    finn_packed = dp.finnpy_to_packed_bytearray(
        folded.astype(np.float32), DataType[name], reverse_inner=True, reverse_endian=True
    )
    assert np.array_equal(packing.pack(folded, dt), finn_packed)
    back = dp.packed_bytearray_to_finnpy(
        packing.pack(folded, dt), DataType[name], folded.shape, reverse_inner=True,
        reverse_endian=True,
    )
    assert np.array_equal(back, folded)


def test_fold_unfold_tfc_input():
    x = np.arange(2 * 784, dtype=np.int64).reshape(2, 784) % 256
    f = packing.fold(x, (1, 49, 16))
    assert f.shape == (2, 49, 16) and f[1, 2, 3] == x[1, 2 * 16 + 3]
    assert np.array_equal(packing.unfold(f, (1, 784)), x)


@pytest.mark.parametrize(
    "text, name",
    [("UINT8", "UINT8"), ("DataType['INT4']", "INT4"), ('DataType["BIPOLAR"]', "BIPOLAR"),
     ("DataType.BINARY", "BINARY"), (" int10 ", "INT10")],
)
def test_parse_dtype_forms(text, name):
    assert packing.parse_dtype(text).name == name


@pytest.mark.parametrize("bad", ["FLOAT32", "FIXED<8,4>", "INT1", "UINT33", "hello world"])
def test_parse_dtype_rejects(bad):
    with pytest.raises(ValueError):
        packing.parse_dtype(bad)


def test_pack_rejects_values_outside_type():
    with pytest.raises(ValueError, match=r"\[0, 7\]"):
        packing.pack(np.array([[1, 8]]), "UINT3")
    with pytest.raises(ValueError, match="BIPOLAR"):
        packing.pack(np.array([[1, 0]]), "BIPOLAR")
    with pytest.raises(ValueError, match="integers"):
        packing.pack(np.array([[0.5, 1.0]]), "UINT8")


def test_unpack_rejects_wrong_shape():
    with pytest.raises(ValueError, match="expected"):
        packing.unpack(np.zeros((2, 5, 3), np.uint8), "INT7", (1, 5, 4))
    with pytest.raises(ValueError, match="cannot fold"):
        packing.fold(np.zeros((2, 780)), (1, 49, 16))
