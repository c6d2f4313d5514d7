"""The running Verilator simulation of a stitched accelerator, driven over a pipe.

One child process per design (`verilate.build_simulator`); commands are lines (see
`harness.cpp.in`): AXI-Lite writes/reads to an injector, and streaming a batch of images with
random output back-pressure. The process keeps its state between commands, so the injectors'
noise stream continues across batches as on the board.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np

from noisybnn.rtl.design import Design


class RtlSimError(RuntimeError):
    """The Verilator harness stopped or answered something unexpected."""


class Harness:
    """A started simulation of `design` (compiled on first use)."""

    def __init__(self, design: Design, jobs: int = 1, bp_seed: int = 1, swg: str = "ours"):
        from noisybnn.rtl.verilate import build_simulator

        self.design = design
        self.executable = build_simulator(design, jobs=jobs, swg=swg).resolve()
        self.bp_seed = int(bp_seed)
        self.last_run: dict = {}
        self._tmp = tempfile.TemporaryDirectory(prefix="noisybnn-rtl-")
        self._proc = subprocess.Popen([str(self.executable)], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True, bufsize=1,
                                      cwd=self._tmp.name)
        got = self._proc.stdout.readline().strip()
        if got != "READY":
            raise RtlSimError(f"RTL simulator did not start: {got!r}")

    def _ask(self, line: str) -> str:
        if self._proc.poll() is not None:
            raise RtlSimError(f"the RTL simulator exited (code {self._proc.returncode})")
        self._proc.stdin.write(line + "\n")
        self._proc.stdin.flush()
        answer = self._proc.stdout.readline().strip()
        if not answer or answer.startswith("ERR"):
            raise RtlSimError(f"RTL simulator: {answer or 'no answer'} (command {line.split()[0]})")
        return answer

    def axil_write(self, injector: int, offset: int, value: int) -> None:
        self._ask(f"W {int(injector)} {int(offset)} {int(value)}")

    def axil_read(self, injector: int, offset: int) -> int:
        return int(self._ask(f"R {int(injector)} {int(offset)}"))

    def stream(self, pixels: np.ndarray, backpressure: float = 0.0) -> np.ndarray:
        """uint8 (N, pixels) in, int64 logits (N, classes) out; `last_run` gets the cycles."""
        x = np.ascontiguousarray(pixels, dtype=np.uint8)
        n = len(x)
        tmp = Path(self._tmp.name)
        src, dst = tmp / "in.u8", tmp / "out.i32"
        x.tofile(src)
        import time

        t0 = time.perf_counter()
        answer = self._ask(f"X {n} {round(backpressure * 1000)} {self.bp_seed} {src} {dst}")
        wall = time.perf_counter() - t0
        self.bp_seed += 1  # a fresh back-pressure pattern per batch
        start, first, last, end = (int(v) for v in answer.split()[1:])
        self.last_run = {"images": n, "cycles": end - start, "wall_s": wall,
                         "backpressure": backpressure, "first_image_cycles": first - start,
                         "steady_cycles_per_image": (last - first) / (n - 1) if n > 1
                         else float(first - start)}
        classes = self.design.outputs_per_image
        return np.fromfile(dst, dtype=np.int32).reshape(n, classes).astype(np.int64)

    def close(self) -> None:
        if self._proc.poll() is None:
            try:
                self._proc.stdin.write("Q\n")
                self._proc.stdin.flush()
                self._proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait()
        self._tmp.cleanup()

    def __enter__(self) -> Harness:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
