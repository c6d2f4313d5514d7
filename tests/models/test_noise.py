"""Noise-aware binarization: flip semantics, statistics, seeding, gradient, and injector parity."""

import numpy as np
import pytest
import torch

from noisybnn.hw import InjectorConfig, Mode, threshold_from_p
from noisybnn.hw.injector import flip_mask_for_vectors, inject_stream
from noisybnn.models import NeuronNoise, build, from_name


def _bipolar(n, c, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.where(torch.rand(n, c, generator=g) < 0.5, -1.0, 1.0)


def test_identity_when_eps_zero():
    noise = NeuronNoise(16).eval()
    x = _bipolar(8, 16)
    assert noise(x) is x


@pytest.mark.parametrize("eps", [0.01, 0.1, 0.5])
def test_train_flip_rate_and_straight_through_gradient(eps):
    torch.manual_seed(0)
    noise = NeuronNoise(256, eps_train=eps).train()
    x = _bipolar(400, 256).requires_grad_(True)
    y = noise(x)
    rate = (y != x).float().mean().item()
    sigma = (eps * (1 - eps) / x.numel()) ** 0.5
    assert abs(rate - eps) < 4 * sigma
    assert set(torch.unique(y).tolist()) <= {-1.0, 1.0}
    y.sum().backward()
    assert torch.equal(x.grad, torch.ones_like(x))  # straight-through


def test_eval_torch_source_is_seeded():
    noise = NeuronNoise(64).eval()
    x = _bipolar(100, 64)
    noise.set_eval_noise(0.2, seed=7)
    a = noise(x)
    noise.reset()
    b = noise(x)
    noise.set_eval_noise(0.2, seed=8)
    c = noise(x)
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("pe", [1, 4, 16])
def test_injector_source_equals_hardware_stream(pe):
    """Brevitas-side flips are exactly the injector reference's, across consecutive batches."""
    neurons, p, seed = 32, 0.1, 12345
    noise = NeuronNoise(neurons).eval()
    noise.set_eval_noise(p, seed=seed, source="injector", pe=pe)
    x = _bipolar(50, neurons)
    out = torch.cat([noise(x[:20]), noise(x[20:])])
    cfg = InjectorConfig(neurons=neurons, pe=pe, threshold=threshold_from_p(p), seed=seed)
    codes = (x > 0).long().numpy()
    expected, flips = inject_stream(cfg, codes.reshape(-1, pe))
    assert np.array_equal((out > 0).long().numpy(), expected.reshape(50, neurons))
    assert noise.flips_counted == flips
    mask = flip_mask_for_vectors(cfg, 50)[:, :, 0]
    assert np.array_equal((out != x).numpy(), mask)


def test_stuck_modes_and_two_bit_codes():
    noise = NeuronNoise(8, bit_width=2).eval()
    mask = np.array([1, 0, 1, 0, 0, 0, 0, 1], dtype=bool)
    noise.set_eval_noise(0.0, seed=1, source="injector", mode="stuck1", fault_mask=mask)
    x = torch.tensor([[1.0, 0.0, -1.0, 1.0, 0.0, -1.0, 1.0, 0.0]])
    y = noise(x)
    # stuck1 forces every bit of a crashed neuron to 1: code 0b11 = -1 in two's complement
    assert y[0, mask].tolist() == [-1.0, -1.0, -1.0]
    assert torch.equal(y[0, ~mask], x[0, ~mask])
    noise.set_eval_noise(0.3, seed=2, source="injector", mode="flip")
    y = noise(x.repeat(100, 1))
    cfg = InjectorConfig(neurons=8, bits=2, threshold=threshold_from_p(0.3), seed=2)
    codes = (x.repeat(100, 1).long() & 3).numpy()
    expected, _ = inject_stream(cfg, codes.reshape(-1, 1))
    expected = expected.reshape(100, 8)
    signed = np.where(expected >= 2, expected - 4, expected)
    assert np.array_equal(y.numpy(), signed.astype(np.float32))


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), "x"])
def test_bad_probability_rejected(bad):
    with pytest.raises(ValueError, match="eps"):
        NeuronNoise(4, eps_train=bad)
    with pytest.raises(ValueError):
        NeuronNoise(4).set_eval_noise(bad)


def test_bad_layer_and_mask_rejected():
    net = build(from_name("tfc-w1a1"))
    with pytest.raises(ValueError, match="out of range"):
        net.set_eval_noise(0.1, layers=[3])
    with pytest.raises(ValueError, match="fault mask"):
        net.noise_layers[0].set_eval_noise(0.0, source="injector", mode=Mode.STUCK0,
                                           fault_mask=np.ones(5, bool))


def test_noise_layers_placed_after_every_hidden_activation():
    for name, count in [("tfc-w1a1", 3), ("mlp-32x5-w1a1", 5), ("cnn-w1a1", 5)]:
        net = build(from_name(name))
        assert len(net.noise_layers) == count


def test_compiled_flip_mask_equals_reference():
    """NeuronNoise draws its injector flips through the sim's compiled stream: same bits."""
    import numpy as np

    from noisybnn.hw import InjectorConfig
    from noisybnn.hw import lfsr as _lfsr
    from noisybnn.models.noise import _flip_mask

    mask = tuple(i % 3 != 1 for i in range(12))
    cfg = InjectorConfig(neurons=12, pe=4, bits=2, threshold=9000, seed=77, fault_mask=mask)
    _lfsr.clear_cache()
    want = flip_mask_for_vectors(cfg, 40, 5)
    _lfsr.clear_cache()
    np.testing.assert_array_equal(_flip_mask(cfg, 40, 5), want)
