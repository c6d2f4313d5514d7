"""Quantizers shared by every model: Brevitas' own BNN-PYNQ quantizers, named for this project.

Both come from `brevitas_examples.bnn_pynq.models.common` (shipped in the brevitas wheel, the
quantizers of Brevitas' TFC/SFC/LFC/CNV examples that FINN's BNN-PYNQ flow is tested with):

* `WeightQuant` is `CommonWeightQuant`: signed, narrow range, per tensor, constant scale 1.0,
  binary at 1 bit, integer above;
* `ActQuant` is `CommonActQuant`: the same with min_val -1, max_val 1;
* `PixelQuant` (8-bit input of a CNN) is `CommonActQuant` made unsigned over [0, 1] with the full
  range and constant scale 1 / 255: an image fed as pixel / 255 is quantized to the integer code
  pixel, exactly (round(pixel / 255 * 255) = pixel), so the exported graph, FINN and the sim see
  the unchanged uint8 image.

Scales are constant and equal to 1.0 for weights and activations: the exported graph then carries
exact integers, and Brevitas, QONNX, FINN and the software accelerator agree bit for bit (a 0.1
weight scale makes tied logits break differently across levels). Importing that module also
imports Brevitas' example models (about 1 s) and installs a urllib opener with a browser
User-agent (its MNIST download fix); neither changes what this project computes.
"""

from __future__ import annotations

from brevitas_examples.bnn_pynq.models.common import CommonActQuant, CommonWeightQuant

__all__ = ["PIXEL_SCALE", "ActQuant", "PixelQuant", "WeightQuant", "act_levels"]

#: Value of one step of the 8-bit input code: x = pixel / 255, so the integer code is the pixel.
PIXEL_SCALE = 1.0 / 255.0


class WeightQuant(CommonWeightQuant):
    """Weights in {-1, +1} (1 bit) or narrow signed integers (>1 bit), scale 1."""


class ActQuant(CommonActQuant):
    """Activations in {-1, +1} (1 bit) or {-(2^(b-1)-1) .. 2^(b-1)-1} / (2^(b-1)-1)."""


def act_levels(bit_width: int) -> int:
    """Largest integer code of a narrow signed activation of this width (1 for binary)."""
    return 1 if bit_width == 1 else 2 ** (bit_width - 1) - 1


class PixelQuant(CommonActQuant):
    """Raw 8-bit pixels: unsigned, codes 0..255, constant scale 1/255 (never learned)."""

    signed = False
    narrow_range = False
    min_val = 0.0
    max_val = 1.0
