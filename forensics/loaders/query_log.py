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
recognised and accounted for as records, but yields no rows. In 5.6 files the time carries
forward across the rotated set (read oldest first); statements before any time are rejected.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import polars as pl

from forensics.evidence import DEFAULT_MAX_DECOMPRESSED, escape_excerpt, line_excerpt
from forensics.loaders._common import Loaded, load_line_files, local_to_utc, shift_skew, span_rejects
from forensics.schemas import QUERY_LOG, REJECTS

_CMD = r"(?P<id>\d+) (?P<command>[A-Z][A-Za-z]*(?: [A-Za-z]+)*)(?:\t(?P<argument>.*))?$"

ENTRY = (
    r"(?s)^(?:"
    r"(?P<t57>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?)(?P<tz57>Z|[+-]\d\d:\d\d)\s+"  # 5.7+
    r"|(?P<t56>\d{6} [ \d]\d:\d\d:\d\d)\t\s*"  # 5.6 with time
    r"|\t\t\s*"  # 5.6, same second as the line before
    r")" + _CMD
)
BANNER = (
    r"^(?:\S.*, Version: .*started with:"
    r"|Tcp port: \d+\s+Unix socket: .*"
    r"|Time\s+Id\s+Command\s+Argument)\s*$"
)


def parse_query_lines(lines: pl.DataFrame, *, timezone: str, skew_seconds: float = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``{source, line_no, line, invalid_utf8}`` -> (QUERY_LOG rows + ``_lines``/``_keep``, REJECTS)."""
    df = lines.with_columns(
        banner=pl.col("line").str.contains(BANNER) & ~pl.col("invalid_utf8"),
        m=pl.when(~pl.col("invalid_utf8")).then(pl.col("line")).str.extract_groups(ENTRY),
    ).unnest("m")
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
    rec = df.group_by("source", "grp", maintain_order=True).agg(
        line_no=pl.col("line_no").first(),
        line=pl.col("line").first(),
        banner=pl.col("banner").first(),
        t57=pl.col("t57").first(),
        tz57=pl.col("tz57").first(),
        t56=pl.col("t56").first(),
        conn_id=pl.col("id").first().cast(pl.Int64, strict=False),
        command=pl.col("command").first(),
        argument=pl.col("piece").str.join("\n"),
        bad_utf8=pl.col("invalid_utf8").any(),
        invalid_utf8=pl.col("invalid_utf8").first(),
        _lines=pl.len().cast(pl.Int64),
        line_count=pl.len().cast(pl.Int32),
    )
    t56 = pl.col("t56")
    local56 = pl.concat_str(t56.str.slice(0, 6), pl.lit(" "), t56.str.slice(7).str.strip_chars().str.zfill(8)).str.to_datetime(
        "%y%m%d %H:%M:%S", time_unit="us", strict=False
    )
    # 5.6 prints the time only when it changes: carry it forward (banner rows reset nothing)
    rec = rec.with_columns(
        _has56=t56.is_not_null(),
        _local56=pl.when(pl.col("t57").is_null() & ~pl.col("banner")).then(local56),
    ).with_columns(_local56=pl.col("_local56").forward_fill())
    tz = pl.col("tz57")
    off_min = pl.when(tz == "Z").then(0).otherwise(
        (pl.when(tz.str.slice(0, 1) == "-").then(-1).otherwise(1))
        * (tz.str.slice(1, 2).cast(pl.Int32, strict=False) * 60 + tz.str.slice(4, 2).cast(pl.Int32, strict=False))
    )
    utc57 = (
        pl.col("t57").str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", time_unit="us", strict=False) - pl.duration(minutes=off_min)
    ).dt.replace_time_zone("UTC")
    rec = rec.with_columns(
        ts=pl.when(pl.col("t57").is_not_null())
        .then(shift_skew(utc57, skew_seconds))
        .otherwise(local_to_utc(pl.col("_local56"), timezone, skew_seconds, in_order_over="source")),
        layout=pl.when(pl.col("t57").is_not_null()).then(pl.lit("mysql5.7")).otherwise(pl.lit("mysql5.6")),
    )
    bad = ~pl.col("banner") & (pl.col("ts").is_null() | pl.col("bad_utf8"))
    rejects.append(
        rec.filter(bad).select(
            "source", "line_no",
            reason=pl.when(pl.col("bad_utf8")).then(pl.lit("invalid UTF-8 in statement (bytes shown as \\xNN)"))
            .when(pl.col("t57").is_not_null()).then(pl.lit("impossible date or time"))
            .when(pl.col("_local56").is_null()).then(pl.lit("5.6 statement before any time in the log (time is printed only when it changes)"))
            .otherwise(pl.lit(f"time does not exist in {timezone} (DST gap)")),
            excerpt=line_excerpt(),
        )
    )
    # a multi-line statement rejected as a whole still accounts for its other lines
    rejects.append(span_rejects(rec.filter(bad), "continuation of a rejected statement"))
    rec = rec.filter(~bad).with_columns(_keep=~pl.col("banner"))
    records = rec.select(*QUERY_LOG.names(), "_lines", "_keep").cast({**QUERY_LOG, "_lines": pl.Int64})
    return records, pl.concat(rejects).cast(REJECTS)


def read_query_logs(
    paths: Iterable[str | Path],
    *,
    case_root: str | Path | None = None,
    timezone: str = "UTC",
    skew_seconds: float = 0,
    max_decompressed: int = DEFAULT_MAX_DECOMPRESSED,
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
    return load_line_files(
        [Path(p) for p in paths],
        lambda b: parse_query_lines(b, timezone=timezone, skew_seconds=skew_seconds),
        schema=QUERY_LOG,
        case_root=Path(case_root) if case_root is not None else None,
        desc="query logs",
        max_decompressed=max_decompressed,
        batch_lines=10**12,  # one batch: statements span lines and 5.6 times carry across files
        show_progress=show_progress,
    )


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
