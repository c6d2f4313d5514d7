"""Worst-case bounds for stuck-at neurons (El Mhamdi & Guerraoui's Forward Error Propagation).

Two bounds, both for ``f_l`` faulty neurons in hidden layer ``l`` at *unknown* positions whose
outputs are forced to arbitrary values in [-1, 1] (stuck-at-0/1 of the injector = -1/+1):

* :func:`fep_bound`: the FEP bound (docs/theory.md §6). It needs a Lipschitz activation, so it is
  stated for the **hard-tanh surrogate** of each binary layer, ``y = clip(g_l (W x - T), -1, 1)``
  with ``g_l`` the pre-activation scale (the BatchNorm 1/sigma folded away by the thresholds;
  default 1/sqrt(fan-in), the spread of a +-1 dot product). It is sound for that surrogate network
  and only a heuristic for the sign network, whose activation has no Lipschitz constant.
* :func:`certified_robust`: a per-sample certificate that is sound for the sign network itself:
  it propagates the number of neurons that *may* differ, using each neuron's clean margin.

Either gives a "guaranteed robust" fraction: correctly classified samples whose clean logit margin
survives the worst case. With the sound variants, the measured stuck-at accuracy of any fault
placement is >= that fraction; the tests check it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from noisybnn.theory.network import Network, as_inputs, as_labels, as_network, forward


def _crashed(crashed: ArrayLike, net: Network) -> NDArray[np.int64]:
    f = np.asarray(crashed)
    n_hidden = len(net.hidden)
    if f.shape != (n_hidden,):
        raise ValueError(
            f"crashed must give one count per hidden layer ({n_hidden}), got shape {f.shape}"
        )
    if not np.all(f == np.round(f)) or (f < 0).any():
        raise ValueError(f"crashed counts must be integers >= 0, got {f.tolist()}")
    widths = np.array(net.widths)
    if (f > widths).any():
        raise ValueError(f"crashed counts {f.tolist()} exceed the layer widths {widths.tolist()}")
    return f.astype(np.int64)


def _preact_scale(preact_scale: ArrayLike | None, net: Network) -> NDArray[np.float64]:
    if preact_scale is None:
        # a conv unit's spread is that of its window (fan-in), not of the whole input map
        return np.array([1.0 / np.sqrt(max(1, getattr(layer, "fan_in", layer.n_in)))
                         for layer in net.hidden])
    g = np.asarray(preact_scale, dtype=float)
    if g.ndim == 0:
        g = np.full(len(net.hidden), float(g))
    if g.shape != (len(net.hidden),) or not np.isfinite(g).all() or (g <= 0).any():
        raise ValueError(
            f"preact_scale must be a positive scalar or one per hidden layer ({len(net.hidden)})"
        )
    return g


def fep_layer_bounds(
    layers: Network | Sequence[object],
    crashed: ArrayLike,
    *,
    lipschitz: float = 1.0,
    preact_scale: ArrayLike | None = None,
    stuck_error: float = 2.0,
) -> NDArray[np.float64]:
    """FEP recursion: bound E_l on the l1 norm of the output error of each hidden layer.

    ``E_0 = 0`` (the input is noise-free) and
    ``E_l = stuck_error * f_l + K g_l (N_l - f_l) w_max,l E_{l-1}``:
    a faulty neuron is off by at most ``stuck_error`` (2 between -1 and +1), a healthy one by at
    most K g_l sum_i |W_ji| |e_i|, and summing over the N_l - f_l healthy rows gives the factor.

    Returns:
        (hidden layers,) bounds E_l.
    """
    net = as_network(layers)
    f = _crashed(crashed, net)
    g = _preact_scale(preact_scale, net)
    if (
        not np.isfinite(lipschitz)
        or lipschitz < 0
        or not np.isfinite(stuck_error)
        or stuck_error < 0
    ):
        raise ValueError("lipschitz and stuck_error must be finite and >= 0")
    e_prev, out = 0.0, []
    for layer, f_l, g_l in zip(net.hidden, f, g, strict=True):
        w_max = layer.w_max
        e_prev = stuck_error * f_l + lipschitz * g_l * (layer.n_out - f_l) * w_max * e_prev
        out.append(e_prev)
    return np.array(out, dtype=float)


def fep_bound(
    layers: Network | Sequence[object],
    crashed: ArrayLike,
    *,
    lipschitz: float = 1.0,
    preact_scale: ArrayLike | None = None,
    stuck_error: float = 2.0,
) -> float:
    """Forward Error Propagation bound on the change of any single logit.

    ``max_c |a_c| * max_i |W^out_ci| * E_L`` with E_L from :func:`fep_layer_bounds`; unrolled,
    ``sum_l stuck_error f_l prod_{l' > l} K g_l' (N_l' - f_l') w_max,l'`` times the readout factor,
    the shape of El Mhamdi & Guerraoui's FEP. Sound for the hard-tanh surrogate network; grows like
    (K g N)^depth, so for +-1 weights (g N = sqrt(N)) it is informative only for faults in the last
    hidden layers.

    Args:
        layers: the network.
        crashed: number of faulty neurons per hidden layer.
        lipschitz: Lipschitz constant K of the surrogate activation (1 for hard-tanh).
        preact_scale: g_l per hidden layer, default 1/sqrt(fan-in).
        stuck_error: largest output error of a faulty neuron (2 for stuck-at -1/+1, 1 for a crash
            to 0 of a +-1 neuron).
    """
    net = as_network(layers)
    e = fep_layer_bounds(
        net, crashed, lipschitz=lipschitz, preact_scale=preact_scale, stuck_error=stuck_error
    )
    e_last = float(e[-1]) if e.size else 0.0
    ro = net.readout
    return float(np.max(np.abs(ro.scale)) * np.max(np.abs(ro.weights)) * e_last)


def hardtanh_forward(
    layers: Network | Sequence[object],
    x: ArrayLike,
    *,
    preact_scale: ArrayLike | None = None,
    stuck: Sequence[ArrayLike | None] | None = None,
) -> NDArray[np.float64]:
    """Logits of the hard-tanh surrogate network y = clip(g (W x - T), -1, 1), with stuck outputs.

    The network for which :func:`fep_bound` is a theorem; ``stuck`` as in
    :func:`noisybnn.theory.network.forward`.
    """
    net = as_network(layers)
    h = as_inputs(x, net.n_in)
    g = _preact_scale(preact_scale, net)
    for i, layer in enumerate(net.hidden):
        h = np.clip(g[i] * (layer.linear(h) - layer.thresholds), -1.0, 1.0)
        if stuck is not None and stuck[i] is not None:
            s = np.asarray(stuck[i], dtype=float)
            h = np.where(s != 0, s, h)
    return net.readout.logits(h)


def _margin_robust(logits: NDArray, bound: NDArray, y: NDArray) -> NDArray[np.bool_]:
    """Correct, and stays so when each logit c moves by at most bound[..., c] (ties: low index)."""
    n, c = logits.shape
    rows = np.arange(n)
    low_y = logits[rows, y] - bound[rows, y]
    high = logits + bound
    cls = np.arange(c)[None, :]
    beats = np.where(cls < y[:, None], low_y[:, None] > high, low_y[:, None] >= high)
    beats[rows, y] = True
    return beats.all(axis=1)


def fep_robust_fraction(
    layers: Network | Sequence[object],
    x: ArrayLike,
    labels: ArrayLike,
    crashed: ArrayLike,
    *,
    lipschitz: float = 1.0,
    preact_scale: ArrayLike | None = None,
    stuck_error: float = 2.0,
    surrogate: bool = False,
) -> float:
    """Fraction of samples that are correct with a clean logit margin beyond the FEP bound.

    Args:
        layers, crashed, lipschitz, preact_scale, stuck_error: as in :func:`fep_bound`.
        x: inputs in {-1, +1}; labels: class per sample.
        surrogate: take the clean margins of the hard-tanh surrogate network (where the fraction
            is a guaranteed lower bound on its faulty accuracy). False (default) takes the sign
            network's margins: the figure the FEP literature would quote for a BNN, but not a
            theorem for it (use :func:`certified_robust_fraction` for a sound sign-network figure).
    """
    net = as_network(layers)
    xs = as_inputs(x, net.n_in)
    y = as_labels(labels, xs.shape[0], net.readout.n_classes)
    bnd = fep_bound(
        net, crashed, lipschitz=lipschitz, preact_scale=preact_scale, stuck_error=stuck_error
    )
    logits = (
        hardtanh_forward(net, xs, preact_scale=preact_scale)
        if surrogate
        else forward(net, xs).logits
    )
    return float(np.mean(_margin_robust(logits, np.full_like(logits, bnd), y)))


def _top_abs_cumsum(w: NDArray) -> NDArray[np.float64]:
    """For each row, cumulative sums of |w| sorted descending, with a leading 0: (rows, in + 1)."""
    a = -np.sort(-np.abs(w.astype(float)), axis=1)
    return np.concatenate([np.zeros((w.shape[0], 1)), np.cumsum(a, axis=1)], axis=1)


def certified_robust(
    layers: Network | Sequence[object],
    x: ArrayLike,
    labels: ArrayLike,
    crashed: ArrayLike,
) -> NDArray[np.bool_]:
    """Per sample: is the sign network's decision correct under **every** placement of the faults?

    ``d_l`` bounds how many outputs of layer l may differ from clean (``d_0 = 0``). With ``d``
    inputs changed, a neuron's pre-activation moves by at most 2 * (sum of its d largest |W_ji|); it
    can flip only if its clean margin is within that. So ``d_l = min(N_l, f_l + #vulnerable)``, and
    a logit difference ``l_y - l_c`` moves by at most 2 * (sum of the d_L largest
    ``|a_y W_y,i - a_c W_c,i|``). Sound for stuck-at -1/+1 (and crashes to 0) at any positions; the
    tie rule of the argmax (lowest index wins) is respected.

    Returns:
        (samples,) boolean.
    """
    net = as_network(layers)
    xs = as_inputs(x, net.n_in)
    y = as_labels(labels, xs.shape[0], net.readout.n_classes)
    f = _crashed(crashed, net)
    d = np.zeros(xs.shape[0], dtype=np.int64)
    h = xs
    for layer, f_l in zip(net.hidden, f, strict=True):
        s0 = layer.pre_activation(h)
        pos = s0 >= layer.thresholds
        if hasattr(layer, "top_abs_sum"):  # conv / pool layers: binary weights, min(d, nnz)
            shift = 2.0 * layer.top_abs_sum(d)
        else:
            w = layer.weights.astype(float)
            shift = 2.0 * _top_abs_cumsum(w)[:, np.minimum(d, layer.n_in)].T  # (samples, out)
        vulnerable = np.where(pos, s0 - shift < layer.thresholds, s0 + shift >= layer.thresholds)
        d = np.minimum(layer.n_out, f_l + vulnerable.sum(axis=1))
        h = np.where(pos, 1.0, -1.0)
    ro = net.readout
    logits = ro.logits(h)
    # logit_y - logit_c moves by at most 2 * (sum of the d largest |a_y W_y,i - a_c W_c,i|)
    a_w = ro.scale[:, None] * ro.weights  # (C, in)
    n_cls = ro.n_classes
    diff = (a_w[:, None, :] - a_w[None, :, :]).reshape(n_cls * n_cls, ro.n_in)
    table = _top_abs_cumsum(diff).reshape(n_cls, n_cls, ro.n_in + 1)
    shift = 2.0 * table[y, :, np.minimum(d, ro.n_in)]  # (samples, C): bound on (l_y - l_c) change
    margin = logits[np.arange(len(y)), y][:, None] - logits
    cls = np.arange(n_cls)[None, :]
    ok = np.where(cls < y[:, None], margin - shift > 0, margin - shift >= 0)
    ok[np.arange(len(y)), y] = True
    return ok.all(axis=1)


def certified_robust_fraction(
    layers: Network | Sequence[object],
    x: ArrayLike,
    labels: ArrayLike,
    crashed: ArrayLike,
) -> float:
    """Fraction of samples certified by :func:`certified_robust`: a lower bound on the accuracy
    of the sign network under any placement of ``crashed[l]`` stuck-at neurons per hidden layer."""
    return float(np.mean(certified_robust(layers, x, labels, crashed)))


def certified_robust_placed(
    layers: Network | Sequence[object],
    x: ArrayLike,
    labels: ArrayLike,
    faulty: Sequence[ArrayLike | None],
) -> NDArray[np.bool_]:
    """Per sample: is the decision correct whatever values the **given** faulty units take?

    The placement is known (e.g. the crashed channels of a run, every pixel of each), the stuck
    values are not. Instead of a count of possibly-changed units (:func:`certified_robust`, any
    placement) a mask is propagated: a unit may differ if it is faulty, or if its clean margin is
    within 2 * sum of |W_ji| over its inputs that may differ (``abs_linear`` of the mask: for a
    conv unit, only the changed inputs inside its window count). Sound for that placement and
    any stuck values in [-1, 1]; the tie rule of the argmax is respected.

    Args:
        faulty: per hidden layer, a boolean (N_l,) mask of faulty units, or None.
    """
    net = as_network(layers)
    xs = as_inputs(x, net.n_in)
    y = as_labels(labels, xs.shape[0], net.readout.n_classes)
    if len(faulty) != len(net.hidden):
        raise ValueError(f"faulty needs one entry per hidden layer ({len(net.hidden)}), got "
                         f"{len(faulty)}")
    h = xs
    may = np.zeros_like(xs)
    for i, layer in enumerate(net.hidden):
        s0 = layer.pre_activation(h)
        pos = s0 >= layer.thresholds
        shift = 2.0 * layer.abs_linear(may) if may.any() else np.zeros_like(s0)
        vulnerable = np.where(pos, s0 - shift < layer.thresholds, s0 + shift >= layer.thresholds)
        f = faulty[i]
        if f is not None:
            f = np.asarray(f, dtype=bool).reshape(-1)
            if f.shape != (layer.n_out,):
                raise ValueError(f"faulty[{i}] must be a ({layer.n_out},) mask, got {f.shape}")
            vulnerable = vulnerable | f[None, :]
        may = vulnerable.astype(float)
        h = np.where(pos, 1.0, -1.0)
    ro = net.readout
    logits = ro.logits(h)
    a_w = ro.scale[:, None] * ro.weights  # (C, in)
    # bound on the change of logit_y - logit_c: 2 * sum over may-differ inputs of |a_y W_y - a_c W_c|
    diff = np.abs(a_w[y][:, None, :] - a_w[None, :, :])  # (samples, C, in)
    shift = 2.0 * np.einsum("sci,si->sc", diff, may)
    margin = logits[np.arange(len(y)), y][:, None] - logits
    cls = np.arange(ro.n_classes)[None, :]
    ok = np.where(cls < y[:, None], margin - shift > 0, margin - shift >= 0)
    ok[np.arange(len(y)), y] = True
    return ok.all(axis=1)


def splits(total: int, widths: Sequence[int]) -> list[tuple[int, ...]]:
    """Every way to place ``total`` faulty neurons across layers of these widths (f_l <= N_l)."""
    if total < 0:
        raise ValueError(f"total must be >= 0, got {total}")
    out: list[tuple[int, ...]] = []

    def rec(prefix: tuple[int, ...], left: int, rest: Sequence[int]) -> None:
        if not rest:
            if left == 0:
                out.append(prefix)
            return
        for f in range(min(left, rest[0]) + 1):
            rec((*prefix, f), left - f, rest[1:])

    rec((), int(total), list(widths))
    return out


def worst_split(
    layers: Network | Sequence[object],
    total: int,
    x: ArrayLike,
    labels: ArrayLike,
    *,
    stuck_error: float = 2.0,
) -> dict:
    """FEP bound and sound certificate for ``total`` faults in the worst split across layers.

    El Mhamdi & Guerraoui bound a network against a total number of failures placed anywhere;
    here every split (f_1, ..., f_L) is tried: the FEP logit bound is maximised and the certified
    robust fraction minimised over them (the certificate allows any stuck value, so it covers
    crash-to-0 as well as stuck-at-1). Returns both, with the splits that attain them.
    """
    net = as_network(layers)
    best_fep, best_cert = (-1.0, None), (2.0, None)
    for sp in splits(total, net.widths):
        fep = fep_bound(net, sp, stuck_error=stuck_error)
        if fep > best_fep[0]:
            best_fep = (fep, sp)
        cert = certified_robust_fraction(net, x, labels, sp)
        if cert < best_cert[0]:
            best_cert = (cert, sp)
    return {"total": int(total), "fep_max": best_fep[0], "fep_split": best_fep[1],
            "certified_min": best_cert[0], "certified_split": best_cert[1]}
