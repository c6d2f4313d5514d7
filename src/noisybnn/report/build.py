"""`build_report`: sweep results + builds + theory -> index.html, PNGs and report.json."""

from __future__ import annotations

import json
import logging
import platform
import shlex
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from noisybnn.report import cnn, compute, design, plots, stuck
from noisybnn.report.inputs import InputFile, load_explore, load_results
from noisybnn.report.models import DataCache, resolve_model
from noisybnn.report.options import ReportOptions
from noisybnn.report.page import box, esc, figure, num, page, pct, table

log = logging.getLogger(__name__)

DEFAULT_TITLE = "noisybnn: measured accuracy under noise vs theory"
#: Files the report writes (besides the PNGs of `FIGURES`).
INDEX, NUMBERS, CACHE = "index.html", "report.json", "theory_cache.json"
FIGURES = {"accuracy": "accuracy_vs_eps.png", "flip_rates": "flip_rates.png",
           "tradeoff": "neurons_vs_depth.png", "stuck": "stuck_faults.png",
           "geometry": "binarization_angles.png", "design": "design_space.png"}


def _jsonable(obj):
    """Drop keys starting with '_' (plot-only arrays) and turn numpy scalars into Python ones."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items() if not str(k).startswith("_")}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return _jsonable(obj.item())
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


# --- the sections as HTML ----------------------------------------------------------------------


def _accuracy_html(sec: dict, fig: Path | None, out: Path) -> str:
    parts = [box("note", sec["notes"])] if sec["notes"] else []
    if not sec["groups"]:
        return "".join(parts) or box("note", "no flip-mode rows")
    parts.append(
        "<p>Measured test accuracy of each model on the software accelerator, with every "
        "injector of the listed layers flipping each hidden neuron's output with probability "
        "eps (the realised eps is the injector threshold / 2<sup>16</sup>). Beside it: the "
        "<b>Fano/SDPI ceiling</b> <code>theory.accuracy_ceiling(widths, eps, C, label_entropy)"
        "</code>, the best accuracy <i>any</i> decoder of the last noisy layer can reach with "
        "these noisy widths, whatever the weights (computed with the empirical label entropy of "
        "the images used). A check is <b>passed</b> when the measurement is at or below a ceiling "
        "that is below 1 − 10<sup>−6</sup> and below the network's clean accuracy, "
        "<b>vacuous</b> when the ceiling is 1 to that precision or above the clean accuracy (only "
        "a network that noise makes better could fail it: it says nothing), <b>failed</b> when the "
        "measurement exceeds it. The curve is drawn up to eps = 1/2, where it can bind. "
        "Predictors, all on the first images of the split and compared with the accelerator "
        "<b>measured on those same images</b> (same seeds): <b>Monte Carlo i.i.d.</b> "
        "(<code>theory.predict_accuracy</code>): i.i.d. Bernoulli flips drawn from the first "
        "noisy layer on and the rest of the network run exactly, a fast simulation, not a "
        "theory; <b>analytic mean field</b> (<code>theory.correlated.analytic_accuracy</code>): "
        "flip rates and pairwise flip covariances carried layer to layer and a Gaussian readout, "
        "no sampling (docs/theory.md §5.5 says where it fails); <b>pure mean field</b> "
        "(<code>exact_tail=0</code>): independent last-layer flips, which misses their "
        "correlations and over-predicts.</p>")
    parts.append(figure(fig, out, "Accuracy vs eps. Dots: single seeds; error bars: ± one "
                        "standard deviation over seeds. eps = 0 is drawn left of the dotted "
                        "break.", "accuracy vs eps"))
    for g in sec["groups"]:
        parts.append(f"<h3>{esc(g['model'])}, noisy layers {esc(g['layers'])} "
                     f"({g['n_images']} images of {esc(g['dataset'])} {esc(g['split'])})</h3>")
        parts.append(box("note", g["notes"]) if g["notes"] else "")
        ceils = [r["ceiling"] for r in g["rows"] if r["ceiling"] is not None and r["eps"] > 0]
        facts = []
        if g.get("noisy_widths"):
            facts.append(f"noisy widths {'-'.join(map(str, g['noisy_widths']))}")
        if g.get("label_entropy_bits") is not None:
            facts.append(f"label entropy {g['label_entropy_bits']:.4f} bits")
        if g.get("theory_images"):
            p = g["parity"]
            facts.append(f"prediction on the first {g['theory_images']} images, whose clean "
                         f"accuracy in the theory network is {pct(g['theory_clean_accuracy'])}; "
                         f"the theory network reproduces the accelerator's clean predictions "
                         f"on {p['agree']}/{p['images']} of them")
        if ceils and min(ceils) > 0.999:
            slack = 1.0 - min(ceils)
            facts.append("the ceiling is " + (f"1 − {slack:.1e}" if slack > 0 else "1")
                         + " or higher at every eps > 0 measured: vacuous for layers this wide")
        if g.get("ceiling_curve"):
            b = g.get("ceiling_binds_from")
            facts.append("the ceiling drops below 1 − 1e-6 only from eps = " + f"{b:.3g}"
                         if b is not None else "the ceiling is 1 up to eps = 1/2")
        if facts:
            parts.append(f"<p>{esc('; '.join(facts))}.</p>")
        rows, bad = [], set()
        for i, r in enumerate(g["rows"]):
            if r["exceeds_ceiling"]:
                bad.add(i)
            same = r.get("measured_same_images")

            def vs(v, same=same):
                return "–" if v is None or same is None else f"{100 * (v - same):+.2f}"

            rows.append([
                num(r["eps"], "g"), str(r["n_seeds"]),
                f"{pct(r['mean'])} ± {100 * r['std']:.2f}", pct(same),
                f"{pct(r['predicted'])} ({vs(r['predicted'])})",
                f"{pct(r.get('analytic'))} ({vs(r.get('analytic'))})",
                f"{pct(r['mean_field'])} ({vs(r['mean_field'])})", pct(r["ceiling"], 3),
                "–" if r["gap"] is None else f"{100 * r['gap']:+.2f} pts",
                {"failed": "FAILED: EXCEEDS CEILING", None: "–"}.get(r.get("check"),
                                                                     r.get("check") or "–"),
            ])
        n_sub = g.get("theory_images")
        parts.append(table(["eps", "seeds", f"measured, all {g['n_images']} images",
                            f"measured, first {n_sub} images", "Monte Carlo i.i.d. (− meas.)",
                            "analytic mean field (− meas.)", "pure mean field (− meas.)",
                            "ceiling", "gap (ceiling − measured)", "check"], rows, bad,
                           numeric={0, 1, 2, 3, 4, 5, 6, 7, 8}))
    return "".join(parts)


def _flip_html(sec: dict, fig: Path | None, out: Path) -> str:
    parts = [box("note", sec["notes"])] if sec["notes"] else []
    if not sec["models"]:
        return "".join(parts) or box("note", "nothing to show")
    parts.append(
        "<p><b>Measured</b>: fraction of hidden-neuron outputs (after each injector) that differ "
        "from a clean run on the same images, from <code>SimAccelerator.hidden_activations</code>"
        " with the sweep's seeds. It grows with depth because flips propagate. <b>Predicted</b>: "
        "<code>theory.mean_field_flip_rates</code> averaged over images and neurons (exact for "
        "the first noisy layer and the one after it; deeper layers ignore that flips share "
        "upstream causes). <b>i.i.d. MC</b>: <code>theory.simulate_noisy</code>, the exact "
        "propagation of i.i.d. flips: where mean field and i.i.d. MC disagree, the mean-field "
        "approximation is at fault; where MC and measurement disagree, the injector's stream "
        "is. <b>Injector rate (counters)</b>: bits each injector itself flipped during the sweep "
        "(the hardware counters in the table) over neurons × images: it should equal the "
        "realised eps.</p>")
    parts.append(figure(fig, out, "Left: measured vs predicted per hidden layer and eps (log-"
                        "log; error bars: std over seeds). Right: the same rates by layer; "
                        "crosses: i.i.d. Monte Carlo.", "flip rates predicted vs measured"))
    for e in sec["models"]:
        parts.append(f"<h3>{esc(e['model'])}: {e['images']} images, seeds "
                     f"{', '.join(map(str, e['seeds']))}</h3>")
        if e.get("mean_abs_rel_error") is not None:
            parts.append(f"<p>Relative error |predicted − measured| / measured over layers and "
                         f"eps: mean field {100 * e['mean_abs_rel_error']:.1f} % on average, "
                         f"{100 * e['max_abs_rel_error']:.1f} % at worst; i.i.d. Monte Carlo "
                         f"{100 * e['mc_mean_abs_rel_error']:.1f} % on average, "
                         f"{100 * e['mc_max_abs_rel_error']:.1f} % at worst.</p>")
        rows = [[num(p["eps"], "g"), str(p["layer"]), str(p["width"]),
                 f"{p['measured']:.4f} ± {p['measured_std']:.4f}", f"{p['predicted']:.4f}",
                 f"{p['mc_iid']:.4f}", num(p["injector_rate_counters"], ".4f"),
                 "–" if p["rel_error"] is None else f"{100 * p['rel_error']:+.1f} %"]
                for p in e["points"]]
        parts.append(table(["eps", "hidden layer", "width", "measured ± std",
                            "mean field", "i.i.d. MC", "injector rate (counters)",
                            "mean field − measured"], rows, numeric={0, 1, 2, 3, 4, 5, 6, 7}))
        if e.get("mean_field_method", "exact") != "exact":
            parts.append(f"<p>Mean field method <code>{esc(e['mean_field_method'])}</code>: "
                         "exact for max-pools and for layers whose inputs share one flip rate, "
                         "Gaussian for the other conv layers; i.i.d. MC with "
                         f"{e['mc_draws']} draws per image.</p>")
        if e.get("pools"):
            parts.append(_pool_html(e["pools"]))
    return "".join(parts)


def _pool_html(pools: list[dict]) -> str:
    """What the max-pools do to the accelerator's flips (measured from its injector traces)."""
    rows = []
    for p in pools:
        by = p["by_plus_count"]
        share = ", ".join(f"m={k}: {100 * v['share']:.1f} % ({v['out_flip_rate']:.4f})"
                          for k, v in sorted(by.items(), key=lambda kv: int(kv[0])))
        per_flip = p.get("survival_per_input_flip")
        rows.append([num(p["eps"], "g"), str(p["layer"]), str(p["after_injector"]),
                     f"{p['in_flip_rate']:.4f}", f"{p['out_flip_rate']:.4f}",
                     "–" if per_flip is None else f"{per_flip:.3f}",
                     f"{p['mean_field']:.4f}", f"{p['mc_iid']:.4f}", esc(share)])
    return ("<h4>Max-pools: how many flips survive the OR of a 2x2 window</h4><p>A pool's "
            "input is the injector's output, its output the OR (max) of each window, both "
            "measured on the accelerator (its injector traces), clean vs noisy. A flip before "
            "the pool survives only if its window held exactly one +1 and the flip hit it "
            "(m = 1), or held no +1 (m = 0: the flip makes one); with two or more +1 (m ≥ 2) "
            "only several flips together change the output. <b>Surviving per input flip</b>: "
            "output flips over input flips (output rate / (4 × input rate)). <b>Mean field</b>: "
            "the exact OR of independent input flips with the mean-field rate of every input "
            "unit (<code>MaxPoolLayer.crossing</code>); i.i.d. MC as above. The last column: "
            "windows by clean +1 count m, with the measured output flip rate of each kind.</p>"
            + table(["eps", "pool (hidden layer)", "after injector", "input flip rate",
                     "output flip rate", "surviving per input flip", "mean field",
                     "i.i.d. MC", "windows by m (output flip rate)"], rows,
                    numeric={0, 1, 2, 3, 4, 5, 6, 7}))


def _tradeoff_html(sec: dict, fig: Path | None, out: Path) -> str:
    t = sec["target_accuracy"]
    parts = [
        f"<p>The least number of noisy neurons a network needs to reach {t:.0%} accuracy on "
        f"{sec['n_classes']} classes (label entropy {esc(sec['label_entropy'])}), whatever its "
        "weights: "
        "<code>theory.tradeoff_curve</code> (least uniform width, <code>min_width</code>) and "
        "<code>min_total_neurons</code> (least total over all width profiles, drawn divided by "
        "depth). These are <b>lower bounds</b>: a model below the curve <b>cannot</b> reach "
        f"{t:.0%} at that eps; a model above it is not guaranteed to. Markers: our models at "
        "(noisy layers, mean width), green when the sweep measured at least the target at that "
        "eps, red when below it, grey when the sweep has no point at that eps.</p>"]
    parts.append(box("note", sec["notes"]) if sec["notes"] else "")
    parts.append(figure(fig, out, "Neurons per layer required vs depth (log-log), one panel per "
                        "eps. The shaded region is impossible for the target.",
                        "neurons required vs depth"))
    eps = [c["eps"] for c in sec["curves"]]
    rows = []
    for i, d in enumerate(sec["curves"][0]["depth"] if sec["curves"] else []):
        cells = [str(d)]
        for c in sec["curves"]:
            w, tot = c["min_width"][i], c["min_total_neurons"][i]
            cells.append("impossible" if w is None else f"{w:g} / {tot:g}")
        rows.append(cells)
    parts.append("<h3>Least width / least total neurons</h3>")
    parts.append(table(["depth", *[f"eps={e:g}" for e in eps]], rows,
                       numeric=set(range(len(eps) + 1))))
    loose = []
    for m in sec["markers"]:
        for c in sec["curves"]:
            cm = next(x for x in c["models"] if x["model"] == m["model"])
            if (cm["need_total"] is not None and cm["measured"] is not None
                    and cm["measured"] < t and not cm["below"]):
                loose.append(f"{m['model']} at eps={c['eps']:g}: {m['total']} noisy neurons, "
                             f"{m['total'] / cm['need_total']:.1f}× the required "
                             f"{cm['need_total']:g}, yet measured {pct(cm['measured'])}")
    if loose:
        parts.append(box("note", loose, f"Above the bound but below {t:.0%}: the bound is "
                         "necessary, not sufficient, and far from tight for these networks"))
    mrows = []
    for m in sec["markers"]:
        cells = [esc(m["model"]), str(m["depth"]), "-".join(map(str, m["widths"]))]
        for c in sec["curves"]:
            cm = next(x for x in c["models"] if x["model"] == m["model"])
            need = "impossible" if cm["need_total"] is None else f"{cm['need_total']:g}"
            cells.append(f"needs {need}, measured {pct(cm['measured'])}")
        mrows.append(cells)
    if mrows:
        parts.append("<h3>Our models</h3>")
        parts.append(table(["model", "depth", "widths", *[f"eps={e:g}" for e in eps]], mrows))
    return "".join(parts)


def _stuck_html(sec: dict, fig: Path | None, out: Path) -> str:
    parts = [box("note", sec["notes"])] if sec["notes"] else []
    if not sec["groups"]:
        return "".join(parts)
    parts.append(
        "<p>Accuracy with k neurons per noisy layer forced to −1 (stuck0) or +1 (stuck1), "
        "chosen by the sweep's seeded RNG. <b>Certified robust fraction</b> "
        "(<code>theory.certified_robust_fraction</code>): images the sign network classifies "
        "correctly under <i>every</i> placement and stuck value of those k faults, from each "
        "neuron's clean margin: a sound lower bound on the measured accuracy, computed on the "
        "same images. <b>At the rows' placements</b> "
        "(<code>theory.certified_robust_placed</code>): the same for the placement each row "
        "actually used (any stuck values there), propagating which units may differ instead of "
        "how many: for a conv layer only the changed inputs inside each window count; the worst "
        "row is shown. <b>FEP robust fraction</b> (<code>theory.fep_robust_fraction</code>): the "
        "Forward Error Propagation bound of El Mhamdi &amp; Guerraoui for the hard-tanh "
        "surrogate; a theorem for that surrogate, a heuristic for the sign network. <b>Replayed"
        "</b>: the theory network with the row's exact stuck neurons (from "
        "<code>fault_spec</code>); it must equal the measurement.</p>")
    parts.append(figure(fig, out, "Accuracy vs crashed neurons per layer (k = 0 left of the "
                        "break). The green region lies below the sound certificate.",
                        "stuck-at faults"))
    trivial = [f"{g['model']} {g['mode']} k={r['k']}" for g in sec["groups"] for r in g["rows"]
               if r["certified"] is not None and r["certified"] < 0.01]
    if trivial:
        parts.append(box("note", "The certificate is below 1 % (nearly vacuous) for: "
                         + ", ".join(trivial) + ". It assumes the worst placement and value of "
                         "every fault and lets each possibly-changed neuron move all others, so "
                         "it collapses after a few faults per layer."))
    if sec["fep_exceeded"]:
        parts.append(box("note", sec["fep_exceeded"], "Measured below the FEP fraction (not a "
                         "bug: FEP is not sound for sign networks)"))
    for g in sec["groups"]:
        parts.append(f"<h3>{esc(g['model'])}, {esc(g['mode'])} in layers {esc(g['layers'])}"
                     f" ({g['n_images']} images)</h3>")
        parts.append(box("note", g["notes"]) if g["notes"] else "")
        rows, bad = [], set()
        for i, r in enumerate(g["rows"]):
            if r["violates_certificate"] or r["replay_ok"] is False:
                bad.add(i)
            rows.append([str(r["k"]), str(r["n_seeds"]),
                         f"{pct(r['mean'])} ± {100 * r['std']:.2f}", pct(r["min"]),
                         pct(r["certified"]), pct(r.get("certified_placed")), pct(r["fep"]),
                         pct(r["replayed"]),
                         "FAILED: BELOW CERTIFICATE" if r["violates_certificate"] else
                         ("replay mismatch" if r["replay_ok"] is False else
                          (r.get("check") or "–"))])
        parts.append(table(["k per layer", "draws", "measured mean ± std", "worst draw",
                            "certified, any placement (sound)",
                            "certified, the rows' placements (sound; worst row)",
                            "FEP (heuristic)", "replayed", "check"],
                           rows, bad, numeric={0, 1, 2, 3, 4, 5, 6, 7}))
    return "".join(parts)


def _geometry_html(sec: dict, fig: Path | None, out: Path) -> str:
    parts = [box("note", sec["notes"])] if sec["notes"] else []
    if not sec["models"] and not sec["weights"]:
        return "".join(parts) or box("note", "no theory network")
    a = sec["asymptotic_deg"]
    parts.append(
        "<p>Anderson &amp; Berg: binarizing a high-dimensional vector keeps its direction. For a "
        "row with i.i.d. Gaussian entries the angle between the row and its sign is "
        f"<code>theory.expected_sign_angle(d)</code> → {a:.1f}° as d → ∞ (two random vectors "
        "are ~90° apart), so binarized dot products stay nearly proportional to the real ones. "
        "Measured here on the <b>latent float weights</b> that training keeps (the weights the "
        "optimizer updates, before binarization) of the checkpoint each build was compiled from: "
        "per layer, the angle between each neuron's latent row and its binarized row "
        "(<code>theory.binarization_angles</code>) and the correlation over test images of the "
        "real and binarized dot products with the layer's actual inputs "
        "(<code>theory.dot_product_correlation</code>). E|w| / rms(w) is cos of the angle for a "
        "row: √(2/π) ≈ 0.798 for a Gaussian, 0.866 (30°) for a uniform one, which is how the "
        "latent weights are initialised.</p>")
    if sec["weights"]:
        parts.append(figure(fig, out, "Angle between each latent weight row and its "
                            "binarization, per layer.", "binarization angles"))
    else:
        parts.append(box("note", "no measured model's checkpoint keeps its latent weights, so "
                         "the weight angles cannot be measured (binary weights are 0° from their "
                         "sign by construction); the figure shows the pre-activation angles "
                         "instead"))
    for m in sec["weights"]:
        parts.append(f"<h3>{esc(m['model'])}: latent weights of {esc(m['checkpoint'])} "
                     f"(epoch {m['layers'][0]['epochs']}; dot products on {m['images']} "
                     "images)</h3>")
        rows = [[esc(r["layer"]), str(r["fan_in"]), str(r["rows"]),
                 f"{r['angle_mean']:.1f} ± {r['angle_std']:.1f}", f"{r['gaussian_angle']:.1f}",
                 f"{r['angle_mean'] - r['gaussian_angle']:+.1f}", f"{r['abs_over_rms']:.3f}",
                 f"{100 * r['at_clip']:.1f} %",
                 f"{r['dot_corr_mean']:.3f} (min {r['dot_corr_min']:.3f})"]
                for r in m["layers"]]
        parts.append(table(["layer", "fan-in", "neurons", "angle, latent row vs sign (°)",
                            "Gaussian prediction (°)", "measured − predicted", "E|w| / rms(w)",
                            "at the clip |w| ≥ 0.99", "dot-product correlation"], rows,
                           numeric={1, 2, 3, 4, 5, 6, 7, 8}))
        lo = [r for r in m["layers"] if r["angle_mean"] < r["gaussian_angle"] - 1.0]
        if lo:
            parts.append(
                f"<p>{esc(m['model'])}: in {len(lo)} of {len(m['layers'])} layers the latent "
                "rows are closer to their sign than a Gaussian row (the mean angle is more than "
                "1° below the prediction): the weights are clipped to [−1, 1] (BinaryConnect) "
                "and pile up near ±1 (the share at the clip), so their distribution is flatter "
                "than a Gaussian (E|w| / rms above √(2/π)) and "
                "binarizing them loses less of their direction than the "
                f"{a:.0f}° rule says.</p>")
    if sec["models"]:
        parts.append("<h3>Also: pre-activation angles (what each hidden neuron binarizes)</h3>"
                     "<p>Per test image, the angle between a hidden layer's pre-activation vector "
                     "W x − T and its sign, the layer's binary output "
                     "(<code>theory.activation_angles</code>), raw and centred per neuron.</p>")
    if sec["models"] and not sec["weights"]:
        parts.append(figure(fig, out, "Angle between W x − T and sign(W x − T), per image.",
                            "pre-activation angles"))
    for m in sec["models"]:
        rows = [[str(r["layer"]), str(r["width"]), f"{r['raw_mean']:.1f} ± {r['raw_std']:.1f}",
                 f"{r['centered_mean']:.1f} ± {r['centered_std']:.1f}",
                 f"{r['expected_deg']:.1f}", f"{r['mean_abs_over_rms']:.3f}"]
                for r in m["layers"]]
        parts.append(f"<p>{esc(m['model'])} ({m['images']} images)</p>")
        parts.append(table(["hidden layer", "width", "angle, W x − T (°)", "angle, centred (°)",
                            "Gaussian prediction (°)", "E|v| / rms(v)"], rows,
                           numeric={0, 1, 2, 3, 4, 5}))
    return "".join(parts)


def _design_html(sec: dict | None, fig: Path | None, out: Path) -> str:
    if sec is None:
        return box("note", "no exploration table given (--explore CSV): section skipped")
    parts = [box("note", sec["notes"])] if sec["notes"] else []
    if not sec["available"]:
        return "".join(parts)
    t = sec["target_accuracy"]
    parts.append(
        "<p>Designs of the exploration: accuracy under noise against the FINN LUT estimate and "
        "the estimated throughput; the Pareto front (no other design is both cheaper/faster and "
        "at least as accurate) is circled; crosses do not fit the board. The theory's minimum "
        f"(<code>theory.min_total_neurons(depth, eps, {t:g}, {sec['n_classes']})</code>) is a "
        "neuron count, and a LUT cost is not a function of the neuron count alone (it depends on "
        "the fan-in, the weight and activation bits and the folding), so no LUT line is drawn: "
        "designs with fewer noisy neurons than the minimum are red triangles on the LUT and FPS "
        "plots, and the third plot shows neurons vs accuracy with the minimum per depth as "
        "dashed vertical lines. A design left of its line and above the target would contradict "
        "the bound. The minimum is for binary (1-bit) neurons; designs with wider activations "
        "are never marked.</p>")
    parts.append(figure(fig, out, "Design space: Pareto fronts and the theory's neuron minimum.",
                        "design space"))
    rows = []
    for r in sorted(sec["rows"], key=lambda r: -r["accuracy"]):
        fits = r.get("fits")
        rows.append([esc(r["name"]), num(r.get("lut"), ",.0f"), num(r.get("fps"), ",.0f"),
                     "–" if fits is None else ("yes" if fits else "no"), pct(r["accuracy"]),
                     num(r.get("eps"), "g"),
                     num(r.get("neurons"), "g"), num(r.get("min_neurons"), "g"),
                     ("LUT " if r.get("pareto_lut") else "") + ("FPS" if r.get("pareto_fps")
                                                                else "")])
    parts.append(table(["design", "LUT", "FPS", "fits", "accuracy", "eps", "noisy neurons",
                        "theory minimum", "Pareto"], rows, numeric={1, 2, 4, 5, 6, 7}))
    return "".join(parts)


def _models_html(models: dict) -> str:
    rows = []
    for name, info in sorted(models.items()):
        rows.append([esc(name), f"<code>{esc(info.build_dir or '–')}</code>",
                     ("-".join(map(str, info.injector_widths)) or "–")
                     + (" (C x H x W: " + "-".join(f"{c}x{p}px" for c, p in
                                                  zip(info.injector_channels,
                                                      info.injector_pixels, strict=True)) + ")"
                        if info.convolutional else ""),
                     f"<code>{esc(info.twin_sha256[:16] or '–')}</code>",
                     "yes" if info.network is not None else "no"])
    return table(["model", "build directory", "noisy widths", "twin SHA-256",
                  "theory network"], rows)


# --- the report --------------------------------------------------------------------------------


def _git_commit() -> str:
    try:
        from noisybnn.fingerprint import git_commit

        return git_commit()
    except Exception:  # noqa: BLE001 - provenance only
        return "unknown"


def _footer(files: list[InputFile], explore_file: InputFile | None, generated: str,
            command: str, seconds: float, cache) -> str:
    rows = [[f"<code>{esc(f.path)}</code>", str(f.rows), f"<code>{esc(f.sha256 or '–')}</code>"]
            for f in files]
    if explore_file is not None:
        rows.append([f"<code>{esc(explore_file.path)}</code> (exploration)",
                     str(explore_file.rows), f"<code>{esc(explore_file.sha256)}</code>"])
    return (
        "<h3>Provenance</h3>" + table(["input", "rows", "SHA-256"], rows, numeric={1})
        + f"<p>git commit <code>{esc(_git_commit())}</code>; generated {esc(generated)} in "
        f"{seconds:.1f} s (theory cache: {cache.hits} hits, {cache.misses} computed); "
        f"Python {esc(platform.python_version())}, numpy {esc(np.__version__)}.<br>"
        f"command: <code>{esc(command)}</code></p>")


def build_report(results, out_dir, explore_csv=None, board: str = "pynq-z2",
                 title: str = DEFAULT_TITLE, *, options: ReportOptions | None = None,
                 build_dirs: dict | None = None, command: str | None = None,
                 progress: bool = False) -> Path:
    """Write the HTML report of sweep results beside the theory; return the index.html path.

    Args:
        results: sweep CSV path(s) or a DataFrame with the sweep table's columns.
        out_dir: folder for index.html, the PNGs, report.json and the theory cache.
        explore_csv: exploration table for the design-space section (optional).
        board: board whose builds hold the models (``pipeline.build_dir_for(model, board)``).
        title: page title.
        options: how much theory to compute (:class:`ReportOptions`).
        build_dirs: {model name: build dir} overriding where a model's build is looked for.
        command: the command line to record (default: a Python call).
        progress: print a line per step to stderr.

    Raises:
        FileNotFoundError: a results or exploration CSV is missing.
        ValueError: a results table lacks required columns or has invalid values.
    """
    t0 = time.perf_counter()
    opts = options or ReportOptions()
    out = Path(out_dir)

    def step(msg: str) -> None:
        if progress:
            print(f"report: {msg} ({time.perf_counter() - t0:.1f} s)", file=sys.stderr)

    df, files = load_results(results)
    explore = load_explore(explore_csv) if explore_csv else None
    out.mkdir(parents=True, exist_ok=True)
    for name in FIGURES.values():
        (out / name).unlink(missing_ok=True)
    step(f"{len(df)} rows, models {sorted(df['model'].unique())}; finding their builds")
    models = {name: resolve_model(name, board, df[df["model"] == name], build_dirs=build_dirs,
                                  compile_missing=opts.compile_missing)
              for name in sorted(df["model"].unique())}
    cache = compute.TheoryCache(out / CACHE)
    ctx = compute.Context(df, models, DataCache(), opts, cache)
    sec = {}
    for key, fn in (("accuracy", compute.accuracy_section),
                    ("flip_rates", compute.flip_rate_section),
                    ("tradeoff", compute.tradeoff_section), ("stuck", stuck.stuck_section),
                    ("geometry", compute.geometry_section)):
        step(f"computing {key}")
        sec[key] = fn(ctx)
    sec["design"] = design.design_section(explore, ctx) if explore is not None else None
    step("computing cnn")
    sec["cnn"] = cnn.cnn_section(ctx, sec)
    cache.save()

    step("drawing")
    figs: dict[str, Path | None] = dict.fromkeys(FIGURES)
    if sec["accuracy"]["groups"]:
        figs["accuracy"] = plots.plot_accuracy(sec["accuracy"]["groups"], out / FIGURES["accuracy"])
    if sec["flip_rates"]["models"]:
        figs["flip_rates"] = plots.plot_flip_rates(sec["flip_rates"]["models"],
                                                   out / FIGURES["flip_rates"])
    if sec["tradeoff"]["curves"]:
        figs["tradeoff"] = plots.plot_tradeoff(sec["tradeoff"], out / FIGURES["tradeoff"])
    if sec["stuck"]["groups"]:
        figs["stuck"] = plots.plot_stuck(sec["stuck"]["groups"], out / FIGURES["stuck"])
    if sec["geometry"]["weights"]:
        figs["geometry"] = plots.plot_geometry(sec["geometry"]["weights"],
                                               sec["geometry"]["asymptotic_deg"],
                                               out / FIGURES["geometry"])
    elif sec["geometry"]["models"]:  # no latent weights anywhere: the pre-activation angles
        figs["geometry"] = plots.plot_activation_geometry(sec["geometry"]["models"],
                                                          sec["geometry"]["asymptotic_deg"],
                                                          out / FIGURES["geometry"])
    if sec["design"] is not None and sec["design"]["available"]:
        figs["design"] = plots.plot_design(sec["design"], out / FIGURES["design"])

    flags = (sec["accuracy"]["violations"] + sec["stuck"]["violations"]
             + sec["tradeoff"]["violations"]
             + (sec["design"]["violations"] if sec["design"] else []))
    parities = ctx.parities
    flags += [f"{p['model']}: the theory network disagrees with the accelerator's clean "
              f"predictions on {p['images'] - p['agree']} of {p['images']} images"
              for p in parities if not p["ok"]]
    warnings = [w for info in models.values() for w in info.warnings]
    if df.attrs.get("duplicates_dropped"):
        warnings.append(f"{df.attrs['duplicates_dropped']} duplicate row(s) (same key in several "
                        "tables) were counted once")
    model_notes = [n for info in models.values() for n in info.notes]
    generated = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    if command is None:
        command = (f"noisybnn.report.build_report({[f.path for f in files]!r}, {str(out)!r}, "
                   f"explore_csv={explore_csv!r}, board={board!r})")

    checks = []
    if flags:
        checks.append(box("flag", flags, f"{len(flags)} check(s) FAILED"))
    if warnings:
        checks.append(box("warn", warnings, "Warnings"))
    oks = []
    ceil_rows = [r for g in sec["accuracy"]["groups"] for r in g["rows"] if r.get("check")]
    n_pass = sum(r["check"] == "passed" for r in ceil_rows)
    n_vac = sum(r["check"] == "vacuous" for r in ceil_rows)
    if n_pass:
        oks.append(f"{n_pass} measured accuracies lie at or below a Fano/SDPI ceiling that is "
                   "below 1 and below the clean accuracy (a check that could have failed)")
    stuck_rows = [r for g in sec["stuck"]["groups"] for r in g["rows"] if r.get("check")]
    s_pass = sum(r["check"] == "passed" for r in stuck_rows)
    s_vac = sum(r["check"] == "vacuous" for r in stuck_rows)
    if s_pass:
        oks.append(f"{s_pass} stuck-at measurements are at or above a certified robust fraction "
                   "above chance")
    vacuous = []
    if n_vac:
        vacuous.append(f"{n_vac} accuracy points have a ceiling of 1 − 1e-6 or more, or above the "
                       "network's clean accuracy: they test nothing")
    if s_vac:
        vacuous.append(f"{s_vac} stuck-at points have a certified fraction below chance (1/C): "
                       "above it trivially")
    for p in parities:
        if p["ok"]:
            oks.append(f"{p['model']}: the theory network reproduces the accelerator's clean "
                       f"predictions on all {p['images']} images checked")
    if oks:
        checks.append(box("ok", oks, "Passed"))
    if vacuous:
        checks.append(box("note", vacuous, "Vacuous (not counted as passed)"))
    if model_notes:
        checks.append(box("note", model_notes, "Not computed"))
    checks.append(_models_html(models))

    blocks = [("cnn", "0. Convolutional networks: what the theory says about weight-shared layers",
               cnn.cnn_html(sec["cnn"]))] if sec["cnn"]["models"] else []
    blocks += [
        ("accuracy", "1. Accuracy vs eps: measured, predicted, ceiling",
         _accuracy_html(sec["accuracy"], figs["accuracy"], out)),
        ("flip-rates", "2. Per-layer flip rates: predicted vs measured",
         _flip_html(sec["flip_rates"], figs["flip_rates"], out)),
        ("tradeoff", "3. Neurons required vs depth (lower bound)",
         _tradeoff_html(sec["tradeoff"], figs["tradeoff"], out)),
        ("stuck", "4. Stuck-at faults vs the certified and FEP bounds",
         _stuck_html(sec["stuck"], figs["stuck"], out)),
        ("geometry", "5. Binarization geometry",
         _geometry_html(sec["geometry"], figs["geometry"], out)),
        ("design", "6. Design space", _design_html(sec["design"], figs["design"], out)),
    ]
    n_rows = len(df)
    meta = esc(f"{n_rows} result rows from {len(files)} table(s); models "
               f"{', '.join(sorted(models))}; board {board}; generated {generated}")
    seconds = time.perf_counter() - t0
    footer = _footer(files, explore.file if explore is not None else None, generated, command,
                     seconds, cache)
    numbers = {
        "title": title, "generated": generated, "command": command, "board": board,
        "options": asdict(opts), "git_commit": _git_commit(),
        "inputs": [asdict(f) for f in files],
        "explore_input": asdict(explore.file) if explore is not None and explore.file else None,
        "models": {n: {"build_dir": i.build_dir, "twin_sha256": i.twin_sha256,
                       "injector_widths": i.injector_widths, "injector_bits": i.injector_bits,
                       "injector_channels": i.injector_channels,
                       "injector_pixels": i.injector_pixels,
                       "n_classes": i.n_classes, "theory_network": i.network is not None,
                       "warnings": i.warnings, "notes": i.notes} for n, i in models.items()},
        "parity": parities, "flags": flags, "warnings": warnings,
        "figures": {k: (v.name if v else None) for k, v in figs.items()},
        "sections": sec,
    }
    (out / NUMBERS).write_text(json.dumps(_jsonable(numbers), indent=1, default=str))
    index = out / INDEX
    index.write_text(page(title, meta, blocks, "".join(checks), footer), encoding="utf-8")
    step(f"wrote {index}")
    return index


def cli_report(args) -> int:
    """`noisybnn report RESULTS... --out DIR [--explore CSV] [--title T]`."""
    opts = ReportOptions(
        target_accuracy=getattr(args, "target_accuracy", None) or 0.9,
        theory_images=getattr(args, "theory_images", None) or 2000,
    )
    command = shlex.join([Path(sys.argv[0]).name or "noisybnn", *sys.argv[1:]])
    index = build_report(args.results, args.out, explore_csv=args.explore,
                         board=getattr(args, "board", None) or "pynq-z2", title=args.title,
                         options=opts, command=command,
                         progress=not getattr(args, "quiet", False))
    numbers = json.loads((index.parent / NUMBERS).read_text())
    for flag in numbers["flags"]:
        print(f"CHECK FAILED: {flag}", file=sys.stderr)
    for warning in numbers["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"report: {index}")
    return 0
