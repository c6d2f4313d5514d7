"""The sweep on a Dask LocalCluster (2 worker processes, loopback only) equals the serial run."""

from __future__ import annotations

import pandas as pd
import pytest

from noisybnn.experiments import comparable, run_sweep
from noisybnn.experiments.testing import load_fake

pytest.importorskip("dask.distributed")


def test_local_cluster_table_equals_serial(small_spec, tmp_path):
    spec = small_spec()
    serial = run_sweep(spec, tmp_path / "serial.csv", progress=False, loader=load_fake)
    dist = run_sweep(spec, tmp_path / "dask.csv", workers=2, progress=False, loader=load_fake)
    pd.testing.assert_frame_equal(comparable(serial), comparable(dist))
    assert dist["key"].is_unique
    # the rows were computed in the two worker processes, not in this one
    assert dist["worker"].nunique() == 2
    assert not dist["worker"].str.endswith(f":{__import__('os').getpid()}").any()
    # and the table files are the same apart from the volatile columns
    a = pd.read_csv(tmp_path / "serial.csv", dtype=str)
    b = pd.read_csv(tmp_path / "dask.csv", dtype=str)
    assert list(a["key"]) == list(b["key"])


def test_existing_scheduler_and_resume(small_spec, tmp_path):
    """--scheduler: a cluster started elsewhere (here: in this process, tcp on 127.0.0.1, one
    worker thread, which starts in a fraction of the time of a worker process)."""
    from dask.distributed import LocalCluster

    spec = small_spec(modes=["flip"], seeds=[1, 2, 3])
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp",
                      host="127.0.0.1", dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        out = tmp_path / "t.csv"
        half = run_sweep(small_spec(modes=["flip"], seeds=[1]), out, progress=False,
                         loader=load_fake)
        df = run_sweep(spec, out, scheduler=cluster.scheduler_address, progress=False,
                       loader=load_fake)
    assert len(df) == 18 and set(half["key"]) < set(df["key"])
    assert df.loc[df["key"].isin(half["key"]), "worker"].tolist() == half["worker"].tolist()


def test_unreachable_scheduler_fails_before_writing(small_spec, tmp_path):
    import socket

    from noisybnn.experiments import SweepError

    with socket.socket() as s:  # a loopback port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "out" / "t.csv"
    with pytest.raises(SweepError, match="cannot reach the Dask scheduler"):
        run_sweep(small_spec(), out, scheduler=f"tcp://127.0.0.1:{port}", progress=False,
                  loader=load_fake, connect_timeout_s=2)
    assert not (tmp_path / "out").exists()
