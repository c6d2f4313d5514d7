"""The errors the board bundle raises on purpose; each says what is wrong and what to do."""

from __future__ import annotations


class BoardUnavailableError(RuntimeError):
    """PYNQ, or an FPGA device for it, is not present on this machine.

    Raised as one line (no chained traceback from pynq internals). The command line prints it and
    exits with status 2.
    """


class ManifestError(ValueError):
    """The manifest is malformed, or does not match the bitfile, the model or the hardware."""
