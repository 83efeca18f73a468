"""Line logs parsed once into a partitioned Parquet dataset, then read lazily: the tables of a case
too big for memory.

A large case's access and query logs hold tens of millions of lines. Parsed into memory by every
notebook kernel they would not fit (about 7 GB of tables plus the parse's own peak, per kernel,
at ``forensics sample --scale 100``). With a table cache each line log is parsed **once**, batch
by batch (memory bounded by the batch, not by the logs), into Parquet; the case's tables become
``pl.scan_parquet`` frames, so a detector that needs five columns reads five columns and a filter
skips files and row groups.

Layout of a cache folder (one sub-folder per case.yml evidence key)::

    DIR/access_logs/records/source_id=00000/day=2017-03-31/part.parquet
                            source_id=00000/day=2017-04-01/part.parquet
                            source_id=00001/day=2017-04-01/part.parquet
                            source_id=00002/day=__HIVE_DEFAULT_PARTITION__/part.parquet
                    rejects.parquet  counts.parquet  key.json
    DIR/query_logs/...

``records`` is a Hive-partitioned dataset. ``source_id`` is the file's place in reading order
(zero-padded, so the folders sort in that order; ``key.json`` lists the source names by id).
``day`` is the UTC day of the latest ``ts`` seen so far in the file (a running maximum, in line
order): a file's lines go to one day folder after the other and never back, so reading the parts
in path order gives every source file in reading order and its lines in order, and each part
covers about one day. Lines before a file's first time take the day of that first time; a file
with no time at all goes to Hive's null partition. :meth:`CachedLog.scan` reads the parts in
that order with the table's own schema (Parquet statistics of ``ts`` and ``source`` let polars
skip the parts a filter excludes); :meth:`CachedLog.scan_partitioned` adds the ``source_id`` and
``day`` columns from the paths, so a filter on them skips files without opening them.

Each :class:`ParseUnit` (an access-log file; a query-log file, with the files after it in its
rotated series that open without a time, because MySQL 5.6 carries its last printed time from one
file into the next) is parsed on its own by :func:`parse_unit`, which writes the unit's parts and
then, last, a small record of its sources, counts and rows under ``units/``. Units run side by
side, as many as the machine has cores: on threads of this process or, for logs past
:data:`PROCESS_BYTES`, in worker processes that end with the build (their memory goes back to the
system); or as tasks on a Dask cluster (:mod:`forensics.engine`) when the case has an engine. The
cache is marked complete only after every unit's record is present and its rows match the Parquet
files (a unit lost with its worker never leaves a silently partial table): ``counts.parquet`` and
``rejects.parquet`` are then merged from the units' own (per file ``records + rejected = lines``).

``key.json`` ties the tables to what they were parsed from (each file's path, size, mtime, inode
and ctime: a file rewritten in place with its size and mtime put back still changes its ctime;
the case's zone, the clock skew, the gzip limit, and the loader code), so a changed case or a
changed loader never reads stale tables; it is written last, after the Parquet files are
complete. Builders take an exclusive ``flock`` on ``DIR/<key>.lock``: two kernels asking at once
parse the logs once and the second waits for the first.

The cache holds parsed evidence (request lines may carry what a customer typed), so it is kept
out of the run's outputs and readable by the analyst's account only (folders 0700, files 0600):
``forensics run`` makes a private temporary folder (mode 0700), shares it with its kernels through
:data:`ENV_VAR` and deletes it at the end; an interactive :func:`forensics.case.open_case` spills
to a private folder of its own only when the line logs are large (:data:`SPILL_BYTES`), deleted
when the case object goes away.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import polars as pl
import pyarrow.parquet as pq

from forensics.errors import TableCacheError
from forensics.loaders._common import COUNTS, Loaded
from forensics.schemas import REJECTS

__all__ = ["ENV_VAR", "PROCESS_BYTES", "SPILL_BYTES", "CachedLog", "Engine", "ParseUnit", "TableCache",
           "loader_fingerprint", "log_bytes", "parse_unit", "serve_units"]

#: Environment variable naming a shared cache folder (set by ``forensics run`` for its kernels).
ENV_VAR = "FORENSICS_TABLE_CACHE"

#: ``open_case(table_cache="auto")`` spills the line logs to Parquet past this many bytes on disk
#: (access and query logs together; gzip files count as they are stored).
SPILL_BYTES = 32 * 1024**2

_FORMAT = 2  # bump when the layout of a cache folder changes

#: Line logs past this many bytes on disk are parsed in worker processes (:func:`_run_here`).
PROCESS_BYTES = 64 * 1024**2

#: Hive's name for the partition of a null value (a file without any time).
NULL_DAY = "__HIVE_DEFAULT_PARTITION__"

#: Digits of a ``source_id`` folder name (zero-padded: the folders sort in reading order).
ID_DIGITS = 6

#: The partition columns :meth:`CachedLog.scan_partitioned` adds to the table.
PARTITIONS = pl.Schema({"source_id": pl.Int64, "day": pl.Date})


def loader_fingerprint() -> str:
    """Fingerprint of the code that parses evidence (loaders, evidence reading, schemas): the
    paths, sizes and mtimes of their ``.py`` files. Tables parsed by other code are not reused."""
    import forensics

    root = Path(forensics.__file__).parent
    files = sorted([*root.joinpath("loaders").glob("*.py"), root / "evidence.py", root / "schemas.py", Path(__file__)])
    h = hashlib.sha256()
    for p in files:
        st = p.stat()
        h.update(f"{p.relative_to(root)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def _evidence_key(files: Iterable[Path], options: dict) -> str:
    h = hashlib.sha256(json.dumps({"format": _FORMAT, "code": loader_fingerprint(), **options}, sort_keys=True,
                                  default=str).encode())
    for p in files:
        st = Path(p).lstat()
        h.update(os.fsencode(Path(p).absolute())
                 + f"\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\0{st.st_ino}\n".encode())
    return h.hexdigest()


@dataclass(frozen=True)
class ParseUnit:
    """Evidence files parsed together and on their own (one task on a cluster).

    ``batches(seen)`` yields the files' :class:`Loaded` batches in reading order and may append
    each file's source name to ``seen`` as it opens it; ``sources``: the files' source names in
    reading order, or None to learn them while parsing. A unit is pickled to run on a cluster:
    ``batches`` must be a module-level function or a ``functools.partial`` of one.
    """

    sources: tuple[str, ...] | None
    batches: Callable[[list[str]], Iterator[Loaded]]


class Engine(Protocol):
    """What runs the units of a cache build: ``map(fn, items)`` returns ``[fn(i) for i in items]``
    in order (:class:`forensics.engine.DaskEngine` runs them as tasks on a cluster)."""

    def map(self, fn: Callable[[Any], Any], items: list) -> list: ...


class _ParquetSink:
    """Frames appended one by one to one Parquet file (a row group each), with a fixed schema."""

    def __init__(self, path: Path, schema: pl.Schema):
        self.path = path
        self.schema = schema
        self.arrow_schema = pl.DataFrame(schema=schema).to_arrow(compat_level=pl.CompatLevel.oldest()).schema
        self.writer = pq.ParquetWriter(path, self.arrow_schema, compression="zstd", compression_level=1)
        self.rows = 0

    def write(self, frame: pl.DataFrame) -> None:
        if frame.height:
            table = frame.select(self.schema.names()).cast(self.schema).to_arrow(compat_level=pl.CompatLevel.oldest())
            self.writer.write_table(table.cast(self.arrow_schema))
            self.rows += frame.height

    def close(self) -> None:
        self.writer.close()


def part_path(records: Path, source_id: int, day) -> Path:
    """Where the rows of one source file and one day go (``day`` a date, or None: no time)."""
    return records / f"source_id={source_id:0{ID_DIGITS}d}" / f"day={NULL_DAY if day is None else day.isoformat()}" \
        / "part.parquet"


class _Parts:
    """A unit's records, in order, cut into one Parquet file per source file and day (the UTC day
    of the running maximum of ``time``); rows before a file's first time wait for it."""

    def __init__(self, records: Path, schema: pl.Schema, source_id: Callable[[str], int]):
        self.records = records
        self.schema = schema
        self.source_id = source_id
        self.time = "ts" if "ts" in schema else None
        self.sink: _ParquetSink | None = None
        self.open: tuple[str, object] | None = None
        self.source: str | None = None
        self.high = None  # the latest time of the current source so far
        self.waiting: list[pl.DataFrame] = []  # its rows before its first time
        self.rows: dict[str, int] = {}

    def write(self, frame: pl.DataFrame) -> None:
        if not frame.height:
            return
        for (source,), part in frame.partition_by("source", maintain_order=True, as_dict=True).items():
            if source != self.source:
                self._end_source()
                self.source, self.high = source, None
            self.rows[source] = self.rows.get(source, 0) + part.height
            if self.time is None:
                self._put(None, part)
                continue
            dtype = self.schema[self.time]
            high = part.select(pl.max_horizontal(pl.col(self.time).cum_max().forward_fill(),
                                                 pl.lit(self.high, dtype))).to_series()
            if high[-1] is not None:
                self.high = high[-1]
            day = high.dt.date()
            untimed = day.null_count()  # only at the head: the maximum never goes back to null
            if untimed:
                self.waiting.append(part.head(untimed))
                part, day = part.slice(untimed), day.slice(untimed)
            if not part.height:
                continue
            starts = (day != day.shift(1)).fill_null(True).arg_true().to_list() + [part.height]
            for a, b in zip(starts, starts[1:]):
                self._put(day[a], part.slice(a, b - a))

    def _put(self, day, frame: pl.DataFrame) -> None:
        if self.open != (self.source, day):
            if self.sink is not None:
                self.sink.close()
            path = part_path(self.records, self.source_id(self.source), day)
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.sink, self.open = _ParquetSink(path, self.schema), (self.source, day)
        if self.waiting:
            waiting, self.waiting = self.waiting, []
            for w in waiting:
                self.sink.write(w)
        self.sink.write(frame)

    def _end_source(self) -> None:
        if self.waiting:
            self._put(None, pl.DataFrame(schema=self.schema))  # a file without any time

    def close(self) -> None:
        self._end_source()
        if self.sink is not None:
            self.sink.close()
            self.sink = None


def _unit_name(index: int) -> str:
    return f"unit-{index:0{ID_DIGITS}d}"


def parse_unit(folder: Path, schema: pl.Schema, task: tuple[int, int, ParseUnit]) -> dict:
    """Parse one unit (``task``: its index, the ``source_id`` of its first file, the unit) into
    the cache folder ``folder`` of one evidence key; runs in this process or on a cluster worker.

    Writes into a staging folder of its own, then moves into place: its parts under
    ``records/source_id=<id>/`` (replacing those of an earlier, interrupted try), its rejects
    (REJECTS) and counts (COUNTS, one row per file of the unit) under ``units/``, and last its
    record ``units/unit-<index>.json``, which this returns: ``{"unit", "sources", "ids", "rows",
    "rejects"}`` (``ids`` and ``rows`` per source, in the order of ``sources``).
    """
    from forensics.loaders._common import merge_counts

    index, first_id, unit = task
    name = _unit_name(index)
    staging = folder / "staging" / f"{name}-{uuid.uuid4().hex[:12]}"
    staging.mkdir(parents=True, mode=0o700)
    ids: dict[str, int] = {} if unit.sources is None else {s: first_id + i for i, s in enumerate(unit.sources)}

    def source_id(source: str) -> int:
        if source not in ids:  # sources learned while parsing: numbered in the order they come
            ids[source] = first_id + len(ids)
        return ids[source]

    seen: list[str] = []
    parts = _Parts(staging / "records", schema, source_id)
    rejects = _ParquetSink(staging / "rejects.parquet", REJECTS)
    counts = []
    try:
        for batch in unit.batches(seen):
            for s in seen:
                source_id(s)
            parts.write(batch.records)
            rejects.write(batch.rejects)
            counts.append(batch.counts)
    finally:
        parts.close()
        rejects.close()
    if unit.sources is not None:
        sources = list(unit.sources)
    else:
        sources = list(dict.fromkeys([*seen, *parts.rows, *(s for c in counts for s in c["source"])]))
    merge_counts(counts, sources).write_parquet(staging / "counts.parquet")
    _lock_down(staging)
    records = folder / "records"
    if (staging / "records").is_dir():
        for d in sorted((staging / "records").iterdir()):
            shutil.rmtree(records / d.name, ignore_errors=True)
            d.replace(records / d.name)
    (staging / "rejects.parquet").replace(folder / "units" / f"{name}.rejects.parquet")
    (staging / "counts.parquet").replace(folder / "units" / f"{name}.counts.parquet")
    record = {"unit": index, "sources": sources, "ids": [source_id(s) for s in sources],
              "rows": [parts.rows.get(s, 0) for s in sources], "rejects": rejects.rows}
    tmp = staging / f"{name}.json"
    tmp.write_text(json.dumps(record), encoding="utf-8")
    tmp.chmod(0o600)
    tmp.replace(folder / "units" / f"{name}.json")
    shutil.rmtree(staging, ignore_errors=True)
    return record


class CachedLog:
    """One evidence key's cached tables: ``records`` (lazy), ``rejects`` and ``counts`` (eager)."""

    def __init__(self, folder: Path, schema: pl.Schema):
        self.folder = folder
        self.schema = schema

    @property
    def records_dir(self) -> Path:
        """The records' dataset: ``source_id=<id>/day=<YYYY-MM-DD>/part.parquet`` files."""
        return self.folder / "records"

    def part_files(self) -> list[Path]:
        """The records' Parquet files in reading order (source files in the order the loaders
        read them, then days)."""
        return sorted(self.records_dir.glob("source_id=*/day=*/part.parquet"))

    def sources(self) -> dict[int, str]:
        """``source_id`` -> source name (the file's path as the tables give it)."""
        data = json.loads((self.folder / "key.json").read_text(encoding="utf-8"))
        return {int(k): v for k, v in data.get("sources", {}).items()}

    def scan(self) -> pl.LazyFrame:
        """The records as a LazyFrame of ``schema``, rows in reading order (columns, files and row
        groups read only when needed: a filter on ``ts`` or ``source`` skips the parts whose
        Parquet statistics exclude it)."""
        files = self.part_files()
        if not files:
            return pl.LazyFrame(schema=self.schema)
        return pl.scan_parquet(files, hive_partitioning=False).cast(self.schema)

    def scan_partitioned(self) -> pl.LazyFrame:
        """:meth:`scan` plus the partition columns of :data:`PARTITIONS` read from the paths:
        ``source_id`` (Int64, see :meth:`sources`) and ``day`` (Date: the UTC day of the latest
        ``ts`` so far in the file; null for a file without any time). A filter on them skips the
        other files without opening them."""
        files = self.part_files()
        if not files:
            return pl.LazyFrame(schema={**self.schema, **PARTITIONS})
        return pl.scan_parquet(files, hive_partitioning=True, hive_schema=PARTITIONS).cast(self.schema)

    def loaded(self) -> Loaded:
        """:class:`~forensics.loaders._common.Loaded` whose ``records`` is :meth:`scan` (a LazyFrame)."""
        return Loaded(
            self.scan(),  # type: ignore[arg-type]  (lazy on purpose: the table may not fit in memory)
            pl.read_parquet(self.folder / "rejects.parquet").cast(REJECTS),
            pl.read_parquet(self.folder / "counts.parquet").cast(COUNTS),
        )


class TableCache:
    """A cache folder: :meth:`log` returns an evidence key's tables, parsing them first if needed.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from forensics.loaders.access_log import iter_access_logs
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "access_log").write_text('203.0.113.9 - - [31/Mar/2017:23:28:01 +0900] "GET / HTTP/1.1" 200 5 "-" "x"\\nnot a line\\n')
    >>> from forensics.schemas import ACCESS_LOG
    >>> log = TableCache(d / "cache").log(
    ...     "access_logs", [d / "access_log"], ACCESS_LOG, lambda sources: iter_access_logs([d / "access_log"], case_root=d),
    ...     sources=["access_log"])
    >>> log.scan().select("client_ip", "path").collect().rows(), log.loaded().counts.rows()
    ([('203.0.113.9', '/')], [('access_log', 1, 1, 1)])
    >>> [str(p.relative_to(log.records_dir)) for p in log.part_files()]
    ['source_id=000000/day=2017-03-31/part.parquet']
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def log(
        self,
        name: str,
        files: list[Path],
        schema: pl.Schema,
        batches: Callable[[list[str]], Iterator[Loaded]],
        *,
        sources: list[str] | None = None,
        options: dict | None = None,
        units: Callable[[], list[ParseUnit]] | None = None,
        engine: Engine | None = None,
        at_once: int | None = None,
    ) -> CachedLog:
        """The cached tables of evidence key ``name``, built from ``batches`` when absent or stale.

        ``batches(sources)`` yields :class:`Loaded` batches (records of ``schema``, rejects, partial
        counts) and may append each file's source name to ``sources`` as it opens it; ``sources``
        given here instead lists them up front (files without a line still get a counts row).
        ``options``: whatever else changes the parse (zone, skew, limits), part of the key.
        ``units`` (called only when the tables are built): the same files cut into
        :class:`ParseUnit` s in reading order, parsed one by one, or by ``engine`` (e.g. as tasks
        on a cluster); without it ``batches`` is one unit. ``at_once``: units parsed at once
        without an engine (None: as many as the machine has cores).
        """
        folder = self.root / name
        key = _evidence_key(files, {"name": name, **(options or {})})
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        with _locked(self.root / f"{name}.lock"):
            if _current(folder, key):
                return CachedLog(folder, schema)
            plan = units() if units is not None else [ParseUnit(None, batches)]
            _build(folder, key, schema, plan, sources, engine, processes=log_bytes(files) > PROCESS_BYTES,
                   at_once=at_once)
        return CachedLog(folder, schema)


@contextlib.contextmanager
def _locked(path: Path):
    with open(path, "a+b") as fh:
        os.fchmod(fh.fileno(), 0o600)
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _current(folder: Path, key: str) -> bool:
    try:
        return json.loads((folder / "key.json").read_text(encoding="utf-8")).get("key") == key
    except (OSError, ValueError, AttributeError):
        return False


def _build(folder: Path, key: str, schema: pl.Schema, units: list[ParseUnit], sources: list[str] | None,
           engine: Engine | None, *, processes: bool = False, at_once: int | None = None) -> None:
    from forensics.loaders._common import merge_counts

    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder.chmod(0o700)
    (folder / "key.json").unlink(missing_ok=True)  # stale until the new tables are complete
    for old in ("records", "units", "staging"):
        shutil.rmtree(folder / old, ignore_errors=True)
    for old in ("records.parquet", "rejects.parquet", "counts.parquet"):
        (folder / old).unlink(missing_ok=True)
    for d in ("records", "units", "staging"):
        (folder / d).mkdir(mode=0o700)
    if len(units) > 1 and any(u.sources is None for u in units):
        raise ValueError("a unit whose sources are learned while parsing must be the only unit")
    tasks, first_id = [], 0
    for index, unit in enumerate(units):
        tasks.append((index, first_id, unit))
        first_id += len(unit.sources or ())
    run = functools.partial(parse_unit, folder, schema)
    if engine is None:
        _run_here(run, tasks, processes=processes, at_once=at_once)
    else:
        engine.map(run, tasks)
    records = _verified(folder, len(tasks))
    unit_counts = [pl.read_parquet(folder / "units" / f"{_unit_name(r['unit'])}.counts.parquet") for r in records]
    order = list(sources) if sources is not None else [s for r in records for s in r["sources"]]
    merge_counts(unit_counts, order).write_parquet(folder / "counts.parquet")
    rejects = [pl.read_parquet(folder / "units" / f"{_unit_name(r['unit'])}.rejects.parquet") for r in records]
    pl.concat([pl.DataFrame(schema=REJECTS), *rejects]).cast(REJECTS).write_parquet(folder / "rejects.parquet")
    shutil.rmtree(folder / "units", ignore_errors=True)
    shutil.rmtree(folder / "staging", ignore_errors=True)
    _lock_down(folder)
    by_id = {i: s for r in records for i, s, n in zip(r["ids"], r["sources"], r["rows"]) if n}
    (folder / "key.json").write_text(json.dumps({
        "key": key, "records": sum(sum(r["rows"]) for r in records), "rejects": sum(r["rejects"] for r in records),
        "sources": {str(i): s for i, s in sorted(by_id.items())},
    }), encoding="utf-8")
    (folder / "key.json").chmod(0o600)


def _run_here(run: Callable[[Any], Any], tasks: list, *, processes: bool = False, at_once: int | None = None) -> None:
    """Run the units on this machine, side by side, ``at_once`` at a time (None: as many as it has
    cores): on threads of this process (the parse runs in polars, numba and zlib, which let go of
    the GIL; each unit writes files of its own), or with ``processes`` in worker processes
    (:func:`serve_units`) that end with the build, so the memory a large parse took goes back to
    the system instead of staying with the caller (a ``forensics run``, a notebook kernel). A unit
    that raises ends the build with its exception; a worker process that dies ends it with
    :class:`TableCacheError`."""
    workers = max(1, min(len(tasks), at_once or os.cpu_count() or 1))
    if processes and tasks:
        _run_in_processes(run, tasks, workers)
        return
    if workers <= 1:
        for task in tasks:
            run(task)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(workers, thread_name_prefix="parse-unit") as pool:
        for _ in pool.map(run, tasks):
            pass


#: How a worker process of :func:`_run_in_processes` starts: a fresh interpreter that imports only
#: this module (never the caller's main script).
_WORKER = "from forensics.tablecache import serve_units; serve_units()"


def _send(stream, data: bytes) -> None:
    stream.write(len(data).to_bytes(8, "little") + data)
    stream.flush()


def _receive(stream) -> bytes:
    """One message of :func:`_send` (EOFError when the stream ends first)."""
    head = stream.read(8)
    if len(head) < 8:
        raise EOFError
    size = int.from_bytes(head, "little")
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    return data


def _run_in_processes(run: Callable[[Any], Any], tasks: list, workers: int) -> None:
    """``run`` over ``tasks`` in ``workers`` worker processes, each fed one task at a time (pickled
    through its standard input, its answer through its standard output). A worker imports what
    this process can import (its ``sys.path``), so the units' functions unpickle there."""
    import pickle
    import queue
    import subprocess
    import sys
    import threading

    from forensics.loaders._common import progress

    todo: queue.SimpleQueue = queue.SimpleQueue()
    for task in tasks:
        todo.put(task)
    failures: list[BaseException] = []
    finished: queue.SimpleQueue = queue.SimpleQueue()  # 1: a unit done; None: a worker ended
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p and os.path.isdir(p)))

    def feed() -> None:
        try:
            proc = subprocess.Popen([sys.executable, "-c", _WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    env=env)
        except OSError as exc:
            failures.append(TableCacheError(f"table cache: cannot start a parse worker process ({exc})"))
            finished.put(None)
            return
        try:
            while not failures:
                try:
                    task = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    _send(proc.stdin, pickle.dumps((run, task)))
                    status, value = pickle.loads(_receive(proc.stdout))
                except (EOFError, OSError):
                    status, value = "lost", None
                except Exception as exc:  # an answer that does not unpickle
                    status, value = "error", RuntimeError(f"{type(exc).__name__}: {exc}")
                if status == "lost":
                    failures.append(TableCacheError(
                        f"table cache: a parse worker process ended (exit code {proc.wait()}) before its "
                        "part was written; the cache is incomplete and was not used"))
                    return
                if status != "ok":
                    failures.append(value)
                else:
                    finished.put(1)
        finally:
            with contextlib.suppress(OSError):
                proc.stdin.close()
            proc.wait()
            finished.put(None)

    threads = [threading.Thread(target=feed, name=f"parse-worker-{i}") for i in range(workers)]
    for t in threads:
        t.start()
    # the workers' own progress goes to their standard error: here, one bar of the files done
    bar = progress(range(len(tasks)), "parsing line logs", None)
    running = workers
    while running:
        if finished.get() is None:
            running -= 1
        elif hasattr(bar, "update"):
            bar.update(1)
    if hasattr(bar, "close"):
        bar.close()
    for t in threads:
        t.join()
    if failures:
        raise failures[0]


def serve_units() -> None:
    """A worker process of :func:`_run_in_processes`: reads pickled ``(fn, task)`` pairs from its
    standard input until it closes, runs each and answers ``("ok", result)`` or ``("error",
    exception)``. What the parse prints goes to standard error; standard output carries only the
    answers."""
    import pickle
    import sys

    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    requests = sys.stdin.buffer
    while True:
        try:
            request = _receive(requests)
        except EOFError:
            return
        try:
            fn, task = pickle.loads(request)
            answer = ("ok", fn(task))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, which raises it
            answer = ("error", exc)
        try:
            data = pickle.dumps(answer)
        except Exception:  # an exception that does not pickle: its type and message
            data = pickle.dumps(("error", RuntimeError(f"{type(answer[1]).__name__}: {answer[1]}")))
        _send(answers, data)


def _verified(folder: Path, n_units: int) -> list[dict]:
    """Every unit's record, checked against its counts and its Parquet files; a unit missing or
    short raises :class:`TableCacheError` (the cache is then not marked complete)."""
    records = []
    for index in range(n_units):
        name = _unit_name(index)
        try:
            record = json.loads((folder / "units" / f"{name}.json").read_text(encoding="utf-8"))
            counts = pl.read_parquet(folder / "units" / f"{name}.counts.parquet")
        except (OSError, ValueError) as exc:
            raise TableCacheError(f"table cache {folder.name}: part {index + 1} of {n_units} left no counts "
                                  f"({type(exc).__name__}); the cache is incomplete and was not used") from None
        expected = dict(zip(counts["source"].to_list(), counts["rows"].to_list()))
        for source, source_id, rows in zip(record["sources"], record["ids"], record["rows"]):
            parts = (folder / "records").glob(f"source_id={source_id:0{ID_DIGITS}d}/day=*/part.parquet")
            on_disk = sum(pq.read_metadata(p).num_rows for p in parts)
            if not (expected.get(source) == rows == on_disk):
                raise TableCacheError(f"table cache {folder.name}: {source}: {on_disk} rows on disk, {rows} written, "
                                      f"{expected.get(source)} counted; the cache is incomplete and was not used")
        records.append(record)
    return records


def _lock_down(root: Path) -> None:
    """Parsed evidence: folders 0700 and files 0600 (readable by the analyst's account only)."""
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            with contextlib.suppress(OSError):
                os.chmod(os.path.join(dirpath, d), 0o700)
        for f in filenames:
            with contextlib.suppress(OSError):
                os.chmod(os.path.join(dirpath, f), 0o600)


def log_bytes(files: Iterable[Path]) -> int:
    """Bytes on disk of evidence files (symlinks and unreadable entries count 0)."""
    total = 0
    for p in files:
        with contextlib.suppress(OSError):
            if not Path(p).is_symlink():
                total += Path(p).stat().st_size
    return total
