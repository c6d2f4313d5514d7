"""The noise injector, defined once: generator, seeding, threshold <-> p, modes, lane layout."""

from noisybnn.hw.injector import (
    InjectorConfig,
    Mode,
    check_probability,
    flip_mask_for_vectors,
    inject_stream,
    lane_samples,
    p_from_threshold,
    seed_word,
    threshold_from_p,
)

__all__ = [
    "InjectorConfig",
    "Mode",
    "check_probability",
    "flip_mask_for_vectors",
    "inject_stream",
    "lane_samples",
    "p_from_threshold",
    "seed_word",
    "threshold_from_p",
]
