"""The results table: one CSV, one writer, never a partial row.

Every change rewrites the whole table to a temporary file in the same folder, fsyncs it and
renames it over the old one (`os.replace` is atomic on POSIX), so a reader or a killed run sees
either the previous table or the new one, whole. Rows are kept sorted by key, and the rows read
back are written again byte for byte, so the file depends only on which points are done, not on
the order they finished in. An advisory lock (`<table>.lock`, `fcntl.flock`) keeps a second
sweep from writing the same table at the same time; the kernel drops it when the process dies.
"""

from __future__ import annotations

import csv
import fcntl
import io
import os
from collections.abc import Iterable
from pathlib import Path

from noisybnn.experiments.grid import SweepError

#: Columns of the table, in order.
COLUMNS = (
    "key",              # hash of the point's parameters (grid.point_key)
    "model",            # model name (manifest "model")
    "model_sha256",     # SHA-256 of the checkpoint (manifest checkpoint_sha256)
    "build_sha256",     # content digest of the twin (sim, keys.build_digest) or bitfile SHA-256
    "backend",          # sim | pynq
    "dataset",
    "split",
    "n_images",         # the first n images of the split
    "seed",             # master seed
    "mode",             # off | flip | stuck0 | stuck1
    "eps",              # flip probability asked (flip mode; empty otherwise)
    "threshold",        # injector threshold register, p realised = threshold / 65536 (flip)
    "layers",           # active injectors: all | none | 0;2
    "faults_per_layer", # k crashed neurons per active layer (stuck modes; empty otherwise)
    "fault_spec",       # the crashed neurons, "layer:i j k|layer:..." (stuck modes)
    "accuracy",         # n_correct / n_images, in [0, 1]
    "n_correct",
    "flips_per_layer",  # bits changed by each injector, "f0;f1;f2" (the hardware counters)
    "flips_total",
    "seconds",          # time of execute() for the point
    "images_per_s",
    "worker",           # host:pid that ran the point
    "git_commit",       # commit of the noisybnn checkout (+dirty), or "unknown"
    "timestamp",        # UTC, when the point finished
)
#: Columns that differ between two runs of the same points (timing and who/when ran them).
VOLATILE_COLUMNS = ("seconds", "images_per_s", "worker", "git_commit", "timestamp")


def format_value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def read_keyed_csv(path: str | os.PathLike, columns, error: type[Exception],
                   kind: str) -> dict[str, list[str]]:
    """key (first column) -> row of an existing keyed CSV table; {} if there is none.

    A file with other columns (another kind or version of table), a row with the wrong number
    of fields or a repeated key raises `error` naming the file and line: a table is never
    guessed at, and never overwritten by a writer that does not understand it.
    """
    path = Path(path)
    columns = tuple(columns)
    if not path.exists():
        return {}
    from noisybnn.tablecheck import read_text

    try:
        text = read_text(path, kind)  # binary, or cut inside its last row: refused, not rewritten
    except ValueError as exc:
        raise error(str(exc)) from None
    with io.StringIO(text, newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            return {}
        if tuple(header) != columns:
            raise error(f"{path} is not {kind}: its columns are {header[:6]}..., expected "
                        f"{list(columns[:6])}...; write to a new file")
        rows: dict[str, list[str]] = {}
        for n, row in enumerate(reader, start=2):
            if len(row) != len(columns):
                raise error(f"{path} line {n} has {len(row)} fields, expected {len(columns)}; "
                            "was the table edited by hand?")
            if row[0] in rows:
                raise error(f"{path} has key {row[0]} twice (line {n})")
            rows[row[0]] = row
        return rows


class ResultsTable:
    """The CSV of a sweep, opened for writing (a context manager that holds the lock).

    Args:
        path: the CSV; created on the first `add`, with its folder.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._rows: dict[str, list[str]] = {}
        self._lock_fd: int | None = None

    # --- reading (no lock needed) ------------------------------------------------------------
    @staticmethod
    def read_rows(path: str | os.PathLike) -> dict[str, list[str]]:
        """key -> row (strings, in COLUMNS order) of an existing table; {} if there is none.
        Every value is checked (tablecheck.check_result_row), so no damaged row is kept."""
        from noisybnn.tablecheck import check_result_row

        rows = read_keyed_csv(path, COLUMNS, SweepError, "a results table of this noisybnn version")
        for line, row in enumerate(rows.values(), start=2):
            try:
                check_result_row(Path(path), line, dict(zip(COLUMNS, row, strict=True)))
            except ValueError as exc:
                raise SweepError(str(exc)) from None
        return rows

    # --- writing -----------------------------------------------------------------------------
    def __enter__(self) -> ResultsTable:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise SweepError(
                f"{self.path} is being written by another sweep (lock {lock} is held); wait for "
                "it to finish or write to another file"
            ) from None
        self._lock_fd = fd
        for stale in self.path.parent.glob(f".{self.path.name}.*.tmp"):
            stale.unlink(missing_ok=True)  # left by a killed writer; we hold the lock
        self._rows = self.read_rows(self.path)
        return self

    def __exit__(self, *exc) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    @property
    def keys(self) -> set[str]:
        return set(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, rows: Iterable[dict]) -> None:
        """Add finished points and rewrite the table atomically. A key already there is an error
        (the runner skips done points, so a repeat means two runs computed the same point)."""
        if self._lock_fd is None:
            raise RuntimeError("use `with ResultsTable(path) as table:` to write")
        new = {}
        for row in rows:
            missing = set(COLUMNS) - set(row)
            if missing:
                raise ValueError(f"row lacks columns {sorted(missing)}")
            key = row["key"]
            if key in self._rows or key in new:
                raise SweepError(f"point {key} is already in {self.path}")
            new[key] = [format_value(row[c]) for c in COLUMNS]
        if not new:
            return
        self._rows.update(new)
        self._write()

    def _write(self) -> None:
        from noisybnn.outputs import atomic_write

        def write(tmp: Path) -> None:
            with open(tmp, "w", newline="") as f:
                w = csv.writer(f, lineterminator="\n")
                w.writerow(COLUMNS)
                for key in sorted(self._rows):
                    w.writerow(self._rows[key])
                f.flush()
                os.fsync(f.fileno())

        # a failed write (disk full) leaves the old table whole and no temporary file behind
        atomic_write(self.path, write, "the results table")
        dfd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)  # make the rename itself durable
        finally:
            os.close(dfd)


def read_table(path: str | os.PathLike):
    """The table as a pandas DataFrame (empty, with the columns, if the file does not exist)."""
    import pandas as pd

    path = Path(path)
    if not path.exists():
        return pd.DataFrame(columns=list(COLUMNS))
    ResultsTable.read_rows(path)  # schema check with a clear message
    text_columns = ("key", "model", "model_sha256", "build_sha256", "layers", "fault_spec",
                    "flips_per_layer", "worker", "git_commit", "timestamp")
    # round_trip: floats come back bit-equal to what was written (the default parser may not)
    return pd.read_csv(path, float_precision="round_trip", dtype=dict.fromkeys(text_columns, str),
                       keep_default_na=False, na_values={c: [""] for c in COLUMNS
                                                         if c not in text_columns})


def comparable(df):
    """The table without its volatile columns, rows sorted by key: equal for equal results."""
    return (df.drop(columns=[c for c in VOLATILE_COLUMNS if c in df.columns])
            .sort_values("key").reset_index(drop=True))
