r"""EC-CUBE 2.13 application logs (``data/logs/admin.log``, ``site.log``, rotated ``.1``..``.5``).

Line layout, as ``GC_Utils::gfPrintLog`` writes it::

    YYYY/MM/DD HH:MM:SS [SCRIPT_NAME] MESSAGE from REMOTE_ADDR

The time is naive wall-clock time in the case zone. A message may span lines (EC-CUBE logs SQL
errors and dumps that way): a line that does not start with a date continues the record above
it and is joined to its message with ``\n``; ``line_no`` is the record's first line. A verbose
record (``error.log`` always, every log under ``DEBUG_MODE``) goes on after ``from REMOTE_ADDR``
with the session (``customer_id = N`` on shop pages, ``login_id = ID(AUTH)[SID]`` on admin pages)
and a backtrace (``FILE(LINE): Class->function`` per line): one record, the session's id in
``customer_id`` / ``sid`` (and ``login_id`` when the message names none), the backtrace in
``backtrace``. Structured messages recognised (``event``):

- ``login``: ``login: user=ID(N) auth=N lastlogin=... sid=SID`` (``LC_Page_Admin_Index``; the sid
  is empty when the session had no certificate yet, as on a fresh login: ``sid`` null)
- ``login_failed``: ``ID password incorrect.``
- ``access``: ``access : user=ID auth=N sid=SID`` (``SC_Session``, every admin page)
- ``logout``: ``logout : user=ID auth=N sid=SID`` (``SC_Session::logout``, an admin leaving)
- ``member_login`` / ``member_logout``: ``access : user=N<TAB>ip=HOST`` / ``logout : user=N<TAB>ip=HOST``
  in ``customer.log`` (``SC_Customer::startSession`` / ``EndSession``): a shop member (``customer_id``
  N) logging in or out; a failed member login is logged nowhere
- ``upload_failed``: ``File Upload Error!: ORIGNAME -> DIR/FILE`` (``SC_UploadFile::makeTempFile``
  when the move fails: no file was written)
- ``upload``: ``ORIGNAME -> DIR/FILE`` (``SC_UploadFile::makeTempFile``: the file manager, template
  and plugin packages, download-product files)
- ``download_copy``: ``1 -> DIR/FILE`` outside the file manager: ``SC_UploadFile::makeTempDownFile``
  logs the result of ``copy()`` (``1``), not a name; a product's download file put in the temp folder
- ``unpack``: ``解凍：ARCHIVE->DIR`` (template package, ``SC_Helper_FileManager::unpackFile``) and
  ``解凍: ARCHIVE -> DIR`` (plugin package): files written from an uploaded archive
- ``order_complete``: ``order complete. order_id=N``
- ``sql_error``: ``Fatal error(E_USER_ERROR): DB処理でエラーが発生しました。`` then ``SQL: [STATEMENT]``,
  ``PlaceHolder: [...]``, the MDB2 error and its ``[Native message: ...]``, `` on [FILE(LINE)]``
  (``SC_Query::error`` through ``SC_Helper_HandleError::handle_warning``, always in ``error.log``,
  verbose); without the ``Fatal error`` prefix when the query ran with ``force_run``. PHP cuts a
  ``trigger_error`` message at 1024 bytes, so a long statement may end without its ``]``: ``sql``
  holds what was logged, ``db_error`` the database's message (null when cut off)
- ``other``: anything else (kept whole in ``message``).

Line formats and messages as ``EC-CUBE 2.13.5`` writes them (``data/class/util/GC_Utils.php``
``gfPrintLog``; the messages from the classes named above).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import polars as pl

from forensics.evidence import DEFAULT_MAX_DECOMPRESSED, escape_excerpt, line_excerpt
from forensics.ipaddr import canonical_ip_series
from forensics.loaders._common import Loaded, load_line_files, local_to_utc, span_rejects
from forensics.platforms.eccube2 import ECCUBE2
from forensics.schemas import APP_LOG, REJECTS

START = r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \["

RECORD = (
    r"(?s)^(?P<t>\d{4}/\d\d/\d\d \d\d:\d\d:\d\d)"  # naive local time
    r" \[(?P<script>[^\]]*)\]"  # [SCRIPT_NAME]
    r" ?(?P<message>.*?)"  # MESSAGE (may hold newlines once joined)
    r" from (?P<ip>[0-9A-Fa-f.:]+|unknown|-)"  # from REMOTE_ADDR (always written)
    # verbose (error.log always, every log under DEBUG_MODE): the session, then a backtrace
    r"(?:\ncustomer_id = (?P<v_customer_id>[^\n]*))?"
    r"(?:\nlogin_id = (?P<v_login_id>[^\n]*?)\((?P<v_authority>-?\d*)\)\[(?P<v_sid>[^\]\n]*)\])?"
    r"(?P<backtrace>(?:\n[^\n]*\(\d*\): [^\n]*)*)"
    r"\s*$"
)

#: event -> (regex on the message, captured fields); first match wins, in this order.
EVENTS: list[tuple[str, str]] = [
    ("login", r"(?s)^login\s*:\s*user=(?P<login_id>.*?)\((?P<member_id>\d+)\)\s+auth=(?P<authority>-?\d+)"
              r"\s+lastlogin=(?P<last_login>.*?)\s+sid=(?P<sid>\S*)\s*$"),
    ("access", r"(?s)^access\s*:\s*user=(?P<login_id>\S*)\s+auth=(?P<authority>-?\d+)\s+sid=(?P<sid>\S+)\s*$"),
    ("logout", r"(?s)^logout\s*:\s*user=(?P<login_id>\S*)\s+auth=(?P<authority>-?\d+)\s+sid=(?P<sid>\S*)\s*$"),
    ("member_login", r"(?s)^access\s*:\s*user=(?P<customer_id>\d*)\tip=\S*\s*$"),
    ("member_logout", r"(?s)^logout\s*:\s*user=(?P<customer_id>\d*)\tip=\S*\s*$"),
    ("login_failed", r"(?s)^(?P<login_id>.*?) password incorrect\.?\s*$"),
    ("order_complete", r"(?s)^order complete\.?\s*order_id=(?P<order_id>\d+)\s*$"),
    ("sql_error", r"(?s)^(?:Fatal error\(E_USER_ERROR\):\s*)?DB処理でエラーが発生しました。?\s*\nSQL: \[(?P<sql>.*?)(?:\]\n|\z)"
                  r"(?:.*?MDB2 Error: (?P<db_mdb2>[^\n]*))?(?:.*?\[Native message: (?P<db_native>[^\n]*?)\])?"),
    ("upload_failed", r"(?s)^File Upload Error!:\s*(?P<upload_name>.*?) -> (?P<upload_dest>.+?)\s*$"),
    ("unpack", r"(?s)^解凍\s*[：:]\s*(?P<upload_name>.+?)\s*->\s*(?P<upload_dest>.+?)\s*$"),
    ("upload", r"(?s)^(?P<upload_name>.+?) -> (?P<upload_dest>.+?)\s*$"),
]

#: Pages whose ``NAME -> DEST`` lines are uploads whatever the name (a file may be named ``1``).
UPLOAD_PAGES = ECCUBE2.upload_pages

_FIELDS = {"login_id": pl.String, "member_id": pl.Int64, "authority": pl.Int32, "sid": pl.String,
           "last_login": pl.String, "upload_name": pl.String, "upload_dest": pl.String, "order_id": pl.Int64,
           "customer_id": pl.String, "sql": pl.String, "db_native": pl.String, "db_mdb2": pl.String}


def log_name(source: pl.Expr) -> pl.Expr:
    """"admin" / "site" from the file name (``admin.log.3`` -> admin), else the name before ``.log``."""
    base = source.str.extract(r"([^/]+)$", 1)
    return base.str.extract(r"^([^.]+)", 1).str.replace(r"_log$", "")


def parse_app_lines(lines: pl.DataFrame, *, timezone: str, skew_seconds: float = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``{source, line_no, line, invalid_utf8}`` -> (APP_LOG rows + ``_lines``, REJECTS)."""
    df = lines.with_columns(start=pl.col("line").str.contains(START) & ~pl.col("invalid_utf8"))
    df = df.with_columns(grp=pl.col("start").cum_sum().over("source"))
    bad = df.filter(pl.col("invalid_utf8") | (pl.col("grp") == 0))
    rejects = [
        bad.select(
            "source", "line_no",
            reason=pl.when(pl.col("invalid_utf8")).then(pl.lit("invalid UTF-8 (bytes shown as \\xNN)"))
            .when(pl.col("line") == "").then(pl.lit("empty line before any record"))
            .otherwise(pl.lit("not an app-log line (no YYYY/MM/DD HH:MM:SS [SCRIPT] prefix) and no record before it")),
            excerpt=line_excerpt(),
        )
    ]
    good = df.filter(~pl.col("invalid_utf8") & (pl.col("grp") > 0))
    rec = good.group_by("source", "grp", maintain_order=True).agg(
        line_no=pl.col("line_no").first(),
        text=pl.col("line").str.join("\n"),
        _lines=pl.len().cast(pl.Int64),
    )
    rec = rec.with_columns(m=pl.col("text").str.extract_groups(RECORD)).unnest("m")
    local = pl.col("t").str.to_datetime("%Y/%m/%d %H:%M:%S", time_unit="us", strict=False)
    rec = rec.with_columns(ts=local_to_utc(local, timezone, skew_seconds, in_order_over="source"), _local=pl.col("t").str.to_datetime("%Y/%m/%d %H:%M:%S", time_unit="us", strict=False))
    ok = pl.col("ts").is_not_null() & pl.col("script").is_not_null()
    rejects.append(
        rec.filter(~ok).select(
            "source", "line_no",
            reason=pl.when(pl.col("script").is_null()).then(
                pl.lit("no ' from REMOTE_ADDR' at the end of the record (truncated or not an EC-CUBE log line)"))
            .when(pl.col("_local").is_null()).then(pl.lit("impossible date or time"))
            .otherwise(pl.lit(f"time does not exist in {timezone} (DST gap)")),
            excerpt=escape_excerpt(pl.col("text")),
        )
    )
    rejects.append(span_rejects(rec.filter(~ok)))
    rec = rec.filter(ok)
    # structured fields: first matching event wins
    event = pl.lit("other")
    for name, pattern in reversed(EVENTS):
        event = pl.when(pl.col("message").str.contains(pattern)).then(pl.lit(name)).otherwise(event)
    # makeTempDownFile logs copy()'s result ("1"), not a name: a download file put in the temp folder
    copy = (event == "upload") & pl.col("message").str.starts_with("1 -> ") & ~pl.col("script").str.contains(UPLOAD_PAGES)
    event = pl.when(copy).then(pl.lit("download_copy")).otherwise(event)
    rec = rec.with_columns(event=event, log=log_name(pl.col("source")))
    rec = rec.with_columns(ip=canonical_ip_series(rec.get_column("ip")))
    # extract_groups per event, then pick the row's event
    out = rec
    for name, pattern in EVENTS:
        picked = pl.col("event") == name
        if name == "upload":  # the copy's destination is kept (its "name" is copy()'s result)
            picked = picked | (pl.col("event") == "download_copy")
        out = out.with_columns(
            pl.when(picked).then(pl.col("message")).str.extract_groups(pattern).alias(f"_{name}")
        )
    for field, dtype in _FIELDS.items():
        parts = [pl.col(f"_{name}").struct.field(field) for name, pattern in EVENTS if f"?P<{field}>" in pattern]
        out = out.with_columns(pl.coalesce(parts).str.strip_chars().cast(dtype, strict=False).alias(field))
    out = out.with_columns(sid=pl.when(pl.col("sid") != "").then(pl.col("sid")))  # "sid=" says none
    # the verbose session lines: the request's own session, where the message names none
    out = out.with_columns(
        sid=pl.coalesce("sid", pl.when(pl.col("v_sid") != "").then(pl.col("v_sid"))),
        login_id=pl.coalesce("login_id", pl.when(pl.col("v_login_id") != "").then(pl.col("v_login_id"))),
        authority=pl.coalesce("authority", pl.col("v_authority").cast(pl.Int32, strict=False)),
        customer_id=pl.coalesce("customer_id", pl.col("v_customer_id")).str.strip_chars().cast(pl.Int64, strict=False),
        backtrace=pl.when(pl.col("backtrace") != "").then(pl.col("backtrace").str.strip_chars_start("\n")),
        db_error=pl.coalesce("db_native", "db_mdb2"),
    )
    records = out.select(*APP_LOG.names(), "_lines").cast({**APP_LOG, "_lines": pl.Int64})
    return records, pl.concat(rejects).cast(REJECTS)


def read_app_logs(
    paths: Iterable[str | Path],
    *,
    case_root: str | Path | None = None,
    timezone: str = "UTC",
    skew_seconds: float = 0,
    max_decompressed: int = DEFAULT_MAX_DECOMPRESSED,
    show_progress: bool | None = None,
) -> Loaded:
    """Read EC-CUBE app logs eagerly: ``records`` (APP_LOG), ``rejects``, per-file ``counts``.

    Returns
    -------
    Loaded
        ``records`` columns: ``ts``, ``source``, ``line_no``, ``log``, ``script``, ``message``,
        ``ip``, ``event``, ``login_id``, ``member_id``, ``authority``, ``sid``, ``last_login``,
        ``upload_name``, ``upload_dest``, ``order_id``.
    """
    return load_line_files(
        [Path(p) for p in paths],
        lambda b: parse_app_lines(b, timezone=timezone, skew_seconds=skew_seconds),
        schema=APP_LOG,
        case_root=Path(case_root) if case_root is not None else None,
        desc="app logs",
        max_decompressed=max_decompressed,
        batch_lines=10**9,  # records span lines: keep each file whole
        show_progress=show_progress,
    )


def scan_app_logs(paths: Iterable[str | Path], *, case_root: str | Path | None = None, **options) -> pl.LazyFrame:
    """EC-CUBE app logs as a LazyFrame of :data:`~forensics.schemas.APP_LOG` (read on collect).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "admin.log").write_text(
    ...     "2017/03/31 23:28:10 [/admin/index.php] login : user=admin(2) auth=0 "
    ...     "lastlogin=2017-03-30 10:00:00 sid=abc123 from 203.0.113.9\\n")
    >>> scan_app_logs([d / "admin.log"], case_root=d, timezone="Asia/Tokyo").select(
    ...     "ts", "log", "event", "login_id", "member_id", "sid", "ip").collect()
    shape: (1, 7)
    ┌─────────────────────────┬───────┬───────┬──────────┬───────────┬────────┬─────────────┐
    │ ts                      ┆ log   ┆ event ┆ login_id ┆ member_id ┆ sid    ┆ ip          │
    │ ---                     ┆ ---   ┆ ---   ┆ ---      ┆ ---       ┆ ---    ┆ ---         │
    │ datetime[μs, UTC]       ┆ str   ┆ str   ┆ str      ┆ i64       ┆ str    ┆ str         │
    ╞═════════════════════════╪═══════╪═══════╪══════════╪═══════════╪════════╪═════════════╡
    │ 2017-03-31 14:28:10 UTC ┆ admin ┆ login ┆ admin    ┆ 2         ┆ abc123 ┆ 203.0.113.9 │
    └─────────────────────────┴───────┴───────┴──────────┴───────────┴────────┴─────────────┘
    """
    paths = [Path(p) for p in paths]
    return pl.defer(lambda: read_app_logs(paths, case_root=case_root, **options).records, schema=APP_LOG)
