"""Export a trained network to QONNX (Brevitas' exporter), cleaned up with qonnx transformations."""

from __future__ import annotations

from pathlib import Path

import torch

from noisybnn.models.nets import IMAGE_SHAPE, BinaryNet, ExportWrapper


def export_qonnx(net: BinaryNet, path: str | Path) -> Path:
    """Write the integer-logit path of `net` as QONNX to `path`; returns the path.

    Noise modules are switched off for the export (noise is added in hardware by the injector),
    so at eps = 0 they leave no node in the graph.
    """
    from noisybnn.outputs import writing

    path = Path(path)
    with writing(path, "the ONNX file"):
        path.parent.mkdir(parents=True, exist_ok=True)
        return _export(net, path)


def _export(net: BinaryNet, path: Path) -> Path:
    from brevitas.export import export_qonnx as brevitas_export_qonnx
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.fold_constants import FoldConstants
    from qonnx.transformation.general import (
        GiveReadableTensorNames,
        GiveUniqueNodeNames,
        RemoveStaticGraphInputs,
    )
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes

    saved = [(layer, layer.eps_eval, layer.mode) for layer in net.noise_layers]
    was_training = net.training
    wrapper = ExportWrapper(net).eval()
    net.set_eval_noise(0.0)
    shape = (1, *IMAGE_SHAPE)
    tmp = path.with_suffix(".tmp.onnx")
    try:
        with torch.no_grad():
            brevitas_export_qonnx(wrapper, torch.zeros(shape), export_path=str(tmp))
        model = ModelWrapper(str(tmp))
        for t in (InferShapes(), FoldConstants(), GiveUniqueNodeNames(), GiveReadableTensorNames(),
                  InferDataTypes(), RemoveStaticGraphInputs()):
            model = model.transform(t)
        model.save(str(tmp))
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
        tmp.with_name(tmp.name + ".data").unlink(missing_ok=True)  # torch's external-data file
        for layer, eps, mode in saved:
            layer.eps_eval, layer.mode = eps, mode
        net.train(was_training)
    return path
