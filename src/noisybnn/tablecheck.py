"""Checks of a CSV table read back: whole (not cut short), text, and values in range.

The sweep writes its table atomically, so a table that is cut inside its last row or field, or is
not text at all, was damaged outside noisybnn. Readers refuse such a file with one line naming
it and the line, instead of keeping a partial row (and rewriting it as if it were whole) or
crashing later on a value that is not a number.
"""

from __future__ import annotations

import csv
import io
import math
import re
from pathlib import Path

from noisybnn.errors import InputFileError

_HEX16 = re.compile(r"^[0-9a-f]{16}$")
_DIGEST = re.compile(r"^[0-9a-z]{64}$")
_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
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


def _int(v: str, ok_empty: bool = False) -> int | None:
    if v == "" and ok_empty:
        return None
    return int(v)


def _float(v: str, ok_empty: bool = False) -> float | None:
    if v == "" and ok_empty:
        return None
    f = float(v)
    if not math.isfinite(f):
        raise ValueError(v)
    return f


def check_result_row(path: Path, line: int, row: dict[str, str]) -> None:
    """The values of one sweep results row: types, ranges and their agreement."""

    def bad(col: str, why: str) -> InputFileError:
        return InputFileError(f"{path} line {line}: {col} {row.get(col)!r} {why}; the table was "
                              "edited or damaged: restore it or write to a new file")

    if not _HEX16.match(row["key"]):
        raise bad("key", "is not 16 hex digits")
    if not row["model"]:
        raise bad("model", "is empty")
    for col in ("model_sha256", "build_sha256"):
        if not _DIGEST.match(row[col]):
            raise bad(col, "is not a 64-character digest")
    if row["backend"] not in ("sim", "pynq", "rtl"):
        raise bad("backend", "is not sim, pynq or rtl")
    if row["mode"] not in _MODES:
        raise bad("mode", f"is not one of {', '.join(_MODES)}")
    try:
        n_images = _int(row["n_images"])
        n_correct = _int(row["n_correct"])
        acc = _float(row["accuracy"])
        _int(row["seed"])
        eps = _float(row["eps"], ok_empty=True)
        _int(row["threshold"], ok_empty=True)
        _int(row["faults_per_layer"], ok_empty=True)
        flips = _int(row["flips_total"])
        per_layer = [int(f) for f in row["flips_per_layer"].split(";")] if row[
            "flips_per_layer"] else []
        _float(row["seconds"], ok_empty=True)
        _float(row["images_per_s"], ok_empty=True)
    except ValueError:
        for col in ("n_images", "n_correct", "accuracy", "seed", "eps", "threshold",
                    "faults_per_layer", "flips_total", "flips_per_layer", "seconds",
                    "images_per_s"):
            try:
                _float(row[col].replace(";", ""), ok_empty=True)
            except ValueError:
                raise bad(col, "is not a number") from None
        raise bad("a numeric column", "is not an integer") from None
    if n_images < 1:
        raise bad("n_images", "is not >= 1")
    if not 0 <= n_correct <= n_images:
        raise bad("n_correct", f"is not in 0..{n_images}")
    if not 0.0 <= acc <= 1.0 or abs(acc - n_correct / n_images) > 1e-9:
        raise bad("accuracy", f"is not n_correct / n_images = {n_correct / n_images!r}")
    if row["mode"] == "flip" and (eps is None or not 0.0 <= eps <= 1.0):
        raise bad("eps", "is not a probability in [0, 1]")
    if flips < 0 or (per_layer and sum(per_layer) != flips):
        raise bad("flips_total", "is not the sum of flips_per_layer")
    if not _TIME.match(row["timestamp"]):
        raise bad("timestamp", "is not a UTC time like 2026-01-31T12:00:00Z")
