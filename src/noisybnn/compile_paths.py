"""Where a build keeps what other stages read (no FINN import needed to find them)."""

from __future__ import annotations

from pathlib import Path

PYTHON_MODEL = "dataflow_python.onnx"
MANIFEST = "manifest.json"
ESTIMATES = "estimates.json"


def python_model_path(build_dir: str | Path) -> Path:
    """The executable twin of a build; clear error if the build has not produced it."""
    path = Path(build_dir) / PYTHON_MODEL
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: run `noisybnn estimate --model MODEL` for this model first"
        )
    return path
