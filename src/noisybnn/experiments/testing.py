"""A fake accelerator and build directory, for testing code that drives accelerators.

`FakeAccelerator` implements the `Accelerator` interface in a few lines of numpy: its logits are a
deterministic function of the images, the noise setting and the position in the noise run (so
results do not depend on how a run is split into `execute` calls, as on the real ones), and it is
fast and needs no FINN build. `make_fake_build` writes a directory that `sweep.resolve_model`
accepts as a sim build. Set ``NOISYBNN_FAKE_DELAY_S`` to make each `execute` sleep (to test
killing a run midway).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np

from noisybnn.backends.base import NoiseSetting, check_images
from noisybnn.hw import threshold_from_p

FAKE_CONFIG = "fake.json"


def make_fake_build(build_dir: str | Path, name: str = "fake-tfc",
                    widths: tuple[int, ...] = (64, 64, 64), num_classes: int = 10,
                    weights_seed: int = 0) -> Path:
    """A build directory with a manifest, a stand-in twin, and the fake's configuration."""
    bdir = Path(build_dir)
    bdir.mkdir(parents=True, exist_ok=True)
    cfg = {"widths": list(widths), "num_classes": num_classes, "weights_seed": weights_seed}
    twin = _fake_twin(json.dumps(cfg, sort_keys=True).encode())
    (bdir / FAKE_CONFIG).write_text(json.dumps(cfg))
    (bdir / "dataflow_python.onnx").write_bytes(twin)
    manifest = {
        "model": name,
        "checkpoint_sha256": hashlib.sha256(b"checkpoint:" + twin).hexdigest(),
        "python_model_sha256": hashlib.sha256(twin).hexdigest(),
        "bitfile": None,
    }
    (bdir / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return bdir


def _fake_twin(config: bytes) -> bytes:
    """A one-node ONNX graph holding the fake's configuration: a twin `keys.build_digest` reads."""
    from onnx import TensorProto, helper, numpy_helper

    cfg = numpy_helper.from_array(np.frombuffer(config, dtype=np.uint8), name="fake_config")
    graph = helper.make_graph(
        [helper.make_node("Identity", ["fake_config"], ["out"], name="Identity_0")], "fake",
        [], [helper.make_tensor_value_info("out", TensorProto.UINT8, [len(config)])], [cfg])
    return helper.make_model(graph, producer_name="noisybnn-fake").SerializeToString()


def load_fake(backend: str, build_dir: str | Path) -> FakeAccelerator:
    """A `loader` for run_sweep: the fake for any backend."""
    return FakeAccelerator(build_dir)


class FakeAccelerator:
    """Logits = binarised pixels @ fixed +-1 weights, minus the bits each injector changed."""

    def __init__(self, build_dir: str | Path):
        cfg = json.loads((Path(build_dir) / FAKE_CONFIG).read_text())
        self.injector_widths = [int(w) for w in cfg["widths"]]
        self.num_classes = int(cfg["num_classes"])
        rng = np.random.default_rng(cfg.get("weights_seed", 0))
        self.weights = rng.choice(np.array([-1, 1], dtype=np.int64), size=(784, self.num_classes))
        self.delay_s = float(os.environ.get("NOISYBNN_FAKE_DELAY_S", "0") or 0)
        self._setting = NoiseSetting(mode="off")
        self.reset_noise()

    def configure_noise(self, setting: NoiseSetting) -> None:
        for layer in setting.layers or ():
            if not 0 <= layer < len(self.injector_widths):
                raise ValueError(f"layer {layer} has no injector")
        for layer, mask in setting.fault_masks.items():
            if len(mask) != self.injector_widths[layer]:
                raise ValueError(f"fault mask for layer {layer} has the wrong length")
        self._setting = setting
        self.reset_noise()

    def reset_noise(self) -> None:
        self._done = 0
        self._flips = [0] * len(self.injector_widths)

    def flip_counts(self) -> list[int]:
        return list(self._flips)

    def execute(self, images: np.ndarray) -> np.ndarray:
        x = check_images(images)
        n = len(x)
        bits = (x >= 128).astype(np.int64)
        logits = (2 * bits - 1) @ self.weights
        s = self._setting
        for layer, width in enumerate(self.injector_widths):
            if s.mode == "off" or (s.layers is not None and layer not in s.layers):
                continue
            mask = s.fault_masks.get(layer)
            mask = np.ones(width, bool) if mask is None else np.asarray(mask, bool)
            if s.mode == "flip":
                # the stream of this layer, vectors [done, done + n): position-dependent only
                rng = np.random.default_rng([int(s.seed), layer])
                u = rng.integers(0, 1 << 16, size=(self._done + n, width))[self._done:]
                changed = (u < threshold_from_p(s.p)) & mask[None, :]
            else:
                forced = 0 if s.mode == "stuck0" else 1
                codes = bits[:, np.arange(width) % 784]
                changed = (codes != forced) & mask[None, :]
            per_image = changed.sum(axis=1)
            self._flips[layer] += int(per_image.sum())
            logits[:, layer % self.num_classes] -= 3 * per_image
        self._done += n
        if self.delay_s:
            time.sleep(self.delay_s)
        return logits

    def throughput_test(self, n_images: int = 10000) -> dict:
        return {"backend": "fake", "images": n_images, "images_per_s": float("inf")}
