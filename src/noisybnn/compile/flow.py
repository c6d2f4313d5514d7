"""The build: FINN's own step list for the target, with our steps injected, one config per board.

    FINN's default steps (estimate-only list, or the full list up to the deployment package)
    + ours: add_preprocessing before qonnx_to_finn, split_input_scale before streamline,
    remove_identity_input and extract_threshold_scales after it, input_layout, check_hw_layers
    and insert_noise after convert_to_hw, specialize_noise_injectors before specialize_layers,
    match_injector_folding after apply_folding_config, save_python_model after the estimates.

Estimates run anywhere; a hardware build first prepares FINN's environment as FINN's entry point
does (finn_env) and stops at once, with one line, where Vivado/Vitis or FINN's dependencies are
absent. `noisybnn.compile.dry_run` runs the same hardware build with stand-in tools.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from noisybnn.compile.finn_env import prepare_finn, prepare_hardware, require_vivado
from noisybnn.compile.steps import noise_steps
from noisybnn.compile.targets import is_alveo, load_target, resolve_folding
from noisybnn.errors import NoisyBNNError


@dataclass
class CompileConfig:
    """What to build and how.

    Attributes:
        board: target name, a file in bitstreams/configs.
        output_dir: where FINN writes its build and reports.
        target_fps: folding goal for FINN's SetFolding; ignored when `folding_file` is given.
        folding_file: a FINN folding JSON (per-node PE/SIMD), instead of target_fps.
        noise_layers: hidden layers that get an injector (None: all; []: clean build).
        estimates_only: stop after the estimate reports.
        verify_images: golden input/output pairs checked after the python-executable steps.
    """

    board: str = "pynq-z2"
    output_dir: str = "build/compile"
    target_fps: int = 100_000
    folding_file: str | None = None
    noise_layers: list[int] | None = None
    estimates_only: bool = True
    verify_images: int = 4


def step_names(estimates_only: bool) -> list[str]:
    """FINN's own step list: estimate-only, or the full hardware list."""
    from finn.builder import build_dataflow_config as bc

    return list(bc.estimate_only_dataflow_steps if estimates_only else bc.default_build_dataflow_steps)


def finn_config(cfg: CompileConfig, target: dict, golden: tuple | None = None, **overrides):
    """FINN's DataflowBuildConfig for `cfg` on `target`; `overrides` are more FINN fields."""
    from finn.builder import build_dataflow_config as bc

    outputs = [bc.DataflowOutputType.ESTIMATE_REPORTS]
    if not cfg.estimates_only:
        outputs += [bc.DataflowOutputType.STITCHED_IP, bc.DataflowOutputType.BITFILE,
                    bc.DataflowOutputType.PYNQ_DRIVER, bc.DataflowOutputType.DEPLOYMENT_PACKAGE]
    before, after = noise_steps(cfg.noise_layers)
    kw = dict(
        output_dir=cfg.output_dir,
        synth_clk_period_ns=target["synth_clk_period_ns"],
        generate_outputs=outputs,
        board=target["board"],
        fpga_part=target["fpga_part"],
        shell_flow_type=target["shell_flow_type"],
        steps=step_names(cfg.estimates_only),
        inject_steps_before=before,
        inject_steps_after=after,
        save_intermediate_models=True,
        verbose=False,
    )
    if target.get("vitis_platform"):
        kw["vitis_platform"] = target["vitis_platform"]
    if cfg.folding_file:
        kw["folding_config_file"] = resolve_folding(cfg.folding_file)
    else:
        kw["target_fps"] = cfg.target_fps
    if golden is not None:
        kw["verify_steps"] = [
            bc.VerificationStepType.QONNX_TO_FINN_PYTHON,
            bc.VerificationStepType.TIDY_UP_PYTHON,
            bc.VerificationStepType.STREAMLINED_PYTHON,
        ]
        kw["verify_input_npy"], kw["verify_expected_output_npy"] = golden
    kw.update(overrides)
    return bc.DataflowBuildConfig(**kw)


def build(qonnx_path: str | Path, cfg: CompileConfig, golden: tuple | None = None, *,
          tools: contextlib.AbstractContextManager | None = None, **overrides) -> dict:
    """Run FINN's builder on an exported QONNX model; return a summary of what was produced.

    A hardware build (`estimates_only=False`) needs Vivado (Zynq) or Vitis (Alveo) and FINN's
    dependencies, and raises `ToolMissingError` before any work starts where they are absent;
    `tools` replaces them (the dry run's stand-ins), `overrides` are more FINN config fields.
    """
    target = load_target(cfg.board)
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    hardware = not cfg.estimates_only
    if hardware and tools is None:
        require_vivado(f"a bitstream for {cfg.board}", vitis=is_alveo(target))
    with tools or _vivado_placeholder():
        prepare_finn()
        if hardware:
            prepare_hardware(target["board"], is_alveo(target), fetch=tools is None,
                             strict=tools is None)
        fcfg = finn_config(cfg, target, golden, **overrides)
        from finn.builder.build_dataflow import build_dataflow_cfg

        t0 = time.time()
        with _finn_side_effects_undone():
            rc = build_dataflow_cfg(str(qonnx_path), fcfg)
    if rc != 0:
        raise BuildFailedError(_failure_line(out / "build_dataflow.log", rc))
    return {"output_dir": str(out), "seconds": round(time.time() - t0, 1)}


@contextlib.contextmanager
def _finn_side_effects_undone() -> Iterator[None]:
    """FINN's builder routes stdout/stderr into its logger and replaces the root logger's handlers
    with a file handler on the build's log (`logging.basicConfig(force=True)`), capturing
    warnings. Left in place, every later log line of this process would be appended to that
    build's `build_dataflow.log`; give streams, handlers, level and warnings back."""
    import logging

    root = logging.getLogger()
    streams, handlers, level = (sys.stdout, sys.stderr), list(root.handlers), root.level
    try:
        yield
    finally:
        sys.stdout, sys.stderr = streams
        for h in list(root.handlers):
            if h not in handlers:
                root.removeHandler(h)
                h.close()
        for h in handlers:
            if h not in root.handlers:
                root.addHandler(h)
        root.setLevel(level)
        logging.captureWarnings(False)


class BuildFailedError(NoisyBNNError, RuntimeError):
    """FINN's builder stopped: most often a folding or configuration FINN cannot realise."""


#: how `streamline.check_hw_layers` starts its message (FINN logs it on one line)
_UNSUPPORTED = "not supported by the FINN flow:"


def _failure_line(log: Path, rc: int) -> str:
    """One line: FINN's own last error message from its log, and where the log is."""
    last = ""
    try:
        for line in log.read_text(errors="replace").splitlines():
            s = line.strip()
            if s and not s.startswith(("File ", "^", "~", "Traceback", "During handling")) and \
                    ("Error" in s or "ERROR" in s or "Exception" in s or "assert" in s.lower()):
                if _UNSUPPORTED in last:
                    continue  # FINN's one-line log of our reason, not the wrapped traceback after
                last = s
    except OSError:
        pass
    if _UNSUPPORTED in last:  # our own check named the layer and the reason: no folding hint
        return f"FINN build stopped: {_UNSUPPORTED}{last.split(_UNSUPPORTED, 1)[1][:400]}; full log in {log}"
    what = f": {last[:300]}" if last else ""
    return (f"FINN build failed (code {rc}){what}; check --folding / --target-fps, full log in "
            f"{log}")


@contextlib.contextmanager
def _vivado_placeholder() -> Iterator[None]:
    """FINN's builder reads XILINX_VIVADO for its log even in estimate-only runs; where Vivado is
    absent, point it at a named placeholder for the duration of the call only."""
    if os.environ.get("XILINX_VIVADO"):
        yield
        return
    os.environ["XILINX_VIVADO"] = "/nonexistent/Vivado-not-installed/2024.2"
    try:
        yield
    finally:
        os.environ.pop("XILINX_VIVADO", None)


__all__ = ["BuildFailedError", "CompileConfig", "build", "finn_config", "load_target", "step_names"]
