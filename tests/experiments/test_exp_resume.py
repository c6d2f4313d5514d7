"""Kill a sweep with SIGKILL midway, start it again: same table as an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pandas as pd

from noisybnn.experiments import ResultsTable, SweepError, comparable, read_table, run_sweep
from noisybnn.experiments.testing import load_fake

#: The child: a serial sweep whose accelerator sleeps NOISYBNN_FAKE_DELAY_S per point.
CHILD = """
import sys
from noisybnn.experiments import SweepSpec, run_sweep
from noisybnn.experiments.testing import load_fake
spec = SweepSpec(models=[sys.argv[1]], eps=[i / 100 for i in range(12)], seeds=[1, 2],
                 n_images=200)
run_sweep(spec, sys.argv[2], progress=False, loader=load_fake)
"""


def _spec(build):
    from noisybnn.experiments import SweepSpec

    return SweepSpec(models=[str(build)], eps=[i / 100 for i in range(12)], seeds=[1, 2],
                     n_images=200)


def test_kill_and_resume(fake_build, tmp_path):
    total = 24
    reference = run_sweep(_spec(fake_build), tmp_path / "ref.csv", progress=False,
                          loader=load_fake)
    assert len(reference) == total
    out = tmp_path / "killed.csv"
    env = dict(os.environ, NOISYBNN_FAKE_DELAY_S="0.2")
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(fake_build), str(out)], env=env)
    seen = 0
    deadline = time.monotonic() + 120
    try:
        while seen < 3:  # every read of the table during the run parses: never a partial row
            assert child.poll() is None, "the sweep ended before it could be killed"
            assert time.monotonic() < deadline, "no rows after 120 s"
            try:
                seen = len(ResultsTable.read_rows(out))
            except FileNotFoundError:
                pass
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL
    before = read_table(out)
    assert 3 <= len(before) < total
    final = run_sweep(_spec(fake_build), out, progress=False, loader=load_fake)
    table = read_table(out)
    assert table["key"].is_unique and len(table) == total
    pd.testing.assert_frame_equal(comparable(table), comparable(reference))
    pd.testing.assert_frame_equal(comparable(final), comparable(reference))
    # the rows of the killed run were kept as they were, not computed again
    kept = table.set_index("key").loc[before["key"], "worker"]
    assert list(kept) == list(before["worker"]) and kept.str.endswith(f":{child.pid}").all()


def test_lock_of_killed_writer_is_released(fake_build, tmp_path):
    """The lock is an flock: the kernel drops it with the process, no stale lock file blocks."""
    out = tmp_path / "t.csv"
    holder = subprocess.Popen([sys.executable, "-c",
                               "import sys, time\n"
                               "from noisybnn.experiments import ResultsTable\n"
                               "with ResultsTable(sys.argv[1]):\n"
                               "    print('locked', flush=True); time.sleep(60)\n", str(out)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        try:
            run_sweep(_spec(fake_build), out, progress=False, loader=load_fake)
            raise AssertionError("a second writer got in")
        except SweepError as exc:
            assert "another sweep" in str(exc)
    finally:
        holder.kill()
        holder.wait()
    assert len(run_sweep(_spec(fake_build), out, progress=False, loader=load_fake)) == 24
