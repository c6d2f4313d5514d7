"""The report's statement for convolutional models: which theory applies to weight-shared layers,
how, with their quantities (units C x H x W, weight sets C, fan-in kh x kw x C_in), and which
does not, and why (docs/theory.md §11). Built after the other sections, from their numbers.
"""

from __future__ import annotations

from noisybnn import theory
from noisybnn.report.compute import Context, group_data
from noisybnn.report.page import box, esc, table


def _layers(info) -> list[dict]:
    from noisybnn.theory.conv import ConvLayer, MaxPoolLayer

    noisy = set(info.injector_hidden)
    rows = []
    for i, layer in enumerate(info.network.hidden):
        if isinstance(layer, ConvLayer):
            oh, ow, c = layer.out_map
            rows.append({"layer": i, "kind": "conv", "channels": c, "map": f"{oh}x{ow}",
                         "units": layer.n_out, "weight_sets": c, "fan_in": layer.fan_in,
                         "noisy": i in noisy})
        elif isinstance(layer, MaxPoolLayer):
            oh, ow, c = layer.out_map
            rows.append({"layer": i, "kind": f"max-pool {layer.kernel[0]}x{layer.kernel[1]}",
                         "channels": c, "map": f"{oh}x{ow}", "units": layer.n_out,
                         "weight_sets": 0, "fan_in": layer.taps, "noisy": i in noisy})
        else:
            rows.append({"layer": i, "kind": "fc", "channels": layer.n_out, "map": "1x1",
                         "units": layer.n_out, "weight_sets": layer.n_out,
                         "fan_in": layer.n_in, "noisy": i in noisy})
    return rows


def cnn_section(ctx: Context, sec: dict) -> dict:
    """Per convolutional model: its layers as the theory counts them, the flip gains G per layer
    (Semenova's criterion, measured on the theory images) and what applies, with figures."""
    out = {"models": []}
    for name in sorted(ctx.models):
        info = ctx.models[name]
        if info.network is None or not info.convolutional:
            continue
        entry = {"model": name, "layers": _layers(info), "gain": None}
        rows = ctx.df[ctx.df["model"] == name].sort_values("n_images", ascending=False)
        r0 = rows.iloc[0]
        notes: list = []
        data = group_data(ctx, info, r0["dataset"], r0["split"],
                          ctx.n_theory(int(r0["n_images"]), info), notes)
        if data is not None:
            xb = info.binarize(data[0])
            entry["gain"] = ctx.cache.get(
                ctx.cache.key("flip_gain", info.twin_sha256, r0["dataset"], r0["split"],
                              len(xb)),
                _gains, info.network, xb)
            entry["gain_images"] = len(xb)
        entry["notes"] = notes
        entry["applies"] = _applicability(info, entry, sec)
        out["models"].append(entry)
    return out


def _gains(net, xb) -> list[float]:
    return [float(g) for g in theory.flip_gain(net, xb)]


def _first(seq, pred):
    return next((x for x in seq if pred(x)), None)


def _applicability(info, entry: dict, sec: dict) -> list[dict]:
    name = info.name
    noisy = [r for r in entry["layers"] if r["noisy"]]
    units = sum(r["units"] for r in noisy)
    widths = "-".join(str(r["units"]) for r in noisy)
    groups = [g for g in sec["accuracy"]["groups"] if g["model"] == name and g["layers"] == "all"]
    binds = groups[0].get("ceiling_binds_from") if groups else None
    need = []
    for c in sec["tradeoff"]["curves"]:
        m = _first(c["models"], lambda m: m["model"] == name)
        if m is not None and m["need_total"] is not None:
            need.append(f"{m['need_total']:g} at eps {c['eps']:g}")
    cert = [(g["mode"], r["k"], r["certified"], r.get("certified_placed"))
            for g in sec["stuck"]["groups"] if g["model"] == name for r in g["rows"]
            if r["certified"] is not None]
    pools = _first(sec["flip_rates"]["models"], lambda e: e["model"] == name)
    surv = []
    for p in (pools or {}).get("pools", []):
        if p["in_flip_rate"] > 0 and p.get("survival_per_input_flip") is not None:
            surv.append(f"eps {p['eps']:g}, after injector {p['after_injector']}: "
                        f"{p['survival_per_input_flip']:.2f} output flips per input flip "
                        f"(outputs {p['out_flip_rate']:.4f} vs inputs {p['in_flip_rate']:.4f}; "
                        f"mean field {p['mean_field']:.4f})")
    gains = entry.get("gain")
    gain_txt = ("; G per hidden layer (pools included) "
                + ", ".join(f"{g:.2f}" for g in gains)) if gains else ""
    geo = _first(sec["geometry"]["weights"], lambda w: w["model"] == name)
    return [
        {"result": "Fano/SDPI accuracy ceiling (§2)", "applies": "yes, as an upper bound",
         "how": f"noisy widths are C x H x W units per image ({widths}); the ceiling holds "
                "whatever the weights, and weight sharing (tied rows) and local windows "
                "(zero weights) only restrict them; a pool is a noise-free deterministic layer "
                "(data processing). Local connectivity makes it looser, not wrong. "
                + (f"It drops below 1 - 1e-6 only from eps = {binds:.3g}." if binds is not None
                   else "Here it is 1 up to eps = 1/2.")},
        {"result": "least noisy neurons (§4, min_total_neurons)",
         "applies": "yes, counting units",
         "how": f"a necessary count of noisy binary units: this model has {units:,} "
                f"(C x H x W summed), the bound requires {', '.join(need) or 'n/a'} for the "
                "target. It says nothing about channels as such: C channels of an H x W map are "
                "C x H x W units."},
        {"result": "sufficiency / constructive neuron counts", "applies": "no",
         "how": "not implemented for any network here; a replication argument needs copies that "
                "compute the same function of the same input with independent noise: a "
                "channel's pixels share weights but see different windows, so they are not "
                "copies; redundancy in a CNN would have to come from duplicated channels."},
        {"result": "propagation: Monte Carlo, mean field, flip gain G (§5, Semenova)",
         "applies": "yes, per unit, measured per layer",
         "how": "the theory network is the unrolled CNN, bit-exact with the accelerator (the "
                "parity line above); mean field is exact for max-pools and for layers whose "
                "inputs share one flip rate, Gaussian for the other conv layers" + gain_txt
                + ". Max-pool: " + ("; ".join(surv) if surv else "no pool measured")},
        {"result": "analytic correlated mean field (§5.5)", "applies": "not computed",
         "how": "it carries a units x units covariance per layer (e.g. "
                f"{max(r['units'] for r in noisy):,}^2 per image here): not affordable; the "
                "Monte Carlo is the prediction shown"},
        {"result": "stuck-at: certificate and FEP (§6, El Mhamdi & Guerraoui)",
         "applies": "yes, with crashed channels",
         "how": "a crashed channel is crashed at every pixel: k channels of a conv layer are "
                "k x H x W units at once. The count certificate and FEP (any placement of that "
                "many units) are sound but blind to the structure; the placement certificate "
                "(the rows' own crashed channels, any stuck values) counts only the changed "
                "inputs inside each window. "
                + ("Certified, any placement / the rows' placements: " + ", ".join(
                    f"{m} k={k}: {100 * c:.1f} % / "
                    + ("–" if p is None else f"{100 * p:.1f} %") for m, k, c, p in cert)
                   if cert else "No stuck-at rows in the sweep.")},
        {"result": "binarization geometry (§7, Anderson & Berg)",
         "applies": "yes, to the C weight sets",
         "how": "a conv layer has C weight vectors of fan-in kh x kw x C_in (not C x H x W); "
                "their angles to their signs and the dot-product correlation over the layer's "
                "actual input windows are measured in section 5"
                + ("" if geo else " (not measured: the checkpoint keeps no latent weights)")},
    ]


def cnn_html(sec: dict) -> str:
    if not sec["models"]:
        return ""
    parts = []
    for m in sec["models"]:
        rows = [[str(r["layer"]), esc(r["kind"]), str(r["channels"]), r["map"],
                 f"{r['units']:,}", str(r["weight_sets"]) if r["weight_sets"] else "–",
                 str(r["fan_in"]), "yes" if r["noisy"] else "no (noise-free)",
                 "–" if not m["gain"] else f"{m['gain'][i]:.2f}"]
                for i, r in enumerate(m["layers"])]
        parts.append(f"<h3>{esc(m['model'])}: the theory's view of a convolutional network</h3>")
        parts.append(table(["hidden layer", "kind", "channels", "map", "units (noisy width)",
                            "weight sets", "fan-in", "injector", "flip gain G"], rows,
                           numeric={0, 2, 4, 5, 6, 8}))
        parts.append(table(["result", "applies", "how / why"],
                           [[esc(a["result"]), esc(a["applies"]), esc(a["how"])]
                            for a in m["applies"]]))
        if m["notes"]:
            parts.append(box("note", m["notes"]))
    return "".join(parts)


