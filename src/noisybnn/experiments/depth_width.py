"""Depth-width experiment (issue 7): the least width that keeps an accuracy under noise, per depth.

Our own MLPs (784-[width]*depth-10, w1a1, the exploration's training recipe, so a model the
exploration trained is reused and never trained twice) run on the software accelerator with an
injector after every hidden layer, at several flip probabilities eps and noise seeds. For each
eps, target accuracy and depth, the *measured minimal width* is the smallest width of the grid
whose mean accuracy reaches the target; the theory gives a *necessary* width
(`theory.min_width(depth, eps, target, n_classes)`): no network of that depth with fewer neurons
per layer can reach the target, whatever its weights. So every measured minimal width must lie
on or above the theory's: one below it is a bug in the theory, the accelerator or the
measurement, and is reported as such.

    >>> res = run_depth_width("results/depth_width", widths=(4, 8, 16), depths=(1, 2),
    ...                       eps=(0.05, 0.2), targets=(0.9, 0.8), seeds=(1, 2, 3))
    >>> res.min_width      # eps, target, depth, measured_min_width, theory_min_width, ok, ...
    >>> res.violations     # [] when every measured width respects the bound

Outputs in `out_dir`: `depth_width.csv` (one row per model and eps; keyed, resumable like the
exploration table) and `min_width.csv` (derived, rewritten each run); the plot and the text
table are `report.depth_width`'s.
Command line: ``noisybnn depth-width --help``.
"""

from __future__ import annotations

import math
import os
import socket
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
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
from noisybnn.experiments.explore import check_toolchain
from noisybnn.experiments.measure import get_data, label_entropy, measure_accuracy, tune_malloc
from noisybnn.experiments.runner import check_code, run_tasks
from noisybnn.experiments.schemas import DEPTH_WIDTH
from noisybnn.experiments.space import (
    DEFAULT_RECIPE,
    DesignPoint,
    check_board,
    check_n_images,
    check_prob,
    check_seeds,
    check_workers,
)
from noisybnn.experiments.table import read_frame, read_rows
from noisybnn.fingerprint import canonical_onnx_sha256, code_sha256, git_commit, json_sha256
from noisybnn.train import TrainConfig

__all__ = ["COLUMNS", "DEFAULT_DEPTHS", "DEFAULT_EPS", "DEFAULT_TARGETS", "DEFAULT_WIDTHS",
           "MIN_WIDTH_COLUMNS", "VOLATILE_COLUMNS", "DepthWidthResult", "main",
           "min_width_table",
           "run_depth_width", "run_model", "violations"]

DEFAULT_WIDTHS = (4, 8, 16, 32, 64, 128, 256)
DEFAULT_DEPTHS = (1, 2, 3, 4, 6)
DEFAULT_EPS = (0.01, 0.05, 0.1, 0.2, 0.45)
DEFAULT_TARGETS = (0.9, 0.8)

#: Columns of depth_width.csv (one row per model and eps): see `schemas.DEPTH_WIDTH`.
COLUMNS = DEPTH_WIDTH.columns
VOLATILE_COLUMNS = DEPTH_WIDTH.volatile
#: Columns of min_width.csv.
MIN_WIDTH_COLUMNS = ("eps", "target", "depth", "measured_min_width", "accuracy_at_min",
                     "best_accuracy", "widths_tested", "theory_min_width", "ok")


def _row_key(point: DesignPoint, cfg: TrainConfig, eps: float, seeds: Sequence[int],
             n_images: int, code: str) -> str:
    return json_sha256({"experiment": "depth_width", "code": code, "point": {
        "width": point.width, "depth": point.depth, "weight_bits": point.weight_bits,
        "act_bits": point.act_bits, "eps_train": point.eps_train,
        "target_fps": point.target_fps, "board": point.board},
        "train": recipe_dict(cfg), "eps": repr(float(eps)), "seeds": list(seeds),
        "n_images": n_images})[:16]


def run_model(point: DesignPoint, cfg: TrainConfig, eps_values: Sequence[float],
              seeds: Sequence[int], n_images: int, code: str,
              runs_dir: str = str(DEFAULT_RUNS_DIR), build_dir: str = str(DEFAULT_BUILD_DIR),
              loader: Callable | None = None) -> list[dict]:
    """Train (or reuse), build (or reuse) and measure one model at every eps: its rows (a task)."""
    from noisybnn import theory
    from noisybnn.compile.paths import PYTHON_MODEL

    tune_malloc()
    check_code(code)
    t0 = time.perf_counter()
    spec = point.spec()
    trained = train_cached(spec, cfg, runs_dir)
    bdir = build_cached(trained.checkpoint, point, trained.key, build_dir)
    check_code(code)
    clean, noisy = measure_accuracy(bdir, cfg.dataset, n_images, eps_values, seeds, loader)
    h_y = label_entropy(get_data(cfg.dataset, "test", n_images)[1], spec.num_classes)
    twin = canonical_onnx_sha256(bdir / PYTHON_MODEL)
    hist = trained.metrics.get("history") or [{}]
    acc_torch = trained.metrics.get("final_test_acc", hist[-1].get("test_acc"))
    seconds = round(time.perf_counter() - t0, 3)
    rows = []
    for e, accs in noisy.items():
        mean = float(np.mean(accs))
        ceiling = float(theory.uniform_accuracy_ceiling(point.width * point.act_bits,
                                                        point.depth, e, spec.num_classes,
                                                        label_entropy=h_y))
        se = math.sqrt(max(ceiling * (1 - ceiling), 1e-12) / n_images)
        rows.append({
            "key": _row_key(point, cfg, e, seeds, n_images, code),
            "model": point.model_name,
            "width": point.width, "depth": point.depth, "weight_bits": point.weight_bits,
            "act_bits": point.act_bits, "eps_train": point.eps_train, "dataset": cfg.dataset,
            "epochs": cfg.epochs, "train_limit": cfg.train_limit, "train_seed": cfg.seed,
            "board": point.board, "target_fps": point.target_fps,
            "eps": e, "seeds": ";".join(str(s) for s in seeds), "n_images": n_images,
            "accuracy": mean,
            "accuracy_std": float(np.std(accs, ddof=1)) if len(accs) > 1 else 0.0,
            "accuracy_min": float(np.min(accs)), "accuracy_clean": clean,
            "accuracy_torch": None if acc_torch is None else float(acc_torch) / 100.0,
            "neurons": point.neurons, "label_entropy": h_y, "theory_ceiling": ceiling,
            "above_ceiling": bool(mean > ceiling + 3 * se),
            "code_sha256": code, "weights_sha256": trained.weights_sha256,
            "twin_sha256": twin,
            "seconds": seconds, "worker": f"{socket.gethostname()}:{os.getpid()}",
            "git_commit": git_commit(),
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        })
    return rows


def _entropy_of(df) -> float | None:
    """The label entropy the rows were measured with (None: equiprobable classes)."""
    if "label_entropy" not in df or not df["label_entropy"].notna().any():
        return None
    values = df["label_entropy"].dropna().unique()
    if len(values) > 1:
        raise ExploreError(f"rows measured on different label sets (entropies {list(values)}); "
                           "analyse one n_images at a time")
    return float(values[0])


def min_width_table(df, targets: Sequence[float], n_classes: int = 10):
    """Measured minimal width per (eps, target, depth) beside the theory's necessary width.

    A width counts when the mean accuracy of its model (the best over the eps_train variants in
    `df`) reaches the target. `measured_min_width` is NaN when no width of the grid does; `ok` is
    False only when a measured minimal width is below the theory's. The theory uses the rows'
    `label_entropy` (equiprobable classes without that column).
    """
    import pandas as pd

    from noisybnn import theory

    h_y = _entropy_of(df)

    best = (df.groupby(["eps", "depth", "width"], as_index=False)["accuracy"].max())
    out = []
    for (e, depth), g in best.groupby(["eps", "depth"]):
        g = g.sort_values("width")
        for t in targets:
            passing = g[g["accuracy"] >= t]
            w = float(passing["width"].iloc[0]) if len(passing) else math.nan
            bound = float(theory.min_width(int(depth), float(e), float(t), n_classes,
                                           label_entropy=h_y))
            out.append({
                "eps": float(e), "target": float(t), "depth": int(depth),
                "measured_min_width": w,
                "accuracy_at_min": float(passing["accuracy"].iloc[0]) if len(passing) else math.nan,
                "best_accuracy": float(g["accuracy"].max()),
                "widths_tested": ";".join(str(int(x)) for x in g["width"]),
                "theory_min_width": bound,
                "ok": bool(math.isnan(w) or w >= bound),
            })
    cols = list(MIN_WIDTH_COLUMNS)
    return (pd.DataFrame(out, columns=cols).sort_values(["eps", "target", "depth"],
                                                        ascending=[True, False, True])
            .reset_index(drop=True))


def violations(df, mw, targets: Sequence[float], n_classes: int = 10) -> list[str]:
    """Every model and eps that contradicts the theory: above its accuracy ceiling, or reaching
    a target with fewer neurons per layer than the theory's necessary width."""
    from noisybnn import theory

    h_y = _entropy_of(df)
    out = []
    for _, r in df[df["above_ceiling"]].iterrows():
        out.append(f"{r['model']} at eps={r['eps']:g}: accuracy {r['accuracy']:.4f} above the "
                   f"theory's ceiling {r['theory_ceiling']:.4f} by more than 3 standard errors")
    for t in targets:
        for _, r in df[df["accuracy"] >= t].iterrows():
            bound = float(theory.min_width(int(r["depth"]), float(r["eps"]), float(t), n_classes,
                                           label_entropy=h_y))
            if r["width"] < bound:
                out.append(f"{r['model']} at eps={r['eps']:g}: accuracy {r['accuracy']:.4f} >= "
                           f"{t:g} with width {r['width']} < the theory's {bound:g}")
    for _, r in mw[~mw["ok"]].iterrows():
        out.append(f"eps={r['eps']:g}, target {r['target']:g}, depth {r['depth']}: measured "
                   f"minimal width {r['measured_min_width']:g} < theory {r['theory_min_width']:g}")
    return out


@dataclass
class DepthWidthResult:
    """What `run_depth_width` measured and where it wrote it."""

    table: object  # pandas DataFrame, one row per model and eps
    min_width: object  # pandas DataFrame, MIN_WIDTH_COLUMNS
    violations: list[str] = field(default_factory=list)
    csv: Path | None = None
    min_width_csv: Path | None = None


def _ints(values, what: str) -> tuple[int, ...]:
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ExploreError(f"{what} must be integers >= 1, got {v!r}")
        out.append(int(v))
    if not out:
        raise ExploreError(f"no {what} given")
    return tuple(sorted(set(out)))


def run_depth_width(
    out_dir: str | os.PathLike = "results/depth_width",
    widths: Sequence[int] = DEFAULT_WIDTHS,
    depths: Sequence[int] = DEFAULT_DEPTHS,
    eps: Sequence[float] = DEFAULT_EPS,
    targets: Sequence[float] = DEFAULT_TARGETS,
    seeds: int | Sequence[int] = (1, 2, 3),
    n_images: int | None = None,
    *,
    eps_train: Sequence[float] = (0.0,),
    train: TrainConfig = DEFAULT_RECIPE,
    board: str = "pynq-z2",
    target_fps: int = 100_000,
    workers: int = 0,
    scheduler: str | None = None,
    runs_dir: str | os.PathLike = DEFAULT_RUNS_DIR,
    build_dir: str | os.PathLike = DEFAULT_BUILD_DIR,
    progress: bool = True,
    loader: Callable | None = None,
) -> DepthWidthResult:
    """Measure accuracy under noise over widths x depths x eps; derive minimal widths vs theory.

    Args:
        out_dir: where depth_width.csv and min_width.csv go (`noisybnn depth-width` draws
            depth_width.png there with `report.depth_width.plot_depth_width`).
        widths, depths: the grid of w1a1 MLPs (784-[width]*depth-10).
        eps: flip probabilities (every injector on).
        targets: accuracies for the minimal widths (e.g. 0.9, 0.8).
        seeds: noise seeds (or their number N: 1..N).
        n_images: first n test images (None: all).
        eps_train: noise-aware training variants; a width counts with its best variant.
        train: the training recipe; the default is the exploration's, whose checkpoints it
            reuses.
        board, target_fps: the build the software accelerator runs (its folding fixes which
            LFSR lane drives which neuron).
        workers, scheduler: Dask, as in `run_explore` (one task per model).
        runs_dir, build_dir: the caches shared with the exploration.

    Raises:
        ExploreError: bad arguments, before any work.
    """
    widths = _ints(widths, "widths")
    depths = _ints(depths, "depths")
    eps = tuple(sorted({check_prob(e, "eps") for e in eps}))
    if not eps:
        raise ExploreError("no eps given")
    targets = tuple(sorted({check_prob(t, "target") for t in targets}, reverse=True))
    if not targets:
        raise ExploreError("no targets given")
    eps_train = tuple(sorted({check_prob(e, "eps_train") for e in eps_train}))
    seeds = check_seeds(seeds)
    check_workers(workers, scheduler)
    check_board(board)
    n = check_n_images(train.dataset, n_images)
    check_toolchain()
    out_dir = Path(out_dir)
    csv_path = out_dir / "depth_width.csv"
    read_rows(csv_path, DEPTH_WIDTH)
    points = [DesignPoint(w, d, eps_train=et, target_fps=target_fps, board=board)
              for w in widths for d in depths for et in eps_train]
    distributed = bool(workers or scheduler)
    points.sort(key=lambda p: p.width * (784 + p.width * (p.depth - 1)), reverse=distributed)
    code = code_sha256()
    tasks = [(tuple(_row_key(p, train, e, seeds, n, code) for e in eps), run_model,
              (p, train, eps, seeds, n, code, str(runs_dir), str(build_dir), loader))
             for p in points]

    def describe(rows: list[dict]) -> str:
        r = rows[0]
        accs = ", ".join(f"{x['eps']:g}: {100 * x['accuracy']:.1f}" for x in rows)
        return (f"{r['model']}: clean {100 * r['accuracy_clean']:.1f} %, under noise "
                f"(eps: %) {accs} ({r['seconds']:.0f} s)")

    run_tasks(tasks, csv_path, DEPTH_WIDTH, workers, scheduler, progress, desc="depth-width",
              describe=describe)
    df = read_frame(csv_path, DEPTH_WIDTH)
    keys = {k for t in tasks for k in t[0]}
    df = df[df["key"].isin(keys)].reset_index(drop=True)
    mw = min_width_table(df, targets)
    mw_path = out_dir / "min_width.csv"
    tmp = mw_path.with_name(f".{mw_path.name}.{os.getpid()}.tmp")
    mw.to_csv(tmp, index=False)
    os.replace(tmp, mw_path)
    return DepthWidthResult(df, mw, violations(df, mw, targets), csv_path, mw_path)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m noisybnn.experiments.depth_width``: the same as ``noisybnn depth-width``."""
    from noisybnn.cli import main as cli_main

    return cli_main(["depth-width", *(argv if argv is not None else sys.argv[1:])])


if __name__ == "__main__":
    raise SystemExit(main())
