"""User errors: what the user gave or needs is wrong or missing. The CLI shows these as one line.

Modelled on FINN's `finn/util/exception.py`: one base that the CLI catches; anything else (a plain
`ValueError` from a bug) keeps its traceback. Each subclass also derives from the built-in type
that callers from Python expect, so `except ValueError` keeps working.
"""


class NoisyBNNError(Exception):
    """Base of every user-facing error; its message names the problem and what to do."""


class ConfigError(NoisyBNNError, ValueError):
    """An argument, option, environment variable or configuration value is out of range."""


class InputFileError(NoisyBNNError, ValueError):
    """An input file (checkpoint, ONNX, results table, .hwh, JSON) is malformed."""


class MissingInputError(NoisyBNNError, FileNotFoundError):
    """An input the step needs (file, build, checkpoint, data set) does not exist."""


class OutputPathError(NoisyBNNError, OSError):
    """An output cannot be written (a directory, a missing parent, read-only, disk full)."""


class ToolMissingError(NoisyBNNError, RuntimeError):
    """A vendor tool (Vivado, Vitis, yosys, Verilator, a board) that this step needs is absent."""
