"""CNNs beyond binary-input w1a1: FINN python execution = software accelerator = Brevitas.

* cnv-w2a2: binarized pixels, 2-bit weights and activations. The first layer is a non-XNOR MVAU
  on the BIPOLAR input (FINN's hardware encoding of -1/+1, `compile.streamline.
  BipolarInputThresholds`), every injector carries INT2 codes (2 lanes per neuron).
* 8-bit-input CNNs (in_bits 8, e.g. cnv-w1a1-in8): raw UINT8 pixels into the first MVAU (binary
  weights x uint8, no input thresholds), XNOR layers after it.

Integer logits equal on MNIST test images, injectors off and on; FINN = sim also image by image
with every injector's flip count. The checkpoint is the shipped one, else
$NOISYBNN_<NAME>_CHECKPOINT (name upper-cased, '-' -> '_'), else the test is skipped.
"""

import os
from pathlib import Path

import numpy as np
import pytest
from qonnx.core.modelwrapper import ModelWrapper

from noisybnn import data
from noisybnn.backends import NoiseSetting
from noisybnn.backends.sim import SimAccelerator
from noisybnn.compile import ConfigureNoiseInjectors, injectors
from noisybnn.compile.parity import finn_runs
from noisybnn.compile.paths import python_model_path
from noisybnn.train import checkpoint_dataset, load_checkpoint
from noisybnn.zoo import checkpoint_path
from tests.compile._parity import brevitas_logits, finn_logits

N_FAST = 16
N_SLOW = 1000
MODELS = ["cnv-w2a2", "cnv-w1a1-in8"]

OFF = NoiseSetting(mode="off")
SETTINGS = {
    "off": OFF,
    "flip-p0.02": NoiseSetting(p=0.02, seed=11),
    "flip-p0.1-l0,4": NoiseSetting(p=0.1, seed=5, layers=(0, 4)),
    "stuck0-masked-l1": NoiseSetting(mode="stuck0", seed=3, layers=(1,),
                                     fault_masks={1: tuple(c % 5 == 1 for c in range(32))}),
}


def _checkpoint(name: str) -> Path | None:
    env = os.environ.get(f"NOISYBNN_{name.upper().replace('-', '_')}_CHECKPOINT")
    path = Path(env) if env else checkpoint_path(name)
    return path if path.is_file() else None


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """built(name) -> (net, twin, PEs, build dir, test images) of a compiled checkpoint."""
    from noisybnn.pipeline import compile_model

    cache = {}

    def _get(name):
        if name not in cache:
            ckpt = _checkpoint(name)
            if ckpt is None:
                pytest.skip(f"no {name} checkpoint (shipped or $NOISYBNN_..._CHECKPOINT)")
            bdir = compile_model(str(ckpt), out_dir=tmp_path_factory.mktemp(name) / "build",
                                 target_fps=2000)
            net, payload = load_checkpoint(ckpt)
            twin = ModelWrapper(str(python_model_path(bdir)))
            pes = [int(next(a.i for a in n.attribute if a.name == "PE")) for n in injectors(twin)]
            x = data.load(checkpoint_dataset(payload, ckpt), "test")[0]
            cache[name] = (net, twin, pes, bdir, x)
        return cache[name]

    return _get


def _first_mvau(twin):
    return next(n for n in twin.graph.node if n.op_type == "MVAU")


def _attr(node, name):
    a = next(a for a in node.attribute if a.name == name)
    return a.s.decode() if a.s else a.i


@pytest.mark.parametrize("name", MODELS)
def test_first_layer_is_a_plain_mvau(built, name):
    net, twin, _, _, _ = built(name)
    first = _first_mvau(twin)
    assert _attr(first, "binaryXnorMode") == 0
    if net.spec.in_bits == 8:
        # raw pixels straight into the sliding window and a binary-weight x UINT8 MVAU
        assert not any(n.op_type == "Thresholding" for n in twin.graph.node)
        assert _attr(first, "inputDataType") == "UINT8"
        assert _attr(first, "weightDataType") == "BIPOLAR"
    else:
        assert _attr(first, "inputDataType") == "BIPOLAR"  # FINN HLS: Recast<Binary> input
        assert _attr(first, "weightDataType") == f"INT{net.spec.weight_bits}"
    widths = [_attr(n, "NumChannels") for n in injectors(twin)]
    assert widths == [layer.neurons for layer in net.noise_layers]
    dtypes = {_attr(n, "dataType") for n in injectors(twin)}
    assert dtypes <= ({"BINARY", "BIPOLAR"} if net.spec.act_bits == 1 else {f"INT{net.spec.act_bits}"})


def _three_levels(net, twin, bdir, x, setting):
    pes = [int(_attr(n, "PE")) for n in injectors(twin)]
    finn_out = finn_logits(twin, x, setting)
    sim = SimAccelerator(python_model_path(bdir))
    sim.configure_noise(setting)
    sim_out = sim.execute(x)
    brevitas_out = brevitas_logits(net, x, setting, pes)
    return finn_out, sim_out, brevitas_out


@pytest.mark.parametrize("setting", ["off", "flip-p0.02"])
@pytest.mark.parametrize("name", MODELS)
def test_finn_sim_brevitas_agree(built, name, setting):
    net, twin, _, bdir, x = built(name)
    s = SETTINGS[setting]
    finn_out, sim_out, brevitas_out = _three_levels(net, twin, bdir, x[:N_FAST], s)
    assert np.array_equal(finn_out, brevitas_out)
    assert np.array_equal(sim_out, brevitas_out)
    if s.mode != "off":  # the noise reached the logits (a check that can fail)
        assert not np.array_equal(brevitas_out, brevitas_logits(net, x[:N_FAST], OFF, [1] * 5))


def _sim_per_image(sim, x):
    logits, flips = [], []
    for img in x:
        sim.reset_noise()
        logits.append(sim.execute(img[None])[0])
        flips.append(sim.flip_counts())
    return np.array(logits), np.array(flips)


@pytest.mark.slow
@pytest.mark.parametrize("setting", list(SETTINGS))
@pytest.mark.parametrize("name", MODELS)
def test_finn_sim_brevitas_agree_on_1000_images(built, name, setting):
    """1000 test images: one run of each level (logits), and FINN = sim image by image (logits
    and every injector's flip count, each image a fresh run)."""
    net, twin, _, bdir, x = built(name)
    s = SETTINGS[setting]
    x = x[:N_SLOW]
    finn_out, sim_out, brevitas_out = _three_levels(net, twin, bdir, x, s)
    assert np.array_equal(finn_out, brevitas_out)
    assert np.array_equal(sim_out, brevitas_out)
    configured = twin.transform(ConfigureNoiseInjectors(mode=s.mode, p=s.p, seed=s.seed,
                                                        layers=s.layers, fault_masks=s.fault_masks))
    finn_img, finn_flips = finn_runs(configured, x)
    sim = SimAccelerator(python_model_path(bdir))
    sim.configure_noise(s)
    sim_img, sim_flips = _sim_per_image(sim, x)
    assert np.array_equal(finn_img, sim_img) and np.array_equal(finn_flips, sim_flips)
    if s.mode != "off":
        assert finn_flips.sum() > 0


def test_unlowered_scale_is_one_line(tmp_path, monkeypatch):
    """Without the input-scale split a w2a2 CNN keeps a float in front of its first sliding
    window (FINN: "Im2Col_0: Input is not int"): the build stops with one line naming it."""
    from noisybnn.compile import steps
    from noisybnn.compile.flow import BuildFailedError
    from noisybnn.pipeline import compile_model

    ckpt = _checkpoint("cnv-w2a2")
    if ckpt is None:
        pytest.skip("no cnv-w2a2 checkpoint")

    def step_bipolar_input(model, cfg):  # FINN names the step by the function's name
        return model

    monkeypatch.setattr(steps, "step_bipolar_input", step_bipolar_input)
    # FINN re-raises a step's error inside pytest, and logs it (rc -1) everywhere else
    monkeypatch.delenv("PYTEST_CURRENT_TEST", raising=False)
    with pytest.raises(BuildFailedError, match="Im2Col node Im2Col_0 .*sliding window") as err:
        compile_model(str(ckpt), out_dir=tmp_path / "build", target_fps=2000, golden_images=0)
    assert "\n" not in str(err.value) and "--folding" not in str(err.value)
