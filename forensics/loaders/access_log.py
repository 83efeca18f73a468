r"""Apache ``combined`` access logs -> :data:`forensics.schemas.ACCESS_LOG`.

Accepted ``LogFormat``::

    LogFormat "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\"" combined

plus any trailing fields after the user agent (kept in ``extra``). Plain or gzip, rotated sets
read oldest first, any ``%t`` offset, IPv4 and IPv6, ``-`` sizes, ``\"`` and ``\\`` escapes inside
quoted fields (undone in ``request_raw``, ``referer``, ``user_agent``; ``\xNN`` byte escapes stay).
A line that does not fit (the ``common`` format included) is rejected with a reason.

One anchored regex parses a line; every branch in it is decided by the next character
(``[^ ]+ `` fields, quoted fields as ``[^"\\]*(?:\\.[^"\\]*)*``, ASCII ``[0-9]`` classes), so the
regex engine runs it as a one-pass automaton. The time is sliced by position rather than parsed
with ``%z``. Request-derived columns (method, target, path, query, their decoding, parameters)
are computed once per distinct request line and joined back.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import polars as pl

from forensics.evidence import DEFAULT_MAX_DECOMPRESSED, escape_excerpt, line_excerpt
from forensics.loaders._common import (
    DEFAULT_BATCH_LINES,
    Loaded,
    RawPart,
    batch_loaded,
    iter_parsed,
    load_line_files,
    shift_skew,
)
from forensics.loaders.urldecode import percent_decode
from forensics.schemas import ACCESS_LOG, REJECTS

_Q = r'[^"\\]*(?:\\.[^"\\]*)*'  # inside a quoted field: no quote or backslash, except escape pairs

COMBINED = (
    r"^(?P<client_ip>[^ ]+)"  # %h  remote host (IPv4, IPv6 or name)
    r" (?P<ident>[^ ]+)"  # %l  identd, normally "-"
    r" (?P<remote_user>[^ ]+)"  # %u  authenticated user, "-" when none
    r" \[(?P<t>[0-9][0-9]/[A-Za-z]{3}/[0-9]{4}:[0-9][0-9]:[0-9][0-9]:[0-9][0-9] [+-][0-9]{4})\]"  # %t  [10/Oct/2000:13:55:36 -0700]
    rf' "(?P<request>{_Q})"'  # "%r" request line, escapes as logged
    r" (?P<status>[0-9]{3})"  # %>s final status
    r" (?P<bytes>[0-9]+|-)"  # %b  body bytes, "-" for none
    rf' "(?P<referer>{_Q})"'  # "%{Referer}i"
    rf' "(?P<user_agent>{_Q})"'  # "%{User-Agent}i"
    r"(?P<extra>.*)$"  # trailing fields of an extended LogFormat (leading space removed later)
)

#: "%r" split, fast one-pass form: METHOD SP target SP protocol.
REQUEST = r"^(?P<method>[A-Za-z_-]+) (?P<target_raw>[^ ]*) (?P<protocol>HTTP/[0-9.]+)$"
#: Fallback for the rest: a target holding spaces, or no protocol (HTTP/0.9 style).
REQUEST_LOOSE = r"^(?P<method>[A-Za-z_-]+) (?P<target_raw>.*?)(?: (?P<protocol>HTTP/[0-9.]+))?$"

_MONTHS = {m: f"{i:02d}" for i, m in enumerate(
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], start=1)}

_UNESCAPE = {"\\\\": "\\", '\\"': '"'}


def _unescape(expr: pl.Expr) -> pl.Expr:
    # Apache writes " as \" and \ as \\; \xNN escapes of raw bytes stay as logged.
    return expr.str.replace_many(_UNESCAPE, leftmost=True)


def _reject_reason(line: pl.Expr) -> pl.Expr:
    head = r"^[^ ]+ [^ ]+ [^ ]+ "
    return (
        pl.when(line == "").then(pl.lit("empty line"))
        .when(~line.str.contains(head + r"\[")).then(pl.lit("not an access-log line: host, ident, user, [time] expected"))
        .when(~line.str.contains(head + r"\[\d\d/[A-Za-z]{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] ")).then(pl.lit("bad %t time field"))
        .when(~line.str.contains(head + r'\[[^\]]*\] "' + _Q + '" ')).then(pl.lit("truncated or unterminated request field"))
        .when(~line.str.contains(head + r'\[[^\]]*\] "' + _Q + r'" \d{3} (?:\d+|-)(?: |$)')).then(pl.lit("bad status or size field"))
        .otherwise(pl.lit("truncated or malformed referer/user-agent fields"))
    )


def _request_fields(requests: pl.DataFrame) -> pl.DataFrame:
    """Everything derived from a distinct ``request``: split, percent-decoded, query parameters.

    All values to decode (paths, queries, parameter keys and values; ``+`` made ``%20`` in query
    parts) go through a single :func:`percent_decode` call, so its automaton is built once.
    """
    df = requests.with_columns(request_raw=_unescape(pl.col("request")), _rid=pl.int_range(pl.len(), dtype=pl.Int64))
    df = df.with_columns(r=pl.col("request_raw").str.extract_groups(REQUEST)).unnest("r")
    loose = pl.when(pl.col("method").is_null()).then(pl.col("request_raw")).str.extract_groups(REQUEST_LOOSE)
    df = df.with_columns(pl.coalesce(name, loose.struct.field(name)) for name in ("method", "target_raw", "protocol"))
    target = pl.col("target_raw").str.splitn("?", 2)
    df = df.with_columns(path_raw=target.struct.field("field_0"), query_raw=target.struct.field("field_1"))
    pairs = (
        df.select("_rid", pair=pl.col("query_raw").str.split("&"))
        .explode("pair")
        .filter(pl.col("pair").is_not_null() & (pl.col("pair") != ""))
        .with_columns(kv=pl.col("pair").str.splitn("=", 2))
    )
    plus = lambda e: e.str.replace_all("+", "%20", literal=True)  # noqa: E731
    todo = pl.concat(
        [
            df.select(v=pl.col("path_raw")),
            df.select(v=plus(pl.col("query_raw"))),
            pairs.select(v=plus(pl.col("kv").struct.field("field_0"))),
            pairs.select(v=plus(pl.col("kv").struct.field("field_1"))),
        ],
        rechunk=True,  # replace_many builds its automaton (about 35 ms) once per chunk
    ).select(percent_decode(pl.col("v")))["v"]
    n, m = df.height, pairs.height
    df = df.with_columns(path=todo.slice(0, n), query=todo.slice(n, n))
    params = (
        pairs.select("_rid", key=todo.slice(2 * n, m), value=todo.slice(2 * n + m, m))
        .group_by("_rid", maintain_order=True)
        .agg(query_params=pl.struct("key", "value"))
    )
    df = df.join(params, on="_rid", how="left")
    empty = pl.lit([], dtype=ACCESS_LOG["query_params"])
    return df.with_columns(
        query_params=pl.when(pl.col("query_raw").is_not_null()).then(pl.coalesce("query_params", empty))
    ).drop("_rid")


class RequestCache:
    """Request-derived columns of distinct request lines, shared by the batches of one load.

    A shop's log repeats the same requests for weeks: once a request line is decoded, later
    batches reuse it and skip the decoder (and its 35 ms automaton build) when nothing is new.
    Bounded: past ``max_rows`` distinct requests it starts again from the current batch.
    """

    def __init__(self, max_rows: int = 250_000):
        self.max_rows = max_rows
        self.frame: pl.DataFrame | None = None
        self.lock = threading.Lock()

    def fields(self, requests: pl.DataFrame) -> pl.DataFrame:
        with self.lock:  # held while decoding: no request is ever decoded twice into the frame
            known = self.frame
            new = requests if known is None else requests.join(known.select("request"), on="request", how="anti", nulls_equal=True)
            if new.height or known is None:  # a batch of only rejected lines still needs the columns
                if known is None or known.height + new.height > self.max_rows:
                    known = _request_fields(requests)
                else:
                    known = pl.concat([known, _request_fields(new)]).rechunk()  # one chunk: cheaper gathers
                self.frame = known
            return known


_MONTH_NAMES = "|".join(_MONTHS)
#: ``[%d/%b/%Y:%H:%M:%S`` and ``%z]`` halves of ``%t`` after splitting on spaces (month case-sensitive).
_T_DATE = rf"^\[[0-9][0-9]/(?:{_MONTH_NAMES})/[0-9]{{4}}:[0-9][0-9]:[0-9][0-9]:[0-9][0-9]$"
_T_ZONE = r"^[+-][0-9]{4}\]$"
#: What lies between the request's closing quote and the referer's opening one.
_STATUS_BYTES = r"^ (?P<status>[0-9]{3}) (?P<bytes>[0-9]+|-) $"

#: Columns both parsing routes produce (strings as logged, ``local`` naive, ``utc_offset_min``).
_FIELDS = ["client_ip", "ident", "remote_user", "request", "status", "bytes", "referer", "user_agent", "extra",
           "local", "utc_offset_min"]


def _split_fields(lines: pl.DataFrame) -> tuple[pl.DataFrame, pl.Series]:
    """Fast route: split on the six quotes and the head's five spaces (memchr, no regex over the
    whole line), then check every piece against its part of :data:`COMBINED`.

    A line qualifies when it has no backslash (so no ``\"`` escapes to undo), exactly six ``"``,
    exactly five spaces before the request, a ``%t`` of the exact form, `` status bytes `` between
    the request and the referer and one space between referer and user agent: then ``COMBINED``
    would match it with these very pieces (its branches are decided by the next character, so its
    parse is unique). Returns the fields (:data:`_FIELDS`, all rows) and the qualifying mask.
    """
    line = pl.col("line")
    df = lines.select(line.str.len_bytes().alias("_n"), line.str.contains("\\", literal=True).alias("_bs"),
                      q=line.str.split_exact('"', 6)).unnest("q")
    q = [f"field_{i}" for i in range(7)]
    df = df.with_columns(h=pl.col("field_0").str.split_exact(" ", 5), sb=pl.col("field_2").str.extract_groups(_STATUS_BYTES))
    h = [pl.col("h").struct.field(f"field_{i}") for i in range(6)]
    lens = lambda cols: pl.sum_horizontal(c.str.len_bytes() for c in cols)  # noqa: E731 (null if a piece is missing)
    fast = (
        ~pl.col("_bs")
        & (lens(pl.col(c) for c in q) + 6 == pl.col("_n"))  # exactly six quotes
        & (lens(h) + 5 == pl.col("field_0").str.len_bytes())  # exactly five spaces in the head
        & (h[5] == "") & (h[0] != "") & (h[1] != "") & (h[2] != "")
        & h[3].str.contains(_T_DATE) & h[4].str.contains(_T_ZONE)
        & pl.col("sb").struct.field("status").is_not_null()
        & (pl.col("field_4") == " ")
    ).fill_null(False)
    zone = h[4]
    sign = pl.when(zone.str.slice(0, 1) == "-").then(-1).otherwise(1)
    out = df.select(
        client_ip=h[0], ident=h[1], remote_user=h[2], request=pl.col("field_1"),
        status=pl.col("sb").struct.field("status"), bytes=pl.col("sb").struct.field("bytes"),
        referer=pl.col("field_3"), user_agent=pl.col("field_5"), extra=pl.col("field_6"),
        local=h[3].str.to_datetime("[%d/%b/%Y:%H:%M:%S", time_unit="us", strict=False),
        utc_offset_min=(sign * (zone.str.slice(1, 2).cast(pl.Int32, strict=False) * 60
                                + zone.str.slice(3, 2).cast(pl.Int32, strict=False))).cast(pl.Int16),
        _fast=fast,
    )
    return out.drop("_fast"), out["_fast"]


def _regex_fields(lines: pl.DataFrame) -> pl.DataFrame:
    """Exact route for any line: :data:`COMBINED`, escapes undone, ``%t`` sliced by position."""
    df = lines.select(m=pl.col("line").str.extract_groups(COMBINED)).unnest("m")
    t = pl.col("t")
    local = pl.concat_str(
        t.str.slice(7, 4), pl.lit("-"), t.str.slice(3, 3).replace_strict(_MONTHS, default=None), pl.lit("-"),
        t.str.slice(0, 2), pl.lit(" "), t.str.slice(12, 8),
    ).str.to_datetime("%Y-%m-%d %H:%M:%S", time_unit="us", strict=False)
    sign = pl.when(t.str.slice(21, 1) == "-").then(-1).otherwise(1)
    offset = (sign * (t.str.slice(22, 2).cast(pl.Int32, strict=False) * 60 + t.str.slice(24, 2).cast(pl.Int32, strict=False))).cast(pl.Int16)
    return df.with_columns(
        local=local, utc_offset_min=offset, referer=_unescape(pl.col("referer")), user_agent=_unescape(pl.col("user_agent")),
    ).select(_FIELDS)


def _line_fields(lines: pl.DataFrame) -> pl.DataFrame:
    """``{source, line_no, invalid_utf8, line}`` -> the same plus :data:`_FIELDS`, in line order.

    Lines go through the split route (:func:`_split_fields`); those it cannot vouch for (escapes,
    extra quotes, malformed fields, invalid UTF-8) through the regex (:func:`_regex_fields`), and
    the two are merged back in line order.
    """
    meta = lines.select("source", "line_no", "invalid_utf8", "line")
    fields, fast = _split_fields(lines)
    if fast.all():
        return pl.concat([meta, fields], how="horizontal")
    meta = meta.with_columns(_i=pl.int_range(pl.len(), dtype=pl.Int64))
    slow = lines.filter(~fast)
    return pl.concat(
        [
            pl.concat([meta.filter(fast), fields.filter(fast)], how="horizontal"),
            pl.concat([meta.filter(~fast), _regex_fields(slow)], how="horizontal"),
        ]
    ).sort("_i").drop("_i")


#: A line read with ``"`` as the separator: exactly six quotes make these seven fields.
_QUOTED = pl.Schema({f"q{i}": pl.String for i in range(7)})
_BOM = b"\xef\xbb\xbf"
_STATUS_BYTES_OK = r"^ [0-9]{3} (?:[0-9]+|-) $"


def _read_quoted(data: bytes, n: int) -> pl.DataFrame | None:
    """The ``n`` lines of ``data`` (each ending with a newline) cut at their quotes, or None.

    Polars' CSV reader with ``"`` as the separator and no quoting gives the seven fields of a line
    with exactly six quotes. It raises on a line with more (and on invalid UTF-8) and fills a line
    with fewer with empty fields, so the block is vouched for by its bytes: ``n`` rows, and the
    fields' bytes plus six quotes and a newline per row adding up to the block's size exactly,
    which holds only when every line has exactly six quotes (a line with fewer would be counted
    longer than it is, and the reader drops no line: an empty line is a row). A ``\r`` (the reader
    would end lines there) or a BOM at the start (it would skip it) is not vouched for. None: the
    caller splits the lines the exact way.
    """
    if not n or b"\r" in data or data.startswith(_BOM):
        return None
    try:
        q = pl.read_csv(
            data, has_header=False, separator='"', quote_char=None, schema=_QUOTED,
            empty_string_is_null=False, truncate_ragged_lines=False, raise_if_empty=False,
        )
    except (pl.exceptions.PolarsError, ValueError):
        return None
    if q.height != n:
        return None
    size = q.select(pl.sum_horizontal(pl.col(c).str.len_bytes() for c in _QUOTED).sum()).item()
    if size is None or size + 7 * n != len(data):
        return None
    return q


def _quoted_fields(q: pl.DataFrame, backslash: bool) -> tuple[pl.DataFrame, pl.Series]:
    """Fast route on lines cut at their six quotes (:func:`_read_quoted`): :data:`_FIELDS` and
    the mask of the lines it vouches for, exactly as :data:`COMBINED` would parse them.

    ``q0`` is ``%h %l %u [%t] ``: three space-free non-empty tokens, ``[dd/Mon/yyyy:HH:MM:SS``
    (:data:`_T_DATE`), ``+zzzz]`` (:data:`_T_ZONE`), five spaces and nothing else (byte count);
    ``q2`` `` status bytes ``; ``q4`` one space; no backslash in the
    quoted fields (``q1``, ``q3``, ``q5``: no escape to undo, so each ends at its quote). Then
    ``COMBINED`` matches with these very pieces, its parse being unique.
    """
    q0, q2 = pl.col("q0"), pl.col("q2")
    q = q.with_columns(h=q0.str.split_exact(" ", 4)).unnest("h")
    ip, ident, user, date, zone = (pl.col(f"field_{i}") for i in range(5))
    fast = (
        # the five pieces and five spaces make up q0 (date 21 bytes, zone 6): nothing else in it
        (ip.str.len_bytes() + ident.str.len_bytes() + user.str.len_bytes() + 32 == q0.str.len_bytes())
        & (ip != "") & (ident != "") & (user != "")
        & date.str.contains(_T_DATE) & zone.str.contains(_T_ZONE)
        & q2.str.contains(_STATUS_BYTES_OK) & (pl.col("q4") == " ")
    )
    if backslash:
        fast = fast & ~pl.any_horizontal(pl.col(c).str.contains("\\", literal=True) for c in ("q1", "q3", "q5"))
    hhmm = zone.str.head(5).cast(pl.Int32, strict=False)  # "+0530" -> 530, "-0700" -> -700
    minutes = (hhmm.abs() // 100) * 60 + hhmm.abs() % 100
    out = q.select(
        client_ip=ip, ident=ident, remote_user=user, request=pl.col("q1"),
        status=q2.str.slice(1, 3), bytes=q2.str.slice(5, q2.str.len_bytes() - 6),
        referer=pl.col("q3"), user_agent=pl.col("q5"), extra=pl.col("q6"),
        local=date.str.to_datetime("[%d/%b/%Y:%H:%M:%S", time_unit="us", strict=False),
        utc_offset_min=pl.when(hhmm < 0).then(-minutes).otherwise(minutes).cast(pl.Int16),
        _fast=fast.fill_null(False),
    )
    return out.drop("_fast"), out["_fast"]


def _raw_fields(part: RawPart) -> pl.DataFrame:
    """A raw part -> ``{source, line_no, invalid_utf8, line, *_FIELDS}`` in line order.

    Cut at the quotes when the block can be vouched for (:func:`_read_quoted`), then the fast
    route (:func:`_quoted_fields`) with the regex for the lines it cannot vouch for (each line
    rebuilt exactly from its seven fields); otherwise the lines are split the exact way and take
    the line route (:func:`_line_fields`). ``line`` is only filled where it may be needed: lines
    the fast route did not take or whose time is impossible (their reject excerpt).
    """
    raw = part.raw
    data = raw.bytes()
    q = _read_quoted(data, raw.n)
    if q is None:
        return _line_fields(raw.lines().with_columns(source=pl.lit(part.source, pl.String)))
    fields, fast = _quoted_fields(q, b"\\" in data)
    if not fast.all():
        idx = (~fast).arg_true()
        slow = _regex_fields(q.filter(~fast).select(line=pl.concat_str(_QUOTED.names(), separator='"')))
        fields = fields.with_columns(fields[c].clone().scatter(idx, slow[c]) for c in _FIELDS)
    need = ~fast | fields["local"].is_null()
    line = pl.Series("line", [None], dtype=pl.String).extend_constant(None, raw.n - 1)
    if need.any():
        line = line.scatter(need.arg_true(), q.filter(need).select(pl.concat_str(_QUOTED.names(), separator='"')).to_series())
    meta = pl.DataFrame({"line": line}).select(
        source=pl.lit(part.source, pl.String),
        line_no=pl.int_range(raw.line_no, raw.line_no + raw.n, dtype=pl.Int64),
        invalid_utf8=pl.lit(False),
        line=pl.col("line"),
    )
    return pl.concat([meta, fields], how="horizontal")


def _records(
    df: pl.DataFrame, *, skew_seconds: float = 0, cache: RequestCache | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``{source, line_no, invalid_utf8, line, *_FIELDS}`` -> (ACCESS_LOG rows + ``_lines``, REJECTS).

    Request-derived columns are computed once per distinct request line and joined back: a shop's
    log repeats the same requests, so decoding runs on far fewer values than lines.
    """
    ok = (pl.col("client_ip").is_not_null() & ~pl.col("invalid_utf8") & pl.col("local").is_not_null()).alias("_ok")
    okm = df.select(ok).to_series()

    if okm.all():
        rejects = pl.DataFrame(schema=REJECTS)
    else:
        bad = df.filter(~okm).with_columns(parsed=pl.col("client_ip").is_not_null())
        rejects = bad.select(
            "source", "line_no",
            reason=pl.when(pl.col("invalid_utf8")).then(pl.lit("invalid UTF-8 (bytes shown as \\xNN)"))
            .when(pl.col("parsed")).then(pl.lit("impossible %t date or time"))
            .otherwise(_reject_reason(pl.col("line"))),
            excerpt=line_excerpt(),
        ).cast(REJECTS)
        df = df.filter(okm)

    df = df.with_columns(
        ts=shift_skew((pl.col("local") - pl.duration(minutes=pl.col("utc_offset_min"))).dt.replace_time_zone("UTC"), skew_seconds),
        extra=pl.when(pl.col("extra") != "").then(pl.col("extra").str.strip_prefix(" ")),
        status=pl.col("status").cast(pl.Int16),
        bytes=pl.col("bytes").cast(pl.Int64, strict=False),
        _lines=pl.lit(1, pl.Int64),
    )
    distinct = df.select(pl.col("request").unique())
    requests = cache.fields(distinct) if cache is not None else _request_fields(distinct)
    # the row of each line's request in ``requests``, then one gather of its columns: the join
    # itself carries a single integer column instead of all the line's columns
    at = (
        df.select("request")
        .join(requests.select("request", _r=pl.int_range(pl.len(), dtype=pl.UInt32)), on="request", how="left",
              maintain_order="left", nulls_equal=True)
        .get_column("_r")
    )
    derived = requests.drop("request")[at]
    df = pl.concat([df, derived], how="horizontal")
    records = df.select(*ACCESS_LOG.names(), "_lines").cast({**ACCESS_LOG, "_lines": pl.Int64})
    return records, rejects


def parse_access_lines(
    lines: pl.DataFrame, *, skew_seconds: float = 0, cache: RequestCache | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Parse ``{source, line_no, line, invalid_utf8}`` into (ACCESS_LOG rows + ``_lines``, REJECTS)."""
    return _records(_line_fields(lines), skew_seconds=skew_seconds, cache=cache)


def parse_access_parts(
    parts: list, *, skew_seconds: float = 0, cache: RequestCache | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Parse one batch of ``iter_parsed(raw=True)`` parts (raw blocks cut at their quotes in this
    worker thread, or line frames) into (ACCESS_LOG rows + ``_lines``, REJECTS)."""
    frames = [_raw_fields(p) if isinstance(p, RawPart) else _line_fields(p) for p in parts]
    df = pl.concat(frames, how="vertical", rechunk=False) if len(frames) > 1 else frames[0]
    return _records(df, skew_seconds=skew_seconds, cache=cache)


def read_access_logs(
    paths: Iterable[str | Path],
    *,
    case_root: str | Path | None = None,
    skew_seconds: float = 0,
    max_decompressed: int = DEFAULT_MAX_DECOMPRESSED,
    batch_lines: int = DEFAULT_BATCH_LINES,
    show_progress: bool | None = None,
) -> Loaded:
    """Read Apache combined access logs eagerly: table, rejects and per-file counts.

    Returns
    -------
    Loaded
        ``records``: DataFrame of :data:`forensics.schemas.ACCESS_LOG` (``ts``, ``source``,
        ``line_no``, ``client_ip``, ``ident``, ``remote_user``, ``utc_offset_min``,
        ``request_raw``, ``method``, ``target_raw``, ``path_raw``, ``query_raw``, ``protocol``,
        ``path``, ``query``, ``query_params``, ``status``, ``bytes``, ``referer``,
        ``user_agent``, ``extra``); ``rejects``: REJECTS; ``counts``: per file
        ``source, records, rejected, rows``.
    """
    cache = RequestCache()
    return load_line_files(
        [Path(p) for p in paths],
        lambda b: parse_access_parts(b, skew_seconds=skew_seconds, cache=cache),
        schema=ACCESS_LOG,
        case_root=Path(case_root) if case_root is not None else None,
        desc="access logs",
        max_decompressed=max_decompressed,
        batch_lines=batch_lines,
        show_progress=show_progress,
        raw=True,
    )


def iter_access_logs(
    paths: Iterable[str | Path],
    *,
    case_root: str | Path | None = None,
    skew_seconds: float = 0,
    max_decompressed: int = DEFAULT_MAX_DECOMPRESSED,
    batch_lines: int = DEFAULT_BATCH_LINES,
    show_progress: bool | None = None,
) -> Iterator[Loaded]:
    """Stream the access logs batch by batch (files oldest first, lines in order).

    Each item is a :class:`Loaded` holding that batch's ``records`` (ACCESS_LOG), ``rejects`` and
    partial ``counts``. Memory stays bounded by the batch size whatever the number or size of the
    files: use this to aggregate or to write Parquet from logs that would not fit in memory.
    """
    cache = RequestCache()
    for records, rejects in iter_parsed(
        [Path(p) for p in paths],
        lambda b: parse_access_parts(b, skew_seconds=skew_seconds, cache=cache),
        case_root=Path(case_root) if case_root is not None else None,
        desc="access logs",
        max_decompressed=max_decompressed,
        batch_lines=batch_lines,
        show_progress=show_progress,
        raw=True,
    ):
        yield batch_loaded(records, rejects, ACCESS_LOG)


def scan_access_logs(paths: Iterable[str | Path], *, case_root: str | Path | None = None, **options) -> pl.LazyFrame:
    """Apache combined access logs as a LazyFrame of :data:`~forensics.schemas.ACCESS_LOG`.

    Nothing is read until the frame is collected. Rejected lines: :func:`read_access_logs`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "access_log").write_text(
    ...     '203.0.113.9 - - [31/Mar/2017:23:28:01 +0900] "POST /admin/index.php?a=%E6%9D%B1 HTTP/1.1" '
    ...     '302 - "-" "curl/7.1"\\n')
    >>> scan_access_logs([d / "access_log"], case_root=d).select("ts", "method", "path", "query", "bytes").collect()
    shape: (1, 5)
    ┌─────────────────────────┬────────┬──────────────────┬───────┬───────┐
    │ ts                      ┆ method ┆ path             ┆ query ┆ bytes │
    │ ---                     ┆ ---    ┆ ---              ┆ ---   ┆ ---   │
    │ datetime[μs, UTC]       ┆ str    ┆ str              ┆ str   ┆ i64   │
    ╞═════════════════════════╪════════╪══════════════════╪═══════╪═══════╡
    │ 2017-03-31 14:28:01 UTC ┆ POST   ┆ /admin/index.php ┆ a=東  ┆ null  │
    └─────────────────────────┴────────┴──────────────────┴───────┴───────┘
    """
    paths = [Path(p) for p in paths]
    return pl.defer(lambda: read_access_logs(paths, case_root=case_root, **options).records, schema=ACCESS_LOG)


def scan_access_log_rejects(paths: Iterable[str | Path], *, case_root: str | Path | None = None, **options) -> pl.LazyFrame:
    """Rejected access-log lines (REJECTS: ``source, line_no, reason, excerpt``), lazily."""
    paths = [Path(p) for p in paths]
    return pl.defer(lambda: read_access_logs(paths, case_root=case_root, **options).rejects, schema=REJECTS)
