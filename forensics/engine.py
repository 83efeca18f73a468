"""Where the table cache's units of parsing run: on this machine, or as tasks on a Dask cluster.

``forensics run CASE --scheduler tcp://host:8786`` (or the environment variable
:data:`SCHEDULER_ENV`) sends the units (each access-log file; each query-log file with the files
of its series that carry its time on: :class:`forensics.tablecache.ParseUnit`) to an existing
cluster; ``--workers N`` starts a ``distributed.LocalCluster`` of N worker processes for the run
and closes it at the end. With neither, :func:`open_engine` gives None and the units run on this
machine, side by side (:meth:`forensics.tablecache.TableCache.log`); Dask is then not imported at
all.

Workers read the evidence and write the cache at the paths this process gives them: they must see
the case folder and the cache folder at the same paths (one machine, or a shared file system).
A task whose worker is lost is run again on another worker (Dask's own retry); a unit that still
fails ends the run with one line (:class:`EngineError`), and the cache checks every unit's counts
before it is marked complete, so a lost worker never leaves a partial table.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any

from forensics.errors import ForensicsError

__all__ = ["SCHEDULER_ENV", "RETRIES", "DaskEngine", "EngineError", "open_engine"]

#: Environment variable naming the scheduler of an existing cluster (Dask's own name for it).
SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"

#: How long connecting to a scheduler may take before the run fails.
CONNECT_TIMEOUT = "30s"

#: Times a task that raised is tried again (a task whose worker died is retried by the scheduler,
#: up to its ``distributed.scheduler.allowed-failures``).
RETRIES = 2


class EngineError(ForensicsError, RuntimeError):
    """A unit of work failed on the cluster (after its retries); the message is one line."""


class DaskEngine:
    """Runs ``map(fn, items)`` as tasks on the cluster of a ``distributed.Client``."""

    def __init__(self, client: Any):
        """Wrap a connected ``distributed.Client``; the client stays the caller's to close."""
        self.client = client

    def map(self, fn: Callable[[Any], Any], items: list) -> list:
        """``[fn(i) for i in items]`` computed on the cluster, in the order of ``items``. A task
        that raises is retried :data:`RETRIES` times; one lost with its worker is rescheduled by
        Dask. A task that still fails raises :class:`EngineError` (the others are cancelled)."""
        import uuid

        from distributed import KilledWorker

        if not items:
            return []
        run = uuid.uuid4().hex[:8]
        futures = self.client.map(fn, items, pure=False, retries=RETRIES,
                                  key=[f"forensics-parse-{run}-{i}" for i in range(len(items))])
        try:
            return self.client.gather(futures)
        except KilledWorker as exc:
            raise EngineError(f"a parsing task was lost with its worker too many times ({_one_line(exc)}); "
                              "the table cache was not completed") from None
        except Exception as exc:  # noqa: BLE001 - whatever a task raised, as one line
            raise EngineError(f"a parsing task failed on the cluster: {type(exc).__name__}: {_one_line(exc)}") from None
        finally:
            self.client.cancel(futures)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]


@contextlib.contextmanager
def open_engine(scheduler: str | None = None, workers: int | None = None,
                report: Callable[[str], None] | None = None) -> Iterator[DaskEngine | None]:
    """The engine of a run: connected to ``scheduler`` (default: ``$DASK_SCHEDULER_ADDRESS``),
    or on a ``LocalCluster`` of ``workers`` worker processes started here and closed on exit, or
    None (no cluster: nothing imported). ``report`` receives one line with the dashboard link."""
    scheduler = scheduler or os.environ.get(SCHEDULER_ENV) or None
    if scheduler is None and not workers:
        yield None
        return
    if workers is not None and workers < 1:
        raise EngineError(f"--workers must be at least 1, got {workers}")
    from distributed import Client, LocalCluster

    with contextlib.ExitStack() as stack:
        if scheduler is not None:
            try:
                client = stack.enter_context(Client(scheduler, timeout=CONNECT_TIMEOUT))
            except OSError as exc:
                raise EngineError(f"cannot reach the Dask scheduler at {scheduler}: {_one_line(exc)}") from None
            where = f"Dask cluster at {scheduler}"
        else:
            cluster = stack.enter_context(LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                       dashboard_address="127.0.0.1:0", host="127.0.0.1"))
            client = stack.enter_context(Client(cluster))
            where = f"local Dask cluster of {workers} worker process{'es' if workers > 1 else ''}"
        if report is not None:
            report(f"{where}; dashboard: {client.dashboard_link}")
        yield DaskEngine(client)
