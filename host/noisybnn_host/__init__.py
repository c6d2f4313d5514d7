"""noisybnn board bundle: run a noisybnn accelerator on a PYNQ board (or an Alveo card).

Needs numpy and pynq only. `python -m noisybnn_host --help` runs a test set on the board.
"""

from noisybnn_host.errors import BoardUnavailableError, ManifestError
from noisybnn_host.manifest import Manifest, load_manifest
from noisybnn_host.overlay import NoisyBNNOverlay, injector_configs

__version__ = "0.1.0"

__all__ = [
    "BoardUnavailableError",
    "Manifest",
    "ManifestError",
    "NoisyBNNOverlay",
    "injector_configs",
    "load_manifest",
]
