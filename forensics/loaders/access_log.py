r"""Web-server access logs -> :data:`forensics.schemas.ACCESS_LOG`, one table whatever the format.

Each file's format is detected from its first lines, or given for all
(:mod:`forensics.loaders.logformat`: ``combined``, ``common``, ``vhost_combined``, nginx's default,
or any Apache ``LogFormat`` string). ``combined``::

    LogFormat "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\"" combined

plus any trailing fields after the user agent (kept in ``extra``). Plain or gzip, rotated sets
read oldest first, any ``%t`` offset, IPv4 and IPv6, ``-`` sizes, ``\"`` and ``\\`` escapes inside
quoted fields (undone in ``request_raw``, ``referer``, ``user_agent``; ``\xNN`` byte escapes stay).
Fields a format lacks are null; fields the table has no column for go to ``extra`` as
``name=value``. A line that does not fit its file's format is rejected with a reason. A file
whose head neither a named format reads nor looks like an access log (not ``host ident user [``)
is another kind of file: its lines are still tried as ``combined``, and those that fail are one
reject (``line_no`` null, quoting the file's first line, standing for all those lines in the
counts), not one each.

W3C extended logs (IIS, CloudFront: ``#Fields: date time c-ip cs-method ...``) are read by the
``#Fields:`` directive before each line (:func:`w3c_segments` finds them first, so batches are
parsed apart). Their times are UTC (offset 0); the request line is rebuilt as ``METHOD
stem?query PROTOCOL`` (without a protocol when the file logs none); ``time-taken`` is milliseconds
in a space-separated (IIS) file and seconds in a tab-separated (CloudFront) one; IIS writes a space
in a value as ``+`` (a ``+`` in a user agent is read as a space), CloudFront percent-encodes its
user agents twice (decoded). Directive lines (``#...``) are read, counted in ``records`` but are
no table rows (``rows``), as mysqld's banners in a query log are; a line before any ``#Fields:``
directive is rejected.

A format's compiled regex (:mod:`forensics.loaders.logformat`) defines what a line is: every
branch in it is decided by the next character (``[^ ]+ `` fields, quoted fields as
``[^"\\]*(?:\\.[^"\\]*)*``, ASCII ``[0-9]`` classes), so its parse of a line is unique.
Decompressed blocks are first scanned natively, driven by the same format
(:mod:`forensics.loaders.access_scan`: one compiled pass over the bytes, the time typed, text fields
as views into the block); the lines that scan cannot vouch for (extra quotes, impossible dates,
anything malformed) go through the regex, whose time is sliced by position rather than parsed with
``%z``. A line the format does not read is rejected with the first field it fails at.
Request-derived columns (method, target, path, query, their decoding, parameters) are computed
once per distinct request line and joined back.
"""

from __future__ import annotations

import functools
import itertools
import re
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import polars as pl

from forensics.evidence import DEFAULT_MAX_DECOMPRESSED, escape_py, head_lines, iter_lines, line_excerpt, rel_source
from forensics.ipaddr import canonical_ip
from forensics.newlines import count_newlines, nth_newline
from forensics.loaders._common import (
    DEFAULT_BATCH_LINES,
    Loaded,
    RawPart,
    batch_loaded,
    collect_loaded,
    iter_parsed,
    shift_skew,
)
from forensics.loaders import access_scan, scan_kernels
from forensics.loaders.access_scan import INTEGER_FIELDS, Program, program_of, scan_format
from forensics.loaders.logformat import (
    COMBINED,
    QUOTED,
    W3C,
    AccessFormat,
    Field,
    compile_format,
    detect_format,
    quoted_sections,
    w3c_fields,
)
from forensics.loaders.urldecode import percent_decode, percent_decode_series
from forensics.schemas import ACCESS_LOG, REJECTS

_Q = QUOTED

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
        .when(line.str.contains(head + r'\[[^\]]*\] "' + _Q + r'" \d{3} (?:\d+|-)\s*$'))
        .then(pl.lit("common-format line (no referer/user-agent)"))
        .when(~line.str.contains(head + r'\[[^\]]*\] "' + _Q + r'" \d{3} (?:\d+|-) "' + _Q + '"'))
        .then(pl.lit("bad referer field (a quoted field expected after the size)"))
        .otherwise(pl.lit("bad user-agent field (a quoted field expected after the referer)"))
    )


def _format_reject_reason(line: pl.Expr, fmt: AccessFormat) -> pl.Expr:
    """Why a line is not one of ``fmt``'s: the first piece of the format at which the line stops
    fitting (its regex cut there), named: "bad status field ([0-9]{3} expected after the request
    field) (format common)", "':' expected after the vhost field (format vhost_combined)"."""
    reason = pl.when(line == "").then(pl.lit("empty line"))
    prefix, after = "^", "the start of the line"
    for piece in fmt.pieces:
        if isinstance(piece, Field):
            prefix += f"(?:{piece.value})"
            why = f"bad {piece.name} field ({'a quoted field' if piece.quoted else piece.value} expected after {after})"
            after = f"the {piece.name} field"
        else:
            prefix += re.escape(piece.text)
            why = f"{piece.text!r} expected after {after}"
        reason = reason.when(~line.str.contains(prefix)).then(pl.lit(f"{why} (format {fmt.name})"))
    return reason.otherwise(pl.lit(f"not a line of the access-log format {fmt.name} ({fmt.definition})"))


def _request_fields(requests: pl.DataFrame) -> pl.DataFrame:
    """Everything derived from a distinct ``request``: split, percent-decoded, query parameters.

    All values to decode (paths, queries, parameter keys and values; ``+`` made ``%20`` in query
    parts) go through a single :func:`percent_decode` call over one chunk.
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
        rechunk=True,  # one chunk: one pass of the decoder
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
    batches find its row and skip splitting and decoding it again; only
    the lines whose request is not known yet are looked at again. Rows never move while the frame
    grows, so a row found before another thread added requests stays right. Bounded: past
    ``max_rows`` distinct requests it starts again from the current batch (a new generation).
    """

    def __init__(self, max_rows: int = 250_000):
        self.max_rows = max_rows
        self.frame: pl.DataFrame | None = None  # ``request`` + the derived columns, in one chunk
        self.generation = 0
        self.lock = threading.Lock()

    def rows(self, requests: pl.Series) -> tuple[pl.DataFrame, pl.Series]:
        """The frame of request-derived columns and, for each of ``requests``, its row in it (UInt32)."""
        with self.lock:
            frame, generation = self.frame, self.generation
        at = _rows_of(requests, frame)  # outside the lock: the two workers join side by side
        missing = at.is_null()
        if frame is not None and not missing.any():
            return frame, at
        with self.lock:  # held while decoding: no request is ever decoded twice into the frame
            current = self.frame
            stale = generation != self.generation  # replaced since our join: its rows are not ours
            todo = (requests if stale or current is None else requests.filter(missing)).unique().to_frame()
            if current is not None:
                todo = todo.join(current.select("request"), on="request", how="anti", nulls_equal=True)
            if current is None or current.height + todo.height > self.max_rows:
                self.frame = _request_fields(requests.unique().to_frame()).rechunk()
                self.generation += 1
                stale = True
            elif todo.height:
                self.frame = pl.concat([current, _request_fields(todo)]).rechunk()  # one chunk: cheaper gathers
            frame = self.frame
        if stale:
            return frame, _rows_of(requests, frame)
        idx = missing.arg_true()
        return frame, at.scatter(idx, _rows_of(requests.gather(idx), frame))


#: Up to this many known requests, a request's row is found by casting the requests to an Enum of
#: the known ones (one thread, about half the CPU of a hash join); past it, the join costs less.
ENUM_LOOKUP_ROWS = 30_000


def _rows_of(requests: pl.Series, frame: pl.DataFrame | None) -> pl.Series:
    """Each request's row in ``frame`` (null where it is not there; a null request finds the row
    of the null request)."""
    if frame is None:
        return pl.repeat(None, requests.len(), dtype=pl.UInt32, eager=True).alias("_r")
    if frame.height <= ENUM_LOOKUP_ROWS:
        known = frame.get_column("request")
        at = requests.cast(pl.Enum(known.drop_nulls()), strict=False).to_physical().cast(pl.UInt32)  # among non-nulls
        nulls = known.is_null()
        if nulls.any():  # the Enum skips the null request: map back to rows, and find that row
            at = known.is_not_null().arg_true().cast(pl.UInt32).gather(at)
            at = at.set(requests.is_null(), int(nulls.arg_true()[0]))
        return at.alias("_r")
    keyed = frame.select("request", _r=pl.int_range(pl.len(), dtype=pl.UInt32))
    return requests.to_frame("request").join(keyed, on="request", how="left", maintain_order="left",
                                             nulls_equal=True).get_column("_r")


#: Columns every parsing route produces (strings as logged, escapes of quoted fields undone,
#: ``status`` and ``bytes`` typed, ``local`` naive, ``utc_offset_min``, the typed extras).
_FIELDS = ["client_ip", "ident", "remote_user", "request", "status", "bytes", "referer", "user_agent", "extra",
           "local", "utc_offset_min"]

#: Fields some formats write, as typed columns of the access table.
TYPED_EXTRA = {"vhost": pl.String, "port": pl.Int32, "duration_us": pl.Int64, "forwarded_for": pl.String,
               "bytes_sent": pl.Int64, "bytes_received": pl.Int64}


def _groups(lines: pl.DataFrame, fmt: AccessFormat) -> pl.DataFrame:
    """The format's regex groups of each line (its fields and ``rest``; null where it does not
    match), with ``local`` and ``utc_offset_min`` read from its time field (:func:`_clock`)."""
    sections = quoted_sections(fmt)
    if sections is None:
        groups = lines.select(m=pl.col("line").str.extract_groups(fmt.regex)).unnest("m")
    else:  # each quoted text split into its fields on its own: the same reading, faster
        outer, inner = sections
        groups = lines.select(m=pl.col("line").str.extract_groups(outer)).unnest("m")
        parts = [groups.select(pl.col(q).str.extract_groups(rx)).unnest(q) for q, rx in inner.items()]
        groups = pl.concat([groups.drop(*inner), *parts], how="horizontal")
        # every field of a section takes part in its match: its first one is null only when the
        # quoted text does not split, and then the line is no match, as the whole regex has it
        split = pl.all_horizontal(pl.col(part.columns[0]).is_not_null() for part in parts)
        groups = groups.select(pl.when(split).then(pl.col(c)).alias(c) for c in (*fmt.fields, "rest"))
    return groups.with_columns(_clock(groups))


def _clock(groups: pl.DataFrame) -> list[pl.Expr]:
    """``local`` (naive) and ``utc_offset_min`` of the time field: an ISO 8601 time (nginx
    ``$time_iso8601``) if the format has one, else ``%t`` (``31/Mar/2017:23:28:41 +0900``), sliced
    by position. A time that does not exist (31 February) is null."""
    if "t_iso" in groups.columns:
        iso = pl.col("t_iso")
        zone = iso.str.slice(19)
        local = iso.str.slice(0, 19).str.to_datetime("%Y-%m-%dT%H:%M:%S", time_unit="us", strict=False)
        sign = pl.when(zone.str.starts_with("-")).then(-1).otherwise(1)
        offset = pl.when(zone == "Z").then(0).otherwise(
            sign * (zone.str.slice(1, 2).cast(pl.Int32, strict=False) * 60 + zone.str.slice(4, 2).cast(pl.Int32, strict=False)))
        return [local.alias("local"), offset.cast(pl.Int16).alias("utc_offset_min")]
    if "t" not in groups.columns:
        return [pl.lit(None, pl.Datetime("us")).alias("local"), pl.lit(None, pl.Int16).alias("utc_offset_min")]
    t = pl.col("t")
    local = pl.concat_str(
        t.str.slice(7, 4), pl.lit("-"), t.str.slice(3, 3).replace_strict(_MONTHS, default=None), pl.lit("-"),
        t.str.slice(0, 2), pl.lit(" "), t.str.slice(12, 8),
    ).str.to_datetime("%Y-%m-%d %H:%M:%S", time_unit="us", strict=False)
    sign = pl.when(t.str.slice(21, 1) == "-").then(-1).otherwise(1)
    offset = sign * (t.str.slice(22, 2).cast(pl.Int32, strict=False) * 60 + t.str.slice(24, 2).cast(pl.Int32, strict=False))
    return [local.alias("local"), offset.cast(pl.Int16).alias("utc_offset_min")]


def _undo_escapes(values: pl.Series, escaped: pl.Series | None) -> pl.Series:
    """Escapes undone (:func:`_unescape`) in the rows ``escaped`` marks (all when None). Undoing
    them in a row without a backslash changes nothing, so when many rows are marked the whole
    column is done at once (cheaper than gathering them and putting them back)."""
    if escaped is not None:
        idx = escaped.arg_true()
        if idx.len() == 0:
            return values
        if idx.len() * 4 < values.len():
            undone = values.gather(idx).to_frame("v").select(_unescape(pl.col("v"))).to_series()
            return values.clone().scatter(idx, undone)
    return values.to_frame("v").select(_unescape(pl.col("v"))).to_series()


def _fields(groups: pl.DataFrame, fmt: AccessFormat) -> pl.DataFrame:
    """A format's groups (+ ``local``, ``utc_offset_min``, optionally ``_escaped`` and
    ``_client_colon``, passed on) -> :data:`_FIELDS`
    and :data:`TYPED_EXTRA`: the fields the format lacks null, the typed ones in their columns,
    the ones the table has no column for in ``extra`` (``name=value``, then the trailing text)."""
    escaped = groups.get_column("_escaped") if "_escaped" in groups.columns else None
    df = groups.with_columns(
        pl.Series(c, _undo_escapes(groups.get_column(c), escaped)) for c in ("referer", "user_agent") if c in groups.columns
    )

    def value(name: str) -> pl.Expr:  # "-" is none
        return pl.when(pl.col(name) != "-").then(pl.col(name)) if name in df.columns else pl.lit(None, pl.String)

    seconds = value("duration_s").cast(pl.Float64, strict=False)
    if df.get_column("rest").str.len_bytes().max():  # some line has trailing text
        rest = pl.col("rest").str.strip_prefix(" ")
        rest = pl.when(rest != "").then(rest)
    else:
        rest = pl.lit(None, pl.String)
    # one pass over each line's pieces: ``name=value`` of each extra field, then the trailing text
    extra = (pl.concat_str([*(pl.concat_str([pl.lit(f + "="), pl.col(f)]) for f in fmt.extra_fields), rest],
                           separator=" ", ignore_nulls=True)
             if fmt.extra_fields else rest)
    df = df.with_columns(_extra=extra)  # once: the select below looks at it twice
    if "request" not in df.columns and "method" in df.columns and ({"url_path", "url"} & set(df.columns)):
        # a format that logs the request's parts (``%m %U%q %H``, ``$request_method $request_uri``)
        if "url" in df.columns:
            target = pl.col("url")
        elif "query_string" in df.columns:
            target = pl.col("url_path") + pl.col("query_string").fill_null("")
        else:
            target = pl.col("url_path")
        parts = [pl.col("method"), target, *([pl.col("protocol")] if "protocol" in df.columns else [])]
        df = df.with_columns(request=pl.concat_str(parts, separator=" "))
    missing = [c for c in ("client_ip", "ident", "remote_user", "request", *INTEGER_FIELDS, "referer", "user_agent")
               if c not in df.columns]
    df = df.with_columns(pl.lit(None, pl.String).alias(c) for c in missing)
    df = df.with_columns(pl.col(name).cast(dtype, strict=False) for name, dtype in INTEGER_FIELDS.items())  # too large: null
    return df.select(
        "client_ip", "ident", "remote_user", "request",
        "status", "bytes",
        "referer", "user_agent",
        pl.when(pl.col("_extra") != "").then(pl.col("_extra")).alias("extra"),
        "local", "utc_offset_min",
        vhost=value("vhost"),
        port=value("port").cast(pl.Int32, strict=False),
        duration_us=pl.coalesce(value("duration_us").cast(pl.Int64, strict=False),
                                (seconds * 1_000_000).round().cast(pl.Int64, strict=False)),  # too large: null
        forwarded_for=value("forwarded_for"),
        bytes_sent="bytes_sent", bytes_received="bytes_received",
        **({"_client_colon": pl.col("_client_colon")} if "_client_colon" in df.columns else {}),
    )


def _line_fields(lines: pl.DataFrame, fmt: AccessFormat) -> pl.DataFrame:
    """``{source, line_no, invalid_utf8, line}`` -> the same plus the fields (:func:`_fields`), by
    the format's regex (the exact route); ``_client_colon`` true (not looked at)."""
    return pl.concat([lines.select("source", "line_no", "invalid_utf8", "line"), _fields(_groups(lines, fmt), fmt)],
                     how="horizontal").with_columns(_client_colon=pl.lit(True))


def _raw_fields(parts: list[RawPart], fmt: AccessFormat, program: Program) -> pl.DataFrame:
    """Raw parts -> ``{source, line_no, invalid_utf8, line, *fields}`` in line order, in one chunk.

    Scanned natively (:func:`forensics.loaders.access_scan.scan_format`: the lines its program
    reads come out as views into the blocks, their time typed), with the format's regex for the
    lines it does not vouch for. A part holding invalid UTF-8 is split the exact way and takes the
    line route (:func:`_line_fields`), which marks and escapes the bad lines. ``line`` is only
    filled for the lines the scan did not vouch for (the regex's input, and their reject excerpt).
    """
    blocks = [(p.raw.data, p.raw.start, p.raw.end, p.raw.n) for p in parts]
    scanned = scan_format(program, blocks, scan_kernels.kernel_of(program))
    if scanned is None:
        if len(parts) > 1:  # scan the parts one by one: only the bad ones take the line route
            return pl.concat([_raw_fields([p], fmt, program) for p in parts])
        raw = parts[0].raw
        return _line_fields(raw.lines().with_columns(source=pl.lit(parts[0].source, pl.String)), fmt)
    groups, fast, line = scanned
    if not fast.all():
        idx = (~fast).arg_true()
        slow = _groups(pl.DataFrame({"line": line.filter(~fast)}), fmt).with_columns(_escaped=pl.lit(True),
                                                                                        _client_colon=pl.lit(True))
        groups = groups.with_columns(  # (the integers the scan typed: the regex's text cast as _fields casts it)
            groups[c].clone().scatter(idx, slow[c].cast(groups[c].dtype, strict=False)) for c in groups.columns)
    sources = [p.source for p in parts]
    counts = [p.raw.n for p in parts]
    if len(set(sources)) == 1:
        source = pl.lit(sources[0], pl.String)
    else:  # a batch that spans two files
        source = pl.Series(sources, dtype=pl.String).gather(np.repeat(np.arange(len(parts)), counts))
    line_no = np.concatenate([np.arange(p.raw.line_no, p.raw.line_no + p.raw.n, dtype=np.int64) for p in parts])
    meta = pl.DataFrame({"line": line}).select(
        source=source, line_no=pl.Series(line_no), invalid_utf8=pl.lit(False), line=pl.col("line"),
    )
    return pl.concat([meta, _fields(groups, fmt)], how="horizontal")


def _canonical_clients(ips: pl.Series, colon: pl.Series | None = None) -> pl.Series:
    """Client addresses in their canonical spelling (:func:`forensics.ipaddr.canonical_ip`). Only
    a value holding ``:`` can be spelled otherwise (IPv6, IPv4-mapped); a log of IPv4 clients costs
    one scan of its distinct values, or nothing when ``colon`` (the scan's mark of the values that
    may hold one) marks none."""
    if colon is not None and not colon.any():
        return ips
    distinct = (ips if colon is None else ips.filter(colon)).unique()
    odd = distinct.filter(distinct.str.contains(":", literal=True).fill_null(False))
    mapping = {v: c for v in odd.to_list() if (c := canonical_ip(v)) != v}
    return ips.replace(mapping) if mapping else ips


def _records(
    df: pl.DataFrame, *, skew_seconds: float = 0, cache: RequestCache | None = None, fmt: AccessFormat = COMBINED
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``{source, line_no, invalid_utf8, line, *_FIELDS}`` (and ``_client_colon``, when the values
    that may hold a colon are known) -> (ACCESS_LOG rows + ``_lines``, REJECTS).

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
            .otherwise(_reject_reason(pl.col("line")) if fmt.regex == COMBINED.regex
                       else _format_reject_reason(pl.col("line"), fmt)),
            excerpt=line_excerpt(),
        ).cast(REJECTS)
        df = df.filter(okm)

    df = df.with_columns(
        client_ip=_canonical_clients(df.get_column("client_ip"),
                                     df.get_column("_client_colon") if "_client_colon" in df.columns else None),
        ts=shift_skew((pl.col("local") - pl.duration(minutes=pl.col("utc_offset_min"))).dt.replace_time_zone("UTC"), skew_seconds),
        _lines=pl.lit(1, pl.Int64),
    )
    # the row of each line's request in the cache's frame, then one gather of its columns
    requests, at = (cache or RequestCache()).rows(df.get_column("request"))
    derived = requests.drop("request")[at]
    df = pl.concat([df, derived], how="horizontal")
    records = df.select(*ACCESS_LOG.names(), "_lines").cast({**ACCESS_LOG, "_lines": pl.Int64})
    return records, rejects


# --- W3C extended log format ------------------------------------------------------------------

#: W3C field identifier (lower case) -> the field it fills. ``date`` and ``time`` make ``ts``;
#: ``cs-method``, ``cs-uri-stem``, ``cs-uri-query`` and the protocol make ``request``; every other
#: identifier goes to ``extra`` as ``name=value``.
W3C_FIELDS: dict[str, str] = {
    "date": "date",
    "time": "time",
    "c-ip": "client_ip",
    "cs-username": "remote_user",
    "cs-method": "method",
    "cs-uri-stem": "stem",
    "cs-uri-query": "query",
    "cs-version": "protocol",
    "cs-protocol-version": "protocol",
    "sc-status": "status",
    "sc-bytes": "bytes",
    "cs(referer)": "referer",
    "cs(referrer)": "referer",
    "cs(user-agent)": "user_agent",
    "s-port": "port",
    "cs-host": "vhost",
    "cs(host)": "vhost",
    "time-taken": "time_taken",
    "cs-bytes": "bytes_received",
    "x-forwarded-for": "forwarded_for",
    "cs(x-forwarded-for)": "forwarded_for",
}

#: A W3C line's fields are separated by one tab (CloudFront) or one space (IIS, which writes a
#: space inside a value as ``+``).
_TAB = "\t"


def w3c_segments(path: Path, *, max_decompressed: int = DEFAULT_MAX_DECOMPRESSED) -> pl.DataFrame:
    """The ``#Fields:`` directives of one W3C file: ``line_no`` where each begins and its ``fields``
    (a list of identifiers). One streamed pass over the file's lines, vectorised: only the lines
    that start with ``#Fields:`` are looked at in Python."""
    found = []
    for lines, _tail in iter_lines(path, max_decompressed=max_decompressed):
        found.append(lines.filter(~pl.col("invalid_utf8") & pl.col("line").str.starts_with("#Fields:"))
                     .select("line_no", "line"))
    heads = pl.concat(found) if found else pl.DataFrame(schema={"line_no": pl.Int64, "line": pl.String})
    return pl.DataFrame({"line_no": heads["line_no"], "fields": [list(w3c_fields(x)) for x in heads["line"]]},
                        schema={"line_no": pl.Int64, "fields": pl.List(pl.String)})


#: A W3C batch's records: ACCESS_LOG rows, the lines each used, and whether it is a table row.
_W3C_RECORDS = pl.Schema({**ACCESS_LOG, "_lines": pl.Int64, "_keep": pl.Boolean})


def _w3c_layout(lines: pl.DataFrame, fields: list[str]) -> pl.DataFrame:
    """Data lines of one ``#Fields:`` layout -> ``{_i, _reason, *_FIELDS, *TYPED_EXTRA}``
    (``_reason`` null for a line read whole)."""
    tab = pl.col("line").str.contains(_TAB, literal=True)
    parts = pl.when(tab).then(pl.col("line").str.split(_TAB)).otherwise(pl.col("line").str.split(" "))
    cols: dict[str, pl.Expr] = {}  # column -> the value at its place
    extras: list[pl.Expr] = []  # "identifier=value" of the fields the table has no column for
    # without a cs-uri-stem there is no request line to rebuild: its other parts are kept in extra
    has_stem = any(W3C_FIELDS.get(f.lower()) == "stem" for f in fields)
    for i, field in enumerate(fields):
        name = W3C_FIELDS.get(field.lower())
        if name in ("method", "query", "protocol") and not has_stem:
            name = None
        if name is None or name in cols:  # a field the table has no column for, or named twice
            name = f"_x{i}"
            extras.append(pl.lit(f"{field}=") + pl.col(name))
        cols[name] = parts.list.get(i, null_on_oob=True)
    df = lines.select("_i", "_fields_at", _tab=tab, _n=parts.list.len(), **cols)

    def value(name: str) -> pl.Expr:  # a field of this layout, null when the layout has none
        return pl.col(name) if name in df.columns else pl.lit(None, pl.String)

    def given(e: pl.Expr) -> pl.Expr:  # "-" is an empty field
        return pl.when(e != "-").then(e)

    query = given(value("query"))
    target = pl.concat_str(value("stem"), pl.when(query.is_not_null() & (query != "")).then(pl.lit("?") + query),
                           ignore_nulls=True)
    request = pl.concat_str(value("method"), pl.lit(" "), target, pl.lit(" ") + given(value("protocol")),
                            ignore_nulls=True)
    local = pl.concat_str(value("date"), pl.lit(" "), value("time")).str.to_datetime(
        "%Y-%m-%d %H:%M:%S%.f", time_unit="us", strict=False)
    # IIS writes a space as "+"; CloudFront percent-encodes its values, the user agent twice ("%2520")
    agent = value("user_agent")
    iis_agent = agent.str.replace_all("+", " ", literal=True)
    if df["_tab"].any():  # decoded only where a line needs it
        agent = pl.when(pl.col("_tab")).then(percent_decode(percent_decode(agent))).otherwise(iis_agent)
    else:
        agent = iis_agent
    taken = given(value("time_taken")).cast(pl.Float64, strict=False)
    duration = (pl.when(pl.col("_tab")).then(taken * 1_000_000).otherwise(taken * 1_000)).round().cast(pl.Int64)
    status = value("status")
    n = len(fields)
    reason = (
        pl.when(pl.col("_n") != n)
        .then(pl.format(f"W3C line of {{}} fields where its #Fields: directive (line {{}}) names {n}",
                        pl.col("_n"), pl.col("_fields_at")))
        .when(value("client_ip").is_null() | (value("client_ip") == "-")).then(pl.lit("W3C line without a client address (c-ip)"))
        .when(local.is_null()).then(pl.lit("bad W3C date or time field (YYYY-MM-DD HH:MM:SS expected)"))
    )
    if "status" in df.columns:  # a file may log no status
        reason = reason.when(~status.str.contains(r"^[0-9]{3}$").fill_null(False)).then(pl.lit("bad W3C sc-status field"))
    return df.select(
        "_i",
        _reason=reason,
        client_ip=value("client_ip"),
        ident=pl.lit(None, pl.String),
        remote_user=value("remote_user"),
        request=request,
        status=pl.when(status.str.contains(r"^[0-9]{3}$")).then(status).cast(pl.Int16, strict=False),
        bytes=given(value("bytes")).cast(pl.Int64, strict=False),
        referer=value("referer"),
        user_agent=agent,
        extra=pl.concat_str(extras, separator=" ", ignore_nulls=True).replace("", None) if extras else pl.lit(None, pl.String),
        local=local,
        utc_offset_min=pl.lit(0, pl.Int16),  # W3C extended times are UTC (W3C WD-logfile)
        vhost=given(value("vhost")),
        port=given(value("port")).cast(pl.Int32, strict=False),
        duration_us=duration,
        forwarded_for=given(value("forwarded_for")),
        bytes_sent=pl.lit(None, pl.Int64),
        bytes_received=given(value("bytes_received")).cast(pl.Int64, strict=False),
    )


def parse_w3c_lines(
    lines: pl.DataFrame, *, segments: dict[str, pl.DataFrame], skew_seconds: float = 0,
    cache: RequestCache | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``{source, line_no, line, invalid_utf8}`` of W3C files -> (ACCESS_LOG rows + ``_lines`` and
    ``_keep``, REJECTS).

    ``segments``: each source's ``#Fields:`` directives (:func:`w3c_segments`); a line is read
    with the fields of the last directive before it, so a batch needs nothing from the batches
    before it. Directive lines (``#...``) are read but are no table rows (``_keep`` false: counted
    in ``records``, not in ``rows``); a line before any ``#Fields:`` directive is rejected.
    """
    seg = pl.concat([s.with_columns(source=pl.lit(src, pl.String)) for src, s in segments.items()]) if segments else (
        pl.DataFrame(schema={"line_no": pl.Int64, "fields": pl.List(pl.String), "source": pl.String}))
    seg = seg.with_columns(_fields_at=pl.col("line_no")).sort("source", "line_no")
    df = lines.with_columns(_i=pl.int_range(pl.len(), dtype=pl.UInt32)).sort("source", "line_no").join_asof(
        seg, on="line_no", by="source", strategy="backward", check_sortedness=False).sort("_i")
    directive = pl.col("line").str.starts_with("#") & ~pl.col("invalid_utf8")
    df = df.with_columns(_directive=directive)
    meta = df.select("_i", "source", "line_no", "invalid_utf8", "line")
    rejects = [df.filter(~pl.col("_directive") & pl.col("fields").is_null()).select(
        "source", "line_no",
        reason=pl.when(pl.col("line") == "").then(pl.lit("empty line"))
        .otherwise(pl.lit("W3C line before any #Fields: directive")),
        excerpt=line_excerpt(),
    )]
    data = df.filter(~pl.col("_directive") & pl.col("fields").is_not_null())
    parsed = []
    for _layout, group in data.group_by(pl.col("fields").list.join("\x00").alias("_layout"), maintain_order=True):
        parsed.append(_w3c_layout(group, group["fields"][0].to_list()))
    records = []
    if parsed:
        fields_df = pl.concat(parsed).join(meta, on="_i", how="left").sort("_i")
        bad = pl.col("_reason").is_not_null() & ~pl.col("invalid_utf8")
        rejects.append(fields_df.filter(bad).select("source", "line_no", reason="_reason", excerpt=line_excerpt()))
        good = fields_df.filter(~bad).select("source", "line_no", "invalid_utf8", "line", *_FIELDS, *TYPED_EXTRA)
        recs, rej = _records(good, skew_seconds=skew_seconds, cache=cache, fmt=W3C)
        records.append(recs.with_columns(_keep=pl.lit(True)).cast(_W3C_RECORDS))
        rejects.append(rej)
    heads = df.filter("_directive").select("source", "line_no", _lines=pl.lit(1, pl.Int64), _keep=pl.lit(False))
    if heads.height:  # read, not rows: every other column null
        records.append(heads.select(pl.col(c) if c in heads.columns else pl.lit(None, t).alias(c)
                                    for c, t in _W3C_RECORDS.items()).cast(_W3C_RECORDS))
    out = pl.concat(records) if records else pl.DataFrame(schema=_W3C_RECORDS)
    return out, pl.concat([r.cast(REJECTS) for r in rejects])


def parse_access_parts(
    parts: list, *, fmt: AccessFormat = COMBINED, skew_seconds: float = 0, cache: RequestCache | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Parse one batch of ``iter_parsed(raw=True)`` parts (raw blocks, scanned together in this
    worker thread, or line frames) of the format ``fmt`` into (ACCESS_LOG rows + ``_lines``,
    REJECTS). Raw blocks are scanned natively when the format has a program
    (:func:`forensics.loaders.access_scan.program_of`), else split and read by its regex."""
    program = program_of(fmt)
    frames = []
    for is_raw, run in itertools.groupby(parts, key=lambda p: isinstance(p, RawPart)):
        # runs of raw parts are scanned together into one chunk; line frames (a damaged end) as they are
        if not is_raw:
            frames.extend(_line_fields(p, fmt) for p in run)
        elif program is not None:
            frames.append(_raw_fields(list(run), fmt, program))
        else:
            frames.extend(_line_fields(p.raw.lines().with_columns(source=pl.lit(p.source, pl.String)), fmt) for p in run)
    df = pl.concat(frames, how="vertical", rechunk=False) if len(frames) > 1 else frames[0]
    return _records(df, skew_seconds=skew_seconds, cache=cache, fmt=fmt)


def read_access_logs(
    paths: Iterable[str | Path],
    *,
    case_root: str | Path | None = None,
    skew_seconds: float = 0,
    max_decompressed: int = DEFAULT_MAX_DECOMPRESSED,
    batch_lines: int = DEFAULT_BATCH_LINES,
    show_progress: bool | None = None,
    format: str | None = None,
) -> Loaded:
    """Read access logs eagerly: table, rejects and per-file counts (``format``: see
    :func:`iter_access_logs`).

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
    sources: list[str] = []
    batches = iter_access_logs(
        paths, case_root=case_root, skew_seconds=skew_seconds, max_decompressed=max_decompressed,
        batch_lines=batch_lines, show_progress=show_progress, sources=sources, format=format,
    )
    return collect_loaded(batches, sources, ACCESS_LOG)


def iter_access_logs(
    paths: Iterable[str | Path],
    *,
    case_root: str | Path | None = None,
    skew_seconds: float = 0,
    max_decompressed: int = DEFAULT_MAX_DECOMPRESSED,
    batch_lines: int = DEFAULT_BATCH_LINES,
    show_progress: bool | None = None,
    sources: list[str] | None = None,
    format: str | None = None,
    native: bool = True,
) -> Iterator[Loaded]:
    """Stream the access logs batch by batch (files oldest first, lines in order; files of one
    format together).

    ``format``: a named format or an Apache ``LogFormat`` string for every file; None: each
    file's own, detected (:func:`file_formats`). ``native=False`` reads every line by its format's
    regex alone (the definition; slower), to cross-check the native scan or measure the regex.

    Each item is a :class:`Loaded` holding that batch's ``records`` (ACCESS_LOG), ``rejects`` and
    partial ``counts``. Memory stays bounded by the batch size whatever the number or size of the
    files: use this to aggregate or to write Parquet from logs that would not fit in memory.
    ``sources`` (if given) receives every file's source name as it is opened.
    """
    cache = RequestCache()
    formats = file_formats(paths, format)
    root = Path(case_root) if case_root is not None else None
    for fmt, group in _by_format(formats):
        # the native scanner's fast path: raw blocks (a file of no known format is tried as combined)
        raw = fmt.name == UNKNOWN_NAME or (native and fmt is not W3C and program_of(fmt) is not None)
        if fmt.name == UNKNOWN_NAME:
            reasons = {rel_source(p, root): formats[p].definition for p in group}
            parse = functools.partial(_unknown_format_parts, reasons=reasons, skew_seconds=skew_seconds, cache=cache)
        elif fmt is W3C:
            segments = {rel_source(p, root): w3c_segments(p, max_decompressed=max_decompressed) for p in group}
            parse = functools.partial(parse_w3c_lines, segments=segments, skew_seconds=skew_seconds, cache=cache)
        elif raw:
            parse = functools.partial(parse_access_parts, fmt=fmt, skew_seconds=skew_seconds, cache=cache)
        else:
            parse = functools.partial(_parse_format_lines, fmt=fmt, skew_seconds=skew_seconds, cache=cache)
        for records, rejects in iter_parsed(
            group,
            parse,
            case_root=root,
            desc="access logs",
            max_decompressed=max_decompressed,
            batch_lines=batch_lines,
            show_progress=show_progress,
            sources=sources,
            raw=raw,
        ):
            yield batch_loaded(records, rejects, ACCESS_LOG)


def _unknown_format_parts(parts: list, *, reasons: dict[str, str], skew_seconds: float, cache: RequestCache):
    """Files no known format reads: their lines are still tried as ``combined`` (a record is never
    lost to a head that did not look like a log), and the lines that fail are one reject per file
    and batch (``line_no`` null: it stands for the file), its ``_lines`` the lines it stands for,
    its reason the file's (``no known access-log format: first line ...``)."""
    records, rejects = parse_access_parts(parts, skew_seconds=skew_seconds, cache=cache)
    if not rejects.height:
        return records, rejects
    whole = rejects.group_by("source", maintain_order=True).agg(_lines=pl.len().cast(pl.Int64)).select(
        "source", line_no=pl.lit(None, pl.Int64),
        reason=pl.col("source").replace_strict(reasons, return_dtype=pl.String), excerpt=pl.lit(""), _lines="_lines")
    return records, whole


def _parse_format_lines(lines: pl.DataFrame, *, fmt: AccessFormat, skew_seconds: float, cache: RequestCache):
    return _records(_line_fields(lines, fmt), skew_seconds=skew_seconds, cache=cache, fmt=fmt)


#: Lines read from the head of a file to tell its format.
DETECT_LINES = 20


#: The name of the "format" of a file whose head no known format reads and no line of which looks
#: like an access-log line.
UNKNOWN_NAME = "unknown"
#: The start of an access-log line, damaged or not: ``host ident user [`` (after a ``%v:%p``).
_ACCESS_HEAD = re.compile(r"^(?:[^ ]+ )?[^ ]+ [^ ]+ [^ ]+ \[")


def _unknown_format(first_line: str) -> AccessFormat:
    """A file no named format reads: its ``definition`` is the reason given for the whole file."""
    return AccessFormat(UNKNOWN_NAME, f"no known access-log format: first line {escape_py(first_line, 120)}",
                        "(?!)", ())


def file_formats(paths: Iterable[str | Path], format: str | None = None) -> dict[Path, AccessFormat]:
    """Each file's access-log format: ``format`` (a named format, ``w3c``, an Apache ``LogFormat``
    or an nginx ``log_format`` string) for all, or detected from each file's first
    :data:`DETECT_LINES` lines (:func:`forensics.loaders.logformat.detect_format`, from the file's
    first 64 KiB). A file whose head no named format reads is read as ``combined`` when some of its
    head lines look like access-log lines (``host ident user [``: their damage is told line by
    line), else it gets the format named :data:`UNKNOWN_NAME`, whose definition says so and quotes
    the first line (escaped, cut): its lines are still tried as ``combined``, and those that fail
    are one reject for the file (``line_no`` null) rather than one each. A file with no line to
    look at (empty, unreadable) is read as ``combined``."""
    paths = [Path(p) for p in paths]
    if format is not None:
        fmt = compile_format(format)
        return {p: fmt for p in paths}
    out = {}
    for p in paths:
        try:
            head = head_lines(p, DETECT_LINES)
        except OSError:
            head = []  # read (and its problem reported) by the loader
        fmt = detect_format(head)
        if fmt is None:  # read as combined: damaged access-log lines are rejected one by one, with the field
            fmt = _unknown_format(head[0]) if head and not any(_ACCESS_HEAD.match(x) for x in head) else COMBINED
        out[p] = fmt
    return out


def _by_format(formats: dict[Path, AccessFormat]) -> list[tuple[AccessFormat, list[Path]]]:
    """Files grouped by format: one group per compiled regex (a named format and the same
    ``LogFormat`` string read alike), one for W3C files, one for files of no known format."""
    groups: dict[tuple[str, str], tuple[AccessFormat, list[Path]]] = {}
    for p, fmt in formats.items():
        key = (fmt.name, "") if fmt is W3C or fmt.name == UNKNOWN_NAME else ("", fmt.regex)
        groups.setdefault(key, (fmt, []))[1].append(p)
    return list(groups.values())


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


def warm_up() -> float:
    """Compile the loader's native pieces (the newline counter, the line scanner, the named formats'
    own scan kernels and the percent decoder), or load them from numba's on-disk cache, now rather than in the first
    load; returns the seconds it took. ``make install`` calls it, so analysts never wait for it."""
    import time

    t0 = time.perf_counter()
    nth_newline(b"a\nb\n", count_newlines(b"a\nb\n"))
    access_scan.warm_up()
    scan_kernels.warm_up()
    percent_decode_series(pl.Series(["%41%E6%9D%B1+"]), plus_is_space=True)
    return time.perf_counter() - t0
