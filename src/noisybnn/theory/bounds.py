"""Information and accuracy ceilings for layered networks of noisy binary neurons.

Model (Zhou et al. 2021; von Neumann / Evans-Schulman noisy gates): the label ``Y`` is a function of
the noise-free binary input ``X``; hidden layer ``l`` has ``N_l`` binary neurons, each a
deterministic function of the previous layer followed by a BSC(eps) on its output; the readout
(argmax of integer logits) is a noise-free function of the last hidden layer. Then

    I(Y; output) <= I(Y; H_L) <= min( perc * I(Y; X),  min_l N_l (1 - h(eps)) prod_{l'>l} f_l' ),
    f_l = 1 - (4 eps (1 - eps))^{N_l},   perc = prod_l f_l   (percolation SDPI, Polyanskiy & Wu),

and Fano's inequality turns the information ceiling into an accuracy ceiling for *any* decoder of
the last hidden layer. ``widths`` lists the widths of the **noisy** layers only: a noise-free layer
is never erased in the percolation argument and contributes a factor 1.

Vectorisation: ``widths`` has shape ``(..., L)`` (last axis = layers); ``eps`` broadcasts against
``widths[..., 0]``. The ``uniform_*`` functions broadcast ``width``, ``depth`` and ``eps`` freely.
The inverse functions (``min_width``, ``min_total_neurons``) broadcast with ``np.vectorize``.

Where the bounds are vacuous: (4 eps (1-eps))^N is astronomically small for wide layers unless eps
is close to 1/2 (N = 64, eps = 0.01: 2e-90; eps = 0.3: 1.4e-5), so the ceiling is then ~1 for any
depth of practical size. The ceilings bite only for narrow layers, eps near 1/2, or very deep
networks. Full derivations and numbers: ``docs/theory.md`` §2-§4.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from noisybnn.theory import _validation as check
from noisybnn.theory.channels import bsc_capacity

_BISECTION_STEPS = 64  # halvings of [0, 1): below float64 resolution


# --------------------------------------------------------------------------------------------
# network factors
# --------------------------------------------------------------------------------------------
def _widths_and_eps(widths: ArrayLike, eps: ArrayLike) -> tuple[NDArray, NDArray]:
    w = check.positive_integers(widths, "widths")
    if w.ndim == 0:
        w = w[None]
    e = check.probability(eps, "eps")[..., None]
    return w, e


def _one_minus_delta_pow(width: NDArray, eps: NDArray) -> NDArray:
    """1 - (4 eps (1-eps))^N, computed stably for eps near 0 and near 1/2."""
    eta = (1.0 - 2.0 * eps) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        log_delta = np.log1p(-eta)  # -inf where eta == 1 (eps in {0, 1})
        out = -np.expm1(width * log_delta)
    return np.where(eta == 1.0, 1.0, out)


def percolation_factor(widths: ArrayLike, eps: ArrayLike) -> NDArray[np.float64]:
    """SDPI contraction of a layered network of noisy neurons: prod_l [1 - (4 eps(1-eps))^{N_l}].

    Percolation bound (Polyanskiy & Wu 2017): keep each noisy neuron open with probability
    eta = (1-2 eps)^2; then I(W; H_L) <= P(open path input -> H_L) * I(W; X) for every W - X - H_L.
    With all-to-all layers a path exists iff no layer is fully erased.

    Args:
        widths: widths of the noisy layers, shape ``(..., L)``.
        eps: flip probability of every noisy neuron, broadcast against ``widths[..., 0]``.

    Returns:
        The factor in [0, 1]; 1 at eps = 0, 0 at eps = 1/2.
    """
    w, e = _widths_and_eps(widths, eps)
    return np.prod(_one_minus_delta_pow(w, e), axis=-1)


def path_sum_factor(widths: ArrayLike, eps: ArrayLike) -> NDArray[np.float64]:
    """Evans-Schulman path-sum factor min(1, sum over paths of prod eta) = min(1, prod_l N_l eta).

    There are prod_l N_l input-to-output paths through a layered all-to-all network, each crossing
    L noisy neurons. This is the union bound on the percolation probability, so it is never
    smaller than :func:`percolation_factor`; it is vacuous (= 1) as soon as N_l eta >= 1 in all
    layers, i.e. for all practical widths unless eps is near 1/2.
    """
    w, e = _widths_and_eps(widths, eps)
    eta = (1.0 - 2.0 * e) ** 2
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.prod(w * eta, axis=-1)
    return np.minimum(1.0, np.nan_to_num(out, nan=1.0, posinf=1.0))


def capacity_bound(widths: ArrayLike, eps: ArrayLike) -> NDArray[np.float64]:
    """min_l N_l (1 - h(eps)) bits: a noisy layer is a cut carrying at most N_l BSC capacities."""
    w, e = _widths_and_eps(widths, eps)
    return np.min(w * bsc_capacity(e), axis=-1)


def contracted_capacity_bound(widths: ArrayLike, eps: ArrayLike) -> NDArray[np.float64]:
    """min_l N_l (1 - h(eps)) prod_{l' > l} [1 - (4 eps(1-eps))^{N_l'}] bits.

    Capacity of layer l, contracted by the percolation SDPI of the layers after it: Y - H_l - H_L
    is a Markov chain, so I(Y; H_L) <= perc(H_l -> H_L) I(Y; H_l) <= perc(H_l -> H_L) N_l (1-h).
    Never larger than :func:`capacity_bound` (the l = L term is the plain last-layer cut).
    """
    w, e = _widths_and_eps(widths, eps)
    f = np.broadcast_to(_one_minus_delta_pow(w, e), np.broadcast_shapes(w.shape, e.shape))
    after = np.cumprod(f[..., ::-1], axis=-1)[..., ::-1]  # prod_{l' >= l}
    after = np.concatenate([after[..., 1:], np.ones(after.shape[:-1] + (1,))], axis=-1)
    return np.min(w * bsc_capacity(e) * after, axis=-1)


def _input_info(input_info: ArrayLike | None, n_classes: int) -> NDArray:
    top = np.log2(n_classes)
    if input_info is None:
        return np.asarray(top)
    arr = check.nonnegative(input_info, "input_info")
    if arr.size and arr.max() > top * (1 + 1e-12):
        raise ValueError(
            f"input_info = I(label; X) cannot exceed log2(n_classes) = {top:.6g} bits, got "
            f"{arr.max()!r}"
        )
    return np.minimum(arr, top)


def info_ceiling(
    widths: ArrayLike,
    eps: ArrayLike,
    n_classes: int,
    *,
    input_info: ArrayLike | None = None,
    use_capacity: bool = True,
) -> NDArray[np.float64]:
    """Ceiling on I(label; last noisy layer) in bits.

    ``min(percolation_factor * I_in, contracted_capacity_bound, I_in)`` with
    ``I_in = I(label; X)``, by default log2(n_classes) (its maximum). Valid for any weights,
    thresholds and decoder of the last noisy layer.

    Args:
        widths: widths of the noisy layers, shape ``(..., L)``.
        eps: flip probability, broadcast against ``widths[..., 0]``.
        n_classes: number of classes C >= 2.
        input_info: I(label; X) in bits if known (for a deterministic label, H(label)).
        use_capacity: also apply the (contracted) capacity cuts; False gives the pure SDPI
            ceiling ``percolation_factor * I_in``.

    Returns:
        Ceiling in bits, shape ``broadcast(widths.shape[:-1], eps.shape)``.
    """
    n_classes = check.n_classes(n_classes)
    i_in = _input_info(input_info, n_classes)
    out = percolation_factor(widths, eps) * i_in
    if use_capacity:
        out = np.minimum(out, contracted_capacity_bound(widths, eps))
    return np.minimum(out, i_in)


def evans_schulman_ceiling(
    widths: ArrayLike, eps: ArrayLike, n_classes: int, *, input_info: ArrayLike | None = None
) -> NDArray[np.float64]:
    """Path-sum ceiling on I(label; last noisy layer): min(1, prod_l N_l eta) * I(label; X)."""
    n_classes = check.n_classes(n_classes)
    i_in = _input_info(input_info, n_classes)
    return path_sum_factor(widths, eps) * i_in


def empirical_label_entropy(labels: ArrayLike, n_classes: int) -> float:
    """H(Y) in bits of the labels an accuracy is measured on: what ``label_entropy`` should be.

    The ceilings' default, log2 C, is valid only for equiprobable classes; on skewed labels a
    decoder gets more than 1/C from zero information and the default ceiling can be violated
    (issue 17: 1,049 of 2,000 random tiny networks with skewed labels).
    """
    n_classes = check.n_classes(n_classes)
    y = np.asarray(labels).reshape(-1)
    if y.size == 0:
        raise ValueError("labels must not be empty")
    if not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= n_classes:
        raise ValueError(f"labels must be integers in [0, {n_classes})")
    p = np.bincount(y, minlength=n_classes) / y.size
    p = p[p > 0]
    return float(min(-(p * np.log2(p)).sum(), np.log2(n_classes)))


# --------------------------------------------------------------------------------------------
# Fano
# --------------------------------------------------------------------------------------------
def _fano_gap(gain: NDArray, n_classes: int) -> NDArray:
    """log2 C - F(Pe) at accuracy 1/C + gain, computed without cancellation near chance.

    With F(Pe) = h(Pe) + Pe log2(C - 1), log2 C - F(Pe) is the divergence D(p || uniform) of
    p = (1 - Pe, Pe/(C-1), ...); at Pe = (C-1)/C - gain it is
    (1/C + gain) log2(1 + C gain) + ((C-1)/C - gain) log2(1 - C gain / (C-1)),
    increasing in gain from 0 (chance) to log2 C (gain = (C-1)/C, accuracy 1).
    """
    c = float(n_classes)
    top = (c - 1.0) / c
    with np.errstate(divide="ignore", invalid="ignore"):
        a = (1.0 / c + gain) * np.log1p(c * gain)
        b = (top - gain) * np.log1p(-c * gain / (c - 1.0))
    b = np.where(gain >= top, 0.0, b)
    return (a + b) / np.log(2.0)


def fano_min_info(
    accuracy: ArrayLike, n_classes: int, *, label_entropy: ArrayLike | None = None
) -> NDArray[np.float64]:
    """Least I(label; observation) in bits that allows a decoder to reach ``accuracy``.

    Fano: H(Y | Z) <= h(Pe) + Pe log2(C - 1) for any estimate of Y from Z, and H(Y|Z) = H(Y) - I.
    Hence accuracy P_c needs I >= H(Y) - h(1 - P_c) - (1 - P_c) log2(C - 1); accuracies up to 1/C
    need nothing (this function is 0 there).

    Args:
        accuracy: target accuracy in [0, 1].
        n_classes: number of classes C >= 2.
        label_entropy: H(Y) in bits; default log2 C (equiprobable classes).
    """
    n_classes = check.n_classes(n_classes)
    acc = check.probability(accuracy, "accuracy")
    h_y = check.label_entropy(label_entropy, n_classes)
    gain = np.maximum(acc - 1.0 / n_classes, 0.0)
    return np.maximum(0.0, h_y - np.log2(n_classes) + _fano_gap(gain, n_classes))


def fano_accuracy_ceiling(
    info_bits: ArrayLike, n_classes: int, *, label_entropy: ArrayLike | None = None
) -> NDArray[np.float64]:
    """Largest accuracy that Fano's inequality allows with ``info_bits`` of label information.

    Inverts Fano: the largest P_c with h(1 - P_c) + (1 - P_c) log2(C - 1) >= H(Y) - I. Written as
    D(p || uniform) <= I + log2 C - H(Y) (see :func:`fano_min_info`) and solved by bisection on
    the gain over chance, which keeps full precision near 1/C. I = 0 with equiprobable classes
    gives 1/C; I >= H(Y) gives 1.

    Args:
        info_bits: I(label; observation) in bits, >= 0 (values above H(Y) are clipped).
        n_classes: number of classes C >= 2.
        label_entropy: H(Y) in bits; default log2 C. With unequal class frequencies pass the true
            entropy: the default then understates what a decoder can reach.

    Returns:
        The ceiling in [1/C, 1] (with equiprobable classes), shape of ``info_bits``.
    """
    n_classes = check.n_classes(n_classes)
    info = check.nonnegative(info_bits, "info_bits")
    h_y = check.label_entropy(label_entropy, n_classes)
    budget = np.broadcast_to(
        info + (np.log2(n_classes) - h_y), np.broadcast_shapes(info.shape, h_y.shape)
    )
    lo = np.zeros(budget.shape)  # gap(lo) <= budget < gap(hi) is kept
    hi = np.full(budget.shape, (n_classes - 1) / n_classes)
    for _ in range(_BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        inside = _fano_gap(mid, n_classes) <= budget
        lo = np.where(inside, mid, lo)
        hi = np.where(inside, hi, mid)
    out = 1.0 / n_classes + lo
    return np.where(budget >= np.log2(n_classes), 1.0, out)


# --------------------------------------------------------------------------------------------
# accuracy ceilings
# --------------------------------------------------------------------------------------------
def accuracy_ceiling(
    widths: ArrayLike,
    eps: ArrayLike,
    n_classes: int,
    *,
    label_entropy: ArrayLike | None = None,
    use_capacity: bool = True,
) -> NDArray[np.float64]:
    """Best accuracy any decoder of the last noisy layer can reach, from widths, depth and eps.

    ``fano_accuracy_ceiling(info_ceiling(widths, eps, C, input_info=H(Y)), C)``. It does not
    depend on weights, thresholds or training: it is a property of the noisy architecture.

    Args:
        widths: widths of the noisy layers, shape ``(..., L)``.
        eps: flip probability, broadcast against ``widths[..., 0]``.
        n_classes: number of classes C >= 2.
        label_entropy: H(Y) in bits; default log2 C, i.e. **equiprobable classes** (the ceiling
            is not valid for skewed labels unless their entropy is passed here).
        use_capacity: also apply the capacity cut bound.

    Returns:
        Accuracy ceiling in [1/C, 1]: 1 at eps = 0 (for widths >= log2 C), 1/C at eps = 1/2.
    """
    n_classes = check.n_classes(n_classes)
    h_y = check.label_entropy(label_entropy, n_classes)
    info = info_ceiling(widths, eps, n_classes, input_info=h_y, use_capacity=use_capacity)
    return fano_accuracy_ceiling(info, n_classes, label_entropy=h_y)


def uniform_info_ceiling(
    width: ArrayLike,
    depth: ArrayLike,
    eps: ArrayLike,
    n_classes: int,
    *,
    input_info: ArrayLike | None = None,
    use_capacity: bool = True,
) -> NDArray[np.float64]:
    """:func:`info_ceiling` for ``depth`` noisy layers of equal ``width``; all arguments broadcast.

    ``min(f^L I_in, N (1 - h(eps)) f^(L-1), I_in)`` with f = 1 - (4 eps (1-eps))^N.
    """
    n_classes = check.n_classes(n_classes)
    n = check.positive_integers(width, "width")
    depth = check.positive_integers(depth, "depth")
    e = check.probability(eps, "eps")
    i_in = _input_info(input_info, n_classes)
    f = _one_minus_delta_pow(n, e)
    out = f**depth * i_in
    if use_capacity:
        out = np.minimum(out, n * bsc_capacity(e) * f ** (depth - 1))
    return np.minimum(out, i_in)


def uniform_accuracy_ceiling(
    width: ArrayLike,
    depth: ArrayLike,
    eps: ArrayLike,
    n_classes: int,
    *,
    label_entropy: ArrayLike | None = None,
    use_capacity: bool = True,
) -> NDArray[np.float64]:
    """:func:`accuracy_ceiling` for ``depth`` noisy layers of equal ``width``; all broadcast."""
    n_classes = check.n_classes(n_classes)
    h_y = check.label_entropy(label_entropy, n_classes)
    info = uniform_info_ceiling(
        width, depth, eps, n_classes, input_info=h_y, use_capacity=use_capacity
    )
    return fano_accuracy_ceiling(info, n_classes, label_entropy=h_y)


# --------------------------------------------------------------------------------------------
# inverse: widths needed for a target accuracy
# --------------------------------------------------------------------------------------------
_FEASIBLE_TOL = 1e-12  # bits
_MAX_WIDTH_LOG2 = 62  # widths beyond 2^62 count as impossible


def _percolation_width(depth: int, eta: float, ratio: float) -> float:
    """Least N with [1 - (1 - eta)^N]^depth >= ratio (closed form, before rounding checks)."""
    if eta >= 1.0 or ratio <= 0.0:
        return 1.0
    slack = -np.expm1(np.log(ratio) / depth)  # 1 - ratio^(1/L)
    if slack <= 0.0 or eta <= 0.0:
        return np.inf  # ratio 1 needs a layer that is never erased
    return max(1.0, float(np.ceil(np.log(slack) / np.log1p(-eta))))


def _smallest_feasible(start: int, feasible) -> float:
    """Least integer n >= 1 with feasible(n), for a monotone predicate, searching from start."""
    n = max(1, int(start))
    if feasible(n):
        while n > 1 and feasible(n - 1):  # closed forms can be off by one after rounding
            n -= 1
        return float(n)
    lo, hi = n, 2 * n
    while not feasible(hi):
        lo, hi = hi, 2 * hi
        if hi > 2**_MAX_WIDTH_LOG2:
            return np.inf
    while hi - lo > 1:  # feasible(hi), not feasible(lo)
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if feasible(mid) else (mid, hi)
    return float(hi)


def _need_bits(target: float, n_classes: int, h_y: float) -> float:
    return float(fano_min_info(target, n_classes, label_entropy=h_y))


def _min_width_scalar(depth: float, eps: float, target: float, n_classes: int, h_y: float) -> float:
    depth = int(depth)
    need = _need_bits(target, n_classes, h_y)
    if need <= _FEASIBLE_TOL:
        return 1.0
    eta = (1.0 - 2.0 * eps) ** 2
    cap = float(bsc_capacity(eps))
    if cap <= 0.0 or eta <= 0.0:
        return np.inf  # eps = 1/2: no neuron carries anything
    # necessary conditions with closed forms: percolation alone and the last-layer cut alone
    n0 = max(_percolation_width(depth, eta, min(need / h_y, 1.0)), np.ceil(need / cap - 1e-9))
    if not np.isfinite(n0):
        return np.inf

    def feasible(n: int) -> bool:
        got = float(uniform_info_ceiling(n, depth, eps, n_classes, input_info=h_y))
        return got >= need - _FEASIBLE_TOL

    return _smallest_feasible(int(n0), feasible)


def min_width(
    depth: ArrayLike,
    eps: ArrayLike,
    target_accuracy: ArrayLike,
    n_classes: int,
    *,
    label_entropy: ArrayLike | None = None,
) -> NDArray[np.float64]:
    """Least uniform width N for which :func:`uniform_accuracy_ceiling` reaches the target.

    A **necessary** width: with fewer noisy neurons per layer no network of that depth (whatever
    its weights) can reach ``target_accuracy``; more neurons do not guarantee it.

    Args:
        depth: number of noisy layers L >= 1.
        eps: flip probability in [0, 1].
        target_accuracy: accuracy in [0, 1].
        n_classes: number of classes C >= 2.
        label_entropy: H(Y) in bits; default log2 C (equiprobable classes).

    Returns:
        N as float (broadcast over the inputs), ``inf`` where no width suffices (eps = 1/2 with a
        target above 1/C, or target 1 with 0 < eps < 1).
    """
    n_classes = check.n_classes(n_classes)
    depth = check.positive_integers(depth, "depth")
    eps = check.probability(eps, "eps")
    target = check.probability(target_accuracy, "target_accuracy")
    h_y = check.label_entropy(label_entropy, n_classes)
    fn = np.vectorize(_min_width_scalar, otypes=[float])
    return fn(depth, eps, target, n_classes, h_y)[()]


def _min_total_scalar(depth: float, eps: float, target: float, n_classes: int, h_y: float) -> float:
    depth = int(depth)
    need = _need_bits(target, n_classes, h_y)
    if need <= _FEASIBLE_TOL:
        return float(depth)
    eta = (1.0 - 2.0 * eps) ** 2
    cap = float(bsc_capacity(eps))
    if cap <= 0.0 or eta <= 0.0:
        return np.inf
    n_cap = int(np.ceil(need / cap - 1e-9))

    def perc_ok(widths: list[int]) -> bool:
        got = float(percolation_factor(widths, eps)) * h_y
        return got >= need - _FEASIBLE_TOL

    n0 = _percolation_width(depth, eta, min(need / h_y, 1.0))
    if not np.isfinite(n0):
        return np.inf
    n = _smallest_feasible(int(n0), lambda m: perc_ok([m] * depth))
    if not np.isfinite(n):
        return np.inf
    n = int(n)
    if n_cap >= n:
        return float(depth * n_cap)  # every layer needs n_cap anyway, and that satisfies perc
    # Balanced profiles are optimal (convexity, docs/theory.md §4): k layers of n, the rest n - 1.
    for k in range(1, depth + 1):
        if perc_ok([n] * k + [n - 1] * (depth - k)):
            return float(depth * (n - 1) + k)
    return float(depth * n)  # pragma: no cover - k = depth is the uniform width, always feasible


def min_total_neurons(
    depth: ArrayLike,
    eps: ArrayLike,
    target_accuracy: ArrayLike,
    n_classes: int,
    *,
    label_entropy: ArrayLike | None = None,
) -> NDArray[np.float64]:
    """A necessary total number of noisy neurons sum_l N_l over ``depth`` layers for the target.

    Exact minimum over **all** integer width profiles of the two constraints
    ``prod_l [1 - delta^{N_l}] H(Y) >= I_req`` (percolation) and ``N_l (1 - h(eps)) >= I_req``
    (every layer is a cut). Both are necessary, so no network with fewer noisy neurons reaches the
    target. The summand -log(1 - delta^N) is convex and decreasing in N, so balanced profiles
    (widths differing by at most 1) are optimal. The contracted capacity terms of
    :func:`info_ceiling` are left out here (they break that symmetry): deep and very noisy
    settings can therefore give less than ``depth * (min_width - 1)``.

    Returns:
        Total neuron count as float, ``inf`` where impossible (see :func:`min_width`).
    """
    n_classes = check.n_classes(n_classes)
    depth = check.positive_integers(depth, "depth")
    eps = check.probability(eps, "eps")
    target = check.probability(target_accuracy, "target_accuracy")
    h_y = check.label_entropy(label_entropy, n_classes)
    fn = np.vectorize(_min_total_scalar, otypes=[float])
    return fn(depth, eps, target, n_classes, h_y)[()]


@dataclass(frozen=True)
class TradeoffCurve:
    """Depth-width trade-off for one (eps, target accuracy, classes) operating point.

    Attributes:
        depth: depths L (noisy layers).
        min_width: least uniform width per depth (inf where impossible).
        min_total_neurons: necessary total noisy neurons per depth (see
            :func:`min_total_neurons`; inf where impossible).
        eps: flip probability.
        target_accuracy: target accuracy.
        n_classes: number of classes.
    """

    depth: NDArray[np.float64]
    min_width: NDArray[np.float64]
    min_total_neurons: NDArray[np.float64]
    eps: float
    target_accuracy: float
    n_classes: int

    def rows(self) -> list[dict[str, float]]:
        """One dict per depth, for tables and CSV."""
        return [
            {"depth": int(d), "min_width": float(w), "min_total_neurons": float(t)}
            for d, w, t in zip(self.depth, self.min_width, self.min_total_neurons, strict=True)
        ]


def tradeoff_curve(
    depths: ArrayLike,
    eps: float,
    target_accuracy: float,
    n_classes: int,
    *,
    label_entropy: float | None = None,
) -> TradeoffCurve:
    """Least width and necessary total neuron count per depth for one operating point.

    For large L the least width grows like ln(L / ln(1/r)) / ln(1/delta) with r = I_req / H(Y) and
    delta = 4 eps (1 - eps): logarithmically in depth, so total neurons grow like L log L.
    """
    d = np.atleast_1d(check.positive_integers(depths, "depths"))
    if d.ndim != 1:
        raise ValueError(f"depths must be a 1-d sequence, got shape {d.shape}")
    e = check.probability(eps, "eps")
    t = check.probability(target_accuracy, "target_accuracy")
    if e.ndim or t.ndim:
        raise ValueError("tradeoff_curve takes one eps and one target_accuracy (scalars)")
    w = np.atleast_1d(min_width(d, e, t, n_classes, label_entropy=label_entropy))
    tot = np.atleast_1d(min_total_neurons(d, e, t, n_classes, label_entropy=label_entropy))
    return TradeoffCurve(d, w, tot, float(e), float(t), check.n_classes(n_classes))
