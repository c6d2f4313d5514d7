"""Design-space exploration: accuracy under noise vs FPGA resources and throughput.

A *design space* is a set of design points (hidden width, depth, weight/activation bits,
noise-aware training eps, folding target FPS, board) and one training recipe. For each point

1. **train** the MLP (or reuse its checkpoint: `runs/explore/<model>@<recipe-key>/`, keyed by
   the model spec and the training config (`cache`), so a point trained once is never trained again and
   an interrupted training resumes from its last epoch);
2. **estimate** it with FINN (`pipeline.compile_model`, estimates only: LUT, BRAM, DSP, FPS,
   fits the board; cached in `build/explore/<board>/<point>@<recipe-key>/`);
3. **measure** its accuracy on the software accelerator, clean and under neuron flips at one
   eps (every injector on), mean and spread over noise seeds;
4. set it beside the theory: the least total number of noisy neurons that any network of that
   depth needs for the point's accuracy at that eps (`theory.min_total_neurons`) and the
   accuracy ceiling of its widths (`theory.accuracy_ceiling`).

    >>> space = load_space("default")                  # 33 points, or "small", or a JSON file
    >>> df = run_explore(space, "results/explore/explore.csv", eps=0.05, seeds=(1, 2))
    >>> df = run_explore(space, "results/explore/explore.csv", workers=2)   # Dask LocalCluster

Rows go into one CSV, keyed by everything that fixes a row and rewritten atomically after each
point (`table.ResultsTable` with `schemas.EXPLORE`), so a killed run restarted with the same
arguments skips the points that are done. On Dask there is one task per point; only the client
writes the table. Training is deterministic given the recipe's seed (one torch thread,
deterministic algorithms), so a serial run, a Dask run and a resumed run give the same table up
to `EXPLORE.volatile`. The summary and the Pareto plot are `report.design`'s (`noisybnn explore`
draws it). See docs/experiments.md.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from noisybnn.experiments.cache import (
    DEFAULT_BUILD_DIR,
    DEFAULT_RUNS_DIR,
    build_cached,
    recipe_dict,
    train_cached,
)
from noisybnn.experiments.errors import ExploreError
from noisybnn.experiments.measure import get_data, label_entropy, measure_accuracy, tune_malloc
from noisybnn.experiments.runner import check_code, run_tasks
from noisybnn.experiments.schemas import EXPLORE
from noisybnn.experiments.space import (
    DesignPoint,
    DesignSpace,
    check_board,
    check_n_images,
    check_prob,
    check_seeds,
    check_workers,
    load_space,
)
from noisybnn.experiments.table import read_frame, read_rows
from noisybnn.fingerprint import (
    canonical_onnx_sha256,
    code_sha256,
    file_sha256,
    git_commit,
    json_sha256,
)
from noisybnn.train import TrainConfig

__all__ = ["EvalConfig", "check_toolchain", "point_key", "read_explore", "run_design_point",
           "run_explore", "validate_explore"]


@dataclass(frozen=True)
class EvalConfig:
    """How each point's accuracy is measured on the software accelerator."""

    #: Flip probability of every hidden neuron bit (all injectors on).
    eps: float = 0.05
    #: Noise seeds; accuracy under noise is their mean.
    seeds: tuple[int, ...] = (1, 2)
    #: The first n images of the test split (set by `validate_explore`; None: all).
    n_images: int | None = None
    #: Accuracy for the theory's neuron count; None: each point's own accuracy under noise.
    theory_target: float | None = None



def point_key(point: DesignPoint, cfg: TrainConfig, ev: EvalConfig, code: str) -> str:
    """16 hex digits over everything that fixes a row (`code`: `code_sha256()`)."""
    return json_sha256({"point": point.key_dict(), "train": recipe_dict(cfg), "code": code,
                 "eps": repr(float(ev.eps)),
                 "seeds": list(ev.seeds), "n_images": ev.n_images,
                 "theory_target": None if ev.theory_target is None
                 else repr(float(ev.theory_target))})[:16]



def read_explore(path: str | os.PathLike):
    """An exploration table as a DataFrame (`table.read_frame` with `schemas.EXPLORE`)."""
    return read_frame(path, EXPLORE)


def _theory(point: DesignPoint, eps: float, target: float, n_classes: int,
            h_y: float) -> tuple[float, float]:
    """(least noisy binary units for `target` at this depth and eps, ceiling of these widths).

    A neuron of a bits is a bits binary units, each flipped independently (one LFSR lane per
    bit), so the binary-neuron theory applies to width * act_bits units per layer. A conv
    layer's width is its units per image, C x H x W (docs/theory.md §11).
    """
    from noisybnn import theory

    target = min(max(float(target), 0.0), 1.0)
    need = float(theory.min_total_neurons(point.noisy_depth, eps, target, n_classes,
                                          label_entropy=h_y))
    ceiling = float(theory.accuracy_ceiling([w * point.act_bits for w in point.noisy_widths],
                                            eps, n_classes, label_entropy=h_y))
    return need, ceiling



def run_design_point(point: DesignPoint, cfg: TrainConfig, ev: EvalConfig, code: str,
                     runs_dir: str | os.PathLike = DEFAULT_RUNS_DIR,
                     build_dir: str | os.PathLike = DEFAULT_BUILD_DIR,
                     loader: Callable | None = None) -> dict:
    """Train (or reuse), estimate and measure one point; return its table row (a Dask task).

    `code` is the client's `code_sha256()`; a worker whose code differs refuses.
    """
    from noisybnn.compile.paths import ESTIMATES, MANIFEST, PYTHON_MODEL

    tune_malloc()  # Dask workers: give the sim its usual malloc behaviour back
    check_code(code)
    t0 = time.perf_counter()
    spec = point.spec()
    trained = train_cached(spec, cfg, runs_dir)
    bdir = build_cached(trained.checkpoint, point, trained.key, build_dir)
    check_code(code)  # the build code did not change while this point was built
    t2 = time.perf_counter()
    est = json.loads((bdir / ESTIMATES).read_text())
    man = json.loads((bdir / MANIFEST).read_text())
    if ev.n_images is None:
        raise ExploreError("EvalConfig.n_images must be set (validate_explore does it)")
    clean, noisy = measure_accuracy(bdir, cfg.dataset, ev.n_images, [ev.eps], ev.seeds, loader)
    t3 = time.perf_counter()
    accs = noisy[float(ev.eps)]
    mean = float(np.mean(accs))
    std = float(np.std(accs, ddof=1)) if len(accs) > 1 else 0.0
    target = mean if ev.theory_target is None else float(ev.theory_target)
    h_y = label_entropy(get_data(cfg.dataset, "test", ev.n_images)[1], spec.num_classes)
    need, ceiling = _theory(point, ev.eps, target, spec.num_classes, h_y)
    total = est["total"]
    avail = est.get("available", {})
    hist = trained.metrics.get("history") or [{}]
    acc_torch = trained.metrics.get("final_test_acc", hist[-1].get("test_acc"))
    return {
        "key": point_key(point, cfg, ev, code), "name": point.name, "model": point.model_name,
        # depth: noisy layers (convs + fc for a CNN point, whose width is its fc width)
        "width": point.width, "depth": point.noisy_depth, "weight_bits": point.weight_bits,
        "act_bits": point.act_bits, "eps_train": point.eps_train,
        "target_fps": point.target_fps, "board": point.board, "dataset": cfg.dataset,
        "epochs": cfg.epochs, "train_limit": cfg.train_limit, "train_seed": cfg.seed,
        "lut": float(total.get("LUT", 0)), "ff": total.get("FF"),
        "bram_18k": float(total.get("BRAM_18K", 0)), "dsp": float(total.get("DSP", 0)),
        "lut_util": float(total.get("LUT", 0)) / avail["LUT"] if avail.get("LUT") else None,
        "fps": float(est["fps"]), "fits": bool(est["fits"]),
        "injector_lut": float(est["injector_LUT"]), "injector_ff": est.get("injector_FF"),
        "injector_lut_share": float(est["injector_LUT_share"]),
        "eps": float(ev.eps), "seeds": ";".join(str(s) for s in ev.seeds),
        "n_images": ev.n_images, "accuracy_clean": clean, "accuracy_under_noise": mean,
        "accuracy_std": std,
        "accuracy_torch": None if acc_torch is None else float(acc_torch) / 100.0,
        "neurons": point.neurons, "noisy_bits": point.neurons * point.act_bits,
        "label_entropy": h_y, "theory_target": target, "theory_min_neurons": need,
        "below_theory_min": bool(point.neurons * point.act_bits < need),
        "theory_ceiling": ceiling,
        "code_sha256": code, "weights_sha256": trained.weights_sha256,
        "twin_sha256": canonical_onnx_sha256(bdir / PYTHON_MODEL),
        "checkpoint_sha256": man["checkpoint_sha256"],
        "build_sha256": man.get("python_model_sha256") or file_sha256(bdir / PYTHON_MODEL),
        "train_seconds": trained.metrics.get("train_seconds"),
        "build_seconds": man.get("build_seconds"),
        "eval_seconds": round(t3 - t2, 3), "seconds": round(t3 - t0, 3),
        "worker": f"{socket.gethostname()}:{os.getpid()}", "git_commit": git_commit(),
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }



def _describe_point(rows: list[dict]) -> str:
    r = rows[0]
    return (f"{r['name']}: LUT {r['lut']:,.0f}, {r['fps']:,.0f} FPS, fits {r['board']}: "
            f"{'yes' if r['fits'] else 'NO'}; accuracy {100 * r['accuracy_clean']:.2f} % clean, "
            f"{100 * r['accuracy_under_noise']:.2f} % at eps={r['eps']:g} ({r['seconds']:.0f} s)")


def _cost(point: DesignPoint) -> int:
    """Rough training cost, for submitting the longest Dask tasks first."""
    if point.arch == "cnn":  # multiply-accumulates per image of the convs, roughly
        return point.neurons * 9 * max(point.channels) * point.weight_bits
    return point.width * (784 + point.width * (point.depth - 1)) * point.weight_bits


def check_toolchain() -> None:
    """The modules FINN estimates need; a clear error before any training starts."""
    import importlib

    for mod, why in (("noisybnn.compile.flow", "the FINN build flow"),
                     ("noisybnn.hw.rtl_cost", "the injector cost model used by the estimates")):
        try:
            importlib.import_module(mod)
        except ImportError as exc:
            raise ExploreError(f"cannot import {mod} ({why}): {exc}; the exploration needs FINN "
                               "estimates (pip install -e '.[finn]')") from None


def validate_explore(space, eps: float = 0.05, seeds=(1, 2), n_images: int | None = None,
                     theory_target: float | None = None, board: str = "pynq-z2",
                     workers: int = 0, scheduler: str | None = None) -> tuple[DesignSpace,
                                                                              EvalConfig]:
    """Check everything before any work: space, eps, seeds, images, boards, data set, tools.

    Returns the space and the evaluation config (n_images resolved to a number).
    """
    eps = check_prob(eps, "eps")
    if theory_target is not None:
        theory_target = check_prob(theory_target, "theory_target")
    seeds = check_seeds(seeds)
    check_workers(workers, scheduler)
    check_board(board)
    space = load_space(space, board)
    for b in sorted({p.board for p in space.points}):
        check_board(b, f"design space {space.name!r}: ")
    n = check_n_images(space.train.dataset, n_images)
    check_toolchain()
    return space, EvalConfig(eps=eps, seeds=seeds, n_images=n, theory_target=theory_target)


def run_explore(
    space: str | os.PathLike | dict | DesignSpace,
    out_csv: str | os.PathLike,
    eps: float = 0.05,
    seeds: int | Sequence[int] = (1, 2),
    n_images: int | None = None,
    *,
    board: str = "pynq-z2",
    theory_target: float | None = None,
    workers: int = 0,
    scheduler: str | None = None,
    runs_dir: str | os.PathLike = DEFAULT_RUNS_DIR,
    build_dir: str | os.PathLike = DEFAULT_BUILD_DIR,
    progress: bool = True,
    loader: Callable | None = None,
):
    """Explore a design space; return its rows (done now or before) as a DataFrame.

    Args:
        space: built-in name ("default", "small"), JSON file, dict or DesignSpace.
        out_csv: results table; created, or extended with the points not yet in it.
        eps: flip probability at which accuracy under noise is measured.
        seeds: noise seeds (or their number N: seeds 1..N).
        n_images: first n test images (None or 0: all).
        board: board of points that do not name one.
        theory_target: accuracy for the theory's least neuron count; None: the point's own.
        workers: 0 runs here; N > 0 on a Dask LocalCluster of N processes (one task per point).
        scheduler: address of a running Dask scheduler (overrides `workers`); its workers must
            see the same runs/build directories and data cache.
        runs_dir, build_dir: caches of checkpoints and FINN builds.
        progress: progress bar and one line per finished point.
        loader: `loader(backend, build_dir)` for the sim (tests); default backends.load.

    Raises:
        ExploreError: bad space, eps, seeds, board, table; raised before anything is written.
    """
    space, ev = validate_explore(space, eps, seeds, n_images, theory_target, board, workers,
                                 scheduler)
    out_csv = Path(out_csv)
    read_rows(out_csv, EXPLORE)  # another schema fails here, before any work
    cfg = space.train
    points = sorted(space.points, key=_cost, reverse=bool(workers or scheduler))
    code = code_sha256()
    tasks = [(point_key(p, cfg, ev, code), run_design_point,
              (p, cfg, ev, code, str(runs_dir), str(build_dir), loader)) for p in points]
    run_tasks(tasks, out_csv, EXPLORE, workers, scheduler, progress,
              desc=f"explore -> {out_csv.name}", describe=_describe_point)
    df = read_explore(out_csv)
    keys = [t[0] for t in tasks]
    df = df[df["key"].isin(keys)].reset_index(drop=True)
    return df

