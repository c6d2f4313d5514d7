"""The one place our FINN layers are registered (qonnx's registry API, not FINN's dicts).

Adding a layer is one line in `OPS`: (ONNX domain, "module:Class"). Registration happens in
`register_ops()`, which `prepare_finn()` calls when a build or a FINN execution starts, so that
reading a target or a build path imports no FINN module.
"""

from __future__ import annotations

import importlib

FPGADATAFLOW = "finn.custom_op.fpgadataflow"

OPS: list[tuple[str, str]] = [
    (FPGADATAFLOW, "noisybnn.compile.ops:NoiseInjector"),
    (FPGADATAFLOW + ".rtl", "noisybnn.compile.ops:NoiseInjector_rtl"),
    (FPGADATAFLOW + ".rtl", "noisybnn.compile.mvau_rtl:MVAU_xnor_rtl"),
    (FPGADATAFLOW, "noisybnn.compile.sliding_window:BatchedConvolutionInputGenerator"),
]

_DONE = False


def register_ops() -> None:
    """Register every op of `OPS` with qonnx (idempotent)."""
    global _DONE
    if _DONE:
        return
    from qonnx.custom_op.registry import add_op_to_domain

    for domain, ref in OPS:
        module, name = ref.split(":")
        add_op_to_domain(domain, getattr(importlib.import_module(module), name))
    _DONE = True
