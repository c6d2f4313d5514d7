"""The injector stream after a convolution (docs/injector.md, "conv layers"): NHWC, channels fastest.

Image i, pixel (h, w), fold f: beat b = ((i * H + h) * W + w) * NF + f, lane p carries channel
c = f * PE + p. The expected bits are built here beat by beat from `hw.injector.flip_bits` (the
injector's reference stream), independently of the permutes that `NeuronNoise` uses.
"""

import numpy as np
import pytest
import torch

from noisybnn.hw import InjectorConfig, threshold_from_p
from noisybnn.hw.injector import flip_bits
from noisybnn.models import NeuronNoise, build
from noisybnn.models.spec import ModelSpec


def _bipolar_maps(n, c, h, w, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.where(torch.rand(n, c, h, w, generator=g) < 0.5, -1.0, 1.0)


def _expected_flips(cfg: InjectorConfig, n, h, w) -> np.ndarray:
    """Bool (n, C, h, w, bits): the flips the contract assigns to each channel at each pixel."""
    nf = cfg.neurons // cfg.pe
    stream = flip_bits(cfg, n * h * w * nf)  # (beats, pe, bits)
    out = np.zeros((n, cfg.neurons, h, w, cfg.bits), dtype=bool)
    for i in range(n):
        for y in range(h):
            for x in range(w):
                for f in range(nf):
                    beat = ((i * h + y) * w + x) * nf + f
                    for p in range(cfg.pe):
                        out[i, f * cfg.pe + p, y, x] = stream[beat, p]
    return out


@pytest.mark.parametrize("pe", [1, 2, 8])
def test_conv_flips_follow_the_contract_across_batches(pe):
    """Flip mode, binary: flips land where the contract says, beats counted across pixels and
    images, and across forward calls (two batches) until the reseed."""
    c, h, w, n, p, seed = 8, 3, 4, 5, 0.15, 4242
    noise = NeuronNoise(c).eval()
    noise.set_eval_noise(p, seed=seed, source="injector", pe=pe)
    x = _bipolar_maps(n, c, h, w)
    out = torch.cat([noise(x[:2]), noise(x[2:])])
    cfg = InjectorConfig(neurons=c, pe=pe, threshold=threshold_from_p(p), seed=seed)
    want = _expected_flips(cfg, n, h, w)[..., 0]
    assert want.any() and not want.all()
    assert np.array_equal((out != x).numpy(), want)
    assert noise.flips_counted == int(want.sum())
    noise.reset()  # the reseed strobe: the stream starts again at beat 0
    assert torch.equal(noise(x[:2]), out[:2])


def test_conv_fault_mask_names_channels_at_every_pixel():
    """Flip mode with a fault mask: only the masked channels flip, at any pixel."""
    c, h, w, n, pe = 8, 4, 4, 3, 4
    mask = np.array([0, 1, 0, 0, 1, 0, 0, 1], dtype=bool)
    noise = NeuronNoise(c).eval()
    noise.set_eval_noise(0.3, seed=9, source="injector", pe=pe, fault_mask=mask)
    x = _bipolar_maps(n, c, h, w, seed=1)
    flipped = (noise(x) != x).numpy()
    cfg = InjectorConfig(neurons=c, pe=pe, threshold=threshold_from_p(0.3), seed=9,
                         fault_mask=tuple(mask.tolist()))
    assert np.array_equal(flipped, _expected_flips(cfg, n, h, w)[..., 0])
    assert not flipped[:, ~mask].any() and flipped[:, mask].any()


@pytest.mark.parametrize("mode,value", [("stuck0", -1.0), ("stuck1", 1.0)])
def test_crashed_channel_is_crashed_at_every_pixel(mode, value):
    c, h, w, n = 6, 5, 5, 4
    mask = np.array([0, 0, 1, 0, 0, 1], dtype=bool)
    noise = NeuronNoise(c).eval()
    noise.set_eval_noise(0.0, seed=3, source="injector", pe=3, mode=mode, fault_mask=mask)
    x = _bipolar_maps(n, c, h, w, seed=2)
    y = noise(x)
    assert torch.all(y[:, mask] == value)
    assert torch.equal(y[:, ~mask], x[:, ~mask])


def test_two_bit_conv_codes_follow_the_contract():
    """Two-bit activations: lane p of beat b carries both bits of channel f * PE + p."""
    c, h, w, n, pe, p = 4, 2, 3, 3, 2, 0.2
    g = torch.Generator().manual_seed(5)
    x = torch.randint(-1, 2, (n, c, h, w), generator=g).float()
    noise = NeuronNoise(c, bit_width=2).eval()
    noise.set_eval_noise(p, seed=11, source="injector", pe=pe)
    y = noise(x)
    cfg = InjectorConfig(neurons=c, pe=pe, bits=2, threshold=threshold_from_p(p), seed=11)
    flips = _expected_flips(cfg, n, h, w)
    xor = flips[..., 0].astype(np.int64) + 2 * flips[..., 1].astype(np.int64)
    codes = (x.long() & 3).numpy() ^ xor
    assert np.array_equal(y.numpy(), np.where(codes >= 2, codes - 4, codes).astype(np.float32))


def test_tiny_conv_net_noise_sits_before_the_pool():
    """In a conv block the injector sees the full (pre-pool) map: NeuronNoise before MaxPool2d."""
    net = build(ModelSpec(arch="cnn", hidden=(4, 4, 8, 8), fc_hidden=(16,), name="tiny-cnn")).eval()
    seen = []
    for layer in net.noise_layers:
        layer.register_forward_hook(lambda m, inp, out: seen.append(tuple(out.shape[1:])))
    net.integer_logits(torch.rand(2, 1, 28, 28))
    assert seen == [(4, 26, 26), (4, 24, 24), (8, 10, 10), (8, 8, 8), (16,)]
