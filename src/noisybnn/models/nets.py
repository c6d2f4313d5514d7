"""Brevitas networks built from a `ModelSpec`, in the FINN-compatible BNN-PYNQ style.

Every hidden layer is QuantLinear/QuantConv2d (no bias) -> BatchNorm -> QuantIdentity -> NeuronNoise,
so FINN streamlines BatchNorm + activation into thresholds and the noise module marks exactly the
stream that the hardware injector corrupts. The readout ends at the integer accumulator of the last
layer; a positive learned temperature (`LogitScale`) is used in training only and never exported,
since it does not change the argmax.
"""

from __future__ import annotations

import torch
from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear
from torch import nn

from noisybnn.errors import ConfigError
from noisybnn.hw.injector import derive_layer_seed
from noisybnn.models.noise import NeuronNoise
from noisybnn.models.quant import PIXEL_SCALE, ActQuant, PixelQuant, WeightQuant
from noisybnn.models.spec import ModelSpec

IMAGE_SHAPE = (1, 28, 28)


class LogitScale(nn.Module):
    """A positive scalar temperature for the cross-entropy; identity at export."""

    def __init__(self, init: float = 0.1):
        super().__init__()
        self.log_scale = nn.Parameter(torch.tensor(float(init)).log())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.log_scale.exp()


class BinaryNet(nn.Module):
    """A quantized network; `forward` returns training logits, `integer_logits` the hardware output."""

    def __init__(self, spec: ModelSpec):
        super().__init__()
        self.spec = spec
        if spec.in_bits == 8:
            self.input_quant = QuantIdentity(act_quant=PixelQuant, bit_width=8)
        else:
            self.input_quant = QuantIdentity(act_quant=ActQuant, bit_width=spec.in_bits)
        self.features = nn.ModuleList()
        self.noise_layers: list[NeuronNoise] = []
        if spec.arch == "cnn":
            self._build_cnn(spec)
        else:
            self._build_mlp(spec)
        self.readout = QuantLinear(
            self._fc_in, spec.num_classes, bias=False, weight_quant=WeightQuant,
            weight_bit_width=spec.weight_bits,
        )
        self.logit_scale = LogitScale()
        for m in self.modules():
            if isinstance(m, (QuantLinear, QuantConv2d)):
                nn.init.uniform_(m.weight.data, -1, 1)

    # --- construction ------------------------------------------------------------------------
    def _act(self, channels: int) -> list[nn.Module]:
        noise = NeuronNoise(channels, self.spec.act_bits, eps_train=self.spec.eps_train)
        self.noise_layers.append(noise)
        return [QuantIdentity(act_quant=ActQuant, bit_width=self.spec.act_bits), noise]

    def _add_fc_layers(self, width_in: int, widths: tuple[int, ...]) -> int:
        """Append fully connected hidden blocks; return the width of the last one."""
        for width in widths:
            block = [
                QuantLinear(width_in, width, bias=False, weight_quant=WeightQuant,
                            weight_bit_width=self.spec.weight_bits),
                nn.BatchNorm1d(width),
                *self._act(width),
            ]
            if self.spec.dropout:
                block.append(nn.Dropout(self.spec.dropout))
            self.features.append(nn.Sequential(*block))
            width_in = width
        return width_in

    def _build_mlp(self, spec: ModelSpec) -> None:
        self._fc_in = self._add_fc_layers(IMAGE_SHAPE[1] * IMAGE_SHAPE[2], spec.hidden)

    def _build_cnn(self, spec: ModelSpec) -> None:
        channels_in, size = IMAGE_SHAPE[0], IMAGE_SHAPE[1]
        for i, channels in enumerate(spec.hidden):
            block = [
                QuantConv2d(channels_in, channels, 3, padding=0, bias=False,
                            weight_quant=WeightQuant, weight_bit_width=spec.weight_bits),
                nn.BatchNorm2d(channels),
                *self._act(channels),
            ]
            size -= 2
            if i % 2 == 1:
                block.append(nn.MaxPool2d(2))
                size //= 2
            self.features.append(nn.Sequential(*block))
            channels_in = channels
        self.features.append(nn.Flatten())
        self._fc_in = self._add_fc_layers(channels_in * size * size, spec.fc_hidden)

    # --- forward -----------------------------------------------------------------------------
    @property
    def input_scale(self) -> float:
        """Value of one step of the input code: 1 for binarized pixels (codes -1/+1), 1/255 for
        8-bit pixels (code = pixel). The first layer's accumulator counts in these steps."""
        return PIXEL_SCALE if self.spec.in_bits == 8 else 1.0

    def quantize_input(self, x: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] -> the quantized input: +-1 (in_bits 1: pixel >= 128 -> +1) or the
        pixel code times 1/255 (in_bits 8: the uint8 image itself, scaled)."""
        if self.spec.arch == "mlp":
            x = x.reshape(x.shape[0], -1)
        else:
            x = x.reshape(x.shape[0], *IMAGE_SHAPE)
        if self.spec.in_bits == 8:
            return self.input_quant(x)
        return self.input_quant(2.0 * x - 1.0)

    def integer_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] -> integer accumulator of the readout (what the accelerator outputs)."""
        x = self.quantize_input(x)
        for block in self.features:
            x = block(x)
        return self.readout(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logit_scale(self.integer_logits(x))

    def clip_weights(self, bound: float = 1.0) -> None:
        """Keep latent weights in [-bound, bound] (BinaryConnect)."""
        for m in self.modules():
            if isinstance(m, (QuantLinear, QuantConv2d)):
                m.weight.data.clamp_(-bound, bound)

    @torch.no_grad()
    def harden_thresholds(self) -> int:
        """Put every binary neuron's decision boundary half-way between two integers.

        A binary neuron fires when BatchNorm(acc) >= 0, acc an integer (in steps of
        `input_scale` for the first layer of an 8-bit-input CNN): acc >= T for a positive
        BN slope. Evaluated in float32, an acc next to T can fall on either side depending on the
        order of operations, so Brevitas and FINN's thresholds (same maths, other order) may
        disagree on rare inputs. Replacing BN by +-(acc - t) with t = ceil(T) - 1/2 (or
        floor(T) + 1/2 for a negative slope) keeps every decision the exact maths makes and moves
        the boundary 1/2 away from any acc, so every level computes the same bits. Returns the
        number of neurons changed. Multi-bit activations are left as they are. With 8-bit input
        the first layer's boundary is t * (1/255), t a half-integer in pixel-code units.
        """
        if self.spec.act_bits != 1:
            return 0
        changed = 0
        for fan_in, bn, step in self._fan_in_and_norms():
            gamma = bn.weight.double()
            beta = bn.bias.double()
            std = torch.sqrt(bn.running_var.double() + bn.eps)
            mu = bn.running_mean.double()
            live = gamma != 0
            t = torch.where(live, mu - beta * std / torch.where(live, gamma, 1.0), mu) / step
            half = torch.where(gamma > 0, torch.ceil(t) - 0.5, torch.floor(t) + 0.5)
            # acc lies in [-fan_in, fan_in]: a neuron that always fires gets its boundary at the
            # end of that range (an exact tie that fires), as FINN's XNOR layers need
            # non-negative popcount thresholds
            half = torch.where(gamma > 0, half.clamp(-fan_in, fan_in + 0.5),
                               half.clamp(-fan_in - 0.5, fan_in))
            bn.running_mean.copy_(torch.where(live, half * step, bn.running_mean.double()).float())
            bn.running_var.copy_(torch.where(live, 1.0 - bn.eps, bn.running_var.double()).float())
            bn.weight.copy_(torch.where(live, torch.sign(gamma), gamma).float())
            bn.bias.copy_(torch.where(live, 0.0, beta).float())
            changed += int(live.sum())
        return changed

    def _fan_in_and_norms(self):
        """(accumulator range in steps, its BatchNorm, the step's value) for every hidden block.

        The step is 1 except in the first layer of an 8-bit-input CNN (1/255, inputs 0..255)."""
        first = True
        for block in self.features:
            if not isinstance(block, nn.Sequential):
                continue
            layers = [m for m in block if isinstance(m, (QuantLinear, QuantConv2d))]
            norms = [m for m in block if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))]
            if layers and norms:
                fan_in = float(layers[0].weight[0].numel())
                if first and self.spec.in_bits == 8:
                    yield fan_in * 255.0, norms[0], float(self.input_scale)
                else:
                    yield fan_in, norms[0], 1.0
                first = False

    # --- noise control -----------------------------------------------------------------------
    def set_eval_noise(
        self, eps: float, layers: list[int] | None = None, seed: int = 0, **kw
    ) -> None:
        """Set eval-time noise in the given hidden layers (indices; default: all), clean elsewhere.

        Layer i draws from seed `derive_layer_seed(seed, i)`, exactly as the injector after hidden
        layer i does on the accelerator; other keywords go to `NeuronNoise.set_eval_noise`.
        """
        chosen = range(len(self.noise_layers)) if layers is None else layers
        for idx in chosen:
            if not 0 <= idx < len(self.noise_layers):
                raise ConfigError(
                    f"layer index {idx} out of range: the model has {len(self.noise_layers)} "
                    "noisy layers (0-based)"
                )
        for i, layer in enumerate(self.noise_layers):
            active = i in chosen
            layer_kw = dict(kw)
            if not active:
                layer_kw.pop("mode", None)
                layer_kw.pop("fault_mask", None)
            layer.set_eval_noise(eps if active else 0.0, seed=derive_layer_seed(seed, i), **layer_kw)

    def reset_noise(self) -> None:
        for layer in self.noise_layers:
            layer.reset()


class ExportWrapper(nn.Module):
    """What is exported to QONNX: the integer-logit path, noise modules inactive."""

    def __init__(self, net: BinaryNet):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.integer_logits(x)


def build(spec: ModelSpec) -> BinaryNet:
    return BinaryNet(spec)
