"""Prepare FINN in this process the way FINN's own entry point does, and say what is missing.

`finn/interface/run_finn.py:prepare_finn` (what `finn build` runs first) builds FINN's settings,
checks/fetches the dependencies under FINN_DEPS (finn-hlslib, board files), builds the XSI
library, sets up the Xilinx tool paths and exports FINN_RTLLIB / FINN_CUSTOM_HLS, which the
generated HLS and stitching Tcl read. `prepare_finn` does the same steps, calling FINN's own
functions, without FINN's interactive wizard and `sys.exit`. `prepare_hardware` adds what a
Vivado build needs and raises one `ToolMissingError` naming everything missing.

Where Vivado is absent, FINN's XSI binding (imported by the builder) is replaced by a stub that
raises `ToolMissingError` when called, so estimate builds run anywhere.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from noisybnn.errors import ToolMissingError
from noisybnn.resources import work_dir

_PREPARED: Path | None = None
#: The board-files folder FINN's shell adds to Vivado's board.repoPaths, per board name.
BOARD_FILES = {"Pynq-Z1": "pynq-z1", "Pynq-Z2": "pynq-z2"}


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


def prepare_finn(build_dir: str | Path | None = None, *, stub_xsi: bool | None = None) -> Path:
    """FINN's settings, FINN_BUILD_DIR, FINN_RTLLIB, FINN_CUSTOM_HLS, our ops. Idempotent.

    FINN_DEPS (FINN's own variable) says where finn-hlslib and the board files are; default:
    FINN's (`<site-packages>/finn/finn_deps`). `stub_xsi` (default: where Vivado is absent)
    replaces FINN's XSI binding by a stub that raises ToolMissingError when used.
    """
    global _PREPARED
    root = Path(build_dir or os.environ.get("FINN_BUILD_DIR") or _default_build_dir()).resolve()
    root.mkdir(parents=True, exist_ok=True)
    os.environ["FINN_BUILD_DIR"] = str(root)
    if _PREPARED == root:
        return root
    import finn.xsi as xsi

    if not vivado_available() if stub_xsi is None else stub_xsi:
        for name in xsi._LAZY_NAMES:
            setattr(xsi, name, _XsiUnavailable(name))
    import finn.util.settings as finn_settings
    from finn.interface.settings import FINNSettings

    # as run_finn.prepare_finn: one settings object, installed as FINN's global settings
    settings = FINNSettings.init(flow_config=root / "noisybnn.yaml", finn_build_dir=str(root),
                                 auto_set_environment_vars=True)
    finn_settings._SETTINGS = settings
    os.environ.setdefault("XILINX_LOCAL_USER_DATA", "no")
    os.environ["FINN_RTLLIB"] = settings.finn_rtllib
    os.environ["FINN_CUSTOM_HLS"] = settings.finn_custom_hls
    from noisybnn.compile.registry import register_ops

    register_ops()
    _PREPARED = root
    return root


@dataclass
class HardwareDeps:
    """What a Vivado build reads besides the tools, and whether each is there."""

    finn_deps: Path
    found: dict[str, str] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)


def check_hardware_deps(board: str, alveo: bool) -> HardwareDeps:
    """Locate finn-hlslib and the board files where FINN's settings say (FINN_DEPS)."""
    from finn.util.settings import get_settings

    settings = get_settings()
    deps = HardwareDeps(finn_deps=Path(settings.finn_deps))
    items = {
        "FINN_RTLLIB": Path(settings.finn_rtllib) / "axi",
        "FINN_CUSTOM_HLS": Path(settings.finn_custom_hls),
        "finn-hlslib": deps.finn_deps / "finn-hlslib" / "bnn-library.h",
        # every generated HLS script adds -I<FINN_DEPS>/attention-hlslib (hlsbackend.py)
        "attention-hlslib": deps.finn_deps / "attention-hlslib",
    }
    if not alveo:
        items["board files"] = deps.finn_deps / "board_files" / BOARD_FILES.get(board, board)
    for name, path in items.items():
        (deps.found if path.exists() else deps.missing)[name] = str(path)
    return deps


def fetch_hardware_deps() -> None:
    """FINN's own dependency updater (git / download), as `finn deps update` runs it."""
    from finn.interface.manage_deps import DependencyUpdater
    from finn.util.settings import get_settings

    s = get_settings()
    DependencyUpdater(dependency_location=s.finn_deps, dependency_definition_file=s.finn_deps_definitions,
                      git_timeout_s=s.deps_git_timeout, non_interactive=True).update()


def prepare_hardware(board: str, alveo: bool, *, fetch: bool = True, strict: bool = True) -> HardwareDeps:
    """What run_finn.prepare_finn adds for a Vivado build: tool paths, LD_LIBRARY_PATH, XSI,
    finn-hlslib and board files (fetched by FINN's updater where missing and `fetch`).
    Raises ToolMissingError listing what is still missing (with `strict`; else returns it)."""
    from finn.interface.interface_utils import set_synthesis_tools_paths
    from finn.interface.run_finn import prepend_ld_library_paths, xilinx_ld_library_paths

    prepare_finn()
    set_synthesis_tools_paths()
    prepend_ld_library_paths(xilinx_ld_library_paths())
    deps = check_hardware_deps(board, alveo)
    if deps.missing and fetch:
        fetch_hardware_deps()
        deps = check_hardware_deps(board, alveo)
    if deps.missing and strict:
        what = "; ".join(f"{k} ({v})" for k, v in deps.missing.items())
        raise ToolMissingError(
            f"a hardware build needs {what}: run `finn deps update` on a machine with network "
            "access, or point FINN_DEPS at a folder holding finn-hlslib/ and board_files/"
        )
    if strict and vivado_available():
        import finn.xsi

        finn.xsi.ensure_available()  # FINN builds its XSI library for rtlsim FIFO sizing here
    return deps
