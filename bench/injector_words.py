#!/usr/bin/env python
"""Write the injector's raw 16-bit samples to stdout (or a file), for dieharder and other batteries.

    python bench/injector_words.py [--seed 1] [--lanes 64] [--mbytes 0 = endless] | \
        dieharder -g 200 -d 0     # Debian's dieharder, raw words from stdin

Words are little-endian uint16, beat-major: lanes 0..L-1 of beat 0, then of beat 1, ... for the
run seeded with `seed_word(seed)` (what the hardware's SEED registers hold).
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--lanes", type=int, default=64)
    ap.add_argument("--mbytes", type=int, default=0, help="stop after this many MiB (0: never)")
    ap.add_argument("--out", default="-", help="file to write (default stdout)")
    args = ap.parse_args(argv)
    if args.lanes < 1 or args.mbytes < 0:
        raise ValueError("--lanes must be >= 1 and --mbytes >= 0")
    from noisybnn.backends import kernels
    from noisybnn.hw.injector import seed_word

    word = seed_word(args.seed)
    chunk = max(1, (1 << 22) // args.lanes)  # 8 MiB per chunk
    limit = args.mbytes << 20
    out = sys.stdout.buffer if args.out == "-" else open(args.out, "wb")  # noqa: SIM115
    written, start = 0, 0
    try:
        while not limit or written < limit:
            u = kernels.lane_stream(word, args.lanes, chunk, start)
            data = u.astype("<u2").tobytes()
            if limit:
                data = data[: limit - written]
            out.write(data)
            written += len(data)
            start += chunk
    except BrokenPipeError:  # dieharder closes the pipe when it has enough
        pass
    finally:
        if out is not sys.stdout.buffer:
            out.close()
    print(f"injector_words: {written / 2**20:.0f} MiB written", file=sys.stderr)
    return 0


if __name__ == "__main__":
    from noisybnn.cli import run_reporting_errors

    raise SystemExit(run_reporting_errors("injector_words", main))
