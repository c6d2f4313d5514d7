"""Moved to `noisybnn.compile.paths`; this re-export stays until every caller imports from there."""

from noisybnn.compile.paths import ESTIMATES, MANIFEST, PYTHON_MODEL, python_model_path

__all__ = ["ESTIMATES", "MANIFEST", "PYTHON_MODEL", "python_model_path"]
