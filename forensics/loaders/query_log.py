r"""MySQL general query log, 5.6 and 5.7+ layouts -> :data:`forensics.schemas.QUERY_LOG`.

5.6 (``log_output=FILE``)::

    170331 23:31:02\t   12 Query\tSELECT ...      <- time printed when it changes
    \t\t   12 Query\tSELECT ...                   <- same second: no time, carried forward
    170401  9:05:01\t   13 Connect\tshop@localhost on eccube   <- hour space-padded

naive times in the case zone. 5.7+::

    2017-03-31T14:31:02.123456Z\t   12 Query\tSELECT ...

UTC (``Z``; an explicit ``+hh:mm`` offset, as ``log_timestamps=SYSTEM`` writes, is honoured).
A line that starts neither way continues the statement above (multi-line statements are joined
with ``\n``; ``line_no`` is the first line, ``line_count`` the lines spanned). The server banner
(``mysqld, Version: ... started with:``, ``Tcp port: ...``, ``Time Id Command Argument``) is
recognised and accounted for as records, but yields no rows.

5.6 prints a time only when it changes, so a statement's time is the last one printed before it.
That time carries from one file to the next only within one rotated series (``general.log.2``,
``general.log.1``, ``general.log`` read oldest first; series are told apart by folder and base
name), never into an unrelated log. Statements at the head of a series, before its first printed
time, are kept as records: ``ts`` null and ``ts_before`` the first time of their file (they ran
before it), so nothing is guessed and nothing is lost.

A statement longer than :data:`MAX_STATEMENT_BYTES` (its lines joined) is rejected with its size:
its first line says why, its other lines are continuations of it. A longer *line* is already one
reject from the reader (:data:`forensics.evidence.MAX_LINE_BYTES`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import polars as pl

from forensics.evidence import DEFAULT_MAX_DECOMPRESSED, MAX_LINE_BYTES, head_lines, line_excerpt, rel_source
from forensics.loaders._common import (
    BATCH_BYTES,
    DEFAULT_BATCH_LINES,
    Loaded,
    _pieces,
    batch_loaded,
    collect_loaded,
    in_time_order,
    line_bytes,
    local_to_utc,
    rotation_key,
    progress,
    shift_skew,
    span_rejects,
    tail_rejects,
)
from forensics.schemas import QUERY_LOG, REJECTS

_TIME = (
    r"(?:"
    r"(?P<t57>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?)(?P<tz57>Z|[+-]\d\d:\d\d)\s+"  # 5.7+
    r"|(?P<t56>\d{6} [ \d]\d:\d\d:\d\d)\t\s*"  # 5.6 with time
    r"|\t\t\s*"  # 5.6, same second as the line before
    r")"
)
_CMD = r"(?P<id>\d+) (?P<command>[A-Z][A-Za-z]*(?: [A-Za-z]+)*)"

#: A line that begins a statement: its time (5.7+; 5.6 printed, or none), thread id, command and
#: argument (the rest of the line after a tab).
ENTRY = r"(?s)^" + _TIME + _CMD + r"(?:\t(?P<argument>.*))?$"

#: The same line's head only (up to and including the tab before the argument): read with
#: :func:`_entry`, which takes the argument as the rest of the line, it is the same reading as
#: :data:`ENTRY` without running the regex over the statement's text.
_ENTRY_HEAD = r"^(?P<head>" + _TIME + _CMD + r"(?:\t|$))"


#: The fields :func:`_entry` reads from a line that begins a statement.
_ENTRY_FIELDS = ("t57", "tz57", "t56", "id", "command", "argument")


def _entry(line: pl.Expr) -> pl.Expr:
    """:data:`ENTRY`'s groups of ``line`` as a struct (``t57, tz57, t56, id, command, argument``;
    all null when it is not the start of a statement)."""
    head = line.str.extract_groups(_ENTRY_HEAD)
    matched = head.struct.field("head")
    argument = pl.when(matched.str.ends_with("\t")).then(line.str.slice(matched.str.len_chars()))
    return pl.struct(*(head.struct.field(f) for f in _ENTRY_FIELDS[:-1]), argument.alias("argument"))


BANNER = (
    r"^(?:\S.*, Version: .*started with:"
    r"|Tcp port: \d+\s+Unix socket: .*"
    r"|Time\s+Id\s+Command\s+Argument)\s*$"
)


#: Longest statement parsed (bytes, its lines joined with ``\n``); the same bound as one line.
MAX_STATEMENT_BYTES = MAX_LINE_BYTES


def _over_limit(size: pl.Expr) -> pl.Expr:
    return pl.format("statement of {} bytes exceeds the limit of {} bytes: not parsed",
                     size, pl.lit(f"{MAX_STATEMENT_BYTES:,}"))


def _statement_starts(lines: pl.DataFrame) -> pl.Series:
    """Which lines begin a statement or are a server banner (as :func:`_parse_statements` reads them)."""
    line = pl.when(~pl.col("invalid_utf8")).then(pl.col("line"))
    return lines.select(
        line.str.extract_groups(_ENTRY_HEAD).struct.field("command").is_not_null() | line.str.contains(BANNER)
    ).to_series().fill_null(False)


def parse_query_lines(lines: pl.DataFrame, *, timezone: str, skew_seconds: float = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``{source, line_no, line, invalid_utf8}`` (and optionally ``series``) -> (QUERY_LOG rows +
    ``_lines``/``_keep``, REJECTS). Without ``series`` each file is its own series."""
    records, rejects, _, _ = _parse_statements(lines, timezone=timezone, skew_seconds=skew_seconds)
    return records, rejects


def _statements(lines: pl.DataFrame) -> pl.DataFrame:
    """One row per statement (``source``, ``grp``: its number in its file), in line order: its
    first line's fields and ``argument`` its ``piece`` (argument, then continuation lines) joined
    with ``\n``. Nearly every statement is one line: those are taken as they are, and only the
    statements that go on over several lines are grouped (grouping every line cost as much as
    the rest of the parse)."""
    lines = lines.with_row_index("_i")
    multi = lines.filter(~pl.col("start")).select("source", "grp").unique()
    first = ["series", "line_no", "line", "banner", "t57", "tz57", "t56", "command", "invalid_utf8"]
    one = lines.join(multi, on=["source", "grp"], how="anti", maintain_order="left").select(
        "_i", "source", "grp", *first,
        conn_id=pl.col("id").cast(pl.Int64, strict=False),
        argument="piece",
        bad_utf8="invalid_utf8",
        _lines=pl.lit(1, pl.Int64),
        line_count=pl.lit(1, pl.Int32),
        _bytes=pl.col("piece").str.len_bytes().cast(pl.Int64),
    )
    if not multi.height:
        return one.drop("_i")
    many = lines.join(multi, on=["source", "grp"], how="semi", maintain_order="left").group_by(
        "source", "grp", maintain_order=True).agg(
        pl.col("_i").first(),
        *[pl.col(c).first() for c in first],
        conn_id=pl.col("id").first().cast(pl.Int64, strict=False),
        argument=pl.col("piece").str.join("\n"),
        bad_utf8=pl.col("invalid_utf8").any(),
        _lines=pl.len().cast(pl.Int64),
        line_count=pl.len().cast(pl.Int32),
        _bytes=(pl.col("piece").str.len_bytes().sum() + pl.len() - 1).cast(pl.Int64),
    )
    return pl.concat([one, many.select(one.columns)]).sort("_i").drop("_i")


Carry = tuple[str, dt.datetime]  # (series, the 5.6 naive time in force)


def _parse_statements(
    lines: pl.DataFrame, *, timezone: str, skew_seconds: float = 0, carry: Carry | None = None,
    hold_back: bool = False, hold_untimed: bool = True,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, Carry | None]:
    """:func:`parse_query_lines` for one batch of a stream: ``(records, rejects, held, carry)``.

    ``carry``: the 5.6 time in force before the batch and the series it belongs to (5.6 prints the
    time only when it changes; it carries only within a series). With ``hold_back``, the batch's
    last statement (it may go on in the next batch) is not parsed to the end: its lines come back
    as ``held``, to be put in front of the next batch. When the statements at the end are in a
    repeated DST hour, the hold-back starts where that stretch of ambiguous times starts, so the
    repeated-hour rule sees the whole stretch in one batch; with ``hold_untimed``, untimed
    statements at the head of the last file wait, too, until their file's first time is known.
    The returned ``carry`` is the 5.6 time in force before the first held line.
    """
    if "series" not in lines.columns:
        lines = lines.with_columns(series=pl.col("source"))
    # the entry is read from every line, then blanked on the lines not valid UTF-8 (reading a
    # masked column instead costs six times as much)
    df = lines.with_columns(
        banner=pl.col("line").str.contains(BANNER) & ~pl.col("invalid_utf8"),
        m=_entry(pl.col("line")),
    ).unnest("m").with_columns(pl.when(~pl.col("invalid_utf8")).then(pl.col(f)) for f in _ENTRY_FIELDS)
    df = df.with_columns(start=pl.col("command").is_not_null() | pl.col("banner"))
    # invalid UTF-8 inside a statement is still part of it; only the statement is affected
    df = df.with_columns(grp=pl.col("start").cum_sum().over("source"))
    rejects = [
        df.filter(pl.col("grp") == 0).select(
            "source", "line_no",
            reason=pl.when(pl.col("invalid_utf8")).then(pl.lit("invalid UTF-8 (bytes shown as \\xNN)"))
            .otherwise(pl.lit("not a query-log entry and no statement before it")),
            excerpt=line_excerpt(),
        )
    ]
    df = df.filter(pl.col("grp") > 0).with_columns(
        piece=pl.when(pl.col("start")).then(pl.col("argument").fill_null("")).otherwise(pl.col("line"))
    )
    rec = _statements(df)
    t56 = pl.col("t56")
    local56 = pl.concat_str(t56.str.slice(0, 6), pl.lit(" "), t56.str.slice(7).str.strip_chars().str.zfill(8)).str.to_datetime(
        "%y%m%d %H:%M:%S", time_unit="us", strict=False
    )
    carry_series, carry_time = carry if carry is not None else (None, None)
    # 5.6 prints the time only when it changes: carry it forward within the series (banner rows
    # reset nothing); the time in force before the batch applies to its own series only
    rec = rec.with_columns(
        _printed56=pl.when(pl.col("t57").is_null() & ~pl.col("banner")).then(local56),
    ).with_columns(
        _local56=pl.col("_printed56").forward_fill().over("series"),
        _first56=pl.col("_printed56").drop_nulls().first().over("source"),
    ).with_columns(
        _local56=pl.when(pl.col("_local56").is_null() & (pl.col("series") == pl.lit(carry_series, pl.String)))
        .then(pl.lit(carry_time, pl.Datetime("us"))).otherwise(pl.col("_local56")),
    )
    untimed = pl.col("t57").is_null() & ~pl.col("banner") & pl.col("_local56").is_null() & pl.col("t56").is_null()
    tz = pl.col("tz57")
    off_min = pl.when(tz == "Z").then(0).otherwise(
        (pl.when(tz.str.slice(0, 1) == "-").then(-1).otherwise(1))
        * (tz.str.slice(1, 2).cast(pl.Int32, strict=False) * 60 + tz.str.slice(4, 2).cast(pl.Int32, strict=False))
    )
    utc57 = (
        pl.col("t57").str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", time_unit="us", strict=False) - pl.duration(minutes=off_min)
    ).dt.replace_time_zone("UTC")
    # 5.6 prints a time only when it changes, so most statements repeat the time of the one
    # before: the zone is applied once per run of one time in a file, as row by row (the
    # repeated-hour rule reads a run as it reads its first row)
    run_starts = (pl.col("_local56").ne_missing(pl.col("_local56").shift(1))
                  | pl.col("source").ne_missing(pl.col("source").shift(1)))
    runs = rec.select(run_starts).to_series()
    utc56 = rec.filter(runs).select(local_to_utc(pl.col("_local56"), timezone, skew_seconds,
                                                 in_order_over="source")).to_series()
    rec = rec.with_columns(_utc56=utc56.gather(runs.cum_sum() - 1))
    rec = rec.with_columns(
        _untimed=untimed,
        ts=pl.when(pl.col("t57").is_not_null())
        .then(shift_skew(utc57, skew_seconds))
        .otherwise(pl.col("_utc56")),
        ts_before=local_to_utc(pl.when(untimed).then(pl.col("_first56")), timezone, skew_seconds),
        layout=pl.when(pl.col("t57").is_not_null()).then(pl.lit("mysql5.7")).otherwise(pl.lit("mysql5.6")),
    )
    huge = pl.col("_bytes") > MAX_STATEMENT_BYTES
    bad = ~pl.col("banner") & ((pl.col("ts").is_null() & ~pl.col("_untimed")) | pl.col("bad_utf8") | huge)
    rejects.append(
        rec.filter(bad).select(
            "source", "line_no",
            reason=pl.when(huge).then(_over_limit(pl.col("_bytes")))
            .when(pl.col("bad_utf8")).then(pl.lit("invalid UTF-8 in statement (bytes shown as \\xNN)"))
            .when(pl.col("t57").is_not_null()).then(pl.lit("impossible date or time"))
            .when(pl.col("_local56").is_null()).then(pl.lit("impossible date or time"))
            .otherwise(pl.lit(f"time does not exist in {timezone} (DST gap)")),
            excerpt=line_excerpt(),
        )
    )
    # a multi-line statement rejected as a whole still accounts for its other lines
    rejects.append(span_rejects(rec.filter(bad), "continuation of a rejected statement"))
    held = lines.clear()
    if hold_back and rec.height:
        last = rec["source"][-1]
        tail = rec.filter(pl.col("source") == last).select("line_no", "_local56", "_untimed", "ts_before")
        early = pl.col("_local56").dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null")
        late = pl.col("_local56").dt.replace_time_zone(timezone, ambiguous="latest", non_existent="null")
        amb = tail.select((early != late).fill_null(False))[:, 0]
        # the trailing run of ambiguous statements, or at least the last statement
        n_amb = _trailing_true(amb)
        start = max(tail.height - max(n_amb, 1), 0)
        if hold_untimed:
            # untimed head statements whose file's first time is not in this batch yet
            waiting = tail.select(pl.col("_untimed") & pl.col("ts_before").is_null())[:, 0].arg_true()
            if waiting.len():
                start = min(start, int(waiting[0]))
        cut = tail["line_no"][start]
        keep_row = (pl.col("source") != last) | (pl.col("line_no") < cut)
        held = lines.filter(~keep_row)
        rec = rec.filter(keep_row)
        rejects = [r.filter(keep_row) for r in rejects]
    timed = rec.filter(pl.col("_local56").is_not_null())
    carry_out = (timed["series"][-1], timed["_local56"][-1]) if timed.height else carry
    rec = rec.filter(~bad).with_columns(_keep=~pl.col("banner"))
    records = rec.select(*QUERY_LOG.names(), "_lines", "_keep").cast({**QUERY_LOG, "_lines": pl.Int64})
    return records, pl.concat(rejects).cast(REJECTS), held, carry_out


def _trailing_true(mask: pl.Series) -> int:
    """How many values at the end of a boolean series are true."""
    false_at = (~mask).arg_true()
    return mask.len() if false_at.len() == 0 else mask.len() - 1 - int(false_at[-1])


def series_name(path: Path) -> str:
    """The rotated series a file belongs to (folder and base name: ``general.log.3.gz`` and
    ``general.log`` are one series; ``slow/general.log`` or ``query.log`` another)."""
    folder, base, *_ = rotation_key(path)
    return f"{folder}\0{base}"


def opens_with_its_time(path: Path, *, lines: int = 200) -> bool:
    """Whether the first statement of a query-log file prints its time (every 5.7+ line does; a
    5.6 file when its first statement is not in the same second as the last one before it), read
    from its head: such a file needs nothing carried from the file before it in its series and
    can be parsed on its own. A head without any statement, or a file that cannot be read, says no."""
    entry, banner = re.compile(_ENTRY_HEAD), re.compile(BANNER)
    try:
        head = head_lines(path, lines)
    except (OSError, ValueError):
        return False
    for line in head:
        if banner.match(line):
            continue
        m = entry.match(line)
        if m:
            return m.group("t57") is not None or m.group("t56") is not None
    return False


#: Lines an untimed head of a file may be held back while its file's first time is awaited (in
#: batches of ``batch_lines``): past it the statements are given without a bound.
UNTIMED_HOLD_BATCHES = 4


def iter_query_logs(
    paths: Iterable[str | Path],
    *,
    case_root: str | Path | None = None,
    timezone: str = "UTC",
    skew_seconds: float = 0,
    max_decompressed: int = DEFAULT_MAX_DECOMPRESSED,
    batch_lines: int = DEFAULT_BATCH_LINES,
    show_progress: bool | None = None,
    sources: list[str] | None = None,
) -> Iterator[Loaded]:
    """Stream the query logs batch by batch (files oldest first, statements in order).

    Each item is a :class:`Loaded` with that batch's ``records`` (QUERY_LOG), ``rejects`` and
    partial ``counts``; memory stays bounded by ``batch_lines`` whatever the size of the logs.
    The result is the same as reading everything at once: a statement that goes on past a batch
    is held back and parsed with the next one, the 5.6 time carries forward from batch to batch
    (and from file to file of one rotated series), and a repeated DST hour is never cut.
    ``sources`` (if given) receives each file's source name as it is opened.
    """
    root = Path(case_root) if case_root is not None else None
    pending: list[pl.DataFrame] = []
    pending_n = pending_bytes = 0
    carry: Carry | None = None
    held_n = held_bytes = 0
    skipping: str | None = None  # source whose statement over the limit goes on: its lines are skipped

    def parse(final: bool) -> Loaded:
        nonlocal pending, pending_n, pending_bytes, carry, held_n, held_bytes, skipping
        batch = pl.concat(pending, how="vertical") if len(pending) > 1 else pending[0]
        records, rejects, held, carry_out = _parse_statements(
            batch, timezone=timezone, skew_seconds=skew_seconds, carry=carry, hold_back=not final,
            hold_untimed=held_n < UNTIMED_HOLD_BATCHES * batch_lines)
        size = line_bytes(held) + held.height
        if size > MAX_STATEMENT_BYTES:  # the statement that goes on is already over the limit
            last = int(_statement_starts(held).arg_true()[-1])
            big, held = held.slice(last), held.head(last)
            # the time it printed still carries to the statements after it
            carry_out = _parse_statements(big.head(1), timezone=timezone, skew_seconds=skew_seconds,
                                          carry=carry_out)[3]
            size = line_bytes(big) + big.height - 1
            rejects = pl.concat([rejects, _skipped(big, _over_limit(pl.lit(f"at least {size:,}")))])
            skipping = big["source"][0]
        carry = carry_out
        pending = [held] if held.height else []
        pending_n = held_n = held.height
        pending_bytes = held_bytes = line_bytes(held)
        return batch_loaded(records, rejects, QUERY_LOG)

    for path in progress(in_time_order(Path(p) for p in paths), "query logs", show_progress):
        source = rel_source(path, root)
        series = series_name(path)
        if sources is not None:
            sources.append(source)
        for lines, tail in _pieces(path, max_decompressed):
            lines = lines.with_columns(source=pl.lit(source, pl.String), series=pl.lit(series, pl.String))
            if skipping is not None and skipping != source:
                skipping = None  # a new file begins with a statement of its own
            start = 0
            while start < lines.height:
                # a statement held back for long (a huge one) waits for twice its size: no re-parsing loop
                want = max(batch_lines, 2 * held_n)
                part = lines.slice(start, max(want - pending_n, 1))
                start += part.height
                if skipping is not None:  # the rest of a statement over the limit
                    starts = _statement_starts(part).arg_true()
                    cont = part.head(int(starts[0]) if starts.len() else part.height)
                    if cont.height:
                        yield batch_loaded(None, _skipped(cont), QUERY_LOG)
                        part = part.slice(cont.height)
                    if starts.len():
                        skipping = None
                    if not part.height:
                        continue
                pending.append(part)
                pending_n += part.height
                pending_bytes += line_bytes(part)
                if pending_n >= want or pending_bytes >= max(BATCH_BYTES, 2 * held_bytes):
                    yield parse(final=False)
            if tail.height:  # rejects of a damaged gzip's end
                yield batch_loaded(None, tail_rejects(tail, source), QUERY_LOG)
    if pending:
        yield parse(final=True)


def _skipped(lines: pl.DataFrame, first: pl.Expr | None = None) -> pl.DataFrame:
    """REJECTS for lines of a statement over the limit: ``first`` the reason of the first line
    (None: every line is a continuation)."""
    cont = pl.lit("continuation of a rejected statement")
    reason = cont if first is None else pl.when(pl.int_range(pl.len()) == 0).then(first).otherwise(cont)
    return lines.select(
        "source", "line_no", reason=reason,
        excerpt=pl.when(pl.int_range(pl.len()) == 0).then(line_excerpt()).otherwise(pl.lit("")),
    ).cast(REJECTS)


def read_query_logs(
    paths: Iterable[str | Path],
    *,
    case_root: str | Path | None = None,
    timezone: str = "UTC",
    skew_seconds: float = 0,
    max_decompressed: int = DEFAULT_MAX_DECOMPRESSED,
    batch_lines: int = DEFAULT_BATCH_LINES,
    show_progress: bool | None = None,
) -> Loaded:
    """Read MySQL general query logs eagerly: ``records`` (QUERY_LOG), ``rejects``, ``counts``.

    Returns
    -------
    Loaded
        ``records`` columns: ``ts``, ``source``, ``line_no``, ``line_count``, ``conn_id``,
        ``command``, ``argument``, ``layout``. ``counts.records`` counts physical lines consumed
        (statements and banner lines); ``counts.rows`` counts statements.
    """
    sources: list[str] = []
    batches = iter_query_logs(
        paths, case_root=case_root, timezone=timezone, skew_seconds=skew_seconds, max_decompressed=max_decompressed,
        batch_lines=batch_lines, show_progress=show_progress, sources=sources,
    )
    return collect_loaded(batches, sources, QUERY_LOG)


def scan_query_logs(paths: Iterable[str | Path], *, case_root: str | Path | None = None, **options) -> pl.LazyFrame:
    """MySQL general query logs as a LazyFrame of :data:`~forensics.schemas.QUERY_LOG`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "general.log").write_text(
    ...     "170331 23:31:02\\t   12 Query\\tSELECT *\\nFROM dtb_customer\\n"
    ...     "\\t\\t   12 Quit\\t\\n")
    >>> scan_query_logs([d / "general.log"], case_root=d, timezone="Asia/Tokyo").select(
    ...     "ts", "line_no", "line_count", "conn_id", "command", "argument").collect()
    shape: (2, 6)
    ┌─────────────────────────┬─────────┬────────────┬─────────┬─────────┬───────────────────┐
    │ ts                      ┆ line_no ┆ line_count ┆ conn_id ┆ command ┆ argument          │
    │ ---                     ┆ ---     ┆ ---        ┆ ---     ┆ ---     ┆ ---               │
    │ datetime[μs, UTC]       ┆ i64     ┆ i32        ┆ i64     ┆ str     ┆ str               │
    ╞═════════════════════════╪═════════╪════════════╪═════════╪═════════╪═══════════════════╡
    │ 2017-03-31 14:31:02 UTC ┆ 1       ┆ 2          ┆ 12      ┆ Query   ┆ SELECT *          │
    │                         ┆         ┆            ┆         ┆         ┆ FROM dtb_customer │
    │ 2017-03-31 14:31:02 UTC ┆ 3       ┆ 1          ┆ 12      ┆ Quit    ┆                   │
    └─────────────────────────┴─────────┴────────────┴─────────┴─────────┴───────────────────┘
    """
    paths = [Path(p) for p in paths]
    return pl.defer(lambda: read_query_logs(paths, case_root=case_root, **options).records, schema=QUERY_LOG)
