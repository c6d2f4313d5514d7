"""Bit-exactness across levels: Brevitas = FINN python execution = software accelerator.

Injectors off, and on with several p, seeds and layer sets: the FINN graph with injectors and
Brevitas driven by the injector stream give identical integer logits on real MNIST test images.
This is the proof that what the board does is what the software predicts.
"""

import json

import numpy as np
import pytest
from qonnx.core.modelwrapper import ModelWrapper

from noisybnn import data
from noisybnn.backends import NoiseSetting, load
from noisybnn.compile import injectors
from noisybnn.compile.paths import ESTIMATES, python_model_path
from noisybnn.train import load_checkpoint
from noisybnn.zoo import checkpoint_path
from tests.compile._parity import brevitas_logits, finn_logits

N_IMAGES = 1000

SETTINGS = [
    NoiseSetting(mode="off"),
    NoiseSetting(p=0.01, seed=1),
    NoiseSetting(p=0.1, seed=2024, layers=(0, 2)),
    NoiseSetting(p=0.3, seed=7, layers=(1,)),
    NoiseSetting(mode="stuck0", seed=3, fault_masks={0: tuple(i % 3 == 0 for i in range(64))},
                 layers=(0,)),
    NoiseSetting(mode="stuck1", seed=3, layers=(2,)),
]




@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: f"{s.mode}-p{s.p}-l{s.layers}")
def test_tfc_levels_agree(build_of, setting):
    bdir = build_of("tfc-w1a1")
    net, _ = load_checkpoint(checkpoint_path("tfc-w1a1"))
    twin = ModelWrapper(str(python_model_path(bdir)))
    pes = [int(next(a.i for a in n.attribute if a.name == "PE")) for n in injectors(twin)]
    x, _ = data.load("mnist", "test")
    x = x[:N_IMAGES]
    finn_out = finn_logits(twin, x, setting)
    brevitas_out = brevitas_logits(net, x, setting, pes)
    sim = load("sim", bdir)
    sim.configure_noise(setting)
    sim_out = np.concatenate([sim.execute(x[:300]), sim.execute(x[300:])])  # one run, two calls
    assert np.array_equal(finn_out, brevitas_out)
    assert np.array_equal(sim_out, finn_out)
    if setting.mode != "off":
        assert sum(sim.flip_counts()) > 0


@pytest.mark.parametrize("name", ["sfc-w1a1", "tfc-w2a2", "lfc-w1a1"])
@pytest.mark.parametrize("setting", [SETTINGS[0], SETTINGS[2]], ids=["off", "flip"])
def test_other_models_levels_agree(build_of, name, setting):
    bdir = build_of(name)
    net, _ = load_checkpoint(checkpoint_path(name))
    twin = ModelWrapper(str(python_model_path(bdir)))
    pes = [int(next(a.i for a in n.attribute if a.name == "PE")) for n in injectors(twin)]
    x, _ = data.load("mnist", "test")
    x = x[:N_IMAGES]
    finn_out = finn_logits(twin, x, setting)
    assert np.array_equal(finn_out, brevitas_logits(net, x, setting, pes))
    sim = load("sim", bdir)
    sim.configure_noise(setting)
    assert np.array_equal(sim.execute(x), finn_out)


def test_injectors_sit_after_every_hidden_layer_with_producer_pe(build_of):
    bdir = build_of("tfc-w1a1")
    twin = ModelWrapper(str(python_model_path(bdir)))
    found = injectors(twin)
    # one name from graph to manifest to driver: the folded accelerator's node name
    assert [n.name for n in found] == ["NoiseInjector_rtl_0", "NoiseInjector_rtl_1", "NoiseInjector_rtl_2"]
    estimates = json.loads((bdir / ESTIMATES).read_text())
    assert [i["name"] for i in estimates["injectors"]] == [n.name for n in found]
    assert {n.name for n in found} <= set(estimates["layers"])  # FINN's own per-node report
    for node in found:
        assert twin.find_producer(node.input[0]).op_type == "MVAU"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tfc-w1a1", "sfc-w1a1", "lfc-w1a1"])
@pytest.mark.parametrize("setting", [SETTINGS[0], SETTINGS[1], SETTINGS[2]], ids=["off", "p0.01", "p0.1"])
def test_sim_equals_finn_on_full_test_set(build_of, name, setting):
    """The software accelerator = FINN python execution on all 10,000 MNIST test images."""
    bdir = build_of(name)
    twin = ModelWrapper(str(python_model_path(bdir)))
    x, _ = data.load("mnist", "test")
    finn_out = finn_logits(twin, x, setting)
    sim = load("sim", bdir)
    sim.configure_noise(setting)
    assert np.array_equal(sim.execute(x), finn_out)
