"""The knobs of a report, in one JSON-serialisable dataclass."""

from __future__ import annotations

from dataclasses import dataclass

from noisybnn.errors import ConfigError


@dataclass(frozen=True)
class ReportOptions:
    """How much theory to compute, and at which operating points."""

    #: Target accuracy of the neurons-vs-depth and design-space bounds.
    target_accuracy: float = 0.9
    #: Flip probabilities of the neurons-vs-depth panels (and preferred flip-rate eps).
    tradeoff_eps: tuple[float, ...] = (0.01, 0.05, 0.1, 0.2)
    #: Largest depth of the neurons-vs-depth curves (at least the deepest model + 2).
    max_depth: int = 64
    #: First N images of each sweep's split used for the theory (prediction, flip rates, angles).
    theory_images: int = 2000
    #: Monte Carlo draws per image of `theory.predict_accuracy`.
    n_draws: int = 64
    #: Monte Carlo draws per image of the i.i.d. reference flip rates (`theory.simulate_noisy`).
    mc_draws: int = 16
    #: Flip probabilities of the per-layer flip-rate check; None picks up to 4 of the sweep's.
    flip_rate_eps: tuple[float, ...] | None = None
    #: Seeds per eps of the per-layer flip-rate check (the table's first ones).
    flip_rate_seeds: int = 3
    #: Compile a model whose build is missing (about 30 s each); False leaves its theory out.
    compile_missing: bool = True
    #: Seed of the theory's Monte Carlo.
    seed: int = 0
    #: Widest hidden layer for which the analytic (correlated mean-field) predictor is computed:
    #: it costs images x width^2 per layer (256: ~1 min per eps on 2,000 images).
    analytic_max_width: int = 256
    #: Largest eps at which it is computed (beyond, flips saturate and it is not meant to apply).
    analytic_max_eps: float = 0.2
    #: Convolutional models: theory images (their noisy widths are C x H x W units per image,
    #: ~50,000 for cnv-w1a1: every Monte Carlo draw is a conv forward pass).
    conv_theory_images: int = 200
    #: Convolutional models: Monte Carlo draws per image of the prediction and of the i.i.d.
    #: reference flip rates.
    conv_n_draws: int = 16

    def __post_init__(self) -> None:
        if not 0.0 < self.target_accuracy <= 1.0:
            raise ConfigError(f"target_accuracy must be in (0, 1], got {self.target_accuracy}")
        object.__setattr__(self, "tradeoff_eps", tuple(float(e) for e in self.tradeoff_eps))
        if any(not 0.0 <= e <= 1.0 for e in self.tradeoff_eps):
            raise ConfigError(f"tradeoff_eps must be in [0, 1], got {self.tradeoff_eps}")
        if self.flip_rate_eps is not None:
            object.__setattr__(self, "flip_rate_eps", tuple(float(e) for e in self.flip_rate_eps))
        for name in ("theory_images", "n_draws", "mc_draws", "flip_rate_seeds", "max_depth",
                     "conv_theory_images", "conv_n_draws"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
