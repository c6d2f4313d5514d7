"""Shared pieces of the RTL accelerator tests: FINN builds of the shipped models (made once and
kept under build/rtl-tests, reused while checkpoint and code are unchanged) and a skip where
Verilator is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILDS = REPO / "build" / "rtl-tests"


@pytest.fixture(scope="session")
def verilator():
    from noisybnn.rtl.verilate import VerilatorMissingError, verilator_env

    try:
        return verilator_env()
    except VerilatorMissingError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def finn_build():
    """finn_build(model, target_fps) -> build dir (FINN estimate flow, injectors everywhere)."""
    from noisybnn.pipeline import compile_model
    from noisybnn.zoo import checkpoint_path

    def _build(model: str, target_fps: int = 100_000) -> Path:
        if not checkpoint_path(model).is_file():
            pytest.skip(f"shipped checkpoint {model} missing")
        return compile_model(model, target_fps=target_fps, out_dir=BUILDS / f"{model}-{target_fps}")

    return _build


@pytest.fixture(scope="session")
def rtl_cache() -> Path:
    """Where hand-made test designs keep their Verilator builds (reused while unchanged)."""
    return BUILDS / "unit"
