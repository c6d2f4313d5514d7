"""Bit-exact reference of the noise injector: configuration, lane seeding, and the stream it produces.

The injector sits in a FINN AXI stream. A beat carries `pe` neurons of `bits` bits each, packed
with PE 0 in the least significant bits, exactly as FINN packs a folded stream; beat `b` of a run
carries neurons `(b mod nf) * pe + lane`. Every bit position of the beat is a *bit lane* with its
own 16-bit accumulator in the generator of `lfsr.py`, so for binary layers a lane is a neuron's PE slot.

Every beat, each lane draws a 16-bit sample `u`; in ``flip`` mode the lane's bit is inverted when
``u < threshold`` (so p = threshold / 2^16). In ``stuck0``/``stuck1`` mode every bit of each neuron
selected by the fault mask is forced to 0/1 (a crashed neuron). The generator advances on every beat in every
mode, so the flips of a run depend only on the seed and the beat index, never on the mode history.
The generator is reloaded from the seed at the start of every run (the reseed strobe).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from noisybnn.hw import lfsr

THRESHOLD_BITS = lfsr.SAMPLE_BITS
THRESHOLD_FULL = 1 << THRESHOLD_BITS  # threshold that flips every bit (p = 1)
SEED_BITS = 64


class Mode(IntEnum):
    """Injector modes, with the values written to the mode register."""

    OFF = 0
    FLIP = 1
    STUCK0 = 2
    STUCK1 = 3

    @classmethod
    def parse(cls, value: Mode | str | int) -> Mode:
        if isinstance(value, Mode):
            return value
        if isinstance(value, str):
            try:
                return cls[value.strip().upper()]
            except KeyError:
                names = ", ".join(m.name.lower() for m in cls)
                raise ValueError(f"unknown injector mode {value!r}; expected one of {names}") from None
        try:
            return cls(int(value))
        except ValueError:
            raise ValueError(f"unknown injector mode value {value!r}; expected 0..3") from None


def check_probability(p: float, name: str = "p") -> float:
    """Return p as float, or raise ValueError naming the problem (NaN, not in [0, 1])."""
    if isinstance(p, bool):
        raise ValueError(f"{name} must be a number in [0, 1], got {p!r}")
    try:
        value = float(p)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in [0, 1], got {p!r}") from None
    if math.isnan(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {p!r}")
    return value


def threshold_from_p(p: float) -> int:
    """Threshold register value for flip probability p: round(p * 2^16), in [0, 2^16].

    Python's round: halves go to the even integer (p = 1.5 / 2^16 gives 2, 2.5 / 2^16 gives 2).
    """
    return int(round(check_probability(p) * THRESHOLD_FULL))


def p_from_threshold(threshold: int) -> float:
    """Exact flip probability realised by a threshold."""
    return threshold / THRESHOLD_FULL


splitmix64 = lfsr.splitmix64


def unsplitmix64(word: int) -> int:
    """The master seed whose seed word is `word` (inverse of splitmix64; tests use it to reach
    the seed words 0 and all ones)."""
    z = int(word) & lfsr.MASK64
    z ^= z >> 31 ^ z >> 62
    z = (z * pow(0x94D049BB133111EB, -1, 1 << 64)) & lfsr.MASK64
    z ^= z >> 27 ^ z >> 54
    z = (z * pow(0xBF58476D1CE4E5B9, -1, 1 << 64)) & lfsr.MASK64
    z ^= z >> 30 ^ z >> 60
    return (z - 0x9E3779B97F4A7C15) & lfsr.MASK64


def seed_word(seed: int) -> int:
    """The 64-bit word written to the SEED registers (and the RTL core's `seed` input) for a
    master seed: splitmix64(seed), so that the generator's state is nonlinear in the seed and
    seeds one bit apart start from unrelated states."""
    return splitmix64(check_seed(seed))


def derive_layer_seed(seed: int, layer: int) -> int:
    """Seed of the injector after hidden layer `layer`, from the run's master seed.

    Each injector gets its own seed so that layers never share a flip pattern; the host driver
    writes these derived seeds to the injectors' seed registers.
    """
    check_seed(seed)
    if layer < 0:
        raise ValueError(f"layer index must be >= 0, got {layer}")
    return splitmix64((seed + (layer + 1) * 0x9E3779B97F4A7C15) & lfsr.MASK64) >> 1


def check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an integer in [0, 2^64), got {seed!r}")
    if not 0 <= int(seed) < (1 << SEED_BITS):
        raise ValueError(f"seed must be in [0, 2^64), got {seed}")
    return int(seed)


@dataclass(frozen=True)
class InjectorConfig:
    """Everything that fixes an injector's output stream.

    Attributes:
        neurons: neurons (channels) of the layer it follows.
        pe: neurons per beat (the producer's PE); must divide `neurons`.
        bits: bits per neuron in the stream (1 for binary layers).
        mode: off, flip, stuck0 or stuck1.
        threshold: flip threshold, p = threshold / 2^16, in [0, 2^16].
        seed: master seed, 64 bits.
        fault_mask: neurons affected (flip: eligible to flip; stuck: crashed); None = all.
    """

    neurons: int
    pe: int = 1
    bits: int = 1
    mode: Mode = Mode.FLIP
    threshold: int = 0
    seed: int = 1
    fault_mask: tuple[bool, ...] | None = field(default=None)

    def __post_init__(self) -> None:
        for name in ("neurons", "pe", "bits", "threshold"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ValueError(f"{name} must be an integer, got {value!r}")
            object.__setattr__(self, name, int(value))
        if self.neurons < 1:
            raise ValueError(f"neurons must be >= 1, got {self.neurons}")
        if self.pe < 1:
            raise ValueError(f"lane count (pe) must be >= 1, got {self.pe}")
        if self.neurons % self.pe:
            raise ValueError(f"pe={self.pe} must divide the layer width {self.neurons}")
        if not 1 <= self.bits <= 32:
            raise ValueError(f"bits per neuron must be in 1..32, got {self.bits}")
        object.__setattr__(self, "mode", Mode.parse(self.mode))
        if not 0 <= int(self.threshold) <= THRESHOLD_FULL:
            raise ValueError(f"threshold must be in [0, {THRESHOLD_FULL}], got {self.threshold}")
        check_seed(self.seed)
        if self.fault_mask is not None:
            mask = tuple(bool(m) for m in self.fault_mask)
            if len(mask) != self.neurons:
                raise ValueError(
                    f"fault mask has {len(mask)} entries but the layer has {self.neurons} neurons"
                )
            object.__setattr__(self, "fault_mask", mask)

    @classmethod
    def from_p(cls, neurons: int, p: float, **kw) -> InjectorConfig:
        return cls(neurons=neurons, threshold=threshold_from_p(p), **kw)

    @property
    def p(self) -> float:
        return p_from_threshold(self.threshold)

    @property
    def nf(self) -> int:
        """Beats per vector (neuron fold)."""
        return self.neurons // self.pe

    @property
    def lanes(self) -> int:
        """Bit lanes, one 16-bit accumulator each."""
        return self.pe * self.bits

    def mask_array(self) -> np.ndarray:
        if self.fault_mask is None:
            return np.ones(self.neurons, dtype=bool)
        return np.asarray(self.fault_mask, dtype=bool)


def lane_samples(cfg: InjectorConfig, n_beats: int, start_beat: int = 0) -> np.ndarray:
    """uint16 samples, shape (n_beats, lanes), lane index = pe * bits + bit."""
    return lfsr.stream(seed_word(cfg.seed), cfg.lanes, n_beats, start_beat)


def flip_bits(cfg: InjectorConfig, n_beats: int, start_beat: int = 0,
              samples: np.ndarray | None = None) -> np.ndarray:
    """Bool (n_beats, pe, bits): which stream bits `flip` mode would invert (mask applied).

    `samples`: the lanes' samples of those beats if the caller has drawn them already (e.g.
    through the sim's compiled runner, tested equal to `lane_samples`); threshold 0 flips no bit
    (u < 0 never holds), so no sample is drawn.
    """
    if cfg.threshold == 0:
        return np.zeros((n_beats, cfg.pe, cfg.bits), dtype=bool)
    if samples is None:
        samples = lane_samples(cfg, n_beats, start_beat)
    if samples.shape != (n_beats, cfg.lanes):
        raise ValueError(f"samples must have shape ({n_beats}, {cfg.lanes}), got {samples.shape}")
    u = samples.reshape(n_beats, cfg.pe, cfg.bits)
    flips = u < cfg.threshold
    if cfg.fault_mask is not None:
        flips &= _beat_neuron_mask(cfg, n_beats, start_beat)[:, :, None]
    return flips


def _beat_neuron_mask(cfg: InjectorConfig, n_beats: int, start_beat: int) -> np.ndarray:
    """Bool (n_beats, pe): whether the neuron on each lane of each beat is in the fault mask."""
    folds = (np.arange(start_beat, start_beat + n_beats) % cfg.nf)[:, None]
    neuron = folds * cfg.pe + np.arange(cfg.pe)[None, :]
    return cfg.mask_array()[neuron]


def inject_stream(
    cfg: InjectorConfig, codes: np.ndarray, start_beat: int = 0,
    samples: np.ndarray | None = None,
) -> tuple[np.ndarray, int]:
    """Apply the injector to a stream of beats.

    Args:
        codes: unsigned codes, shape (n_beats, pe), each < 2^bits (the packed beat, lane by lane).
        start_beat: index of the first beat since the last reseed.
        samples: the lanes' samples of these beats, if already drawn (see `flip_bits`).
    Returns:
        (output codes, number of bits changed), as the hardware's output and flip counter.
    """
    codes = np.asarray(codes)
    if codes.ndim != 2 or codes.shape[1] != cfg.pe:
        raise ValueError(f"stream must have shape (beats, {cfg.pe}), got {codes.shape}")
    if codes.size and (codes.min() < 0 or codes.max() >= (1 << cfg.bits)):
        raise ValueError(f"stream codes must be in [0, 2^{cfg.bits})")
    n = codes.shape[0]
    codes = codes.astype(np.int64)
    if cfg.mode is Mode.OFF:
        return codes.copy(), 0
    weights = (1 << np.arange(cfg.bits, dtype=np.int64))
    if cfg.mode is Mode.FLIP:
        xor = (flip_bits(cfg, n, start_beat, samples) * weights).sum(axis=2)
        out = codes ^ xor
    else:
        hit = _beat_neuron_mask(cfg, n, start_beat)
        forced = 0 if cfg.mode is Mode.STUCK0 else (1 << cfg.bits) - 1
        out = np.where(hit, forced, codes)
    changed = int(_popcount(out ^ codes).sum())
    return out, changed


def _popcount(x: np.ndarray) -> np.ndarray:
    """Set bits per element (works on numpy 1.x too, as on the board's PYNQ image)."""
    v = np.asarray(x).astype(np.uint64)
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(v).astype(np.int64)
    count = np.zeros(v.shape, dtype=np.int64)
    while v.any():
        count += (v & np.uint64(1)).astype(np.int64)
        v = v >> np.uint64(1)
    return count


def flip_mask_for_vectors(cfg: InjectorConfig, n_vectors: int, start_vector: int = 0) -> np.ndarray:
    """Bool (n_vectors, neurons, bits): flips laid out per vector and neuron (flip mode).

    A vector is one pass over all neurons (one image of an MLP layer, one pixel of a conv layer).
    This is how framework-side code (Brevitas, the software accelerator) consumes the stream.
    """
    beats = flip_bits(cfg, n_vectors * cfg.nf, start_vector * cfg.nf)
    return beats.reshape(n_vectors, cfg.neurons, cfg.bits)


def stream_from_vectors(values: np.ndarray, pe: int) -> np.ndarray:
    """(vectors, neurons) -> (beats, pe): the order in which FINN folds a layer's output."""
    v = np.asarray(values)
    return v.reshape(v.shape[0] * (v.shape[1] // pe), pe)


def vectors_from_stream(beats: np.ndarray, neurons: int) -> np.ndarray:
    b = np.asarray(beats)
    return b.reshape(-1, neurons)
