"""Backends that run a compiled accelerator: `sim` (bit-exact software model, the default),
`pynq` (a PYNQ board or Alveo card) and `rtl` (the accelerator's RTL under Verilator: slow,
cycle-exact). All implement `base.Accelerator`."""

from __future__ import annotations

from pathlib import Path

from noisybnn.backends import kernels
from noisybnn.backends.base import Accelerator, NoiseSetting, check_images, predict
from noisybnn.errors import ConfigError

BACKENDS = ("sim", "pynq", "rtl")


def load(backend: str, build_dir: str | Path, **kw) -> Accelerator:
    """Open the accelerator of a build directory on the given backend."""
    build_dir = Path(build_dir)
    if backend == "sim":
        from noisybnn.backends.sim import SimAccelerator
        from noisybnn.compile.paths import python_model_path

        return SimAccelerator(python_model_path(build_dir), **kw)
    if backend == "pynq":
        from noisybnn.backends.pynq import PynqAccelerator

        return PynqAccelerator.from_build(build_dir.resolve(), **kw)
    if backend == "rtl":
        from noisybnn.backends.rtl import RtlAccelerator

        return RtlAccelerator(build_dir, **kw)
    raise ConfigError(f"unknown backend {backend!r}; choose one of: {', '.join(BACKENDS)}")


__all__ = ["BACKENDS", "Accelerator", "NoiseSetting", "check_images", "kernels", "load", "predict"]
