"""Same point, same key, on the real software accelerator of a real TFC build.

* the build digest ignores tensor names and paths, and changes with weights, thresholds, folding;
* a rebuild of the same checkpoint, then a resumed sweep: nothing computed, the table untouched;
* two processes that compile the same cold model at once: one build, the same keys;
* kill-and-resume and serial = Dask on the real sim;
* a damaged build is refused when loaded, whatever the kernel.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import string
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import pandas as pd
import pytest
from onnx import helper, numpy_helper

from noisybnn.experiments import (
    ResultsTable,
    SweepError,
    SweepSpec,
    comparable,
    read_table,
    run_sweep,
)
from noisybnn.keys import build_digest

TWIN = "dataflow_python.onnx"


def _sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture
def build_copy(tfc_build, tmp_path) -> Path:
    """A private copy of the real build (so it can be edited)."""
    dst = tmp_path / "build"
    shutil.copytree(tfc_build, dst, ignore=shutil.ignore_patterns("intermediate_models"))
    return dst


def _edit_twin(bdir: Path, edit) -> None:
    """Apply `edit(model)` to the twin, then update the manifest's file hash (as a hand edit or a
    rebuild would leave it)."""
    model = onnx.load(str(bdir / TWIN))
    edit(model)
    onnx.save(model, str(bdir / TWIN))
    man = json.loads((bdir / "manifest.json").read_text())
    man["python_model_sha256"] = _sha(bdir / TWIN)
    (bdir / "manifest.json").write_text(json.dumps(man, indent=2))


def _rename_tensors(model) -> None:
    """What qonnx's random names did to every rebuild: other intermediate tensor names, and FINN
    paths in attributes. The computation is the same."""
    rng = random.Random(7)
    g = model.graph
    keep = {t.name for t in g.input} | {t.name for t in g.output} | {t.name for t in g.initializer}
    names = {n for node in g.node for n in node.output if n not in keep}
    new = {n: "".join(rng.choices(string.ascii_letters, k=6)) for n in names}
    for node in g.node:
        node.input[:] = [new.get(n, n) for n in node.input]
        node.output[:] = [new.get(n, n) for n in node.output]
        node.attribute.append(helper.make_attribute("code_gen_dir_ipgen",
                                                    f"/tmp/finn_dev/code_gen_{rng.random()}"))
    for vi in g.value_info:
        vi.name = new.get(vi.name, vi.name)
    for ann in g.quantization_annotation:
        ann.tensor_name = new.get(ann.tensor_name, ann.tensor_name)


def _first_mvau_weight(model):
    node = next(n for n in model.graph.node if n.op_type == "MVAU")
    init = next(t for t in model.graph.initializer if t.name == node.input[1])
    return init, numpy_helper.to_array(init)


# --- the digest --------------------------------------------------------------------------------


def test_digest_ignores_names_and_paths_not_content(build_copy):
    twin = build_copy / TWIN
    ref = build_digest(twin)
    old_bytes = _sha(twin)
    _edit_twin(build_copy, _rename_tensors)
    assert _sha(twin) != old_bytes and build_digest(twin) == ref

    def flip_weight(model):
        init, w = _first_mvau_weight(model)
        w = w.copy()
        w[0, 0] = 1 - w[0, 0]
        init.CopyFrom(numpy_helper.from_array(w, init.name))

    def bump_threshold(model):
        node = next(n for n in model.graph.node if n.op_type == "MVAU")
        init = next(t for t in model.graph.initializer if t.name == node.input[2])
        t = numpy_helper.to_array(init).copy()
        t[0, 0] += 1
        init.CopyFrom(numpy_helper.from_array(t, init.name))

    def injector_pe(model):
        node = next(n for n in model.graph.node if n.op_type == "NoiseInjector")
        for a in node.attribute:
            if a.name == "PE":
                a.i = 4 if a.i != 4 else 8

    seen = {ref}
    for edit in (flip_weight, bump_threshold, injector_pe):
        model = onnx.load(str(twin))
        edit(model)
        path = build_copy / f"{edit.__name__}.onnx"
        onnx.save(model, str(path))
        d = build_digest(path)
        assert d not in seen, edit.__name__
        seen.add(d)


# --- rebuild, then resume ----------------------------------------------------------------------


def _spec(build, **kw):
    base = dict(models=[str(build)], eps=[0.0, 0.05, 0.1], seeds=[1, 2], n_images=300)
    base.update(kw)
    return SweepSpec(**base)


def test_rebuilt_twin_then_resume_computes_nothing(build_copy, tmp_path):
    """A rebuild that renames every intermediate tensor (as qonnx's random names did): the resumed
    sweep finds every point done; the table file is not even rewritten."""
    out = tmp_path / "t.csv"
    first = run_sweep(_spec(build_copy), out, progress=False)
    assert len(first) == 6
    before = out.read_bytes()
    _edit_twin(build_copy, _rename_tensors)
    again = run_sweep(_spec(build_copy), out, progress=False)
    assert out.read_bytes() == before  # 0 points computed, 0 rows added
    assert len(again) == 6 and again["key"].is_unique
    pd.testing.assert_frame_equal(again, first)


@pytest.mark.slow
def test_real_rebuild_then_resume_computes_nothing(tmp_path):
    """`estimate --force` of the same checkpoint between two runs of one sweep (FINN, ~60 s)."""
    from noisybnn.pipeline import compile_model

    bdir = Path(compile_model("tfc-w1a1", out_dir=tmp_path / "b"))
    twin_before = _sha(bdir / TWIN)
    out = tmp_path / "t.csv"
    assert len(run_sweep(_spec(bdir), out, progress=False)) == 6
    table = out.read_bytes()
    compile_model("tfc-w1a1", out_dir=bdir, force=True)
    assert _sha(bdir / TWIN) == twin_before  # deterministic names: the same bytes, too
    df = run_sweep(_spec(bdir), out, progress=False)
    assert out.read_bytes() == table and len(df) == 6


# --- concurrent cold builds --------------------------------------------------------------------

COLD_CHILD = """
import sys
from pathlib import Path
import noisybnn.pipeline as pipeline
pipeline.DEFAULT_OUT = Path(sys.argv[1])  # a cold bitstreams/ of its own
from noisybnn.experiments import SweepSpec, run_sweep
spec = SweepSpec(models=["tfc-w1a1"], eps=[0.0, 0.05, 0.1], seeds=[1, 2], n_images=300)
run_sweep(spec, sys.argv[2], progress=False)
"""


@pytest.mark.slow
def test_two_cold_sweeps_of_one_model(tmp_path):
    """Two processes sweep a model that is not built yet: one builds, the other waits for it and
    reuses it; both tables name the build on disk; resuming either computes nothing (~60 s)."""
    root = tmp_path / "bitstreams"
    env = dict(os.environ, PYTHONPATH=os.environ.get("PYTHONPATH", ""))
    procs = [subprocess.Popen([sys.executable, "-c", COLD_CHILD, str(root), str(tmp_path / n)],
                              env=env, stderr=subprocess.PIPE, text=True)
             for n in ("a.csv", "b.csv")]
    errs = [p.communicate(timeout=600)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errs
    assert sum("waiting for another process" in e for e in errs) == 1, errs
    bdir = root / "pynq-z2" / "tfc-w1a1"
    digest = build_digest(bdir / TWIN)
    tables = [read_table(tmp_path / n) for n in ("a.csv", "b.csv")]
    for t in tables:
        assert len(t) == 6 and t["key"].is_unique and set(t["build_sha256"]) == {digest}
    assert set(tables[0]["key"]) == set(tables[1]["key"])
    pd.testing.assert_frame_equal(comparable(tables[0]), comparable(tables[1]))
    for n in ("a.csv", "b.csv"):
        raw = (tmp_path / n).read_bytes()
        run_sweep(SweepSpec(models=[str(bdir)], eps=[0.0, 0.05, 0.1], seeds=[1, 2],
                            n_images=300), tmp_path / n, progress=False)
        assert (tmp_path / n).read_bytes() == raw


LOCK_CHILD = """
import sys, time
from noisybnn.buildlock import build_lock
with build_lock(sys.argv[1], poll_s=0.01):
    with open(sys.argv[2], "a") as f:
        f.write(f"start {sys.argv[3]}\\n"); f.flush()
        time.sleep(0.5)
        f.write(f"end {sys.argv[3]}\\n")
"""


def test_build_lock_makes_builds_take_turns(tmp_path):
    """Two processes in one build directory's lock never overlap."""
    log = tmp_path / "log"
    procs = [subprocess.Popen([sys.executable, "-c", LOCK_CHILD, str(tmp_path / "b"), str(log),
                               str(i)], stderr=subprocess.PIPE, text=True) for i in (1, 2)]
    for p in procs:
        p.communicate(timeout=60)
        assert p.returncode == 0
    lines = log.read_text().split()
    pairs = [lines[i:i + 4] for i in range(0, len(lines), 4)]
    assert len(lines) == 8
    assert lines[0] == "start" and lines[2] == "end" and lines[1] == lines[3], pairs
    assert lines[4] == "start" and lines[6] == "end" and lines[5] == lines[7], pairs


# --- kill-and-resume, serial = Dask, on the real sim ------------------------------------------

KILL_CHILD = """
import sys
from noisybnn.experiments import SweepSpec, run_sweep
spec = SweepSpec(models=[sys.argv[1]], eps=[i / 200 for i in range(40)], seeds=[1, 2],
                 n_images=1000)
run_sweep(spec, sys.argv[2], progress=False)
"""


def _kill_spec(build):
    return SweepSpec(models=[str(build)], eps=[i / 200 for i in range(40)], seeds=[1, 2],
                     n_images=1000)


def test_kill_and_resume_real_sim(tfc_build, tmp_path):
    out = tmp_path / "killed.csv"
    child = subprocess.Popen([sys.executable, "-c", KILL_CHILD, str(tfc_build), str(out)])
    seen, deadline = 0, time.monotonic() + 120
    try:
        while seen < 5:
            assert child.poll() is None, "the sweep ended before it could be killed"
            assert time.monotonic() < deadline
            try:
                seen = len(ResultsTable.read_rows(out))
            except (FileNotFoundError, SweepError):
                pass
            time.sleep(0.01)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
    before = read_table(out)
    assert 5 <= len(before) < 80
    resumed = run_sweep(_kill_spec(tfc_build), out, progress=False)
    reference = run_sweep(_kill_spec(tfc_build), tmp_path / "ref.csv", progress=False)
    assert resumed["key"].is_unique and len(resumed) == 80
    pd.testing.assert_frame_equal(comparable(resumed), comparable(reference))
    kept = resumed.set_index("key").loc[before["key"], "worker"]
    assert kept.str.endswith(f":{child.pid}").all()  # not computed again


def test_serial_equals_dask_real_sim(tfc_build, tmp_path, capfd):
    pytest.importorskip("dask.distributed")
    spec = SweepSpec(models=[str(tfc_build)], eps=[0.0, 0.02, 0.1], seeds=[1, 2],
                     modes=["flip", "stuck1"], faults_per_layer=[3], n_images=1000)
    serial = run_sweep(spec, tmp_path / "s.csv", progress=False)
    dist = run_sweep(spec, tmp_path / "d.csv", workers=2, progress=False)
    assert len(serial) == 8 and dist["worker"].nunique() == 2
    pd.testing.assert_frame_equal(comparable(serial), comparable(dist))
    err = capfd.readouterr().err
    for noise in ("Couldn't gather keys", "CommClosedError", "Traceback"):
        assert noise not in err, err


# --- damaged builds ----------------------------------------------------------------------------


@pytest.mark.parametrize("kernel", ["xnor", "xnor-numpy", "gemm"])
def test_weights_cut_are_refused_by_every_kernel(build_copy, kernel):
    """The first weight matrix cut to 100 x 64 (the manifest hash updated to match)."""
    from noisybnn.backends import kernels
    from noisybnn.backends.sim import SimAccelerator
    from noisybnn.backends.sim_checks import BuildCheckError

    if kernel == "xnor" and not kernels.AVAILABLE:
        pytest.skip("numba is not installed")

    def cut(model):
        init, w = _first_mvau_weight(model)
        init.CopyFrom(numpy_helper.from_array(np.ascontiguousarray(w[:100]), init.name))

    _edit_twin(build_copy, cut)
    with pytest.raises(BuildCheckError, match=r"weight matrix has shape \(100, 64\)"):
        SimAccelerator(build_copy / TWIN, kernel=kernel)


def test_damaged_build_stops_the_sweep_before_the_table(build_copy, tmp_path):
    def flip(model):
        init, w = _first_mvau_weight(model)
        w = w.copy()
        w[:, 0] = 1 - w[:, 0]
        init.CopyFrom(numpy_helper.from_array(w, init.name))

    _edit_twin(build_copy, flip)  # same shapes; only the manifest's build_digest can tell
    man = json.loads((build_copy / "manifest.json").read_text())
    if not man.get("build_digest"):
        pytest.skip("the build predates build_digest in the manifest")
    out = tmp_path / "t.csv"
    with pytest.raises(SweepError, match="build_digest"):
        run_sweep(_spec(build_copy), out, progress=False)
    assert not out.exists()
