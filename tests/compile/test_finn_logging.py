"""FINN's builder takes over the root logger (basicConfig(force=True) on the build's log file) and
the standard streams; after a build, later log lines of the process must not land in that log."""

from __future__ import annotations

import logging
import sys

from noisybnn.compile.flow import _finn_side_effects_undone


def test_later_log_lines_stay_out_of_the_build_log(tmp_path):
    log_file = tmp_path / "build_dataflow.log"
    root = logging.getLogger()
    before = (list(root.handlers), root.level, sys.stdout, sys.stderr)
    with open(tmp_path / "other.txt", "w") as other, _finn_side_effects_undone():
        # what FINN's setup_logging does
        logging.basicConfig(level=logging.INFO, filename=log_file, filemode="w", force=True)
        logging.captureWarnings(True)
        sys.stdout = sys.stderr = other
        logging.getLogger("build_dataflow").info("inside the build")
    size = log_file.stat().st_size
    assert "inside the build" in log_file.read_text()
    logging.getLogger("noisybnn.data").warning("after the build")
    assert log_file.stat().st_size == size
    assert (list(root.handlers), root.level, sys.stdout, sys.stderr) == before
