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

import ctypes
import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from functools import lru_cache
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
from noisybnn.experiments.table import ResultsTable, read_table

__all__ = ["SweepSpec", "SweepError", "run_sweep", "validate", "resolve_model", "run_points",
           "cli_sweep", "parse_eps", "parse_seeds", "parse_modes", "parse_layers"]

#: `loader(backend, build_dir) -> Accelerator`; the default is noisybnn.backends.load.
Loader = Callable[[str, Path], object]

REPO_ROOT = Path(__file__).resolve().parents[3]


# --- resolving models --------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


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
    from noisybnn.compile_paths import python_model_path

    try:
        return python_model_path(build_dir)
    except FileNotFoundError as exc:
        raise SweepError(str(exc)) from None


def build_identity(backend: str, build_file_: Path) -> str:
    """What a point's key names the build by: the canonical content digest of the twin (sim;
    `keys.build_digest`, the same for every rebuild of one checkpoint and configuration) or the
    SHA-256 of the bitfile (pynq)."""
    if backend == "sim":
        from noisybnn.keys import build_digest

        return build_digest(build_file_)
    return _sha256(build_file_)


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


# --- per-process caches (the client, and each Dask worker) -------------------------------------

_ACCELERATORS: dict[tuple, object] = {}
_DATA: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}


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


def get_data(dataset: str, split: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The first n images and labels of a split, loaded once per process."""
    key = (dataset, split, n)
    if key not in _DATA:
        from noisybnn import data

        x, y = data.load(dataset, split)
        if n > len(x):
            raise SweepError(f"{n} images asked, the {dataset} {split} split has {len(x)}")
        _DATA[key] = (np.ascontiguousarray(x[:n]), np.asarray(y[:n]).astype(np.int64))
    return _DATA[key]


@lru_cache(maxsize=1)
def git_commit() -> str:
    """HEAD of the checkout this code runs from, "+dirty" if tracked files changed; "unknown".

    $NOISYBNN_GIT_COMMIT overrides it (for installs without a .git, e.g. a copied worker tree).
    """
    if os.environ.get("NOISYBNN_GIT_COMMIT"):
        return os.environ["NOISYBNN_GIT_COMMIT"]
    if not (REPO_ROOT / ".git").exists():
        return "unknown"
    try:
        head = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"],
                              capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return "unknown"
        dirty = subprocess.run(["git", "--no-optional-locks", "-C", str(REPO_ROOT), "status",
                                "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=30)
        return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


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


_MALLOC_TUNED = False


def tune_malloc() -> bool:
    """Give numpy back glibc's large-array allocation in processes where it was switched off.

    Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536. Setting that variable freezes
    glibc's mmap threshold at 128 KiB, so every temporary array of the software accelerator is a
    fresh mmap, page-faulted and zeroed: a TFC point (10k images) took 420-550 ms instead of
    110-145 ms. When the variable is set (and on glibc only) this sets the mmap threshold to
    32 MiB, glibc's own dynamic ceiling, and the trim threshold to twice that. Once per process.
    """
    global _MALLOC_TUNED
    if _MALLOC_TUNED or "MALLOC_TRIM_THRESHOLD_" not in os.environ:
        return False
    _MALLOC_TUNED = True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (e.g. musl)
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(libc.mallopt(m_mmap_threshold, 32 << 20) and
                libc.mallopt(m_trim_threshold, 64 << 20))


@contextmanager
def limit_blas_threads(n: int | None):
    """Limit BLAS threads to n while running points (threadpoolctl; no-op without it or for None).

    The software accelerator's GEMMs are small (batch x 784 x 64): one BLAS thread is faster than
    several, by about 3x for TFC on a busy 2-core machine, and a sweep gets its parallelism from
    Dask workers instead (whose nannies set OMP_NUM_THREADS=1 anyway).
    """
    if n is None:
        yield
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=int(n), user_api="blas"):
        yield


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
        if backend == "sim" and manifest.get("python_model_sha256") not in (None, _sha256(bfile)):
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


def _groups(points: Sequence[Point]) -> list[list[Point]]:
    out: dict[tuple, list[Point]] = {}
    for p in points:
        out.setdefault(p.group, []).append(p)
    return list(out.values())


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
    done = ResultsTable.read_rows(out_csv)  # a table of another schema fails here
    distributed = bool(scheduler) or workers > 0
    client = cluster = None
    if distributed and any(p.key not in done for p in points):
        # before the table is opened: an unreachable scheduler leaves nothing behind
        client, cluster = _connect(workers, scheduler, connect_timeout_s)
    from tqdm.auto import tqdm

    try:
        with ResultsTable(out_csv) as table:
            todo = [p for p in points if p.key not in table.keys]
            bar = tqdm(total=len(points), initial=len(points) - len(todo), disable=not progress,
                       unit="pt", desc=f"sweep -> {out_csv.name}", dynamic_ncols=True)
            try:
                if todo and client is not None:
                    _run_dask(client, todo, table, bar, loader, blas_threads)
                else:
                    for p in todo:
                        table.add(run_points([p], loader, blas_threads))
                        bar.update(1)
            finally:
                bar.close()
                _close_all()
    finally:
        _close_quietly(client, cluster)
    df = read_table(out_csv)
    keys = {p.key for p in points}
    return df[df["key"].isin(keys)].reset_index(drop=True)


def _close_quietly(client, cluster) -> None:
    """Close the client, then the cluster, with Dask's shutdown chatter muted.

    After every result is in, workers going away can still log "Couldn't gather keys" or a
    CommClosedError traceback from the scheduler or the nanny: noise after a run that succeeded.
    Errors of the run itself were raised before this point."""
    import logging

    if client is None and cluster is None:
        return
    names = ("distributed", "distributed.client", "distributed.scheduler", "distributed.worker",
             "distributed.nanny", "distributed.core", "distributed.comm", "tornado",
             "asyncio")
    saved = {n: logging.getLogger(n).level for n in names}
    for n in names:
        logging.getLogger(n).setLevel(logging.CRITICAL)
    try:
        if client is not None:
            client.close(timeout=30)
        if cluster is not None:
            cluster.close(timeout=30)
    finally:
        for n, level in saved.items():
            logging.getLogger(n).setLevel(level)


def _connect(workers: int, scheduler: str | None, timeout_s: float = 30.0):
    """(client, cluster or None): a client of `scheduler`, or of a new loopback LocalCluster."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise SweepError("running on a Dask cluster needs dask[distributed]: "
                         "pip install 'noisybnn[dist]'") from None
    if scheduler:
        try:
            return Client(scheduler, timeout=f"{timeout_s}s"), None
        except (OSError, TimeoutError) as exc:
            raise SweepError(f"cannot reach the Dask scheduler {scheduler}: {exc}") from None
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           host="127.0.0.1", dashboard_address=None,
                           silence_logs=40)  # logging.ERROR
    return Client(cluster), cluster


def _run_dask(client, todo, table, bar, loader: Loader | None, threads: int | None) -> None:
    """One task per group; the rows are added to the table in the order they finish."""
    from dask.distributed import as_completed

    futures = [client.submit(run_points, g, loader, threads, pure=False) for g in _groups(todo)]
    try:
        for fut in as_completed(futures):
            rows = fut.result()
            table.add(rows)
            bar.update(len(rows))
    except BaseException:
        client.cancel(futures)
        raise


# --- the command line --------------------------------------------------------------------------


def spec_from_args(args) -> SweepSpec:
    """A SweepSpec from `noisybnn sweep` arguments (noisybnn.cli_args.add_sweep_args)."""
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
