"""Stage glue: checkpoint -> QONNX -> FINN build (estimates | bitstream) -> manifest and summary.

Each stage reads the previous stage's artifact from disk and is skipped when its output exists
for the same inputs (a hash of checkpoint and config), so a flow resumes where it stopped.
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from noisybnn.compile.paths import ESTIMATES, MANIFEST, PYTHON_MODEL
from noisybnn.fingerprint import code_sha256, file_sha256, json_sha256
from noisybnn.resources import work_dir

#: Builds go to bitstreams/<board>/<model>/ of the checkout (~/.cache/noisybnn/bitstreams when
#: installed from a wheel).
DEFAULT_OUT = work_dir("bitstreams")


def _atomic_json(path: Path, obj) -> None:
    from noisybnn.outputs import atomic_write

    text = json.dumps(obj, indent=2, default=str)
    atomic_write(path, lambda tmp: tmp.write_text(text), tmp=path.with_name(path.name + ".tmp"))


def build_dir_for(model_name: str, board: str, tag: str = "", out_root: str | Path | None = None) -> Path:
    root = Path(out_root) if out_root else DEFAULT_OUT
    return root / board / (model_name + (f"@{tag}" if tag else ""))


def compile_model(
    model: str,
    board: str = "pynq-z2",
    target_fps: int = 100_000,
    folding_file: str | None = None,
    noise_layers: list[int] | None = None,
    estimates_only: bool = True,
    out_dir: str | Path | None = None,
    tag: str = "",
    golden_images: int = 4,
    force: bool = False,
) -> Path:
    """Compile a checkpoint (shipped name or .pt path) for `board`; return the build directory.

    Writes in the build directory: model.onnx (QONNX), FINN's outputs, dataflow_python.onnx
    (the executable twin), estimates.json (summary) and manifest.json (provenance).
    """
    from noisybnn.buildlock import build_lock
    from noisybnn.compile import flow, targets
    from noisybnn.outputs import check_output_dir
    from noisybnn.train import load_checkpoint
    from noisybnn.validation import check_folding_file, check_noise_layers, check_target_fps
    from noisybnn.zoo import resolve

    ckpt = resolve(model)
    target = targets.load_target(board)
    target_fps = check_target_fps(target_fps)  # checked before FINN runs: one line, no build
    if folding_file is not None:
        check_folding_file(targets.resolve_folding(folding_file))
    net, payload = load_checkpoint(ckpt)
    name = payload["spec"]["name"]
    noise_layers = check_noise_layers(noise_layers, len(net.noise_layers), name)
    bdir = Path(out_dir) if out_dir else build_dir_for(name, board, tag)
    check_output_dir(bdir, "--out")
    cfg = flow.CompileConfig(board=board, output_dir=str(bdir), target_fps=target_fps,
                             folding_file=folding_file, noise_layers=noise_layers,
                             estimates_only=estimates_only)
    key = {"checkpoint_sha256": file_sha256(ckpt), "config": asdict(cfg), "code": code_sha256()}
    key_hash = json_sha256(key)[:16]
    if not force and _up_to_date(bdir, key_hash):
        return bdir
    # one build per directory at a time; who waited finds the other's build and reuses it
    with build_lock(bdir):
        if not force and _up_to_date(bdir, key_hash):
            return bdir
        return _build_locked(net, payload, ckpt, name, bdir, cfg, key, key_hash, target,
                             golden_images, estimates_only)


def _up_to_date(bdir: Path, key_hash: str) -> bool:
    manifest_path = bdir / MANIFEST
    if not (manifest_path.is_file() and (bdir / PYTHON_MODEL).is_file()):
        return False
    try:
        old = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        return False  # unreadable: rebuilt
    return isinstance(old, dict) and old.get("build_key") == key_hash


def _build_locked(net, payload, ckpt, name, bdir, cfg, key, key_hash, target, golden_images,
                  estimates_only) -> Path:
    """The build proper, under the directory's lock."""
    from noisybnn import data
    from noisybnn.compile import flow, targets
    from noisybnn.export import export_qonnx
    from noisybnn.keys import build_digest
    from noisybnn.train import checkpoint_dataset, images_to_tensor

    manifest_path = bdir / MANIFEST
    bdir.mkdir(parents=True, exist_ok=True)
    manifest_path.unlink(missing_ok=True)  # a rebuild cut short is never taken as up to date
    onnx_path = export_qonnx(net, bdir / "model.onnx")
    golden = None
    if golden_images:
        imgs, _ = data.load(checkpoint_dataset(payload, ckpt), "test")
        x = imgs[:golden_images]
        import torch

        with torch.no_grad():
            ref = net.integer_logits(images_to_tensor(x)).numpy()
        # FINN verifies one sample per file: the first one (its golden I/O is batch 1).
        np.save(bdir / "golden_input.npy", x[:1].reshape(1, 1, 28, 28).astype(np.float32))
        np.save(bdir / "golden_output.npy", ref[:1].astype(np.float32))
        golden = (str(bdir / "golden_input.npy"), str(bdir / "golden_output.npy"))
    t0 = time.time()
    flow.build(onnx_path, cfg, golden=golden)
    if cfg.folding_file:  # FINN ignores unknown node names with a warning: refuse them here
        from noisybnn.validation import check_folding_applied

        check_folding_applied(targets.resolve_folding(cfg.folding_file),
                              bdir / "intermediate_models" / "step_apply_folding_config.onnx")
    summary = summarize_estimates(bdir, target)
    _atomic_json(bdir / ESTIMATES, summary)
    manifest = {
        "model": name,
        "checkpoint": str(ckpt),
        "checkpoint_sha256": key["checkpoint_sha256"],
        "model_onnx_sha256": file_sha256(onnx_path),
        "python_model_sha256": file_sha256(bdir / PYTHON_MODEL),
        "build_digest": build_digest(bdir / PYTHON_MODEL),
        "board": cfg.board,
        "fpga_part": target["fpga_part"],
        "compile_config": asdict(cfg),
        "build_key": key_hash,
        "build_seconds": round(time.time() - t0, 1),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "tools": _tool_versions(),
        "injectors": summary["injectors"],
        "num_classes": payload["spec"]["num_classes"],
        "bitfile": None,
    }
    _atomic_json(manifest_path, manifest)
    if not estimates_only:
        finish_hardware_build(bdir, target)
    return bdir


def finish_hardware_build(build_dir: Path, target: dict) -> Path:
    """After FINN's bitfile steps (see noisybnn.compile.hardware)."""
    from noisybnn.compile.hardware import finish_hardware_build as finish

    return finish(build_dir, target)


def _tool_versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(),
           "vivado": os.environ.get("XILINX_VIVADO") or "not installed"}
    for pkg in ("finn-plus", "qonnx", "brevitas", "torch", "onnx", "numpy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


def summarize_estimates(build_dir: str | Path, target: dict) -> dict:
    """Per-layer and total resources, the injectors' share, cycles and FPS, fit on the board."""
    import onnx
    from onnx import helper

    bdir = Path(build_dir)
    report = bdir / "report"
    layers = json.loads((report / "estimate_layer_resources.json").read_text())
    perf = json.loads((report / "estimate_network_performance.json").read_text())
    cycles = json.loads((report / "estimate_layer_cycles.json").read_text())
    total = layers.pop("total")
    inj = {k: v for k, v in layers.items() if k.startswith("NoiseInjector")}
    inj_lut = sum(v["LUT"] for v in inj.values())
    twin = onnx.load(str(bdir / PYTHON_MODEL))
    injectors = []
    for node in twin.graph.node:
        if node.op_type == "NoiseInjector":
            a = {x.name: helper.get_attribute_value(x) for x in node.attribute}
            injectors.append({"layer": a.get("layer_index", 0), "name": node.name,
                              "neurons": a["NumChannels"], "pe": a["PE"],
                              "dtype": a["dataType"].decode()})
    from noisybnn.hw.rtl_cost import estimate_resources

    inj_ff = sum(estimate_resources(pe=i["pe"], bits=1 if i["dtype"] in ("BINARY", "BIPOLAR")
                                    else int("".join(c for c in i["dtype"] if c.isdigit())),
                                    neurons=i["neurons"], with_axilite=True)["FF"]
                 for i in injectors)
    avail = target.get("resources", {})
    fits = all(total.get(k, 0) <= avail[k] for k in ("LUT", "BRAM_18K", "DSP") if k in avail)
    return {
        "board": target["board"],
        "fpga_part": target["fpga_part"],
        "clock_ns": target["synth_clk_period_ns"],
        "layers": layers,
        "layer_cycles": cycles,
        "total": total,
        "injector_LUT": inj_lut,
        "injector_FF": inj_ff,
        "injector_LUT_share": inj_lut / total["LUT"] if total["LUT"] else 0.0,
        "fps": perf["estimated_throughput_fps"],
        "max_cycles": perf["max_cycles"],
        "max_cycles_node": perf["max_cycles_node_name"],
        "latency_ns": perf["estimated_latency_ns"],
        "available": avail,
        "fits": fits,
        "utilization": {k: total.get(k, 0) / avail[k] for k in avail if k in total},
        "injectors": injectors,
    }


def format_estimates(summary: dict) -> str:
    """A readable table of a build's estimates."""
    lines = [f"{'layer':28s} {'LUT':>8s} {'BRAM18':>7s} {'DSP':>5s} {'cycles':>9s}"]
    for name, res in summary["layers"].items():
        lines.append(f"{name:28s} {res['LUT']:8.0f} {res['BRAM_18K']:7.1f} {res['DSP']:5.0f} "
                     f"{summary['layer_cycles'].get(name, 0):9d}")
    t = summary["total"]
    lines.append(f"{'total':28s} {t['LUT']:8.0f} {t['BRAM_18K']:7.1f} {t['DSP']:5.0f}")
    lines.append(
        f"injectors: {summary['injector_LUT']:.0f} LUT ({100 * summary['injector_LUT_share']:.2f} % "
        f"of the design), ~{summary['injector_FF']} FF; estimated {summary['fps']:,.0f} FPS at "
        f"{1000 / summary['clock_ns']:.0f} MHz; fits {summary['board']}: "
        f"{'yes' if summary['fits'] else 'NO'} "
        f"(LUT {100 * summary['utilization'].get('LUT', 0):.1f} %, "
        f"BRAM {100 * summary['utilization'].get('BRAM_18K', 0):.1f} %)"
    )
    return "\n".join(lines)
