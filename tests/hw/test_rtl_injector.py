"""RTL noise injector (hls/rtl) against the Python reference, in Verilator via cocotb.

* lint: `verilator --lint-only -Wall` on both RTL files, several parameter sets, 0 warnings;
* bit-exactness: >= 100,000 beats over PE in {1, 4, 16, 64} x BITS in {1, 2}, all modes,
  thresholds {0, 1, 655, 6554, 32768, 65536}, several seeds (incl. seed words 0 and all ones), masks,
  random valid/ready stalls on both sides, counters, mid-run reseed, threshold loads and mask
  writes through the core's write port (cocotb_injector.py);
* II = 1: N beats without stalls take N + 1 cycles;
* AXI-Lite: the register file, written through the bus with `registers.encode` (cocotb_axil.py).

The simulation model is built once per design and cached under build/sim/.
"""

from __future__ import annotations

import json

import pytest
from _rtl_harness import TOP, CoreShape, shapes_to_env, write_harness
from _verilator import AXIL_V, BUILD_ROOT, CORE_V, build, lint

# PE x BITS, every pair; NEURONS gives NF = 1..5 folds, some not a power of two (flip-flop masks);
# the last two fold 64 times with the mask in LUTRAM (the core's choice by size), one with the
# LUT compare (2 lanes), one with the RAM32M compare and PE = 3 (PE2 = 4: a mask word holds 8
# folds of 3 neurons and one empty bit each); two more force the LUTRAM mask: PE 5 x NF 8 (4
# folds a word, 5 of every 8 bits used) and PE 48 x NF 3 (PE2 = 64: two words a fold, the second
# half-used)
SHAPES = [
    CoreShape(1, 1, 5),
    CoreShape(1, 2, 3),
    CoreShape(4, 1, 12),
    CoreShape(4, 2, 4),
    CoreShape(16, 1, 48),
    CoreShape(16, 2, 32),
    CoreShape(64, 1, 128),
    CoreShape(64, 2, 320),
    CoreShape(2, 1, 128),
    CoreShape(3, 2, 192),
    CoreShape(5, 1, 40, mask_lutram=1),
    CoreShape(48, 1, 144, mask_lutram=1),
]
#: The AXI-Lite wrapped core: 5 lanes, so the byte-padded stream has 3 pad bits; 2 mask words.
AXIL_SHAPE = CoreShape(5, 1, 40)


def _run(module: str, testcases: list[str], runner, top: str, env: dict, tmp_path) -> list[dict]:
    summary = tmp_path / "summary.json"
    env = {**env, "NB_SUMMARY": str(summary)}
    try:
        runner.test(
            test_module=module,
            hdl_toplevel=top,
            hdl_toplevel_lang="verilog",
            testcase=testcases,
            test_dir=str(tmp_path),
            extra_env=env,
        )
    except SystemExit as exc:  # cocotb's runner exits when a cocotb test fails
        pytest.fail(f"cocotb tests {testcases} failed (exit {exc.code}); the simulation log "
                    f"above has the assertion; results in {tmp_path}", pytrace=False)
    return json.loads(summary.read_text()) if summary.exists() else []


@pytest.mark.rtl
@pytest.mark.parametrize(
    "params",
    [
        {"PE": 1, "BITS": 1, "NEURONS": 1},
        {"PE": 1, "BITS": 1, "NEURONS": 5},
        {"PE": 4, "BITS": 2, "NEURONS": 12},
        {"PE": 3, "BITS": 3, "NEURONS": 99},
        {"PE": 64, "BITS": 2, "NEURONS": 128},
        {"PE": 16, "BITS": 1, "NEURONS": 64, "COUNTERS": 0},
        {"PE": 5, "BITS": 1, "NEURONS": 40, "MASK_LUTRAM": 1},
        {"PE": 48, "BITS": 1, "NEURONS": 144, "MASK_LUTRAM": 1},
    ],
    ids=lambda p: "-".join(f"{k}{v}" for k, v in p.items()),
)
@pytest.mark.parametrize("top", ["noise_injector_core", "noise_injector_axil"])
def test_lint_clean(top, params):
    sources = [CORE_V] if top == "noise_injector_core" else [AXIL_V, CORE_V]
    res = lint(sources, top, params)
    warnings = [ln for ln in (res.stdout + res.stderr).splitlines() if ln.startswith("%")]
    assert res.returncode == 0 and not warnings, "\n".join(warnings)


def _core_runner(axil: CoreShape = AXIL_SHAPE):
    tag = "" if axil == AXIL_SHAPE else f"-m{axil.mask_lutram}"
    harness = write_harness(SHAPES, axil, BUILD_ROOT / f"gen{tag}")
    return build(f"harness{tag}", [harness, AXIL_V, CORE_V], TOP)


def _bit_exact(tmp_path, beats: int, seed: int) -> list[dict]:
    runner = _core_runner()
    env = {"NB_CORES": shapes_to_env(SHAPES), "NB_BEATS": str(beats), "NB_SEED": str(seed)}
    return _run("cocotb_injector", ["random_stalls_bit_exact", "throughput_ii1"], runner, TOP,
                env, tmp_path)


def _report(results: list[dict]) -> None:
    for r in results:
        if r["test"] == "random_stalls_bit_exact":
            total = sum(c["beats_compared"] for c in r["cores"])
            bad = sum(c["mismatches"] + c["extra_beats"] + c["counter_errors"] for c in r["cores"])
            print(f"\nRTL bit-exact: {total} beats compared over {len(r['cores'])} shapes in "
                  f"{r['cycles']} cycles, {bad} mismatches/counter errors")
            assert bad == 0


@pytest.mark.rtl
def test_rtl_bit_exact_and_ii1(tmp_path):
    results = _bit_exact(tmp_path, beats=104_000, seed=1234)
    names = {r["test"] for r in results}
    assert names == {"random_stalls_bit_exact", "throughput_ii1"}
    rs = next(r for r in results if r["test"] == "random_stalls_bit_exact")
    assert sum(c["beats_compared"] for c in rs["cores"]) >= 100_000
    _report(results)


@pytest.mark.rtl
# the LUTRAM-forced variant builds a second Verilator harness (~1-2 min): slow
@pytest.mark.parametrize("mask_lutram", [-1, pytest.param(1, marks=pytest.mark.slow)],
                         ids=["mask-by-size", "mask-lutram"])
def test_rtl_axil(tmp_path, mask_lutram):
    s = CoreShape(AXIL_SHAPE.pe, AXIL_SHAPE.bits, AXIL_SHAPE.neurons, mask_lutram)
    runner = _core_runner(s)
    env = {"NB_AXIL": f"{s.pe},{s.bits},{s.neurons},{s.mask_lutram}", "NB_SEED": "1234"}
    results = _run("cocotb_axil", ["axil_registers_and_stream"], runner, TOP, env, tmp_path)
    assert [r["test"] for r in results] == ["axil_registers_and_stream"]
    print(f"\nAXI-Lite: {results[0]['beats']} beats bit-exact")


@pytest.mark.rtl
@pytest.mark.slow
@pytest.mark.parametrize("seed", [7, 2024])
def test_rtl_bit_exact_long(tmp_path, seed):
    results = _bit_exact(tmp_path, beats=1_000_000, seed=seed)
    rs = next(r for r in results if r["test"] == "random_stalls_bit_exact")
    assert sum(c["beats_compared"] for c in rs["cores"]) >= 1_000_000
    _report(results)
