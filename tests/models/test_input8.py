"""8-bit input for CNNs (issue 18): the quantized input is the raw uint8 image, hardening keeps every
decision of the first layer (whose accumulator counts in steps of 1/255), and the eval noise still
covers exactly the hidden layers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from noisybnn.errors import ConfigError
from noisybnn.models import ModelSpec, build, from_name
from noisybnn.models.quant import PIXEL_SCALE
from noisybnn.train import images_to_tensor, recalibrate_batchnorm

TINY = dict(arch="cnn", hidden=(4, 4, 8, 8), fc_hidden=(16,), name="cnn-tiny-in8")


@pytest.mark.parametrize("bits", [0, 2, 4, 16, 1.5])
def test_other_input_widths_are_refused(bits):
    with pytest.raises(ConfigError, match="in_bits must be 1"):
        ModelSpec(**{**TINY, "in_bits": bits})


def test_eight_bit_input_is_refused_for_mlps():
    with pytest.raises(ConfigError, match="arch 'cnn' only"):
        from_name("sfc-w1a1", in_bits=8)


def test_default_stays_binarized_and_the_name_says_in8():
    assert from_name("cnv-w1a1").in_bits == 1
    spec = ModelSpec(arch="cnn", hidden=(4,), fc_hidden=(8,), in_bits=8)
    assert spec.name.endswith("-in8") and ModelSpec.from_dict(spec.to_dict()) == spec


def test_the_input_code_is_the_pixel_for_every_value():
    net = build(ModelSpec(**TINY, in_bits=8)).eval()
    pixels = np.arange(256, dtype=np.uint8).reshape(1, 16, 16).repeat(4, 1).repeat(4, 2)[:, :28, :28]
    pixels = np.pad(pixels, ((0, 0), (0, 28 - pixels.shape[1]), (0, 28 - pixels.shape[2])))
    with torch.no_grad():
        q = net.quantize_input(images_to_tensor(pixels))
    _, scale, zero_point, bit_width, signed, _ = net.input_quant.act_quant(q)
    assert float(scale) == pytest.approx(PIXEL_SCALE, rel=1e-7) and net.input_scale == PIXEL_SCALE
    assert (float(zero_point), float(bit_width), bool(signed)) == (0.0, 8.0, False)
    codes = torch.round(q / scale).to(torch.int64).squeeze(1).numpy()
    assert np.array_equal(codes, pixels.astype(np.int64))  # all 256 values, exactly


def test_binarized_input_is_unchanged():
    net = build(ModelSpec(**TINY)).eval()
    x = torch.rand(3, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(net.quantize_input(x), torch.where(x >= 0.5, 1.0, -1.0))


def test_hardening_keeps_every_decision_with_eight_bit_input():
    """Thresholds move to half-integer pixel-code units in the first layer, and the activation
    maps of every block (and the logits) are unchanged on real images."""
    from noisybnn import data

    torch.manual_seed(0)
    net = build(ModelSpec(**TINY, in_bits=8))
    x, _ = data.load("mnist", "test")
    t = images_to_tensor(x[:200])
    recalibrate_batchnorm(net, t, batch_size=100)
    net.eval()

    def blocks(n):
        h, out = n.quantize_input(t), []
        for block in n.features:
            h = block(h)
            out.append(h.clone())
        return out, n.readout(h)

    with torch.no_grad():
        before, logits = blocks(net)
        assert net.harden_thresholds() == 4 + 4 + 8 + 8 + 16
        after, logits_after = blocks(net)
    for a, b in zip(before, after, strict=True):
        assert torch.equal(a, b)
    assert torch.equal(logits, logits_after)
    first = net.features[0][1].running_mean.double() / PIXEL_SCALE
    assert torch.allclose(first - first.floor(), torch.full_like(first, 0.5), atol=1e-3)


def test_eval_noise_covers_the_hidden_layers_only():
    """The input quantizer carries no noise module: the 5 noisy layers of CNV are its 4 conv maps
    and fc 256, as with binarized input, and a noisy pass changes the output."""
    net = build(from_name("cnv-w1a1", in_bits=8)).eval()
    ref = build(from_name("cnv-w1a1")).eval()
    assert [n.neurons for n in net.noise_layers] == [n.neurons for n in ref.noise_layers] == [
        32, 32, 64, 64, 256]
    noisy_modules = [m for m in net.modules() if type(m).__name__ == "NeuronNoise"]
    assert noisy_modules == net.noise_layers
    x = torch.rand(8, 1, 28, 28)
    with torch.no_grad():
        clean = net.integer_logits(x)
        net.set_eval_noise(0.2, seed=3, source="injector")
        noisy = net.integer_logits(x)
    assert all(layer.flips_counted > 0 for layer in net.noise_layers)
    assert not torch.equal(clean, noisy)
