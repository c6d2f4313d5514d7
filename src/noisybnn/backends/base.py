"""The accelerator interface shared by the software model (`sim`) and the board (`pynq`).

Everything above the backends (sweeps, explore, reports) talks to this interface only, so it does
not matter whether a run happens on a PYNQ board or in the bit-exact software model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from noisybnn.errors import ConfigError
from noisybnn.hw import Mode, check_probability


@dataclass(frozen=True)
class NoiseSetting:
    """What the host writes to the injectors before a run.

    Attributes:
        mode: off, flip, stuck0 or stuck1.
        p: flip probability per neuron output bit (flip mode).
        seed: master seed of the run; injector l uses derive_layer_seed(seed, l).
        layers: hidden layers whose injector is active (None: all); the others are off.
        fault_masks: {layer: bool mask over its neurons} for stuck modes (None: all neurons).
    """

    mode: str = "flip"
    p: float = 0.0
    seed: int = 1
    layers: tuple[int, ...] | None = None
    fault_masks: dict[int, tuple[bool, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", Mode.parse(self.mode).name.lower())
        object.__setattr__(self, "p", check_probability(self.p, "p"))
        if self.layers is not None:
            object.__setattr__(self, "layers", tuple(int(i) for i in self.layers))


@runtime_checkable
class Accelerator(Protocol):
    """A loaded accelerator: the board overlay or the software model."""

    #: Hidden layers with an injector, in order; their widths.
    injector_widths: list[int]
    num_classes: int

    def configure_noise(self, setting: NoiseSetting) -> None:
        """Write the injector registers; the next `execute` starts a fresh run (reseed)."""

    def execute(self, images: np.ndarray) -> np.ndarray:
        """uint8 images (N, 28, 28) or (N, 784) -> integer logits (N, num_classes), int64.

        Calls after one `configure_noise` continue the same noise stream (the injectors are
        reseeded by `configure_noise` / `reset_noise` only).
        """

    def reset_noise(self) -> None:
        """Reseed the injectors (restart the run) without changing their configuration."""

    def flip_counts(self) -> list[int]:
        """Bits changed by each injector since the last reseed (the hardware counters)."""

    def throughput_test(self, n_images: int = 10000) -> dict:
        """Images per second and latency figures, as a dict."""


def check_images(images: np.ndarray, pixels: int = 784) -> np.ndarray:
    """Validate a batch of images; return it as uint8 (N, pixels). Clear errors otherwise."""
    arr = np.asarray(images)
    if arr.dtype != np.uint8:
        raise ConfigError(f"images must be uint8 pixels 0..255, got dtype {arr.dtype}")
    if arr.ndim == 3 and arr.shape[1] * arr.shape[2] == pixels:
        arr = arr.reshape(arr.shape[0], pixels)
    if arr.ndim != 2 or arr.shape[1] != pixels:
        raise ConfigError(
            f"images must have shape (N, 28, 28) or (N, {pixels}), got {tuple(np.shape(images))}"
        )
    return arr


def predict(logits: np.ndarray) -> np.ndarray:
    """Class of each row; ties go to the lowest index, as the hardware's label select."""
    return np.argmax(logits, axis=1)
