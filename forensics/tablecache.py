"""Line logs parsed once into Parquet, then read lazily: the tables of a case too big for memory.

A large case's access and query logs hold tens of millions of lines. Parsed into memory by every
notebook kernel they would not fit (about 7 GB of tables plus the parse's own peak, per kernel,
at ``forensics sample --scale 100``). With a table cache each line log is parsed **once**, batch
by batch (memory bounded by the batch, not by the logs), into Parquet; the case's tables become
``pl.scan_parquet`` frames, so a detector that needs five columns reads five columns and a filter
skips row groups.

Layout of a cache folder (one sub-folder per case.yml evidence key)::

    DIR/access_logs/records.parquet  rejects.parquet  counts.parquet  key.json
    DIR/query_logs/...

``key.json`` ties the tables to what they were parsed from (each file's path, size, mtime, inode
and ctime: a file rewritten in place with its size and mtime put back still changes its ctime;
the case's zone, the clock skew, the gzip limit, and the loader code), so a changed case or a
changed loader never reads stale tables; it is written last, after the Parquet files are
complete. Builders take an exclusive ``flock`` on ``DIR/<key>.lock``: two kernels asking at once
parse the logs once and the second waits for the first.

The cache holds parsed evidence (request lines may carry what a customer typed), so it is kept
out of the run's outputs: ``forensics run`` makes a private temporary folder (mode 0700), shares
it with its kernels through :data:`ENV_VAR` and deletes it at the end; an interactive
:func:`forensics.case.open_case` spills to a private folder of its own only when the line logs
are large (:data:`SPILL_BYTES`), deleted when the case object goes away.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from forensics.loaders._common import COUNTS, Loaded
from forensics.schemas import REJECTS

__all__ = ["ENV_VAR", "SPILL_BYTES", "CachedLog", "TableCache", "loader_fingerprint", "log_bytes"]

#: Environment variable naming a shared cache folder (set by ``forensics run`` for its kernels).
ENV_VAR = "FORENSICS_TABLE_CACHE"

#: ``open_case(table_cache="auto")`` spills the line logs to Parquet past this many bytes on disk
#: (access and query logs together; gzip files count as they are stored).
SPILL_BYTES = 32 * 1024**2

_FORMAT = 1  # bump when the layout of a cache folder changes


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


class CachedLog:
    """One evidence key's cached tables: ``records`` (lazy), ``rejects`` and ``counts`` (eager)."""

    def __init__(self, folder: Path, schema: pl.Schema):
        self.folder = folder
        self.schema = schema

    @property
    def records_path(self) -> Path:
        return self.folder / "records.parquet"

    def scan(self) -> pl.LazyFrame:
        """The records as a LazyFrame of ``schema`` (columns and row groups read only when needed)."""
        return pl.scan_parquet(self.records_path).cast(self.schema)

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
    ) -> CachedLog:
        """The cached tables of evidence key ``name``, built from ``batches`` when absent or stale.

        ``batches(sources)`` yields :class:`Loaded` batches (records of ``schema``, rejects, partial
        counts) and may append each file's source name to ``sources`` as it opens it; ``sources``
        given here instead lists them up front (files without a line still get a counts row).
        ``options``: whatever else changes the parse (zone, skew, limits), part of the key.
        """
        folder = self.root / name
        key = _evidence_key(files, {"name": name, **(options or {})})
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        with _locked(self.root / f"{name}.lock"):
            if _current(folder, key):
                return CachedLog(folder, schema)
            _build(folder, key, schema, batches, sources)
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


def _build(folder: Path, key: str, schema: pl.Schema, batches, sources: list[str] | None) -> None:
    from forensics.loaders._common import merge_counts

    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    (folder / "key.json").unlink(missing_ok=True)  # stale until the new tables are complete
    records = _ParquetSink(folder / "records.parquet.tmp", schema)
    rejects = _ParquetSink(folder / "rejects.parquet.tmp", REJECTS)
    seen: list[str] = []
    counts = []
    try:
        for batch in batches(seen):
            records.write(batch.records)
            rejects.write(batch.rejects)
            counts.append(batch.counts)
    finally:
        records.close()
        rejects.close()
    merge_counts(counts, list(sources) if sources is not None else seen).write_parquet(folder / "counts.parquet")
    (folder / "records.parquet.tmp").replace(folder / "records.parquet")
    (folder / "rejects.parquet.tmp").replace(folder / "rejects.parquet")
    (folder / "key.json").write_text(json.dumps({"key": key, "records": records.rows, "rejects": rejects.rows}),
                                     encoding="utf-8")
    for p in folder.iterdir():  # parsed evidence: readable by the analyst's account only
        with contextlib.suppress(OSError):
            p.chmod(0o600)


def log_bytes(files: Iterable[Path]) -> int:
    """Bytes on disk of evidence files (symlinks and unreadable entries count 0)."""
    total = 0
    for p in files:
        with contextlib.suppress(OSError):
            if not Path(p).is_symlink():
                total += Path(p).stat().st_size
    return total
