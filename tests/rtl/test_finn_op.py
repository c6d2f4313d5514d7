"""Our RTL MVAU as a FINN layer: `SpecializeBinaryMVAUs` selects it for every w1a1 MVAU of a real
FINN build, its generated wrapper (FINN's port names, ROMs from the node's initializers) passes
`verilator --lint-only -Wall`, and FINN's estimate functions still run on it. (What the RTL
computes is checked by the parity tests against the sim.)"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

import noisybnn.compile  # noqa: F401 - registers the ops
from noisybnn.rtl.design import FOLDED_MODEL

pytestmark = pytest.mark.rtl


@pytest.fixture
def specialized(finn_build):
    from qonnx.core.modelwrapper import ModelWrapper

    from noisybnn.compile.mvau_rtl import SpecializeBinaryMVAUs

    build = finn_build("tfc-w1a1")
    model = ModelWrapper(str(build / FOLDED_MODEL))
    before = [n.op_type for n in model.graph.node]
    return build, before, model.transform(SpecializeBinaryMVAUs())


def test_every_binary_mvau_becomes_rtl(specialized):
    _, before, model = specialized
    after = [n.op_type for n in model.graph.node]
    assert before.count("MVAU_hls") == 4
    assert after.count("MVAU_xnor_rtl") == 4 and "MVAU_hls" not in after
    assert [a for a in after if not a.startswith("MVAU")] == \
        [b for b in before if not b.startswith("MVAU")]


def test_generated_wrappers_lint_clean(specialized, verilator, tmp_path):
    from qonnx.custom_op.registry import getCustomOp

    exe, env = verilator
    _, _, model = specialized
    for i, node in enumerate(n for n in model.graph.node if n.op_type == "MVAU_xnor_rtl"):
        op = getCustomOp(node)
        op.set_nodeattr("code_gen_dir_ipgen", str(tmp_path / f"n{i}"))
        op.generate_hdl(model, "xc7z020clg400-1", 10.0)
        files = op.get_rtl_file_list(abspath=True)
        assert all(Path(f).is_file() for f in files)
        text = Path(files[-1]).read_text()
        for port in ("ap_clk", "ap_rst_n", "in0_V_TDATA", "in0_V_TREADY", "out0_V_TDATA",
                     "out0_V_TVALID"):
            assert port in text
        top = op.get_nodeattr("gen_top_module")
        proc = subprocess.run([exe, "--lint-only", "-Wall", "--top-module", top, *files],
                              capture_output=True, text=True, env=env)
        assert proc.returncode == 0 and "%Warning" not in proc.stderr, proc.stderr
        assert op.lut_estimation("xc7z020clg400-1") > 0 and op.get_exp_cycles() > 0
