"""The exception types that mean "the user gave something wrong or something is missing".

The CLI prints these as one line; anything else is a bug and keeps its traceback. User errors
are `noisybnn.errors.NoisyBNNError` (ConfigError, InputFileError, ... each also a ValueError,
FileNotFoundError, ... for Python callers); a plain ValueError is a bug. Besides those, OS errors
about input paths (a file that is not there, a path through a file, no permission) are one line.
"""

from __future__ import annotations


def user_error_types() -> tuple[type[BaseException], ...]:
    from noisybnn.errors import NoisyBNNError

    types: list[type[BaseException]] = [NoisyBNNError, FileNotFoundError, NotADirectoryError,
                                        IsADirectoryError, PermissionError]
    import sys

    host_errors = sys.modules.get("noisybnn_host.errors")  # the board bundle's own errors,
    if host_errors is not None:  # loaded only where the pynq backend was used
        types += [host_errors.BoardUnavailableError, host_errors.ManifestError]
    return tuple(types)
