"""Fixtures of the report tests: synthetic results tables, and a real TFC build with a small sweep.

The real-build fixtures use an existing build ($NOISYBNN_TEST_BUILD, or bitstreams/pynq-z2/tfc-w1a1
made by `noisybnn estimate tfc-w1a1`), made once (about 30 s) when there is none.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from noisybnn.experiments import COLUMNS
from noisybnn.report import ReportOptions

REPO = Path(__file__).resolve().parents[2]

#: Small, fast theory settings for the tests (the defaults are for real reports).
FAST = dict(theory_images=300, n_draws=16, mc_draws=4, tradeoff_eps=(0.05, 0.2), max_depth=8,
            flip_rate_seeds=2, compile_missing=False)


def existing_tfc_build() -> Path | None:
    env = os.environ.get("NOISYBNN_TEST_BUILD")
    candidates = [Path(env)] if env else [REPO / "bitstreams" / "pynq-z2" / "tfc-w1a1"]
    for c in candidates:
        if (c / "manifest.json").is_file() and (c / "dataflow_python.onnx").is_file():
            return c
    return None


def synthetic_rows(model: str = "toy-net", *, flip: bool = True, stuck: bool = True,
                   off: bool = True, seeds=(1, 2, 3), eps=(0.0, 0.01, 0.1),
                   faults=(1, 4), n_images: int = 500, seed: int = 0) -> pd.DataFrame:
    """A results table with every column of the sweep schema and made-up accuracies."""
    rng = np.random.default_rng(seed)
    rows = []

    def row(**kw):
        base = dict.fromkeys(COLUMNS, "")
        base.update(model=model, model_sha256="m" * 64, build_sha256="b" * 64, backend="sim",
                    dataset="mnist", split="test", n_images=n_images, layers="all",
                    flips_per_layer="", flips_total=0, seconds=0.1, images_per_s=5000.0,
                    worker="test:1", git_commit="unknown", timestamp="2026-01-01T00:00:00Z")
        base.update(kw)
        base["n_correct"] = int(round(base["accuracy"] * n_images))
        base["accuracy"] = base["n_correct"] / n_images
        base["key"] = hashlib.sha256(f"{model}|{len(rows)}".encode()).hexdigest()[:16]
        rows.append(base)

    if flip:
        for s in seeds:
            for e in eps:
                row(seed=s, mode="flip", eps=e, threshold=int(round(e * 65536)),
                    accuracy=float(np.clip(0.95 - 2.0 * e + rng.normal(0, 0.005), 0, 1)))
    if stuck:
        for s in seeds:
            for k in faults:
                row(seed=s, mode="stuck0", faults_per_layer=k, fault_spec="",
                    accuracy=float(np.clip(0.95 - 0.01 * k + rng.normal(0, 0.005), 0, 1)))
    if off:
        row(seed=seeds[0], mode="off", accuracy=0.95)
    return pd.DataFrame(rows, columns=list(COLUMNS))


@pytest.fixture
def fast_options():
    """Factory: ReportOptions with the fast test settings, updated by keyword arguments."""
    return lambda **kw: ReportOptions(**{**FAST, **kw})


@pytest.fixture
def make_rows():
    """The `synthetic_rows` factory, for tests that want a DataFrame."""
    return synthetic_rows


@pytest.fixture
def synthetic_csv(tmp_path):
    """Factory: ``synthetic_csv(name, **synthetic_rows kwargs)`` -> path of a written CSV."""

    def make(name: str = "results.csv", **kw) -> Path:
        path = tmp_path / name
        synthetic_rows(**kw).to_csv(path, index=False)
        return path

    return make


@pytest.fixture(scope="session")
def tfc_build() -> Path:
    build = existing_tfc_build()
    if build is None:  # a fresh clone: make the default build once (FINN estimates, ~30 s)
        from noisybnn.pipeline import compile_model
        from noisybnn.zoo import checkpoint_path

        if not checkpoint_path("tfc-w1a1").is_file():
            pytest.skip("no TFC build and no shipped tfc-w1a1 checkpoint to make one")
        build = compile_model("tfc-w1a1")
    return build


@pytest.fixture(scope="session")
def tfc_sweep(tfc_build, tmp_path_factory) -> Path:
    """A small real sweep on the TFC build: flip (3 eps x 2 seeds), stuck0 (k = 1, 8), off."""
    from noisybnn.experiments import SweepSpec, run_sweep

    out = tmp_path_factory.mktemp("sweep") / "sweep.csv"
    spec = SweepSpec(models=[str(tfc_build)], eps=[0.0, 0.05, 0.2], seeds=[1, 2],
                     modes=["flip", "stuck0", "off"], faults_per_layer=[1, 8], n_images=500)
    run_sweep(spec, out, progress=False)
    return out


@pytest.fixture(scope="session")
def explore_csv(tmp_path_factory) -> Path:
    """An exploration table with a few of the columns of `schemas.EXPLORE`."""
    path = tmp_path_factory.mktemp("explore") / "explore.csv"
    pd.DataFrame({
        "name": ["a", "b", "c", "d", "e"],
        "lut": [3000, 9000, 24000, 52000, 98000],
        "bram_18k": [1, 2, 8, 16, 40],
        "fps": [500000, 200000, 100000, 50000, 40000],
        "fits": [True, True, True, True, False],
        "accuracy_under_noise": [0.2, 0.78, 0.885, 0.93, 0.95],
        "eps": [0.05] * 5, "width": [3, 16, 64, 128, 256], "depth": [1, 3, 3, 3, 3],
        "weight_bits": [1] * 5, "act_bits": [1] * 5,
    }).to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def tfc_report(tfc_build, tfc_sweep, explore_csv, tmp_path_factory):
    """The report of the real sweep (every section), built once: (index.html, numbers, sweep)."""
    import json

    from noisybnn.experiments import read_table
    from noisybnn.report import build_report

    name = read_table(tfc_sweep)["model"].iloc[0]
    out = tmp_path_factory.mktemp("report")
    index = build_report([tfc_sweep], out, explore_csv=explore_csv,
                         options=ReportOptions(**FAST), build_dirs={name: tfc_build})
    numbers = json.loads((out / "report.json").read_text())
    return index, numbers, read_table(tfc_sweep)
