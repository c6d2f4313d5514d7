"""Convolutional twins: FINN python execution = software accelerator = Brevitas, integer-exact.

The twin is FINN's own build of a small trained CNN of the cnv family's structure (conv 3x3
blocks, max-pool after blocks 2 and 4, fc head): FINN's ConvolutionInputGenerator + MVAU for the
convs, a depthwise ConvolutionInputGenerator + Pool for the max-pools, our injectors after every
hidden layer. FINN runs one image per call (its Im2Col mixes batched images), so FINN = sim is
checked image by image (each a fresh run: logits and every injector's flip count), and sim =
Brevitas over one continuous run of many images (beats counted across pixels and images, the
contract's ((i*H + h)*W + w)*NF + f).
"""

import os
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from qonnx.core.modelwrapper import ModelWrapper

from noisybnn import data
from noisybnn.backends import NoiseSetting
from noisybnn.backends.sim import SimAccelerator
from noisybnn.backends.sim_checks import BuildCheckError
from noisybnn.backends.sim_conv import ConvGraphError
from noisybnn.compile import ConfigureNoiseInjectors, injectors
from noisybnn.compile.parity import finn_runs
from noisybnn.compile.paths import python_model_path
from noisybnn.train import images_to_tensor, load_checkpoint

SETTINGS = [
    NoiseSetting(mode="off"),
    NoiseSetting(p=0.05, seed=3),
    NoiseSetting(p=0.2, seed=11, layers=(1, 4)),
    NoiseSetting(mode="stuck1", seed=2, layers=(2,),
                 fault_masks={2: tuple(c % 3 == 0 for c in range(8))}),
]
IDS = ["off", "flip-p0.05", "flip-p0.2-l1,4", "stuck1-masked"]


@pytest.fixture(scope="module")
def tiny_cnn(tmp_path_factory):
    """(checkpoint, build dir) of a small CNN (conv 4-4-pool-8-8-pool, fc 16), trained briefly."""
    from noisybnn.models.spec import ModelSpec
    from noisybnn.pipeline import compile_model
    from noisybnn.train import TrainConfig, train

    root = tmp_path_factory.mktemp("tiny-cnn")
    spec = ModelSpec(arch="cnn", hidden=(4, 4, 8, 8), fc_hidden=(16,), name="cnn-tiny-w1a1")
    train(spec, TrainConfig(epochs=1, train_limit=400, val_images=200, threads=1, batch_size=50),
          root / "run", progress=False)
    ckpt = root / "run" / "best.pt"
    return ckpt, compile_model(str(ckpt), out_dir=root / "build", target_fps=2000)


def _finn_model(bdir, s: NoiseSetting, twin_path=None) -> ModelWrapper:
    twin = ModelWrapper(str(twin_path or python_model_path(bdir)))
    return twin.transform(ConfigureNoiseInjectors(mode=s.mode, p=s.p, seed=s.seed, layers=s.layers,
                                                  fault_masks=s.fault_masks))


def _sim_per_image(sim: SimAccelerator, x: np.ndarray):
    logits, flips = [], []
    for img in x:
        sim.reset_noise()
        logits.append(sim.execute(img[None])[0])
        flips.append(sim.flip_counts())
    return np.array(logits), np.array(flips)


def _brevitas(ckpt, bdir, x, s: NoiseSetting, twin_path=None) -> np.ndarray:
    net, _ = load_checkpoint(ckpt)
    net.eval()
    twin = ModelWrapper(str(twin_path or python_model_path(bdir)))
    pes = [int(next(a.i for a in n.attribute if a.name == "PE")) for n in injectors(twin)]
    if s.mode == "off":
        net.set_eval_noise(0.0)
    else:
        net.set_eval_noise(s.p, layers=list(s.layers) if s.layers else None, seed=s.seed,
                           source="injector", mode=s.mode)
        for i, layer in enumerate(net.noise_layers):
            if i in s.fault_masks:
                layer.fault_mask = np.asarray(s.fault_masks[i], bool)
    for layer, pe in zip(net.noise_layers, pes, strict=True):
        layer.pe = pe
        layer.reset()
    with torch.no_grad():
        return net.integer_logits(images_to_tensor(x)).numpy().astype(np.int64)


def test_twin_is_finns_conv_lowering(tiny_cnn):
    _, bdir = tiny_cnn
    ops = [n.op_type for n in onnx.load(str(python_model_path(bdir))).graph.node]
    assert ops.count("ConvolutionInputGenerator") == 6 and ops.count("Pool") == 2
    assert ops.count("MVAU") == 6 and ops.count("NoiseInjector") == 5
    sim = SimAccelerator(python_model_path(bdir))
    assert sim.injector_widths == [4, 4, 8, 8, 16]
    assert [s.params["pixels"] for s in sim.injector_stages] == [26 * 26, 24 * 24, 100, 64, 1]


@pytest.mark.parametrize("setting", SETTINGS, ids=IDS)
def test_sim_equals_finn_image_by_image(tiny_cnn, setting):
    _, bdir = tiny_cnn
    x = data.load("mnist", "test")[0][:3]
    finn_logits, finn_flips = finn_runs(_finn_model(bdir, setting), x)
    for kernel in ("xnor", "xnor-numpy", "gemm"):
        sim = SimAccelerator(python_model_path(bdir), kernel=kernel)
        sim.configure_noise(setting)
        logits, flips = _sim_per_image(sim, x)
        assert np.array_equal(logits, finn_logits), kernel
        assert np.array_equal(flips, finn_flips), kernel
    if setting.mode != "off":
        assert finn_flips.sum() > 0


@pytest.mark.parametrize("setting", SETTINGS, ids=IDS)
def test_sim_equals_brevitas_in_one_run(tiny_cnn, setting):
    ckpt, bdir = tiny_cnn
    x = data.load("mnist", "test")[0][:150]
    sim = SimAccelerator(python_model_path(bdir), batch_size=40)  # blocks cut the run
    sim.configure_noise(setting)
    out = np.concatenate([sim.execute(x[:70]), sim.execute(x[70:])])  # one run, two calls
    assert np.array_equal(out, _brevitas(ckpt, bdir, x, setting))


def _edited_twin(bdir, tmp_path, edit) -> Path:
    m = onnx.load(str(python_model_path(bdir)))
    edit(m.graph)
    out = tmp_path / "dataflow_python.onnx"
    onnx.save(m, str(out))
    return out


def test_folded_injectors_agree(tiny_cnn, tmp_path):
    """Injectors with PE > 1 (lane p of fold f carries channel f*PE + p at every pixel): FINN =
    sim image by image, sim = Brevitas in one run."""
    ckpt, bdir = tiny_cnn
    pes = iter([2, 4, 4, 8, 16])

    def fold(graph):
        for node in graph.node:
            if node.op_type.startswith("NoiseInjector"):
                next(a for a in node.attribute if a.name == "PE").i = next(pes)

    twin = _edited_twin(bdir, tmp_path, fold)
    setting = SETTINGS[1]
    x = data.load("mnist", "test")[0][:60]
    finn_logits, finn_flips = finn_runs(_finn_model(bdir, setting, twin), x[:2])
    sim = SimAccelerator(twin)
    assert [s.params["pe"] for s in sim.injector_stages] == [2, 4, 4, 8, 16]
    sim.configure_noise(setting)
    logits, flips = _sim_per_image(sim, x[:2])
    assert np.array_equal(logits, finn_logits) and np.array_equal(flips, finn_flips)
    sim.configure_noise(setting)
    assert np.array_equal(sim.execute(x), _brevitas(ckpt, bdir, x, setting, twin))


def test_window_without_consumer_is_one_line(tiny_cnn, tmp_path):
    _, bdir = tiny_cnn

    def drop_first_pool(graph):
        pool = next(n for n in graph.node if n.op_type == "Pool")
        graph.node.remove(pool)

    with pytest.raises(ConvGraphError, match="follows the sliding window") as err:
        SimAccelerator(_edited_twin(bdir, tmp_path, drop_first_pool))
    assert "\n" not in str(err.value)


def test_wrong_window_geometry_is_refused(tiny_cnn, tmp_path):
    _, bdir = tiny_cnn

    def bad_stride(graph):
        node = next(n for n in graph.node if n.op_type == "ConvolutionInputGenerator")
        attr = next(a for a in node.attribute if a.name == "Stride")
        attr.ints[:] = [2, 2]

    with pytest.raises(BuildCheckError, match="OFMDim") as err:
        SimAccelerator(_edited_twin(bdir, tmp_path, bad_stride))
    assert "\n" not in str(err.value)


def _cnv_checkpoint() -> Path | None:
    from noisybnn.zoo import checkpoint_path

    env = os.environ.get("NOISYBNN_CNV_CHECKPOINT")
    path = Path(env) if env else checkpoint_path("cnv-w1a1")
    return path if path.is_file() else None


@pytest.mark.slow
@pytest.mark.parametrize("setting", SETTINGS[:3], ids=IDS[:3])
def test_cnv_levels_agree_on_1000_images(tmp_path_factory, setting):
    """cnv-w1a1 (shipped, or $NOISYBNN_CNV_CHECKPOINT): FINN = sim image by image on 1000 test
    images (logits and flip counts), sim = Brevitas over one run of the same 1000."""
    from noisybnn.pipeline import compile_model

    ckpt = _cnv_checkpoint()
    if ckpt is None:
        pytest.skip("no cnv-w1a1 checkpoint")
    bdir = compile_model(str(ckpt), out_dir=tmp_path_factory.mktemp("cnv") / "build")
    x = data.load("mnist", "test")[0][:1000]
    finn_logits, finn_flips = finn_runs(_finn_model(bdir, setting), x)
    sim = SimAccelerator(python_model_path(bdir))
    sim.configure_noise(setting)
    logits, flips = _sim_per_image(sim, x)
    assert np.array_equal(logits, finn_logits) and np.array_equal(flips, finn_flips)
    sim.configure_noise(setting)
    assert np.array_equal(sim.execute(x), _brevitas(ckpt, bdir, x, setting))
