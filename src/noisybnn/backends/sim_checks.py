"""Checks of a loaded build, before any kernel runs it.

The compiled XNOR kernel trusts its inputs (numba does not check bounds): a twin whose first
weight matrix was cut to 100 rows ran and returned 14 % accuracy with exit 0, where the numpy
kernels raised. So every build is checked when the software accelerator loads it, whatever the
kernel: the width chain from the input through every layer to the classes, weight values and
dtypes, threshold tables (shape, finite, sorted), injector geometry, and, where the build has a
manifest, its injectors, class count and content digest.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from noisybnn.errors import InputFileError


class BuildCheckError(InputFileError):
    """A build's twin is inconsistent (shapes, values) or disagrees with its manifest."""


def _fail(path: Path, what: str) -> BuildCheckError:
    return BuildCheckError(f"{path}: {what}; the build is damaged or was edited: rebuild it with "
                           "`noisybnn estimate --model MODEL --force`")


def _check_thresholds(path: Path, t: np.ndarray, channels: int, where: str) -> None:
    if t.ndim != 2 or t.shape[0] not in (1, channels) or t.shape[1] < 1:
        raise _fail(path, f"{where}: threshold table has shape {t.shape}, expected "
                          f"({channels}, T) or (1, T)")
    if not np.all(np.isfinite(t)):
        raise _fail(path, f"{where}: threshold table holds NaN or infinite values")
    if t.shape[1] > 1 and np.any(np.diff(t, axis=1) < 0):
        raise _fail(path, f"{where}: thresholds are not sorted per channel")


def check_stages(stages, input_pixels: int, path: str | Path) -> int:
    """Check the shape chain and values of the parsed stages; return the output width.

    Shapes are per image: (values,) for fully connected stages, (H, W, C) for feature maps;
    thresholds and injectors act on the last axis (channels), an MVAU on the flattened image."""
    from noisybnn.backends import sim_conv

    path = Path(path)
    shape: tuple[int, ...] = (int(input_pixels),)
    if shape[0] < 1:
        raise _fail(path, f"graph input has {shape[0]} values per image")
    n_mvau = 0
    for i, st in enumerate(stages):
        p = st.params
        where = f"stage {i} ({st.kind})"
        width = shape[-1]
        if st.kind in ("reshape", "transpose", "pad", "maxpool"):
            shape = sim_conv.stage_out_shape(st.kind, p, shape, where,
                                             lambda what: _fail(path, what))
        elif st.kind in ("mvau", "conv"):
            w = p["w"]
            where = f"MVAU {n_mvau}"
            width = int(np.prod(shape)) if st.kind == "mvau" else int(p["mw"])
            out_shape = (int(w.shape[1]),) if w.ndim == 2 else ()
            if st.kind == "conv":
                out_shape = sim_conv.stage_out_shape("conv", p, shape, where,
                                                     lambda what: _fail(path, what))
            if w.ndim != 2 or w.shape[0] != width:
                raise _fail(path, f"{where}: weight matrix has shape {w.shape}, but its input "
                                  f"has {width} values (expected ({width}, MH))")
            if w.shape[1] < 1 or p["mw"] != w.shape[0]:
                raise _fail(path, f"{where}: weight matrix has shape {w.shape}")
            if not np.all(np.isfinite(w)) or not np.array_equal(w, np.rint(w)):
                raise _fail(path, f"{where}: weights are not integers")
            if p["xnor"] and not np.isin(w, (0, 1)).all():
                raise _fail(path, f"{where}: an XNOR layer's weights must be 0/1")
            if "wpacked" in p and p["wpacked"].shape != (w.shape[1], (w.shape[0] + 63) // 64):
                raise _fail(path, f"{where}: packed weights have shape {p['wpacked'].shape}")
            if not p["xnor"] and w.shape[0] * float(np.abs(w).max(initial=0)) * 255 >= 2**24:
                raise _fail(path, f"{where}: sums of {w.shape[0]} products of weights up to "
                                  f"{np.abs(w).max()} may exceed 2^24 (float32 GEMM not exact)")
            if "t" in p:
                _check_thresholds(path, p["t"], w.shape[1], where)
            shape = out_shape
            n_mvau += 1
        elif st.kind == "inject":
            n, pe, bits = p["neurons"], p["pe"], p["bits"]
            if n != width:
                raise _fail(path, f"injector of layer {p['layer']} has NumChannels={n}, but the "
                                  f"layer before it has {width} neurons")
            if p["pixels"] != int(np.prod(shape[:-1])):
                raise _fail(path, f"injector of layer {p['layer']} streams {p['pixels']} vectors "
                                  f"per image, its layer's map has {int(np.prod(shape[:-1]))} pixels")
            if pe < 1 or n % pe:
                raise _fail(path, f"injector of layer {p['layer']}: PE={pe} does not divide its "
                                  f"{n} neurons")
            if not 1 <= bits <= 16:
                raise _fail(path, f"injector of layer {p['layer']}: {bits}-bit data type")
            if p["mask"] is not None and len(p["mask"]) != n:
                raise _fail(path, f"injector of layer {p['layer']}: fault mask has "
                                  f"{len(p['mask'])} entries for {n} neurons")
        elif st.kind in ("mul", "add"):
            c = p["c"]
            if c.size not in (1, width) or not np.all(np.isfinite(c)):
                raise _fail(path, f"{where}: constant of shape {c.shape} for {width} values")
    if n_mvau == 0:
        raise _fail(path, "no MVAU layer")
    return int(np.prod(shape))


def check_against_manifest(path: str | Path, injector_widths, num_classes: int) -> None:
    """The twin agrees with the manifest next to it (if there is one)."""
    path = Path(path)
    man_path = path.parent / "manifest.json"
    if not man_path.is_file():
        return
    try:
        manifest = json.loads(man_path.read_text())
    except (OSError, ValueError) as exc:
        raise _fail(man_path, f"unreadable manifest ({exc})") from None
    if not isinstance(manifest, dict):
        raise _fail(man_path, "the manifest is not a JSON object")
    classes = manifest.get("num_classes")
    if classes is not None and int(classes) != int(num_classes):
        raise _fail(path, f"the network has {num_classes} outputs, the manifest says {classes}")
    inj = manifest.get("injectors")
    if inj:
        want = [int(i["neurons"]) for i in sorted(inj, key=lambda i: i.get("layer", 0))]
        if want != [int(w) for w in injector_widths]:
            raise _fail(path, f"injector widths {list(injector_widths)} differ from the "
                              f"manifest's {want}")
    digest = manifest.get("build_digest")
    if digest:
        from noisybnn.keys import build_digest

        got = build_digest(path)
        if got != digest:
            raise _fail(path, f"its content digest {got[:12]} differs from the manifest's "
                              f"build_digest {digest[:12]}")
