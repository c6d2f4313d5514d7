"""Fixtures of the experiment tests: fake builds (no FINN needed) and small sweep specs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from noisybnn.experiments import SweepSpec
from noisybnn.experiments.testing import make_fake_build


@pytest.fixture
def fake_build(tmp_path):
    """A build directory the sweep accepts; run it with loader=testing.load_fake."""
    return make_fake_build(tmp_path / "builds" / "fake-tfc")


@pytest.fixture
def small_spec(fake_build):
    """Factory: a small grid on the fake build (flip x 3 eps x 2 seeds, stuck0 x 2 k, off)."""

    def make(**kw):
        base = dict(models=[str(fake_build)], eps=[0.0, 0.02, 0.1], seeds=[1, 2],
                    modes=["flip", "stuck0", "off"], layers=[None, (1,)],
                    faults_per_layer=[0, 4], n_images=300)
        base.update(kw)
        return SweepSpec(**base)

    return make


REPO = Path(__file__).resolve().parents[2]


def existing_tfc_build() -> Path | None:
    """$NOISYBNN_TEST_BUILD, or the default tfc-w1a1 build if `noisybnn estimate` made it."""
    env = os.environ.get("NOISYBNN_TEST_BUILD")
    candidates = [Path(env)] if env else [REPO / "bitstreams" / "pynq-z2" / "tfc-w1a1"]
    for c in candidates:
        if (c / "manifest.json").is_file() and (c / "dataflow_python.onnx").is_file():
            return c
    return None


@pytest.fixture
def tfc_build():
    """A real TFC build: the existing one, else made once from the shipped checkpoint."""
    build = existing_tfc_build()
    if build is None:  # a fresh clone: make the default build once (FINN estimates, ~30 s)
        from noisybnn.pipeline import compile_model
        from noisybnn.zoo import checkpoint_path

        if not checkpoint_path("tfc-w1a1").is_file():
            pytest.skip("no TFC build and no shipped tfc-w1a1 checkpoint to make one")
        build = compile_model("tfc-w1a1")
    return build


@pytest.fixture
def tfc_model():
    """An existing TFC build directory, else the model name (compiled on demand, ~30 s)."""
    build = existing_tfc_build()
    return str(build) if build is not None else "tfc-w1a1"
