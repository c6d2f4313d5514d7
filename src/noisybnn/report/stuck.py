"""Section 4 of the report: stuck-at faults, measured beside the certified and FEP bounds.

Split from `report.compute` (one section, one module); it uses that module's context, cache and
helpers.
"""

from __future__ import annotations

import numpy as np

from noisybnn import theory
from noisybnn.report.compute import BOUND_TOL, Context, TheoryCache, group_data, seed_stats
from noisybnn.report.models import ModelInfo

# --- section 4: stuck-at faults ----------------------------------------------------------------


def parse_fault_spec(text: str) -> dict[int, list[int]]:
    """"0:3 17|2:5" -> {0: [3, 17], 2: [5]} (injector layer id -> crashed neurons)."""
    out: dict[int, list[int]] = {}
    for part in str(text).split("|"):
        if not part.strip():
            continue
        layer, _, idx = part.partition(":")
        out[int(layer)] = [int(i) for i in idx.split()]
    return out


def _stuck_units(info: ModelInfo, mode: str, spec: str) -> list | None:
    """Per theory hidden layer, the row's stuck value of every unit (0: healthy), or None."""
    if not spec:
        return None
    value = -1.0 if mode == "stuck0" else 1.0
    stuck = [None] * len(info.network.hidden)
    for layer_id, idx in parse_fault_spec(spec).items():
        if layer_id not in info.injector_ids:
            return None
        inj = info.injector_ids.index(layer_id)
        s = np.zeros(info.injector_channels[inj])
        s[idx] = value
        # a crashed channel is crashed at every pixel (NHWC units: pixel-major, channel-minor)
        stuck[info.injector_hidden[inj]] = np.tile(s, info.injector_pixels[inj])
    return stuck


def _replay(info: ModelInfo, xb: np.ndarray, y: np.ndarray, mode: str, spec: str) -> float | None:
    """Accuracy of the theory network with the row's exact stuck neurons."""
    stuck = _stuck_units(info, mode, spec)
    if stuck is None:
        return None
    pred = theory.forward(info.network, xb, stuck=stuck).prediction
    return float(np.mean(pred == y))


def _certified_placed(info: ModelInfo, xb: np.ndarray, y: np.ndarray, mode: str,
                      spec: str) -> float | None:
    """Certified fraction for the row's own placement (any stuck values there)."""
    stuck = _stuck_units(info, mode, spec)
    if stuck is None:
        return None
    faulty = [None if s is None else s != 0 for s in stuck]
    return float(np.mean(theory.certified_robust_placed(info.network, xb, y, faulty)))


def stuck_section(ctx: Context) -> dict:
    """Measured accuracy vs crashed neurons per layer, beside the certified lower bounds."""
    df = ctx.df
    stuck = df[df["mode"].isin(("stuck0", "stuck1"))]
    out = {"groups": [], "notes": [], "violations": [], "fep_exceeded": []}
    if stuck.empty:
        out["notes"].append("no stuck0/stuck1 rows in the results: run a sweep with "
                            "`--modes stuck0 --faults 1,4,16` to fill this section")
        return out
    cols = ["model", "mode", "layers", "dataset", "split", "n_images"]
    for (model, mode, layers, dataset, split, n_images), rows in stuck.groupby(cols, sort=True):
        info = ctx.models[model]
        group = {"model": model, "mode": mode, "layers": layers, "dataset": dataset,
                 "split": split, "n_images": int(n_images), "rows": [], "notes": []}
        data = None
        if info.network is not None:
            data = group_data(ctx, info, dataset, split, int(n_images), group["notes"])
        else:
            group["notes"].append("no theory network: bounds left out")
        if data is not None:
            xb, y = info.binarize(data[0]), data[1]
            group["theory_clean_accuracy"] = float(
                np.mean(theory.forward(info.network, xb).prediction == y))
        noisy_hidden = info.noisy_hidden(layers) if info.has_build else []
        active = info.active_injectors(layers) if info.has_build else []
        pixels = {info.injector_hidden[i]: info.injector_pixels[i] for i in active}
        if info.convolutional and info.network is not None:
            group["notes"].append(
                "convolutional layers: the fault mask names channels, and a crashed channel is "
                "crashed at every pixel, so k channels of a conv layer are k x H x W units; the "
                "certificate and FEP allow any placement of that many units (sound, since the "
                "channel's units are one such placement, but blind to the structure: a channel "
                "crash moves every window of the next layer by up to kh x kw inputs per channel)")
        for k, krows in rows.groupby("faults_per_layer", sort=True):
            k = int(k)
            stats = seed_stats(krows["accuracy"])
            row = {"k": k, **stats, "seeds": [int(s) for s in krows["seed"]],
                   "certified": None, "certified_placed": None, "fep": None, "replayed": None,
                   "replay_ok": None,
                   "violates_certificate": False}
            row["check"] = None
            if data is not None and all(k <= info.network.widths[h] // pixels[h]
                                        for h in noisy_hidden):
                crashed = np.zeros(len(info.network.hidden), dtype=int)
                for h in noisy_hidden:
                    crashed[h] = k * pixels[h]
                base = (info.twin_sha256, dataset, split, int(n_images),
                        tuple(int(c) for c in crashed))
                row["certified"] = ctx.cache.get(
                    TheoryCache.key("certified_robust_fraction", *base),
                    theory.certified_robust_fraction, info.network, xb, y, crashed)
                row["fep"] = ctx.cache.get(
                    TheoryCache.key("fep_robust_fraction", *base),
                    theory.fep_robust_fraction, info.network, xb, y, crashed)
                replayed, placed = [], []
                for _, r in krows.iterrows():
                    got = _replay(info, xb, y, mode, r["fault_spec"])
                    if got is not None:
                        replayed.append((got, float(r["accuracy"])))
                    cp = ctx.cache.get(TheoryCache.key("certified_robust_placed", *base,
                                                       mode, r["fault_spec"]),
                                       _certified_placed, info, xb, y, mode, r["fault_spec"])
                    if cp is not None:
                        placed.append((cp, float(r["accuracy"])))
                if placed:
                    row["certified_placed"] = float(min(c for c, _ in placed))
                    if any(a < c - BOUND_TOL for c, a in placed):
                        row["violates_certificate"] = True
                        out["violations"].append(
                            f"{model} {mode} k={k}: a measured accuracy is below the certificate "
                            "for its own fault placement, a sound lower bound: a bug")
                if replayed:
                    row["replayed"] = float(np.mean([a for a, _ in replayed]))
                    row["replay_ok"] = all(abs(a - b) < 1e-12 for a, b in replayed)
                    if not row["replay_ok"]:
                        out["violations"].append(
                            f"{model} {mode} k={k}: the theory network with the same stuck "
                            "neurons does not reproduce the measured accuracy "
                            f"({[round(a, 4) for a, _ in replayed]} vs "
                            f"{[round(b, 4) for _, b in replayed]})")
                if stats["min"] < row["certified"] - BOUND_TOL:
                    row["violates_certificate"] = True
                    out["violations"].append(
                        f"{model} {mode} (layers {layers}) k={k}: measured accuracy "
                        f"{stats['min']:.4f} is below the certified robust fraction "
                        f"{row['certified']:.4f}, a sound lower bound: a bug")
                chance = 1.0 / max(2, info.n_classes or 10)
                best = max(row["certified"], row["certified_placed"] or 0.0)
                row["check"] = ("failed" if row["violates_certificate"] else
                                "vacuous" if best < chance else "passed")
                if stats["min"] < row["fep"] - BOUND_TOL:
                    out["fep_exceeded"].append(f"{model} {mode} k={k}: measured {stats['min']:.4f}"
                                               f" < FEP fraction {row['fep']:.4f}")
            group["rows"].append(row)
        out["groups"].append(group)
    return out
