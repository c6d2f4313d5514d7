"""HLS C++ noise injector (hls/noise_injector.hpp) against the Python reference, compiled with g++.

The kernel is built with the stand-in headers of hls/compat/ and driven by hls/tb/; every output
beat and both counters must equal `inject_stream`. A Vitis HLS synthesis run (marker `vivado`)
is skipped where `vitis_hls` is not on PATH.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from noisybnn.hw.injector import InjectorConfig, Mode, inject_stream, seed_word, unsplitmix64
from noisybnn.resources import hls_dir

REPO = Path(__file__).resolve().parents[2]
HLS = hls_dir()
BUILD = REPO / "build" / "hls_tb"

# (PE, BITS, NEURONS): PE in {1, 2, 16, 64} x BITS in {1, 2}
SHAPES = [(1, 1, 7), (1, 2, 3), (2, 1, 10), (2, 2, 4), (16, 1, 48), (16, 2, 16),
          (64, 1, 192), (64, 2, 64)]
THRESHOLDS = (0, 1, 655, 6554, 32768, 65536)
BEATS_PER_SEGMENT = 400


@pytest.fixture(scope="module")
def tb_binary() -> Path:
    cxx = shutil.which("g++")
    if cxx is None:
        pytest.skip("g++ not found: install a C++ compiler (Debian: apt-get install g++)")
    sources = [HLS / "noise_injector.hpp", HLS / "tb" / "tb_noise_injector.cpp",
               HLS / "compat" / "ap_int.h", HLS / "compat" / "hls_stream.h"]
    shapes = " ".join(f"X({p},{b},{n})" for p, b, n in SHAPES)
    digest = hashlib.sha256(b"".join(s.read_bytes() for s in sources) + shapes.encode())
    exe = BUILD / f"tb_noise_injector_{digest.hexdigest()[:12]}"
    if not exe.exists():
        BUILD.mkdir(parents=True, exist_ok=True)
        cmd = [cxx, "-std=c++11", "-O1", "-Wall", "-Wextra", "-Werror", "-Wno-unknown-pragmas",
               "-Wno-unused-label", f"-I{HLS / 'compat'}", f"-I{HLS}", f"-DNB_SHAPES={shapes}",
               str(HLS / "tb" / "tb_noise_injector.cpp"), "-o", str(exe) + ".tmp"]
        res = subprocess.run(cmd, capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
        Path(str(exe) + ".tmp").rename(exe)
    return exe


def _segments(pe: int, bits: int, neurons: int, rng: np.random.Generator):
    """(cfg, reseed, codes) covering all modes, thresholds, masks and special seeds."""
    plan = [(Mode.FLIP, t, int(rng.integers(1 << 62)), None, True) for t in THRESHOLDS]
    mask = tuple(bool(b) for b in rng.integers(0, 2, neurons))
    plan += [
        (Mode.FLIP, 32768, unsplitmix64(0), None, True),  # seed word 0
        (Mode.FLIP, 32768, unsplitmix64((1 << 64) - 1), None, True),  # seed word all ones
        (Mode.FLIP, 6554, 0, mask, True),
        (Mode.FLIP, 655, (1 << 64) - 1, mask, True),
        (Mode.STUCK0, 0, 3, mask, True),
        (Mode.STUCK1, 0, 4, mask, True),
        (Mode.OFF, 65536, 5, None, True),
        # continue one run through every mode without reseed
        (Mode.FLIP, 6554, 77, mask, True),
        (Mode.OFF, 6554, 77, mask, False),
        (Mode.STUCK1, 6554, 77, mask, False),
        (Mode.FLIP, 32768, 77, None, False),
        (Mode.STUCK0, 6554, 77, mask, False),
        (Mode.FLIP, 6554, 77, mask, False),
    ]
    for mode, thr, seed, m, reseed in plan:
        cfg = InjectorConfig(neurons=neurons, pe=pe, bits=bits, mode=mode, threshold=thr,
                             seed=seed, fault_mask=m)
        n = BEATS_PER_SEGMENT + int(rng.integers(neurons // pe))  # end mid-vector
        yield cfg, reseed, rng.integers(0, 1 << bits, size=(n, pe))


def _pack_hex(codes: np.ndarray, bits: int) -> list[str]:
    """Beats as fixed-width hex (what the testbench prints), PE 0 in the least significant bits."""
    digits = (codes.shape[1] * bits + 3) // 4
    out = []
    for row in codes:
        v = 0
        for i, c in enumerate(row):
            v |= int(c) << (i * bits)
        out.append(format(v, f"0{digits}x"))
    return out


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"pe{s[0]}-bits{s[1]}-n{s[2]}")
def test_hls_cpp_bit_exact(tb_binary, tmp_path, shape):
    pe, bits, neurons = shape
    rng = np.random.default_rng([1234, pe, bits])
    lines = [f"shape {pe} {bits} {neurons}"]
    expected = []
    beat = run_changed = run_threshold = 0
    for cfg, reseed, codes in _segments(pe, bits, neurons, rng):
        beat = 0 if reseed else beat
        # the threshold is taken at a reseed (as the RTL's compare tables): a new one mid-run is
        # passed to the kernel and must be ignored until the next reseed
        run_threshold = cfg.threshold if reseed else run_threshold
        out, changed = inject_stream(replace(cfg, threshold=run_threshold), codes,
                                     start_beat=beat)
        beat += len(codes)
        run_changed = changed if reseed else run_changed + changed
        mask = sum(1 << i for i, b in enumerate(cfg.mask_array()) if b)
        lines.append(f"segment {int(cfg.mode)} {cfg.threshold} {seed_word(cfg.seed):x} {int(reseed)} "
                     f"{len(codes)} mask {mask:x}")
        lines += _pack_hex(codes, bits)
        expected += _pack_hex(out, bits)
        expected.append(f"counters {beat} {run_changed}")
    (tmp_path / "in.txt").write_text("\n".join(lines) + "\n")
    res = subprocess.run([str(tb_binary), str(tmp_path / "in.txt"), str(tmp_path / "out.txt")],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    got = (tmp_path / "out.txt").read_text().split("\n")[:-1]
    assert len(got) == len(expected)
    bad = [i for i, (g, e) in enumerate(zip(got, expected, strict=True)) if g != e]
    assert not bad, f"{len(bad)} of {len(got)} lines differ, first at {bad[0]}: " \
                    f"got {got[bad[0]]!r}, expected {expected[bad[0]]!r}"


def test_hls_tb_rejects_unknown_shape(tb_binary, tmp_path):
    (tmp_path / "in.txt").write_text("shape 3 3 9\n")
    res = subprocess.run([str(tb_binary), str(tmp_path / "in.txt"), str(tmp_path / "o.txt")],
                         capture_output=True, text=True)
    assert res.returncode == 2 and "not compiled in" in res.stderr


@pytest.mark.vivado
def test_vitis_hls_synthesis(tmp_path):
    """C synthesis with Vitis HLS: II = 1 must be met (reads the csynth report)."""
    vitis = shutil.which("vitis_hls")
    if vitis is None:
        pytest.skip("vitis_hls not on PATH (source Vitis' settings64.sh)")
    res = subprocess.run([vitis, "-f", str(HLS / "vitis_hls.tcl")], cwd=tmp_path,
                         capture_output=True, text=True, timeout=3600)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:]
    reports = list(tmp_path.rglob("csynth.rpt"))
    assert reports, "no csynth.rpt written"
    text = reports[0].read_text()
    assert "beats_loop" in text
