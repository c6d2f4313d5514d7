"""FINN integration: the NoiseInjector layer, its graph passes, the build steps and targets.

Import-light: `noisybnn.compile.targets` and `noisybnn.compile.paths` read boards and builds
without FINN. FINN is prepared (`finn_env.prepare_finn`) and our ops registered
(`registry.register_ops`, the one registration point) when a build or a FINN execution starts;
the graph passes below are loaded on first use.
"""

from __future__ import annotations

import importlib

_LAZY = {
    "ConfigureNoiseInjectors": "noisybnn.compile.transforms",
    "InsertNoiseInjectors": "noisybnn.compile.transforms",
    "MatchInjectorFolding": "noisybnn.compile.transforms",
    "SpecializeNoiseInjectors": "noisybnn.compile.transforms",
    "injectors": "noisybnn.compile.transforms",
    "noisy_layer_producers": "noisybnn.compile.transforms",
    "prepare_finn": "noisybnn.compile.finn_env",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'noisybnn.compile' has no attribute {name!r}")
