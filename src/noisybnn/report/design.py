"""The exploration in the report and on the console: Pareto fronts of accuracy under noise vs
LUT and FPS, the report's design-space section, a text summary, and the three-panel figure
beside the theory. Reads tables of `experiments.schemas.EXPLORE`.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from noisybnn import theory
from noisybnn.report.compute import Context

__all__ = ["design_section", "format_summary", "pareto_front", "pareto_mask", "plot_explore",
           "save_png"]


def pareto_mask(cost: np.ndarray, value: np.ndarray) -> np.ndarray:
    """True for points no other point beats: cost <= and value >=, one of them strictly."""
    cost = np.asarray(cost, float)
    value = np.asarray(value, float)
    le = cost[None, :] <= cost[:, None]
    ge = value[None, :] >= value[:, None]
    strict = (cost[None, :] < cost[:, None]) | (value[None, :] > value[:, None])
    return ~np.any(le & ge & strict, axis=1)


def design_section(explore, ctx: Context) -> dict:
    """Pareto fronts of the exploration table and the theory's least neuron count."""
    out = {"notes": list(explore.notes), "available": explore.df is not None, "violations": []}
    if explore.df is None:
        return out
    df = explore.df.copy()
    opts = ctx.opts
    classes = sorted({m.n_classes for m in ctx.models.values() if m.n_classes})
    n_cls = classes[0] if classes else 10
    df["pareto_lut"] = pareto_mask(df["lut"].to_numpy(), df["accuracy"].to_numpy())
    df["pareto_fps"] = pareto_mask(-df["fps"].to_numpy(), df["accuracy"].to_numpy())
    has_theory = "depth" in df and "eps" in df and "neurons" in df
    df["min_neurons"] = np.nan
    if has_theory:
        ok = df["depth"].notna() & df["eps"].notna() & (df["depth"] >= 1)
        if ok.any():
            df.loc[ok, "min_neurons"] = theory.min_total_neurons(
                df.loc[ok, "depth"].round().astype(int).to_numpy(),
                df.loc[ok, "eps"].to_numpy(), opts.target_accuracy, n_cls)
        binary = df["act_bits"].fillna(1) == 1 if "act_bits" in df else True
        df["below_min_neurons"] = (df["neurons"] < df["min_neurons"]) & binary
        bad = df[df["below_min_neurons"] & (df["accuracy"] >= opts.target_accuracy)]
        for _, r in bad.iterrows():
            out["violations"].append(
                f"design {r['name']}: {r['neurons']:g} noisy neurons < {r['min_neurons']:g} "
                f"required for {opts.target_accuracy:.0%} at eps={r['eps']:g}, yet accuracy "
                f"{r['accuracy']:.2%}")
    else:
        out["notes"].append("the theory line needs depth, width (neurons) and eps columns; it is "
                            "left out")
    out["eps_values"] = sorted(float(e) for e in df["eps"].dropna().unique()) if "eps" in df else []
    out["n_classes"] = n_cls
    out["target_accuracy"] = opts.target_accuracy
    out["has_theory"] = bool(has_theory and df["min_neurons"].notna().any())
    keep = [c for c in ("name", "lut", "bram", "fps", "fits", "accuracy", "eps", "width", "depth",
                        "weight_bits", "act_bits", "neurons", "min_neurons", "below_min_neurons",
                        "pareto_lut", "pareto_fps") if c in df]
    out["rows"] = json.loads(df[keep].to_json(orient="records"))
    out["_df"] = df
    return out


def pareto_front(df, cost: str = "lut", value: str = "accuracy_under_noise",
                 maximize_cost: bool = False) -> np.ndarray:
    """Mask of the rows no other row beats (cost <= and value >=, one strictly)."""
    c = df[cost].to_numpy(float)
    return pareto_mask(-c if maximize_cost else c, df[value].to_numpy(float))


def format_summary(df) -> str:
    """A readable table: one line per point, by LUT; * on the LUT front, + on the FPS front."""
    if not len(df):
        return "(no points)"
    d = df.copy()
    d["front"] = [("*" if a else "") + ("+" if b else "") for a, b in
                  zip(pareto_front(d), pareto_front(d, "fps", maximize_cost=True), strict=True)]
    d = d.sort_values(["lut", "name"])
    width = max(24, max(len(n) for n in d["name"]))
    eps = sorted(set(d["eps"]))
    lines = [f"{'design':{width}s} {'LUT':>7s} {'BRAM18':>6s} {'FPS':>10s} {'fits':>4s} "
             f"{'clean %':>7s} {'noisy %':>7s} {'std':>5s} {'min N':>6s} front",
             "-" * (width + 66)]
    for _, r in d.iterrows():
        lines.append(
            f"{r['name']:{width}s} {r['lut']:7,.0f} {r['bram_18k']:6.1f} {r['fps']:10,.0f} "
            f"{'yes' if r['fits'] else 'NO':>4s} {100 * r['accuracy_clean']:7.2f} "
            f"{100 * r['accuracy_under_noise']:7.2f} {100 * r['accuracy_std']:5.2f} "
            f"{r['theory_min_neurons']:6.0f} {r['front']}")
    n_fit = int(d["fits"].sum())
    below = int(d["below_theory_min"].sum())
    lines.append(f"{len(d)} points at eps={', '.join(f'{e:g}' for e in eps)}; {n_fit} fit "
                 f"{', '.join(sorted(set(d['board'])))}; * Pareto front accuracy vs LUT, + vs FPS; "
                 f"min N: theory's least noisy units for the point's accuracy; "
                 f"{below} point(s) below it" + (" (a bug: investigate)" if below else ""))
    return "\n".join(lines)


def _short(name: str) -> str:
    """mlp-128x2-w1a1-eps0.05-10kfps -> 128x2 e.05 10k (plot labels)."""
    out = name.removeprefix("mlp-").removesuffix("fps").replace("-w1a1", "")
    return out.replace("-eps0.", " e.").replace("-", " ")


def plot_explore(df, out_png: str | os.PathLike, title: str | None = None) -> Path:
    """Three panels: accuracy under noise vs LUT, vs FPS (Pareto fronts, fits marked), and vs
    noisy units beside the theory (accuracy ceiling per depth, each point's least units)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_png = Path(out_png)
    d = df.reset_index(drop=True)
    acc = 100 * d["accuracy_under_noise"].to_numpy(float)
    depths = sorted(int(x) for x in d["depth"].unique())
    cmap = plt.get_cmap("viridis")
    color = {dep: cmap(i / max(1, len(depths) - 1) * 0.85) for i, dep in enumerate(depths)}
    fig, axes = plt.subplots(1, 3, figsize=(17, 5.6))

    def scatter(ax, x):
        for i, r in d.iterrows():
            c = color[int(r["depth"])]
            marker = "o" if int(r["act_bits"]) == 1 else "s"
            ax.scatter(x[i], acc[i], s=18 + 2.2 * math.sqrt(r["width"]) * 6, marker=marker,
                       facecolors=c if r["fits"] else "none", edgecolors=c, linewidths=1.4,
                       alpha=0.9 if r["eps_train"] else 0.55, zorder=3)

    for ax, col, label, maximize in ((axes[0], "lut", "LUT (FINN estimate)", False),
                                     (axes[1], "fps", "throughput (FINN estimate, FPS)", True)):
        x = d[col].to_numpy(float)
        scatter(ax, x)
        front = pareto_front(d, col, maximize_cost=maximize)
        order = np.argsort(x[front])
        fx, fy = x[front][order], acc[front][order]
        ax.step(fx, fy, where="post" if not maximize else "pre", color="crimson", lw=1.5,
                zorder=2, label="Pareto front")
        ax.scatter(fx, fy, s=150, facecolors="none", edgecolors="crimson", lw=1.2, zorder=4)
        names = d["name"].to_numpy()[front][order]
        for k, (xi, yi, name) in enumerate(zip(fx, fy, names, strict=True)):
            ax.annotate(_short(name), (xi, yi), fontsize=6.5, color="crimson",
                        xytext=(5, -10 if k % 2 == 0 else 6), textcoords="offset points")
        ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel(f"accuracy under noise (%), eps={d['eps'].iloc[0]:g}")
        ax.grid(alpha=0.3, which="both")
    lut_cap = (d["lut"] / d["lut_util"]).dropna()
    if len(lut_cap):
        axes[0].axvline(lut_cap.iloc[0], color="grey", ls="--", lw=1)
        axes[0].text(lut_cap.iloc[0], axes[0].get_ylim()[1], f"{d['board'].iloc[0]} LUTs ",
                     rotation=90, va="top", ha="right", fontsize=7, color="grey")
    axes[0].set_title("accuracy under noise vs LUT")
    axes[1].set_title("accuracy under noise vs throughput")

    # theory panel
    ax = axes[2]
    bits = d["noisy_bits"].to_numpy(float)
    need = d["theory_min_neurons"].to_numpy(float)
    scatter(ax, bits)
    for i in range(len(d)):
        if np.isfinite(need[i]):
            ax.plot([need[i], bits[i]], [acc[i], acc[i]], color="grey", lw=0.5, alpha=0.5)
            ax.plot(need[i], acc[i], marker="|", color="black", ms=7)
    eps = float(d["eps"].iloc[0])
    n_cls = 10
    h_y = float(d["label_entropy"].iloc[0]) if "label_entropy" in d and \
        d["label_entropy"].notna().all() else None
    for dep in depths:
        widths = np.unique(np.round(np.logspace(0, np.log10(max(bits.max(), 64)), 200)))
        ceil = 100 * theory.uniform_accuracy_ceiling(widths, dep, eps, n_cls,
                                                     label_entropy=h_y)
        ax.plot(widths * dep, ceil, color=color[dep], lw=1.2, ls="--",
                label=f"theory ceiling, depth {dep}")
    bad = d["below_theory_min"].to_numpy(bool)
    if bad.any():
        ax.scatter(bits[bad], acc[bad], marker="x", s=120, color="red", zorder=5,
                   label="below theory minimum (bug!)")
    ax.set_xscale("log")
    ax.set_xlabel("noisy binary units (hidden neurons x activation bits)")
    ax.set_ylabel("accuracy under noise (%)")
    ax.set_title("vs the theory: | = least units for that accuracy")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="lower right")

    from matplotlib.lines import Line2D

    handles = [Line2D([], [], marker="o", ls="", color=color[dep], label=f"depth {dep}")
               for dep in depths]
    grey = dict(ls="", mec="grey")
    handles += [Line2D([], [], marker="o", mfc="grey", label="fits the board", **grey),
                Line2D([], [], marker="o", mfc="none", label="does not fit", **grey),
                Line2D([], [], marker="s", mfc="none", label="2-bit activations", **grey),
                Line2D([], [], color="crimson", label="Pareto front")]
    axes[0].legend(handles=handles, fontsize=7, loc="lower right",
                   title="size ~ width; faint: eps_train = 0", title_fontsize=7)
    fig.suptitle(title or f"design space: {len(d)} points, accuracy on the software accelerator "
                 f"(eps={eps:g}, mean of {len(str(d['seeds'].iloc[0]).split(';'))} seeds)")
    fig.tight_layout()
    return save_png(fig, out_png, dpi=130)


def save_png(fig, out_png: str | os.PathLike, dpi: int) -> Path:
    """Write a figure atomically (temporary file, then rename) and close it."""
    import matplotlib.pyplot as plt

    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_png.with_name(f".{out_png.stem}.{os.getpid()}.tmp.png")
    fig.savefig(tmp, dpi=dpi)
    plt.close(fig)
    os.replace(tmp, out_png)
    return out_png

