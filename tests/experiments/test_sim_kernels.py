"""The software accelerator's binary-layer kernels agree bit for bit, with and without numba."""

import numpy as np
import pytest

from noisybnn import data
from noisybnn.backends import NoiseSetting, kernels, load
from noisybnn.backends.sim import KERNELS
from noisybnn.hw import InjectorConfig, lfsr
from noisybnn.hw.injector import lane_samples, seed_word


@pytest.mark.parametrize("lanes", [1, 2, 64])
@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5, 1000, 4099])
@pytest.mark.parametrize("start", [0, 7, 2_003])
def test_compiled_stream_equals_reference(lanes, n, start):
    cfg = InjectorConfig(neurons=lanes, pe=lanes, bits=1, seed=0xBEEF + lanes)
    lfsr.clear_cache()
    ref = lane_samples(cfg, n, start)  # numpy runner
    lfsr.clear_cache()
    np.testing.assert_array_equal(kernels.lane_samples(cfg, n, start), ref)
    lfsr.clear_cache()
    want = lfsr.stream(seed_word(9), lanes, n)
    lfsr.clear_cache()
    np.testing.assert_array_equal(kernels.lane_stream(seed_word(9), lanes, n), want)


def test_stream_without_numba_is_the_reference(monkeypatch):
    cfg = InjectorConfig(neurons=8, pe=4, bits=2, seed=5)
    lfsr.clear_cache()
    compiled = kernels.lane_samples(cfg, 300, 11)
    lfsr.clear_cache()
    monkeypatch.setattr(kernels, "AVAILABLE", False)
    np.testing.assert_array_equal(kernels.lane_samples(cfg, 300, 11), compiled)


@pytest.mark.parametrize("k", [1, 63, 64, 65, 784])
def test_packed_matches_count_equal_bits(k):
    rng = np.random.default_rng(k)
    x = np.where(rng.random((40, k)) < 0.5, 1.0, -1.0).astype(np.float32)
    w = rng.random((k, 12)) < 0.5
    want = ((x > 0)[:, :, None] == w[None, :, :]).sum(axis=1)
    wp = kernels.pack_rows(w.T)
    np.testing.assert_array_equal(kernels.xnor_matches(x, wp, k), want)
    np.testing.assert_array_equal(kernels.xnor_matches_numpy(x, wp, k), want)


@pytest.mark.parametrize("setting", [
    NoiseSetting(mode="off"), NoiseSetting(p=0.05, seed=3),
    NoiseSetting(p=0.3, seed=4, layers=(0, 2), fault_masks={2: tuple(i % 5 == 0 for i in range(64))}),
    NoiseSetting(p=1.0, seed=6, layers=(1,)),
    NoiseSetting(mode="stuck1", seed=1, layers=(1,))], ids=["off", "flip", "masked", "p1", "stuck1"])
def test_all_kernels_give_the_same_logits(tfc_build, setting):
    x, _ = data.load("mnist", "test")
    x = x[:700]
    outs = {}
    for kernel in KERNELS:
        acc = load("sim", tfc_build, kernel=kernel)
        acc.configure_noise(setting)
        outs[kernel] = (acc.execute(x), acc.flip_counts())
    ref = outs["gemm"]
    for kernel, (logits, flips) in outs.items():
        np.testing.assert_array_equal(logits, ref[0], err_msg=kernel)
        assert flips == ref[1], kernel


def test_auto_kernel_falls_back_without_numba(tfc_build, monkeypatch):
    monkeypatch.setattr(kernels, "AVAILABLE", False)
    assert load("sim", tfc_build).kernel == "gemm"
    monkeypatch.setattr(kernels, "AVAILABLE", True)
    assert load("sim", tfc_build).kernel == "xnor"


def test_unknown_kernel_is_named(tfc_build):
    with pytest.raises(ValueError, match="kernel must be one of"):
        load("sim", tfc_build, kernel="cuda")


@pytest.mark.parametrize("low", [0.0, -1.0])
def test_fused_threshold_layer_equals_count_then_compare(low, monkeypatch):
    rng = np.random.default_rng(5)
    x = (rng.random((300, 100)) < 0.5).astype(np.float32)
    wp = kernels.pack_rows((rng.random((100, 20)) < 0.5).T)
    t = rng.integers(30, 70, 20) + rng.choice([0.0, 0.5], 20)  # integer and half-integer
    want = np.where(kernels.xnor_matches_numpy(x, wp, 100) >= t[None, :], 1.0, low)
    np.testing.assert_array_equal(kernels.xnor_fire(x, wp, 100, t, low), want)
    monkeypatch.setattr(kernels, "AVAILABLE", False)
    np.testing.assert_array_equal(kernels.xnor_fire(x, wp, 100, t, low), want)


@pytest.mark.parametrize("bipolar", [False, True])
@pytest.mark.parametrize("threshold", [0, 1, 20000, 65536])
def test_fused_flip_equals_numpy(bipolar, threshold, monkeypatch):
    rng = np.random.default_rng(threshold)
    bits = rng.random((50, 16)) < 0.5
    v = np.where(bits, 1.0, -1.0 if bipolar else 0.0).astype(np.float32)
    u = rng.integers(0, 1 << 16, (50, 16)).astype(np.uint16)
    mask = rng.random(16) < 0.7
    flips = (u.astype(np.int64) < threshold) & mask[None, :]
    want = np.where(flips, np.where(bits, -1.0 if bipolar else 0.0, 1.0), v)
    got, count = kernels.flip_two_valued(v, u, threshold, mask, bipolar)
    np.testing.assert_array_equal(got, want)
    assert count == flips.sum()
    monkeypatch.setattr(kernels, "AVAILABLE", False)
    got, count = kernels.flip_two_valued(v, u, threshold, mask, bipolar)
    np.testing.assert_array_equal(got, want)
    assert count == flips.sum()


@pytest.mark.parametrize("lanes", [3, 8, 31, 32, 33, 256])
def test_compiled_stream_equals_reference_wide(lanes):
    """Many lane counts (the vectorised lane loops and their remainders), a start past the
    resumed runner's 4096-beat block, and a run that continues from the cached state."""
    lfsr.clear_cache()
    ref = lfsr.stream(seed_word(lanes), lanes, 700, 9_001)
    ref_next = lfsr.stream(seed_word(lanes), lanes, 300, 9_701)
    lfsr.clear_cache()
    run = kernels.runner()
    np.testing.assert_array_equal(lfsr.stream(seed_word(lanes), lanes, 700, 9_001, run), ref)
    np.testing.assert_array_equal(lfsr.stream(seed_word(lanes), lanes, 300, 9_701, run), ref_next)


@pytest.mark.parametrize("neurons,k", [(1, 64), (10, 1024), (64, 784), (300, 100), (520, 257),
                                       (1024, 1024)])
def test_packed_fire_kernel_equals_numpy(neurons, k, monkeypatch):
    """The blocked XNOR kernel (chunks of neurons, 4 words per pass and a tail, a short last
    chunk) with packed output gives the numpy count-then-compare result, with and without
    numba; its input is `pack_rows` of the bits or the fused pixel binarize-and-pack."""
    rng = np.random.default_rng(neurons + k)
    x = np.where(rng.random((37, k)) < 0.5, 1.0, -1.0).astype(np.float32)
    wp = kernels.pack_rows((rng.random((k, neurons)) < 0.5).T)
    t = rng.integers(0, k + 2, neurons) + rng.choice([0.0, 0.5], neurons)
    want = kernels.pack_rows(kernels.xnor_matches_numpy(x, wp, k) >= t[None, :])
    wc = kernels.chunk_weights(wp)
    xp = kernels.pack_rows(x > 0)
    got = kernels.xnor_fire_packed(xp, wp, wc, k, t)
    assert got.dtype == np.uint64 and got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(kernels.unpack_rows(got, neurons),
                                  kernels.xnor_matches_numpy(x, wp, k) >= t[None, :])
    np.testing.assert_array_equal(kernels.xnor_matches_packed(xp, wp, k),
                                  kernels.xnor_matches_numpy(x, wp, k))
    monkeypatch.setattr(kernels, "AVAILABLE", False)
    np.testing.assert_array_equal(kernels.xnor_fire_packed(xp, wp, wc, k, t), want)
    np.testing.assert_array_equal(kernels.xnor_matches_packed(xp, wp, k),
                                  kernels.xnor_matches_numpy(x, wp, k))


@pytest.mark.parametrize("k", [1, 63, 64, 65, 784])
def test_threshold_pack_equals_compare_then_pack(k, monkeypatch):
    rng = np.random.default_rng(k)
    x = rng.integers(0, 256, (29, k)).astype(np.uint8)
    for t in (0, 1, 128, 255):
        want = kernels.pack_rows(x >= np.uint8(t))
        np.testing.assert_array_equal(kernels.threshold_pack(x, t), want)
        monkeypatch.setattr(kernels, "AVAILABLE", False)
        np.testing.assert_array_equal(kernels.threshold_pack(x, t), want)
        monkeypatch.setattr(kernels, "AVAILABLE", True)


@pytest.mark.parametrize("threshold", [0, 1, 20000, 65535, 65536])
def test_packed_flips_equal_two_valued_flip(threshold, monkeypatch):
    """Masks from samples (compiled and numpy) XORed into packed words flip the same neurons,
    and count the same flips, as the float two-valued flip."""
    rng = np.random.default_rng(threshold + 1)
    b = rng.random((50, 70)) < 0.5
    u = rng.integers(0, 1 << 16, (50, 70)).astype(np.uint16)
    mask = rng.random(70) < 0.7
    want, want_count = kernels.flip_two_valued(b.astype(np.float32), u, threshold, mask, False)
    fault = kernels.pack_rows(mask[None, :])[0]
    for available in (True, False):
        monkeypatch.setattr(kernels, "AVAILABLE", available)
        masks = kernels.sample_masks(u, threshold, 70)
        np.testing.assert_array_equal(masks, kernels.flip_masks_numpy(u, threshold, 70))
        got = kernels.pack_rows(b)
        assert kernels.xor_masks(got, masks, fault) == want_count
        np.testing.assert_array_equal(kernels.unpack_rows(got, 70), want > 0)
        got = kernels.pack_rows(b)
        assert kernels.xor_masks(got, masks, None) == int((u.astype(np.int64) < threshold).sum())


@pytest.mark.parametrize("lanes", [1, 2, 4, 8, 24, 32, 64])
@pytest.mark.parametrize("threshold", [1, 655, 30000, 65536])
def test_fused_flip_masks_equal_reference_stream(lanes, threshold):
    """The fused stream-to-mask kernel (lane ring in LLVM IR) decides exactly what the numpy
    reference stream and a compare decide, resumed across calls, with and without writing
    the samples; neuron counts with padded rows (not a multiple of 64) included."""
    for neurons in (lanes, lanes * 3, lanes * 8):
        nf, n = neurons // lanes, 23
        lfsr.clear_cache()
        ref = lfsr.stream(seed_word(lanes + threshold), lanes, n * nf + 5, 40)  # numpy runner
        lfsr.clear_cache()
        samples = np.empty(10 * nf * lanes, np.uint16)
        m1 = kernels.flip_masks(seed_word(lanes + threshold), lanes, 10, neurons, threshold, 40,
                                samples)
        m2 = kernels.flip_masks(seed_word(lanes + threshold), lanes, n - 10, neurons, threshold,
                                40 + 10 * nf)
        np.testing.assert_array_equal(samples.reshape(-1, lanes), ref[: 10 * nf])
        want = kernels.flip_masks_numpy(ref[: n * nf], threshold, neurons)
        np.testing.assert_array_equal(np.concatenate([m1, m2]), want)


@pytest.mark.parametrize("lanes", [1, 2, 3, 32, 64, 65])
def test_ring_stream_every_lane_count(lanes):
    """lane_stream / lane_stream_into (IR ring up to 64 lanes, the numba loop above) equal the
    numpy reference, in one piece and resumed."""
    lfsr.clear_cache()
    ref = lfsr.stream(seed_word(3), lanes, 600, 0)
    lfsr.clear_cache()
    got = np.concatenate([kernels.lane_stream(seed_word(3), lanes, 250),
                          kernels.lane_stream(seed_word(3), lanes, 350, 250)])
    np.testing.assert_array_equal(got, ref)
    lfsr.clear_cache()
    buf = np.zeros(601 * lanes, np.uint16)
    np.testing.assert_array_equal(kernels.lane_stream_into(buf, seed_word(3), lanes, 600), ref)


def _with_injector_pes(build, pes, tmp_path):
    """A copy of the build's twin whose injectors have the given PEs (the fused path needs
    PE a multiple of 8; TFC's own injectors have PE 1-2)."""
    import onnx
    from onnx import helper

    from noisybnn.compile.paths import python_model_path

    model = onnx.load(str(python_model_path(build)))
    injectors = [n for n in model.graph.node if n.op_type.startswith("NoiseInjector")]
    for node, pe in zip(injectors, pes, strict=True):
        for i, att in enumerate(node.attribute):
            if att.name == "PE":
                node.attribute[i].CopyFrom(helper.make_attribute("PE", pe))
    path = tmp_path / "dataflow_python.onnx"
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize("setting", [
    NoiseSetting(p=0.05, seed=3),
    NoiseSetting(p=0.3, seed=4, layers=(0, 2), fault_masks={2: tuple(i % 5 == 0 for i in range(64))}),
    NoiseSetting(p=1.0, seed=6)], ids=["flip", "masked", "p1"])
def test_fused_injector_path_equals_numpy_sim(tfc_build, tmp_path, setting, monkeypatch):
    """With PEs the fused kernel takes (8, 16, 64), the sim's packed path (masks straight from
    the stream) gives the logits and flip counts of the numpy-only sim (no numba: numpy
    reference stream, GEMM, float flips), over calls split unevenly."""
    from noisybnn.backends.sim import SimAccelerator

    twin = _with_injector_pes(tfc_build, (8, 16, 64), tmp_path)
    x = data.load("mnist", "test")[0][:400]

    def run(acc):
        acc.configure_noise(setting)
        return np.concatenate([acc.execute(x[:150]), acc.execute(x[150:151]),
                               acc.execute(x[151:])]), acc.flip_counts()

    fused = run(SimAccelerator(twin, batch_size=100))
    assert all(kernels.fused_lanes_ok(pe) for pe in (8, 16, 64))
    lfsr.clear_cache()
    monkeypatch.setattr(kernels, "AVAILABLE", False)
    for kernel in ("xnor", "gemm"):
        lfsr.clear_cache()
        want = run(SimAccelerator(twin, kernel=kernel, batch_size=100))
        np.testing.assert_array_equal(fused[0], want[0])
        assert fused[1] == want[1]
    assert sum(fused[1]) > 0


def test_reused_stream_memory_changes_nothing(tfc_build, monkeypatch):
    """Past its budget the sample cache hands the oldest stream's memory to the next stream:
    every run still equals a fresh accelerator's, and warm runs still hit the cache."""
    from noisybnn.backends import sim

    monkeypatch.setattr(sim, "_SAMPLE_CACHE_BYTES", 1)  # reuse on every new stream
    x = data.load("mnist", "test")[0][:300]
    acc = load("sim", tfc_build)
    for seed in (1, 2, 3, 1, 4):
        acc.configure_noise(NoiseSetting(p=0.1, seed=seed))
        got = (acc.execute(x), acc.flip_counts())
        fresh = load("sim", tfc_build)
        fresh.configure_noise(NoiseSetting(p=0.1, seed=seed))
        want = (fresh.execute(x), fresh.flip_counts())
        np.testing.assert_array_equal(got[0], want[0])
        assert got[1] == want[1]
