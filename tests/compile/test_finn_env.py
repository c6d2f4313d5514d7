"""FINN prepared as its entry point prepares it, our ops registered through qonnx's registry; what
a hardware build lacks is named in one line."""

import os
import subprocess
import sys

CODE = """
import os
from noisybnn.compile.finn_env import prepare_finn, prepare_hardware
from noisybnn.errors import ToolMissingError
prepare_finn()
from finn.util.settings import get_settings
s = get_settings()
print(os.environ['FINN_RTLLIB'] == s.finn_rtllib, os.path.isdir(os.environ['FINN_RTLLIB']),
      os.path.isdir(os.environ['FINN_CUSTOM_HLS']), s.finn_deps, os.environ['FINN_BUILD_DIR'])
from noisybnn.compile.registry import OPS
from qonnx.custom_op import registry
import finn.custom_op.fpgadataflow.rtl as rtl
print("ops", all(ref.split(':')[1] in registry._OP_REGISTRY[d] for d, ref in OPS),
      'NoiseInjector_rtl' in rtl.custom_op)
try:
    prepare_hardware('Pynq-Z2', alveo=False, fetch=False)
except ToolMissingError as exc:
    print(exc)
"""


def test_prepare_and_missing_dependencies(tmp_path):
    env = {**os.environ, "FINN_DEPS": str(tmp_path / "deps"), "FINN_BUILD_DIR": str(tmp_path / "b")}
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=300,
                         env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()  # FINN's own warnings (tools not found) come in between
    first = next(line for line in lines if line.startswith("True"))
    msg = next(line for line in lines if line.startswith("a hardware build"))
    # our ops are in qonnx's registry; FINN's own op dicts are not edited
    assert next(line for line in lines if line.startswith("ops ")) == "ops True False"
    assert first.split() == ["True", "True", "True", str(tmp_path / "deps"), str(tmp_path / "b")]
    assert msg.startswith("a hardware build needs finn-hlslib")
    assert "attention-hlslib" in msg and "board files" in msg and "FINN_DEPS" in msg
