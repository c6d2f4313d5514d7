"""The binary symmetric channel (BSC): entropy, capacity, contraction, cascades.

A noisy binary neuron is a deterministic threshold gate followed by a BSC with crossover
probability ``eps`` (the hardware injector flips the neuron's output bit with probability ``eps``).
All functions broadcast over numpy arrays and work in bits. Derivations: ``docs/theory.md`` §1.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from noisybnn.theory import _validation as check


def binary_entropy(p: ArrayLike) -> NDArray[np.float64]:
    """Binary entropy h(p) = -p log2 p - (1-p) log2(1-p) in bits, with h(0) = h(1) = 0.

    Args:
        p: probabilities in [0, 1] (any shape).

    Returns:
        h(p), same shape as ``p``.

    Raises:
        ValueError: if any ``p`` is NaN or outside [0, 1].
    """
    return _h(check.probability(p, "p"))


def _h(p: NDArray) -> NDArray[np.float64]:
    """Binary entropy without argument checks (p already a float array in [0, 1])."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = -(p * np.log2(p) + (1 - p) * np.log2(1 - p))
    return np.where((p == 0) | (p == 1), 0.0, out)


def bsc_capacity(eps: ArrayLike) -> NDArray[np.float64]:
    """Capacity 1 - h(eps) of a BSC, in bits per use (per noisy neuron).

    It bounds what one noisy neuron can carry about anything upstream; ``eps = 0.5`` gives 0.
    """
    return 1.0 - binary_entropy(eps)


def bsc_contraction(eps: ArrayLike) -> NDArray[np.float64]:
    """KL / mutual-information contraction coefficient eta = (1 - 2 eps)^2 of a BSC.

    For every Markov chain U - X - Y with Y = BSC_eps(X): I(U; Y) <= eta I(U; X) (strong
    data-processing inequality); eta is the best such constant (Ahlswede & Gacs 1976).
    """
    eps = check.probability(eps, "eps")
    return (1.0 - 2.0 * eps) ** 2


def dobrushin_coefficient(eps: ArrayLike) -> NDArray[np.float64]:
    """Total-variation contraction |1 - 2 eps| of a BSC (Dobrushin's coefficient)."""
    eps = check.probability(eps, "eps")
    return np.abs(1.0 - 2.0 * eps)


def node_erasure_probability(eps: ArrayLike) -> NDArray[np.float64]:
    """delta = 1 - eta = 4 eps (1 - eps): probability that a noisy neuron is closed in percolation.

    In the percolation form of the SDPI (Polyanskiy & Wu) each noisy node is kept open with
    probability eta = (1 - 2 eps)^2 and erased otherwise; this is the erasure probability.
    """
    eps = check.probability(eps, "eps")
    return 4.0 * eps * (1.0 - eps)


def cascade_bsc(eps: ArrayLike, n_stages: ArrayLike = 1) -> NDArray[np.float64]:
    """Crossover of ``n_stages`` cascaded BSC(eps): (1 - (1 - 2 eps)^n) / 2.

    The composition of BSCs is a BSC whose "bias" 1 - 2 eps multiplies: a bit passed through L
    noisy buffers is flipped an odd number of times with this probability. It tends to 1/2 as
    n grows whenever 0 < eps < 1.

    Args:
        eps: crossover probability of each stage, in [0, 1].
        n_stages: number of stages (integer >= 0; 0 gives 0).

    Returns:
        The effective crossover, broadcast over ``eps`` and ``n_stages``.
    """
    eps = check.probability(eps, "eps")
    n = np.asarray(n_stages, dtype=float)
    if np.isnan(n).any() or (n < 0).any() or (n != np.round(n)).any():
        raise ValueError(f"n_stages must be whole numbers >= 0, got {n_stages!r}")
    return 0.5 * (1.0 - (1.0 - 2.0 * eps) ** n)
