"""The one task runner of the experiments: serial, or one Dask task each; the client writes.

The sweep, the exploration and the depth-width experiment all hand it `(keys, fn, args)` tasks
and a table; it skips the tasks whose keys are all in the table (resume), runs the rest here or
on a Dask cluster (a LocalCluster of N processes, or a running scheduler), and adds each result
to the table as it arrives. Only this process writes the table.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Sequence

from noisybnn.experiments.errors import ExploreError, SweepError
from noisybnn.experiments.table import ResultsTable, Schema, read_rows
from noisybnn.fingerprint import code_sha256

__all__ = ["Task", "check_code", "connect", "run_tasks"]

#: (key or keys of the rows it makes, function, its arguments); fn returns a row or a list.
Task = tuple[str | tuple[str, ...], Callable, tuple]


def _keys(task: Task) -> tuple[str, ...]:
    return (task[0],) if isinstance(task[0], str) else tuple(task[0])


def run_tasks(tasks: Sequence[Task], csv_path: str | os.PathLike, schema: Schema,
              workers: int = 0, scheduler: str | None = None, progress: bool = True,
              desc: str = "run", describe: Callable[[list[dict]], str] | None = None,
              connect_timeout_s: float = 30.0, unit: str = "row") -> None:
    """Run the tasks with a key not yet in the table at `csv_path`; add each result (a row or a
    list of rows; rows already there are left alone) to the table as it arrives. Serial, or one
    Dask task each on a LocalCluster of `workers` processes or on `scheduler` (reached before
    the table is opened: an unreachable one leaves nothing behind). The progress bar counts rows.
    """
    from tqdm.auto import tqdm

    done_keys = set(read_rows(csv_path, schema))
    if all(set(_keys(t)) <= done_keys for t in tasks):
        return
    client = cluster = None
    if workers or scheduler:
        client, cluster = connect(workers, scheduler, connect_timeout_s, schema.error)
    try:
        with ResultsTable(csv_path, schema) as table:
            todo = [t for t in tasks if not set(_keys(t)) <= table.keys]
            total = sum(len(_keys(t)) for t in tasks)
            bar = tqdm(total=total, initial=total - sum(len(_keys(t)) for t in todo),
                       disable=not progress, unit=unit, desc=desc, dynamic_ncols=True)

            def done(result) -> None:
                rows = result if isinstance(result, list) else [result]
                have = table.keys
                table.add([r for r in rows if r["key"] not in have])
                bar.update(len(rows))
                if progress and describe is not None:
                    bar.write(describe(rows))

            try:
                if client is None:
                    for _, fn, args in todo:
                        done(fn(*args))
                else:
                    from dask.distributed import as_completed

                    futures = [client.submit(t[1], *t[2], key=f"noisybnn-{_keys(t)[0]}",
                                             pure=False) for t in todo]
                    try:
                        for fut in as_completed(futures):
                            done(fut.result())
                    except BaseException:
                        client.cancel(futures)
                        raise
            finally:
                bar.close()
    finally:
        close_quietly(client, cluster)


def close_quietly(client, cluster) -> None:
    """Close the client, then the cluster, with Dask's shutdown chatter muted.

    After every result is in, workers going away can still log "Couldn't gather keys" or a
    CommClosedError traceback from the scheduler or the nanny: noise after a run that succeeded.
    Errors of the run itself were raised before this point."""
    import logging

    if client is None and cluster is None:
        return
    names = ("distributed", "distributed.client", "distributed.scheduler", "distributed.worker",
             "distributed.nanny", "distributed.core", "distributed.comm", "tornado", "asyncio")
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


def connect(workers: int, scheduler: str | None, timeout_s: float = 30.0,
            error: type[Exception] = SweepError):
    """(client, cluster or None): a client of `scheduler`, or of a new loopback LocalCluster."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise error("running on a Dask cluster needs dask[distributed]: "
                         "pip install 'noisybnn[dist]'") from None
    if scheduler:
        try:
            return Client(scheduler, timeout=f"{timeout_s}s"), None
        except (OSError, TimeoutError) as exc:
            raise error(f"cannot reach the Dask scheduler {scheduler}: {exc}") from None
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           host="127.0.0.1", dashboard_address=None,
                           silence_logs=40)  # logging.ERROR
    return Client(cluster), cluster


def check_code(code: str) -> None:
    """Raise if this process's build/sim code differs from the one the run was planned with."""
    here = code_sha256()
    if here != code:
        raise ExploreError(
            f"the build and simulation code on {socket.gethostname()} (fingerprint {here}) differs "
            f"from the one this run was planned with ({code}): it changed during the run, or "
            "the workers run another checkout; restart the run (done points are kept)")
