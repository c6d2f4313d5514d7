"""FINN's folded-stream packing, on numpy alone, so the board needs no compiler stack.

The accelerator reads and writes its AXI streams through DMA as rows of bytes. FINN's conventions
(`finn.util.data_packing` with ``reverse_inner=True, reverse_endian=True``, as its PYNQ driver
uses them):

* **fold**: a tensor in its normal shape, e.g. ``(N, 784)``, is reshaped to the folded shape
  ``(N, 784 / SIMD, SIMD)``; each innermost row is one stream beat.
* **pack**: element ``i`` of a beat occupies bits ``[i * w, (i + 1) * w)`` of one little-endian
  integer, ``w`` the bit width of the datatype (two's complement for signed types, ``-1 -> 0`` for
  BIPOLAR). The integer is padded with zero bits up to whole bytes and stored least significant
  byte first: a beat of ``SIMD`` elements takes ``ceil(SIMD * w / 8)`` bytes.
* **unpack / unfold** undo the two steps for the output stream.

`tests/host/test_host_packing.py` checks these functions against FINN's own where FINN is installed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

__all__ = [
    "IntType",
    "fold",
    "pack",
    "packed_shape",
    "parse_dtype",
    "unfold",
    "unpack",
]

_NAME_RE = re.compile(
    r"""^\s*(?:DataType\s*(?:\[\s*['"]?|\.)\s*)?(?P<name>[A-Za-z]+\d*)\s*(?:['"]?\s*\])?\s*$"""
)


@dataclass(frozen=True)
class IntType:
    """An integer FINN datatype: UINTn, INTn, BINARY, BIPOLAR or TERNARY."""

    name: str
    bits: int
    signed: bool
    #: Smallest and largest value the type holds.
    min: int
    max: int

    def check(self, values: np.ndarray, what: str = "values") -> None:
        """Raise ValueError if `values` are not all representable in this type."""
        arr = np.asarray(values)
        if arr.size == 0:
            return
        if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.bool_)):
            if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
                raise ValueError(f"{what} must be integers for datatype {self.name}")
        lo, hi = arr.min(), arr.max()
        if lo < self.min or hi > self.max:
            raise ValueError(
                f"{what} must lie in [{self.min}, {self.max}] for datatype {self.name}, "
                f"got values in [{lo}, {hi}]"
            )
        if self.name == "BIPOLAR" and np.any(arr == 0):
            raise ValueError(f"{what} must be -1 or +1 for datatype BIPOLAR")

    def to_codes(self, values: np.ndarray) -> np.ndarray:
        """Unsigned bit patterns (uint64) of the values: two's complement, BIPOLAR -1 -> 0."""
        v = np.asarray(values).astype(np.int64)
        if self.name == "BIPOLAR":
            v = (v + 1) // 2
        return v.astype(np.uint64) & np.uint64((1 << self.bits) - 1)

    def from_codes(self, codes: np.ndarray) -> np.ndarray:
        """Values (int64) of unsigned bit patterns; inverse of `to_codes`."""
        c = np.asarray(codes, dtype=np.uint64)
        if self.name == "BIPOLAR":
            return c.astype(np.int64) * 2 - 1
        if not self.signed:
            return c.astype(np.int64)
        sign = np.uint64(1 << (self.bits - 1))
        v = c.astype(np.int64)
        return np.where((c & sign) != 0, v - (1 << self.bits), v)


def parse_dtype(name: str) -> IntType:
    """An IntType from a FINN datatype name: "UINT8", "INT10", "DataType['BIPOLAR']", ...

    Raises ValueError for names that are not integer types of at most 32 bits.
    """
    if isinstance(name, IntType):
        return name
    m = _NAME_RE.match(str(name))
    if not m:
        raise ValueError(f"cannot read a FINN datatype from {name!r}; expected e.g. 'UINT8'")
    n = m.group("name").upper()
    if n == "BINARY":
        return IntType("BINARY", 1, False, 0, 1)
    if n == "BIPOLAR":
        return IntType("BIPOLAR", 1, True, -1, 1)
    if n == "TERNARY":
        return IntType("TERNARY", 2, True, -1, 1)
    im = re.fullmatch(r"(U?)INT(\d+)", n)
    if im:
        bits = int(im.group(2))
        if not 1 <= bits <= 32:
            raise ValueError(f"datatype {n}: this driver handles bit widths 1..32")
        if im.group(1):
            return IntType(n, bits, False, 0, (1 << bits) - 1)
        if bits < 2:
            raise ValueError(f"datatype {n}: signed types need at least 2 bits")
        return IntType(n, bits, True, -(1 << (bits - 1)), (1 << (bits - 1)) - 1)
    raise ValueError(
        f"datatype {n} is not supported by the noisybnn board driver: it moves integer "
        "streams only (UINTn, INTn, BINARY, BIPOLAR, TERNARY)"
    )


def packed_shape(folded_shape: tuple[int, ...], dtype: IntType | str) -> tuple[int, ...]:
    """Shape of the packed bytes of a folded tensor: the last axis becomes ceil(n * w / 8)."""
    dt = parse_dtype(dtype)
    folded_shape = tuple(int(d) for d in folded_shape)
    return folded_shape[:-1] + (-(-folded_shape[-1] * dt.bits // 8),)


def fold(normal: np.ndarray, folded_shape: tuple[int, ...]) -> np.ndarray:
    """Reshape a tensor from its normal to its folded shape (leading batch axis kept)."""
    arr = np.asarray(normal)
    shape = (arr.shape[0],) + tuple(folded_shape[1:])
    if int(np.prod(arr.shape[1:], dtype=np.int64)) != int(np.prod(shape[1:], dtype=np.int64)):
        raise ValueError(
            f"cannot fold shape {arr.shape} into {shape}: element counts per item differ"
        )
    return arr.reshape(shape)


def unfold(folded: np.ndarray, normal_shape: tuple[int, ...]) -> np.ndarray:
    """Reshape a folded tensor back to its normal shape (leading batch axis kept)."""
    arr = np.asarray(folded)
    return arr.reshape((arr.shape[0],) + tuple(normal_shape[1:]))


def pack(folded: np.ndarray, dtype: IntType | str) -> np.ndarray:
    """Pack the innermost axis of a folded tensor into little-endian bytes (see module docs).

    Returns uint8 of shape ``packed_shape(folded.shape, dtype)``. Values outside the datatype raise
    ValueError rather than being wrapped.
    """
    dt = parse_dtype(dtype)
    arr = np.asarray(folded)
    if arr.ndim < 1:
        raise ValueError("pack needs at least one axis (the beat)")
    dt.check(arr, "values to pack")
    out_shape = packed_shape(arr.shape, dt)
    if dt.bits == 8:  # one byte per element, already in order (the UINT8 pixel path)
        return dt.to_codes(arr).astype(np.uint8).reshape(out_shape)
    codes = dt.to_codes(arr)
    shifts = np.arange(dt.bits, dtype=np.uint64)
    bits = ((codes[..., None] >> shifts) & np.uint64(1)).astype(np.uint8)
    bits = bits.reshape(arr.shape[:-1] + (arr.shape[-1] * dt.bits,))
    pad = out_shape[-1] * 8 - bits.shape[-1]
    if pad:
        bits = np.concatenate([bits, np.zeros(bits.shape[:-1] + (pad,), np.uint8)], axis=-1)
    return np.packbits(bits, axis=-1, bitorder="little")


def unpack(packed: np.ndarray, dtype: IntType | str, folded_shape: tuple[int, ...]) -> np.ndarray:
    """Inverse of `pack`: bytes -> int64 values of shape ``folded_shape``.

    The leading (batch) axis of `folded_shape` may differ from the packed one; the packed array
    decides it. Padding bits are ignored.
    """
    dt = parse_dtype(dtype)
    buf = np.asarray(packed)
    if buf.dtype != np.uint8:
        raise ValueError(f"packed data must be uint8 bytes, got {buf.dtype}")
    shape = (buf.shape[0],) + tuple(int(d) for d in folded_shape[1:])
    want = packed_shape(shape, dt)
    if buf.shape != want:
        raise ValueError(
            f"packed data has shape {buf.shape}, expected {want} for {shape} {dt.name}"
        )
    n = shape[-1]
    if dt.bits == 8:
        return dt.from_codes(buf.astype(np.uint64)).reshape(shape)
    bits = np.unpackbits(buf, axis=-1, bitorder="little")[..., : n * dt.bits]
    bits = bits.reshape(shape + (dt.bits,)).astype(np.uint64)
    codes = (bits << np.arange(dt.bits, dtype=np.uint64)).sum(axis=-1, dtype=np.uint64)
    return dt.from_codes(codes)
