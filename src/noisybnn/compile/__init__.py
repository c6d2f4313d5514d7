"""FINN integration: the NoiseInjector layer, its graph passes, the build steps and targets.

Importing this package prepares FINN (build dir, settings, XSI stub where Vivado is absent) and
registers our layer with FINN's op registries; that is the one registration point.
"""

from noisybnn.compile.finn_env import prepare_finn
from noisybnn.errors import ToolMissingError

prepare_finn()


def _register() -> None:
    import finn.custom_op.fpgadataflow as fpgadataflow
    import finn.custom_op.fpgadataflow.rtl as fpgadataflow_rtl

    from noisybnn.compile.ops import NoiseInjector, NoiseInjector_rtl

    fpgadataflow.custom_op["NoiseInjector"] = NoiseInjector
    fpgadataflow_rtl.custom_op["NoiseInjector_rtl"] = NoiseInjector_rtl
    from noisybnn.compile.mvau_rtl import MVAU_xnor_rtl

    fpgadataflow_rtl.custom_op["MVAU_xnor_rtl"] = MVAU_xnor_rtl


_register()

from noisybnn.compile.transforms import (  # noqa: E402
    ConfigureNoiseInjectors,
    InsertNoiseInjectors,
    MatchInjectorFolding,
    RemoveNoiseInjectors,
    injectors,
    noisy_layer_producers,
)

__all__ = [
    "ConfigureNoiseInjectors", "InsertNoiseInjectors", "MatchInjectorFolding",
    "RemoveNoiseInjectors", "ToolMissingError", "injectors", "noisy_layer_producers", "prepare_finn",
]
