"""One place that prepares FINN to run in this process, and says clearly what is missing.

FINN wants a build directory and global settings, and its builder imports the Vivado simulation
binding (finn.xsi) at import time. Where Vivado is absent we bind those names to a stub that
raises `ToolMissingError` when called, so the python-level steps (transformations, python
execution, estimate reports) run and the Vivado-only steps fail with one line.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from noisybnn.errors import ToolMissingError
from noisybnn.resources import work_dir

_PREPARED = False


def vivado_available() -> bool:
    return bool(os.environ.get("XILINX_VIVADO")) and shutil.which("vivado") is not None


def vitis_available() -> bool:
    return bool(os.environ.get("XILINX_VITIS")) and shutil.which("v++") is not None


def require_vivado(what: str, vitis: bool = False) -> None:
    """Raise ToolMissingError naming what is missing, before any long step starts."""
    if vitis and not vitis_available():
        raise ToolMissingError(
            f"{what} needs AMD Vitis (v++ on PATH and XILINX_VITIS set); it is not installed here"
        )
    if not vivado_available():
        raise ToolMissingError(
            f"{what} needs AMD Vivado (vivado on PATH and XILINX_VIVADO set, e.g. by sourcing "
            "settings64.sh); it is not installed here"
        )


class _XsiUnavailable:
    def __init__(self, name: str):
        self._name = name

    def __call__(self, *args, **kwargs):
        raise ToolMissingError(f"RTL simulation ({self._name}) needs Vivado XSI; not installed here")

    def __getattr__(self, item):
        raise ToolMissingError(f"RTL simulation ({self._name}) needs Vivado XSI; not installed here")


def _default_build_dir() -> Path:
    """<repo>/build/finn in a source checkout, else ~/.cache/noisybnn/build/finn."""
    return work_dir("build", "finn")


def prepare_finn(build_dir: str | Path | None = None) -> Path:
    """Set FINN_BUILD_DIR, initialise FINN settings, stub XSI where Vivado is absent. Idempotent."""
    global _PREPARED
    root = Path(build_dir or os.environ.get("FINN_BUILD_DIR") or _default_build_dir()).resolve()
    root.mkdir(parents=True, exist_ok=True)
    os.environ["FINN_BUILD_DIR"] = str(root)
    if _PREPARED:
        return root
    import finn.xsi as xsi

    if not vivado_available():
        for name in xsi._LAZY_NAMES:
            setattr(xsi, name, _XsiUnavailable(name))
    from finn.util import settings

    if getattr(settings, "_SETTINGS", None) is None:
        try:
            settings.get_settings()
        except Exception:
            settings.initialize_dummy_settings()
    _PREPARED = True
    return root
