"""Exceptions that mean "something the user gave or needs is wrong or missing" (shown as one line)."""


class ToolMissingError(RuntimeError):
    """A vendor tool (Vivado, Vitis, a board) that this step needs is not available here."""
