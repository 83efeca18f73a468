"""What every loader shares: file ordering, batching with a progress bar, times, accounting."""

from __future__ import annotations

import os
import re
import sys
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from forensics.evidence import DEFAULT_MAX_DECOMPRESSED, read_lines, rel_source
from forensics.schemas import REJECTS

#: Per-file accounting: ``records`` + ``rejected`` = lines the file holds (``rows``: table rows).
COUNTS = pl.Schema({"source": pl.String, "records": pl.Int64, "rejected": pl.Int64, "rows": pl.Int64})

#: Lines parsed together in one vectorised pass; bounds memory whatever the number of files.
DEFAULT_BATCH_LINES = 400_000


@dataclass
class Loaded:
    """A loader's output: the table, its rejects and per-file accounting (all eager)."""

    records: pl.DataFrame
    rejects: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=REJECTS))
    counts: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=COUNTS))


# --- file order -------------------------------------------------------------------------------

_COMPRESSED = re.compile(r"\.(gz|bz2|xz)$", re.I)
_DATED = re.compile(r"^(?P<base>.*?)[-._](?P<date>\d{8})$")
_NUMBERED = re.compile(r"^(?P<base>.*)\.(?P<n>\d+)$")


def rotation_key(path: Path) -> tuple:
    """Sort key putting a rotated set in time order: oldest first, the current file last.

    ``access_log-20170402`` sorts by its date; ``access.log.N`` by N, higher = older;
    the un-suffixed current file comes last; ``.gz`` is ignored for ordering.
    """
    name = _COMPRESSED.sub("", Path(path).name)
    if m := _DATED.match(name):
        return (str(Path(path).parent), m["base"], 0, m["date"], 0)
    if m := _NUMBERED.match(name):
        return (str(Path(path).parent), m["base"], 1, "", -int(m["n"]))
    return (str(Path(path).parent), name, 2, "", 0)


def in_time_order(paths: Iterable[Path]) -> list[Path]:
    return sorted((Path(p) for p in paths), key=rotation_key)


# --- progress ---------------------------------------------------------------------------------

def _want_progress() -> bool:
    if "ipykernel" in sys.modules:
        return True  # Jupyter: stderr is no TTY, but the analyst watches the cell
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def progress(items: Sequence, desc: str, show: bool | None = None):
    """tqdm over files, shown only when a load lasts over a second (and someone can see it)."""
    show = _want_progress() if show is None else show
    if not show:
        return items
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover
        return items
    return tqdm(items, desc=desc, unit="file", delay=1.0, leave=False)


# --- times ------------------------------------------------------------------------------------

def local_to_utc(naive: pl.Expr, tz: str, skew_seconds: float = 0) -> pl.Expr:
    """Naive wall-clock times in ``tz`` -> UTC instants.

    DST: an ambiguous time (the repeated hour) takes the earliest instant; a time that does not
    exist (the skipped hour) becomes null and the loader rejects its line with a reason.
    ``skew_seconds`` (case.yml ``facts.clock_skew``) is subtracted: a clock that ran ahead by N s
    logged times N s late.
    """
    out = naive.dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null").dt.convert_time_zone("UTC")
    return shift_skew(out, skew_seconds)


def shift_skew(ts: pl.Expr, skew_seconds: float = 0) -> pl.Expr:
    if skew_seconds:
        ts = ts - pl.duration(microseconds=round(skew_seconds * 1_000_000))
    return ts.dt.cast_time_unit("us")


# --- driving a line-based loader --------------------------------------------------------------

ParseBatch = Callable[[pl.DataFrame], tuple[pl.DataFrame, pl.DataFrame]]


def load_line_files(
    paths: Iterable[Path],
    parse: ParseBatch,
    *,
    schema: pl.Schema,
    case_root: Path | None,
    desc: str,
    max_decompressed: int = DEFAULT_MAX_DECOMPRESSED,
    batch_lines: int = DEFAULT_BATCH_LINES,
    per_file: bool = False,
    show_progress: bool | None = None,
    workers: int | None = None,
) -> Loaded:
    """Read files (time order), parse them batch by batch and account for every line.

    ``parse`` gets ``{source, line_no, line, invalid_utf8}`` and returns ``(records, rejects)``;
    ``records`` must carry ``source`` and a ``_lines`` column (physical lines each record used).
    ``per_file`` parses each file alone (loaders whose records span lines).

    The calling thread reads and decompresses (zlib and polars release the GIL) while up to
    ``workers`` threads parse earlier batches; at most ``workers + 1`` batches are in memory, so
    peak memory depends on the batch size, not on the number of files.
    """
    paths = in_time_order(paths)
    workers = workers or min(2, os.cpu_count() or 1)
    rec_parts: list[pl.DataFrame] = []
    rej_parts: list[pl.DataFrame] = []
    pending: list[pl.DataFrame] = []
    pending_n = 0
    sources: list[str] = []
    inflight: deque[Future] = deque()

    def drain(limit: int) -> None:
        while len(inflight) > limit:
            recs, rejs = inflight.popleft().result()
            rec_parts.append(recs)
            rej_parts.append(rejs)

    with ThreadPoolExecutor(max_workers=workers) as pool:

        def flush() -> None:
            nonlocal pending, pending_n
            if not pending:
                return
            batch = pl.concat(pending, how="vertical") if len(pending) > 1 else pending[0]
            pending, pending_n = [], 0
            inflight.append(pool.submit(parse, batch))
            drain(workers)

        for path in progress(paths, desc, show_progress):
            source = rel_source(path, case_root)
            sources.append(source)
            lines, tail = read_lines(path, max_decompressed=max_decompressed)
            if tail.height:
                rej_parts.append(tail.select(pl.lit(source).alias("source"), *REJECTS.names()[1:]).cast(REJECTS))
            lines = lines.with_columns(source=pl.lit(source, pl.String))
            # split a big file so batches stay bounded and both workers get work
            for start in range(0, max(lines.height, 1), batch_lines if not per_file else max(lines.height, 1)):
                part = lines.slice(start, batch_lines) if not per_file else lines
                pending.append(part)
                pending_n += part.height
                if per_file or pending_n >= batch_lines:
                    flush()
        flush()
        drain(0)

    records = pl.concat(rec_parts, how="vertical_relaxed") if rec_parts else None
    rejects = pl.concat(rej_parts, how="vertical").cast(REJECTS) if rej_parts else pl.DataFrame(schema=REJECTS)
    return account(records, rejects, sources, schema)


def account(records: pl.DataFrame | None, rejects: pl.DataFrame, sources: list[str], schema: pl.Schema) -> Loaded:
    """Per-file counts and the final table.

    ``records`` carries ``_lines`` (physical lines a record used) and may carry ``_keep`` (False for
    recognised lines that are accounted for but are no table row, e.g. a MySQL log's banner).
    """
    src = pl.DataFrame({"source": sources}, schema={"source": pl.String}).unique(maintain_order=True)
    jc = rejects.group_by("source").agg(rejected=pl.len().cast(pl.Int64))
    if records is None or records.height == 0:
        rc = pl.DataFrame(schema={"source": pl.String, "records": pl.Int64, "rows": pl.Int64})
        table = pl.DataFrame(schema=schema)
    else:
        rows = pl.col("_keep").sum() if "_keep" in records.columns else pl.len()
        rc = records.group_by("source").agg(records=pl.col("_lines").sum().cast(pl.Int64), rows=rows.cast(pl.Int64))
        keep = pl.col("_keep") if "_keep" in records.columns else pl.lit(True)
        kept = records.filter(keep) if "_keep" in records.columns else records
        table = kept.select(schema.names()).cast(schema)
    counts = (
        src.join(rc, on="source", how="left", maintain_order="left")
        .join(jc, on="source", how="left", maintain_order="left")
        .select(
            "source",
            pl.col("records").fill_null(0),
            pl.col("rejected").fill_null(0),
            pl.col("rows").fill_null(0),
        )
    )
    return Loaded(table, rejects, counts.cast(COUNTS))


def empty_loaded(schema: pl.Schema) -> Loaded:
    return Loaded(pl.DataFrame(schema=schema))


def span_rejects(bad: pl.DataFrame, reason: str = "continuation of a rejected record") -> pl.DataFrame:
    """REJECTS for the 2nd..nth lines of rejected records spanning ``_lines`` lines.

    ``bad``: ``source``, ``line_no`` (first line), ``_lines``; a record spanning several lines
    that is rejected must still account for each of its lines.
    """
    multi = bad.filter(pl.col("_lines") > 1)
    if not multi.height:
        return pl.DataFrame(schema=REJECTS)
    return (
        multi.select("source", "line_no", off=pl.int_ranges(1, pl.col("_lines")))
        .explode("off")
        .select(
            "source",
            line_no=pl.col("line_no") + pl.col("off"),
            reason=pl.lit(reason),
            excerpt=pl.lit(""),
        )
        .cast(REJECTS)
    )
