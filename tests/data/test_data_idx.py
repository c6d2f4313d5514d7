"""parse_idx on small idx files written by the tests: well-formed (raw, gzip) and malformed."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from noisybnn.data import parse_idx


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("as_bytes", [False, True], ids=["path", "bytes"])
@pytest.mark.parametrize(
    "arr",
    [
        np.arange(3 * 28 * 28, dtype=np.uint32).astype(np.uint8).reshape(3, 28, 28),  # images
        np.array([5, 0, 4, 1, 9], dtype=np.uint8),  # labels
    ],
    ids=["images", "labels"],
)
def test_uint8_round_trip(tmp_path, make_idx, arr, compress, as_bytes):
    payload = make_idx(arr)
    if compress:
        payload = gzip.compress(payload)
    if as_bytes:
        out = parse_idx(payload)
    else:
        path = tmp_path / "f.idx"
        path.write_bytes(payload)
        out = parse_idx(path)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, arr)
    out[...] = 0  # writable, not a view on read-only bytes


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.float32, np.float64])
def test_other_type_codes_are_big_endian(make_idx, dtype):
    arr = (np.arange(24).reshape(2, 3, 4) - 11).astype(dtype) * 3
    out = parse_idx(make_idx(arr))
    assert out.dtype == np.dtype(dtype)
    assert out.dtype.isnative
    np.testing.assert_array_equal(out, arr)


def test_gzip_is_detected_by_content_not_name(tmp_path, make_idx):
    arr = np.array([1, 2, 3], dtype=np.uint8)
    gz_named_raw = tmp_path / "labels.gz"
    gz_named_raw.write_bytes(make_idx(arr))
    raw_named_gz = tmp_path / "labels-idx1-ubyte"
    raw_named_gz.write_bytes(gzip.compress(make_idx(arr)))
    np.testing.assert_array_equal(parse_idx(gz_named_raw), arr)
    np.testing.assert_array_equal(parse_idx(str(raw_named_gz)), arr)


_GOOD = struct.pack(">BBBBII", 0, 0, 0x08, 2, 2, 3) + bytes(range(6))


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        (b"", "shorter than the 4-byte magic"),
        (b"\x00\x08", "shorter than the 4-byte magic"),
        (b"\x01\x00" + _GOOD[2:], "bad magic 0x01000802"),
        (b"PK\x03\x04" + _GOOD[4:], "bad magic"),  # a zip, not an idx
        (b"\x00\x00\x07\x02" + _GOOD[4:], "unknown idx type code 0x07"),
        (b"\x00\x00\x08\x00", "0 dimensions"),
        (_GOOD[:10], "truncated idx header"),  # 2 dims need 12 header bytes
        (_GOOD[:-1], "truncated idx data"),  # one data byte short
        (_GOOD + b"\x00", "size mismatch"),  # one trailing byte
        # header says 2x2 but the data holds 6 values: the dims do not match the data
        (struct.pack(">BBBBII", 0, 0, 0x08, 2, 2, 2) + bytes(6), "size mismatch"),
        # int32 type code with 6 single bytes: too short for 2x3 int32
        (b"\x00\x00\x0c\x02" + _GOOD[4:], "truncated idx data"),
        (gzip.compress(_GOOD)[:-12], "corrupt gzip data"),  # gzip stream cut short
    ],
    ids=[
        "empty",
        "short-magic",
        "bad-magic",
        "zip",
        "bad-type-code",
        "zero-dims",
        "truncated-header",
        "truncated-data",
        "trailing-bytes",
        "wrong-dims",
        "wrong-type-size",
        "truncated-gzip",
    ],
)
def test_malformed_files_are_rejected_naming_file_and_problem(tmp_path, payload, problem):
    path = tmp_path / "broken-idx3-ubyte"
    path.write_bytes(payload)
    with pytest.raises(ValueError, match=problem) as info:
        parse_idx(path)
    assert str(path) in str(info.value)
    with pytest.raises(ValueError, match=problem) as info:
        parse_idx(payload, name="upload.bin")
    assert "upload.bin" in str(info.value)


def test_good_reference_parses():
    """The base of the malformed cases is itself valid."""
    np.testing.assert_array_equal(parse_idx(_GOOD), np.arange(6, dtype=np.uint8).reshape(2, 3))
