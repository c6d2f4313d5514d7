"""The numbers of each report section: measurements from the table beside the theory.

Each ``*_section`` function returns a plain, JSON-serialisable dict (what the page, the plots and
the report's JSON show) plus, under keys starting with ``_``, arrays only the plots need. Nothing
here draws or writes HTML. The expensive theory calls go through :class:`TheoryCache`, a JSON
file keyed by the twin's SHA-256 and the operating point, so a second report over the same builds
is fast.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from noisybnn import theory
from noisybnn.report.models import DataCache, ModelInfo, label_entropy
from noisybnn.report.options import ReportOptions

log = logging.getLogger(__name__)

#: Tolerance of the bound checks (float rounding only; a bound is a bound).
BOUND_TOL = 1e-9
#: A ceiling within this of 1 cannot be tested by any measurement: the check is vacuous.
VACUOUS_SLACK = 1e-6
GROUP_COLUMNS = ["model", "layers", "dataset", "split", "n_images"]


# --- cache -------------------------------------------------------------------------------------


class TheoryCache:
    """JSON cache of theory results next to the report; a corrupt or missing file starts empty."""

    VERSION = 1

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.data: dict = {}
        self.hits = 0
        self.misses = 0
        if self.path.is_file():
            try:
                obj = json.loads(self.path.read_text())
                if obj.get("version") == self.VERSION:
                    self.data = dict(obj.get("entries", {}))
            except (OSError, json.JSONDecodeError, AttributeError):
                log.warning("ignoring unreadable theory cache %s", self.path)

    @staticmethod
    def key(*parts) -> str:
        return "|".join(repr(p) if isinstance(p, float) else str(p) for p in parts)

    def get(self, key: str, fn: Callable, *args, **kwargs):
        """The cached value of `key`, else ``fn(*args, **kwargs)`` (stored; JSON-serialisable)."""
        if key in self.data:
            self.hits += 1
            return self.data[key]
        self.misses += 1
        value = fn(*args, **kwargs)
        self.data[key] = value
        return value

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps({"version": self.VERSION, "entries": self.data}, indent=0,
                                  sort_keys=True))
        os.replace(tmp, self.path)


# --- helpers -----------------------------------------------------------------------------------


def realised_eps(rows: pd.DataFrame) -> float:
    """The flip probability the injectors realise (threshold / 2^16), from the table."""
    from noisybnn.hw import p_from_threshold, threshold_from_p

    thr = rows["threshold"].dropna()
    if len(thr):
        return float(p_from_threshold(int(thr.iloc[0])))
    return float(p_from_threshold(threshold_from_p(float(rows["eps"].iloc[0]))))


def seed_stats(values: pd.Series) -> dict:
    v = np.asarray(values, dtype=float)
    return {"n_seeds": int(v.size), "mean": float(v.mean()),
            "std": float(v.std(ddof=1)) if v.size > 1 else 0.0,
            "min": float(v.min()), "max": float(v.max()), "values": [float(a) for a in v]}


def _none_if_nan(x):
    return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else x


def _layer_tuple(info: ModelInfo, layers: str) -> tuple[int, ...] | None:
    if str(layers).lower() in ("all", ""):
        return None
    return tuple(info.injector_ids[i] for i in info.active_injectors(layers))


class Context:
    """What every section needs: the table, the models, the data, the options and the cache."""

    def __init__(self, df: pd.DataFrame, models: dict[str, ModelInfo], data: DataCache,
                 opts: ReportOptions, cache: TheoryCache):
        self.df = df
        self.models = models
        self.data = data
        self.opts = opts
        self.cache = cache
        self._parity: dict[tuple, dict] = {}

    def images(self, dataset: str, split: str, n: int):
        """(images, labels) or None with the reason logged into `notes` by the caller."""
        return self.data.get(dataset, split, n)

    def n_theory(self, n_images: int, info: ModelInfo | None = None) -> int:
        cap = (self.opts.conv_theory_images if info is not None and info.convolutional
               else self.opts.theory_images)
        return int(min(n_images, cap))

    def draws(self, info: ModelInfo, n: int) -> int:
        """Monte Carlo draws per image for this model (fewer for convolutional ones)."""
        return int(min(n, self.opts.conv_n_draws)) if info.convolutional else int(n)

    def parity(self, info: ModelInfo, dataset: str, split: str, n: int) -> dict:
        """Does the theory network reproduce the accelerator's clean predictions?"""
        key = (info.name, dataset, split, n)
        if key not in self._parity:
            from noisybnn.backends.base import NoiseSetting, predict

            x, _ = self.images(dataset, split, n)
            acc = info.accelerator
            acc.configure_noise(NoiseSetting(mode="off"))
            sim_pred = predict(acc.execute(x))
            th_pred = theory.forward(info.network, info.binarize(x)).prediction
            agree = int((sim_pred == th_pred).sum())
            self._parity[key] = {"model": info.name, "dataset": dataset, "split": split,
                                 "images": n, "agree": agree, "ok": agree == n}
        return self._parity[key]

    @property
    def parities(self) -> list[dict]:
        return list(self._parity.values())


def group_data(ctx: Context, info: ModelInfo, dataset: str, split: str, n: int, notes: list):
    try:
        return ctx.images(dataset, split, n)
    except Exception as exc:  # noqa: BLE001 - a data set that cannot load only removes theory
        notes.append(f"{info.name}: cannot load {n} images of {dataset} {split} ({exc}); "
                     "the theory that needs test images is left out")
        return None


# --- section 1: accuracy vs eps ----------------------------------------------------------------


def accuracy_section(ctx: Context) -> dict:
    """Measured accuracy per eps (mean and spread over seeds) beside ceiling and prediction."""
    df = ctx.df
    flip = df[df["mode"] == "flip"]
    out = {"groups": [], "notes": [], "violations": []}
    if flip.empty:
        out["notes"].append("no flip-mode rows in the results: nothing to plot against eps")
        return out
    opts = ctx.opts
    for (model, layers, dataset, split, n_images), rows in flip.groupby(GROUP_COLUMNS, sort=True):
        info = ctx.models[model]
        group = {"model": model, "layers": layers, "dataset": dataset, "split": split,
                 "n_images": int(n_images), "rows": [], "notes": []}
        widths = info.noisy_widths(layers) if info.has_build else []
        noisy = info.noisy_hidden(layers) if info.has_build else []
        n_cls = info.n_classes
        group["noisy_widths"] = widths
        group["noisy_hidden_layers"] = noisy
        data = (group_data(ctx, info, dataset, split, int(n_images), group["notes"])
                if info.has_build and info.binary and widths else None)
        h_y = label_entropy(data[1], n_cls) if data is not None and n_cls else None
        group["label_entropy_bits"] = h_y
        can_ceiling = info.binary and bool(widths) and n_cls and h_y is not None
        if not info.has_build:
            group["notes"].append("no build: ceiling and prediction left out")
        elif not widths:
            group["notes"].append("no active injector in this layer set: no noise, no ceiling")
        can_predict = info.network is not None and data is not None and bool(noisy)
        n_sub = ctx.n_theory(int(n_images), info)
        n_draws = ctx.draws(info, opts.n_draws) if info.has_build else opts.n_draws
        method = mean_field_method(info)
        if can_predict and info.convolutional:
            group["notes"].append(
                f"convolutional: noisy widths are channels x pixels per layer (C x H x W units "
                f"per image); the theory runs on the first {n_sub} images with {n_draws} Monte "
                "Carlo draws each (each draw is a forward pass of the unrolled network)")
        if can_predict:
            x_sub, y_sub = data[0][:n_sub], data[1][:n_sub]
            xb_sub = info.binarize(x_sub)
            group["theory_images"] = n_sub
            group["parity"] = ctx.parity(info, dataset, split, n_sub)
            group["theory_clean_accuracy"] = float(
                np.mean(theory.forward(info.network, xb_sub).prediction == y_sub))
        for eps, erows in rows.groupby("eps", sort=True):
            eps_r = realised_eps(erows)
            stats = seed_stats(erows["accuracy"])
            row = {"eps": float(eps), "eps_realised": eps_r, **stats,
                   "seeds": [int(s) for s in erows["seed"]],
                   "ceiling": None, "gap": None, "predicted": None, "mean_field": None,
                   "analytic": None, "measured_same_images": None, "exceeds_ceiling": False}
            if can_ceiling:
                ceil = float(theory.accuracy_ceiling(widths, eps_r, n_cls, label_entropy=h_y))
                row["ceiling"] = ceil
                row["gap"] = ceil - stats["mean"]
                over = [v for v in stats["values"] if v > ceil + BOUND_TOL]
                if over:
                    row["exceeds_ceiling"] = True
                    out["violations"].append(
                        f"{model} (layers {layers}) at eps={eps:g}: measured accuracy "
                        f"{max(over):.4f} exceeds the Fano/SDPI ceiling {ceil:.4f}: a bug in the "
                        "measurement or a wrong bound")
            row["check"] = ("failed" if row["exceeds_ceiling"] else
                            None if row["ceiling"] is None else
                            check_status(row["ceiling"], VACUOUS_SLACK))
            if can_predict:
                base = (info.twin_sha256, tuple(noisy), dataset, split, n_sub, eps_r,
                        n_draws, opts.seed)
                args = (info.network, xb_sub, y_sub, eps_r, noisy)
                seeds = [int(s) for s in erows["seed"]]
                row["measured_same_images"] = ctx.cache.get(
                    TheoryCache.key("measured_subset", info.twin_sha256, layers, dataset, split,
                                    n_sub, float(eps), tuple(seeds)),
                    _measure_subset, info, x_sub, y_sub, float(eps), seeds,
                    _layer_tuple(info, layers))
                if (max(info.network.widths) <= opts.analytic_max_width
                        and eps_r <= opts.analytic_max_eps and not info.convolutional):
                    row["analytic"] = ctx.cache.get(
                        TheoryCache.key("analytic_accuracy", *base[:-2], "correlated"),
                        analytic_accuracy, *args)
                row["predicted"] = ctx.cache.get(
                    TheoryCache.key("predict_accuracy", *base, "tail=None"),
                    theory.predict_accuracy, *args, n_draws=n_draws, seed=opts.seed)
                row["mean_field"] = ctx.cache.get(
                    TheoryCache.key("predict_accuracy", *base, "tail=0", method),
                    theory.predict_accuracy, *args, exact_tail=0, n_draws=n_draws,
                    seed=opts.seed, method=method)
            group["rows"].append(row)
        if can_predict and max(info.network.widths) > opts.analytic_max_width:
            group["notes"].append(
                f"analytic mean field not computed: it carries a width x width covariance per "
                f"layer (widest noisy layer here {max(info.network.widths):,} units; limit "
                f"{opts.analytic_max_width})")
        clean_ref = next((r["mean"] for r in group["rows"] if r["eps"] == 0), None)
        for r in group["rows"]:  # a ceiling above the clean accuracy binds only if noise helped
            if r.get("check") == "passed" and clean_ref is not None and r["ceiling"] >= clean_ref:
                r["check"] = "vacuous"
        if can_ceiling:  # the ceiling over the whole eps range, up to 1/2, where it can bind
            grid = ceiling_grid([r["eps_realised"] for r in group["rows"]])
            curve = theory.accuracy_ceiling(widths, np.asarray(grid), n_cls, label_entropy=h_y)
            group["ceiling_curve"] = {"eps": grid, "ceiling": [float(c) for c in curve]}
            binds = [e for e, c in zip(grid, curve, strict=True) if c < 1.0 - VACUOUS_SLACK]
            group["ceiling_binds_from"] = binds[0] if binds else None
        off = df[(df["model"] == model) & (df["mode"] == "off") & (df["dataset"] == dataset)
                 & (df["split"] == split) & (df["n_images"] == n_images)]
        group["clean_off"] = float(off["accuracy"].mean()) if len(off) else None
        out["groups"].append(group)
    out["groups"].sort(key=lambda g: (g["model"], g["layers"] != "all", g["layers"]))
    return out


def mean_field_method(info: ModelInfo) -> str:
    """"exact" for MLPs (docs/theory.md §5.1); "auto" for CNNs: exact for max-pools and for
    layers whose inputs share one flip rate, Gaussian for the other conv layers and for wide fc
    layers (the exact lattice of a conv layer with unequal input rates is not affordable)."""
    return "auto" if info.convolutional else "exact"


def check_status(ceiling: float, slack: float) -> str:
    """"vacuous" for a ceiling within `slack` of 1 (no measurement can test it), else "passed"
    (the caller has already found the measurement at or below it)."""
    return "vacuous" if ceiling >= 1.0 - slack else "passed"


def ceiling_grid(measured_eps: list[float]) -> list[float]:
    """eps values for the ceiling curve: the measured ones plus a grid up to 1/2."""
    pos = [e for e in measured_eps if e > 0]
    lo = min(pos, default=0.01)
    dense = np.geomspace(lo, 0.5, 40)
    return sorted({*(float(e) for e in pos), *(float(e) for e in dense), 0.3, 0.4, 0.45, 0.49})


def _measure_subset(info: ModelInfo, x: np.ndarray, y: np.ndarray, eps: float, seeds: list[int],
                    layers: tuple[int, ...] | None) -> float:
    """Accelerator accuracy on the theory images (the sweep's seeds; each seed's injector
    stream starts at the first image, so these are the sweep's own flips on those images)."""
    from noisybnn.backends.base import NoiseSetting, predict

    acc = info.accelerator
    out = []
    for seed in seeds:
        acc.configure_noise(NoiseSetting(mode="flip", p=eps, seed=int(seed), layers=layers))
        out.append(float(np.mean(predict(acc.execute(x)) == y)))
    return float(np.mean(out))


def analytic_accuracy(net, xb, y, eps, noisy) -> float:
    from noisybnn.theory.correlated import analytic_accuracy as fn

    return fn(net, xb, y, eps, noisy)


# --- section 2: per-layer flip rates -----------------------------------------------------------


def _pick_eps(available: list[float], preferred: tuple[float, ...], limit: int = 4) -> list[float]:
    pos = sorted(e for e in available if e > 0)
    if not pos:
        return []
    picked = []
    for target in preferred:
        if target <= 0:
            continue
        best = min(pos, key=lambda e, t=target: abs(math.log(e) - math.log(t)))
        if best not in picked:
            picked.append(best)
    for e in pos[::-1]:  # not enough distinct: add the largest ones
        if len(picked) >= limit:
            break
        if e not in picked:
            picked.append(e)
    return sorted(picked[:limit])


def _measure_flip_rates(info: ModelInfo, x: np.ndarray, clean: list[np.ndarray], eps: float,
                        seed: int, layers: tuple[int, ...] | None) -> list[float]:
    from noisybnn.backends.base import NoiseSetting

    acc = info.accelerator
    acc.configure_noise(NoiseSetting(mode="flip", p=eps, seed=int(seed), layers=layers))
    noisy = acc.hidden_activations(x)
    return [float(np.mean((n > 0) != c)) for n, c in zip(noisy, clean, strict=True)]


def flip_rate_section(ctx: Context) -> dict:
    """Fraction of hidden outputs that differ from the clean run, measured vs mean field."""
    from noisybnn.backends.base import NoiseSetting

    opts = ctx.opts
    out = {"models": [], "notes": []}
    flip = ctx.df[ctx.df["mode"] == "flip"]
    if flip.empty:
        out["notes"].append("no flip-mode rows: no flip rates to measure")
        return out
    for model in sorted(flip["model"].unique()):
        info = ctx.models[model]
        if info.network is None:
            out["notes"].append(f"{model}: no theory network (see the model notes); skipped")
            continue
        mrows = flip[flip["model"] == model]
        groups = list(mrows.groupby(GROUP_COLUMNS, sort=True))
        groups.sort(key=lambda g: (g[0][1] != "all", -g[0][4]))  # layers "all" first, most images
        (_, layers, dataset, split, n_images), rows = groups[0]
        noisy_idx = info.active_injectors(layers)
        if not noisy_idx:
            continue
        data = group_data(ctx, info, dataset, split, int(n_images), out["notes"])
        if data is None:
            continue
        n_sub = ctx.n_theory(int(n_images), info)
        x, y = data[0][:n_sub], data[1][:n_sub]
        xb = info.binarize(x)
        mc_draws = ctx.draws(info, opts.mc_draws)
        method = mean_field_method(info)
        pools = _pools_after_injectors(info)
        eps_list = (_pick_eps(sorted(rows["eps"].unique()), opts.tradeoff_eps)
                    if opts.flip_rate_eps is None else list(opts.flip_rate_eps))
        seeds = sorted(int(s) for s in rows["seed"].unique())[: opts.flip_rate_seeds]
        noisy_hidden = info.noisy_hidden(layers)
        layer_t = _layer_tuple(info, layers)
        acc = info.accelerator
        acc.configure_noise(NoiseSetting(mode="off"))
        clean = [a > 0 for a in acc.hidden_activations(x)]
        entry = {"model": model, "layers": layers, "dataset": dataset, "split": split,
                 "images": n_sub, "seeds": seeds, "points": [], "pools": [],
                 "mean_field_method": method, "mc_draws": mc_draws}
        for eps in eps_list:
            erows = rows[np.isclose(rows["eps"], eps)]
            eps_r = realised_eps(erows) if len(erows) else float(eps)
            measured = []
            for seed in seeds:
                key = TheoryCache.key("measured_flip_rates", info.twin_sha256, layers, dataset,
                                      split, n_sub, float(eps), seed)
                measured.append(ctx.cache.get(key, _measure_flip_rates, info, x, clean, eps,
                                              seed, layer_t))
            measured = np.asarray(measured)  # (seeds, injectors)
            base = (info.twin_sha256, tuple(noisy_hidden), dataset, split, n_sub, eps_r)
            mf = ctx.cache.get(TheoryCache.key("mean_field_flip_rates", *base,
                                               *(() if method == "exact" else (method,))),
                               _mean_field_layer_rates, info.network, xb, eps_r, noisy_hidden,
                               method)
            mc = ctx.cache.get(TheoryCache.key("simulate_noisy", *base, mc_draws, opts.seed),
                               _iid_layer_rates, info.network, xb, y, eps_r, noisy_hidden,
                               mc_draws, opts.seed)
            if pools:
                per_seed = [ctx.cache.get(TheoryCache.key("measured_pool_flips", info.twin_sha256,
                                                          layers, dataset, split, n_sub,
                                                          float(eps), seed),
                                          _measure_pool_flips, info, x, clean, eps, seed,
                                          layer_t, pools)
                            for seed in seeds]
            for j, (pool_idx, inj) in enumerate(pools):
                got = [ps[j] for ps in per_seed]
                entry["pools"].append({
                    "eps": float(eps), "layer": pool_idx, "after_injector": info.injector_ids[inj],
                    "width": info.network.hidden[pool_idx].n_out, "seeds": got,
                    "in_flip_rate": float(np.mean([g["in_flip_rate"] for g in got])),
                    "out_flip_rate": float(np.mean([g["out_flip_rate"] for g in got])),
                    "survival_per_input_flip": _mean_or_none(
                        [g["survival_per_input_flip"] for g in got]),
                    "mean_field": float(mf[pool_idx]), "mc_iid": float(mc[pool_idx]),
                    "by_plus_count": got[0]["by_plus_count"]})
            counters = _counter_rates(info, erows)
            for inj in range(len(info.injector_ids)):
                if inj not in noisy_idx and not np.any(measured[:, inj]):
                    continue  # a noise-free layer that no upstream flip reached
                hid = info.injector_hidden[inj]
                m = measured[:, inj]
                entry["points"].append({
                    "eps": float(eps), "eps_realised": eps_r, "layer": hid,
                    "injector": info.injector_ids[inj], "width": info.injector_widths[inj],
                    "measured": float(m.mean()),
                    "measured_std": float(m.std(ddof=1)) if m.size > 1 else 0.0,
                    "predicted": float(mf[hid]), "mc_iid": float(mc[hid]),
                    "injector_rate_counters": _none_if_nan(counters[inj]),
                    "rel_error": (float((mf[hid] - m.mean()) / m.mean()) if m.mean() > 0
                                  else None),
                    "mc_rel_error": (float((mc[hid] - m.mean()) / m.mean()) if m.mean() > 0
                                     else None),
                })
        for name, col in (("", "rel_error"), ("mc_", "mc_rel_error")):
            rel = [abs(p[col]) for p in entry["points"] if p[col] is not None]
            entry[f"{name}mean_abs_rel_error"] = float(np.mean(rel)) if rel else None
            entry[f"{name}max_abs_rel_error"] = float(np.max(rel)) if rel else None
        out["models"].append(entry)
    return out


def _mean_field_layer_rates(net, xb, eps, noisy, method: str = "exact") -> list[float]:
    return [float(q.mean()) for q in theory.mean_field_flip_rates(net, xb, eps, noisy,
                                                                   method=method)]


def _mean_or_none(values: list) -> float | None:
    vals = [v for v in values if v is not None]
    return float(np.mean(vals)) if vals else None


def _pools_after_injectors(info: ModelInfo) -> list[tuple[int, int]]:
    """(theory hidden index of each max-pool, the injector that feeds it)."""
    from noisybnn.theory.conv import MaxPoolLayer

    out = []
    for i, layer in enumerate(info.network.hidden if info.network is not None else ()):
        if isinstance(layer, MaxPoolLayer) and i - 1 in info.injector_hidden:
            out.append((i, info.injector_hidden.index(i - 1)))
    return out


def _measure_pool_flips(info: ModelInfo, x: np.ndarray, clean: list[np.ndarray], eps: float,
                        seed: int, layers: tuple[int, ...] | None,
                        pools: list[tuple[int, int]]) -> list[dict]:
    """What each max-pool does to the accelerator's own flips: its input is the injector's
    output (traced), its output the OR of each window, clean vs noisy
    (`theory.conv.pool_survival`); one run of the accelerator for every pool."""
    from noisybnn.backends.base import NoiseSetting
    from noisybnn.theory.conv import pool_survival

    acc = info.accelerator
    acc.configure_noise(NoiseSetting(mode="flip", p=eps, seed=int(seed), layers=layers))
    noisy = acc.hidden_activations(x)
    out = []
    for pool_idx, inj in pools:
        got = pool_survival(clean[inj].astype(np.int8), noisy[inj], info.network.hidden[pool_idx])
        got["by_plus_count"] = {str(k): v for k, v in got["by_plus_count"].items()}
        out.append(got)
    return out


def _iid_layer_rates(net, xb, y, eps, noisy, n_draws: int, seed: int) -> list[float]:
    sim = theory.simulate_noisy(net, xb, y, eps, noisy, n_draws=n_draws, seed=seed)
    return [float(r) for r in sim.layer_flip_rates]


def _counter_rates(info: ModelInfo, erows: pd.DataFrame) -> list[float]:
    """Injector-only flip rate per injector from the table's hardware counters (mean over rows)."""
    n_inj = len(info.injector_ids)
    rates = []
    for _, r in erows.iterrows():
        parts = [p for p in str(r["flips_per_layer"]).split(";") if p.strip()]
        if len(parts) != n_inj:
            continue
        rates.append([float(p) / (r["n_images"] * w * b) for p, w, b in
                      zip(parts, info.injector_widths, info.injector_bits, strict=True)])
    if not rates:
        return [float("nan")] * n_inj
    return list(np.mean(rates, axis=0))


# --- section 3: neurons vs depth ---------------------------------------------------------------


def _depths(max_depth: int) -> list[int]:
    out, d = [], 1
    while d <= max_depth:
        out.append(d)
        d = d + 1 if d < 4 else int(round(d * 1.5))
    if out[-1] != max_depth:
        out.append(max_depth)
    return out


def tradeoff_section(ctx: Context) -> dict:
    """Least width / total neurons per depth for the target at several eps, with our models."""
    opts = ctx.opts
    classes = sorted({m.n_classes for m in ctx.models.values() if m.n_classes})
    n_cls = classes[0] if classes else 10
    notes = []
    if len(classes) > 1:
        notes.append(f"the models have different class counts {classes}; curves use {n_cls}")
    if not classes:
        notes.append("no model build gave a class count; the curves assume 10 classes")
    markers = []
    flip = ctx.df[(ctx.df["mode"] == "flip") & (ctx.df["layers"] == "all")]
    for info in ctx.models.values():
        if not info.has_build or not info.binary:
            continue
        widths = info.noisy_widths("all")
        if not widths:
            continue
        rows = flip[flip["model"] == info.name]
        measured = {}
        for eps in opts.tradeoff_eps:
            sel = rows[np.isclose(rows["eps"], eps)]
            if len(sel):
                measured[repr(eps)] = float(sel["accuracy"].mean())
        markers.append({"model": info.name, "depth": len(widths), "widths": widths,
                        "mean_width": float(np.mean(widths)), "total": int(np.sum(widths)),
                        "measured": measured})
    h_y, h_note = _empirical_entropy(ctx, n_cls)
    deepest = max([m["depth"] for m in markers], default=1)
    depths = _depths(max(opts.max_depth, deepest + 2))
    curves = []
    violations = []
    for eps in opts.tradeoff_eps:
        curve = theory.tradeoff_curve(depths, eps, opts.target_accuracy, n_cls, label_entropy=h_y)
        c = {"eps": eps, "depth": depths,
             "min_width": [_none_if_nan(float(v)) for v in curve.min_width],
             "min_total_neurons": [_none_if_nan(float(v)) for v in curve.min_total_neurons],
             "models": []}
        for m in markers:
            need_total = float(theory.min_total_neurons(m["depth"], eps, opts.target_accuracy,
                                                        n_cls, label_entropy=h_y))
            need_width = float(theory.min_width(m["depth"], eps, opts.target_accuracy, n_cls,
                                                label_entropy=h_y))
            acc = m["measured"].get(repr(eps))
            below = m["total"] < need_total
            c["models"].append({"model": m["model"], "need_total": _none_if_nan(need_total),
                                "need_width": _none_if_nan(need_width), "below": bool(below),
                                "measured": acc})
            if below and acc is not None and acc >= opts.target_accuracy:
                violations.append(f"{m['model']} has {m['total']} noisy neurons, fewer than the "
                                  f"{need_total:g} the theory requires for "
                                  f"{opts.target_accuracy:.0%} at eps={eps:g}, yet measured "
                                  f"{acc:.2%}")
        curves.append(c)
    return {"target_accuracy": opts.target_accuracy, "n_classes": n_cls, "curves": curves,
            "markers": markers, "notes": notes, "violations": violations,
            "label_entropy": h_note, "label_entropy_bits": h_y}


def _empirical_entropy(ctx: Context, n_cls: int) -> tuple[float | None, str]:
    """H(Y) of the labels the sweep measured (its largest split), and how it was obtained.
    log2 C (equiprobable classes) only where no labels can be loaded: with skewed labels it
    gives an invalid ceiling."""
    rows = ctx.df.sort_values("n_images", ascending=False)
    for _, r in rows.iterrows():
        try:
            _, y = ctx.images(r["dataset"], r["split"], int(r["n_images"]))
        except Exception:  # noqa: BLE001 - fall back to log2 C, and say so
            continue
        h = label_entropy(y, n_cls)
        return h, (f"{h:.4f} bits: the empirical entropy of the {int(r['n_images'])} "
                   f"{r['dataset']} {r['split']} labels measured")
    return None, "log2(classes): no labels could be loaded (valid for equiprobable classes only)"


# --- section 5: geometry -----------------------------------------------------------------------


def _checkpoint_of(info: ModelInfo, notes: list) -> Path | None:
    """The checkpoint a build was compiled from (its manifest), checked against the SHA-256 the
    manifest recorded; None (with a note) when it is gone or has changed since the build."""
    from noisybnn.fingerprint import file_sha256

    name = info.manifest.get("checkpoint")
    if not name:
        notes.append(f"{info.name}: the build's manifest names no checkpoint")
        return None
    path = Path(name)
    if not path.is_file():
        notes.append(f"{info.name}: its checkpoint {path} is missing")
        return None
    want = info.manifest.get("checkpoint_sha256")
    if want and file_sha256(path) != want:
        notes.append(f"{info.name}: {path} changed after the build was made (SHA-256 differs "
                     "from the manifest's): its latent weights are not the measured network's")
        return None
    return path


def geometry_section(ctx: Context) -> dict:
    """Anderson & Berg's binarization geometry of each measured model, from the latent float
    weights of the checkpoint its build was compiled from: per layer, the angle between each
    latent weight row and its binarization (next to the Gaussian prediction, ~37 degrees), and
    the correlation of real and binarized dot products with the layer's actual inputs. Beside it,
    per image, the angle between each hidden pre-activation vector W x - T and its sign."""
    from noisybnn.experiments.geometry import latent_geometry

    out = {"models": [], "weights": [], "notes": [], "asymptotic_deg": theory.ASYMPTOTIC_SIGN_ANGLE_DEG}
    for name in sorted(ctx.models):
        info = ctx.models[name]
        if info.network is None:
            out["notes"].append(f"{name}: no theory network; skipped")
            continue
        rows = ctx.df[ctx.df["model"] == name].sort_values("n_images", ascending=False)
        dataset, split, n_images = rows.iloc[0][["dataset", "split", "n_images"]]
        data = group_data(ctx, info, dataset, split, ctx.n_theory(int(n_images), info),
                          out["notes"])
        if data is None:
            continue
        ckpt = _checkpoint_of(info, out["notes"])
        if ckpt is not None:
            try:
                got = latent_geometry(ckpt, data[0])
            except Exception as exc:  # noqa: BLE001 - only this model's weight angles are lost
                got = f"cannot measure its latent weights ({type(exc).__name__}: {exc})"
            if isinstance(got, str):
                out["notes"].append(f"{name} ({ckpt}): {got}")
            else:
                out["weights"].append({"model": name, "checkpoint": str(ckpt),
                                       "images": len(data[0]), "layers": got[0],
                                       "_angles": got[1]})
        h = info.binarize(data[0])
        layers = []
        hist = []
        from noisybnn.theory.conv import MaxPoolLayer

        for i, layer in enumerate(info.network.hidden):
            pre = layer.pre_activation(h) - layer.thresholds
            if isinstance(layer, MaxPoolLayer):  # no weights: an OR, not a neuron to angle
                h = np.where(pre >= 0, 1.0, -1.0)
                continue
            raw = theory.activation_angles(pre, centered=False)
            cen = theory.activation_angles(pre, centered=True)
            layers.append({
                "layer": i, "width": layer.n_out,
                "raw_mean": float(np.nanmean(raw)), "raw_std": float(np.nanstd(raw)),
                "centered_mean": float(np.nanmean(cen)), "centered_std": float(np.nanstd(cen)),
                "expected_deg": float(theory.expected_sign_angle(layer.n_out)),
                "mean_abs_over_rms": float(np.mean(np.abs(pre)) / np.sqrt(np.mean(pre ** 2))),
            })
            hist.append((raw, cen))
            h = np.where(pre >= 0, 1.0, -1.0)
        out["models"].append({"model": name, "images": len(h), "layers": layers, "_angles": hist})
    return out
