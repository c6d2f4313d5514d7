"""Named BNN topologies (TFC/SFC/LFC, parametric MLPs, a small CNN) with noise-aware binarization."""

from noisybnn.models.nets import BinaryNet, ExportWrapper, build
from noisybnn.models.noise import NeuronNoise
from noisybnn.models.spec import ModelSpec, cnn, cnv, from_name, mlp, names

__all__ = [
    "BinaryNet", "ExportWrapper", "ModelSpec", "NeuronNoise", "build", "cnn", "cnv", "from_name", "mlp",
    "names",
]
