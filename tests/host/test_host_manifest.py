"""The manifest: schema, FINN's io_shape_dict forms, and clear errors for every mismatch."""

from __future__ import annotations

import copy
import json

import pytest
from _fake_pynq import FakeBoard
from noisybnn_host import Manifest, ManifestError, load_manifest


@pytest.fixture
def good():
    return FakeBoard().manifest_dict()


def test_loads_and_round_trips(good, tmp_path):
    m = Manifest.from_dict(good)
    assert m.model_name == "fake-mlp" and m.num_classes == 10
    assert [i.layer for i in m.injectors] == [0, 1]
    assert m.injectors[0].axilite_base == 0x43C10000
    assert m.io.idma_name == "idma0" and m.io.input_bytes == 784
    path = m.save(tmp_path / "manifest.json")
    again = load_manifest(path)
    assert again.to_dict() == m.to_dict()
    assert again.source == str(path)


def test_accepts_finn_io_shape_dict_lists(good):
    d = copy.deepcopy(good)
    io = d["io"]
    d["io"] = {k: [v] for k, v in io.items()}  # FINN: one entry per stream
    d["io"]["idt"] = ["DataType['UINT8']"]
    d["injectors"][0]["axilite_base"] = 0x43C10000  # int as well as hex string
    m = Manifest.from_dict(d)
    assert m.io.ishape_folded == (1, 49, 16) and m.io.idt == "UINT8"


def _set(d, path, value):
    *keys, last = path.split(".")
    for k in keys:
        d = d[int(k)] if k.isdigit() else d[k]
    if value is _DELETE:
        del d[last]
    else:
        d[last] = value


_DELETE = object()


@pytest.mark.parametrize(
    "path, value, match",
    [
        ("checkpoint_sha256", "xyz", "checkpoint_sha256"),
        ("model", _DELETE, "model"),
        ("platform", _DELETE, "bitstream step adds the hardware fields"),
        ("io", _DELETE, "io missing"),
        ("injectors.0.axilite_base", _DELETE, "AXI-Lite base"),
        ("injectors.0.dtype", "FLOAT32", r"injectors\[0\]\.dtype"),
        ("injectors.0.bits", 2, "disagrees with dtype BINARY"),
        ("platform", "zynq", "platform"),
        ("schema_version", 2, "schema_version"),
        ("io.ishape_packed", [1, 49, 8], "ishape_packed"),
        ("io.ishape_folded", [1, 48, 16], "ishape_folded"),
        ("io.oshape_packed", [1, 2, 4], "oshape_packed"),
        ("io.odt", "FLOAT32", "io.odt"),
        ("num_classes", 9, "num_classes"),
        ("injectors.0.pe", 5, "does not divide"),
        ("injectors.0.axilite_base", "43C1", "address"),
        ("injectors.0.axilite_base", "0x43C10002", "aligned"),
        ("injectors.1.axilite_base", "0x43C10800", "overlap"),
        ("injectors.1.layer", 0, "two injectors"),
        ("injectors.0.neurons", 0, "neurons"),
        ("injectors", None, "injectors"),
        ("fclk_mhz", -1, "fclk_mhz"),
    ],
)
def test_rejects_with_named_field(good, path, value, match):
    d = copy.deepcopy(good)
    _set(d, path, value)
    with pytest.raises(ManifestError, match=match):
        Manifest.from_dict(d, source="m.json")


def test_estimates_only_build_has_no_bitstream(good):
    # what pipeline.compile_model writes before any bitstream exists
    d = {"model": "tfc-w1a1", "checkpoint_sha256": "ab" * 32, "board": "pynq-z2",
         "num_classes": 10, "bitfile": None, "build_key": "x",
         "injectors": [{"layer": 0, "name": "NoiseInjector_0", "neurons": 64, "pe": 16,
                        "dtype": "BINARY"}]}
    with pytest.raises(ManifestError, match="estimates-only build of 'tfc-w1a1'.*make bitstream"):
        Manifest.from_dict(d)


def test_bits_from_dtype_or_given(good):
    d = copy.deepcopy(good)
    m = Manifest.from_dict(d)
    assert m.injectors[0].bits == 1 and m.injectors[0].dtype == "BINARY"
    del d["injectors"][0]["dtype"]
    d["injectors"][0]["bits"] = 1
    assert Manifest.from_dict(d).injectors[0].dtype is None


def test_two_streams_rejected(good):
    d = copy.deepcopy(good)
    d["io"]["ishape_normal"] = [[1, 784], [1, 784]]
    with pytest.raises(ManifestError, match="one input and one"):
        Manifest.from_dict(d)


def test_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="manifest"):
        load_manifest(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ManifestError, match="not valid JSON"):
        load_manifest(bad)


def test_bitfile_checks(tmp_path):
    board = FakeBoard()
    bit, man_path = board.write_files(tmp_path)
    m = load_manifest(man_path)
    assert m.bitfile_path() == bit
    assert m.check_bitfile(bit) == bit
    bit.with_suffix(".hwh").unlink()
    with pytest.raises(FileNotFoundError, match="hardware handoff"):
        m.check_bitfile(bit)
    bit.with_suffix(".hwh").write_text("<hwh/>")
    bit.write_bytes(b"another build")
    with pytest.raises(ManifestError, match="another build"):
        m.check_bitfile(bit)
    with pytest.raises(FileNotFoundError, match="make bitstream"):
        m.check_bitfile(tmp_path / "missing.bit")


def test_model_check(good):
    m = Manifest.from_dict(good)
    m.check_model(sha256="ab" * 32)
    with pytest.raises(ManifestError, match="rebuild the bitstream"):
        m.check_model(sha256="cd" * 32)
    with pytest.raises(ManifestError, match="fake-mlp"):
        m.check_model(name="tfc-w1a1")


def test_extra_fields_kept(good):
    d = dict(good, created="2025-01-01", noisybnn_version="0.1.0")
    m = Manifest.from_dict(d)
    assert json.loads(json.dumps(m.to_dict()))["created"] == "2025-01-01"
