"""Model specifications: a small JSON-serialisable description from which a network is built."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from noisybnn.errors import ConfigError

#: Named topologies of the BNN-PYNQ family (hidden widths of the 3 hidden layers).
FC_WIDTHS = {"tfc": 64, "sfc": 256, "lfc": 1024}
PRECISIONS = {"w1a1": (1, 1), "w1a2": (1, 2), "w2a2": (2, 2)}
DATASETS = ("mnist", "fashion-mnist")
#: Input precisions: binarized pixels (1) or raw uint8 pixels (8, CNNs only).
IN_BITS = (1, 8)


@dataclass(frozen=True)
class ModelSpec:
    """What a model is; enough to rebuild it and to name its artifacts.

    Attributes:
        arch: "mlp" or "cnn".
        hidden: hidden layer widths (mlp) or conv channels per stage (cnn).
        weight_bits, act_bits: quantization of weights and hidden activations.
        in_bits: input quantization: 1 (pixels thresholded at 0.5 to -1/+1) or, for CNNs, 8 (the
            raw uint8 pixel: x = pixel / 255 in training, exported integer = pixel, as the 8-bit
            input of FINN's CNV).
        fc_hidden: (cnn only) widths of the fully connected hidden layers after the convs.
        num_classes: output classes.
        dropout: dropout probability during training.
        eps_train: neuron flip probability during training (noise-aware binarization).
        name: display name (e.g. "tfc-w1a1").
    """

    arch: str
    hidden: tuple[int, ...]
    weight_bits: int = 1
    act_bits: int = 1
    in_bits: int = 1
    fc_hidden: tuple[int, ...] = field(default=())
    num_classes: int = 10
    dropout: float = 0.0
    eps_train: float = 0.0
    name: str = ""

    def __post_init__(self) -> None:
        if self.arch not in ("mlp", "cnn"):
            raise ConfigError(f"arch must be 'mlp' or 'cnn', got {self.arch!r}")
        if not self.hidden or any(int(w) < 1 for w in self.hidden):
            raise ConfigError(f"hidden widths must be positive integers, got {self.hidden}")
        for label, bits in (("weight", self.weight_bits), ("activation", self.act_bits)):
            if bits not in (1, 2, 3, 4):
                raise ConfigError(f"{label} bits must be 1..4, got {bits}")
        if self.in_bits not in IN_BITS:
            raise ConfigError(
                f"in_bits must be 1 (binarized pixels) or 8 (raw uint8 pixels), got {self.in_bits!r}"
            )
        if self.in_bits == 8 and self.arch != "cnn":
            raise ConfigError(
                "in_bits=8 (raw uint8 pixels) is supported for arch 'cnn' only; "
                "MLPs take binarized pixels (in_bits=1)"
            )
        object.__setattr__(self, "hidden", tuple(int(w) for w in self.hidden))
        object.__setattr__(self, "fc_hidden", tuple(int(w) for w in self.fc_hidden))
        if not self.name:
            object.__setattr__(self, "name", self.default_name())

    def default_name(self) -> str:
        body = "x".join(str(w) for w in self.hidden)
        if self.arch == "cnn":
            body += "-fc" + "x".join(str(w) for w in self.fc_hidden)
        suffix = "-in8" if self.in_bits == 8 else ""
        return f"{self.arch}-{body}-w{self.weight_bits}a{self.act_bits}{suffix}"

    @property
    def depth(self) -> int:
        return len(self.hidden) + len(self.fc_hidden)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelSpec:
        d = dict(d)
        d["hidden"] = tuple(d["hidden"])
        d["fc_hidden"] = tuple(d.get("fc_hidden", ()))
        return cls(**d)


_MLP_RE = re.compile(r"^mlp-(?P<w>\d+)x(?P<d>\d+)-w(?P<wb>\d)a(?P<ab>\d)$")


def mlp(width: int, depth: int, weight_bits: int = 1, act_bits: int = 1, **kw) -> ModelSpec:
    """A fully connected 784-[width]*depth-10 network."""
    if depth < 1:
        raise ConfigError(f"depth must be >= 1, got {depth}")
    return ModelSpec(
        arch="mlp", hidden=(width,) * depth, weight_bits=weight_bits, act_bits=act_bits, **kw
    )


def cnn(weight_bits: int = 1, act_bits: int = 1, **kw) -> ModelSpec:
    """A small binarized CNN for 28x28 inputs: conv 16-16-pool-32-32-pool, fc 128, 10."""
    kw.setdefault("name", f"cnn-w{weight_bits}a{act_bits}")
    return ModelSpec(
        arch="cnn", hidden=(16, 16, 32, 32), fc_hidden=(128,), weight_bits=weight_bits,
        act_bits=act_bits, **kw,
    )


def cnv(weight_bits: int = 1, act_bits: int = 1, **kw) -> ModelSpec:
    """A CNV-style binary CNN for 28x28 inputs, after FINN's CNV (conv blocks with max-pool, an
    fc head): conv 32-32-pool-64-64-pool (3x3, valid), fc 256, 10."""
    kw.setdefault("name", f"cnv-w{weight_bits}a{act_bits}")
    return ModelSpec(
        arch="cnn", hidden=(32, 32, 64, 64), fc_hidden=(256,), weight_bits=weight_bits,
        act_bits=act_bits, **kw,
    )


def names() -> list[str]:
    """Every named topology, for help texts and errors."""
    out = [f"{n}-{p}" for n in FC_WIDTHS for p in PRECISIONS]
    out += [f"{c}-{p}" for c in ("cnn", "cnv") for p in PRECISIONS]
    return out


def from_name(name: str, **overrides) -> ModelSpec:
    """Spec of a named topology: tfc|sfc|lfc|cnn|cnv-w1a1|w1a2|w2a2, or mlp-<width>x<depth>-w<b>a<b>."""
    key = name.strip().lower()
    m = _MLP_RE.match(key)
    if m:
        return mlp(int(m["w"]), int(m["d"]), int(m["wb"]), int(m["ab"]), name=key, **overrides)
    family, _, prec = key.partition("-")
    if prec not in PRECISIONS or (family not in FC_WIDTHS and family not in ("cnn", "cnv")):
        raise ConfigError(
            f"unknown model {name!r}; known: {', '.join(names())}, or mlp-<width>x<depth>-w<b>a<b>"
        )
    wb, ab = PRECISIONS[prec]
    if family == "cnn":
        return cnn(wb, ab, name=key, **overrides)
    if family == "cnv":
        return cnv(wb, ab, name=key, **overrides)
    return ModelSpec(
        arch="mlp", hidden=(FC_WIDTHS[family],) * 3, weight_bits=wb, act_bits=ab, name=key,
        **overrides,
    )
