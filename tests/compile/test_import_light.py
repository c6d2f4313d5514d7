"""Reading a target or a build costs no FINN import (FINN is loaded when a build starts)."""

import subprocess
import sys

LIGHT = ["noisybnn.compile", "noisybnn.compile.targets", "noisybnn.compile.paths",
         "noisybnn.compile.addresses", "noisybnn.compile.flow", "noisybnn.compile.dry_run",
         "noisybnn.compile.paths"]


def test_no_finn_module_imported():
    code = (f"import sys, {', '.join(LIGHT)}; from noisybnn.compile.targets import load_target; "
            "load_target('pynq-z2'); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('finn', 'qonnx', 'onnx')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
