"""Graph passes that add, configure, specialize and fold noise injectors (qonnx `Transformation`s).

Importing this module registers our ops with qonnx (they are needed by every pass here)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from onnx import helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation
from qonnx.transformation.infer_shapes import InferShapes

from noisybnn.compile.registry import FPGADATAFLOW, register_ops
from noisybnn.errors import ConfigError
from noisybnn.hw import Mode, threshold_from_p
from noisybnn.hw.injector import derive_layer_seed

register_ops()

INJECTOR_OPS = ("NoiseInjector", "NoiseInjector_rtl")
_PRODUCER_OPS = ("MVAU", "MVAU_hls", "MVAU_rtl", "VVAU", "VVAU_hls", "VVAU_rtl")


def noisy_layer_producers(model: ModelWrapper) -> list:
    """Hidden layers whose outputs carry neuron activations, in graph order.

    These are the matrix-vector units with a built-in activation (noActivation == 0) and a
    consumer; the input thresholding and the readout layer (noActivation == 1) stay noise-free.
    Their index in this list is the layer index used everywhere (Brevitas noise modules, sweeps).
    """
    out = []
    for node in model.graph.node:
        if node.op_type in _PRODUCER_OPS and getCustomOp(node).get_nodeattr("noActivation") == 0:
            if model.find_consumer(node.output[0]) is not None:
                out.append(node)
    return out


def injectors(model: ModelWrapper) -> list:
    return [n for n in model.graph.node if n.op_type in INJECTOR_OPS]


def _producer_pe(op) -> int:
    return op.get_nodeattr("PE") if "PE" in op.get_nodeattr_types() else 1


class InsertNoiseInjectors(Transformation):
    """Insert a `NoiseInjector` after the chosen hidden layers (all by default).

    Args:
        layers: layer indices (see `noisy_layer_producers`) or producer node names; None = all.
        mode, p, seed: initial configuration (the hardware reads them from registers at run time).
    Idempotent: a layer already followed by an injector is left alone.
    """

    def __init__(self, layers: Sequence[int | str] | None = None, mode: str = "flip",
                 p: float = 0.0, seed: int = 1):
        super().__init__()
        self.layers = None if layers is None else list(layers)
        self.mode = Mode.parse(mode).name.lower()
        self.threshold = threshold_from_p(p)
        self.seed = seed

    def _selected(self, model: ModelWrapper) -> list[tuple[int, object]]:
        producers = noisy_layer_producers(model)
        if self.layers is None:
            return list(enumerate(producers))
        chosen = []
        names = {n.name: i for i, n in enumerate(producers)}
        for item in self.layers:
            if isinstance(item, str) and item in names:
                chosen.append((names[item], producers[names[item]]))
            elif isinstance(item, (int, np.integer)) and 0 <= int(item) < len(producers):
                chosen.append((int(item), producers[int(item)]))
            else:
                raise ConfigError(
                    f"no hidden layer {item!r}: the graph has {len(producers)} noisy layers "
                    f"(indices 0..{len(producers) - 1}, names {', '.join(names)})"
                )
        return chosen

    def apply(self, model: ModelWrapper):
        graph = model.graph
        modified = False
        for index, producer in self._selected(model):
            out_name = producer.output[0]
            consumer = model.find_consumer(out_name)
            if consumer is not None and consumer.op_type in INJECTOR_OPS:
                continue
            prod = getCustomOp(producer)
            shape = model.get_tensor_shape(out_name)
            dt = model.get_tensor_datatype(out_name)
            # a name from the producer's output, not qonnx's random one: same checkpoint, same
            # twin bytes (keys.build_digest does not depend on names either way)
            new_out = _fresh_name(model, f"{out_name}_noisy")
            model.set_tensor_shape(new_out, shape)
            model.set_tensor_datatype(new_out, dt)
            for node in graph.node:
                for i, name in enumerate(node.input):
                    if name == out_name:
                        node.input[i] = new_out
            for o in graph.output:
                if o.name == out_name:
                    raise ConfigError(f"layer {producer.name} is the graph output; nothing follows it")
            inj = helper.make_node(
                "NoiseInjector",
                [out_name],
                [new_out],
                domain=FPGADATAFLOW,
                backend="fpgadataflow",
                NumChannels=int(shape[-1]),
                PE=int(_producer_pe(prod)),
                numInputVectors=[int(s) for s in shape[:-1]],
                dataType=dt.name,
                mode=self.mode,
                threshold=self.threshold,
                seed=derive_layer_seed(self.seed, index),
                layer_index=index,
                name=f"NoiseInjector_{index}",
            )
            pos = list(graph.node).index(producer)
            graph.node.insert(pos + 1, inj)
            modified = True
        if modified:
            model = model.transform(InferShapes())
        return model, False


class ConfigureNoiseInjectors(Transformation):
    """Set mode, p and seed of the injectors (what the host writes to their registers).

    Args:
        layers: indices of the layers to make noisy; the other injectors are set to `off`.
        fault_masks: optional {layer index: bool mask over neurons} for stuck-at modes.
    """

    def __init__(self, mode: str = "flip", p: float = 0.0, seed: int = 1,
                 layers: Sequence[int] | None = None, fault_masks: dict | None = None):
        super().__init__()
        self.mode = Mode.parse(mode).name.lower()
        self.threshold = threshold_from_p(p)
        self.seed = seed
        self.layers = None if layers is None else {int(i) for i in layers}
        self.fault_masks = fault_masks or {}

    def apply(self, model: ModelWrapper):
        for node in injectors(model):
            op = getCustomOp(node)
            idx = op.get_nodeattr("layer_index")
            active = self.layers is None or idx in self.layers
            op.set_nodeattr("mode", self.mode if active else "off")
            op.set_nodeattr("threshold", self.threshold)
            op.set_nodeattr("seed", derive_layer_seed(self.seed, idx))
            mask = self.fault_masks.get(idx)
            _set_fault_mask(node, op, mask)
        return model, False


def _set_fault_mask(node, op, mask) -> None:
    """Set or clear the fault mask (ONNX cannot store an empty list attribute)."""
    for attr in list(node.attribute):
        if attr.name == "fault_mask":
            node.attribute.remove(attr)
    if mask is not None:
        width = op.get_nodeattr("NumChannels")
        if len(mask) != width:
            raise ConfigError(f"fault mask has {len(mask)} entries, layer has {width} neurons")
        op.set_nodeattr("fault_mask", [int(bool(m)) for m in mask])


class MatchInjectorFolding(Transformation):
    """Give every injector the PE of the layer that feeds it (run after folding)."""

    def apply(self, model: ModelWrapper):
        for node in injectors(model):
            producer = model.find_producer(node.input[0])
            if producer is None:
                continue
            op = getCustomOp(node)
            pe = _producer_pe(getCustomOp(producer))
            if op.get_nodeattr("PE") != pe:
                op.set_nodeattr("PE", int(pe))
        return model, False


class SpecializeNoiseInjectors(Transformation):
    """Turn each `NoiseInjector` into its RTL flavour `NoiseInjector_rtl` (FINN's specialization:
    same attributes, domain `finn.custom_op.fpgadataflow.rtl`)."""

    def apply(self, model: ModelWrapper):
        graph = model.graph
        for pos, node in enumerate(graph.node):
            if node.op_type != "NoiseInjector":
                continue
            rtl = helper.make_node("NoiseInjector_rtl", list(node.input), list(node.output),
                                   domain=FPGADATAFLOW + ".rtl", name=node.name)
            rtl.attribute.extend(node.attribute)
            graph.node.remove(node)
            graph.node.insert(pos, rtl)
            return model, True
        return model, False


def _fresh_name(model: ModelWrapper, base: str) -> str:
    """`base`, or `base_<n>` for the first n that no tensor of the graph uses yet."""
    g = model.graph
    used = {t.name for t in g.value_info} | {t.name for t in g.input} | {t.name for t in g.output}
    used |= {t.name for t in g.initializer} | {n for node in g.node for n in node.output}
    name, n = base, 0
    while name in used:
        n += 1
        name = f"{base}_{n}"
    return name
