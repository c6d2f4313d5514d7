"""One writer per build directory: two processes that compile the same model take turns.

Two sweeps that name the same not-yet-built model would otherwise both run FINN into the same
folder; the second then rewrites files the first has already hashed. `build_lock` is an advisory
`fcntl.flock` on `.<build dir name>.lock`, next to the folder (so it exists before the folder
does).
The second process waits; once it holds the lock it checks again whether the build is up to date
and, finding the first one's result, reuses it. The kernel drops the lock when its holder dies,
so a killed build never blocks the next one.
"""

from __future__ import annotations

import fcntl
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from noisybnn.errors import ConfigError, OutputPathError

#: Seconds to wait for another process's build of the same directory (a FINN estimates build
#: takes ~30 s, a bitstream hours); $NOISYBNN_BUILD_LOCK_TIMEOUT overrides it.
DEFAULT_TIMEOUT_S = 6 * 3600.0


def lock_path(build_dir: str | Path) -> Path:
    """`.<name>.lock` beside the build folder: hidden, so globs over build folders skip it."""
    bdir = Path(build_dir).resolve()
    return bdir.with_name(f".{bdir.name}.lock")


def _timeout() -> float:
    from noisybnn.validation import env_float

    return env_float("NOISYBNN_BUILD_LOCK_TIMEOUT", DEFAULT_TIMEOUT_S, lo=0.0)


@contextmanager
def build_lock(build_dir: str | Path, timeout_s: float | None = None,
               poll_s: float = 0.2) -> Iterator[Path]:
    """Hold the lock of `build_dir` (waiting up to `timeout_s` for another holder)."""
    path = lock_path(build_dir)
    timeout_s = _timeout() if timeout_s is None else float(timeout_s)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    except OSError as exc:
        raise OutputPathError(f"cannot create the build lock {path}: {exc.strerror or exc}; "
                              "choose a writable build directory (--out)") from None
    try:
        deadline = time.monotonic() + timeout_s
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise ConfigError(
                        f"{build_dir} is being built by another process (lock {path} held for "
                        f"over {timeout_s:.0f} s); wait for it or set "
                        "NOISYBNN_BUILD_LOCK_TIMEOUT") from None
                if not told:
                    print(f"noisybnn: waiting for another process building {build_dir}",
                          file=sys.stderr, flush=True)
                    told = True
                time.sleep(poll_s)
        yield path
    finally:
        os.close(fd)  # releases the flock
