"""The injector reference (`noisybnn.hw`): from the installed package where there is one (the
development machine), else from the copy `noisybnn_host/_hw` that `noisybnn.backends.pynq.bundle`
puts into the bundle. The bundle never re-implements the register map or the seed derivation.
"""

from __future__ import annotations

try:  # the development machine: one source of truth, no copy
    from noisybnn.hw import injector, registers

    SOURCE = "noisybnn.hw"
except ImportError:  # the board: the vendored copy made at bundle time
    try:
        from noisybnn_host._hw import injector, registers
    except ImportError as exc:  # pragma: no cover - a bundle made by hand
        raise ImportError(
            "noisybnn_host needs the injector reference: install noisybnn, or deploy the bundle "
            "made by noisybnn.backends.pynq.bundle(), which copies it to noisybnn_host/_hw"
        ) from exc

    SOURCE = "noisybnn_host._hw"

__all__ = ["SOURCE", "injector", "registers"]
