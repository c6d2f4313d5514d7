"""Quantizers shared by every model, declared once (Brevitas injectors).

Scales are constant and equal to 1.0 for weights and activations: the exported graph then carries
exact integers, and Brevitas, QONNX, FINN and the software accelerator agree bit for bit (a 0.1
weight scale makes tied logits break differently across levels).
"""

from __future__ import annotations

from brevitas.core.bit_width import BitWidthImplType
from brevitas.core.quant import QuantType
from brevitas.core.restrict_val import FloatToIntImplType, RestrictValueType
from brevitas.core.scaling import ScalingImplType
from brevitas.core.zero_point import ZeroZeroPoint
from brevitas.inject import ExtendedInjector
from brevitas.quant.solver import ActQuantSolver, WeightQuantSolver
from dependencies import value


class _ConstScaleQuant(ExtendedInjector):
    """Signed, narrow-range, per-tensor quantizer with a constant scale of 1."""

    bit_width_impl_type = BitWidthImplType.CONST
    scaling_impl_type = ScalingImplType.CONST
    restrict_scaling_type = RestrictValueType.FP
    zero_point_impl = ZeroZeroPoint
    float_to_int_impl_type = FloatToIntImplType.ROUND
    scaling_per_output_channel = False
    narrow_range = True
    signed = True

    @value
    def quant_type(bit_width):  # noqa: N805 - dependency-injection signature
        return QuantType.BINARY if bit_width == 1 else QuantType.INT


class WeightQuant(_ConstScaleQuant, WeightQuantSolver):
    """Weights in {-1, +1} (1 bit) or narrow signed integers (>1 bit), scale 1."""

    scaling_const = 1.0


class ActQuant(_ConstScaleQuant, ActQuantSolver):
    """Activations in {-1, +1} (1 bit) or {-(2^(b-1)-1) .. 2^(b-1)-1} / (2^(b-1)-1)."""

    min_val = -1.0
    max_val = 1.0


def act_levels(bit_width: int) -> int:
    """Largest integer code of a narrow signed activation of this width (1 for binary)."""
    return 1 if bit_width == 1 else 2 ** (bit_width - 1) - 1
