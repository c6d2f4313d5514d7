"""How flips propagate through a trained binary network: mean field, accuracy prediction, gains.

Mean field (docs/theory.md §5): per sample and per neuron, the probability ``q`` that the noisy
output differs from the clean one. The inputs of a layer are taken to flip independently with their
own probabilities ``q_i`` (exact for the first two noisy layers, an approximation further down,
where flips share upstream causes). A neuron with clean pre-activation ``s0 = sum_i w_i x_i`` then
sees ``s = s0 - 2 D`` with ``D = sum_i w_i x_i B_i``, ``B_i ~ Bernoulli(q_i)``, and flips when ``s``
crosses its threshold; its own injector flip is applied on top:
``q_out = eps + (1 - 2 eps) p_cross``.

``method="exact"`` computes the distribution of ``D`` exactly (characteristic function on the
2n+1-point lattice, inverted by FFT; the sum over inputs is a matrix product), ``method="gaussian"``
uses a normal approximation with continuity correction (mean ``sum_i w_i x_i (1 - 2 q_i)``, variance
``sum_i 4 q_i (1 - q_i)`` for the pre-activation). The Gaussian is poor at small eps, where a neuron
sees only a handful of flipped inputs (docs/theory.md §5 has the numbers).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtr
from scipy.stats import binom

from noisybnn.theory.network import (
    BinaryLayer,
    Network,
    as_inputs,
    as_labels,
    as_network,
    forward,
    layer_eps,
)

_METHODS = ("exact", "gaussian", "auto")
#: "auto": the exact lattice up to this fan-in, the Gaussian beyond (its cost grows as fan-in^2)
AUTO_EXACT_MAX_FAN_IN = 256
_CHUNK_ELEMENTS = 1 << 21  # complex entries per chunk in the exact method (~32 MiB)
_READOUT_CHUNK = 1 << 22  # Bernoulli draws per chunk in the readout


def _check_method(method: str) -> str:
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    return method


def _crossing_exact(
    x: NDArray, q: NDArray, layer: BinaryLayer, s0: NDArray, clean_pos: NDArray
) -> NDArray:
    """P(noisy output differs | independent input flips q), exact via the characteristic function.

    ``D = sum_i c_i B_i`` with ``c_i = w_i x_i``; shifted by the number ``n_-`` of inputs with
    ``c_i = -1`` it becomes ``D' = D + n_- = sum_{c=+1} B_i + sum_{c=-1} (1 - B_i)`` in
    ``{0, ..., nnz}``, so an odd lattice of M >= n_in + 1 points carries it without aliasing.
    Per input, ``1 - q + q e^{i theta} = e^{i theta/2} (cos(theta/2) + i (2q - 1) sin(theta/2))``:
    log-modulus ``0.5 log(1 - 4q(1-q) sin^2(theta/2))`` and argument
    ``theta/2 + arctan((2q - 1) tan(theta/2))`` (theta < pi), so log phi is a matrix product.
    """
    f_k = lattice_cdf(x, q, layer, s0, (0,))[0]
    return np.clip(np.where(clean_pos, 1.0 - f_k, f_k), 0.0, 1.0)


def lattice_cdf(
    x: NDArray, q: NDArray, layer: BinaryLayer, s0: NDArray, offsets: Sequence[int]
) -> NDArray:
    """P(D <= k + o) for each offset o, per sample and neuron (shape (offsets, samples, out)),
    with k = floor((s0 - T) / 2) the crossing index and D the input-flip sum (exact for
    independent flips; one FFT pass serves every offset)."""
    w = layer.w_float
    n = w.shape[1]
    m_lattice = n + 1 if n % 2 == 0 else n + 2  # odd: no Nyquist bin, theta < pi below
    n_freq = (m_lattice - 1) // 2 + 1
    theta = 2.0 * np.pi * np.arange(n_freq) / m_lattice
    sin2_half, tan_half = np.sin(theta / 2) ** 2, np.tan(theta / 2)
    abs_w = np.abs(w)
    nnz = abs_w.sum(axis=1)
    n_minus = (nnz - s0) / 2.0  # (samples, out): inputs with w x = -1
    # crossing iff D > k (clean +1) or D <= k (clean -1); in D' units the index is k + n_-
    k = (np.floor((s0 - layer.thresholds) / 2.0) + n_minus).astype(np.int64)
    out = np.empty((len(offsets), *s0.shape))
    rows = max(1, _CHUNK_ELEMENTS // (n_freq * max(n, w.shape[0])))
    for lo in range(0, x.shape[0], rows):
        sl = slice(lo, lo + rows)
        qc = q[sl][:, :, None]  # (b, in, 1), frequencies on the last axis
        log_mod = 0.5 * np.log(1.0 - (4.0 * qc * (1.0 - qc)) * sin2_half)
        ang = np.arctan((2.0 * qc - 1.0) * tan_half) * x[sl][:, :, None]
        # c_i in {-1, 0, 1}: log phi_D = sum_i |c_i| log_mod_i + i sum_i c_i (theta/2 + ang_i);
        # sum_i c_i theta/2 = s0 theta/2, and D' = D + n_- adds n_- theta.
        mag = np.exp(np.matmul(abs_w, log_mod))  # (b, out, freq)
        arg = np.matmul(w, ang) + (s0[sl] / 2.0 + n_minus[sl])[:, :, None] * theta
        spec = np.empty(mag.shape, dtype=complex)
        spec.real = mag * np.cos(arg)
        spec.imag = -mag * np.sin(arg)  # conj(phi): irfft sums e^{+i theta d}
        pmf = np.fft.irfft(spec, n=m_lattice, axis=-1)  # (b, out, M): P(D' = d)
        cdf = np.cumsum(pmf, axis=-1)
        for j, off in enumerate(offsets):
            idx = k[sl] + int(off)
            inside = np.take_along_axis(cdf, np.clip(idx, 0, m_lattice - 1)[:, :, None], axis=-1)
            out[j, sl] = np.where(idx < 0, 0.0, np.where(idx >= nnz, 1.0, inside[:, :, 0]))
    return np.clip(out, 0.0, 1.0)


def _crossing_uniform_q(q: float, layer: BinaryLayer, s0: NDArray, clean_pos: NDArray) -> NDArray:
    """Exact crossing probability when every input flips with the same probability ``q``.

    Then ``D' = K_+ + (n_- - K_-)`` with ``K_+ ~ Bin(n_+, q)`` and ``n_- - K_- ~ Bin(n_-, 1 - q)``
    depends on the sample only through (n_+, n_-): one binomial convolution per distinct pair.
    This is the case of the first noisy layer after a noise-free one (q = eps everywhere).
    """
    nnz = layer.nnz
    n_plus = np.rint((nnz + s0) / 2.0).astype(np.int64)
    n_minus = np.rint((nnz - s0) / 2.0).astype(np.int64)
    k = (np.floor((s0 - layer.thresholds) / 2.0) + n_minus).astype(np.int64)  # in D' units
    pairs, inverse = np.unique(
        np.stack([n_plus.ravel(), n_minus.ravel()], axis=1), axis=0, return_inverse=True
    )
    f_k = np.empty(k.size)
    k_flat = k.ravel()
    inverse = inverse.ravel()
    for j, (a, b) in enumerate(pairs):
        pmf = np.convolve(binom.pmf(np.arange(a + 1), a, q), binom.pmf(np.arange(b + 1), b, 1 - q))
        cdf = np.cumsum(pmf)
        sel = inverse == j
        kk = k_flat[sel]
        f_k[sel] = np.where(kk < 0, 0.0, cdf[np.clip(kk, 0, a + b)])
    f_k = np.minimum(f_k.reshape(k.shape), 1.0)
    return np.where(clean_pos, 1.0 - f_k, f_k)


def _crossing_gaussian(
    x: NDArray, q: NDArray, layer: BinaryLayer, s0: NDArray, clean_pos: NDArray
) -> NDArray:
    """Normal approximation of the same probability, with continuity correction."""
    w = layer.w_float
    mean_d = (x * q) @ w.T
    var_d = (q * (1.0 - q)) @ np.abs(w).T
    k = np.floor((s0 - layer.thresholds) / 2.0)
    sd = np.sqrt(var_d)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (k + 0.5 - mean_d) / sd
    f_k = np.where(sd > 0, ndtr(z), (k + 0.5 - mean_d >= 0).astype(float))
    return np.where(clean_pos, 1.0 - f_k, f_k)


def mean_field_flip_rates(
    layers: Network | Sequence[object],
    x: ArrayLike,
    eps: ArrayLike,
    noisy_layers: Sequence[int] | None = None,
    *,
    method: str = "exact",
) -> list[NDArray[np.float64]]:
    """Per-sample, per-neuron probability that each hidden neuron's noisy output is wrong.

    Args:
        layers: the network (hidden :class:`BinaryLayer` list + readout).
        x: inputs in {-1, +1}, shape (samples, in); noise-free.
        eps: flip probability, scalar or one per hidden layer.
        noisy_layers: hidden-layer indices with injectors (default: all hidden layers).
        method: "exact" (lattice characteristic function), "gaussian" (CLT), or "auto": exact
            where it is affordable (every layer whose inputs share one flip rate, max-pools,
            dense layers of fan-in <= ``AUTO_EXACT_MAX_FAN_IN``), Gaussian elsewhere. Conv layers
            (``theory.conv``) have no exact lattice path with unequal input rates: "exact" uses
            the Gaussian for them too. Max-pools are always exact.

    Returns:
        One array (samples, N_l) per hidden layer. The first noisy layer fed by a noise-free input
        gets exactly eps.
    """
    _check_method(method)
    net = as_network(layers)
    xs = as_inputs(x, net.n_in)
    e = layer_eps(eps, len(net.hidden), noisy_layers)
    return _mean_field(net, xs, e, method, len(net.hidden))


def _mean_field(
    net: Network, h: NDArray, e: NDArray, method: str, n_layers: int
) -> list[NDArray[np.float64]]:
    """Mean-field flip rates of the first ``n_layers`` hidden layers (checked arguments)."""
    from noisybnn.theory.conv import MaxPoolLayer, gaussian_crossing, is_conv_like

    q = np.zeros_like(h)
    rates = []
    for i, layer in enumerate(net.hidden[:n_layers]):
        s0 = layer.pre_activation(h)
        clean_pos = s0 >= layer.thresholds
        if not np.any(q > 0):
            p = np.zeros_like(s0)
        elif isinstance(layer, MaxPoolLayer):
            p = layer.crossing(h, q)
        elif method != "gaussian" and np.all(q == q.flat[0]):
            p = _crossing_uniform_q(float(q.flat[0]), layer, s0, clean_pos)
        elif is_conv_like(layer):
            p = gaussian_crossing(h, q, layer, s0, clean_pos)
        elif method == "exact" or (method == "auto" and layer.n_in <= AUTO_EXACT_MAX_FAN_IN):
            p = _crossing_exact(h, q, layer, s0, clean_pos)
        else:
            p = _crossing_gaussian(h, q, layer, s0, clean_pos)
        q = e[i] + (1.0 - 2.0 * e[i]) * p
        rates.append(q)
        h = np.where(clean_pos, 1.0, -1.0)
    return rates


def predict_correct_probability(
    layers: Network | Sequence[object],
    x: ArrayLike,
    labels: ArrayLike,
    eps: ArrayLike,
    noisy_layers: Sequence[int] | None = None,
    *,
    method: str = "exact",
    exact_tail: int | None = None,
    n_draws: int = 64,
    seed: int = 0,
) -> NDArray[np.float64]:
    """Per-sample probability that the noisy network classifies correctly.

    Mean field gives independent flip rates up to hidden layer ``L - exact_tail``; from there the
    states are drawn with those rates, and the last ``exact_tail`` hidden layers (thresholds plus
    their own injector flips) and the argmax are run exactly, by Monte Carlo with a fixed seed.

    * ``exact_tail=0``: pure mean field (the last hidden layer flips independently). Misses the
      correlation between flips that share an upstream cause and is then biased, by several
      points of accuracy on a trained 784-64-64-64-10 net (docs/theory.md §5).
    * ``exact_tail=None`` (default): start at the first noisy layer, whose flips *are*
      independent because its input is noise-free. Exact up to Monte Carlo error
      (about 0.5 / sqrt(n_draws * samples) on the mean), at the cost of a simulation that reuses
      the clean prefix of the network.

    Args:
        layers, x, eps, noisy_layers: as in :func:`mean_field_flip_rates`.
        labels: class per sample.
        method: "exact" draws Bernoulli flips (integer logits, ties to the lowest index as in
            hardware); "gaussian" uses Gaussian flip rates in mean field and replaces each drawn
            neuron by a Gaussian with the same mean and variance.
        exact_tail: hidden layers simulated exactly at the end (0 .. hidden layers - 1), or None.
        n_draws: Monte Carlo draws per sample.
        seed: seed of ``np.random.default_rng``.

    Returns:
        (samples,) probabilities.
    """
    _check_method(method)
    net = as_network(layers)
    xs = as_inputs(x, net.n_in)
    y = as_labels(labels, xs.shape[0], net.readout.n_classes)
    if int(n_draws) < 1:
        raise ValueError(f"n_draws must be >= 1, got {n_draws}")
    n_hidden = len(net.hidden)
    n_draws = int(n_draws)
    e = layer_eps(eps, n_hidden, noisy_layers)
    clean = forward(net, xs)
    if not net.hidden:
        return (clean.prediction == y).astype(float)
    if exact_tail is None:
        noisy = np.flatnonzero(e > 0)
        base = int(noisy[0]) if noisy.size else n_hidden - 1
    else:
        if not 0 <= int(exact_tail) < n_hidden:
            raise ValueError(
                f"exact_tail must be None or in [0, {n_hidden - 1}] (hidden layers - 1), "
                f"got {exact_tail}"
            )
        base = n_hidden - int(exact_tail) - 1  # hidden layer whose states are drawn
    q = _mean_field(net, xs, e, method, base + 1)[base]
    h = clean.hidden[base]
    rng = np.random.default_rng(seed)
    out = np.empty(xs.shape[0])
    width = max([h.shape[1]] + [layer.n_out for layer in net.hidden[base + 1 :]])
    rows = max(1, _READOUT_CHUNK // (n_draws * width))
    for lo in range(0, xs.shape[0], rows):
        sl = slice(lo, lo + rows)
        hc, qc = h[sl][:, None, :], q[sl][:, None, :]
        shape = (hc.shape[0], n_draws, h.shape[1])
        if method != "gaussian":
            state = np.where(rng.random(shape) < qc, -hc, hc)
        else:
            state = hc * (1.0 - 2.0 * qc) + 2.0 * np.sqrt(qc * (1.0 - qc)) * rng.standard_normal(
                shape
            )
        for i in range(base + 1, n_hidden):
            layer = net.hidden[i]
            state = np.where(layer.pre_activation(state) >= layer.thresholds, 1.0, -1.0)
            if e[i] > 0:
                state = np.where(rng.random(state.shape) < e[i], -state, state)
        pred = np.argmax(net.readout.logits(state), axis=-1)
        out[sl] = np.mean(pred == y[sl][:, None], axis=1)
    return out


def predict_accuracy(
    layers: Network | Sequence[object],
    x: ArrayLike,
    labels: ArrayLike,
    eps: ArrayLike,
    noisy_layers: Sequence[int] | None = None,
    *,
    method: str = "exact",
    exact_tail: int | None = None,
    n_draws: int = 64,
    seed: int = 0,
) -> float:
    """Predicted accuracy of the noisy network: mean of :func:`predict_correct_probability`."""
    p = predict_correct_probability(
        layers,
        x,
        labels,
        eps,
        noisy_layers,
        method=method,
        exact_tail=exact_tail,
        n_draws=n_draws,
        seed=seed,
    )
    return float(np.mean(p))


def noise_gain(
    weights: ArrayLike, slope: ArrayLike = 1.0, *, correlated: bool = False
) -> NDArray[np.float64]:
    """Semenova-style linear noise gain of a layer, per output neuron.

    Linearising y = f(W x) around the clean operating point, input noise of variance s^2 gives
    output variance ``slope^2 * sum_i W_ji^2 * s^2`` when the input noises are uncorrelated and
    ``slope^2 * (sum_i W_ji)^2 * s^2`` when they are one common (fully correlated) noise.

    Args:
        weights: (out, in) real weights.
        slope: activation slope f' at the operating point, scalar or (out,).
        correlated: False for independent input noise (sum of squares), True for common noise
            (square of the sum).

    Returns:
        (out,) variance gains.
    """
    w = np.asarray(weights, dtype=float)
    if w.ndim != 2:
        raise ValueError(f"weights must be a 2-d (out, in) array, got shape {w.shape}")
    if not np.isfinite(w).all():
        raise ValueError("weights must be finite")
    s = np.asarray(slope, dtype=float)
    if not np.isfinite(s).all():
        raise ValueError("slope must be finite")
    if s.ndim and s.shape != (w.shape[0],):
        raise ValueError(f"slope must be a scalar or shape ({w.shape[0]},), got {s.shape}")
    g = np.sum(w, axis=1) ** 2 if correlated else np.sum(w**2, axis=1)
    return s**2 * g


def flip_gain(layers: Network | Sequence[object], x: ArrayLike) -> NDArray[np.float64]:
    """Binary analogue of the linear gain: mean number of pivotal inputs per hidden neuron.

    An input is pivotal for a neuron (at a given clean input) when flipping it alone flips the
    neuron. At small flip rates a neuron then flips with probability ~ sum over pivotal inputs of
    q_i, so with uniform input rate q the layer maps q -> eps + (1 - 2 eps) G q. G < 1 means flips
    die out along the layer stack; G > 1 means they grow until the rates saturate (docs §5).

    Returns:
        (hidden layers,) mean gain G_l over samples and neurons.
    """
    net = as_network(layers)
    h = as_inputs(x, net.n_in)
    gains = []
    for layer in net.hidden:
        s0 = layer.pre_activation(h)
        nnz = layer.nnz
        n_plus, n_minus = (nnz + s0) / 2.0, (nnz - s0) / 2.0  # inputs with w x = +1 / -1
        pos = s0 >= layer.thresholds
        pivots = np.where(
            pos, (s0 - 2.0 < layer.thresholds) * n_plus, (s0 + 2.0 >= layer.thresholds) * n_minus
        )
        gains.append(float(pivots.mean()))
        h = np.where(pos, 1.0, -1.0)
    return np.array(gains)
