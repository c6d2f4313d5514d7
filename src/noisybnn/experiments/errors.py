"""The experiments' user errors: both are `ConfigError`s, so the CLI shows them as one line."""

from __future__ import annotations

from noisybnn.errors import ConfigError


class SweepError(ConfigError):
    """A sweep cannot start or go on: bad grid, missing build, unavailable backend, bad table."""


class ExploreError(ConfigError):
    """An exploration cannot start: bad design space, eps, board, seeds or table."""
