#!/usr/bin/env python
"""Pairwise statistics of the injector stream at a given size (the figures of docs/injector.md).

    PYTHONPATH=src:tests/hw python bench/injector_stats.py [n_beats = 4194304]

64 lanes, master seed 2024, p in {1e-3, 0.01, 0.1}: flip rate, within-lane lags 1..256, cross-lane
offsets 1..8 (both directions) x lags 0..8; prints the worst |z| of each (tests/hw/_stats.py).
"""

from __future__ import annotations

import sys
import time


def main(argv: list[str]) -> int:
    from _stats import cross_z, flips_packed, lag_z, rate_z

    from noisybnn.hw.injector import seed_word, threshold_from_p

    n = int(argv[0]) if argv else 1 << 22
    ps = [1e-3, 0.01, 0.1]
    ts = [threshold_from_p(p) for p in ps]
    t0 = time.time()
    packs = flips_packed(seed_word(2024), ts, n)
    print(f"64 lanes x {n} beats, seed 2024")
    for p, t, pk in zip(ps, ts, packs, strict=True):
        pe = t / 65536
        _, z = rate_z(pk, pe)
        lz = lag_z(pk, pe, range(1, 257))
        cz = cross_z(pk, pe, range(1, 9), range(0, 9))
        wl = max(lz.items(), key=lambda kv: abs(kv[1]))
        wc = max(cz.items(), key=lambda kv: abs(kv[1]))
        print(f"p={p}: rate z={z:+.2f}; worst lag {wl[0]} z={wl[1]:+.2f}; lag4 z={lz[4]:+.2f}; "
              f"worst cross (offset, lag) {wc[0]} z={wc[1]:+.2f}; "
              f"|z|>4: lags {sum(abs(v) > 4 for v in lz.values())}, "
              f"cross {sum(abs(v) > 4 for v in cz.values())}")
    print(f"{time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
