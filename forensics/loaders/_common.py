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

from forensics.evidence import DEFAULT_MAX_DECOMPRESSED, RawLines, iter_lines, iter_raw_lines, rel_source
from forensics.schemas import REJECTS

#: Per-file accounting: ``records`` + ``rejected`` = lines the file holds (``rows``: table rows).
COUNTS = pl.Schema({"source": pl.String, "records": pl.Int64, "rejected": pl.Int64, "rows": pl.Int64})

#: Lines parsed together in one vectorised pass; bounds memory whatever the number of files.
DEFAULT_BATCH_LINES = 400_000

#: Bytes of lines parsed together at most (a batch ends at whichever bound comes first): with long
#: lines, memory stays bounded by bytes, not by a count of lines. Ordinary logs (lines of a few
#: hundred bytes: 400,000 access-log lines are about 100 MB) reach :data:`DEFAULT_BATCH_LINES` first.
BATCH_BYTES = 128 * 1024**2


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
    if os.environ.get("FORENSICS_PROGRESS") == "0":
        return False  # batch runs (forensics run): nobody watches, and outputs must not vary
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

def local_to_utc(naive: pl.Expr, tz: str, skew_seconds: float = 0, *, in_order_over: str | None = None) -> pl.Expr:
    """Naive wall-clock times in ``tz`` -> UTC instants.

    DST: an ambiguous time (the repeated hour) takes the earliest instant (first pass, e.g. EDT);
    a time that does not exist (the skipped hour) becomes null and the loader rejects its line
    with a reason. With ``in_order_over`` (a column, e.g. ``"source"``; rows in the order the log
    wrote them), a log that steps back inside the repeated hour is in its second pass: that row
    and the following ambiguous rows of the same group take the later instant (e.g. EST).
    ``skew_seconds`` (case.yml ``facts.clock_skew``) is subtracted: a clock that ran ahead by N s
    logged times N s late.
    """
    early = naive.dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null")
    if in_order_over is not None:
        late = naive.dt.replace_time_zone(tz, ambiguous="latest", non_existent="null")
        ambiguous = (early != late).fill_null(False)
        # the repeated hour, once the clock went back: a time lower than one already written
        before = naive.cum_max().shift(1).over(in_order_over)
        went_back = (ambiguous & (naive < before).fill_null(False)).cast(pl.Int32)
        # a second pass lasts while times stay ambiguous (a run of ambiguous rows): the clock went
        # back since the last unambiguous row (counts, not a window per run: a log has one run
        # per unambiguous row, and a window over each would cost more than the whole parse)
        went_back_so_far = went_back.cum_sum().over(in_order_over)
        at_run_start = pl.when(~ambiguous).then(went_back_so_far).forward_fill().over(in_order_over).fill_null(0)
        second = ambiguous & (went_back_so_far > at_run_start)
        early = pl.when(second).then(late).otherwise(early)
    return shift_skew(early.dt.convert_time_zone("UTC"), skew_seconds)


def shift_skew(ts: pl.Expr, skew_seconds: float = 0) -> pl.Expr:
    if skew_seconds:
        ts = ts - pl.duration(microseconds=round(skew_seconds * 1_000_000))
    return ts.dt.cast_time_unit("us")


# --- driving a line-based loader --------------------------------------------------------------

ParseBatch = Callable[[pl.DataFrame], tuple[pl.DataFrame, pl.DataFrame]]


@dataclass(frozen=True)
class RawPart:
    """Unsplit whole lines of one source, as handed to a raw parser (``iter_parsed(raw=True)``)."""

    source: str
    raw: RawLines


def _pieces(path: Path, max_decompressed: int, raw: bool = False):
    """iter_lines (iter_raw_lines when ``raw``); a file that cannot be opened (a symlink, never
    followed; no permission) gives one reject row (``line_no`` null) instead of an exception."""
    it = (iter_raw_lines if raw else iter_lines)(path, max_decompressed=max_decompressed)
    try:
        first = next(it)
    except StopIteration:
        return
    except OSError as exc:
        reason = ("symlink: not followed (evidence is read without following links)" if Path(path).is_symlink()
                  else f"cannot open: {exc.strerror or exc}")
        yield (
            pl.DataFrame(schema={"line_no": pl.Int64, "line": pl.String, "invalid_utf8": pl.Boolean}),
            pl.DataFrame({"line_no": [None], "reason": [reason], "excerpt": [""]},
                         schema={"line_no": pl.Int64, "reason": pl.String, "excerpt": pl.String}),
        )
        return
    yield first
    yield from it


def iter_parsed(
    paths: Iterable[Path],
    parse: ParseBatch,
    *,
    case_root: Path | None,
    desc: str,
    max_decompressed: int = DEFAULT_MAX_DECOMPRESSED,
    batch_lines: int = DEFAULT_BATCH_LINES,
    show_progress: bool | None = None,
    workers: int | None = None,
    sources: list[str] | None = None,
    raw: bool = False,
):
    """Read files (time order) and yield ``(records, rejects)`` batch by batch, in order.

    With ``raw``, ``parse`` gets a list of parts instead, in line order: :class:`RawPart` (lines
    not split yet, split by the parser in its worker thread) or ``{line_no, line, invalid_utf8,
    source}`` frames (the damaged end of a gzip, a last line without newline).

    ``parse`` gets ``{line_no, line, invalid_utf8, source}`` and returns ``(records, rejects)``;
    ``records`` carry ``source`` and ``_lines`` (physical lines each record used). Files are
    streamed in pieces (:func:`forensics.evidence.iter_lines`) and cut into batches of about
    ``batch_lines`` lines or :data:`BATCH_BYTES` bytes, whichever comes first; a batch may hold
    several small files. The calling
    thread reads and decompresses (zlib and polars release the GIL) while up to ``workers``
    threads parse earlier batches; at most ``workers + 1`` batches are in memory, so peak memory
    depends on the batch size, not on the number or size of the files. By default one thread
    more than the cores parsing uses (at most two): with as many threads as cores, the last
    batch of a load runs alone while a core waits (about a tenth of a 2 M-line load on two
    cores). ``sources`` (if given) receives each file's source name as it is opened.
    """
    workers = workers or min(2, os.cpu_count() or 1) + 1
    pending: list[pl.DataFrame] = []
    pending_n = 0
    pending_bytes = 0
    inflight: deque[Future] = deque()

    with ThreadPoolExecutor(max_workers=workers) as pool:

        def submit() -> None:
            nonlocal pending, pending_n, pending_bytes
            if pending:
                if raw:
                    batch = pending
                else:
                    batch = pl.concat(pending, how="vertical") if len(pending) > 1 else pending[0]
                pending, pending_n, pending_bytes = [], 0, 0
                inflight.append(pool.submit(parse, batch))

        for path in progress(in_time_order(paths), desc, show_progress):
            source = rel_source(path, case_root)
            if sources is not None:
                sources.append(source)
            for lines, tail in _pieces(path, max_decompressed, raw):
                if isinstance(lines, RawLines):
                    piece = lines
                    while piece.n:  # fill the pending batch up to batch_lines exactly
                        room = batch_lines - pending_n
                        part, piece = piece.cut(room) if piece.n > room else (piece, RawLines(b"", 0, 0, 0, 0))
                        pending.append(RawPart(source, part))
                        pending_n += part.n
                        pending_bytes += part.end - part.start
                        if pending_n >= batch_lines or pending_bytes >= BATCH_BYTES:
                            submit()
                elif lines.height:
                    lines = lines.with_columns(source=pl.lit(source, pl.String))
                    start = 0
                    while start < lines.height:  # fill the pending batch up to batch_lines exactly
                        part = lines.slice(start, batch_lines - pending_n)
                        start += part.height
                        pending.append(part)
                        pending_n += part.height
                        pending_bytes += line_bytes(part)
                        if pending_n >= batch_lines or pending_bytes >= BATCH_BYTES:
                            submit()
                if tail.height:  # rejects of a damaged gzip's end: no parsing needed
                    done: Future = Future()
                    done.set_result((None, tail_rejects(tail, source)))
                    inflight.append(done)
                while len(inflight) > workers:
                    yield inflight.popleft().result()
        submit()
        while inflight:
            yield inflight.popleft().result()


def line_bytes(lines: pl.DataFrame) -> int:
    """Bytes of text in a :data:`~forensics.evidence.LINES` frame."""
    return int(lines["line"].str.len_bytes().sum() or 0) if lines.height else 0


def batch_counts(records: pl.DataFrame | None, rejects: pl.DataFrame) -> pl.DataFrame:
    """Per-source partial counts of one batch (COUNTS); a reject row with ``_lines`` stands for
    that many lines."""
    parts = []
    if records is not None and records.height:
        rows = pl.col("_keep").sum() if "_keep" in records.columns else pl.len()
        sums = dict(records=pl.col("_lines").sum().cast(pl.Int64), rejected=pl.lit(0, pl.Int64), rows=rows.cast(pl.Int64))
        source = records.get_column("source")
        first = source[0]
        if first is not None and source.null_count() == 0 and (source == first).all():
            # a batch of one file (the usual case): a comparison, not a hash of every row's source
            parts.append(records.select(source=pl.lit(first, pl.String), **sums))
        else:
            parts.append(records.group_by("source").agg(**sums))
    if rejects.height:
        # a reject standing for many lines (a whole file no format reads) says how many in ``_lines``
        rejected = pl.col("_lines").sum() if "_lines" in rejects.columns else pl.len()
        parts.append(rejects.group_by("source").agg(
            records=pl.lit(0, pl.Int64), rejected=rejected.cast(pl.Int64), rows=pl.lit(0, pl.Int64)))
    return pl.concat(parts).cast(COUNTS) if parts else pl.DataFrame(schema=COUNTS)


def finish_records(records: pl.DataFrame, schema: pl.Schema) -> pl.DataFrame:
    if "_keep" in records.columns:
        records = records.filter(pl.col("_keep"))
    records = records.select(schema.names())
    return records if records.schema == schema else records.cast(schema)


def tail_rejects(tail: pl.DataFrame, source: str) -> pl.DataFrame:
    """REJECTS of a file's tail rejects (``line_no, reason, excerpt``: a damaged gzip's end, a
    file that cannot be opened)."""
    return tail.select(pl.lit(source, pl.String).alias("source"), *REJECTS.names()[1:]).cast(REJECTS)


def batch_loaded(records: pl.DataFrame | None, rejects: pl.DataFrame, schema: pl.Schema) -> Loaded:
    """One parsed batch as a :class:`Loaded`: records of ``schema`` (``None``: none), rejects,
    and the batch's partial counts."""
    table = finish_records(records, schema) if records is not None else pl.DataFrame(schema=schema)
    return Loaded(table, rejects.select(REJECTS.names()).cast(REJECTS), batch_counts(records, rejects))


def collect_loaded(batches: Iterable[Loaded], sources: list[str], schema: pl.Schema) -> Loaded:
    """Batches collected into one :class:`Loaded`: table, rejects and per-file counts.

    ``sources``: every file's source name in reading order (it may be filled while ``batches``
    is consumed); a file without a record or reject still gets its counts row.
    """
    recs, rejs, counts = [], [], []
    for b in batches:
        counts.append(b.counts)
        if b.records.height:
            recs.append(b.records)
        if b.rejects.height:
            rejs.append(b.rejects)
    table = pl.concat(recs, how="vertical") if recs else pl.DataFrame(schema=schema)
    rejects = pl.concat(rejs, how="vertical") if rejs else pl.DataFrame(schema=REJECTS)
    return Loaded(table, rejects, merge_counts(counts, sources))


def load_line_files(
    paths: Iterable[Path],
    parse: ParseBatch,
    *,
    schema: pl.Schema,
    case_root: Path | None,
    desc: str,
    max_decompressed: int = DEFAULT_MAX_DECOMPRESSED,
    batch_lines: int = DEFAULT_BATCH_LINES,
    show_progress: bool | None = None,
    workers: int | None = None,
    raw: bool = False,
) -> Loaded:
    """Everything :func:`iter_parsed` yields, collected: table, rejects, per-file counts."""
    sources: list[str] = []
    batches = iter_parsed(
        paths, parse, case_root=case_root, desc=desc, max_decompressed=max_decompressed,
        batch_lines=batch_lines, show_progress=show_progress, workers=workers, sources=sources, raw=raw,
    )
    return collect_loaded((batch_loaded(r, rej, schema) for r, rej in batches), sources, schema)


def merge_counts(parts: list[pl.DataFrame], sources: list[str]) -> pl.DataFrame:
    src = pl.DataFrame({"source": sources}, schema={"source": pl.String}).unique(maintain_order=True)
    if parts:
        agg = pl.concat(parts).group_by("source").agg(pl.col("records", "rejected", "rows").sum())
    else:
        agg = pl.DataFrame(schema=COUNTS)
    return (
        src.join(agg, on="source", how="left", maintain_order="left")
        .select("source", *(pl.col(c).fill_null(0) for c in ("records", "rejected", "rows")))
        .cast(COUNTS)
    )


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
