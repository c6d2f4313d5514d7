"""The exception types that mean "the user gave something wrong or something is missing".

The CLI prints these as one line; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


def user_error_types() -> tuple[type[BaseException], ...]:
    types: list[type[BaseException]] = [ValueError, FileNotFoundError, NotADirectoryError,
                                        PermissionError]
    from noisybnn.data import DatasetUnavailableError

    types.append(DatasetUnavailableError)
    from noisybnn.errors import ToolMissingError

    types.append(ToolMissingError)
    try:
        from noisybnn.backends.pynq import BoardUnavailableError

        types.append(BoardUnavailableError)
    except ImportError:
        pass
    return tuple(types)
