"""Our build steps, typed as FINN's: `step(model, cfg) -> model`, and where they go in FINN's list.

FINN's own default step list (`build_dataflow_config.default_build_dataflow_steps`) is used as is;
ours are injected with FINN's `inject_steps_before` / `inject_steps_after`. Project settings
(which layers get an injector) are bound into the step when the step list is made
(`noise_steps`), not carried as an attribute on FINN's config.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from noisybnn.compile.paths import PYTHON_MODEL

Step = Callable  # (ModelWrapper, DataflowBuildConfig) -> ModelWrapper


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


def step_bipolar_input(model, cfg):
    """After FINN's streamlining, before the conversion: a binarized input feeding a multi-bit
    layer (cnv-w2a2, tfc-w2a2) keeps its -1/+1 in FINN's hardware encoding (BIPOLAR thresholds with
    out_scale 1), so it converts to a Thresholding layer and the first MVAU reads BIPOLAR x INT2
    (see `streamline.BipolarInputThresholds`). Without it, `step_extract_threshold_scales` turns
    the -1/+1 into a float Mul/Add: in front of a sliding window FINN stops ("Input is not int"),
    in an MLP it builds a BINARY x INT2 MVAU that FINN's HLS code generation refuses."""
    from noisybnn.compile.streamline import BipolarInputThresholds

    return model.transform(BipolarInputThresholds())


def step_remove_identity_input(model, cfg):
    """After FINN's streamlining: an 8-bit pixel input's quantizer (255 thresholds at the half-
    integers on the UINT8 pixel, the x / 255 absorbed) is the identity and goes, so the first
    MVAU takes the UINT8 pixel (as in FINN's CNV)."""
    from noisybnn.compile.streamline import RemoveIdentityInputThresholds

    return model.transform(RemoveIdentityInputThresholds())


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


def step_input_layout(model, cfg):
    """A conv graph's input transpose NCHW -> NHWC becomes a reshape where it only relabels.

    FINN lowers convolutions to NHWC and leaves the graph input's Transpose outside the
    accelerator (for the host to do). With one input channel (our images: N, 1, 28, 28) the
    transpose moves no element, so a Reshape says the same and leaves the twin with the MLPs'
    interface: a layout-only node in front of the dataflow layers, raw NCHW pixels in.
    """
    from onnx import helper

    graph = model.graph
    inp = graph.input[0].name
    for pos, node in enumerate(graph.node):
        if node.op_type != "Transpose" or node.input[0] != inp:
            continue
        perm = next((list(helper.get_attribute_value(a)) for a in node.attribute if a.name == "perm"),
                    None)
        shape = model.get_tensor_shape(inp)
        if perm != [0, 2, 3, 1] or len(shape) != 4 or shape[1] != 1:
            return model
        target = model.get_tensor_shape(node.output[0])
        name = model.make_new_valueinfo_name()
        model.set_initializer(name, np.asarray([1, *target[1:]], dtype=np.int64))
        graph.node.remove(node)
        graph.node.insert(pos, helper.make_node("Reshape", [inp, name], list(node.output),
                                                name=node.name.replace("Transpose", "Reshape")))
        return model
    return model


def step_check_hw_layers(model, cfg):
    """After the conversion: every node between the host-side layout nodes at the ends of the
    graph must be a FINN hardware layer; otherwise stop with one line naming the first node that
    is not, what it reads, and why FINN left it (instead of FINN's later partitioning error)."""
    from noisybnn.compile.streamline import check_hw_layers

    check_hw_layers(model)
    return model


def step_insert_noise(model, cfg, noise_layers: Sequence[int] | None = None):
    """Insert injectors after the chosen hidden layers (None: all; []: none)."""
    from noisybnn.compile.transforms import InsertNoiseInjectors

    if noise_layers is not None and len(noise_layers) == 0:
        return model
    return model.transform(InsertNoiseInjectors(layers=noise_layers))


def step_specialize_noise_injectors(model, cfg):
    """NoiseInjector -> NoiseInjector_rtl (FINN's SpecializeLayers knows only the backends in
    FINN's own op dicts; ours are registered through qonnx's registry)."""
    from noisybnn.compile.transforms import SpecializeNoiseInjectors

    return model.transform(SpecializeNoiseInjectors())


def step_match_injector_folding(model, cfg):
    from noisybnn.compile.transforms import MatchInjectorFolding

    return model.transform(MatchInjectorFolding())


def step_save_python_model(model, cfg):
    """Save the executable twin of the accelerator: `dataflow_python.onnx` in the output dir.

    FINN executes the hardware-abstraction layers (MVAU, Thresholding, NoiseInjector) in python,
    but not their specialized HLS/RTL flavours. The twin is the graph right after injector
    insertion, with each injector given the PE it has in the folded accelerator (the PE decides
    which lane, so which LFSR, carries which neuron) and the node name it has there
    (`NoiseInjector_rtl_k`): one name from graph to manifest to driver.
    """
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    from noisybnn.compile.transforms import injectors

    out = Path(cfg.output_dir)
    twin = ModelWrapper(str(out / "intermediate_models" / "step_insert_noise.onnx"))
    folded = {}
    for graph_model in dataflow_models(model):
        for node in injectors(graph_model):
            op = getCustomOp(node)
            folded[op.get_nodeattr("layer_index")] = (node.name, op.get_nodeattr("PE"))
    for node in injectors(twin):
        op = getCustomOp(node)
        name, pe = folded.get(op.get_nodeattr("layer_index"), (node.name, 1))
        node.name = name
        op.set_nodeattr("PE", int(pe))
    twin.save(str(out / PYTHON_MODEL))
    return model


def dataflow_models(model, with_paths: bool = False):
    """The model and, for each StreamingDataflowPartition node, its child model (and its file)."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    yield (model, None) if with_paths else model
    for node in model.graph.node:
        if node.op_type == "StreamingDataflowPartition":
            path = getCustomOp(node).get_nodeattr("model")
            yield (ModelWrapper(path), path) if with_paths else ModelWrapper(path)


def _bind(step: Step, **settings) -> Step:
    """`step` with project settings bound; keeps the step's name (FINN logs and saves by it)."""
    if not settings:
        return step
    return functools.wraps(step)(functools.partial(step, **settings))


def noise_steps(noise_layers: Sequence[int] | None) -> tuple[dict, dict]:
    """Our steps as FINN's (inject_steps_before, inject_steps_after)."""
    insert = _bind(step_insert_noise, noise_layers=None if noise_layers is None else list(noise_layers))
    before = {
        "step_qonnx_to_finn": [step_add_preprocessing],
        "step_specialize_layers": [step_specialize_noise_injectors],
    }
    after = {
        "step_streamline": [step_remove_identity_input, step_bipolar_input,
                            step_extract_threshold_scales],
        "step_convert_to_hw": [step_input_layout, step_check_hw_layers, insert],
        "step_apply_folding_config": [step_match_injector_folding],
        "step_generate_estimate_reports": [step_save_python_model],
    }
    return before, after
