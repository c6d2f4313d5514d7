"""On a real board: the bundle runs a bitstream, repeatably. Skipped unless asked for.

Run on the board (or an Alveo host), as root in the PYNQ environment, in the deployed bundle
(which carries this file as test_board.py) or in a checkout with noisybnn installed:

    cd /home/xilinx/noisybnn
    NOISYBNN_BOARD_BITFILE=finn-accel.bit NOISYBNN_BOARD_IMAGES=test_images.npy \\
    NOISYBNN_BOARD_LABELS=test_labels.npy python3 -m pytest -m board test_board.py

Optional: NOISYBNN_BOARD_MANIFEST (default: manifest.json next to the bitfile),
NOISYBNN_BOARD_MIN_ACCURACY (percent, checked when labels are given).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

pytestmark = pytest.mark.board

ENV = "NOISYBNN_BOARD_BITFILE"


@pytest.fixture(scope="module")
def board():
    bitfile = os.environ.get(ENV)
    if not bitfile:
        pytest.skip(f"set {ENV} to a bitfile to run the board tests")
    from noisybnn_host import BoardUnavailableError, NoisyBNNOverlay

    try:
        ol = NoisyBNNOverlay(bitfile, os.environ.get("NOISYBNN_BOARD_MANIFEST"), batch_size=100)
    except BoardUnavailableError as exc:
        pytest.fail(f"{ENV} is set but {exc}")
    images = os.environ.get("NOISYBNN_BOARD_IMAGES")
    if images:
        x = np.load(images)[:1000]
    else:
        x = np.random.default_rng(0).integers(0, 256, size=(300, 784), dtype=np.uint8)
    labels = os.environ.get("NOISYBNN_BOARD_LABELS")
    y = np.load(labels)[: len(x)] if labels and images else None
    yield ol, x, y
    ol.close()


def test_board_runs_are_repeatable_and_counted(board):
    ol, x, _ = board
    ol.configure_noise({"mode": "off", "p": 0.0, "seed": 1})
    clean = ol.execute(x)
    assert np.array_equal(ol.execute(x), clean)
    p = 0.05
    ol.configure_noise({"mode": "flip", "p": p, "seed": 1234})
    noisy = ol.execute(x)
    flips = ol.flip_counts()
    beats = [c.beats for c in ol.counters()]
    assert np.array_equal(ol.execute(x), noisy), "same seed, same call: outputs must match"
    assert ol.flip_counts() == flips
    half = len(x) // 2
    split = np.concatenate([ol.execute(x[:half]), ol.execute(x[half:], reseed=False)])
    assert np.array_equal(split, noisy), "a run split over two calls must equal one call"
    for inj, b, f in zip(ol.manifest.injectors, beats, flips):  # noqa: B905 (board Python 3.8)
        assert b == len(x) * inj.neurons // inj.pe
        n_bits = len(x) * inj.neurons * inj.bits
        sigma = (n_bits * p * (1 - p)) ** 0.5
        assert abs(f - n_bits * p) < 6 * sigma + 1, (inj.name, f, n_bits * p)
    if ol.manifest.injectors:
        assert not np.array_equal(noisy, clean)


def test_board_accuracy(board):
    ol, x, y = board
    if y is None:
        pytest.skip("set NOISYBNN_BOARD_IMAGES and NOISYBNN_BOARD_LABELS to check accuracy")
    ol.configure_noise({"mode": "off", "p": 0.0, "seed": 1})
    acc = 100.0 * float(np.mean(np.argmax(ol.execute(x), axis=1) == y))
    floor = float(os.environ.get("NOISYBNN_BOARD_MIN_ACCURACY", "80"))
    assert acc >= floor, f"accuracy {acc:.2f} % below {floor} %"


def test_board_throughput(board):
    ol, _, _ = board
    res = ol.throughput_test(n_images=1000)
    assert res["throughput[images/s]"] > 0 and res["batch_size"] == 1000
    assert ol.batch_size == 100
