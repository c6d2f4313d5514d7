"""The report's figures: matplotlib with the Agg canvas, no pyplot state, one PNG per figure.

Every function takes the dict a ``compute.*_section`` returned and a PNG path, and returns the path.
Accuracies are drawn in percent; eps = 0 (or k = 0 faults) sits left of the log axis at a tick
labelled "0", past a dotted break line.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib as mpl  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import (  # noqa: E402
    FixedLocator,
    FuncFormatter,
    NullFormatter,
    NullLocator,
)

DPI = 110
STYLE = {
    "font.size": 11, "axes.titlesize": 12, "axes.labelsize": 11, "legend.fontsize": 9,
    "xtick.labelsize": 10, "ytick.labelsize": 10, "axes.grid": True, "grid.alpha": 0.3,
    "axes.spines.top": False, "axes.spines.right": False, "figure.titlesize": 13,
}
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]


def _figure(n_panels: int, ncols: int = 2, panel=(6.2, 4.4)) -> tuple[Figure, list]:
    ncols = max(1, min(ncols, n_panels))
    nrows = math.ceil(n_panels / ncols)
    width = max(panel[0] * ncols, 8.0)  # a lone panel gets room for its legend
    fig = Figure(figsize=(width, panel[1] * nrows), dpi=DPI,
                 layout="constrained")
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(nrows, ncols, i + 1) for i in range(n_panels)]
    return fig, axes


def _save(fig: Figure, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    return path


def _pct(ax, axis: str = "y") -> None:
    fmt = FuncFormatter(lambda v, _: f"{100 * v:.0f} %" if abs(100 * v - round(100 * v)) < 1e-6
                        else f"{100 * v:.1f} %")
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(fmt)


class ZeroLogAxis:
    """A log x axis that also shows 0, left of the smallest positive value past a dotted break.

    Ticks sit at the values measured (when there are at most `max_ticks`), else on a log grid.
    """

    def __init__(self, values: Sequence[float], max_ticks: int = 8):
        self.values = sorted({float(v) for v in values})
        pos = [v for v in self.values if v > 0]
        self.log = bool(pos)
        self.has_zero = any(v == 0 for v in self.values)
        self.x0 = pos[0] / 4.0 if pos else 0.0
        self.max_ticks = max_ticks

    def x(self, v) -> np.ndarray:
        v = np.asarray(v, dtype=float)
        return np.where(v > 0, v, self.x0) if self.log else v

    def setup(self, ax, label: str) -> None:
        ax.set_xlabel(label)
        if not self.log:
            return
        ax.set_xscale("log")
        pos = [v for v in self.values if v > 0]
        lo = self.x0 / 1.6 if self.has_zero else pos[0] / 1.6
        ax.set_xlim(lo, pos[-1] * 1.6)
        if self.has_zero:
            ax.axvline(self.x0 * 2.0, color="0.5", ls=":", lw=1)
        if len(self.values) <= self.max_ticks:
            kept: list[float] = []
            for v in pos:  # labels closer than a factor 1.3 overlap on a log axis: keep the first
                if not kept or v / kept[-1] >= 1.3 or v == pos[-1]:
                    if kept and v == pos[-1] and v / kept[-1] < 1.3:
                        kept.pop()
                    kept.append(v)
            ticks = [self.x0] * self.has_zero + kept
            ax.xaxis.set_major_locator(FixedLocator(ticks))
            ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_major_formatter(FuncFormatter(
            lambda v, _: "0" if self.has_zero and np.isclose(v, self.x0, rtol=1e-6)
            else f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())


def _figure_legend(fig, axes, ncols: int | None = None) -> None:
    """One legend for the whole figure, under the panels, with each label once."""
    if ncols is None:
        ncols = max(1, min(3, int(fig.get_figwidth() // 3.6)))
    seen: dict[str, object] = {}
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            seen.setdefault(lab, h)
    if seen:
        fig.legend(list(seen.values()), list(seen), loc="outside lower center", ncols=ncols,
                   frameon=False)


def _seed_points(ax, rows: list[dict], xs: list, axis_xs: list | None = None, max_ticks: int = 8,
                 **style):
    """Each row's values (one per seed or draw) as faint dots at its x on a zero-log axis (spanning
    `axis_xs`, default `xs`); the axis, the x positions, and the rows' means and standard
    deviations."""
    xa = ZeroLogAxis(axis_xs or xs, max_ticks=max_ticks)
    x = xa.x(xs)
    for r, xi in zip(rows, x, strict=True):
        ax.plot([xi] * len(r["values"]), r["values"], ".", color=COLORS[0], alpha=0.35, **style)
    return xa, x, np.array([r["mean"] for r in rows]), np.array([r["std"] for r in rows])


# --- section 1 ---------------------------------------------------------------------------------


def plot_accuracy(groups: list[dict], path: Path) -> Path:
    """Accuracy vs eps per (model, layer set): measured, predicted, mean field, ceiling."""
    with mpl.rc_context(STYLE):
        fig, axes = _figure(len(groups))
        for ax, g in zip(axes, groups, strict=True):
            rows = g["rows"]
            eps = [r["eps"] for r in rows]
            curve = g.get("ceiling_curve")
            xa, x, mean, std = _seed_points(ax, rows, eps, eps + ([0.5] if curve else []),
                                            max_ticks=12, ms=5, zorder=2)
            ax.errorbar(x, mean, yerr=std, fmt="o-", color=COLORS[0], capsize=3, lw=1.8,
                        label="measured (mean ± std over seeds)",
                        zorder=3)
            pred = [r["predicted"] for r in rows]
            if any(p is not None for p in pred):
                ok = [i for i, p in enumerate(pred) if p is not None]
                ax.plot(x[ok], [pred[i] for i in ok], "s--", color=COLORS[1], lw=1.5, ms=5,
                        label="Monte Carlo i.i.d. flips (theory.predict_accuracy)")
                mf = [rows[i]["mean_field"] for i in ok]
                ax.plot(x[ok], mf, "^:", color=COLORS[4], lw=1.5, ms=5,
                        label="pure mean field (independent flips)")
                an = [(i, rows[i].get("analytic")) for i in ok if rows[i].get("analytic")]
                if an:
                    ax.plot(x[[i for i, _ in an]], [v for _, v in an], "D-.", color=COLORS[2],
                            lw=1.5, ms=5, label="analytic mean field (pairwise correlations)")
                same = [(i, rows[i].get("measured_same_images")) for i in ok
                        if rows[i].get("measured_same_images") is not None]
                if same:
                    ax.plot(x[[i for i, _ in same]], [v for _, v in same], "x", color=COLORS[0],
                            ms=7, label="measured on the predictors' images")
            ceil = [r["ceiling"] for r in rows]
            if curve:
                xc, yc = xa.x(curve["eps"]), np.array(curve["ceiling"])
                ax.plot(xc, yc, "k-", lw=2, label="Fano/SDPI ceiling (any decoder)")
                ax.fill_between(xc, yc, 1.01, color="0.6", alpha=0.25, lw=0,
                                label="above the ceiling: impossible")
            elif any(c is not None for c in ceil):
                ok = [i for i, c in enumerate(ceil) if c is not None]
                xc, yc = x[ok], np.array([ceil[i] for i in ok])
                ax.plot(xc, yc, "k-", lw=2, label="Fano/SDPI ceiling (any decoder)")
                ax.fill_between(xc, yc, 1.01, color="0.6", alpha=0.25, lw=0,
                                label="above the ceiling: impossible")
            if g.get("clean_off") is not None:
                ax.axhline(g["clean_off"], color="0.4", ls="-.", lw=1,
                           label="clean accuracy (mode off)")
            xa.setup(ax, "flip probability eps per hidden neuron (log scale)")
            ax.set_ylabel("test accuracy")
            lo = min([*mean - std, *[p for p in pred if p is not None],
                      *(curve["ceiling"] if curve else [])], default=0.0)
            ax.set_ylim(max(0.0, lo - 0.05), 1.01)
            _pct(ax)
            ax.set_title(f"{g['model']}: noisy layers {g['layers']} "
                         f"(widths {'-'.join(map(str, g['noisy_widths'])) or '?'})")
        _figure_legend(fig, axes)
        return _save(fig, path)


# --- section 2 ---------------------------------------------------------------------------------


def plot_flip_rates(entries: list[dict], path: Path) -> Path:
    """Per model: predicted vs measured scatter, and flip rate vs layer per eps."""
    with mpl.rc_context(STYLE):
        fig, axes = _figure(2 * len(entries), ncols=2)
        for i, e in enumerate(entries):
            ax, ax2 = axes[2 * i], axes[2 * i + 1]
            pts = e["points"]
            eps_list = sorted({p["eps"] for p in pts})
            layers = sorted({p["layer"] for p in pts})
            allv = [v for p in pts for v in (p["measured"], p["predicted"]) if v > 0]
            lo, hi = (min(allv) / 1.5, max(allv) * 1.5) if allv else (1e-3, 1.0)
            ax.plot([lo, hi], [lo, hi], color="0.3", lw=1, label="y = x (perfect agreement)")
            for p in pts:
                c = COLORS[layers.index(p["layer"]) % len(COLORS)]
                m = MARKERS[eps_list.index(p["eps"]) % len(MARKERS)]
                ax.errorbar(p["predicted"], p["measured"], yerr=p["measured_std"], fmt=m,
                            color=c, ms=7, capsize=2, mec="k", mew=0.5)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlim(lo, hi)
            ax.set_ylim(lo, hi)
            ax.set_xlabel("predicted flip rate (mean field)")
            ax.set_ylabel("measured flip rate (sim, vs clean run)")
            ax.set_title(f"{e['model']}: predicted vs measured, {e['images']} images")
            handles = [Line2D([], [], color="0.3", lw=1, label="y = x")]
            handles += [Line2D([], [], ls="", marker="o", color=COLORS[layers.index(l_) % 8],
                               label=f"hidden layer {l_}") for l_ in layers]
            handles += [Line2D([], [], ls="", marker=MARKERS[j % 8], color="0.5",
                               label=f"eps = {ep:g}") for j, ep in enumerate(eps_list)]
            ax.legend(handles=handles, loc="upper left")
            for j, ep in enumerate(eps_list):
                sel = sorted((p for p in pts if p["eps"] == ep), key=lambda p: p["layer"])
                lx = [p["layer"] for p in sel]
                c = COLORS[j % len(COLORS)]
                ax2.errorbar(lx, [p["measured"] for p in sel],
                             yerr=[p["measured_std"] for p in sel], fmt="o-", color=c, capsize=3,
                             label=f"eps={ep:g} measured")
                ax2.plot(lx, [p["predicted"] for p in sel], "s--", color=c, alpha=0.8, ms=5,
                         label=f"eps={ep:g} mean field")
                ax2.plot(lx, [p["mc_iid"] for p in sel], "x:", color=c, alpha=0.8, ms=6)
            ax2.plot([], [], "kx:", label="i.i.d. Monte Carlo (any eps)")
            ax2.set_yscale("log")
            ax2.set_xticks(layers)
            ax2.set_xlabel("hidden layer (0 = first)")
            ax2.set_ylabel("fraction of outputs that differ from clean")
            ax2.set_title(f"{e['model']}: flip rate by layer")
        _figure_legend(fig, axes[1::2], ncols=4 if len(axes) > 1 else 2)
        return _save(fig, path)


# --- section 3 ---------------------------------------------------------------------------------


def plot_tradeoff(section: dict, path: Path) -> Path:
    """Least neurons per layer vs depth, one panel per eps, our models as markers."""
    target = section["target_accuracy"]
    curves = section["curves"]
    with mpl.rc_context(STYLE):
        fig, axes = _figure(len(curves), ncols=2, panel=(6.2, 4.6))
        for ax, c in zip(axes, curves, strict=True):
            d = np.array(c["depth"], float)
            w = np.array([np.inf if v is None else v for v in c["min_width"]])
            tot = np.array([np.inf if v is None else v for v in c["min_total_neurons"]])
            finite = np.isfinite(w)
            if finite.any():
                ax.plot(d[finite], w[finite], "-", color=COLORS[1], lw=2.2,
                        label="least width per layer (uniform widths)")
                ax.fill_between(d[finite], 0.5, w[finite], color=COLORS[1], alpha=0.12, lw=0,
                                label=f"no network here reaches {target:.0%}")
                ft = np.isfinite(tot)
                ax.plot(d[ft], tot[ft] / d[ft], "--", color=COLORS[0], lw=1.6,
                        label="least total neurons / depth (any profile)")
            else:
                ax.text(0.5, 0.5, f"impossible at eps={c['eps']:g}:\nno width reaches "
                        f"{target:.0%}", transform=ax.transAxes, ha="center", va="center",
                        fontsize=12, color=COLORS[1])
            ymax = max([*w[finite], 1.0]) * 3
            same_place: dict[tuple, int] = {}  # models of one shape: nudge marker, stack labels
            for j, m in enumerate(c["models"]):
                mk = next(x for x in section["markers"] if x["model"] == m["model"])
                pos = (mk["depth"], mk["mean_width"])
                k = same_place.get(pos, 0)
                same_place[pos] = k + 1
                acc = m["measured"]
                color = "0.5" if acc is None else (COLORS[2] if acc >= target else COLORS[1])
                ax.plot(pos[0] * 1.25 ** k, pos[1], MARKERS[j % 8], color=color, ms=10,
                        mec="k", zorder=5)
                txt = f"{m['model']}: " + ("not measured" if acc is None
                                           else f"{100 * acc:.1f} %")
                ax.annotate(txt, (pos[0] * 1.25 ** k, pos[1]), xytext=(10, 8 + 15 * k),
                            textcoords="offset points", fontsize=9, color="k",
                            arrowprops=None)
                ymax = max(ymax, mk["mean_width"] * 6)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_ylim(0.8, ymax)
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.set_xlabel("depth: number of noisy hidden layers")
            ax.set_ylabel("neurons per layer")
            ax.set_title(f"eps = {c['eps']:g}: lower bound for {target:.0%} accuracy")
        for j, mk in enumerate(section["markers"]):  # marker shape -> model, once
            axes[0].plot([], [], MARKERS[j % 8], color="0.8", mec="k", ms=8,
                         label=f"{mk['model']} (green: measured ≥ {target:.0%}, red: below)")
        _figure_legend(fig, axes)
        return _save(fig, path)


# --- section 4 ---------------------------------------------------------------------------------


def plot_stuck(groups: list[dict], path: Path) -> Path:
    """Accuracy vs crashed neurons per layer, with the certified and FEP lower bounds."""
    with mpl.rc_context(STYLE):
        fig, axes = _figure(len(groups))
        for ax, g in zip(axes, groups, strict=True):
            rows = g["rows"]
            ks = [r["k"] for r in rows]
            xa, x, mean, std = _seed_points(ax, rows, ks)
            ax.errorbar(x, mean, yerr=std, fmt="o-", color=COLORS[0], capsize=3, lw=1.8,
                        label="measured (mean ± std over fault draws)")
            cert = [r["certified"] for r in rows]
            if any(c is not None for c in cert):
                ok = [i for i, c in enumerate(cert) if c is not None]
                ax.plot(x[ok], [cert[i] for i in ok], "v-", color=COLORS[2], lw=2,
                        label="certified robust fraction (sound lower bound)")
                ax.fill_between(x[ok], -0.02, [cert[i] for i in ok], color=COLORS[2],
                                alpha=0.12, lw=0, label="below the certificate: impossible")
                ax.plot(x[ok], [rows[i]["fep"] for i in ok], "D--", color=COLORS[4], lw=1.5,
                        label="FEP robust fraction (heuristic for sign nets)")
            if g.get("theory_clean_accuracy") is not None:
                ax.axhline(g["theory_clean_accuracy"], color="0.4", ls="-.", lw=1,
                           label="clean accuracy (no fault)")
            xa.setup(ax, "crashed neurons per noisy layer k (log scale)")
            ax.set_ylabel("test accuracy")
            ax.set_ylim(-0.02, 1.02)
            _pct(ax)
            ax.set_title(f"{g['model']}: {g['mode']} in layers {g['layers']}, "
                         f"{g['n_images']} images")
        _figure_legend(fig, axes)
        return _save(fig, path)


# --- section 5 ---------------------------------------------------------------------------------


def plot_geometry(entries: list[dict], asymptotic: float, path: Path) -> Path:
    """Histograms, per layer, of the angle between each latent weight row and its binarization."""
    n = sum(len(e["layers"]) for e in entries)
    finite = [a[np.isfinite(a)] for e in entries for a in e["_angles"]]
    lo = min([asymptotic, 30.0, *[float(a.min()) for a in finite if a.size]]) - 3
    hi = max([asymptotic, *[float(a.max()) for a in finite if a.size]]) + 3
    bins = np.linspace(max(0.0, lo), min(90.0, hi), 40)
    with mpl.rc_context(STYLE):
        fig, axes = _figure(n, ncols=4, panel=(3.8, 3.0))
        k = 0
        for e in entries:
            for layer, ang in zip(e["layers"], e["_angles"], strict=True):
                ax = axes[k]
                k += 1
                ax.hist(ang[np.isfinite(ang)], bins=bins, color=COLORS[0], alpha=0.7,
                        label="latent weight row vs its sign (one per neuron)")
                ax.axvline(layer["gaussian_angle"], color="k", lw=1.8,
                           label="Gaussian rows of this fan-in (Anderson & Berg)")
                ax.axvline(asymptotic, color="0.4", ls="--", lw=1.2,
                           label=f"d → ∞ limit {asymptotic:.1f}°")
                ax.axvline(30.0, color=COLORS[1], ls=":", lw=1.6,
                           label="uniform rows (the U(−1, 1) initialisation): 30°")
                ax.set_xlabel("angle (degrees)")
                ax.set_ylabel("neurons")
                ax.set_title(f"{e['model']}, {layer['layer']} (fan-in {layer['fan_in']})",
                             fontsize=10)
        _figure_legend(fig, axes[:1])
        return _save(fig, path)


def plot_activation_geometry(entries: list[dict], asymptotic: float, path: Path) -> Path:
    """Histograms of the angle between pre-activation vectors and their sign, per layer (the
    figure of the geometry section when no measured model kept its latent weights)."""
    n = sum(len(e["layers"]) for e in entries)
    finite = [a[np.isfinite(a)] for e in entries for pair in e["_angles"] for a in pair]
    lo = min([asymptotic, *[float(a.min()) for a in finite if a.size]]) - 4
    hi = max([asymptotic, *[float(a.max()) for a in finite if a.size]]) + 4
    bins = np.linspace(max(0.0, lo), min(90.0, hi), 50)
    with mpl.rc_context(STYLE):
        fig, axes = _figure(n, ncols=3, panel=(4.6, 3.4))
        k = 0
        for e in entries:
            for layer, (raw, cen) in zip(e["layers"], e["_angles"], strict=True):
                ax = axes[k]
                k += 1
                ax.hist(raw[np.isfinite(raw)], bins=bins, color=COLORS[0], alpha=0.6,
                        label="angle of W x − T (what the neuron binarizes)")
                ax.hist(cen[np.isfinite(cen)], bins=bins, histtype="step", color=COLORS[1],
                        lw=1.6, label="angle after centring each neuron over images")
                ax.axvline(layer["expected_deg"], color="k", lw=1.8,
                           label="i.i.d. Gaussian prediction for this width")
                ax.axvline(asymptotic, color="0.4", ls="--", lw=1.2,
                           label=f"d → ∞ limit {asymptotic:.1f}°")
                ax.set_xlabel("angle to sign vector (degrees)")
                ax.set_ylabel("images")
                ax.set_title(f"{e['model']}, layer {layer['layer']} "
                             f"(width {layer['width']}: {layer['expected_deg']:.1f}°)",
                             fontsize=11)
        _figure_legend(fig, axes[:1])
        return _save(fig, path)


# --- section 6 ---------------------------------------------------------------------------------


def _pareto_line(ax, x, y, mask, label):
    idx = np.flatnonzero(mask)
    order = idx[np.argsort(x[idx])]
    ax.plot(x[order], y[order], "-", color="k", lw=1.3, zorder=2, label=label)
    ax.plot(x[order], y[order], "o", ms=12, mfc="none", mec="k", mew=1.5, zorder=4)


def _design_scatter(ax, df, xcol, target):
    fits = df["fits"].to_numpy(bool) if "fits" in df else np.ones(len(df), bool)
    below = (df["below_min_neurons"].fillna(False).to_numpy(bool)
             if "below_min_neurons" in df else np.zeros(len(df), bool))
    x, y = df[xcol].to_numpy(float), df["accuracy"].to_numpy(float)
    ok = fits & ~below
    ax.scatter(x[ok], y[ok], s=32, color=COLORS[0], zorder=3,
               label="fits the board" if "fits" in df else "design")
    if (~fits).any():
        ax.scatter(x[~fits], y[~fits], s=44, marker="x", color="0.35", zorder=3,
                   label="does not fit the board")
    if below.any():
        ax.scatter(x[below], y[below], s=60, marker="v", color=COLORS[1], zorder=5,
                   label="fewer noisy neurons than the theory's minimum")
    ax.axhline(target, color="0.3", ls=":", lw=1, label=f"target accuracy {target:.0%}")


def plot_design(section: dict, path: Path) -> Path:
    """Accuracy under noise vs LUT and vs FPS with Pareto fronts; neurons vs the theory line."""
    df = section["_df"]
    target = section["target_accuracy"]
    eps_txt = ", ".join(f"{e:g}" for e in section["eps_values"]) or "?"
    n = 3 if section["has_theory"] else 2
    with mpl.rc_context(STYLE):
        fig, axes = _figure(n, ncols=2, panel=(6.2, 4.4))
        for ax, col, xlabel, what in (
                (axes[0], "lut", "LUTs (FINN estimate, log scale)", "LUT"),
                (axes[1], "fps", "throughput (frames / s, log scale)", "FPS")):
            _design_scatter(ax, df, col, target)
            _pareto_line(ax, df[col].to_numpy(float), df["accuracy"].to_numpy(float),
                         df[f"pareto_{col}"].to_numpy(bool), "Pareto front (circled)")
            ax.set_xscale("log")
            ax.set_xlabel(xlabel)
            ax.set_ylabel(f"accuracy under noise (eps={eps_txt})")
            ax.set_title(f"accuracy vs {what}")
            _pct(ax)
        if n == 3:
            ax = axes[2]
            depths = sorted(int(d) for d in df["depth"].dropna().unique())
            for j, d in enumerate(depths):
                sel = df[df["depth"] == d]
                c = COLORS[(j + 2) % len(COLORS)]
                ax.scatter(sel["neurons"], sel["accuracy"], color=c, s=32, zorder=3,
                           marker=MARKERS[j % len(MARKERS)], label=f"depth {d} designs")
                mins = sorted(v for v in sel["min_neurons"].dropna().unique() if np.isfinite(v))
                for v in mins:
                    ax.axvline(v, color=c, ls="--", lw=1.5,
                               label=f"depth {d}: theory minimum {v:g} neurons")
            ax.axhline(target, color="0.3", ls=":", lw=1, label=f"target accuracy {target:.0%}")
            ax.set_xscale("log")
            ax.set_xlabel("noisy hidden neurons (width × depth, log scale)")
            ax.set_ylabel(f"accuracy under noise (eps={eps_txt})")
            _pct(ax)
            ax.set_title(f"neurons vs accuracy; dashed: least neurons for {target:.0%}")
            ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False)
        _figure_legend(fig, axes[:2])
        return _save(fig, path)
