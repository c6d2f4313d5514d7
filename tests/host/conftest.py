"""Fixtures of the board-bundle tests: the host package on sys.path and a fake `pynq`."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HOST_DIR = Path(__file__).resolve().parents[2] / "host"
if str(HOST_DIR) not in sys.path:
    sys.path.insert(0, str(HOST_DIR))
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture
def fake_board(monkeypatch, tmp_path):
    """Factory: fake_board(platform=..., **FakeBoard kwargs) -> (board, bitfile, manifest).

    Installs the fake as sys.modules['pynq'] for the test only.
    """

    import _fake_pynq  # needs noisybnn.hw; imported here so that board runs need only the bundle

    def make(platform: str = "zynq-iodma", **kw):
        board = _fake_pynq.FakeBoard(platform=platform, **kw)
        monkeypatch.setitem(sys.modules, "pynq", _fake_pynq.make_module(board))
        bit, man = board.write_files(tmp_path)
        return board, bit, man

    return make


@pytest.fixture
def no_pynq(monkeypatch):
    """`import pynq` fails, as on a machine without it."""
    monkeypatch.setitem(sys.modules, "pynq", None)


@pytest.fixture
def images():
    rng = __import__("numpy").random.default_rng(7)
    return rng.integers(0, 256, size=(11, 28, 28), dtype="uint8")
