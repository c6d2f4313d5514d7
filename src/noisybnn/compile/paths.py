"""Where a build keeps what other stages read. No FINN import: reading a build costs nothing."""

from __future__ import annotations

from pathlib import Path

from noisybnn.errors import MissingInputError

PYTHON_MODEL = "dataflow_python.onnx"
MANIFEST = "manifest.json"
ESTIMATES = "estimates.json"
DRY_RUN = "dry_run.json"


def python_model_path(build_dir: str | Path) -> Path:
    """The executable twin of a build; clear error if the build has not produced it."""
    path = Path(build_dir) / PYTHON_MODEL
    if not path.is_file():
        raise MissingInputError(
            f"{path} not found: run `noisybnn estimate` (or `noisybnn compile`) for this model first"
        )
    return path
