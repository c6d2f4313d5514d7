"""The bundle against the real PyPI pynq (numpy<2) in its own venv: host/check_real_pynq.sh."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "host" / "check_real_pynq.sh"


@pytest.mark.slow
def test_bundle_imports_and_fails_cleanly_with_real_pynq():
    proc = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=900)
    if proc.returncode == 3:
        pytest.skip(proc.stdout.strip().splitlines()[-1])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PASS: real pynq" in proc.stdout
