"""Range-checked numbers from the command line and the environment, and grid-size limits.

Every numeric argument of the CLI goes through one of these (as an argparse `type=`, so a bad
value stops the command before it loads anything), and the library entry points call the same
checks, so Python callers get the same message. Errors are `ConfigError`s naming the argument
or variable, its range and what was given.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable

from noisybnn.errors import ConfigError

#: Points (or seeds, eps values) a grid may have before it is refused up front; a user with the
#: memory and time for more raises it with --max-points or $NOISYBNN_MAX_POINTS.
DEFAULT_MAX_POINTS = 100_000
MAX_POINTS_ENV = "NOISYBNN_MAX_POINTS"


# --- plain checks (library and CLI) ------------------------------------------------------------


def check_int(value, name: str, lo: int | None = None, hi: int | None = None) -> int:
    """`value` as an int in [lo, hi]; bools, floats with a fraction and text are refused."""
    if isinstance(value, bool):
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    if isinstance(value, str):
        text = value.strip()
        try:
            value = int(text)
        except ValueError:
            raise ConfigError(f"{name} must be an integer, got {text!r}") from None
    try:
        iv = int(value)
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"{name} must be an integer, got {value!r}") from None
    if iv != value:
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    _check_range(iv, name, lo, hi)
    return iv


def check_float(value, name: str, lo: float | None = None, hi: float | None = None, *,
                lo_open: bool = False, hi_open: bool = False) -> float:
    """`value` as a finite float in [lo, hi] (open ends with lo_open / hi_open)."""
    if isinstance(value, bool):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    try:
        fv = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(fv):
        raise ConfigError(f"{name} must be a finite number, got {value!r}")
    bad = ((lo is not None and (fv < lo or (lo_open and fv == lo)))
           or (hi is not None and (fv > hi or (hi_open and fv == hi))))
    if bad:
        left = "(" if lo_open else "["
        right = ")" if hi_open else "]"
        rng = f"{left}{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}{right}"
        raise ConfigError(f"{name} must be in {rng}, got {value!r}")
    return fv


def _check_range(iv: int, name: str, lo: int | None, hi: int | None) -> None:
    if (lo is not None and iv < lo) or (hi is not None and iv > hi):
        if hi is None:
            rng = f">= {lo}"
        elif lo is None:
            rng = f"<= {hi}"
        else:
            rng = f"in {lo}..{hi}"
        raise ConfigError(f"{name} must be {rng}, got {iv}")


# --- environment variables ---------------------------------------------------------------------


def env_int(var: str, default: int, lo: int | None = None, hi: int | None = None) -> int:
    """$var as an int in [lo, hi]; `default` when unset or empty."""
    text = os.environ.get(var, "")
    if not text.strip():
        return default
    return check_int(text, f"environment variable {var}", lo, hi)


def env_float(var: str, default: float, lo: float | None = None, hi: float | None = None) -> float:
    text = os.environ.get(var, "")
    if not text.strip():
        return default
    return check_float(text, f"environment variable {var}", lo, hi)


def threads_from_env(default: int) -> int:
    """$NOISYBNN_THREADS (torch threads for training and evaluation): 1..1024."""
    return env_int("NOISYBNN_THREADS", default, 1, 1024)


# --- grid sizes --------------------------------------------------------------------------------


def max_points(override: int | None = None) -> int:
    """The largest grid a sweep or eval may plan: `override`, else $NOISYBNN_MAX_POINTS."""
    if override is not None:
        return check_int(override, "--max-points", 1)
    return env_int(MAX_POINTS_ENV, DEFAULT_MAX_POINTS, 1)


def check_grid_size(n: int, what: str, limit: int | None = None) -> int:
    """Refuse a grid of `n` items over the limit, before anything is allocated."""
    cap = max_points(limit)
    if n > cap:
        raise ConfigError(f"{what} has {n:,} entries, more than the limit of {cap:,}; ask for "
                          f"fewer, or raise the limit with --max-points N or {MAX_POINTS_ENV}=N")
    return n


# --- argparse types ----------------------------------------------------------------------------


def _argtype(fn: Callable, label: str) -> Callable[[str], object]:
    """An argparse type: argparse names the argument; the message says the range."""

    def convert(text: str):
        try:
            return fn(text)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = label  # argparse's fallback message uses the name
    return convert


def int_arg(lo: int | None = None, hi: int | None = None) -> Callable[[str], int]:
    return _argtype(lambda t: check_int(t, "the value", lo, hi), "integer")


def float_arg(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False,
              hi_open: bool = False) -> Callable[[str], float]:
    return _argtype(lambda t: check_float(t, "the value", lo, hi, lo_open=lo_open,
                                          hi_open=hi_open), "number")


def probability_arg(hi_open: bool = False) -> Callable[[str], float]:
    return float_arg(0.0, 1.0, hi_open=hi_open)


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line, `noisybnn: error: ...`, exit 2 (as
    every other user error of the CLI), pointing at --help instead of printing the usage."""

    def error(self, message: str):
        self.exit(2, f"noisybnn: error: {self.prog}: {' '.join(message.split())} "
                     f"(see {self.prog} --help)\n")


# --- build arguments ---------------------------------------------------------------------------

#: FINN's SetFolding goal: at least one frame per second; 10^10 is far beyond any fabric.
MAX_TARGET_FPS = 10**10


def check_target_fps(value) -> int:
    return check_int(value, "--target-fps", 1, MAX_TARGET_FPS)


def check_noise_layers(layers, n_hidden: int, model: str,
                       flag: str = "--noise-layers") -> list[int] | None:
    """Injector positions for a model with `n_hidden` noisy layers: None (all), [] or indices."""
    if layers is None:
        return None
    out = []
    for i in layers:
        i = check_int(i, flag, 0)
        if i >= n_hidden:
            raise ConfigError(f"{flag} {i}: {model} has {n_hidden} hidden layers, "
                              f"indices 0..{n_hidden - 1}")
        out.append(i)
    return sorted(set(out))


def check_folding_file(path) -> None:
    """A FINN folding JSON: an object of {node name: {attribute: value}} with positive PE/SIMD."""
    import json
    from pathlib import Path

    from noisybnn.errors import InputFileError

    p = Path(path)
    try:
        cfg = json.loads(p.read_text())
    except UnicodeDecodeError:
        raise InputFileError(f"--folding {p}: not a text file; give a FINN folding JSON") from None
    except json.JSONDecodeError as exc:
        raise InputFileError(f"--folding {p}: not valid JSON ({exc.msg}, line {exc.lineno}); give "
                             "a FINN folding JSON like {\"MVAU_hls_0\": {\"PE\": 16, \"SIMD\": 49}}"
                             ) from None
    except IsADirectoryError:
        raise InputFileError(f"--folding {p} is a directory; give a FINN folding JSON") from None
    if not isinstance(cfg, dict) or not all(isinstance(v, dict) for v in cfg.values()):
        raise InputFileError(f"--folding {p}: must map node names to attribute objects, e.g. "
                             "{\"MVAU_hls_0\": {\"PE\": 16, \"SIMD\": 49}}")
    for node, attrs in cfg.items():
        for key in ("PE", "SIMD"):
            if key in attrs:
                v = attrs[key]
                if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                    raise InputFileError(f"--folding {p}: {node}.{key} must be an integer >= 1, "
                                         f"got {v!r}")


def check_folding_applied(folding_file, folded_onnx) -> None:
    """After FINN applied a folding file: every node it names exists, and each PE / SIMD divides
    the dimension it folds. FINN only logs "Unused HW configurations" and builds unfolded."""
    import json
    from pathlib import Path

    import onnx
    from onnx import helper

    cfg = json.loads(Path(folding_file).read_text())
    model = onnx.load(str(folded_onnx))
    nodes = {n.name: {a.name: helper.get_attribute_value(a) for a in n.attribute}
             for n in model.graph.node}
    unknown = [k for k in cfg if k != "Defaults" and k not in nodes]
    if unknown:
        raise ConfigError(f"--folding {folding_file} names node(s) {', '.join(unknown)} that the "
                          f"build does not have; its nodes are {', '.join(nodes)}")
    dims = {"PE": ("MH", "NumChannels"), "SIMD": ("MW",)}
    for name, attrs in cfg.items():
        if name == "Defaults":
            continue
        for key, targets in dims.items():
            value = attrs.get(key)
            for dim in targets:
                total = nodes[name].get(dim)
                if value and isinstance(total, int) and total % value:
                    raise ConfigError(f"--folding {folding_file}: {name}.{key}={value} does not "
                                      f"divide its {dim}={total}")
