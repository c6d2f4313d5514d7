"""Target boards and shipped folding files: plain JSON, read without importing FINN."""

from __future__ import annotations

import json
from pathlib import Path

from noisybnn.errors import ConfigError, MissingInputError
from noisybnn.resources import configs_dir

CONFIG_DIR = configs_dir()
FOLDING_DIR = CONFIG_DIR / "folding"


def targets() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.json"))


def load_target(board: str) -> dict:
    """The target description of `board` (bitstreams/configs/<board>.json)."""
    path = CONFIG_DIR / f"{board}.json"
    if not path.is_file():
        raise ConfigError(f"unknown board {board!r}; known targets: {', '.join(targets())}")
    return json.loads(path.read_text())


def is_alveo(target: dict) -> bool:
    return target["shell_flow_type"] == "vitis_alveo"


def resolve_folding(folding: str | None) -> str | None:
    """A folding JSON path, or the name of one shipped in bitstreams/configs/folding/."""
    if folding is None:
        return None
    path = Path(folding)
    if path.is_file():
        return str(path)
    shipped = FOLDING_DIR / f"{folding}.json"
    if shipped.is_file():
        return str(shipped)
    known = ", ".join(sorted(p.stem for p in FOLDING_DIR.glob("*.json")))
    raise MissingInputError(f"--folding {folding!r}: no such file; give a FINN folding JSON"
                            + (f" or a shipped one ({known})" if known else ""))
