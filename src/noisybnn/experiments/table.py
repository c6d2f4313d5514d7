"""The keyed results table: one CSV, one writer, never a partial row, every value checked.

One class, `ResultsTable`, serves every table of the experiments; a `Schema` says what a table
of one kind holds (the sweep's, the exploration's and the depth-width experiment's live in
`experiments.schemas`). Every change rewrites the whole table to a temporary file in the same
folder, fsyncs it and renames it over the old one (`os.replace` is atomic on POSIX), so a reader
or a killed run sees either the previous table or the new one, whole. Rows are kept sorted by key,
and the rows read back are written again byte for byte, so the file depends only on which rows
are done, not on the order they finished in. An advisory lock (`<table>.lock`, `fcntl.flock`)
keeps a second writer out; the kernel drops it when the process dies.

Reading checks the header against the schema and every value against its column's type (number,
integer, True/False, text pattern), so a table edited by hand, cut short or written by another
version is refused with its file and line, never guessed at.
"""

from __future__ import annotations

import csv
import fcntl
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

#: UTC timestamps as the writers format them (time.strftime("%Y-%m-%dT%H:%M:%SZ")).
TIMESTAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
HEX = r"[0-9a-f]+"


@dataclass(frozen=True)
class Schema:
    """The columns of one kind of table and how to read each value.

    Columns not in `text`, `ints` or `bools` hold numbers (a float, or empty for "none").
    """

    #: What the table is, for messages: "a results table of this noisybnn version".
    kind: str
    columns: tuple[str, ...]
    #: Columns that differ between two runs of the same rows (timing, who and when).
    volatile: tuple[str, ...] = ()
    text: tuple[str, ...] = ()
    ints: tuple[str, ...] = ()
    bools: tuple[str, ...] = ()
    #: text column -> regular expression its non-empty values match in full.
    patterns: dict[str, str] = field(default_factory=dict)
    #: The exception raised for a bad table (the experiment's user error).
    error: type[Exception] = ValueError
    #: Who writes it, for the message when the lock is held: "sweep", "exploration".
    writer: str = "run"
    #: Checks of a whole row's meaning (ranges, sums), `f(path, line, row_dict)` raising
    #: InputFileError; None: the column types are all that is checked.
    row_check: Callable[[Path, int, dict[str, str]], None] | None = None

    def __post_init__(self) -> None:
        if not self.columns or self.columns[0] != "key":
            raise ValueError("the first column of a keyed table must be 'key'")
        unknown = (set(self.text) | set(self.ints) | set(self.bools) | set(self.volatile)
                   | set(self.patterns)) - set(self.columns)
        if unknown:
            raise ValueError(f"schema {self.kind!r} names unknown columns {sorted(unknown)}")

    def check_value(self, column: str, value: str) -> str | None:
        """Why `value` cannot be in `column`, or None if it can."""
        if value == "":
            return None if column != "key" else "the key is empty"
        if column in self.bools:
            return None if value in ("True", "False") else "is not True or False"
        if column in self.ints:
            return None if re.fullmatch(r"-?\d+", value) else "is not an integer"
        if column in self.text:
            pat = self.patterns.get(column)
            return None if pat is None or re.fullmatch(pat, value) else "is malformed"
        try:
            float(value)
        except ValueError:
            return "is not a number"
        return None


def format_value(value) -> str:
    """A cell as written: empty for None, floats by repr (they read back bit-equal)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def read_rows(path: str | os.PathLike, schema: Schema) -> dict[str, list[str]]:
    """key -> row (strings, in schema order) of an existing table; {} if there is none.

    Raises `schema.error` naming the file and line for another header, a row with the wrong
    number of fields, a value its column cannot hold, a repeated key, or a last row cut short.
    """
    path = Path(path)
    if not path.exists():
        return {}
    from noisybnn.tablecheck import read_text

    err = schema.error
    try:  # binary, not UTF-8, or cut inside its last row: refused, never rewritten
        text = read_text(path, schema.kind)
    except ValueError as exc:
        raise err(str(exc)) from None
    except OSError as exc:
        raise err(f"cannot read {path}: {exc}") from None
    if not text:
        return {}
    reader = csv.reader(text.splitlines(keepends=True))
    header = next(reader, None)
    if header is None:
        return {}
    if tuple(header) != schema.columns:
        raise err(f"{path} is not {schema.kind}: its columns are {header[:6]}..., expected "
                  f"{list(schema.columns[:6])}...; write to a new file")
    rows: dict[str, list[str]] = {}
    for n, row in enumerate(reader, start=2):
        if len(row) != len(schema.columns):
            raise err(f"{path} line {n} has {len(row)} fields, expected {len(schema.columns)}; "
                      "was the table edited by hand?")
        for col, value in zip(schema.columns, row, strict=True):
            why = schema.check_value(col, value)
            if why:
                raise err(f"{path} line {n}: {col} {value!r} {why}; was the table edited by hand?")
        if schema.row_check is not None:
            try:
                schema.row_check(path, n, dict(zip(schema.columns, row, strict=True)))
            except ValueError as exc:
                raise err(str(exc)) from None
        if row[0] in rows:
            raise err(f"{path} has key {row[0]} twice (line {n})")
        rows[row[0]] = row
    return rows


class ResultsTable:
    """A keyed CSV table opened for writing (a context manager that holds the lock).

    Args:
        path: the CSV; created on the first `add`, with its folder.
        schema: what it holds; default the sweep's.
    """

    def __init__(self, path: str | os.PathLike, schema: Schema | None = None):
        if schema is None:
            from noisybnn.experiments.schemas import SWEEP

            schema = SWEEP
        self.path = Path(path)
        self.schema = schema
        self._rows: dict[str, list[str]] = {}
        self._lock_fd: int | None = None

    @staticmethod
    def read_rows(path: str | os.PathLike, schema: Schema | None = None) -> dict[str, list[str]]:
        """`read_rows` with the sweep's schema by default."""
        if schema is None:
            from noisybnn.experiments.schemas import SWEEP

            schema = SWEEP
        return read_rows(path, schema)

    def __enter__(self) -> ResultsTable:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise self.schema.error(
                f"{self.path} is being written by another {self.schema.writer} (lock {lock} is "
                "held); wait for it to finish or write to another file") from None
        self._lock_fd = fd
        try:
            for stale in self.path.parent.glob(f".{self.path.name}.*.tmp"):
                stale.unlink(missing_ok=True)  # left by a killed writer; we hold the lock
            self._rows = read_rows(self.path, self.schema)
        except BaseException:
            self.__exit__()
            raise
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
        """Add finished rows and rewrite the table atomically. A key already there is an error
        (the runner skips done rows, so a repeat means two runs computed the same row); so is a
        value its column cannot hold (a bug in the writer: nothing is written)."""
        if self._lock_fd is None:
            raise RuntimeError("use `with ResultsTable(path, schema) as table:` to write")
        cols = self.schema.columns
        new = {}
        for row in rows:
            missing = set(cols) - set(row)
            if missing:
                raise ValueError(f"row lacks columns {sorted(missing)}")
            key = row["key"]
            if key in self._rows or key in new:
                raise self.schema.error(f"row {key} is already in {self.path}")
            cells = [format_value(row[c]) for c in cols]
            for col, value in zip(cols, cells, strict=True):
                why = self.schema.check_value(col, value)
                if why:
                    raise ValueError(f"row {key}: {col} {value!r} {why}")
            new[key] = cells
        if not new:
            return
        self._rows.update(new)
        self._write()

    def _write(self) -> None:
        from noisybnn.outputs import atomic_write

        def write(tmp: Path) -> None:
            with open(tmp, "w", newline="") as f:
                w = csv.writer(f, lineterminator="\n")
                w.writerow(self.schema.columns)
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


def read_frame(path: str | os.PathLike, schema: Schema):
    """A table as a pandas DataFrame, checked, floats exactly as written, True/False as bools
    (an empty frame with the columns if the file does not exist)."""
    import pandas as pd

    path = Path(path)
    if not path.exists():
        return pd.DataFrame(columns=list(schema.columns))
    read_rows(path, schema)  # schema and value checks with a clear message
    df = pd.read_csv(path, float_precision="round_trip",  # floats come back bit-equal
                     dtype=dict.fromkeys(schema.text, str), keep_default_na=False,
                     na_values={c: [""] for c in schema.columns if c not in schema.text})
    for c in schema.bools:
        df[c] = df[c].map(lambda v: str(v) == "True")
    return df


def comparable(df, volatile: Sequence[str]):
    """A table without its volatile columns, rows sorted by key: equal for equal results."""
    return (df.drop(columns=[c for c in volatile if c in df.columns])
            .sort_values("key").reset_index(drop=True))

