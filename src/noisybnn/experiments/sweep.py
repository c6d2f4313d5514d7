"""The experiment runner: a grid of model x mode x layers x seed x eps (or k) on an accelerator.

    >>> spec = SweepSpec(models=["tfc-w1a1"], eps=parse_eps("0,0.01,0.05"), seeds=[1, 2])
    >>> df = run_sweep(spec, "results/sweep.csv")                 # serial, backend sim
    >>> df = run_sweep(spec, "results/sweep.csv", workers=2)      # Dask LocalCluster
    >>> df = run_sweep(spec, "results/sweep.csv", scheduler="tcp://10.0.0.5:8786")

A run goes in three steps:

1. **validate** the whole grid (models resolve to builds, every accelerator loads, layers and
   fault counts fit, the data set is there) before the table is touched: a bad sweep fails
   without writing anything;
2. **skip** the points whose key is already in the table (resume);
3. **run** the rest, serially or as Dask tasks of one group each (model, seed, mode, layers, k;
   all its eps values, innermost, so the software accelerator draws each noise stream once), and
   add each finished point (serial) or group (Dask) to the table, which only this process writes.

Results are a deterministic function of the point, so a serial run, a Dask run and a run killed
and resumed give the same table up to the volatile columns (`table.VOLATILE_COLUMNS`).
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from noisybnn.experiments.grid import (
    STUCK_MODES,
    ModelRef,
    Point,
    SweepError,
    SweepSpec,
    check_against,
    expand,
    fault_spec_text,
    layers_to_text,
    parse_eps,
    parse_ints,
    parse_layers,
    parse_modes,
    parse_seeds,
)
from noisybnn.experiments.measure import get_data, limit_blas_threads, tune_malloc
from noisybnn.experiments.runner import run_tasks
from noisybnn.experiments.schemas import SWEEP
from noisybnn.experiments.table import comparable as _comparable
from noisybnn.experiments.table import read_frame, read_rows
from noisybnn.fingerprint import file_sha256, git_commit

__all__ = ["SweepSpec", "SweepError", "comparable", "read_table", "run_sweep", "validate",
           "resolve_model", "run_points",
           "cli_sweep", "parse_eps", "parse_seeds", "parse_modes", "parse_layers"]

#: `loader(backend, build_dir) -> Accelerator`; the default is noisybnn.backends.load.
Loader = Callable[[str, Path], object]

# --- resolving models --------------------------------------------------------------------------


def _looks_like_path(entry: str) -> bool:
    return os.sep in entry or entry.startswith((".", "~")) or Path(entry).exists()


def build_file(backend: str, build_dir: Path, manifest: dict) -> Path:
    """The file a point's results depend on: the executable twin (sim) or the bitfile (pynq)."""
    if backend == "pynq":
        bit = manifest.get("bitfile")
        if not bit:
            raise SweepError(
                f"{build_dir} has no bitstream (manifest bitfile is empty: an estimates-only "
                "build); make one with `noisybnn build --model MODEL` on a machine with Vivado, or use "
                "backend 'sim'"
            )
        path = Path(bit) if Path(bit).is_absolute() else build_dir / bit
        if not path.is_file():
            raise SweepError(f"bitfile {path} named by {build_dir / 'manifest.json'} is missing")
        return path
    from noisybnn.compile.paths import python_model_path

    try:
        return python_model_path(build_dir)
    except FileNotFoundError as exc:
        raise SweepError(str(exc)) from None


def build_identity(backend: str, build_file_: Path) -> str:
    """What a point's key names the build by: the canonical content digest of the twin (sim;
    `keys.build_digest`, the same for every rebuild of one checkpoint and configuration) or the
    SHA-256 of the bitfile (pynq). The rtl backend simulates the same twin, so it is named the
    same way (the key's backend column keeps the two apart)."""
    if backend != "pynq":
        from noisybnn.keys import build_digest

        return build_digest(build_file_)
    return file_sha256(build_file_)


def resolve_model(entry: str, backend: str, board: str = "pynq-z2") -> tuple[Path, dict, Path]:
    """(build_dir, manifest, build file) of a spec entry: a build directory or a model name.

    A model name is compiled with `pipeline.compile_model` for the sim backend (a no-op when the
    build is up to date); for pynq its bitstream must already be under bitstreams/<board>/<name>.
    """
    if _looks_like_path(entry):
        bdir = Path(entry).expanduser().resolve()
        if not bdir.is_dir():
            raise SweepError(
                f"build directory {entry!r} not found; give an existing build directory or a "
                "model name (e.g. tfc-w1a1), which is compiled on demand"
            )
    elif backend == "pynq":
        from noisybnn.pipeline import build_dir_for

        bdir = build_dir_for(entry, board).resolve()
        if not bdir.is_dir():
            raise SweepError(f"no build of {entry!r} for {board} in {bdir}; make its bitstream "
                             f"with `noisybnn build --model {entry} --board {board}` first")
    else:
        from noisybnn.pipeline import compile_model

        try:
            bdir = Path(compile_model(entry, board)).resolve()
        except (ValueError, FileNotFoundError) as exc:
            raise SweepError(f"model {entry!r}: {exc}") from None
    man_path = bdir / "manifest.json"
    if not man_path.is_file():
        raise SweepError(f"{bdir} is not a build directory (no manifest.json); make one with "
                         "`noisybnn estimate --model MODEL` and pass the directory it prints")
    try:
        manifest = json.loads(man_path.read_text())
    except json.JSONDecodeError as exc:
        raise SweepError(f"{man_path} is not valid JSON ({exc})") from None
    for field_ in ("model", "checkpoint_sha256"):
        if not manifest.get(field_):
            raise SweepError(f"{man_path} lacks {field_!r}; rebuild with "
                             "`noisybnn estimate --model MODEL --force`")
    return bdir, manifest, build_file(backend, bdir, manifest)


# --- per-process cache of loaded accelerators (the client, and each Dask worker) ---------------

_ACCELERATORS: dict[tuple, object] = {}


def _loader_or_default(loader: Loader | None) -> Loader:
    if loader is not None:
        return loader
    from noisybnn.backends import load

    return load


def get_accelerator(backend: str, ref: ModelRef, loader: Loader | None = None):
    """The loaded accelerator of a model, once per process; the build file's hash is checked
    against the one the client resolved, so a worker never runs a different build."""
    key = (backend, ref.build_dir, ref.build_sha256, loader)
    acc = _ACCELERATORS.get(key)
    if acc is None:
        bdir = Path(ref.build_dir)
        manifest = json.loads((bdir / "manifest.json").read_text())
        got = build_identity(backend, build_file(backend, bdir, manifest))
        if got != ref.build_sha256:
            raise SweepError(
                f"the build in {bdir} on {socket.gethostname()} has hash {got[:12]}, the sweep "
                f"was planned for {ref.build_sha256[:12]}: workers must see the same build files "
                "(shared file system or identical copies)"
            )
        acc = _loader_or_default(loader)(backend, bdir)
        _ACCELERATORS[key] = acc
    return acc


# --- running points ----------------------------------------------------------------------------


def evaluate_point(acc, images: np.ndarray, labels: np.ndarray, p: Point) -> dict:
    """Run one point on a loaded accelerator; return its table row."""
    from noisybnn.backends.base import predict
    from noisybnn.hw import threshold_from_p

    setting = p.setting()
    acc.configure_noise(setting)
    t0 = time.perf_counter()
    logits = acc.execute(images)
    dt = time.perf_counter() - t0
    n_correct = int((predict(np.asarray(logits)) == labels).sum())
    flips = [int(f) for f in acc.flip_counts()]
    return {
        "key": p.key, "model": p.model.name, "model_sha256": p.model.model_sha256,
        "build_sha256": p.model.build_sha256, "backend": p.backend, "dataset": p.dataset,
        "split": p.split, "n_images": p.n_images, "seed": p.seed, "mode": p.mode,
        "eps": p.eps, "threshold": threshold_from_p(p.eps) if p.mode == "flip" else None,
        "layers": layers_to_text(p.layers),
        "faults_per_layer": p.faults,
        "fault_spec": fault_spec_text(setting.fault_masks) if p.mode in STUCK_MODES else "",
        "accuracy": n_correct / p.n_images, "n_correct": n_correct,
        "flips_per_layer": ";".join(str(f) for f in flips), "flips_total": sum(flips),
        "seconds": round(dt, 6), "images_per_s": round(p.n_images / dt, 1) if dt > 0 else None,
        "worker": f"{socket.gethostname()}:{os.getpid()}", "git_commit": git_commit(),
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def run_points(points: Sequence[Point], loader: Loader | None = None,
               threads: int | None = 1) -> list[dict]:
    """Run points of one model and data set in order (a Dask task); return their rows."""
    tune_malloc()
    rows = []
    with limit_blas_threads(threads):
        for p in points:
            acc = get_accelerator(p.backend, p.model, loader)
            x, y = get_data(p.dataset, p.split, p.n_images)
            rows.append(evaluate_point(acc, x, y, p))
    return rows


def _close_all() -> None:
    for key in list(_ACCELERATORS):
        acc = _ACCELERATORS[key]
        if key[0] == "pynq" and hasattr(acc, "close"):
            acc.close()
            del _ACCELERATORS[key]


# --- validation --------------------------------------------------------------------------------


def validate(spec: SweepSpec, backend: str = "sim", loader: Loader | None = None,
             remote: bool = False) -> tuple[list[ModelRef], list[Point]]:
    """Check the whole grid and plan its points; raise SweepError before anything is written.

    Loads every model's accelerator once (in this process), so a missing build, a board that is
    not there, or a layer index the model lacks is reported here. With `remote` and the pynq
    backend (a cluster whose workers own the boards) nothing is loaded here: the injector widths
    come from the manifest, and a worker that cannot open its board fails its tasks.
    """
    from noisybnn.backends import BACKENDS

    if not isinstance(spec, SweepSpec):
        raise SweepError(f"spec must be a SweepSpec, got {type(spec).__name__}")
    if backend not in BACKENDS:
        raise SweepError(f"unknown backend {backend!r}; choose one of: {', '.join(BACKENDS)}")
    refs = []
    for entry in spec.models:
        bdir, manifest, bfile = resolve_model(entry, backend, spec.board)
        if backend == "sim" and manifest.get("python_model_sha256") not in (None, file_sha256(bfile)):
            raise SweepError(f"{bfile} changed after {bdir / 'manifest.json'} was written "
                             "(its SHA-256 differs from python_model_sha256); rebuild it")
        ref = ModelRef(entry=entry, name=str(manifest["model"]), build_dir=str(bdir),
                       model_sha256=str(manifest["checkpoint_sha256"]),
                       build_sha256=build_identity(backend, bfile), injector_widths=())
        if remote and backend == "pynq":
            inj = sorted(manifest.get("injectors") or [], key=lambda i: i.get("layer", 0))
            if not inj:
                raise SweepError(f"{bdir / 'manifest.json'} lists no injectors; rebuild it")
            widths = tuple(int(i["neurons"]) for i in inj)
        else:
            widths = tuple(_load_checked(backend, ref, loader, entry).injector_widths)
        ref = ModelRef(**{**ref.__dict__, "injector_widths": widths})
        check_against(spec, ref)
        refs.append(ref)
    from noisybnn import data

    try:
        x, _ = data.load(spec.dataset, spec.split)
    except (RuntimeError, ValueError, OSError) as exc:
        raise SweepError(f"data set {spec.dataset} {spec.split}: {exc}") from None
    n = spec.n_images or len(x)
    if n > len(x):
        raise SweepError(f"n_images={n}, but the {spec.dataset} {spec.split} split has {len(x)}")
    return refs, expand(spec, refs, backend, n)


def _load_checked(backend: str, ref: ModelRef, loader: Loader | None, entry: str):
    try:
        return get_accelerator(backend, ref, loader)
    except SweepError:
        raise
    except Exception as exc:  # the backends raise many types: ImportError, OSError, ...
        what = ("cannot open the pynq accelerator: the pynq backend needs a board (PYNQ or "
                "Alveo) with the pynq package and a complete bitstream build; run the sweep "
                "on the board, or use backend 'sim'"
                if backend == "pynq" else f"cannot load the {backend} accelerator")
        raise SweepError(f"{entry}: {what}: {type(exc).__name__}: {exc}") from None


# --- the runner --------------------------------------------------------------------------------


def run_sweep(
    spec: SweepSpec,
    out_csv: str | os.PathLike,
    backend: str = "sim",
    workers: int = 0,
    scheduler: str | None = None,
    progress: bool = True,
    *,
    loader: Loader | None = None,
    blas_threads: int | None = 1,
    connect_timeout_s: float = 30.0,
):
    """Run the points of `spec` not yet in `out_csv`; return the spec's rows as a DataFrame.

    Args:
        spec: the grid.
        out_csv: results table; created if absent, extended (never rewritten in content) if not.
        backend: "sim" (software accelerator) or "pynq" (the board).
        workers: 0 runs in this process; N > 0 starts a Dask LocalCluster of N single-threaded
            worker processes on 127.0.0.1.
        scheduler: address of a running Dask scheduler (e.g. "tcp://10.0.0.5:8786"); its
            workers must see the same build directories and data cache. Overrides `workers`.
        progress: show a tqdm progress bar.
        loader: `loader(backend, build_dir) -> Accelerator`, default noisybnn.backends.load
            (tests pass a fake one; it must be importable by the workers for Dask).
        blas_threads: BLAS threads per process while points run (None: leave as is); see
            `limit_blas_threads`.
        connect_timeout_s: how long to try to reach `scheduler`.

    Raises:
        SweepError: invalid grid, missing build, unavailable backend, table in use or of another
            schema; raised before the table is written.
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise SweepError(f"workers must be an integer >= 0, got {workers!r}")
    if backend == "pynq" and workers > 1 and not scheduler:
        raise SweepError("the pynq backend drives the one board of this machine: use workers=0 "
                         "(or a scheduler whose workers each own a board)")
    from noisybnn.outputs import check_output_file

    out_csv = check_output_file(out_csv, "out_csv")  # a directory, under a file, read-only
    _, points = validate(spec, backend, loader, remote=bool(scheduler))
    out_csv = Path(out_csv)
    read_rows(out_csv, SWEEP)  # a table of another schema fails here
    if scheduler or workers > 0:  # one task per group: its eps values share a noise stream
        groups: dict[tuple, list[Point]] = {}
        for p in points:
            groups.setdefault(p.group, []).append(p)
        tasks = [(tuple(p.key for p in g), run_points, (g, loader, blas_threads))
                 for g in groups.values()]
    else:
        tasks = [(p.key, run_points, ([p], loader, blas_threads)) for p in points]
    try:
        run_tasks(tasks, out_csv, SWEEP, workers, scheduler, progress,
                  desc=f"sweep -> {out_csv.name}", connect_timeout_s=connect_timeout_s, unit="pt")
    finally:
        _close_all()
    df = read_table(out_csv)
    keys = {p.key for p in points}
    return df[df["key"].isin(keys)].reset_index(drop=True)


def read_table(path: str | os.PathLike):
    """A sweep table as a DataFrame (`table.read_frame` with `schemas.SWEEP`)."""
    return read_frame(path, SWEEP)


def comparable(df):
    """A sweep table without its volatile columns, sorted by key: equal for equal results."""
    return _comparable(df, SWEEP.volatile)


# --- the command line --------------------------------------------------------------------------


def spec_from_args(args) -> SweepSpec:
    """A SweepSpec from `noisybnn sweep` arguments (noisybnn.cli_options.add_sweep_args)."""
    return SweepSpec(
        models=[m.strip() for m in str(args.models).split(",") if m.strip()],
        eps=parse_eps(args.eps),
        modes=parse_modes(args.modes),
        layers=parse_layers(args.layers),
        seeds=parse_seeds(args.seeds),
        faults_per_layer=parse_ints(args.faults, "--faults") if args.faults else (1,),
        dataset=args.dataset,
        split=getattr(args, "split", "test"),
        n_images=args.n_images or None,
        board=args.board,
    )


def cli_sweep(args) -> int:
    """`noisybnn sweep`: run, then print a one-line summary per (model, mode, layers, eps)."""
    from noisybnn.outputs import check_output_file
    from noisybnn.validation import MAX_POINTS_ENV

    check_output_file(args.out, "--out")
    saved = os.environ.get(MAX_POINTS_ENV)
    if getattr(args, "max_points", None):
        os.environ[MAX_POINTS_ENV] = str(args.max_points)  # the grid checks read it
    try:
        spec = spec_from_args(args)
        t0 = time.perf_counter()
        df = run_sweep(spec, args.out, backend=args.backend, workers=args.workers,
                       scheduler=args.scheduler, progress=not args.quiet)
    finally:
        if saved is None:
            os.environ.pop(MAX_POINTS_ENV, None)
        else:
            os.environ[MAX_POINTS_ENV] = saved
    if not args.quiet:
        cols = ["model", "mode", "layers", "faults_per_layer", "eps"]
        summary = (df.groupby(cols, dropna=False)["accuracy"].agg(["mean", "std", "count"])
                   .reset_index())
        print(summary.to_string(index=False))
    print(f"{len(df)} points in {args.out} ({time.perf_counter() - t0:.1f} s)")
    return 0
