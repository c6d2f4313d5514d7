"""The `rtl` backend: the whole accelerator as RTL, run cycle by cycle in Verilator.

Slow and exact: the stitched Verilog of a build (our binary MVAUs, the injectors, FIFOs, width
converters; `noisybnn.rtl`) is compiled once into a C++ harness that runs as a child process
(`noisybnn.rtl.harness`). The injectors are programmed over AXI-Lite with the writes of
`noisybnn.hw.registers.encode` and their counters read with `read_counters`, the register code
the board driver uses. Implements `base.Accelerator`.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from noisybnn.backends.base import NoiseSetting, check_images
from noisybnn.hw import InjectorConfig, Mode, registers, threshold_from_p
from noisybnn.hw.injector import derive_layer_seed


class RtlAccelerator:
    """A build's RTL accelerator under Verilator.

    Args:
        build_dir: a FINN build directory (`noisybnn estimate` output).
        backpressure: probability that the output's TREADY is low in a cycle (random
            back-pressure, a slow consumer); 0 = always ready.
        bp_seed: seed of the back-pressure pattern.
        jobs: parallel C++ compile jobs for the first build.
        swg: "ours" (plain Verilog, what yosys measures) or "finn" (FINN's generated
            ConvolutionInputGenerator_rtl, SystemVerilog, for simulation only) for the
            convolutions' sliding windows.
    """

    def __init__(self, build_dir: str | Path, backpressure: float = 0.0, bp_seed: int = 1,
                 jobs: int = 1, swg: str = "ours"):
        from noisybnn.rtl import load_design
        from noisybnn.rtl.harness import Harness

        if not 0.0 <= backpressure < 1.0:
            raise ValueError(f"backpressure must be in [0, 1), got {backpressure}")
        self.design = load_design(build_dir)
        self.backpressure = backpressure
        t0 = time.time()
        self.harness = Harness(self.design, jobs=jobs, bp_seed=bp_seed, swg=swg)
        self.build_seconds = time.time() - t0
        self.injector_widths = [i.neurons for i in self.design.injectors]
        self.num_classes = self.design.num_classes
        self.setting = NoiseSetting(mode="off")

    @property
    def last_run(self) -> dict:
        return self.harness.last_run

    def configs(self, setting: NoiseSetting) -> list[InjectorConfig]:
        """One register configuration per injector (inactive layers off), as the board's."""
        n = len(self.design.injectors)
        for layer in setting.layers or ():
            if not 0 <= layer < n:
                raise ValueError(f"layer {layer} has no injector: this accelerator has {n} "
                                 f"(layers 0..{n - 1})")
        for layer, mask in setting.fault_masks.items():
            if not 0 <= layer < n or len(mask) != self.injector_widths[layer]:
                raise ValueError(f"fault mask for layer {layer} does not fit its injector")
        out = []
        for inj in self.design.injectors:
            active = setting.layers is None or inj.layer in setting.layers
            out.append(InjectorConfig(
                neurons=inj.neurons, pe=inj.pe, bits=1,
                mode=Mode.parse(setting.mode) if active else Mode.OFF,
                threshold=threshold_from_p(setting.p),
                seed=derive_layer_seed(setting.seed, inj.layer),
                fault_mask=setting.fault_masks.get(inj.layer) if active else None))
        return out

    def configure_noise(self, setting: NoiseSetting) -> None:
        for k, cfg in enumerate(self.configs(setting)):
            for offset, value in registers.encode(cfg):
                self.harness.axil_write(k, offset, value)
        self.setting = setting

    def reset_noise(self) -> None:
        for k in range(len(self.design.injectors)):
            self.harness.axil_write(k, registers.RESEED, 1)

    def _counters(self) -> list[registers.Counters]:
        return [registers.read_counters(lambda off, k=k: self.harness.axil_read(k, off))
                for k in range(len(self.design.injectors))]

    def flip_counts(self) -> list[int]:
        return [c.bits_changed for c in self._counters()]

    def beat_counts(self) -> list[int]:
        return [c.beats for c in self._counters()]

    def execute(self, images: np.ndarray) -> np.ndarray:
        x = check_images(images, self.design.pixels)
        if len(x) == 0:
            return np.zeros((0, self.num_classes), np.int64)
        return self.harness.stream(x, backpressure=self.backpressure)

    def throughput_test(self, n_images: int = 200) -> dict:
        """Wall-clock images/s of the simulation and the simulated cycles per image (no
        back-pressure); restarts the noise run afterwards."""
        rng = np.random.default_rng(0)
        imgs = rng.integers(0, 256, size=(n_images, self.design.pixels), dtype=np.uint8)
        try:
            self.reset_noise()
            self.harness.stream(imgs, backpressure=0.0)
        finally:
            self.reset_noise()
        run = self.last_run
        return {"backend": "rtl", "images": n_images, "runtime_s": run["wall_s"],
                "images_per_s": n_images / run["wall_s"],
                "cycles_per_image": run["steady_cycles_per_image"],
                "expected_cycles_per_image": self.design.expected_cycles,
                "sim_cycles_per_s": run["cycles"] / run["wall_s"]}

    def close(self) -> None:
        self.harness.close()

    def __repr__(self) -> str:
        return f"RtlAccelerator({self.design.build_dir}, {len(self.design.layers)} layers)"
