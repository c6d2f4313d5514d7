#!/usr/bin/env bash
# Check the board bundle against the real PyPI pynq in a separate small venv (no board needed).
#
#   host/check_real_pynq.sh            # venv in build/pynq-venv (kept for the next run)
#   PYNQ_VENV=/tmp/v host/check_real_pynq.sh
#
# pynq 4.0.0 pins numpy<2 (as the board images do), so it cannot live in the project's venv.
# The check: make a real bundle (noisybnn.backends.pynq.bundle, with the vendored injector
# reference), import it where noisybnn is absent, run the packing and register encoding under
# numpy<2, and construct the overlay on this machine, which has no FPGA: that must fail with our
# one-line BoardUnavailableError, from Python and from the command line (exit status 2).
# Exit status: 0 passed, 1 failed, 3 skipped (pip could not install pynq).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
VENV="${PYNQ_VENV:-$REPO/build/pynq-venv}"
PYTHON="${PYTHON:-python3}"
MAIN_PY="${NOISYBNN_PYTHON:-$REPO/.venv/bin/python}"
PYNQ_VERSION="${PYNQ_VERSION:-4.0.0}"

if [ ! -x "$VENV/bin/python" ]; then
  mkdir -p "$(dirname "$VENV")"
  "$PYTHON" -m venv "$VENV"
fi
t0=$(date +%s)
if ! "$VENV/bin/python" -m pip install -q "numpy<2" "pynq==$PYNQ_VERSION" >"$VENV/pip.log" 2>&1; then
  echo "SKIP: pip could not install pynq==$PYNQ_VERSION into $VENV: $(tail -n 1 "$VENV/pip.log")"
  exit 3
fi
echo "venv ready in $(( $(date +%s) - t0 )) s: $("$VENV/bin/python" -c 'import numpy, pynq; print("numpy", numpy.__version__, "pynq", pynq.__version__)' 2>/dev/null)"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# A bitfile/manifest pair that validates (the bitstream content does not matter without a board).
"$MAIN_PY" - "$WORK" <<'PY'
import hashlib, json, sys
from pathlib import Path
from noisybnn.backends.pynq import bundle
work = Path(sys.argv[1])
src = work / "build"; src.mkdir()
bit = src / "check.bit"; bit.write_bytes(b"not a real bitstream")
bit.with_suffix(".hwh").write_text("<hwh/>")
manifest = {
    "schema_version": 1,
    "model": "tfc-w1a1", "checkpoint_sha256": "0" * 64,
    "board": "Pynq-Z2", "platform": "zynq-iodma", "bitfile": bit.name,
    "bitfile_sha256": hashlib.sha256(bit.read_bytes()).hexdigest(), "fclk_mhz": 100.0,
    "io": {"idt": "UINT8", "odt": "INT8",
           "ishape_normal": [1, 784], "ishape_folded": [1, 49, 16], "ishape_packed": [1, 49, 16],
           "oshape_normal": [1, 10], "oshape_folded": [1, 10, 1], "oshape_packed": [1, 10, 1]},
    "num_classes": 10,
    "injectors": [{"layer": 0, "name": "noise_0", "neurons": 64, "pe": 16, "bits": 1,
                   "axilite_base": "0x43C10000"}],
}
(src / "manifest.json").write_text(json.dumps(manifest))
import numpy as np
x = np.random.default_rng(0).integers(0, 256, size=(4, 784), dtype=np.uint8)
bundle(work / "bundle", bit, src / "manifest.json", test_set=(x, np.arange(4)))
PY

cd "$WORK/bundle"
"$VENV/bin/python" -B - <<'PY'
import sys
sys.modules["noisybnn"] = None          # the board has no noisybnn package
sys.path.insert(0, ".")
import numpy as np
import noisybnn_host
from noisybnn_host import BoardUnavailableError, NoisyBNNOverlay, load_manifest, packing
from noisybnn_host import _hwref
from noisybnn_host.overlay import injector_configs

assert _hwref.SOURCE == "noisybnn_host._hw", _hwref.SOURCE
m = load_manifest("manifest.json")
x = np.load("test_images.npy")
f = packing.fold(x, m.io.ishape_folded)
assert np.array_equal(packing.unpack(packing.pack(f, "UINT8"), "UINT8", m.io.ishape_folded), f)
v = np.random.default_rng(1).integers(-64, 64, size=(5, 2, 5))
assert np.array_equal(packing.unpack(packing.pack(v, "INT7"), "INT7", (1, 2, 5)), v)
cfgs = injector_configs({"mode": "flip", "p": 0.01, "seed": 1}, m)
writes = _hwref.registers.encode(cfgs[0])
print(f"import ok under numpy {np.__version__}: injector reference from {_hwref.SOURCE}, "
      f"{len(writes)} register writes for injector 0")
try:
    NoisyBNNOverlay("check.bit", "manifest.json")
except BoardUnavailableError as exc:
    msg = str(exc)
    assert "\n" not in msg, msg
    assert exc.__cause__ is None and (exc.__context__ is None or exc.__suppress_context__)
    print("overlay without a device -> BoardUnavailableError:", msg)
else:
    raise SystemExit("FAIL: constructing the overlay without a device did not raise")
PY

set +e
"$VENV/bin/python" -B -m noisybnn_host --bitfile check.bit --images test_images.npy \
  >"$WORK/out.txt" 2>"$WORK/err.txt"
rc=$?
set -e
lines=$(wc -l <"$WORK/err.txt")
echo "command line: exit $rc, stderr ($lines line): $(cat "$WORK/err.txt")"
if [ "$rc" -ne 2 ] || [ "$lines" -ne 1 ]; then
  echo "FAIL: expected exit status 2 and one line on stderr"
  exit 1
fi
echo "PASS: real pynq $PYNQ_VERSION"
