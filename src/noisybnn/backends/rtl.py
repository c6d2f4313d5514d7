"""The `rtl` backend: the whole accelerator as RTL, run cycle by cycle in Verilator.

Slow and exact: the stitched Verilog of a build (our binary MVAUs, the injectors, FIFOs, width
converters; `noisybnn.rtl`) is compiled once into a C++ harness; this class keeps it running as a
child process and talks to it over a pipe. The injectors are programmed over AXI-Lite with the
writes of `noisybnn.hw.registers.encode`, and their counters read back with `read_counters`, the
same register code the board driver uses. Implements `base.Accelerator`.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from noisybnn.backends.base import NoiseSetting, check_images
from noisybnn.hw import InjectorConfig, Mode, registers, threshold_from_p
from noisybnn.hw.injector import derive_layer_seed


class RtlSimError(RuntimeError):
    """The Verilator harness stopped or answered something unexpected."""


class RtlAccelerator:
    """A build's RTL accelerator under Verilator.

    Args:
        build_dir: a FINN build directory (`noisybnn estimate` output).
        backpressure: probability that the output stream's TREADY is low in a cycle (random
            back-pressure, as a slow consumer would apply); 0 = always ready.
        bp_seed: seed of the back-pressure pattern.
        jobs: parallel C++ compile jobs for the first build.
    """

    def __init__(self, build_dir: str | Path, backpressure: float = 0.0, bp_seed: int = 1,
                 jobs: int = 1):
        from noisybnn.rtl import load_design
        from noisybnn.rtl.verilate import build_simulator

        if not 0.0 <= backpressure < 1.0:
            raise ValueError(f"backpressure must be in [0, 1), got {backpressure}")
        self.design = load_design(build_dir)
        self.backpressure = backpressure
        self.bp_seed = int(bp_seed)
        t0 = time.time()
        self.executable = build_simulator(self.design, jobs=jobs).resolve()
        self.build_seconds = time.time() - t0
        self.injector_widths = [i.neurons for i in self.design.injectors]
        self.num_classes = self.design.num_classes
        self.last_run: dict = {}
        self._tmp = tempfile.TemporaryDirectory(prefix="noisybnn-rtl-")
        self._proc = subprocess.Popen([str(self.executable)], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True, bufsize=1,
                                      cwd=self._tmp.name)
        self._expect("READY")
        self.setting = NoiseSetting(mode="off")

    # --- the pipe -----------------------------------------------------------------------------
    def _ask(self, line: str) -> str:
        if self._proc.poll() is not None:
            raise RtlSimError(f"the RTL simulator exited (code {self._proc.returncode})")
        self._proc.stdin.write(line + "\n")
        self._proc.stdin.flush()
        answer = self._proc.stdout.readline().strip()
        if not answer or answer.startswith("ERR"):
            raise RtlSimError(f"RTL simulator: {answer or 'no answer'} (command {line.split()[0]})")
        return answer

    def _expect(self, word: str) -> None:
        got = self._proc.stdout.readline().strip()
        if got != word:
            raise RtlSimError(f"RTL simulator did not start: {got!r}")

    def axil_write(self, injector: int, offset: int, value: int) -> None:
        self._ask(f"W {injector} {offset} {value}")

    def axil_read(self, injector: int, offset: int) -> int:
        return int(self._ask(f"R {injector} {offset}"))

    # --- the Accelerator interface ---------------------------------------------------------
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
        cfgs = self.configs(setting)
        for k, cfg in enumerate(cfgs):
            for offset, value in registers.encode(cfg):
                self.axil_write(k, offset, value)
        self.setting = setting

    def reset_noise(self) -> None:
        for k in range(len(self.design.injectors)):
            self.axil_write(k, registers.RESEED, 1)

    def flip_counts(self) -> list[int]:
        return [registers.read_counters(lambda off, k=k: self.axil_read(k, off)).bits_changed
                for k in range(len(self.design.injectors))]

    def beat_counts(self) -> list[int]:
        return [registers.read_counters(lambda off, k=k: self.axil_read(k, off)).beats
                for k in range(len(self.design.injectors))]

    def execute(self, images: np.ndarray) -> np.ndarray:
        x = check_images(images, self.design.pixels)
        if len(x) == 0:
            return np.zeros((0, self.num_classes), np.int64)
        tmp = Path(self._tmp.name)
        src, dst = tmp / "in.u8", tmp / "out.i32"
        np.ascontiguousarray(x).tofile(src)
        t0 = time.perf_counter()
        answer = self._ask(f"X {len(x)} {round(self.backpressure * 1000)} {self.bp_seed} "
                           f"{src} {dst}")
        wall = time.perf_counter() - t0
        self.bp_seed += 1  # a fresh back-pressure pattern per call
        _, start, first, last, end = answer.split()
        start, first, last, end = int(start), int(first), int(last), int(end)
        self.last_run = {"images": len(x), "cycles": end - start, "wall_s": wall,
                         "first_image_cycles": first - start,
                         "steady_cycles_per_image": (last - first) / (len(x) - 1)
                         if len(x) > 1 else float(first - start)}
        logits = np.fromfile(dst, dtype=np.int32).reshape(len(x), self.num_classes)
        return logits.astype(np.int64)

    def throughput_test(self, n_images: int = 200) -> dict:
        rng = np.random.default_rng(0)
        imgs = rng.integers(0, 256, size=(n_images, self.design.pixels), dtype=np.uint8)
        saved = self.backpressure
        self.backpressure = 0.0
        try:
            self.reset_noise()
            self.execute(imgs)
        finally:
            self.backpressure = saved
            self.reset_noise()
        run = self.last_run
        return {"backend": "rtl", "images": n_images, "runtime_s": run["wall_s"],
                "images_per_s": n_images / run["wall_s"],
                "cycles_per_image": run["steady_cycles_per_image"],
                "expected_cycles_per_image": self.design.expected_cycles,
                "sim_cycles_per_s": run["cycles"] / run["wall_s"]}

    def close(self) -> None:
        if self._proc.poll() is None:
            try:
                self._proc.stdin.write("Q\n")
                self._proc.stdin.flush()
                self._proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self._proc.kill()
        self._tmp.cleanup()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        return f"RtlAccelerator({self.design.build_dir}, {len(self.design.layers)} layers)"
