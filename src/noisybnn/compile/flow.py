"""The build: FINN's builder driven by our step list, one config per target board.

    step_add_preprocessing -> FINN frontend/streamline/convert_to_hw -> step_insert_noise ->
    partition -> specialize -> fold -> step_match_injector_folding -> estimates
    [-> codegen, IP, FIFO sizing, stitched IP, bitfile/xclbin, driver, deployment package]

Estimates run anywhere; the hardware steps need Vivado (Zynq) or Vitis (Alveo) and stop at once,
with one line, where those are absent. Each step saves its model (FINN's intermediate_models/),
so a build resumes from any step.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from noisybnn.compile.finn_env import ToolMissingError, prepare_finn, require_vivado
from noisybnn.errors import ConfigError, NoisyBNNError

CONFIG_DIR = Path(__file__).resolve().parents[3] / "bitstreams" / "configs"
BITSTREAMS_DIR = CONFIG_DIR.parent


def targets() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.json"))


def resolve_folding(folding: str | None) -> str | None:
    """A folding JSON path, or the name of one shipped in bitstreams/configs/folding/."""
    if folding is None:
        return None
    path = Path(folding)
    if path.is_file():
        return str(path)
    shipped = CONFIG_DIR / "folding" / f"{folding}.json"
    if shipped.is_file():
        return str(shipped)
    known = ", ".join(sorted(p.stem for p in (CONFIG_DIR / "folding").glob("*.json")))
    raise FileNotFoundError(f"--folding {folding!r}: no such file; give a FINN folding JSON"
                            + (f" or a shipped one ({known})" if known else ""))


def load_target(board: str) -> dict:
    """The target description of `board` (bitstreams/configs/<board>.json)."""
    path = CONFIG_DIR / f"{board}.json"
    if not path.is_file():
        raise ConfigError(f"unknown board {board!r}; known targets: {', '.join(targets())}")
    return json.loads(path.read_text())


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
    extra: dict = field(default_factory=dict)


# --- our steps (FINN builder signature: step(model, cfg) -> model) ------------------------------


def step_add_preprocessing(model, cfg):
    """Take raw uint8 pixels: insert x / 255 in front, so thresholds become integer pixel levels."""
    from onnx import TensorProto, helper
    from qonnx.core.datatype import DataType

    graph = model.graph
    inp = graph.input[0]
    if any(n.op_type == "Mul" and n.input[0] == inp.name and n.name == "Preprocess_Div255"
           for n in graph.node):
        return model
    scaled = model.make_new_valueinfo_name()
    scale = model.make_new_valueinfo_name()
    model.set_initializer(scale, np.asarray(1.0 / 255.0, dtype=np.float32))
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name == inp.name:
                node.input[i] = scaled
    graph.node.insert(0, helper.make_node("Mul", [inp.name, scale], [scaled],
                                          name="Preprocess_Div255"))
    model.set_tensor_shape(scaled, model.get_tensor_shape(inp.name), TensorProto.FLOAT)
    model.set_tensor_datatype(inp.name, DataType["UINT8"])
    return model


def step_extract_threshold_scales(model, cfg):
    """Split MultiThreshold out_scale/out_bias into Mul/Add nodes that streamlining can absorb.

    A binarized input in front of a multi-bit (e.g. w2a2) first layer keeps out_scale = 2 (the
    bipolar {-1, +1} levels), which FINN's HW conversion refuses; as a separate Mul it moves past
    the MatMul and into the next thresholds.
    """
    from finn.transformation.streamline import Streamline
    from finn.transformation.streamline.extract_multithreshold_scale_bias import (
        ExtractMultiThresholdScaleBias,
    )

    needs = any(
        n.op_type == "MultiThreshold"
        and any(a.name == "out_scale" and abs(a.f - 1.0) > 0 for a in n.attribute)
        for n in model.graph.node
    )
    if not needs:
        return model
    from qonnx.custom_op.registry import getCustomOp
    from qonnx.transformation.infer_datatypes import InferDataTypes

    model = model.transform(ExtractMultiThresholdScaleBias())
    # the MultiThresholds now output plain counts: annotate them as such (out_dtype still says
    # BIPOLAR, which would make the HW layers reinterpret the bit as -1/+1 a second time)
    for node in model.graph.node:
        if node.op_type == "MultiThreshold":
            op = getCustomOp(node)
            if op.get_nodeattr("out_scale") == 1.0 and op.get_nodeattr("out_bias") == 0.0:
                steps = model.get_initializer(node.input[1]).shape[-1]
                op.set_nodeattr("out_dtype", "BINARY" if steps == 1
                                else f"UINT{int(steps).bit_length()}")
    model = model.transform(InferDataTypes())
    return model.transform(Streamline())


def step_insert_noise(model, cfg):
    """Insert injectors after the chosen hidden layers (FINN builder step)."""
    from noisybnn.compile.transforms import InsertNoiseInjectors

    layers = _our(cfg).noise_layers
    if layers is not None and len(layers) == 0:
        return model
    return model.transform(InsertNoiseInjectors(layers=layers))


def step_match_injector_folding(model, cfg):
    from noisybnn.compile.transforms import MatchInjectorFolding

    return model.transform(MatchInjectorFolding())


from noisybnn.compile_paths import PYTHON_MODEL  # noqa: E402


def step_save_python_model(model, cfg):
    """Save the executable twin of the accelerator: `dataflow_python.onnx` in the output dir.

    FINN executes the hardware-abstraction layers (MVAU, Thresholding, NoiseInjector) in python,
    but not their specialized HLS/RTL flavours. The twin is the graph right after injector
    insertion, with each injector given the PE it has in the folded accelerator, because the PE
    decides which lane (and so which LFSR) carries which neuron. The software accelerator and
    the parity tests run this file.
    """
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    from noisybnn.compile.transforms import injectors

    out = Path(cfg.output_dir)
    twin = ModelWrapper(str(out / "intermediate_models" / "step_insert_noise.onnx"))
    folded_pe = {}
    for graph_model in _dataflow_models(model):
        for node in injectors(graph_model):
            op = getCustomOp(node)
            folded_pe[op.get_nodeattr("layer_index")] = op.get_nodeattr("PE")
    for node in injectors(twin):
        op = getCustomOp(node)
        op.set_nodeattr("PE", int(folded_pe.get(op.get_nodeattr("layer_index"), 1)))
    twin.save(str(out / PYTHON_MODEL))
    return model


def _dataflow_models(model):
    """The model and, for each StreamingDataflowPartition node, its child model."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    yield model
    for node in model.graph.node:
        if node.op_type == "StreamingDataflowPartition":
            yield ModelWrapper(getCustomOp(node).get_nodeattr("model"))


def _our(cfg) -> CompileConfig:
    return cfg._noisybnn  # attached by `build`


FRONT_STEPS = [
    step_add_preprocessing,
    "step_qonnx_to_finn",
    "step_tidy_up",
    "step_streamline",
    step_extract_threshold_scales,
    "step_convert_to_hw",
    step_insert_noise,
    "step_create_dataflow_partition",
    "step_specialize_layers",
    "step_target_fps_parallelization",
    "step_apply_folding_config",
    step_match_injector_folding,
    "step_minimize_bit_width",
    "step_generate_estimate_reports",
    step_save_python_model,
]
HARDWARE_STEPS = [
    "step_hw_codegen",
    "step_hw_ipgen",
    "step_set_fifo_depths",
    "step_create_stitched_ip",
    "step_synthesize_bitfile",
    "step_make_driver",
    "step_deployment_package",
]


def _finn_config(cfg: CompileConfig, target: dict, steps: list, golden: tuple | None):
    from finn.builder import build_dataflow_config as bc

    outputs = [bc.DataflowOutputType.ESTIMATE_REPORTS]
    if not cfg.estimates_only:
        outputs += [bc.DataflowOutputType.STITCHED_IP, bc.DataflowOutputType.BITFILE,
                    bc.DataflowOutputType.PYNQ_DRIVER, bc.DataflowOutputType.DEPLOYMENT_PACKAGE]
    kw = dict(
        output_dir=cfg.output_dir,
        synth_clk_period_ns=target["synth_clk_period_ns"],
        generate_outputs=outputs,
        board=target["board"],
        fpga_part=target["fpga_part"],
        shell_flow_type=target["shell_flow_type"],
        steps=steps,
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
    fcfg = bc.DataflowBuildConfig(**kw)
    fcfg._noisybnn = cfg
    return fcfg


def build(qonnx_path: str | Path, cfg: CompileConfig, golden: tuple | None = None) -> dict:
    """Run the FINN builder on an exported QONNX model; return a summary of what was produced.

    Without Vivado/Vitis and with `estimates_only=False` this raises `ToolMissingError` before
    any work starts.
    """
    target = load_target(cfg.board)
    if not cfg.estimates_only:
        require_vivado(f"a bitstream for {cfg.board}",
                       vitis=target["shell_flow_type"] == "vitis_alveo")
    prepare_finn()
    from finn.builder.build_dataflow import build_dataflow_cfg

    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    steps = FRONT_STEPS + ([] if cfg.estimates_only else HARDWARE_STEPS)
    fcfg = _finn_config(cfg, target, steps, golden)
    t0 = time.time()
    streams = (sys.stdout, sys.stderr)
    try:
        with _vivado_placeholder():
            rc = build_dataflow_cfg(str(qonnx_path), fcfg)
    finally:  # FINN's builder routes stdout/stderr into its logger; give them back
        sys.stdout, sys.stderr = streams
    if rc != 0:
        raise BuildFailedError(_failure_line(out / "build_dataflow.log", rc))
    return {"output_dir": str(out), "seconds": round(time.time() - t0, 1)}


class BuildFailedError(NoisyBNNError, RuntimeError):
    """FINN's builder stopped: most often a folding or configuration FINN cannot realise."""


def _failure_line(log: Path, rc: int) -> str:
    """One line: FINN's own last error message from its log, and where the log is."""
    last = ""
    try:
        for line in log.read_text(errors="replace").splitlines():
            s = line.strip()
            if s and not s.startswith(("File ", "^", "~", "Traceback", "During handling")) and \
                    ("Error" in s or "Exception" in s or "assert" in s.lower()):
                last = s
    except OSError:
        pass
    what = f": {last[:300]}" if last else ""
    return (f"FINN build failed (code {rc}){what}; check --folding / --target-fps, full log in "
            f"{log}")


@contextlib.contextmanager
def _vivado_placeholder():
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


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


__all__ = ["CompileConfig", "ToolMissingError", "build", "load_target", "targets", "asdict",
           "shutil"]
