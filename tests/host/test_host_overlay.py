"""The board overlay against a fake pynq: data path, register programming, reseeding, errors."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import numpy as np
import pytest
from noisybnn_host import BoardUnavailableError, ManifestError, NoisyBNNOverlay
from noisybnn_host.validate import main as cli_main

from noisybnn.backends.base import NoiseSetting
from noisybnn.hw import injector as hw
from noisybnn.hw import registers as reg

PLATFORMS = ["zynq-iodma", "zynq-axidma", "alveo"]


def reference(board, images, mode="flip", p=0.0, seed=1, layers=None, masks=None):
    """Logits and flip counts from the injector reference configured straight from a setting."""
    configs = []
    for layer, inj in enumerate(board.injectors.values()):
        active = layers is None or layer in layers
        configs.append(hw.InjectorConfig(
            neurons=inj.neurons, pe=inj.pe, bits=1,
            mode=mode if active else "off", threshold=hw.threshold_from_p(p),
            seed=hw.derive_layer_seed(seed, layer),
            fault_mask=(masks or {}).get(layer) if active else None))
    return board.forward(np.asarray(images).reshape(-1, 784), configs, [0] * len(configs))


@pytest.mark.parametrize("platform", PLATFORMS)  # DMA engine: FINN IODMA, AXI DMA, Alveo kernels
@pytest.mark.parametrize("batch_size", [1, 4, 32])  # buffers smaller, not multiple, larger
def test_execute_matches_reference(fake_board, images, platform, batch_size):
    board, bit, man = fake_board(platform)
    ol = NoisyBNNOverlay(bit, man, batch_size=batch_size)
    clean, _ = reference(board, images)
    got = ol.execute(images)
    assert got.dtype == np.int64 and got.shape == (len(images), 10)
    assert np.array_equal(got, clean)
    ol.configure_noise(NoiseSetting(mode="flip", p=0.1, seed=5))
    want, changed = reference(board, images, p=0.1, seed=5)
    assert np.array_equal(ol.execute(images), want)
    assert ol.flip_counts() == changed and sum(changed) > 0
    assert [c.beats for c in ol.counters()] == [len(images) * 4, len(images) * 4]
    assert board.dma_runs == 2 * -(-len(images) // batch_size)


def test_execute_call_order(fake_board, images):
    board, bit, man = fake_board("zynq-axidma")
    ol = NoisyBNNOverlay(bit, man, batch_size=len(images))
    for step in ("fold_input", "pack_input", "unpack_output", "unfold_output"):
        method = getattr(ol, step)

        def logged(*a, _m=method, _s=step):
            board.log.append(("step", _s))
            return _m(*a)

        setattr(ol, step, logged)
    assert board.log[0][0] == "overlay.load"
    assert [e[0] for e in board.log if e[0] == "allocate"] == ["allocate", "allocate"]
    start = len(board.log)
    ol.execute(images)
    kinds = [e[0] if e[0] != "step" else e[1] for e in board.log[start:]
             if e[0] not in ("mmio.write", "mmio.read")]
    assert kinds == [
        "fold_input", "pack_input", "flush", "dma.recv.transfer", "dma.send.transfer",
        "device.run", "dma.send.wait", "dma.recv.wait", "invalidate", "unpack_output",
        "unfold_output",
    ]
    # the device read what the CPU flushed: the packed pixels
    flush = next(e for e in board.log[start:] if e[0] == "flush")
    assert flush[2] == len(images) * 784


def test_buffers_are_cacheable_on_zynq_only(fake_board):
    for platform, expect in (("zynq-iodma", {"cacheable": True}), ("alveo", {})):
        board, bit, man = fake_board(platform)
        NoisyBNNOverlay(bit, man, batch_size=3)
        allocs = [e for e in board.log if e[0] == "allocate"]
        assert allocs == [("allocate", (3, 49, 16), expect), ("allocate", (3, 2, 5), expect)]


def test_configure_noise_writes_encode_with_derived_seeds(fake_board):
    board, bit, man = fake_board()
    ol = NoisyBNNOverlay(bit, man)
    mask = tuple(i % 3 == 0 for i in range(32))
    setting = NoiseSetting(mode="stuck1", p=0.25, seed=77, fault_masks={1: mask})
    start = len(board.log)
    ol.configure_noise(setting)
    writes = [e for e in board.log[start:] if e[0] == "mmio.write"]
    expected = []
    for layer, inj in enumerate(board.injectors.values()):
        cfg = hw.InjectorConfig(neurons=inj.neurons, pe=inj.pe, bits=1, mode="stuck1",
                                threshold=hw.threshold_from_p(0.25),
                                seed=hw.derive_layer_seed(77, layer),
                                fault_mask=mask if layer == 1 else None)
        expected += [("mmio.write", inj.name, off, val) for off, val in reg.encode(cfg)]
    assert writes == expected
    assert writes[-1][2] == reg.CONTROL  # enabled last, after the RESEED strobe


def test_reseed_strobe_before_every_run(fake_board, images):
    board, bit, man = fake_board()
    ol = NoisyBNNOverlay(bit, man, batch_size=4)  # 11 images: 3 transfers per run
    ol.configure_noise(NoiseSetting(p=0.3, seed=9))
    start = len(board.log)
    ol.execute(images)
    ol.execute(images)
    events = board.log[start:]
    names = [inj.name for inj in board.injectors.values()]
    runs = [i for i, e in enumerate(events) if e[0] == "iodma.write" and e[2] == 0 and
            e[1] == "idma0"]
    reseeds = [i for i, e in enumerate(events) if e[0] == "mmio.write" and e[2] == reg.RESEED]
    assert len(runs) == 6 and len(reseeds) == 2 * len(names)
    # the strobes of call k come after every transfer of call k-1 and before the first of call k
    assert max(reseeds[:2]) < runs[0]
    assert runs[2] < min(reseeds[2:]) and max(reseeds[2:]) < runs[3]
    assert {events[i][1] for i in reseeds[:2]} == set(names)


def test_identical_calls_identical_results(fake_board, images):
    board, bit, man = fake_board()
    ol = NoisyBNNOverlay(bit, man, batch_size=5)
    ol.configure_noise(NoiseSetting(p=0.2, seed=3))
    a = ol.execute(images)
    ol.execute(images[:3])  # anything in between does not matter
    b = ol.execute(images)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, reference(board, images)[0])
    ol.configure_noise(NoiseSetting(p=0.2, seed=4))
    assert not np.array_equal(ol.execute(images), a)
    # continuing the run instead gives the next part of the stream
    ol.configure_noise(NoiseSetting(p=0.2, seed=3))
    first = ol.execute(images[:6])
    rest = ol.execute(images[6:], reseed=False)
    assert np.array_equal(np.concatenate([first, rest]), a)


def test_batch_size_reallocates(fake_board, images):
    board, bit, man = fake_board()
    ol = NoisyBNNOverlay(bit, man, batch_size=2)
    old_in, old_out = ol.ibuf_packed_device, ol.obuf_packed_device
    ol.configure_noise(NoiseSetting(p=0.15, seed=11))
    a = ol.execute(images)
    start = len(board.log)
    ol.batch_size = 7
    events = board.log[start:]
    assert [e[0] for e in events] == ["free", "free", "allocate", "allocate"]
    assert old_in.freed and old_out.freed
    assert ol.ibuf_packed_device.shape == (7, 49, 16) and ol.obuf_packed_device.shape == (7, 2, 5)
    assert np.array_equal(ol.execute(images), a)  # noise depends on the beat, not the batching
    with pytest.raises(ValueError, match="positive integer"):
        ol.batch_size = 0


def test_layer_selection_and_stuck_masks(fake_board, images):
    board, bit, man = fake_board()
    ol = NoisyBNNOverlay(bit, man, batch_size=16)
    ol.configure_noise(NoiseSetting(p=0.3, seed=2, layers=(1,)))
    want, changed = reference(board, images, p=0.3, seed=2, layers=(1,))
    assert np.array_equal(ol.execute(images), want)
    assert ol.flip_counts()[0] == 0 and ol.flip_counts()[1] == changed[1] > 0
    mask = tuple(i < 8 for i in range(64))
    ol.configure_noise(NoiseSetting(mode="stuck0", seed=2, fault_masks={0: mask}))
    want, _ = reference(board, images, mode="stuck0", seed=2, masks={0: mask})
    assert np.array_equal(ol.execute(images), want)
    with pytest.raises(ValueError, match="no injector"):
        ol.configure_noise(NoiseSetting(p=0.1, layers=(5,)))
    with pytest.raises(ValueError, match="no injector"):
        ol.configure_noise(NoiseSetting(mode="stuck0", fault_masks={3: (True,)}))


def test_throughput_test_figures(fake_board):
    board, bit, man = fake_board()
    ol = NoisyBNNOverlay(bit, man, batch_size=3)
    res = ol.throughput_test(n_images=8)
    for key in ("runtime[ms]", "throughput[images/s]", "DRAM_in_bandwidth[MB/s]",
                "DRAM_out_bandwidth[MB/s]", "fclk[mhz]", "batch_size", "fold_input[ms]",
                "pack_input[ms]", "copy_input_data_to_device[ms]",
                "copy_output_data_from_device[ms]", "unpack_output[ms]", "unfold_output[ms]"):
        assert key in res
    assert res["batch_size"] == 8 and res["fclk[mhz]"] == 100.0
    assert ol.batch_size == 3


# --- bad input and mismatches -------------------------------------------------------------------


def test_bad_images(fake_board, images):
    board, bit, man = fake_board()
    ol = NoisyBNNOverlay(bit, man)
    with pytest.raises(ValueError, match="uint8 0..255, not normalised floats"):
        ol.execute(images.astype(np.float32) / 255)
    with pytest.raises(ValueError, match=r"shape \(N, 784\)"):
        ol.execute(images[:, :27])
    with pytest.raises(ValueError, match=r"images\[None\]"):
        ol.execute(images[0])
    with pytest.raises(ValueError, match=r"\[0, 255\]"):
        ol.execute(images.astype(np.int16) + 1)
    assert ol.execute(images[:0]).shape == (0, 10)


def test_bad_noise_settings(fake_board):
    board, bit, man = fake_board()
    ol = NoisyBNNOverlay(bit, man)
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\]"):
        NoiseSetting(p=1.5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ol.configure_noise({"mode": "flip", "p": -0.1, "seed": 1})
    with pytest.raises(ValueError, match="unknown injector mode"):
        ol.configure_noise(SimpleNamespace(mode="melt", p=0.1, seed=1))
    with pytest.raises(ValueError, match="seed"):
        ol.configure_noise({"p": 0.1, "seed": -1})


def test_manifest_must_match_hardware(fake_board, tmp_path):
    board, bit, man = fake_board()
    d = board.manifest_dict(bit.name)
    d["injectors"][1]["pe"] = 4  # hardware has pe=8
    with pytest.raises(ManifestError, match=r"reports \(pe, bits, neurons\) = \(8, 1, 32\)"):
        NoisyBNNOverlay(bit, d)
    d = board.manifest_dict(bit.name)
    d["injectors"][0]["instance"], d["injectors"][1]["instance"] = (d["injectors"][1]["instance"],
                                                                      d["injectors"][0]["instance"])
    with pytest.raises(ManifestError, match="does not belong to this bitfile"):
        NoisyBNNOverlay(bit, d)
    d = board.manifest_dict(bit.name)
    d["io"]["idma_names"] = ["idma7"]
    with pytest.raises(ManifestError, match="'idma7'.*IP blocks: StreamingDataflowPartition_2, .*idma0"):
        NoisyBNNOverlay(bit, d)
    with pytest.raises(ManifestError, match="built from model 'fake-mlp'"):
        NoisyBNNOverlay(bit, man, expect_model_sha256="cd" * 32)


def test_missing_bitfile(fake_board, tmp_path):
    board, bit, man = fake_board()
    bit.unlink()
    with pytest.raises(FileNotFoundError, match="not found"):
        NoisyBNNOverlay(bit, man)
    with pytest.raises(FileNotFoundError, match="manifest"):
        NoisyBNNOverlay(tmp_path / "x" / "a.bit")


def test_without_pynq_one_line_error(no_pynq, tmp_path):
    bit, man = __import__("_fake_pynq").FakeBoard().write_files(tmp_path)
    with pytest.raises(BoardUnavailableError) as info:
        NoisyBNNOverlay(bit, man)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith("PYNQ is not available here (no module 'pynq')")
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_without_device_one_line_error(monkeypatch, tmp_path):
    import _fake_pynq

    bit, man = _fake_pynq.FakeBoard().write_files(tmp_path)
    monkeypatch.setitem(sys.modules, "pynq", _fake_pynq.make_module(None))
    with pytest.raises(BoardUnavailableError, match="No Devices Found") as info:
        NoisyBNNOverlay(bit, man)
    assert "\n" not in str(info.value)
    assert info.value.__context__ is None or info.value.__suppress_context__


def test_injector_without_counters(fake_board):
    board, bit, man = fake_board(counters=False)
    ol = NoisyBNNOverlay(bit, man)
    with pytest.raises(RuntimeError, match="without counters"):
        ol.flip_counts()


# --- the command line -----------------------------------------------------------------------------


def test_cli_reports_accuracy(fake_board, images, tmp_path, capsys):
    board, bit, man = fake_board()
    labels = np.argmax(reference(board, images)[0], axis=1)
    labels[:2] = (labels[:2] + 1) % 10
    np.save(tmp_path / "x.npy", images)
    np.save(tmp_path / "y.npy", labels)
    rc = cli_main(["--bitfile", str(bit), "--images", str(tmp_path / "x.npy"), "--labels",
                   str(tmp_path / "y.npy"), "--eps", "0", "--seed", "1", "--batch-size", "4",
                   "--json", str(tmp_path / "r.json")])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "accuracy: 81.82 % (9/11)" in out
    assert "as expected" in out and "repeatable (same seed, same outputs): True" in out
    assert "images/s" in out and (tmp_path / "r.json").is_file()


def test_cli_errors_are_one_line(fake_board, images, tmp_path, capsys, monkeypatch):
    board, bit, man = fake_board()
    np.save(tmp_path / "x.npy", images)
    args = ["--bitfile", str(bit), "--images", str(tmp_path / "x.npy")]
    assert cli_main(args + ["--eps", "1.5"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--eps must be in [0, 1]" in err
    monkeypatch.setitem(sys.modules, "pynq", None)
    assert cli_main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: PYNQ is not available here")
