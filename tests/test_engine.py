"""The table cache's units of parsing on a Dask cluster, and in worker processes of this machine,
give the same tables as in this process; a worker lost mid-run makes the task run again (on a
cluster) or ends the build in one line (here), a unit that keeps failing ends in one line, and
without a cluster Dask is not imported at all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from forensics.case import open_case
from forensics.engine import DaskEngine, EngineError, open_engine
from forensics.errors import TableCacheError
from forensics.schemas import ACCESS_LOG
from forensics.tablecache import CachedLog, ParseUnit, TableCache

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_data" / "toshomart-2017" / "case.yml"
LINE = '203.0.113.9 - - [31/Mar/2017:23:28:01 +0900] "GET /a HTTP/1.1" 200 5 "-" "x"\n'


@pytest.fixture(scope="module")
def engine():
    """A LocalCluster of two worker processes (this module's functions shipped to them by value)."""
    import cloudpickle
    from distributed import Client, LocalCluster

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        yield DaskEngine(client)
    cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def _tables(case) -> dict[str, CachedLog]:
    return {key: case._cached(key) for key in ("access_logs", "query_logs")}


def _assert_same_cache(a: Path, b: Path, case_yml: Path, engine) -> None:
    """The case's line logs cached in ``a`` in this process and in ``b`` on the cluster: same
    rows in the same order, counts, rejects and partition files."""
    here = open_case(case_yml, table_cache=a)
    there = open_case(case_yml, table_cache=b)
    there.use_engine(engine)
    for key, log in _tables(here).items():
        other = _tables(there)[key]
        assert log.scan().collect().equals(other.scan().collect()), key
        assert log.scan().collect_schema() == other.scan().collect_schema() == here._cached(key).schema
        assert [p.relative_to(a) for p in log.part_files()] == [p.relative_to(b) for p in other.part_files()]
        mine, theirs = log.loaded(), other.loaded()
        assert mine.counts.equals(theirs.counts) and mine.rejects.equals(theirs.rejects), key
        assert (mine.counts["records"] + mine.counts["rejected"] > 0).all()
    assert here.record_counts().equals(there.record_counts())
    memory = open_case(case_yml, table_cache=None)
    assert memory.record_counts().equals(here.record_counts())
    for table in ("access_log", "query_log"):  # the tables as read whole, before any cache
        assert getattr(memory, table)().collect().equals(getattr(here, table)().collect()), table
    key = ["source", "line_no", "reason"]
    assert memory.rejects().collect().sort(key).equals(here.rejects().collect().sort(key))


@pytest.mark.skipif(not SAMPLE.is_file(), reason="sample case not generated (make sample)")
def test_the_sample_case_parsed_on_a_cluster_gives_the_same_tables(tmp_path, engine):
    _assert_same_cache(tmp_path / "here", tmp_path / "there", SAMPLE, engine)


@pytest.mark.slow
def test_a_scale_10_case_parsed_on_a_cluster_gives_the_same_tables(tmp_path, engine):
    from forensics.sample import write_sample_case

    case_yml = write_sample_case(tmp_path / "case", scale=10)
    _assert_same_cache(tmp_path / "here", tmp_path / "there", Path(case_yml), engine)


def _access_batches(log: Path, seen):
    from forensics.loaders.access_log import iter_access_logs

    return iter_access_logs([log], case_root=log.parent)


def _dies_once(marker: Path, log: Path, seen):
    """A unit whose first try kills its own worker process."""
    if not marker.exists():
        marker.touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return _access_batches(log, seen)


def _always_fails(seen):
    raise ValueError("this unit cannot be parsed")


def _exits(seen):
    os._exit(3)


def _units(tmp_path: Path, first) -> tuple[list[ParseUnit], list[Path]]:
    """Three one-line-file units (1, 2 and 3 lines), the first one parsed by ``first``."""
    import functools

    logs = []
    for i in range(3):
        logs.append(tmp_path / f"access_log.{i}")
        logs[-1].write_text(LINE * (i + 1))
    return [ParseUnit((logs[0].name,), first),
            *(ParseUnit((p.name,), functools.partial(_access_batches, p)) for p in logs[1:])], logs


def test_a_worker_lost_mid_run_makes_its_task_run_again(tmp_path, engine):
    import functools

    marker = tmp_path / "killed-once"
    log0 = tmp_path / "access_log.0"
    units, logs = _units(tmp_path, functools.partial(_dies_once, marker, log0))
    cache = TableCache(tmp_path / "cache").log("access_logs", logs, ACCESS_LOG, None, units=lambda: units,
                                               engine=engine)
    assert marker.exists()  # the first try killed its worker
    counts = cache.loaded().counts
    assert counts["source"].to_list() == [p.name for p in logs] and counts["records"].to_list() == [1, 2, 3]
    assert cache.scan().select(pl.len()).collect().item() == 6


def test_a_unit_that_keeps_failing_ends_the_build_in_one_line(tmp_path, engine):
    units, logs = _units(tmp_path, _always_fails)
    with pytest.raises(EngineError, match="ValueError: this unit cannot be parsed") as exc:
        TableCache(tmp_path / "cache").log("access_logs", logs, ACCESS_LOG, None, units=lambda: units, engine=engine)
    assert "\n" not in str(exc.value)
    assert not (tmp_path / "cache" / "access_logs" / "key.json").exists()  # never marked complete


class _LosesUnits:
    """An engine whose cluster lost every task without a word."""

    def map(self, fn, items):
        return [None for _ in items]


def test_a_unit_without_its_counts_leaves_the_cache_incomplete(tmp_path):
    import functools

    units, logs = _units(tmp_path, functools.partial(_access_batches, tmp_path / "access_log.0"))
    with pytest.raises(TableCacheError, match="left no counts"):
        TableCache(tmp_path / "cache").log("access_logs", logs, ACCESS_LOG, None, units=lambda: units,
                                           engine=_LosesUnits())
    assert not (tmp_path / "cache" / "access_logs" / "key.json").exists()


def test_large_logs_are_parsed_in_worker_processes_into_the_same_tables(tmp_path, monkeypatch):
    import functools

    from forensics import tablecache

    units, logs = _units(tmp_path, functools.partial(_access_batches, tmp_path / "access_log.0"))
    here = TableCache(tmp_path / "here").log("access_logs", logs, ACCESS_LOG, None, units=lambda: units)
    started = []
    real = tablecache._run_in_processes
    monkeypatch.setattr(tablecache, "_run_in_processes", lambda *a: started.append(a[2]) or real(*a))
    monkeypatch.setattr(tablecache, "PROCESS_BYTES", 0)

    class Bar:  # the progress bar of the files done, as the caller sees it
        def __init__(self, items, desc, show):
            self.total, self.done, self.closed = len(items), 0, False

        def update(self, n):
            self.done += n

        def close(self):
            self.closed = True

    bars = []
    monkeypatch.setattr("forensics.loaders._common.progress", lambda *a: bars.append(Bar(*a)) or bars[-1])
    there = TableCache(tmp_path / "there").log("access_logs", logs, ACCESS_LOG, None, units=lambda: units)
    assert started  # the worker processes ran
    assert [(b.total, b.done, b.closed) for b in bars] == [(3, 3, True)]
    assert there.scan().collect().equals(here.scan().collect())
    assert there.loaded().counts.equals(here.loaded().counts)


@pytest.mark.parametrize("first, error, match", [
    (_always_fails, ValueError, "this unit cannot be parsed"),
    (_exits, TableCacheError, r"worker process ended \(exit code 3\)"),
])
def test_a_unit_that_fails_in_a_worker_process_ends_the_build(tmp_path, monkeypatch, first, error, match):
    from forensics import tablecache

    units, logs = _units(tmp_path, first)
    monkeypatch.setattr(tablecache, "PROCESS_BYTES", 0)
    with pytest.raises(error, match=match):
        TableCache(tmp_path / "cache").log("access_logs", logs, ACCESS_LOG, None, units=lambda: units)
    assert not (tmp_path / "cache" / "access_logs" / "key.json").exists()  # never marked complete


def test_without_a_cluster_dask_is_not_imported():
    code = ("import sys, forensics.pipeline, forensics.engine as e\n"
            "with e.open_engine() as engine: assert engine is None\n"
            "assert not {'dask', 'distributed'} & set(sys.modules), sorted(m for m in sys.modules if 'dask' in m)\n")
    env = {k: v for k, v in os.environ.items() if k != "DASK_SCHEDULER_ADDRESS"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def test_a_local_cluster_reports_its_dashboard_and_closes(capsys):
    said = []
    with open_engine(workers=1, report=said.append) as engine:
        assert isinstance(engine, DaskEngine)
        assert engine.map(abs, [-1, 2, -3]) == [1, 2, 3]
        client = engine.client
    assert len(said) == 1 and "dashboard: http" in said[0]
    assert client.status == "closed"


def test_an_unreachable_scheduler_is_one_line(monkeypatch):
    from forensics import engine as module

    monkeypatch.setattr(module, "CONNECT_TIMEOUT", "2s")
    with pytest.raises(EngineError, match="cannot reach the Dask scheduler"), \
            open_engine(scheduler="tcp://127.0.0.1:9"):
        pass


def test_an_existing_cluster_is_reached_by_address_or_by_the_environment(monkeypatch, engine):
    address = engine.client.scheduler.address
    said = []
    with open_engine(scheduler=address, report=said.append) as by_address:
        assert by_address.map(abs, [-4]) == [4]
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", address)
    with open_engine(report=said.append) as by_environment:
        assert by_environment.map(abs, [-5]) == [5]
    assert said == [f"Dask cluster at {address}; dashboard: {engine.client.dashboard_link}"] * 2
    assert engine.client.status == "running"  # the cluster is not the run's to close
