"""Exact information and Bayes accuracy of tiny noisy binary networks, by full enumeration.

The reference against which the ceilings of :mod:`noisybnn.theory.bounds` are tested: for a network
with a few input bits and a few neurons per layer, enumerate every input and every noise pattern of
every layer, build the exact joint law P(label, state of layer l), and read off I(label; H_l) and
the accuracy of the Bayes-optimal (MAP) decoder of H_l, the strongest possible readout.

Tightness study (the figures in docs/theory.md §3)::

    python -m noisybnn.theory tightness --networks 1000 --seed 0
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from noisybnn.theory import _validation as check
from noisybnn.theory.bounds import accuracy_ceiling, evans_schulman_ceiling, info_ceiling
from noisybnn.theory.network import BinaryLayer, as_inputs, layer_eps, threshold

MAX_ENUMERATED_WIDTH = 12  # 2^12 states per layer, 2^12 noise patterns: still cheap


def all_states(n: int) -> NDArray[np.float64]:
    """All 2^n vectors in {-1, +1}^n; row k has +1 at bit j iff bit j of k is set."""
    k = np.arange(2**n)[:, None]
    return np.where((k >> np.arange(n)) & 1, 1.0, -1.0)


def _state_index(states: NDArray) -> NDArray[np.int64]:
    return ((states > 0).astype(np.int64) << np.arange(states.shape[-1])).sum(axis=-1)


def layer_transition(inputs: NDArray, layer: BinaryLayer, eps: float) -> NDArray[np.float64]:
    """P(noisy layer state | each input row): a (rows, 2^N) stochastic matrix, by enumerating noise.

    Every one of the 2^N flip patterns z has probability eps^|z| (1-eps)^(N-|z|) and maps the
    clean output c to c with the bits of z inverted.
    """
    n = layer.n_out
    if n > MAX_ENUMERATED_WIDTH:
        raise ValueError(f"layer width {n} is too large to enumerate (max {MAX_ENUMERATED_WIDTH})")
    clean = threshold(inputs @ layer.weights.T, layer.thresholds)  # (rows, N)
    patterns = all_states(n) > 0  # (2^N, N): True = flipped
    n_flips = patterns.sum(axis=1)
    prob = eps**n_flips * (1.0 - eps) ** (n - n_flips)
    noisy = np.where(patterns[None, :, :], -clean[:, None, :], clean[:, None, :])
    idx = _state_index(noisy)  # (rows, 2^N)
    out = np.zeros((inputs.shape[0], 2**n))
    np.add.at(
        out, (np.repeat(np.arange(inputs.shape[0]), 2**n), idx.ravel()), np.tile(prob, len(idx))
    )
    return out


def exact_label_joints(
    hidden: Sequence[BinaryLayer],
    x: ArrayLike,
    labels: ArrayLike,
    n_classes: int,
    eps: ArrayLike,
    noisy_layers: Sequence[int] | None = None,
    p_x: ArrayLike | None = None,
) -> list[NDArray[np.float64]]:
    """Exact joint laws P(label = c, H_l = state) for every hidden layer l.

    Args:
        hidden: the hidden layers (no readout: the MAP decoder replaces it).
        x: every input in {-1, +1}, shape (inputs, bits).
        labels: label of each input (a deterministic function of the input).
        n_classes: number of classes C.
        eps: flip probability, scalar or one per hidden layer.
        noisy_layers: noisy hidden-layer indices (default all).
        p_x: input distribution (default uniform).

    Returns:
        One (C, 2^{N_l}) array per hidden layer, each summing to 1.
    """
    n_classes = check.n_classes(n_classes)
    if not hidden:
        raise ValueError("need at least one hidden layer")
    xs = as_inputs(x, hidden[0].n_in)
    y = np.asarray(labels, dtype=np.int64)
    if y.shape != (xs.shape[0],) or y.min() < 0 or y.max() >= n_classes:
        raise ValueError(f"labels must be {xs.shape[0]} integers in [0, {n_classes})")
    px = np.full(xs.shape[0], 1.0 / xs.shape[0]) if p_x is None else check.probability(p_x, "p_x")
    if px.shape != (xs.shape[0],) or not np.isclose(px.sum(), 1.0):
        raise ValueError("p_x must give one probability per input and sum to 1")
    e = layer_eps(eps, len(hidden), noisy_layers)
    joint_in = np.zeros((n_classes, xs.shape[0]))
    joint_in[y, np.arange(xs.shape[0])] = px  # P(Y = c, X = x)
    joints, cond, states = [], None, xs
    for i, layer in enumerate(hidden):
        m = layer_transition(states, layer, float(e[i]))
        cond = m if cond is None else cond @ m  # P(H_l | X), (inputs, 2^N_l)
        joints.append(joint_in @ cond)
        states = all_states(layer.n_out)
    return joints


def mutual_information(joint: ArrayLike) -> float:
    """I(A; B) in bits of a joint probability table P(A = a, B = b)."""
    p = np.asarray(joint, dtype=float)
    pa, pb = p.sum(axis=1, keepdims=True), p.sum(axis=0, keepdims=True)
    mask = p > 0
    return float(np.sum(p[mask] * np.log2(p[mask] / (pa @ pb)[mask])))


def entropy(p: ArrayLike) -> float:
    """Shannon entropy in bits of a probability vector."""
    q = np.asarray(p, dtype=float).ravel()
    q = q[q > 0]
    return float(-np.sum(q * np.log2(q)))


def map_accuracy(joint: ArrayLike) -> float:
    """Accuracy of the Bayes-optimal decoder of B for A: sum_b max_a P(a, b)."""
    return float(np.sum(np.max(np.asarray(joint, dtype=float), axis=0)))


# --------------------------------------------------------------------------------------------
# tightness study on random tiny networks
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TinyCase:
    """One random tiny network and its exact and bounded figures (last hidden layer)."""

    n_bits: int
    widths: tuple[int, ...]
    noisy: tuple[int, ...]
    eps: float
    n_classes: int
    balanced: bool
    label_entropy: float
    info: float
    info_ceiling: float
    info_ceiling_log2c: float
    sdpi_ceiling: float
    es_ceiling: float
    accuracy: float
    accuracy_ceiling: float
    prefix_violations: int


def random_tiny_case(
    rng: np.random.Generator, *, max_width: int = 4, max_depth: int = 3
) -> TinyCase:
    """Draw a random tiny network, compute exact figures and ceilings for every layer prefix.

    2-4 uniform input bits; label a random function of the input (balanced with probability 1/2:
    C a power of two, each class on 2^bits / C inputs; otherwise C in 2..6 at random); widths
    1..max_width, depth 1..max_depth; +-1 weights; thresholds uniform in [-fan_in, fan_in]; eps
    uniform in (0, 1/2]; all layers noisy with probability 3/4, else a random non-empty subset.
    """
    n_bits = int(rng.integers(2, 5))
    x = all_states(n_bits)
    depth = int(rng.integers(1, max_depth + 1))
    widths = tuple(int(w) for w in rng.integers(1, max_width + 1, size=depth))
    balanced = bool(rng.random() < 0.5)
    if balanced:
        c = int(2 ** rng.integers(1, n_bits + 1))
        labels = rng.permutation(np.repeat(np.arange(c), 2**n_bits // c))
    else:
        c = int(rng.integers(2, min(6, 2**n_bits) + 1))
        labels = rng.integers(0, c, size=2**n_bits)
    eps = float(0.5 * (1.0 - rng.random()))  # (0, 0.5]
    if rng.random() < 0.75:
        noisy = tuple(range(depth))
    else:
        k = int(rng.integers(1, depth + 1))
        noisy = tuple(sorted(int(i) for i in rng.choice(depth, size=k, replace=False)))
    hidden, n_in = [], n_bits
    for w in widths:
        hidden.append(BinaryLayer(rng.choice([-1, 1], size=(w, n_in)), rng.uniform(-n_in, n_in, w)))
        n_in = w
    joints = exact_label_joints(hidden, x, labels, c, eps, noisy)
    h_y = entropy(np.bincount(labels, minlength=c) / labels.size)
    prefix_violations = 0
    for depth_l, joint in enumerate(joints[:-1], start=1):
        noisy_w = [widths[i] for i in noisy if i < depth_l]
        if not noisy_w:
            continue
        i_l = mutual_information(joint)
        ceil_l = float(info_ceiling(noisy_w, eps, c, input_info=h_y))
        acc_l = float(accuracy_ceiling(noisy_w, eps, c, label_entropy=h_y))
        prefix_violations += int(i_l > ceil_l + 1e-9) + int(map_accuracy(joint) > acc_l + 1e-9)
    noisy_w = [widths[i] for i in noisy]
    return TinyCase(
        n_bits=n_bits,
        widths=widths,
        noisy=noisy,
        eps=eps,
        n_classes=c,
        balanced=balanced,
        label_entropy=h_y,
        info=mutual_information(joints[-1]),
        info_ceiling=float(info_ceiling(noisy_w, eps, c, input_info=h_y)),
        info_ceiling_log2c=float(info_ceiling(noisy_w, eps, c)),
        sdpi_ceiling=float(info_ceiling(noisy_w, eps, c, input_info=h_y, use_capacity=False)),
        es_ceiling=float(evans_schulman_ceiling(noisy_w, eps, c, input_info=h_y)),
        accuracy=map_accuracy(joints[-1]),
        accuracy_ceiling=float(accuracy_ceiling(noisy_w, eps, c, label_entropy=h_y)),
        prefix_violations=prefix_violations,
    )


def tightness_study(n_networks: int = 1000, seed: int = 0, **kwargs: int) -> list[TinyCase]:
    """Run :func:`random_tiny_case` ``n_networks`` times from one seeded generator."""
    rng = np.random.default_rng(seed)
    return [random_tiny_case(rng, **kwargs) for _ in range(int(n_networks))]


def summarize(cases: Sequence[TinyCase], tol: float = 1e-9) -> dict[str, float]:
    """Violation counts and tightness statistics of a study."""
    info = np.array([c.info for c in cases])
    ceil = np.array([c.info_ceiling for c in cases])
    es = np.array([c.es_ceiling for c in cases])
    acc = np.array([c.accuracy for c in cases])
    acc_ceil = np.array([c.accuracy_ceiling for c in cases])
    h_y = np.array([c.label_entropy for c in cases])
    bal = np.array([c.balanced for c in cases])
    chance = np.array([1.0 / c.n_classes for c in cases])
    ok = ceil > 1e-12
    ratio = info[ok] / ceil[ok]
    # accuracy tightness on balanced labels: fraction of the ceiling's gain over chance achieved
    gain_ok = bal & (acc_ceil - chance > 1e-9)
    acc_ratio = (acc[gain_ok] - chance[gain_ok]) / (acc_ceil[gain_ok] - chance[gain_ok])
    binding = ceil < h_y - 1e-9
    sdpi = np.array([c.sdpi_ceiling for c in cases])
    sdpi_ok = sdpi > 1e-12

    def q(a: NDArray, p: float) -> float:
        return float(np.quantile(a, p)) if a.size else float("nan")

    return {
        "networks": len(cases),
        "balanced": int(bal.sum()),
        "info_violations": int(np.sum(info > ceil + tol)),
        "info_violations_log2c_balanced": int(
            np.sum(bal & (info > np.array([c.info_ceiling_log2c for c in cases]) + tol))
        ),
        "es_violations": int(np.sum(info > es + tol)),
        "accuracy_violations": int(np.sum(acc > acc_ceil + tol)),
        "prefix_violations": int(sum(c.prefix_violations for c in cases)),
        "info_ceiling_binding_fraction": float(binding.mean()),
        "info_ratio_median": q(ratio, 0.5),
        "info_ratio_p90": q(ratio, 0.9),
        "info_ratio_max": q(ratio, 1.0),
        "info_ratio_median_binding": q(info[binding & ok] / ceil[binding & ok], 0.5),
        "info_ratio_max_binding": q(info[binding & ok] / ceil[binding & ok], 1.0),
        "sdpi_violations": int(np.sum(info > sdpi + tol)),
        "sdpi_binding_fraction": float(np.mean(sdpi < h_y - 1e-9)),
        "sdpi_ratio_median": q(info[sdpi_ok] / sdpi[sdpi_ok], 0.5),
        "sdpi_ratio_p90": q(info[sdpi_ok] / sdpi[sdpi_ok], 0.9),
        "sdpi_ratio_max": q(info[sdpi_ok] / sdpi[sdpi_ok], 1.0),
        "accuracy_ratio_median": q(acc / acc_ceil, 0.5),
        "accuracy_ratio_max": q(acc / acc_ceil, 1.0),
        "accuracy_gain_ratio_median_balanced": q(acc_ratio, 0.5),
        "accuracy_gain_ratio_p90_balanced": q(acc_ratio, 0.9),
        "accuracy_gain_ratio_max_balanced": q(acc_ratio, 1.0),
        "max_info_excess": float(np.max(info - ceil)) if len(cases) else float("nan"),
        "max_accuracy_excess": float(np.max(acc - acc_ceil)) if len(cases) else float("nan"),
    }
