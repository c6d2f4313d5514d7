"""``python -m noisybnn.theory ...``: the same as ``noisybnn theory ...`` (noisybnn.theory.commands)."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: ``python -m noisybnn.theory {tightness,tradeoff,predict} ...``."""
    from noisybnn.cli import main as cli_main

    return cli_main(["theory", *(argv if argv is not None else sys.argv[1:])])


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
