"""Brevitas -> QONNX: identical integer logits on 1000 real MNIST test images (issue 3)."""

import numpy as np
import pytest
import torch
from qonnx.core.modelwrapper import ModelWrapper

from noisybnn import data
from noisybnn.compile.execute import execute_batched
from noisybnn.export import export_qonnx
from noisybnn.train import images_to_tensor, load_checkpoint
from noisybnn.zoo import checkpoint_path


@pytest.mark.parametrize("name", ["tfc-w1a1", "tfc-w2a2", "sfc-w1a1"])
def test_qonnx_equals_brevitas_on_real_images(name, tmp_path):
    ckpt = checkpoint_path(name)
    if not ckpt.is_file():
        pytest.skip(f"{ckpt} not shipped yet")
    net, _ = load_checkpoint(ckpt)
    model = ModelWrapper(str(export_qonnx(net, tmp_path / "m.onnx")))
    x, y = data.load("mnist", "test")
    x = x[:1000]
    with torch.no_grad():
        ref = net.integer_logits(images_to_tensor(x)).numpy()
    # the exported graph takes pixels in [0, 1] (preprocessing is added by the FINN flow)
    got = execute_batched(model, (x / 255.0).astype(np.float32), batch=500)
    assert np.array_equal(got, ref.astype(np.int64))
    assert np.array_equal(got.argmax(1), ref.argmax(1))
    # the export is noise-free: eval-time noise settings do not leak into the graph
    assert not any(n.op_type.startswith("Noise") for n in model.graph.node)


def test_export_at_eps_zero_has_no_noise_nodes(tmp_path):
    from noisybnn.models import build, from_name

    net = build(from_name("tfc-w1a1", eps_train=0.1))
    model = ModelWrapper(str(export_qonnx(net, tmp_path / "m.onnx")))
    ops = {n.op_type for n in model.graph.node}
    assert ops <= {"Reshape", "BipolarQuant", "Mul", "Sub", "Gemm", "BatchNormalization", "MatMul",
                   "Add", "Quant"}
