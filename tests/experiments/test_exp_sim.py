"""The sweep on the real software accelerator of a real TFC build.

The fast test uses a build that already exists: $NOISYBNN_TEST_BUILD, or the default build of
tfc-w1a1 (bitstreams/pynq-z2/tfc-w1a1, made by `noisybnn estimate tfc-w1a1`); it is skipped when
there is none. The slow test makes that build itself through the model name (about 30 s).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from noisybnn.experiments import SweepSpec, comparable, run_sweep, validate


def _check_against_direct_run(spec, df, build):
    from noisybnn import data
    from noisybnn.backends import load, predict

    x, y = data.load("mnist", "test")
    x, y = x[: spec.n_images], y[: spec.n_images]
    acc = load("sim", build)
    _, points = validate(spec)
    rows = df.set_index("key")
    for p in points:
        acc.configure_noise(p.setting())
        logits = np.concatenate([acc.execute(x[:300]), acc.execute(x[300:])])  # one run, 2 calls
        row = rows.loc[p.key]
        assert row["n_correct"] == int((predict(logits) == y).sum()), p
        assert row["flips_per_layer"] == ";".join(map(str, acc.flip_counts())), p


def test_sim_sweep_matches_direct_run(tfc_build, tmp_path):
    build = tfc_build
    spec = SweepSpec(models=[str(build)], eps=[0.0, 0.02, 0.1], seeds=[1, 2],
                     modes=["flip", "stuck1", "off"], layers=[None, (1,)], faults_per_layer=[3],
                     n_images=1000)
    df = run_sweep(spec, tmp_path / "t.csv", progress=False)
    assert len(df) == 2 * 2 * 3 + 2 * 2 + 1
    off = df[df["mode"] == "off"].iloc[0]
    clean = df[(df["mode"] == "flip") & (df["eps"] == 0)]
    assert (clean["n_correct"] == off["n_correct"]).all() and off["flips_total"] == 0
    assert off["accuracy"] > 0.85
    noisy = df[(df["mode"] == "flip") & (df["eps"] == 0.1) & (df["layers"] == "all")]
    assert (noisy["accuracy"] < off["accuracy"]).all()
    # p = 0.1 flips about 10 % of 3 x 64 bits per image
    assert np.allclose(noisy["flips_total"] / (1000 * 192), 0.1, atol=0.01)
    _check_against_direct_run(spec, df, build)


@pytest.mark.slow
def test_sim_sweep_from_model_name_serial_and_dask(tmp_path):
    """A model name is compiled on demand (pipeline.compile_model); Dask gives the same table."""
    spec = SweepSpec(models=["tfc-w1a1"], eps=[0.0, 0.05], seeds=[1, 2], n_images=1000)
    serial = run_sweep(spec, tmp_path / "s.csv", progress=False)
    dist = run_sweep(spec, tmp_path / "d.csv", workers=2, progress=False)
    pd.testing.assert_frame_equal(comparable(serial), comparable(dist))
    assert set(serial["model"]) == {"tfc-w1a1"}
