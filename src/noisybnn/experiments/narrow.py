"""Narrow noisy networks, where the Fano/SDPI ceiling binds (issue 17).

For 64-wide layers the ceiling is 1 - 1e-5 or closer at every eps <= 0.3: it says nothing. It bites
for narrow layers near eps = 1/2. This experiment trains 784-[width]*depth-10 w1a1 MLPs with widths
2-32 and depths 1-6, with and without noise-aware binarization (``eps_train``), builds each
(FINN estimates, cached with the exploration's builds) and measures it on the software accelerator
(the bit-exact model of the FPGA, injectors' LFSR streams) at eps up to 0.49, beside

* the ceiling ``theory.uniform_accuracy_ceiling(width, depth, eps, C, H(Y))`` with H(Y) the
  empirical entropy of the test labels used, and its status: *binding* (below 1 - 1e-6) or
  *vacuous*;
* the neuron-count lower bound ``theory.min_total_neurons(depth, eps, target, C, H(Y))``, and the
  ratio "neurons the trained networks needed / neurons the bound requires" per eps, depth and
  target (``ratio.csv``).

Training recipe (stated, small): the exploration's, 2 epochs of Adam on the first 55,000 MNIST
training images (the last 5,000 are the validation set that selects the epoch), seed 0, one
thread. Outputs in ``results/narrow``: ``narrow.csv`` (one row per model and eps; models already
there are not retrained nor remeasured), ``ratio.csv`` and ``narrow.png``.

    noisybnn study narrow --out results/narrow
"""

from __future__ import annotations

import argparse
import csv
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from noisybnn.experiments.cache import DEFAULT_BUILD_DIR, DEFAULT_RUNS_DIR, build_cached, train_cached
from noisybnn.experiments.measure import label_entropy, measure_accuracy
from noisybnn.experiments.space import DEFAULT_RECIPE, DesignPoint

DEFAULT_WIDTHS = (2, 4, 8, 16, 32)
DEFAULT_DEPTHS = (1, 2, 3, 4, 6)
DEFAULT_EPS_TRAIN = (0.0, 0.2)
DEFAULT_EPS = (0.01, 0.05, 0.1, 0.2, 0.3, 0.35, 0.4, 0.45, 0.49)
DEFAULT_TARGETS = (0.8, 0.5, 0.3, 0.2)
DEFAULT_SEEDS = (1, 2, 3)
#: A ceiling this close to 1 cannot be told from 1 by any measurement: it is vacuous.
VACUOUS_SLACK = 1e-6

COLUMNS = ("model", "width", "depth", "eps_train", "neurons", "eps", "n_images", "seeds",
           "accuracy", "accuracy_std", "accuracy_min", "accuracy_clean", "label_entropy",
           "ceiling", "ceiling_status", "gap", "above_ceiling", "seconds")
RATIO_COLUMNS = ("eps_train", "eps", "depth", "target", "needed_neurons", "needed_by",
                 "bound_neurons", "ratio", "ceiling_of_needed")
RTL_COLUMNS = ("model", "eps", "seed", "n_images", "sim_accuracy", "rtl_accuracy",
               "logits_equal", "sim_flips", "rtl_flips", "rtl_seconds")


def ceiling_status(ceiling: float) -> str:
    """"binding" where the ceiling is a real constraint, "vacuous" where it is 1 to 1e-6."""
    return "binding" if ceiling < 1.0 - VACUOUS_SLACK else "vacuous"


def measure_point(point: DesignPoint, eps_values: Sequence[float], seeds: Sequence[int],
                  n_images: int, runs_dir: Path, build_dir: Path) -> list[dict]:
    """Train (or reuse), build (or reuse) and measure one narrow network: one row per eps."""
    from noisybnn import theory
    from noisybnn.experiments.sweep import get_data

    t0 = time.perf_counter()
    trained = train_cached(point.spec(), DEFAULT_RECIPE, runs_dir)
    bdir = build_cached(trained.checkpoint, point, trained.key, build_dir)
    clean, noisy = measure_accuracy(bdir, "mnist", n_images, eps_values, seeds)
    _, y = get_data("mnist", "test", n_images)
    n_cls = 10
    h_y = label_entropy(y, n_cls)
    rows = []
    for eps, accs in noisy.items():
        a = np.asarray(accs)
        ceil = float(theory.uniform_accuracy_ceiling(point.width, point.depth, eps, n_cls,
                                                     label_entropy=h_y))
        se = math.sqrt(max(ceil * (1 - ceil), 1e-12) / n_images)
        rows.append({
            "model": point.model_name, "width": point.width, "depth": point.depth,
            "eps_train": point.eps_train, "neurons": point.neurons, "eps": eps,
            "n_images": n_images, "seeds": ";".join(str(s) for s in seeds),
            "accuracy": float(a.mean()), "accuracy_std": float(a.std(ddof=1)) if a.size > 1 else 0.0,
            "accuracy_min": float(a.min()), "accuracy_clean": clean, "label_entropy": h_y,
            "ceiling": ceil, "ceiling_status": ceiling_status(ceil), "gap": ceil - float(a.mean()),
            "above_ceiling": bool(a.max() > ceil + 3 * se),
            "seconds": round(time.perf_counter() - t0, 1),
        })
    return rows


def read_rows(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with path.open() as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for k in ("width", "depth", "neurons", "n_images"):
            r[k] = int(r[k])
        for k in ("eps_train", "eps", "accuracy", "accuracy_std", "accuracy_min", "accuracy_clean",
                  "label_entropy", "ceiling", "gap", "seconds"):
            r[k] = float(r[k])
        r["above_ceiling"] = r["above_ceiling"] == "True"
    return rows


def write_rows(path: Path, rows: list[dict], columns: Sequence[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(columns), extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    tmp.replace(path)


def ratio_table(rows: list[dict], targets: Sequence[float], n_classes: int = 10) -> list[dict]:
    """Per eps_train, eps, depth and target: the fewest neurons a trained network of that depth
    (trained at that eps_train) needed to reach the target (mean over seeds), the bound's minimum,
    and their ratio (>= 1 or a bug)."""
    from noisybnn import theory

    out = []
    h_y = rows[0]["label_entropy"] if rows else math.log2(n_classes)
    for et in sorted({float(r.get("eps_train", 0.0)) for r in rows}):
        mine = [r for r in rows if float(r.get("eps_train", 0.0)) == et]
        for eps in sorted({r["eps"] for r in mine}):
            for depth in sorted({r["depth"] for r in mine}):
                sel = [r for r in mine if r["eps"] == eps and r["depth"] == depth]
                if not sel:
                    continue
                for t in targets:
                    ok = [r for r in sel if r["accuracy"] >= t]
                    bound = float(theory.min_total_neurons(depth, eps, t, n_classes,
                                                           label_entropy=h_y))
                    best = min(ok, key=lambda r: (r["neurons"], -r["accuracy"])) if ok else None
                    out.append({
                        "eps_train": et, "eps": eps, "depth": depth, "target": t,
                        "needed_neurons": best["neurons"] if best else "",
                        "needed_by": best["model"] if best else f"none of widths <= "
                                                               f"{max(r['width'] for r in sel)}",
                        "bound_neurons": bound if math.isfinite(bound) else "inf",
                        "ratio": (best["neurons"] / bound) if best and math.isfinite(bound) else "",
                        "ceiling_of_needed": best["ceiling"] if best else "",
                    })
    return out


def rtl_check(build_dirs: dict[str, Path], eps_values: Sequence[float], seeds: Sequence[int],
              n_images: int, loader: Callable | None = None) -> list[dict]:
    """The same narrow builds on the RTL backend (Verilator on the stitched RTL accelerator) and on
    the software accelerator: same images, same seeds, every injector on. One row per model, eps
    and seed with both accuracies, whether the logits are identical and both flip counts."""
    from noisybnn.backends import NoiseSetting, predict
    from noisybnn.experiments.sweep import get_data

    if loader is None:
        from noisybnn.backends import load as loader
    x, y = get_data("mnist", "test", n_images)
    out = []
    for name, bdir in build_dirs.items():
        sim = loader("sim", Path(bdir))
        rtl = loader("rtl", Path(bdir))
        try:
            for eps in eps_values:
                for seed in seeds:
                    setting = NoiseSetting(mode="flip", p=float(eps), seed=int(seed))
                    sim.configure_noise(setting)
                    a = np.asarray(sim.execute(x))
                    rtl.configure_noise(setting)
                    t0 = time.perf_counter()
                    b = np.asarray(rtl.execute(x))
                    out.append({
                        "model": name, "eps": float(eps), "seed": int(seed), "n_images": n_images,
                        "sim_accuracy": float(np.mean(predict(a) == y)),
                        "rtl_accuracy": float(np.mean(predict(b) == y)),
                        "logits_equal": bool(np.array_equal(a, b)),
                        "sim_flips": ";".join(str(c) for c in sim.flip_counts()),
                        "rtl_flips": ";".join(str(c) for c in rtl.flip_counts()),
                        "rtl_seconds": round(time.perf_counter() - t0, 2),
                    })
        finally:
            close = getattr(rtl, "close", None)
            if close is not None:
                close()
    return out


def plot(rows: list[dict], ratios: list[dict], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    depths = sorted({r["depth"] for r in rows})
    widths = sorted({r["width"] for r in rows})
    ncols = max(len(depths), 2)
    fig, grid = plt.subplots(2, ncols, figsize=(4.6 * ncols, 9.0), squeeze=False)
    axes = list(grid[0]) + list(grid[1])
    for ax in axes[len(depths):ncols]:
        ax.set_visible(False)
    ratio_axes = axes[ncols:]
    cmap = plt.get_cmap("viridis")
    for ax, depth in zip(axes[:len(depths)], depths, strict=False):
        for i, w in enumerate(widths):
            c = cmap(i / max(1, len(widths) - 1))
            for et in sorted({r["eps_train"] for r in rows}):
                ls = "-" if et == 0 else "--"
                sel = sorted((r for r in rows if r["depth"] == depth and r["width"] == w
                              and r["eps_train"] == et), key=lambda r: r["eps"])  # noqa: B023
                if not sel:
                    continue
                ax.plot([r["eps"] for r in sel], [r["accuracy"] for r in sel], ls, color=c,
                        marker="o", ms=3, label=f"w={w}" + (f" eps_train={et:g}" if et else ""))
            sel = sorted((r for r in rows if r["depth"] == depth and r["width"] == w),
                         key=lambda r: r["eps"])
            seen = {}
            for r in sel:
                seen[r["eps"]] = r["ceiling"]
            ax.plot(list(seen), list(seen.values()), ":", color=c, lw=2)
        ax.axhline(0.1, color="0.6", lw=0.8)
        ax.set_xlim(0, 0.5)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("eps (flip probability per neuron)")
        ax.set_ylabel("accuracy")
        ax.set_title(f"depth {depth}: measured (sim) vs ceiling (dotted)")
        if depth == depths[0]:
            ax.legend(fontsize=6, ncol=2)
    targets = [t for t in (0.5, 0.3) if any(r["target"] == t for r in ratios)]
    for ax in ratio_axes[len(targets):]:
        ax.set_visible(False)
    for ax, t in zip(ratio_axes, targets, strict=False):
        for j, d in enumerate(depths):
            for et in sorted({float(r["eps_train"]) for r in ratios}):
                sel = [r for r in ratios if r["target"] == t and r["depth"] == d and r["ratio"] != ""
                       and float(r["eps_train"]) == et]
                if sel:
                    ax.plot([r["eps"] for r in sel], [float(r["ratio"]) for r in sel],
                            "-" if et == 0 else "--", marker="o", ms=3, color=f"C{j}",
                            label=f"depth {d}" + (f", eps_train {et:g}" if et else ""))
        ax.set_yscale("log")
        ax.set_xlim(0, 0.5)
        ax.set_xlabel("eps")
        ax.set_ylabel("neurons needed / neurons the bound requires")
        ax.set_title(f"target {t:.0%}: trained networks vs the bound")
        ax.legend(fontsize=6)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def run(out: Path, widths: Sequence[int] = DEFAULT_WIDTHS, depths: Sequence[int] = DEFAULT_DEPTHS,
        eps_train: Sequence[float] = DEFAULT_EPS_TRAIN, eps: Sequence[float] = DEFAULT_EPS,
        seeds: Sequence[int] = DEFAULT_SEEDS, n_images: int = 10000,
        targets: Sequence[float] = DEFAULT_TARGETS, runs_dir: Path = DEFAULT_RUNS_DIR,
        build_dir: Path = DEFAULT_BUILD_DIR, progress: bool = True) -> tuple[list[dict], list[dict]]:
    """Measure every (width, depth, eps_train) not yet in ``out/narrow.csv``; write the tables."""
    table = out / "narrow.csv"
    rows = read_rows(table)
    done = {r["model"] for r in rows}
    for et in eps_train:
        for depth in depths:
            for width in widths:
                point = DesignPoint(width=int(width), depth=int(depth), eps_train=float(et))
                if point.model_name in done:
                    continue
                new = measure_point(point, eps, seeds, n_images, Path(runs_dir), Path(build_dir))
                rows += new
                write_rows(table, rows, COLUMNS)
                if progress:
                    print(f"{point.model_name}: clean {new[0]['accuracy_clean']:.4f}, "
                          f"eps 0.49 {new[-1]['accuracy']:.4f} (ceiling {new[-1]['ceiling']:.4f}),"
                          f" {new[-1]['seconds']:.0f} s", flush=True)
    ratios = ratio_table(rows, targets)
    write_rows(out / "ratio.csv", ratios, RATIO_COLUMNS)
    plot(rows, ratios, out / "narrow.png")
    return rows, ratios


def run_cli(a: argparse.Namespace) -> int:
    """`noisybnn study narrow` (its options: noisybnn.cli_options.add_study_commands)."""
    from noisybnn.errors import ConfigError

    for e in a.eps + a.eps_train + a.rtl_eps:
        if not 0.0 <= e <= 0.5:
            raise ConfigError(f"--eps / --eps-train / --rtl-eps values must be in [0, 0.5], got {e}")
    if not 1 <= a.rtl_images <= 10000:
        raise ConfigError(f"--rtl-images must be 1..10000, got {a.rtl_images}")
    if a.rtl_models:
        return rtl_cli(a)
    rows, ratios = run(a.out, a.widths, a.depths, a.eps_train, a.eps, a.seeds, a.images)
    binding = [r for r in rows if r["ceiling_status"] == "binding"]
    bad = [r for r in rows if r["above_ceiling"]]
    print(f"{len(rows)} rows, {len(binding)} with a binding ceiling, {len(bad)} above it")
    return 1 if bad else 0


def point_from_name(name: str) -> DesignPoint:
    """The design point of a narrow model name, e.g. ``mlp-32x1-w1a1-eps0.2``."""
    import re

    from noisybnn.errors import ConfigError

    m = re.fullmatch(r"mlp-(\d+)x(\d+)-w1a1(?:-eps([0-9.]+))?", name)
    if not m:
        raise ConfigError(f"--rtl-models: {name!r} is not a narrow model name like mlp-32x1-w1a1 "
                          "or mlp-8x2-w1a1-eps0.2")
    return DesignPoint(width=int(m[1]), depth=int(m[2]), eps_train=float(m[3] or 0.0))


def rtl_cli(a: argparse.Namespace) -> int:
    """`noisybnn study narrow --rtl-models ...`: the RTL backend beside the sim (rtl.csv);
    exit 1 if any logits differ."""
    builds = {}
    for name in a.rtl_models:
        point = point_from_name(name)
        trained = train_cached(point.spec(), DEFAULT_RECIPE, DEFAULT_RUNS_DIR)
        builds[name] = build_cached(trained.checkpoint, point, trained.key, DEFAULT_BUILD_DIR)
    rows = rtl_check(builds, a.rtl_eps, a.rtl_seeds, a.rtl_images)
    path = a.out / "rtl.csv"
    old = []
    if path.is_file():
        with path.open() as f:
            old = [r for r in csv.DictReader(f)
                   if (r["model"], float(r["eps"]), int(r["seed"]), int(r["n_images"])) not in
                   {(n["model"], n["eps"], n["seed"], n["n_images"]) for n in rows}]
    write_rows(path, old + rows, RTL_COLUMNS)
    for r in rows:
        print(f"{r['model']} eps {r['eps']:g} seed {r['seed']}: sim {r['sim_accuracy']:.4f}, rtl "
              f"{r['rtl_accuracy']:.4f}, logits {'equal' if r['logits_equal'] else 'DIFFER'}, "
              f"flips sim {r['sim_flips']} rtl {r['rtl_flips']} ({r['rtl_seconds']:.0f} s)")
    return 0 if all(r["logits_equal"] for r in rows) else 1


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m noisybnn.experiments.narrow`: the same as `noisybnn study narrow ...`."""
    import sys

    from noisybnn import cli

    return cli.main(["study", "narrow", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    raise SystemExit(main())
