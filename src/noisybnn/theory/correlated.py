"""Analytic mean field with pairwise flip correlations and a Gaussian readout (no Monte Carlo).

Plain mean field (``propagation.mean_field_flip_rates``) keeps one number per neuron, the
probability q_j that its noisy output differs from the clean one, and treats the flips of a layer
as independent. Its accuracy prediction (``predict_accuracy(..., exact_tail=0)``) is then biased
upwards: one flip in layer l moves several neurons of layer l+1 *together*, so the readout sees
correlated errors, whose logit differences spread far more than independent ones would. This
module carries the **covariance** of the flip indicators from layer to layer as well
(docs/theory.md §5.5):

* layer fed by a noise-free input: flips = injector flips, independent, q = eps;
* next layer, per sample: the pre-activation moves by -2 D_j, D_j = sum_i c_ji B_i with
  c = W * x (clean input) and B the input flip indicators, mean q and covariance K. Marginals
  P(neuron crosses) come from the exact lattice law of D under independence (as in
  ``propagation``) corrected by the Gaussian difference between the full and the diagonal
  variance; pairwise covariances of the crossing events come from the bivariate Gaussian of
  (D_j, D_k) with covariance C K C^T (Plackett's identity: Cov = +-integral_0^rho phi_2(a, b; r) dr,
  Gauss-Legendre), rescaled to the exact marginals; the neuron's own injector then gives
  q_out = eps + (1 - 2 eps) p and Cov_out = (1 - 2 eps)^2 Cov (off the diagonal);
* readout: the logit differences d_c = logit_y - logit_c are linear in the last layer's flips,
  so their mean and covariance follow from (q, K); P(correct) is the Gaussian orthant probability
  P(d_c > 0 for c < y, d_c >= 0 for c > y) (ties to the lowest index; with integer logits the
  thresholds are +-1, a continuity correction), computed with scipy's Genz integration where the
  union bound leaves any doubt.

What it leaves out (and where it therefore fails, docs §5.5): third- and higher-order
correlations (flip avalanches), and the discreteness of the logit differences when only a few
neurons flip.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtr
from scipy.stats import multivariate_normal

from noisybnn.theory.network import (
    BinaryLayer,
    Network,
    as_inputs,
    as_labels,
    as_network,
    forward,
    layer_eps,
)
from noisybnn.theory.propagation import _crossing_exact, _crossing_uniform_q, lattice_cdf

_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(12)
_RHO_MAX = 0.999
_GENZ_POINTS, _GENZ_ABS = 400, 2e-4  # quasi-random points per dimension, absolute error goal
_SERIES_TERMS = 8
_CHUNK = 1 << 22
_SAMPLE_CHUNK = 1 << 24  # samples x N^2 per block of the readout  # floats per chunk of the pairwise integral


def _dense_only(net):
    """The correlated mean field carries a units x units covariance per layer: dense layers only
    (a conv layer's C x H x W units would need ~(2 * 10^4)^2 per image; docs/theory.md §11)."""
    from noisybnn.theory.conv import is_conv_like

    if any(is_conv_like(layer) for layer in net.hidden):
        raise ValueError("the correlated mean field covers fully connected layers only; a conv "
                         "layer's units x units covariance is not affordable (use "
                         "predict_accuracy, the Monte Carlo)")
    return net

def _bivariate_tail_cov(a: NDArray, rho: NDArray) -> NDArray:
    """Cov(1{Z_j > a_j}, 1{Z_k > a_k}) for standard normals with correlation rho (..., n, n).

    Plackett: d/dr P(Z_j > a, Z_k > b) = phi_2(a, b; r), so the covariance is the integral of the
    bivariate density from 0 to rho.
    """
    aj, ak = a[..., :, None], a[..., None, :]
    r = np.clip(rho, -_RHO_MAX, _RHO_MAX)
    out = np.zeros(r.shape)
    for x, w in zip(_NODES, _WEIGHTS, strict=True):
        t = 0.5 * r * (1.0 + x)
        one = 1.0 - t * t
        dens = np.exp(-(aj * aj - 2.0 * t * aj * ak + ak * ak) / (2.0 * one)) / (
            2.0 * np.pi * np.sqrt(one)
        )
        out += 0.5 * r * w * dens
    return out


def _bivariate_tail_cov_series(a: NDArray, rho: NDArray, terms: int = _SERIES_TERMS) -> NDArray:
    """The same covariance from the tetrachoric (Mehler) series
    phi(a) phi(b) sum_{n >= 1} rho^n He_{n-1}(a) He_{n-1}(b) / n!: a few products per pair
    instead of a quadrature; accurate for the small |rho| of wide layers (tested against it)."""
    phi = np.exp(-0.5 * a * a) / np.sqrt(2.0 * np.pi)
    he_prev, he = np.zeros_like(a), np.ones_like(a)  # He_{-1} = 0, He_0 = 1
    r = np.clip(rho, -_RHO_MAX, _RHO_MAX)
    out = np.zeros(r.shape)
    rn = np.ones(r.shape)
    fact = 1.0
    for n in range(1, terms + 1):
        fact *= n
        rn = rn * r
        u = phi * he
        out += rn * (u[..., :, None] * u[..., None, :]) / fact
        he_prev, he = he, a * he - (n - 1) * he_prev  # He_n = a He_{n-1} - (n-1) He_{n-2}
    return out


def _cdfs(h: NDArray, q: NDArray, layer, s0: NDArray) -> NDArray:
    """P(D <= k - 1), P(D <= k), P(D <= k + 1) per sample and neuron (exact for independent
    input flips; D the input-flip sum, k the crossing index)."""
    if np.all(q == q.flat[0]):
        below = np.zeros(s0.shape, dtype=bool)  # "clean -1": the crossing probability is P(D<=k)
        return np.stack([
            _crossing_uniform_q(float(q.flat[0]),
                                BinaryLayer(layer.weights, layer.thresholds - 2.0 * d), s0, below)
            for d in (-1, 0, 1)])
    return lattice_cdf(h, q, layer, s0, (-1, 0, 1))


def _linear_response_cov(
    h: NDArray, cov: NDArray, layer, cdfs: NDArray, clean_pos: NDArray, p: NDArray
) -> NDArray:
    """Covariance of the crossing events of one layer from the first-order (Hoeffding) terms.

    One input flip B_i moves the crossing probability of neuron j by
    Delta_ji = sign_j ([c_ji = +1] P(D_j = k_j) - [c_ji = -1] P(D_j = k_j + 1)) (sign_j = +1 if
    its clean output is +1: crossing is D > k, else -1: D <= k); then
    Cov(E_j, E_k) ~ sum_il Delta_ji K_il Delta_kl. It keeps what a Gaussian closure loses: two
    neurons that share a pivotal input cross together whenever that one input flips (a rare
    event both see: Gaussian copulas have no tail dependence).
    """
    fm, f0, fp = cdfs
    pmf_k, pmf_k1 = np.maximum(f0 - fm, 0.0), np.maximum(fp - f0, 0.0)
    sign = np.where(clean_pos, 1.0, -1.0)
    c = layer.w_float[None, :, :] * h[:, None, :]  # (S, out, in)
    delta = sign[:, :, None] * (np.where(c > 0, pmf_k[:, :, None], 0.0)
                                - np.where(c < 0, pmf_k1[:, :, None], 0.0))
    out = np.matmul(np.matmul(delta, cov), np.swapaxes(delta, 1, 2))
    v = p * (1.0 - p)
    bound = np.sqrt(v[:, :, None] * v[:, None, :])
    out = np.clip(out, -bound, bound)
    idx = np.arange(out.shape[1])
    out[:, idx, idx] = 0.0
    return out


def _layer_step(
    h: NDArray, q: NDArray, cov: NDArray, layer, eps: float, independent: bool, pairs: str
) -> tuple[NDArray, NDArray, NDArray]:
    """(clean output, flip marginals, flip covariance) of one hidden layer, per sample."""
    w = layer.w_float
    s0 = h @ w.T
    clean_pos = s0 >= layer.thresholds
    h_out = np.where(clean_pos, 1.0, -1.0)
    n_s, n_out = s0.shape
    if not np.any(q > 0):
        p = np.zeros_like(s0)
        cov_e = np.zeros((n_s, n_out, n_out))
    else:
        cdfs = _cdfs(h, q, layer, s0) if pairs == "linear" else None
        if cdfs is not None:
            p_ind = np.clip(np.where(clean_pos, 1.0 - cdfs[1], cdfs[1]), 0.0, 1.0)
        elif np.all(q == q.flat[0]):
            p_ind = _crossing_uniform_q(float(q.flat[0]), layer, s0, clean_pos)
        else:
            p_ind = _crossing_exact(h, q, layer, s0, clean_pos)
        # D_j = sum_i c_ji B_i with c_ji = w_ji x_i: mean C q, covariance C K C^T, as BLAS
        # products with W on the sign-adjusted covariance (x_i x_k K_ik)
        mean_d = (h * q) @ w.T
        cov_x = cov * h[:, :, None] * h[:, None, :]
        cov_d = np.matmul(np.matmul(w, cov_x), w.T)
        var_full = np.maximum(np.diagonal(cov_d, axis1=1, axis2=2), 0.0)
        var_diag = (q * (1.0 - q)) @ (w * w).T
        k = np.floor((s0 - layer.thresholds) / 2.0)  # crossing: D > k (clean +1), D <= k (-1)
        sign = np.where(clean_pos, 1.0, -1.0)

        def tail(var):
            sd = np.sqrt(var)
            with np.errstate(divide="ignore", invalid="ignore"):
                z = (k + 0.5 - mean_d) / sd
            z = np.where(sd > 0, z, np.where(k + 0.5 - mean_d >= 0, np.inf, -np.inf))
            return np.where(clean_pos, ndtr(-z), ndtr(z)), z

        pg_full, z = tail(var_full)
        pg_diag, _ = tail(var_diag)
        p = p_ind if independent else np.clip(p_ind + pg_full - pg_diag, 0.0, 1.0)
        if pairs == "linear":
            cov_e = _linear_response_cov(h, cov, layer, cdfs, clean_pos, p)
            q_out = eps + (1.0 - 2.0 * eps) * p
            cov_out = (1.0 - 2.0 * eps) ** 2 * cov_e
            idx = np.arange(n_out)
            cov_out[:, idx, idx] = q_out * (1.0 - q_out)
            return h_out, q_out, cov_out
        sd = np.sqrt(var_full)
        with np.errstate(divide="ignore", invalid="ignore"):
            rho = cov_d / (sd[:, :, None] * sd[:, None, :])
        rho = np.nan_to_num(rho, nan=0.0, posinf=0.0, neginf=0.0)
        zc = np.clip(np.nan_to_num(z, posinf=40.0, neginf=-40.0), -40.0, 40.0)
        cov_g = np.empty((n_s, n_out, n_out))
        rows = max(1, _CHUNK // (n_out * n_out))
        pair_cov = _bivariate_tail_cov if pairs == "quadrature" else _bivariate_tail_cov_series
        for lo in range(0, n_s, rows):
            sl = slice(lo, lo + rows)
            cov_g[sl] = pair_cov(zc[sl], rho[sl])
        cov_g *= sign[:, :, None] * sign[:, None, :]
        # keep the Gaussian correlation of the indicators, on the (better) marginals p
        vg = pg_full * (1.0 - pg_full)
        v = p * (1.0 - p)
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.sqrt(np.where(vg > 1e-300, v / vg, 0.0))
        cov_e = cov_g * scale[:, :, None] * scale[:, None, :]
        idx = np.arange(n_out)
        cov_e[:, idx, idx] = 0.0
    q_out = eps + (1.0 - 2.0 * eps) * p
    cov_out = (1.0 - 2.0 * eps) ** 2 * cov_e
    idx = np.arange(n_out)
    cov_out[:, idx, idx] = q_out * (1.0 - q_out)
    return h_out, q_out, cov_out


def correlated_mean_field(
    layers: Network | Sequence[object],
    x: ArrayLike,
    eps: ArrayLike,
    noisy_layers: Sequence[int] | None = None,
    *,
    independent_marginals: bool = False,
    pairs: str = "linear",
) -> list[tuple[NDArray[np.float64], NDArray[np.float64]]]:
    """Per hidden layer, (flip marginals (S, N), flip covariance (S, N, N)) per sample.

    Args:
        layers, x, eps, noisy_layers: as in :func:`~noisybnn.theory.mean_field_flip_rates`.
        independent_marginals: keep the exact-under-independence marginals (no Gaussian
            correction for input correlations).
        pairs: how the pairwise covariances of crossing events are found: "linear" (first-order
            response to each input flip, exact lattice probabilities; the default), or a
            Gaussian closure: "series" (tetrachoric series) / "quadrature" (Gauss-Legendre on
            Plackett's integral). The Gaussian closure misses most of the covariance of rare
            crossings (docs/theory.md §5.5).
    """
    if pairs not in ("linear", "series", "quadrature"):
        raise ValueError(f"pairs must be 'linear', 'series' or 'quadrature', got {pairs!r}")
    net = _dense_only(as_network(layers))
    h = as_inputs(x, net.n_in)
    e = layer_eps(eps, len(net.hidden), noisy_layers)
    q = np.zeros_like(h)
    cov = np.zeros((h.shape[0], h.shape[1], h.shape[1]))
    out = []
    for i, layer in enumerate(net.hidden):
        h, q, cov = _layer_step(h, q, cov, layer, float(e[i]), independent_marginals, pairs)
        out.append((q, cov))
    return out


def _orthant(mean: NDArray, cov: NDArray, thr: NDArray, rng_seed: int) -> float:
    """P(d > thr componentwise) for d ~ N(mean, cov)."""
    sd = np.sqrt(np.maximum(np.diag(cov), 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(sd > 0, (mean - thr) / sd, np.where(mean > thr, np.inf, -np.inf))
    miss = ndtr(-z)
    if miss.sum() < 1e-4 or np.any(miss > 1.0 - 1e-9):
        return float(max(0.0, 1.0 - miss.sum()))
    keep = miss > 1e-7  # components that cannot fail do not change the probability
    m, c, t = mean[keep], cov[np.ix_(keep, keep)], thr[keep]
    if m.size == 1:
        return float(1.0 - miss[keep][0])
    # the first-order covariance closure need not be positive semidefinite (seen on the narrow
    # demo network): take its nearest PSD matrix (Frobenius: negative eigenvalues to 0)
    evals, evecs = np.linalg.eigh((c + c.T) / 2)
    c = (evecs * np.clip(evals, 0.0, None)) @ evecs.T
    c = c + np.eye(m.size) * 1e-9 * max(1.0, float(np.max(np.diag(c))))
    p = multivariate_normal(mean=-m, cov=c, allow_singular=True, maxpts=_GENZ_POINTS * m.size,
                            abseps=_GENZ_ABS, releps=0.0).cdf(-t, rng=np.random.default_rng(rng_seed))
    return float(np.clip(p, 0.0, 1.0))


def analytic_correct_probability(
    layers: Network | Sequence[object],
    x: ArrayLike,
    labels: ArrayLike,
    eps: ArrayLike,
    noisy_layers: Sequence[int] | None = None,
    *,
    correlations: bool = True,
    seed: int = 0,
) -> NDArray[np.float64]:
    """Per-sample P(correct) from the analytic mean field and a Gaussian readout.

    Args:
        correlations: carry flip covariances (True) or treat every layer's flips as independent
            (False: plain mean field with the same Gaussian readout, to show what the
            correlations are worth).
        seed: seed of the quasi-random Genz integration (only for the few samples near the
            decision boundary).
    """
    net = _dense_only(as_network(layers))
    xs = as_inputs(x, net.n_in)
    y = as_labels(labels, xs.shape[0], net.readout.n_classes)
    clean = forward(net, xs)
    if not net.hidden:
        return (clean.prediction == y).astype(float)
    ro = net.readout
    h0 = clean.hidden[-1]
    integer = (np.all(ro.scale == 1.0) and np.all(ro.bias == 0.0)
               and np.all(ro.weights == np.round(ro.weights)))
    n_cls = ro.n_classes
    out = np.empty(xs.shape[0])
    rows = max(1, _SAMPLE_CHUNK // max(layer.n_out for layer in net.hidden) ** 2)
    for s in range(xs.shape[0]):
        if s % rows == 0:  # mean field for the next block of samples (memory: block x N^2)
            q, cov = correlated_mean_field(net, xs[s : s + rows], eps, noisy_layers)[-1]
            if not correlations:
                cov = np.zeros_like(cov)
                idx = np.arange(q.shape[1])
                cov[:, idx, idx] = q * (1.0 - q)
            base = s
        g = ro.scale[:, None] * ro.weights * h0[s][None, :]  # logit_c = L0_c - 2 g_c . F
        mu = clean.logits[s] - 2.0 * g @ q[s - base]
        sig = 4.0 * g @ cov[s - base] @ g.T
        others = np.array([c for c in range(n_cls) if c != y[s]])
        contrast = -np.eye(n_cls)[others]
        contrast[:, y[s]] = 1.0  # d_c = logit_y - logit_c
        m_d = contrast @ mu
        c_d = contrast @ sig @ contrast.T
        thr = np.where(others < y[s], 1.0, -1.0) if integer else np.zeros(others.size)
        out[s] = _orthant(m_d, c_d, thr, seed + s)
    return out


def analytic_accuracy(
    layers: Network | Sequence[object],
    x: ArrayLike,
    labels: ArrayLike,
    eps: ArrayLike,
    noisy_layers: Sequence[int] | None = None,
    *,
    correlations: bool = True,
    seed: int = 0,
) -> float:
    """Mean of :func:`analytic_correct_probability`: the analytic accuracy prediction."""
    return float(np.mean(analytic_correct_probability(
        layers, x, labels, eps, noisy_layers, correlations=correlations, seed=seed)))
