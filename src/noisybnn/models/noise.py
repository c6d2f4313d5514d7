"""Noise-aware binarization: neuron output flips exactly as the hardware injector makes them.

`NeuronNoise` sits right after a quantized activation. It works on the integer code that the FINN
stream carries for that neuron (for a binary neuron, bit 1 = +1 and bit 0 = -1; for b-bit signed
activations, the b-bit two's complement code) and inverts code bits, which is what the injector does
to the stream. Three sources of flips:

* training: independent Bernoulli(eps_train) per bit, from torch's RNG (seeded by the trainer),
  with a straight-through gradient (the flip is treated as additive noise);
* evaluation, ``source="torch"``: Bernoulli(eps_eval) from a private, seeded torch generator;
* evaluation, ``source="injector"``: the injector's own random stream from `noisybnn.hw`, so that
  Brevitas predicts the FPGA output bit for bit. Vectors are consumed in order; `reset()` restarts
  the stream as the hardware's reseed strobe does.

With eps = 0 (and no stuck faults) the module is the identity and leaves no node in the export.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from noisybnn.errors import ConfigError
from noisybnn.hw import InjectorConfig, Mode, check_probability, threshold_from_p
from noisybnn.hw.injector import flip_mask_for_vectors


class NeuronNoise(nn.Module):
    """Flip the outputs of the `neurons` neurons (channels) of the preceding activation.

    Args:
        neurons: channels of the activation it follows.
        bit_width: bits per neuron in the hardware stream.
        scale: value of one integer code step (1.0 for our activations).
        eps_train: flip probability per bit while training.
    """

    def __init__(self, neurons: int, bit_width: int = 1, scale: float = 1.0, eps_train: float = 0.0):
        super().__init__()
        self.neurons = neurons
        self.bit_width = bit_width
        self.scale = scale
        self.eps_train = check_probability(eps_train, "eps_train")
        self.eps_eval = 0.0
        self.source = "torch"
        self.mode = Mode.FLIP
        self.fault_mask: np.ndarray | None = None
        self.pe = 1
        self.seed = 0
        self._generator = torch.Generator().manual_seed(0)
        self._vectors_seen = 0
        self.flips_counted = 0

    # --- configuration -----------------------------------------------------------------------
    def set_eval_noise(
        self,
        eps: float,
        seed: int = 0,
        source: str = "torch",
        mode: Mode | str = Mode.FLIP,
        pe: int = 1,
        fault_mask: np.ndarray | None = None,
    ) -> None:
        """Configure evaluation-time noise; `source` is "torch" or "injector" (bit-exact with HW)."""
        self.eps_eval = check_probability(eps, "eps_eval")
        if source not in ("torch", "injector"):
            raise ConfigError(f"noise source must be 'torch' or 'injector', got {source!r}")
        self.source = source
        self.mode = Mode.parse(mode)
        if self.mode in (Mode.STUCK0, Mode.STUCK1) and source != "injector":
            raise ConfigError("stuck-at modes are defined by the injector: use source='injector'")
        if fault_mask is not None and len(fault_mask) != self.neurons:
            raise ConfigError(
                f"fault mask has {len(fault_mask)} entries, layer has {self.neurons} neurons"
            )
        self.pe = pe
        self.seed = seed
        self.fault_mask = None if fault_mask is None else np.asarray(fault_mask, dtype=bool)
        self.reset()

    def reset(self) -> None:
        """Restart the noise stream (the hardware reseed strobe)."""
        self._generator = torch.Generator().manual_seed(int(self.seed) & 0x7FFF_FFFF_FFFF_FFFF)
        self._vectors_seen = 0
        self.flips_counted = 0

    def injector_config(self) -> InjectorConfig:
        """The hardware configuration this module emulates."""
        return InjectorConfig(
            neurons=self.neurons,
            pe=self.pe,
            bits=self.bit_width,
            mode=self.mode,
            threshold=threshold_from_p(self.eps_eval),
            seed=self.seed,
            fault_mask=None if self.fault_mask is None else tuple(self.fault_mask.tolist()),
        )

    @property
    def active(self) -> bool:
        if self.training:
            return self.eps_train > 0
        return self.eps_eval > 0 or self.mode in (Mode.STUCK0, Mode.STUCK1)

    # --- forward -----------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.active:
            return x
        if x.shape[1] != self.neurons:
            raise ValueError(f"expected {self.neurons} channels, got shape {tuple(x.shape)}")
        if self.training:
            flips = torch.rand(x.shape + (self.bit_width,), device=x.device) < self.eps_train
            if self.bit_width == 1:  # the same draws and flips, without the int64 round trip
                noisy = torch.where((x > 0) ^ flips[..., 0], 1.0, -1.0).to(x.dtype)
            else:
                noisy = self._from_codes(self._to_codes(x) ^ _pack_bits(flips))
            return x + (noisy - x).detach()
        if self.bit_width == 1 and self.source == "injector" and self.mode is Mode.FLIP:
            return self._eval_binary_injector(x)
        codes = self._to_codes(x)
        noisy_codes = self._eval_codes(codes)
        self.flips_counted += int(_bit_count(noisy_codes ^ codes).sum())
        return self._from_codes(noisy_codes).to(x.dtype)

    def _eval_binary_injector(self, x: torch.Tensor) -> torch.Tensor:
        """`_eval_codes` for binary neurons in flip mode on bool tensors: the same flips, about
        4x less time than the int64 codes (the conv maps of a CNN make this the common case)."""
        fire = x > 0
        vectors = _to_vectors(fire)
        n = vectors.shape[0]
        mask = torch.from_numpy(_flip_mask(self.injector_config(), n, self._vectors_seen)[:, :, 0])
        self._vectors_seen += n
        self.flips_counted += int(mask.sum())
        noisy = _from_vectors(vectors ^ mask, fire.shape)
        return torch.where(noisy, 1.0, -1.0).to(x.dtype)

    def _eval_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """Apply evaluation noise to codes laid out (vectors, neurons) in stream order."""
        if self.source == "torch":
            flips = torch.rand(codes.shape + (self.bit_width,), generator=self._generator)
            return codes ^ _pack_bits(flips < self.eps_eval)
        vectors = _to_vectors(codes)
        cfg = self.injector_config()
        n = vectors.shape[0]
        if cfg.mode is Mode.FLIP:
            mask = _flip_mask(cfg, n, self._vectors_seen)
            out = vectors ^ _pack_bits(torch.from_numpy(mask))
        else:
            hit = torch.from_numpy(cfg.mask_array())
            forced = 0 if cfg.mode is Mode.STUCK0 else (1 << self.bit_width) - 1
            out = torch.where(hit[None, :], torch.full_like(vectors, forced), vectors)
        self._vectors_seen += n
        return _from_vectors(out, codes.shape)

    def _to_codes(self, x: torch.Tensor) -> torch.Tensor:
        """Values -> unsigned stream codes (bit 1 = +1 for binary; two's complement otherwise)."""
        if self.bit_width == 1:
            return (x > 0).to(torch.int64)
        ints = torch.round(x / self.scale).to(torch.int64)
        return ints & ((1 << self.bit_width) - 1)

    def _from_codes(self, codes: torch.Tensor) -> torch.Tensor:
        if self.bit_width == 1:
            return (2 * codes - 1).to(torch.float32)
        half = 1 << (self.bit_width - 1)
        signed = torch.where(codes >= half, codes - (1 << self.bit_width), codes)
        return signed.to(torch.float32) * self.scale

    def extra_repr(self) -> str:
        return (
            f"neurons={self.neurons}, bits={self.bit_width}, eps_train={self.eps_train}, "
            f"eps_eval={self.eps_eval}, source={self.source}, mode={self.mode.name.lower()}"
        )


def _flip_mask(cfg: InjectorConfig, n_vectors: int, start_vector: int) -> np.ndarray:
    """`flip_mask_for_vectors` with the stream drawn by the sim's compiled kernel (the same bits,
    tested in tests/models); the numpy reference where numba is missing."""
    from noisybnn.backends import kernels

    if not kernels.AVAILABLE:
        return flip_mask_for_vectors(cfg, n_vectors, start_vector)
    nf = cfg.nf
    u = kernels.lane_samples(cfg, n_vectors * nf, start_vector * nf)
    if cfg.threshold > np.iinfo(u.dtype).max:  # p = 1: every sample is below the threshold
        flips = np.ones((n_vectors * nf, cfg.pe, cfg.bits), dtype=bool)
    else:
        flips = (u < u.dtype.type(cfg.threshold)).reshape(n_vectors * nf, cfg.pe, cfg.bits)
    if cfg.fault_mask is not None:
        folds = (np.arange(start_vector * nf, (start_vector + n_vectors) * nf) % nf)[:, None]
        flips &= cfg.mask_array()[folds * cfg.pe + np.arange(cfg.pe)[None, :]][:, :, None]
    return flips.reshape(n_vectors, cfg.neurons, cfg.bits)


def _pack_bits(bits: torch.Tensor) -> torch.Tensor:
    """(..., b) bool -> (...) int64 with bit i from bits[..., i]."""
    weights = 2 ** torch.arange(bits.shape[-1], dtype=torch.int64)
    return (bits.to(torch.int64) * weights).sum(-1)


def _bit_count(x: torch.Tensor) -> np.ndarray:
    return np.bitwise_count(x.cpu().numpy().astype(np.uint64))


def _to_vectors(codes: torch.Tensor) -> torch.Tensor:
    """(N, C) or (N, C, H, W) -> (vectors, C) in FINN stream order (NHWC, channels fastest).

    Vector v = (i * H + h) * W + w holds the C channels of pixel (h, w) of image i; the injector
    streams it as NF = C / PE beats, beat v * NF + f carrying channels f * PE .. f * PE + PE - 1.
    So the fault mask names channels at every pixel, and beats count across pixels and images
    (docs/injector.md, "After a convolution"; tests/models/test_noise_conv.py).
    """
    if codes.dim() == 2:
        return codes
    n, c = codes.shape[:2]
    return codes.permute(0, *range(2, codes.dim()), 1).reshape(-1, c)


def _from_vectors(vectors: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    if len(shape) == 2:
        return vectors
    n, c = shape[:2]
    spatial = tuple(shape[2:])
    v = vectors.reshape((n,) + spatial + (c,))
    return v.permute(0, v.dim() - 1, *range(1, v.dim() - 1))
