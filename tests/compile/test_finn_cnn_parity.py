"""Bit-exactness for convolutional BNNs: FINN python execution of the build = Brevitas.

The build is FINN's own flow for a CNV-style network (`noisybnn.models.spec.cnv`): lowered convs,
sliding windows (`ConvolutionInputGenerator`), binary MVAUs, max-pool (sliding window + `Pool`),
with a NoiseInjector after every conv and fc layer. Injectors off and on (flip at several p and
layer sets, stuck-at with a fault mask on a conv layer): integer logits must be equal on real
MNIST test images. Brevitas draws its flips from the injector stream laid out as the contract
says (docs/injector.md, "After a convolution"); FINN's op walks its NHWC stream.

FINN's python execution of conv graphs is slow (its sliding window runs image by image), so the
default suite uses N_FAST images; the slow-marked test runs 1000.
"""

import os

import numpy as np
import pytest
from qonnx.core.modelwrapper import ModelWrapper

from noisybnn import data
from noisybnn.backends import NoiseSetting
from noisybnn.compile import injectors
from noisybnn.compile.paths import python_model_path
from noisybnn.train import load_checkpoint
from noisybnn.zoo import checkpoint_path
from tests.compile._parity import brevitas_logits, finn_logits

N_FAST = 16
N_SLOW = 1000

CONV_MASK = tuple(c % 5 == 1 for c in range(32))  # crashed channels of conv layer 1
SETTINGS = [
    NoiseSetting(mode="off"),
    NoiseSetting(p=0.02, seed=11),
    NoiseSetting(p=0.15, seed=2024, layers=(0, 3)),
    NoiseSetting(p=0.3, seed=5, layers=(4,)),
    NoiseSetting(mode="stuck0", seed=3, fault_masks={1: CONV_MASK}, layers=(1,)),
    NoiseSetting(mode="stuck1", seed=3, layers=(2,)),
]


@pytest.fixture(scope="module")
def cnv(tmp_path_factory):
    """(net, build dir, PE per injector) of a cnv-w1a1: the shipped checkpoint, else
    $NOISYBNN_CNV_CHECKPOINT, else one epoch on 600 images (parity needs weights, not accuracy)."""
    from noisybnn.models.spec import from_name
    from noisybnn.pipeline import compile_model
    from noisybnn.train import TrainConfig, train

    ckpt = checkpoint_path("cnv-w1a1")
    if not ckpt.is_file():
        ckpt = os.environ.get("NOISYBNN_CNV_CHECKPOINT") or ""
    if not ckpt:
        run = tmp_path_factory.mktemp("cnv-train")
        train(from_name("cnv-w1a1"), TrainConfig(epochs=1, train_limit=600, val_images=200,
                                                 batch_size=50, threads=1), run, progress=False)
        ckpt = run / "best.pt"
    bdir = compile_model(str(ckpt), out_dir=tmp_path_factory.mktemp("cnv-build"), target_fps=2000)
    net, _ = load_checkpoint(ckpt)
    twin = ModelWrapper(str(python_model_path(bdir)))
    pes = [int(next(a.i for a in n.attribute if a.name == "PE")) for n in injectors(twin)]
    return net, twin, pes, bdir




def test_cnn_build_has_conv_layers_and_injectors_per_channel(cnv):
    net, twin, pes, _ = cnv
    ops = [n.op_type for n in twin.graph.node]
    assert ops[0] == "Reshape" and "Transpose" not in ops  # step_input_layout: one channel in
    assert twin.get_tensor_shape(twin.graph.input[0].name) == [1, 1, 28, 28]
    assert ops.count("ConvolutionInputGenerator") == 6  # 4 convs + 2 pooling windows
    assert ops.count("Pool") == 2 and ops.count("MVAU") == 6
    found = injectors(twin)
    assert len(found) == len(net.noise_layers) == 5
    for node, layer in zip(found, net.noise_layers, strict=True):
        channels = next(a.i for a in node.attribute if a.name == "NumChannels")
        assert channels == layer.neurons  # NEURONS = C: one lane position per channel
    # the injector sits before the max-pool: its consumer is the pooling window, not Pool
    assert twin.find_consumer(found[1].output[0]).op_type == "ConvolutionInputGenerator"
    assert all(c % pe == 0 for c, pe in zip((32, 32, 64, 64, 256), pes, strict=True))


#: in the default suite: off, flip everywhere, a crashed channel set on a conv layer; the rest slow
FAST = (0, 1, 4)


@pytest.mark.parametrize("setting", [
    s if i in FAST else pytest.param(s, marks=pytest.mark.slow) for i, s in enumerate(SETTINGS)],
    ids=lambda s: f"{s.mode}-p{s.p}-l{s.layers}")
def test_cnn_finn_equalsbrevitas_logits(cnv, setting):
    net, twin, pes, _ = cnv
    x, _ = data.load("mnist", "test")
    x = x[:N_FAST]
    finn_out = finn_logits(twin, x, setting)
    brevitas_out = brevitas_logits(net, x, setting, pes)
    assert np.array_equal(finn_out, brevitas_out)
    if setting.mode != "off":  # the noise reached the logits (a test that can fail)
        assert not np.array_equal(finn_out, brevitas_logits(net, x, SETTINGS[0], pes))


@pytest.mark.slow
@pytest.mark.parametrize("setting", SETTINGS[:2], ids=["off", "p0.02"])
def test_cnn_finn_equals_brevitas_1000_images(cnv, setting):
    net, twin, pes, _ = cnv
    x, _ = data.load("mnist", "test")
    x = x[:N_SLOW]
    assert np.array_equal(finn_logits(twin, x, setting), brevitas_logits(net, x, setting, pes))


def test_rtl_accelerator_covers_the_cnn(cnv):
    """docs/rtl.md: the RTL design reads the conv build (sliding windows, max-pools); its
    parity with the sim is tests/rtl/test_cnv_parity.py."""
    from noisybnn.rtl.design import MaxPool, Swg, load_design

    layers = load_design(cnv[3]).layers
    assert sum(isinstance(x, Swg) for x in layers) == 4
    assert sum(isinstance(x, MaxPool) for x in layers) == 2
