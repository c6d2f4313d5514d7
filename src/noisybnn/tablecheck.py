"""Checks of a CSV table read back: whole (not cut short), text, and values in range.

The sweep writes its table atomically, so a table that is cut inside its last row or field, or is
not text at all, was damaged outside noisybnn. Readers refuse such a file with one line naming
it and the line, instead of keeping a partial row (and rewriting it as if it were whole) or
crashing later on a value that is not a number.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from noisybnn.errors import InputFileError

_MODES = ("off", "flip", "stuck0", "stuck1")


def read_text(path: str | Path, kind: str = "a CSV table") -> str:
    """The file as text; InputFileError naming it if it is binary or cut inside its last row."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except IsADirectoryError:
        raise InputFileError(f"{path} is a directory, not {kind}") from None
    if b"\x00" in raw:
        raise InputFileError(f"{path} is a binary file, not {kind}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputFileError(f"{path} is not UTF-8 text (byte {exc.start}), so not {kind}") from None
    if text and not text.endswith("\n"):
        n = text.count("\n") + 1
        raise InputFileError(f"{path} line {n} is cut short (the file does not end with a line "
                             "break): the table was truncated; restore it or delete that line")
    return text


def check_complete(path: str | Path, kind: str = "a CSV table") -> None:
    """Every row of the CSV has as many fields as its header; the file ends with a line break."""
    text = read_text(path, kind)
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        return
    for n, row in enumerate(reader, start=2):
        if row and len(row) != len(header):
            raise InputFileError(f"{path} line {n} has {len(row)} fields, its header "
                                 f"{len(header)}; the table was cut or edited")


def check_result_row(path: Path, line: int, row: dict[str, str]) -> None:
    """What the column types cannot say about a sweep results row: ranges and agreement between
    columns. Runs after `Schema.check_value` has checked each value's type and pattern, so the
    present values parse; an empty value means "none" and is not checked."""

    def bad(col: str, why: str) -> InputFileError:
        return InputFileError(f"{path} line {line}: {col} {row.get(col)!r} {why}; the table was "
                              "edited or damaged: restore it or write to a new file")

    def num(col: str, kind=float):
        v = row.get(col, "")
        return None if v in ("", None) else kind(v)

    if row.get("backend") and row["backend"] not in ("sim", "pynq", "rtl"):
        raise bad("backend", "is not sim, pynq or rtl")
    if row.get("mode") and row["mode"] not in _MODES:
        raise bad("mode", f"is not one of {', '.join(_MODES)}")
    n_images, n_correct, acc = num("n_images", int), num("n_correct", int), num("accuracy")
    if n_images is not None and n_images < 1:
        raise bad("n_images", "is not >= 1")
    if n_correct is not None and n_images is not None and not 0 <= n_correct <= n_images:
        raise bad("n_correct", f"is not in 0..{n_images}")
    if acc is not None and not (0.0 <= acc <= 1.0):
        raise bad("accuracy", "is not in [0, 1]")
    if acc is not None and n_correct is not None and n_images is not None \
            and abs(acc - n_correct / n_images) > 1e-9:
        raise bad("accuracy", f"is not n_correct / n_images = {n_correct / n_images!r}")
    eps = num("eps")
    if row.get("mode") == "flip" and eps is not None and not 0.0 <= eps <= 1.0:
        raise bad("eps", "is not a probability in [0, 1]")
    flips, per_layer = num("flips_total", int), row.get("flips_per_layer") or ""
    if flips is not None and (flips < 0 or (per_layer and
                                            sum(int(f) for f in per_layer.split(";")) != flips)):
        raise bad("flips_total", "is not the sum of flips_per_layer")
