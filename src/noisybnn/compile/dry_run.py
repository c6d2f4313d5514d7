"""`noisybnn build --dry-run`: FINN's full hardware build with stand-in Xilinx tools.

FINN resolves every tool through `FINN_TOOL_DIR_OVERRIDE` (finn.util.basic.resolve_xilinx_tool);
the dry run points it at stand-ins (standin/tool.py) that execute each generated HLS, stitching
and shell Tcl script in `tclsh` with stub commands (standin/vivado_stub.tcl): an undefined
variable, a missing file or a wrong argument count fails the build as Vivado would. It writes
`dry_run.json`: every script, every `$::env(...)` read with its value, every file referenced
and whether it exists, what the stand-ins wrote in the tools' place, the tool commands the stubs
do not model, and what only Vivado can prove.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

from noisybnn.compile.paths import DRY_RUN

STANDIN = Path(__file__).with_name("standin")
TOOLS = ("vivado", "vitis_hls", "vitis-run", "v++", "kernelinfo")
#: What passing the dry run does not show.
ONLY_VIVADO_PROVES = [
    "HLS synthesis of the C++ layers (finn-hlslib templates compile, II, resources)",
    "FIFO depths from RTL simulation (FINN sizes them with Vivado XSI; the dry run uses "
    "FINN's force_minimal_fifos strategy)",
    "Vivado IP packaging, block-design validation and address assignment",
    "synthesis, placement, routing and timing closure at the target clock",
    "the bitstream and the .hwh Vivado writes (the stand-ins write empty files)",
    "v++ linking of the kernels into an xclbin (Alveo)",
    "the board: DMA transfers, the injectors' registers, the clock",
]


def _write_tools(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for tool in TOOLS:
        path = folder / tool
        path.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{STANDIN / "tool.py"}" {tool} "$@"\n')
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


@contextlib.contextmanager
def standin_tools(work: Path, log: Path) -> Iterator[None]:
    """Environment of a Vivado/Vitis machine whose tools are the stand-ins, for the call only."""
    install = work / "Xilinx"
    vivado = install / "Vivado" / "2024.2"
    tools = vivado / "bin"
    _write_tools(tools)
    for sub in ("Vitis/2024.2/bin", "Vitis_HLS/2024.2/bin", "xrt", "platforms"):
        (install / sub).mkdir(parents=True, exist_ok=True)
    _write_tools(install / "Vitis" / "2024.2" / "bin")
    env = {
        "FINN_TOOL_DIR_OVERRIDE": str(tools),
        "XILINX_VIVADO": str(vivado),
        "XILINX_HLS": str(install / "Vitis" / "2024.2"),
        "XILINX_VITIS": str(install / "Vitis" / "2024.2"),
        "XILINX_XRT": str(install / "xrt"),
        "PLATFORM_REPO_PATHS": str(install / "platforms"),
        "NOISYBNN_DRYRUN_LOG": str(log),
        "PATH": f"{tools}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def summarize(log: Path, deps) -> dict:
    """dry_run.json's content from the stand-ins' log and FINN's dependency check."""
    scripts, env, files, outputs, commands, errors, kernel_args = [], {}, {}, set(), {}, [], []
    for line in log.read_text().splitlines() if log.is_file() else []:
        rec = json.loads(line)
        kind = rec["kind"]
        if kind == "script":
            scripts.append({"tool": rec["tool"], "path": rec["path"]})
        elif kind == "env":
            env[rec["name"]] = {"value": rec["value"], "defined": "missing" not in rec}
        elif kind == "file":
            old = files.get(rec["path"], {})
            files[rec["path"]] = {"exists": rec["exists"] == "1" or old.get("exists", False),
                                  "role": rec["role"]}
        elif kind == "output":
            outputs.add(rec["path"])
        elif kind == "command":
            commands[rec["name"]] = commands.get(rec["name"], 0) + 1
        elif kind == "error":
            errors.append(rec)
        elif kind == "kernel_arg":  # {name:addressQualifier:id:port:size:offset:type:memSize}
            name, _, _, port, size, offset = rec["spec"].strip("{}").split(":")[:6]
            kernel_args.append({"kernel": rec["kernel"], "arg": name, "port": port,
                                "offset": offset, "size": size})
    external = {"board-files", "vitis-platform", "finn-deps"}
    missing = sorted(p for p, f in files.items() if not f["exists"] and f["role"] not in external)
    expected = sorted(p for p, f in files.items() if not f["exists"] and f["role"] in external)
    return {
        "scripts": scripts,
        "env": env,
        "files": files,
        "missing": missing + [k for k, v in env.items() if not v["defined"]],
        "expected_external_missing": expected + sorted(deps.missing.values()),
        "finn_dependencies": {"found": deps.found, "missing": deps.missing},
        "standin_outputs": sorted(outputs),
        "unmodelled_commands": dict(sorted(commands.items())),
        "vitis_kernel_args": kernel_args,
        "errors": errors,
        "only_vivado_proves": ONLY_VIVADO_PROVES,
        "counts": {"scripts": len(scripts), "env": len(env), "files": len(files),
                   "missing": len(missing)},
    }


def dry_run(model: str, board: str = "pynq-z2", out_dir: str | Path | None = None, *,
            target_fps: int = 100_000, folding_file: str | None = None,
            noise_layers: list[int] | None = None) -> Path:
    """Run the hardware build of `model` for `board` with stand-in tools; return dry_run.json."""
    from noisybnn.compile.finn_env import check_hardware_deps, prepare_finn
    from noisybnn.compile.flow import CompileConfig, build
    from noisybnn.compile.targets import is_alveo, load_target
    from noisybnn.export import export_qonnx
    from noisybnn.train import load_checkpoint
    from noisybnn.zoo import resolve

    target = load_target(board)
    net, payload = load_checkpoint(resolve(model))
    out = Path(out_dir or Path("build") / "dry-run" / board / payload["spec"]["name"]).resolve()
    out.mkdir(parents=True, exist_ok=True)
    log = out / "standin_log.jsonl"
    log.unlink(missing_ok=True)
    onnx_path = export_qonnx(net, out / "model.onnx")
    cfg = CompileConfig(board=board, output_dir=str(out / "finn"), target_fps=target_fps,
                        folding_file=folding_file, noise_layers=noise_layers,
                        estimates_only=False)
    failure = None
    with standin_tools(out, log):
        prepare_finn(out / "finn_build", stub_xsi=True)  # no XSI behind the stand-ins
        try:
            build(onnx_path, cfg, tools=contextlib.nullcontext(),
                  auto_fifo_strategy="force_minimal_fifos")  # FINN's no-simulation sizing
        except Exception as exc:  # the report says where the build stopped, then re-raises
            failure = exc
        deps = check_hardware_deps(target["board"], is_alveo(target))
    report = summarize(log, deps)
    finn_out = Path(cfg.output_dir)
    why = "" if failure is None else f"{type(failure).__name__}: {failure}"
    stopped = _stopped_at_vivado_reports(finn_out, report, is_alveo(target), why)
    report.update(model=payload["spec"]["name"], board=board, completed=failure is None,
                  failure=None if failure is None else f"{type(failure).__name__}: {failure}",
                  stopped_at=stopped, steps=_steps_run(finn_out))
    if stopped:
        failure = None
    path = out / DRY_RUN
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n")
    os.replace(tmp, path)
    if failure is not None:
        raise failure
    return path


def _steps_run(finn_out: Path) -> list[str]:
    """The steps FINN started, in order (its log)."""
    log = finn_out / "build_dataflow.log"
    text = log.read_text() if log.is_file() else ""
    return [line.split("Running step: ")[1].split(" [")[0] for line in text.splitlines()
            if "Running step: " in line]


#: How FINN fails when it reads the (empty) utilization report a stand-in wrote in Vivado's place.
_REPORT_FAILURES = ("ParseError", "Could not read synthesis report")


def _stopped_at_vivado_reports(finn_out: Path, report: dict, alveo: bool, why: str) -> str | None:
    """Where the dry run ends by design: every script of step_synthesize_bitfile ran, then FINN
    parses the utilization report Vivado would write (the stand-ins write an empty file). FINN
    logs the error, or (under pytest) re-raises it: `why` is the exception."""
    steps = _steps_run(finn_out)
    log = finn_out / "build_dataflow.log"
    shell = [s for s in report["scripts"]
             if (s["tool"] == "v++" if alveo else s["path"].endswith("ip_config.tcl"))]
    if (steps and steps[-1] == "step_synthesize_bitfile" and shell and not report["errors"]
            and any(m in why + (log.read_text() if log.is_file() else "") for m in _REPORT_FAILURES)):
        return ("step_synthesize_bitfile, after its shell scripts: FINN parses the utilization "
                "report only Vivado writes (steps after it not run: step_make_driver, "
                "step_deployment_package)")
    return None


def dry_run_command(model: str, board: str, out_dir: str | None) -> int:
    """`noisybnn build --dry-run`: run, print the counts, 1 if anything is missing."""
    path = dry_run(model, board, out_dir)
    d = json.loads(path.read_text())
    c = d["counts"]
    print(f"{c['scripts']} scripts, {c['env']} env variables, {c['files']} files checked, "
          f"{c['missing']} missing; expected here but absent: "
          f"{', '.join(d['expected_external_missing']) or 'none'}")
    print("only Vivado can prove: " + "; ".join(d["only_vivado_proves"]))
    print(f"wrote {path}")
    return 1 if d["missing"] else 0
