"""The software accelerator of another git revision, timed beside this one (`bench --baseline`).

The revision's whole `src/noisybnn` is extracted with `git archive` and run in a child process
of its own (PYTHONPATH = that tree), so any revision whose `SimAccelerator` has the
`configure_noise` / `execute` / `flip_counts` interface can be the baseline - also one whose
injector reference (`noisybnn.hw`) differs from this checkout's, such as the v1 injector before
the v2 merge. The child times each run itself (wall and `time.process_time`), so the figures
exclude the pipe; the parent interleaves its runs with its own, so both see the same load.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np

from noisybnn.errors import ConfigError

#: The child's loop: one JSON request per line on stdin, one JSON answer per line on stdout.
_SERVER = r"""
import json, sys, time
import numpy as np
from noisybnn.backends.sim import SimAccelerator
from noisybnn.backends.base import NoiseSetting
acc = images = None
for line in sys.stdin:
    req = json.loads(line)
    try:
        if req["cmd"] == "load":
            acc = SimAccelerator(req["twin"])
            images = np.load(req["images"])
            out = {"kernel": acc.kernel}
        else:
            kw = {"p": req["p"], "seed": req["seed"]} if req["mode"] == "flip" else {}
            acc.configure_noise(NoiseSetting(mode=req["mode"], **kw))
            imgs = images[: req["n"]]
            c0, t0 = time.process_time(), time.perf_counter()
            logits = acc.execute(imgs)
            out = {"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0,
                   "flips": acc.flip_counts()}
            if req.get("save"):
                np.save(req["save"], logits)
    except Exception as exc:  # reported to the parent, which raises
        out = {"error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(out), flush=True)
"""


def _git(root: Path, *args: str, text: bool = True):
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True,
                          text=text).stdout


class BaselineSim:
    """A revision's `SimAccelerator` on a twin, in a child process; `run` times one execute."""

    def __init__(self, rev: str, twin: Path, images: np.ndarray, workdir: Path,
                 threads: int | None = 1):
        from noisybnn.resources import source_checkout

        root = source_checkout()
        try:
            self.commit = _git(root, "rev-parse", rev).strip()
            archive = _git(root, "archive", self.commit, "src/noisybnn", text=False)
        except (OSError, subprocess.CalledProcessError) as exc:
            raise ConfigError(f"baseline revision {rev!r}: cannot read it from git in {root} ("
                              f"{str(getattr(exc, 'stderr', '') or exc).strip()})") from None
        self.rev, self.workdir = rev, Path(workdir)
        tree = self.workdir / self.commit[:12]
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tree, filter="data")
        np.save(self.workdir / "images.npy", np.ascontiguousarray(images))
        env = dict(os.environ, PYTHONPATH=str(tree / "src"))
        if threads:
            for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                        "NUMBA_NUM_THREADS"):
                env[var] = str(threads)
        self._proc = subprocess.Popen([sys.executable, "-c", _SERVER], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, env=env, text=True,
                                      cwd=str(self.workdir))
        self.kernel = self._call(cmd="load", twin=str(Path(twin).resolve()),
                                 images=str(self.workdir / "images.npy"))["kernel"]

    def _call(self, **req) -> dict:
        self._proc.stdin.write(json.dumps(req) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise ConfigError(f"baseline sim of {self.rev} ({self.commit[:10]}) exited "
                              f"(code {self._proc.poll()})")
        out = json.loads(line)
        if "error" in out:
            raise ConfigError(f"baseline sim of {self.rev} ({self.commit[:10]}): {out['error']}")
        return out

    def run(self, n: int, mode: str = "flip", p: float = 0.0, seed: int = 1,
            logits: bool = False) -> dict:
        """Execute the first n images from a fresh run: {"wall", "cpu", "flips"} (+ "logits")."""
        save = str(self.workdir / "logits.npy") if logits else None
        out = self._call(cmd="run", n=int(n), mode=mode, p=float(p), seed=int(seed), save=save)
        if logits:
            out["logits"] = np.load(save)
        return out

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.stdin.close()
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
