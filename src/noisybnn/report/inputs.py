"""Reading the report's inputs: sweep results tables and an exploration table.

The sweep table is the one `noisybnn.experiments.table` writes, but only the columns the report uses
are required (:data:`REQUIRED_COLUMNS`), so tables of a slightly older or newer schema still load.
The exploration table comes from a module that is still changing: its columns are matched against
a few spellings each (:data:`EXPLORE_ALIASES`).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from noisybnn.errors import ConfigError, InputFileError

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

#: Exploration columns: canonical name -> accepted spellings (compared case-insensitively).
EXPLORE_ALIASES = {
    "name": ("name", "model", "design", "config", "design_name"),
    "lut": ("lut", "luts", "lut_total", "total_lut", "est_lut"),
    "bram": ("bram", "bram_18k", "bram18", "brams", "bram18k"),
    "fps": ("fps", "throughput_fps", "est_fps", "estimated_fps", "throughput"),
    "fits": ("fits", "fits_board", "fit", "fits_on_board"),
    "accuracy": ("accuracy_under_noise", "acc_under_noise", "noisy_accuracy", "accuracy_noise",
                 "accuracy_at_eps", "accuracy"),
    "eps": ("eps", "p", "noise_eps", "eps_eval"),
    "width": ("width", "hidden_width", "neurons_per_layer", "widths", "hidden"),
    "depth": ("depth", "hidden_layers", "n_layers", "n_hidden"),
    "weight_bits": ("weight_bits", "wbits", "w_bits"),
    "act_bits": ("act_bits", "abits", "a_bits"),
}
#: Exploration columns without which the design-space section cannot be drawn.
EXPLORE_REQUIRED = ("accuracy", "lut", "fps")


@dataclass(frozen=True)
class InputFile:
    """Provenance of one input file."""

    path: str
    rows: int
    sha256: str


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _read_csv(path: Path, text_columns: Sequence[str]) -> pd.DataFrame:
    if not path.exists():
        raise FileNotFoundError(f"results table {path} not found; give the CSV a sweep wrote "
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
            files.append(InputFile(str(path), len(raw), sha256_file(path)))
        df = pd.concat(frames, ignore_index=True)
    if df.empty:
        raise ConfigError("the results have no rows; run a sweep first")
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


def _parse_width(value) -> tuple[float, int] | None:
    """(total neurons, depth) of a width cell: an int, or a list like "64,64,64" / "256x3"."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value).strip().strip("[]()")
    if "x" in text.lower() and "," not in text:
        a, _, b = text.lower().partition("x")
        try:
            return float(a) * int(b), int(b)
        except ValueError:
            return None
    parts = [p for p in text.replace(";", ",").replace("-", ",").replace(" ", ",").split(",") if p]
    try:
        nums = [float(p) for p in parts]
    except ValueError:
        return None
    if not nums:
        return None
    return (float(sum(nums)), len(nums)) if len(nums) > 1 else (nums[0], 0)


def load_explore(path: str | os.PathLike) -> ExploreTable:
    """The exploration CSV with canonical columns (see :data:`EXPLORE_ALIASES`).

    Missing optional columns leave a note; missing required ones leave ``df=None`` and a note.
    A file that does not exist raises FileNotFoundError.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"exploration table {path} not found (`noisybnn explore --out`)")
    raw = pd.read_csv(path)
    info = InputFile(str(path), len(raw), sha256_file(path))
    lower = {c.lower().strip(): c for c in raw.columns}
    found: dict[str, str] = {}
    for canon, aliases in EXPLORE_ALIASES.items():
        for alias in aliases:
            if alias in lower:
                found[canon] = lower[alias]
                break
    notes = []
    missing = [c for c in EXPLORE_REQUIRED if c not in found]
    if missing:
        notes.append(f"{path.name} lacks the column(s) {missing} (accepted spellings: "
                     + "; ".join(f"{c}: {', '.join(EXPLORE_ALIASES[c])}" for c in missing)
                     + f"); found {list(raw.columns)}. The design-space section is skipped.")
        return ExploreTable(None, found, notes, info)
    df = pd.DataFrame({canon: raw[col] for canon, col in found.items()})
    if "name" not in df:
        df["name"] = [f"design {i}" for i in range(len(df))]
    df["name"] = df["name"].astype(str)
    for col in ("lut", "fps", "accuracy", "bram", "eps", "depth", "weight_bits", "act_bits"):
        if col in df:
            df[col] = pd.to_numeric(df[col], errors="coerce")
    if df["accuracy"].max() > 1.0 + 1e-9:
        df["accuracy"] = df["accuracy"] / 100.0
        notes.append("accuracy values above 1 were read as percentages")
    if "fits" in df:
        df["fits"] = df["fits"].map(lambda v: str(v).strip().lower() in ("1", "true", "yes", "y"))
    if "width" in df:
        parsed = [_parse_width(v) for v in df["width"]]
        total = [p[0] if p else np.nan for p in parsed]
        depth_from_width = [p[1] if p and p[1] else np.nan for p in parsed]
        if "depth" not in df:
            df["depth"] = depth_from_width
        df["depth"] = df["depth"].fillna(pd.Series(depth_from_width, index=df.index))
        df["neurons"] = [t if (p and p[1]) else t * d if np.isfinite(t) else np.nan
                         for t, p, d in zip(total, parsed, df["depth"], strict=True)]
    bad = df[["accuracy", "lut", "fps"]].isna().any(axis=1)
    if bad.any():
        notes.append(f"{int(bad.sum())} row(s) without accuracy, LUT or FPS were left out")
        df = df[~bad].reset_index(drop=True)
    for opt in ("fits", "eps", "width", "depth"):
        if opt not in found and not (opt == "depth" and "depth" in df):
            notes.append(f"no {opt!r} column ({', '.join(EXPLORE_ALIASES[opt])})")
    return ExploreTable(df, found, notes, info)
