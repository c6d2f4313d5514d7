"""The depth-width experiment on the console and in a figure: the minimal widths as a text table
and one panel per eps of measured minimal width vs depth beside the theory's necessary width.
Reads the frames `experiments.depth_width.run_depth_width` returns.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from noisybnn.report.design import save_png

__all__ = ["format_min_width", "plot_depth_width"]


def plot_depth_width(df, mw, out_png: str | os.PathLike) -> Path:
    """One panel per eps: measured minimal width vs depth (per target) and the theory's bound;
    a last panel: accuracy vs width per depth at a middle eps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_png = Path(out_png)
    eps_values = sorted(mw["eps"].unique())
    targets = sorted(mw["target"].unique(), reverse=True)
    widths = sorted(int(w) for w in df["width"].unique())
    depths = sorted(int(d) for d in df["depth"].unique())
    n = len(eps_values) + 1
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 4.2 * rows), squeeze=False)
    colors = plt.get_cmap("tab10")
    top = max(widths[-1], np.nanmax(mw["theory_min_width"].replace(np.inf, np.nan).to_numpy()
                                    if mw["theory_min_width"].notna().any() else [1]))
    ymax = 2 ** math.ceil(math.log2(top) + 0.8)
    for k, e in enumerate(eps_values):
        ax = axes.flat[k]
        for j, t in enumerate(targets):
            g = mw[(mw["eps"] == e) & (mw["target"] == t)].sort_values("depth")
            c = colors(j)
            th = g["theory_min_width"].to_numpy(float)
            th_plot = np.where(np.isfinite(th), th, ymax)
            ax.plot(g["depth"], th_plot, color=c, ls="--", lw=1.4,
                    label=f"theory: necessary width, {t:.0%}")
            ax.fill_between(g["depth"], 0.8, th_plot, color=c, alpha=0.06)
            meas = g["measured_min_width"].to_numpy(float)
            have = np.isfinite(meas)
            ax.plot(g["depth"][have], meas[have], color=c, marker="o", lw=1.6,
                    label=f"measured minimal width, {t:.0%}")
            if (~have).any():  # no width reaches the target: a triangle above the grid
                ax.scatter(g["depth"][~have], np.full((~have).sum(), widths[-1] * 1.3 ** (j + 1)),
                           marker="^", color=c, s=40, zorder=4)
            bad = have & (meas < th)
            if bad.any():
                ax.scatter(g["depth"][bad], meas[bad], marker="x", color="red", s=120, zorder=5,
                           label="below the theory (bug!)")
        ax.set_yscale("log", base=2)
        ax.set_ylim(0.8, ymax)
        ax.set_yticks([w for w in [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048]
                       if w <= ymax])
        ax.get_yaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.axhline(widths[-1], color="grey", lw=0.8, ls=":")
        ax.set_xticks(depths)
        ax.set_xlabel("depth (hidden layers, each noisy)")
        ax.set_ylabel("width (neurons per layer)")
        ax.set_title(f"eps = {e:g}")
        ax.grid(alpha=0.3, which="both")
        if k == 0:
            from matplotlib.lines import Line2D

            handles, _ = ax.get_legend_handles_labels()
            handles.append(Line2D([], [], marker="^", ls="", color="grey",
                                  label=f"no width up to {widths[-1]} reaches the target"))
            ax.legend(handles=handles, fontsize=6.5, loc="upper left", ncol=2)
    ax = axes.flat[len(eps_values)]
    mid = eps_values[len(eps_values) // 2]
    best = df[df["eps"] == mid].groupby(["depth", "width"], as_index=False)["accuracy"].max()
    for i, dep in enumerate(depths):
        g = best[best["depth"] == dep].sort_values("width")
        ax.plot(g["width"], 100 * g["accuracy"], marker="o", ms=3,
                color=plt.get_cmap("viridis")(i / max(1, len(depths) - 1) * 0.9),
                label=f"depth {dep}")
    for t in targets:
        ax.axhline(100 * t, color="grey", ls=":", lw=1)
    ax.set_xscale("log", base=2)
    ax.set_xticks(widths)
    ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.set_xlabel("width")
    ax.set_ylabel("accuracy under noise (%)")
    ax.set_title(f"measured accuracy at eps = {mid:g}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    for extra in list(axes.flat)[n:]:
        extra.axis("off")
    seeds = str(df["seeds"].iloc[0]).split(";")
    fig.suptitle(f"least width per depth that keeps the target accuracy: our MLPs on the software "
                 f"accelerator (mean of {len(seeds)} seeds, {int(df['n_images'].iloc[0])} images)"
                 " vs the theory's necessary width")
    fig.tight_layout()
    return save_png(fig, out_png, dpi=120)


def format_min_width(mw) -> str:
    """The minimal widths as a text table: one line per (eps, target), one column per depth."""
    depths = sorted(int(d) for d in mw["depth"].unique())
    head = f"{'eps':>5s} {'target':>6s}  " + "  ".join(f"{'d=' + str(d):>11s}" for d in depths)
    lines = [head, "      (measured / theory)"]
    for (e, t), g in mw.groupby(["eps", "target"], sort=False):
        cells = []
        for d in depths:
            r = g[g["depth"] == d].iloc[0]
            m = "-" if math.isnan(r["measured_min_width"]) else f"{r['measured_min_width']:.0f}"
            th = f"{r['theory_min_width']:.0f}"
            cells.append(f"{m + ' / ' + th + ('' if r['ok'] else ' !'):>11s}")
        lines.append(f"{e:5g} {t:6.0%}  " + "  ".join(cells))
    lines.append("-: no width of the grid reaches the target; !: measured below the theory (bug)")
    return "\n".join(lines)
