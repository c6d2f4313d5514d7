"""Named topologies and specs."""

import pytest
import torch

from noisybnn.models import ModelSpec, build, from_name, mlp, names


@pytest.mark.parametrize("name", names() + ["mlp-16x2-w1a1", "mlp-100x4-w2a2"])
def test_every_named_model_builds_and_runs(name):
    net = build(from_name(name)).eval()
    out = net.integer_logits(torch.rand(3, 1, 28, 28))
    assert out.shape == (3, 10)
    assert torch.equal(out, out.round())  # integer accumulator


def test_bnn_pynq_widths():
    assert from_name("tfc-w1a1").hidden == (64, 64, 64)
    assert from_name("sfc-w2a2").hidden == (256,) * 3
    assert from_name("lfc-w1a2").hidden == (1024,) * 3
    assert mlp(128, 5).hidden == (128,) * 5


def test_spec_round_trip():
    spec = from_name("sfc-w1a1", eps_train=0.05)
    assert ModelSpec.from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize("bad", ["xfc-w1a1", "tfc-w3a7", "mlp-0x3-w1a1", "", "mlp-12-w1a1"])
def test_unknown_model_names(bad):
    with pytest.raises(ValueError):
        from_name(bad)
