"""Fingerprints: one file hash, one JSON hash, one code fingerprint for the whole project.

The code fingerprint covers every source that shapes a build or what the software accelerator
computes from it (and the tool versions), so a build, a sweep point or an explored design made
by other code is redone rather than reused. `pipeline.compile_model` keys builds by it; the
exploration and the depth-width experiment key their rows by it and refuse a worker whose code
differs.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from functools import lru_cache
from pathlib import Path

#: Sources (globs under the package) that shape a build, its estimates, or what the sim computes.
CODE_SOURCES = ("pipeline.py", "export.py", "compile/*.py", "hw/*.py",
                "models/*.py", "backends/base.py", "backends/sim.py", "backends/kernels.py")
#: Tools whose versions are part of the fingerprint.
CODE_PACKAGES = ("finn-plus", "qonnx", "brevitas", "onnx", "numpy")


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def json_sha256(obj) -> str:
    """SHA-256 of an object's JSON with sorted keys (keys of rows, recipes, builds)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


def code_sha256() -> str:
    """12 hex digits over `CODE_SOURCES`, the injector RTL and the versions of `CODE_PACKAGES`."""
    from importlib.metadata import PackageNotFoundError, version

    from noisybnn.resources import rtl_dir

    pkg = Path(__file__).resolve().parent
    files = sorted({p for pattern in CODE_SOURCES for p in pkg.glob(pattern)})
    files += sorted(rtl_dir().glob("*.v"))
    h = hashlib.sha256()
    for path in files:
        rel = path.relative_to(pkg).as_posix() if path.is_relative_to(pkg) else "rtl/" + path.name
        h.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    for name in CODE_PACKAGES:
        try:
            h.update(f"{name}={version(name)}\0".encode())
        except PackageNotFoundError:
            h.update(f"{name}=-\0".encode())
    return h.hexdigest()[:12]


def weights_sha256(checkpoint: str | os.PathLike) -> str:
    """SHA-256 over the checkpoint's state dict (names, dtypes, shapes, bytes), sorted by name.

    The checkpoint file itself records wall times, so its hash differs between two identical
    trainings; this one does not.
    """
    import torch

    state = torch.load(checkpoint, map_location="cpu", weights_only=False)["state_dict"]
    h = hashlib.sha256()
    for name in sorted(state):
        t = state[name].detach().contiguous().cpu()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
    return h.hexdigest()


def canonical_onnx_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of an ONNX graph with its tensors renamed t0, t1, ... in order of use.

    qonnx names new tensors with random strings, so two builds of the same checkpoint give
    different `dataflow_python.onnx` bytes; this hash is equal for equal graphs.
    """
    import onnx

    model = onnx.load(str(path))
    g = model.graph
    names: dict[str, str] = {}

    def canon(name: str) -> str:
        if not name:
            return name
        if name not in names:
            names[name] = f"t{len(names)}"
        return names[name]

    for vi in g.input:
        canon(vi.name)
    for node in g.node:
        for n in list(node.input) + list(node.output):
            canon(n)
    for vi in g.output:
        canon(vi.name)
    for node in g.node:
        node.input[:] = [canon(n) for n in node.input]
        node.output[:] = [canon(n) for n in node.output]
        node.doc_string = ""
    for coll in (g.input, g.output):
        for vi in coll:
            vi.name = canon(vi.name)
    inits = sorted((t for t in g.initializer if t.name in names), key=lambda t: names[t.name])
    for t in inits:
        t.name = names[t.name]
    del g.initializer[:]
    g.initializer.extend(inits)
    infos = sorted((v for v in g.value_info if v.name in names), key=lambda v: names[v.name])
    for v in infos:
        v.name = names[v.name]
    del g.value_info[:]
    g.value_info.extend(infos)
    annos = sorted((a for a in g.quantization_annotation if a.tensor_name in names),
                   key=lambda a: names[a.tensor_name])
    for a in annos:
        a.tensor_name = names[a.tensor_name]
    del g.quantization_annotation[:]
    g.quantization_annotation.extend(annos)
    g.name = ""
    g.doc_string = ""
    model.doc_string = ""
    return hashlib.sha256(model.SerializeToString(deterministic=True)).hexdigest()



@lru_cache(maxsize=1)
def git_commit() -> str:
    """HEAD of the checkout this code runs from, "+dirty" if tracked files changed; "unknown".

    $NOISYBNN_GIT_COMMIT overrides it (for installs without a .git, e.g. a copied worker tree).
    """
    if os.environ.get("NOISYBNN_GIT_COMMIT"):
        return os.environ["NOISYBNN_GIT_COMMIT"]
    from noisybnn.resources import source_checkout

    root = source_checkout()
    if not (root / ".git").exists():
        return "unknown"
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"],
                              capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return "unknown"
        dirty = subprocess.run(["git", "--no-optional-locks", "-C", str(root), "status",
                                "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=30)
        return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
