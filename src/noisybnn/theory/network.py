"""The numpy reference of a binarized MLP as the theory sees it: layers, forward, noisy forward.

A network is a list of :class:`BinaryLayer` (hidden layers) followed by one :class:`Readout`:

* hidden layer: ``y_j = +1 if (W x)_j >= T_j else -1`` with ``x`` in {-1, +1}^in, integer weights in
  {-1, 0, +1} (0 = pruned) and float thresholds (BatchNorm and bias folded into ``T``);
* readout: ``logits_c = a_c (W x)_c + b_c`` (``a_c`` may be negative), class = argmax with ties
  going to the lowest index (``np.argmax``).

Noise: each neuron of a noisy hidden layer flips its output (after the threshold) with probability
``eps``, independently; input and readout are noise-free. Stuck-at faults force a hidden neuron's
output to -1 or +1. Plain containers are accepted wherever a network is expected: ``(W, T)``
tuples or ``{"W": ..., "T": ...}`` dicts for hidden layers, and a bare array or
``{"W", "scale", "bias"}`` dict for the readout (see :func:`as_network`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from noisybnn.theory import _validation as check


@dataclass(frozen=True)
class BinaryLayer:
    """A hidden layer of binary threshold neurons.

    Attributes:
        weights: integer weights in {-1, 0, +1}, shape (out, in).
        thresholds: thresholds T, shape (out,); the neuron outputs +1 iff (W x) >= T.
    """

    weights: NDArray[np.int8]
    thresholds: NDArray[np.float64]

    def __post_init__(self) -> None:
        w = np.asarray(self.weights)
        if w.ndim != 2:
            raise ValueError(f"hidden weights must be a 2-d (out, in) array, got shape {w.shape}")
        if not np.isin(w, (-1, 0, 1)).all():
            raise ValueError("hidden weights must be in {-1, 0, +1} (binarized); got other values")
        t = np.asarray(self.thresholds, dtype=float).reshape(-1)
        if t.shape != (w.shape[0],):
            raise ValueError(f"thresholds must have shape ({w.shape[0]},), got {t.shape}")
        if np.isnan(t).any():
            raise ValueError("thresholds must not be NaN")
        # |W x| <= fan-in, so thresholds beyond fan-in + 1 (or +-inf: constant neurons) act the same
        t = np.clip(t, -(w.shape[1] + 1.0), w.shape[1] + 1.0)
        object.__setattr__(self, "weights", w.astype(np.int8))
        object.__setattr__(self, "thresholds", t)
        object.__setattr__(self, "_w_float", w.astype(float))

    @classmethod
    def from_batchnorm(
        cls,
        weights: ArrayLike,
        gamma: ArrayLike,
        beta: ArrayLike,
        running_mean: ArrayLike,
        running_var: ArrayLike,
        bn_eps: float = 1e-5,
    ) -> BinaryLayer:
        """Fold ``sign(BN(W x))`` (output +1 iff the BatchNorm output is >= 0) into thresholds.

        ``gamma (s - mu) / sigma + beta >= 0`` is ``s >= mu - beta sigma / gamma`` for gamma > 0;
        for gamma < 0 the inequality turns, which is absorbed by negating the row of ``W`` and the
        threshold; gamma = 0 gives a constant neuron (+1 iff beta >= 0).

        Args:
            weights: binary weights (out, in); real latent weights are binarized with w >= 0 -> +1.
            gamma, beta, running_mean, running_var: BatchNorm parameters, each (out,).
            bn_eps: the BatchNorm epsilon.
        """
        w = np.asarray(weights, dtype=float)
        if not np.isin(w, (-1.0, 0.0, 1.0)).all():
            w = np.where(w >= 0, 1.0, -1.0)
        g, b = np.asarray(gamma, dtype=float), np.asarray(beta, dtype=float)
        mu, var = np.asarray(running_mean, dtype=float), np.asarray(running_var, dtype=float)
        sigma = np.sqrt(var + bn_eps)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = mu - b * sigma / g
        t = np.where(g == 0, np.where(b >= 0, -np.inf, np.inf), t)
        neg = g < 0
        return cls(np.where(neg[:, None], -w, w).astype(np.int8), np.where(neg, -t, t))

    @property
    def w_float(self) -> NDArray[np.float64]:
        """The weights as float64, for BLAS matrix products (exact: small integers)."""
        return self._w_float

    @property
    def n_in(self) -> int:
        return int(self.weights.shape[1])

    @property
    def n_out(self) -> int:
        return int(self.weights.shape[0])

    # the layer interface the theory's functions use (shared with theory.conv's layers)
    def pre_activation(self, h: NDArray) -> NDArray[np.float64]:
        """W.x for states h (..., n_in)."""
        return h @ self._w_float.T

    linear = pre_activation

    def abs_linear(self, v: NDArray) -> NDArray[np.float64]:
        """|W|.v for real inputs v (..., n_in)."""
        return v @ np.abs(self._w_float).T

    @property
    def nnz(self) -> NDArray[np.float64]:
        """Nonzero weights per neuron, (n_out,)."""
        return np.abs(self._w_float).sum(axis=1)

    @property
    def w_max(self) -> float:
        return float(np.abs(self.weights).max()) if self.weights.size else 0.0


def is_hidden_layer(obj: object) -> bool:
    """A hidden layer of the theory: dense :class:`BinaryLayer`, or a conv / max-pool layer."""
    from noisybnn.theory.conv import is_conv_like

    return isinstance(obj, BinaryLayer) or is_conv_like(obj)


@dataclass(frozen=True)
class Readout:
    """The noise-free output layer: logits_c = scale_c (W x)_c + bias_c, class = argmax.

    Attributes:
        weights: weights, shape (classes, in); binary in our networks, any real values accepted.
        scale: per-class scale a_c (may be negative), shape (classes,); default 1.
        bias: per-class bias b_c, shape (classes,); default 0.
    """

    weights: NDArray[np.float64]
    scale: NDArray[np.float64] | None = field(default=None)
    bias: NDArray[np.float64] | None = field(default=None)

    def __post_init__(self) -> None:
        w = np.asarray(self.weights, dtype=float)
        if w.ndim != 2 or w.shape[0] < 2:
            raise ValueError(f"readout weights must be (classes >= 2, in), got shape {w.shape}")
        c = w.shape[0]
        a = np.ones(c) if self.scale is None else np.asarray(self.scale, dtype=float).reshape(-1)
        b = np.zeros(c) if self.bias is None else np.asarray(self.bias, dtype=float).reshape(-1)
        for name, v in (("scale", a), ("bias", b)):
            if v.shape != (c,):
                raise ValueError(f"readout {name} must have shape ({c},), got {v.shape}")
            if not np.isfinite(v).all():
                raise ValueError(f"readout {name} must be finite")
        if not np.isfinite(w).all():
            raise ValueError("readout weights must be finite")
        object.__setattr__(self, "weights", w)
        object.__setattr__(self, "scale", a)
        object.__setattr__(self, "bias", b)

    @property
    def n_in(self) -> int:
        return int(self.weights.shape[1])

    @property
    def n_classes(self) -> int:
        return int(self.weights.shape[0])

    def logits(self, h: NDArray) -> NDArray[np.float64]:
        """Logits for last-hidden-layer states ``h`` (..., in)."""
        return (h @ self.weights.T) * self.scale + self.bias


@dataclass(frozen=True)
class Network:
    """Hidden binary layers plus a readout, with matching shapes."""

    hidden: tuple[BinaryLayer, ...]
    readout: Readout

    def __post_init__(self) -> None:
        n_prev = None
        for i, layer in enumerate((*self.hidden, self.readout)):
            if n_prev is not None and layer.n_in != n_prev:
                raise ValueError(
                    f"layer {i} expects {layer.n_in} inputs but layer {i - 1} has {n_prev} outputs"
                )
            n_prev = layer.n_out if is_hidden_layer(layer) else None

    @property
    def n_in(self) -> int:
        return (self.hidden[0] if self.hidden else self.readout).n_in

    @property
    def widths(self) -> tuple[int, ...]:
        return tuple(layer.n_out for layer in self.hidden)


def _as_hidden(obj: object, i: int) -> BinaryLayer:
    if is_hidden_layer(obj):
        return obj
    if isinstance(obj, dict):
        w = obj.get("W", obj.get("weights"))
        t = obj.get("T", obj.get("thresholds"))
        if w is None or t is None:
            raise ValueError(f"hidden layer {i}: dict needs keys 'W' and 'T', got {sorted(obj)}")
        return BinaryLayer(w, t)
    if isinstance(obj, (tuple, list)) and len(obj) == 2:
        return BinaryLayer(obj[0], obj[1])
    raise ValueError(
        f"hidden layer {i}: expected BinaryLayer, (W, T) tuple or {{'W', 'T'}} dict, got "
        f"{type(obj).__name__}"
    )


def _as_readout(obj: object) -> Readout:
    if isinstance(obj, Readout):
        return obj
    if isinstance(obj, dict):
        w = obj.get("W", obj.get("weights"))
        if w is None:
            raise ValueError(f"readout dict needs key 'W', got {sorted(obj)}")
        return Readout(w, obj.get("scale", obj.get("a")), obj.get("bias", obj.get("b")))
    if isinstance(obj, np.ndarray):
        return Readout(obj)
    raise ValueError(
        f"readout (last layer): expected Readout, weight array or {{'W', 'scale', 'bias'}} dict, "
        f"got {type(obj).__name__}"
    )


def as_network(layers: Network | Sequence[object]) -> Network:
    """Normalise a list of layers (last one = readout) into a checked :class:`Network`."""
    if isinstance(layers, Network):
        return layers
    if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence) or len(layers) == 0:
        raise ValueError("layers must be a non-empty list: hidden layers then one readout")
    hidden = tuple(_as_hidden(obj, i) for i, obj in enumerate(layers[:-1]))
    return Network(hidden, _as_readout(layers[-1]))


def as_inputs(x: ArrayLike, n_in: int) -> NDArray[np.float64]:
    """Check binary inputs: shape (samples, n_in) with values in {-1, +1}."""
    arr = np.asarray(x, dtype=float)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != n_in:
        raise ValueError(f"x must have shape (samples, {n_in}), got {np.shape(x)}")
    if not np.isin(arr, (-1.0, 1.0)).all():
        raise ValueError("x must be binary in {-1, +1}; threshold the input first (noise-free)")
    return arr


def as_labels(labels: ArrayLike, n_samples: int, n_classes: int) -> NDArray[np.int64]:
    """Check integer labels in [0, n_classes), one per sample."""
    y = np.asarray(labels)
    if y.shape != (n_samples,):
        raise ValueError(f"labels must have shape ({n_samples},), got {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            raise ValueError("labels must be integers")
    y = y.astype(np.int64)
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"labels must be in [0, {n_classes}), got range [{y.min()}, {y.max()}]")
    return y


def layer_eps(eps: ArrayLike, n_hidden: int, noisy_layers: Sequence[int] | None) -> NDArray:
    """Per-hidden-layer flip probability: ``eps`` (scalar or one per hidden layer) on the noisy
    layers (default: all hidden layers), 0 elsewhere."""
    e = check.probability(eps, "eps")
    if e.ndim == 0:
        e = np.full(n_hidden, float(e))
    elif e.shape != (n_hidden,):
        raise ValueError(
            f"eps must be a scalar or one value per hidden layer ({n_hidden}), got shape {e.shape}"
        )
    if noisy_layers is None:
        return e.astype(float)
    idx = np.asarray(list(noisy_layers), dtype=int).reshape(-1)
    if idx.size and (idx.min() < -n_hidden or idx.max() >= n_hidden):
        raise ValueError(
            f"noisy_layers are hidden-layer indices in [0, {n_hidden}); got {list(noisy_layers)} "
            "(the input and the readout are noise-free by construction)"
        )
    mask = np.zeros(n_hidden, dtype=bool)
    mask[idx] = True
    return np.where(mask, e, 0.0)


def threshold(pre: NDArray, t: NDArray) -> NDArray[np.float64]:
    """Binary activation: +1 where pre >= T, else -1."""
    return np.where(pre >= t, 1.0, -1.0)


@dataclass(frozen=True)
class ForwardResult:
    """Hidden states (one (samples, N_l) array of +-1 per hidden layer), logits and predictions."""

    hidden: list[NDArray[np.float64]]
    logits: NDArray[np.float64]

    @property
    def prediction(self) -> NDArray[np.int64]:
        return np.argmax(self.logits, axis=-1)


def forward(
    layers: Network | Sequence[object],
    x: ArrayLike,
    *,
    flip_masks: Sequence[NDArray | None] | None = None,
    stuck: Sequence[ArrayLike | None] | None = None,
) -> ForwardResult:
    """Bit-exact forward pass, optionally with given flips and stuck-at faults.

    Args:
        layers: the network.
        x: inputs in {-1, +1}, shape (samples, in).
        flip_masks: per hidden layer, a boolean array broadcastable to (samples, N_l) of outputs to
            invert (after the threshold), or None.
        stuck: per hidden layer, an array (N_l,) with 0 (healthy), -1 or +1 (output stuck at that
            value), or None. Stuck-at is applied after flips (a stuck neuron stays stuck).

    Returns:
        The hidden states and the logits.
    """
    net = as_network(layers)
    h = as_inputs(x, net.n_in)
    n_hidden = len(net.hidden)
    for name, seq in (("flip_masks", flip_masks), ("stuck", stuck)):
        if seq is not None and len(seq) != n_hidden:
            raise ValueError(
                f"{name} needs one entry per hidden layer ({n_hidden}), got {len(seq)}"
            )
    states = []
    for i, layer in enumerate(net.hidden):
        h = threshold(layer.pre_activation(h), layer.thresholds)
        if flip_masks is not None and flip_masks[i] is not None:
            h = np.where(flip_masks[i], -h, h)
        if stuck is not None and stuck[i] is not None:
            s = np.asarray(stuck[i], dtype=float).reshape(-1)
            if s.shape != (layer.n_out,) or not np.isin(s, (-1.0, 0.0, 1.0)).all():
                raise ValueError(f"stuck[{i}] must be ({layer.n_out},) values in {{-1, 0, +1}}")
            h = np.where(s != 0, s, h)
        states.append(h)
    return ForwardResult(states, net.readout.logits(h))


@dataclass(frozen=True)
class NoisySimulation:
    """Monte Carlo of the noisy network.

    Attributes:
        flip_rates: per hidden layer, (samples, N_l) fraction of draws in which the noisy output
            differed from the clean one.
        correct_probability: (samples,) fraction of draws classified correctly.
        n_draws: number of noise draws per sample.
    """

    flip_rates: list[NDArray[np.float64]]
    correct_probability: NDArray[np.float64]
    n_draws: int

    @property
    def accuracy(self) -> float:
        return float(np.mean(self.correct_probability))

    @property
    def layer_flip_rates(self) -> NDArray[np.float64]:
        """Mean flip rate per hidden layer."""
        return np.array([r.mean() for r in self.flip_rates])


def simulate_noisy(
    layers: Network | Sequence[object],
    x: ArrayLike,
    labels: ArrayLike,
    eps: ArrayLike,
    noisy_layers: Sequence[int] | None = None,
    *,
    n_draws: int = 100,
    seed: int = 0,
) -> NoisySimulation:
    """Monte Carlo ground truth: draw independent flips in every noisy layer, count outcomes.

    Args:
        layers: the network.
        x: inputs in {-1, +1}, shape (samples, in).
        labels: class per sample.
        eps: flip probability (scalar or one per hidden layer).
        noisy_layers: hidden-layer indices that are noisy (default all).
        n_draws: noise draws per sample.
        seed: seed of ``np.random.default_rng``; same seed, same result.
    """
    net = as_network(layers)
    xs = as_inputs(x, net.n_in)
    y = as_labels(labels, xs.shape[0], net.readout.n_classes)
    e = layer_eps(eps, len(net.hidden), noisy_layers)
    if int(n_draws) < 1:
        raise ValueError(f"n_draws must be >= 1, got {n_draws}")
    rng = np.random.default_rng(seed)
    clean = forward(net, xs)
    flips = [np.zeros_like(h) for h in clean.hidden]
    correct = np.zeros(xs.shape[0])
    noisy = np.flatnonzero(e > 0)
    first = int(noisy[0]) if noisy.size else len(net.hidden)  # layers before it stay clean
    for _ in range(int(n_draws)):
        h = clean.hidden[first - 1] if first > 0 else xs
        for i in range(first, len(net.hidden)):
            layer = net.hidden[i]
            if i == first:  # its input is clean: its clean output is known
                h = clean.hidden[i]
            else:
                h = threshold(layer.pre_activation(h), layer.thresholds)
            if e[i] > 0:
                h = np.where(rng.random(h.shape) < e[i], -h, h)
            flips[i] += h != clean.hidden[i]
        correct += np.argmax(net.readout.logits(h), axis=-1) == y
    n = float(n_draws)
    return NoisySimulation([f / n for f in flips], correct / n, int(n_draws))


def load_mlp_checkpoint(path: str | Path) -> list:
    """Fold a zoo MLP checkpoint (``features.{i}.0`` linear, ``features.{i}.1`` BatchNorm,
    ``readout``) into theory layers. Needs torch; the readout's logit scale is dropped (it is
    positive and does not change the argmax)."""
    import torch

    state = torch.load(path, map_location="cpu", weights_only=False)
    state = state.get("state_dict", state)
    sd = {k: v.detach().numpy().astype(float) for k, v in state.items() if v.ndim > 0}
    layers: list = []
    i = 0
    while f"features.{i}.0.weight" in sd:
        pre = f"features.{i}.1."
        layers.append(
            BinaryLayer.from_batchnorm(
                sd[f"features.{i}.0.weight"],
                sd[pre + "weight"],
                sd[pre + "bias"],
                sd[pre + "running_mean"],
                sd[pre + "running_var"],
            )
        )
        i += 1
    if not layers or "readout.weight" not in sd:
        raise ValueError(f"{path}: not an MLP checkpoint with features.<i>.0/1 and readout layers")
    layers.append(Readout(np.where(sd["readout.weight"] >= 0, 1.0, -1.0)))
    return layers
