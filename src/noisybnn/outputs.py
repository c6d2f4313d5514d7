"""Outputs: refuse a path that cannot be written before any work, and write files atomically.

An output that is a directory, lies under a file, has a read-only parent, or runs out of disk
while written becomes one `OutputPathError` naming the path and what to do; a temporary file of a
failed write is removed, so the next run finds either the old file, whole, or the new one.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from noisybnn.errors import OutputPathError


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    if exc.errno == errno.EDQUOT:
        return "the disk quota is exceeded"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "it is not writable (permission denied or a read-only file system)"
    return exc.strerror or str(exc)


def output_error(path: str | os.PathLike, exc: OSError, what: str = "output") -> OutputPathError:
    """An OSError met while writing `path`, as one line naming it."""
    fix = "free space or choose another path" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else \
        "choose another path"
    return OutputPathError(f"cannot write {what} {path}: {_reason(exc)}; {fix}")


def _first_existing(path: Path) -> Path:
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def check_output_file(path: str | os.PathLike, flag: str = "--out") -> Path:
    """A file path the command may create or replace: not empty, not a directory, not under a
    file, its nearest existing folder writable. Nothing is created."""
    text = os.fspath(path)
    if not str(text).strip():
        raise OutputPathError(f"{flag} is empty; give a file path")
    p = Path(text).expanduser()
    if p.is_dir() or str(text).endswith(os.sep):
        raise OutputPathError(f"{flag} {text} is a directory; give a file path (e.g. inside it)")
    _check_parent(p, flag)
    if p.exists() and not os.access(p, os.W_OK):
        raise OutputPathError(f"{flag} {text} is not writable; choose another path")
    return p


def check_output_dir(path: str | os.PathLike, flag: str = "--out") -> Path:
    """A folder the command may create or write into: not empty, not a file, not under a
    file, writable (or creatable). Nothing is created."""
    text = os.fspath(path)
    if not str(text).strip():
        raise OutputPathError(f"{flag} is empty; give a directory")
    p = Path(text).expanduser()
    if p.exists() and not p.is_dir():
        raise OutputPathError(f"{flag} {text} is a file, not a directory; choose another path")
    if p.is_dir():
        if not os.access(p, os.W_OK | os.X_OK):
            raise OutputPathError(f"{flag} {text} is not writable; choose another directory")
        return p
    _check_parent(p, flag)
    return p


def _check_parent(p: Path, flag: str) -> None:
    base = _first_existing(p.parent if str(p.parent) else Path("."))
    if not base.is_dir():
        raise OutputPathError(f"{flag} {p}: {base} is a file, not a directory; choose another "
                              "path")
    if not os.access(base, os.W_OK | os.X_OK):
        raise OutputPathError(f"{flag} {p}: {base} is not writable; choose another path")


@contextmanager
def writing(path: str | os.PathLike, what: str = "output") -> Iterator[None]:
    """Turn an OSError raised while writing `path` into an OutputPathError."""
    try:
        yield
    except OutputPathError:
        raise
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError) as exc:
        raise output_error(path, exc, what) from None
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG, errno.EIO):
            raise output_error(path, exc, what) from None
        raise


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None], what: str = "output",
                 tmp: str | os.PathLike | None = None) -> Path:
    """Write `path` via `write(tmp)` and a rename; on any failure remove tmp and leave `path`
    as it was. OS errors become OutputPathError."""
    path = Path(path)
    tmp = Path(tmp) if tmp is not None else path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with writing(path, what):
            path.parent.mkdir(parents=True, exist_ok=True)
            write(tmp)
            os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        raise
    return path
