"""Reading the report's inputs: sweep results tables and an exploration table.

The sweep table is the one `noisybnn.experiments.sweep` writes (`schemas.SWEEP`), but only the
columns the report uses are required (:data:`REQUIRED_COLUMNS`), so tables of a slightly older or
newer schema still load. The exploration table's columns are those `schemas.EXPLORE` defines
(:data:`EXPLORE_FIELDS` names the ones the report reads); no other spelling is guessed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from noisybnn.errors import ConfigError, InputFileError, MissingInputError
from noisybnn.fingerprint import file_sha256

#: Columns a results table must have.
REQUIRED_COLUMNS = ("model", "mode", "eps", "seed", "accuracy", "n_images")
#: Optional columns and the value a missing one takes.
OPTIONAL_DEFAULTS = {
    "key": "", "layers": "all", "dataset": "mnist", "split": "test", "backend": "sim",
    "build_sha256": "", "model_sha256": "", "faults_per_layer": np.nan, "fault_spec": "",
    "threshold": np.nan, "flips_per_layer": "", "n_correct": np.nan,
}
_TEXT_COLUMNS = ("key", "model", "model_sha256", "build_sha256", "backend", "dataset", "split",
                 "mode", "layers", "fault_spec", "flips_per_layer", "worker", "git_commit",
                 "timestamp")
_MODES = ("off", "flip", "stuck0", "stuck1")

#: What the report calls each exploration column it reads -> its name in `schemas.EXPLORE`.
EXPLORE_FIELDS = {"name": "name", "lut": "lut", "bram": "bram_18k", "fps": "fps", "fits": "fits",
                  "accuracy": "accuracy_under_noise", "eps": "eps", "width": "width",
                  "depth": "depth", "weight_bits": "weight_bits", "act_bits": "act_bits",
                  "neurons": "neurons"}
#: Exploration columns without which the design-space section cannot be drawn.
EXPLORE_REQUIRED = ("accuracy", "lut", "fps")


@dataclass(frozen=True)
class InputFile:
    """Provenance of one input file."""

    path: str
    rows: int
    sha256: str


def _read_csv(path: Path, text_columns: Sequence[str]) -> pd.DataFrame:
    if not path.exists():
        raise MissingInputError(f"results table {path} not found; give the CSV a sweep wrote "
                                "(`noisybnn sweep --out FILE`)")
    if not path.is_file():
        raise InputFileError(f"{path} is not a file; give a results CSV")
    from noisybnn.tablecheck import check_complete

    check_complete(path, "a results CSV")  # binary, cut short, or a row with missing fields
    try:
        header = pd.read_csv(path, nrows=0).columns
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputFileError(f"{path} is not a readable CSV table ({exc})") from None
    dtypes = {c: str for c in text_columns if c in header}
    return pd.read_csv(path, dtype=dtypes, keep_default_na=False,
                       na_values={c: [""] for c in header if c not in dtypes})


def normalize_results(df: pd.DataFrame, origin: str = "the results") -> pd.DataFrame:
    """Check the required columns and values; fill optional columns; normalise text fields."""
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise InputFileError(
            f"{origin} lacks the column(s) {missing} (found {list(df.columns)[:12]}); a sweep "
            f"results table has at least {list(REQUIRED_COLUMNS)}"
        )
    out = df.copy()
    for col, default in OPTIONAL_DEFAULTS.items():
        if col not in out.columns:
            out[col] = default
    for col in ("model", "mode", "layers", "dataset", "split", "backend", "build_sha256",
                "fault_spec", "flips_per_layer", "key"):
        out[col] = out[col].fillna("").astype(str).str.strip()
    out["mode"] = out["mode"].str.lower()
    out["layers"] = out["layers"].replace("", "all").str.lower()
    bad_modes = sorted(set(out["mode"]) - set(_MODES))
    if bad_modes:
        raise InputFileError(f"{origin}: unknown mode(s) {bad_modes}; expected {list(_MODES)}")
    if (out["model"] == "").any():
        raise InputFileError(f"{origin}: {int((out['model'] == '').sum())} row(s) have no model name")
    for col in ("eps", "accuracy", "seed", "n_images", "faults_per_layer", "threshold",
                "n_correct"):
        try:
            out[col] = pd.to_numeric(out[col])
        except (TypeError, ValueError):
            raise InputFileError(f"{origin}: column {col!r} must be numeric") from None
    acc = out["accuracy"]
    if acc.isna().any() or (acc < 0).any() or (acc > 1).any():
        raise InputFileError(f"{origin}: accuracy must be a fraction in [0, 1] in every row")
    flip = out["mode"] == "flip"
    eps = out.loc[flip, "eps"]
    if eps.isna().any() or (eps < 0).any() or (eps > 1).any():
        raise InputFileError(f"{origin}: flip rows need eps in [0, 1]")
    if out["n_images"].isna().any() or (out["n_images"] < 1).any():
        raise InputFileError(f"{origin}: n_images must be >= 1 in every row")
    out["n_images"] = out["n_images"].astype(int)
    stuck = out["mode"].isin(("stuck0", "stuck1"))
    if out.loc[stuck, "faults_per_layer"].isna().any():
        raise InputFileError(f"{origin}: stuck rows need faults_per_layer (crashed neurons per layer)")
    return out


def load_results(results) -> tuple[pd.DataFrame, list[InputFile]]:
    """One table from CSV path(s) or a DataFrame, with the provenance of each file.

    Raises:
        FileNotFoundError: a CSV does not exist.
        ValueError: a CSV lacks required columns or has bad values, or there are no rows.
    """
    if isinstance(results, pd.DataFrame):
        df = normalize_results(results, "the results DataFrame")
        files = [InputFile("<DataFrame>", len(df), "")]
    else:
        if isinstance(results, (str, os.PathLike)):
            results = [results]
        paths = [Path(p) for p in results]
        if not paths:
            raise ConfigError("no results given: pass one or more sweep CSV files")
        frames, files = [], []
        for path in paths:
            raw = _read_csv(path, _TEXT_COLUMNS)
            frames.append(normalize_results(raw, str(path)))
            files.append(InputFile(str(path), len(raw), file_sha256(path)))
        df = pd.concat(frames, ignore_index=True)
    if df.empty:
        raise InputFileError("the results have no rows; run a sweep first")
    keyed = df["key"] != ""
    dup = keyed & df.duplicated("key", keep="first")
    if dup.any():
        df = df[~dup].reset_index(drop=True)
    df.attrs["duplicates_dropped"] = int(dup.sum())
    return df, files


@dataclass
class ExploreTable:
    """The exploration table with canonical column names, or why it cannot be drawn."""

    df: pd.DataFrame | None
    columns_found: dict[str, str]
    notes: list[str]
    file: InputFile | None


def load_explore(path: str | os.PathLike) -> ExploreTable:
    """The exploration CSV with the report's column names (see :data:`EXPLORE_FIELDS`).

    Missing optional columns leave a note; missing required ones leave ``df=None`` and a note.
    A file that does not exist raises MissingInputError.
    """
    path = Path(path)
    if not path.exists():
        raise MissingInputError(f"exploration table {path} not found (`noisybnn explore --out`)")
    raw = pd.read_csv(path)
    info = InputFile(str(path), len(raw), file_sha256(path))
    found = {canon: col for canon, col in EXPLORE_FIELDS.items() if col in raw.columns}
    notes = []
    missing = [c for c in EXPLORE_REQUIRED if c not in found]
    if missing:
        notes.append(f"{path.name} lacks the column(s) "
                     f"{[EXPLORE_FIELDS[c] for c in missing]} of an exploration table "
                     f"(experiments.schemas.EXPLORE); found {list(raw.columns)}. The design-space "
                     "section is skipped.")
        return ExploreTable(None, found, notes, info)
    df = pd.DataFrame({canon: raw[col] for canon, col in found.items()})
    if "name" not in df:
        df["name"] = [f"design {i}" for i in range(len(df))]
    df["name"] = df["name"].astype(str)
    for col in ("lut", "fps", "accuracy", "bram", "eps", "width", "depth", "weight_bits",
                "act_bits", "neurons"):
        if col in df:
            df[col] = pd.to_numeric(df[col], errors="coerce")
    if "fits" in df:
        df["fits"] = df["fits"].map(lambda v: str(v).strip() == "True")
    if "neurons" not in df and "width" in df and "depth" in df:
        df["neurons"] = df["width"] * df["depth"]
    bad = df[["accuracy", "lut", "fps"]].isna().any(axis=1)
    if bad.any():
        notes.append(f"{int(bad.sum())} row(s) without accuracy, LUT or FPS were left out")
        df = df[~bad].reset_index(drop=True)
    for opt in ("fits", "eps", "width", "depth"):
        if opt not in found:
            notes.append(f"no {EXPLORE_FIELDS[opt]!r} column")
    return ExploreTable(df, found, notes, info)
