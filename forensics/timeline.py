"""The super-timeline: every finding and the relevant raw events in one frame, plus exports.

:func:`build_timeline` returns ``schemas.TIMELINE`` (``ts, timestamp_desc, source, line_no,
message, tags``). Messages come from :data:`MESSAGE_TEMPLATES` (data; ``{}`` placeholders filled
with ``pl.format`` from named columns): attacker text (URLs, user agents, file names) is inserted as
data, never interpreted, and cut to :data:`MAX_FIELD` characters.

Exports:

- :func:`write_timeline_jsonl`: one JSON object per line with ``message, datetime`` (ISO 8601
  with the case zone's offset), ``timestamp_desc, source, line_no, tags`` -- Timesketch imports it
  as it is (the command line and its outputs).
- :func:`write_timeline_csv`: same fields; cells starting with ``= + - @`` (or tab / CR) are
  prefixed with ``'`` so spreadsheets do not run them as formulas.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from forensics import schemas
from forensics.cards import mask_pans_expr

__all__ = [
    "MESSAGE_TEMPLATES",
    "build_timeline",
    "neutralise_expr",
    "SOURCE_TEMPLATES",
    "source_events",
    "timeline_export_frame",
    "with_windows",
    "write_timeline_csv",
    "write_full_timeline",
    "write_timeline_jsonl",
]

MAX_FIELD = 500

#: kind -> (timestamp_desc, message template with {} placeholders, columns, fixed tags)
MESSAGE_TEMPLATES: dict[str, tuple[str, str, tuple[str, ...], tuple[str, ...]]] = {
    "sqli": ("Request Time", "SQL injection ({}) from {}: {} {} -> {}", ("techniques_s", "client_ip", "method", "target_raw", "status"), ("sqli", "attack")),
    "admin_login": ("Request Time", "Admin login {} from {} (user {}, {})", ("outcome", "ip", "login_id", "evidence"), ("admin_login",)),
    "admin_request": ("Request Time", "Attacker admin request: {} {} {} from {} -> {} (page {}, via {})", ("method", "path", "query", "client_ip", "status", "page", "via"), ("admin", "attacker")),
    "upload": ("Upload Time", "File manager upload by {}: {} -> {}", ("ip", "upload_name", "upload_dest"), ("upload", "backdoor")),
    "backdoor_request": ("Request Time", "Backdoor request {} {} from {} -> {}", ("method", "path", "client_ip", "status"), ("backdoor",)),
    "tampered": ("Content Modification Time", "Tampered file {} (skimmer; writes to {}; indicators {})", ("path", "writes_to", "indicators_s"), ("tampered", "skimmer")),
    "skim_record": ("Record Time", "Card record {} in skim file {} (holder {}, expiry {})", ("card_masked", "skim_file", "holder", "expiry"), ("skim", "card")),
    "fs": ("", "{} {} (size {})", ("timestamp_desc", "name", "size"), ("fs",)),
    "phase": ("Phase", "Phase {}: {}", ("phase", "evidence_note"), ("phase",)),
    "card_entry": ("Request Time", "Card entry from {} -> {} ({})", ("client_ip", "status", "outcome"), ("card_entry",)),
    "attacker_request": ("Request Time", "Request from attacker IP {}: {} {} -> {}", ("client_ip", "method", "target_raw", "status"), ("attacker",)),
    "attacker_app": ("Log Time", "Application log ({} {}) from {} (session {}): {}", ("log", "event", "ip", "sid", "message"), ("attacker", "app_log")),
    "sql_error": ("Log Time", "SQL error on {} from {} ({}; caused by {}): {} -> {}", ("page", "ip", "tie_s", "req_target", "statement", "db_error"), ("sql_error", "database")),
    "window": ("Window", "{} window {}", ("window", "edge"), ("window",)),
}


def _s(col: str) -> pl.Expr:
    """A column as display text: null as '-', card-number-shaped digit runs masked (attacker text
    may carry one), cut to MAX_FIELD characters."""
    return mask_pans_expr(pl.col(col).cast(pl.String).fill_null("-")).str.slice(0, MAX_FIELD)


def _events(frame: pl.DataFrame | pl.LazyFrame | None, kind: str, *, ts: str = "ts", source: str = "source",
            line_no: str = "line_no", extra_tags: pl.Expr | None = None, desc: pl.Expr | None = None) -> pl.DataFrame | None:
    if frame is None:
        return None
    df = frame.lazy().collect() if isinstance(frame, pl.LazyFrame) else frame
    if df.is_empty():
        return None
    tdesc, template, cols, tags = MESSAGE_TEMPLATES[kind]
    for c in cols:
        if c not in df.columns:
            df = df.with_columns(pl.lit(None, pl.String).alias(c))
    tag_expr = pl.lit(list(tags), pl.List(pl.String))
    if extra_tags is not None:
        tag_expr = pl.concat_list([tag_expr, extra_tags]).list.unique(maintain_order=True)
    return df.select(
        pl.col(ts).cast(schemas.UTC_TS).alias("ts"),
        (desc if desc is not None else pl.lit(tdesc)).alias("timestamp_desc"),
        pl.col(source).cast(pl.String).alias("source"),
        pl.col(line_no).cast(pl.Int64).alias("line_no"),
        pl.format(template, *[_s(c) for c in cols]).alias("message"),
        tag_expr.alias("tags"),
    ).filter(pl.col("ts").is_not_null())


def build_timeline(
    *,
    sqli: pl.LazyFrame | pl.DataFrame | None = None,
    logins: pl.DataFrame | None = None,
    admin_requests: pl.DataFrame | None = None,
    uploads: pl.DataFrame | None = None,
    backdoor_requests: pl.DataFrame | None = None,
    tampered: pl.DataFrame | None = None,
    skim: pl.DataFrame | None = None,
    phases: pl.DataFrame | None = None,
    fs_timeline: pl.LazyFrame | pl.DataFrame | None = None,
    fs_names=(),
    card_entries: pl.DataFrame | None = None,
    access: pl.LazyFrame | pl.DataFrame | None = None,
    attacker_ips=(),
    app_log: pl.LazyFrame | pl.DataFrame | None = None,
    attacker_sids=(),
    sql_errors: pl.DataFrame | None = None,
    incident: tuple | None = None,
    windows: dict | None = None,
) -> pl.DataFrame:
    """The super-timeline (``schemas.TIMELINE``), sorted by ``ts``.

    Every input is optional (a case may lack any evidence). ``fs_timeline`` rows are kept for the
    files named in ``fs_names`` (bodyfile names ending with one of them: backdoors, tampered and
    skim files; tagged so), and every row inside ``incident`` (``(start, end)``, UTC; either side
    None for open). Attacker-IP requests of ``access`` not already in another kind are added with
    the tag ``attacker``, and ``app_log`` lines of the attacker IPs or of ``attacker_sids``.
    ``sql_errors`` (:func:`forensics.detectors.sql_errors.tie_sql_errors`) are all kept, tagged
    ``injected`` when the SQLi rules fire on the statement and ``tied`` when a request is named.
    ``phases`` is :func:`forensics.detectors.phases.phases_frame`; ``windows``: name -> ``(start,
    end)`` (UTC), each edge one event.
    """
    parts = []
    if sqli is not None:
        s = sqli.lazy().collect().with_columns(techniques_s=pl.col("techniques").list.join(","))
        parts.append(_events(s, "sqli", extra_tags=pl.col("techniques")))
    if logins is not None:
        parts.append(_events(logins, "admin_login", extra_tags=pl.concat_list([pl.col("outcome")])))
    if admin_requests is not None:
        parts.append(_events(admin_requests, "admin_request", extra_tags=pl.concat_list([pl.col("page")])))
    if uploads is not None:
        parts.append(_events(uploads, "upload"))
    if backdoor_requests is not None:
        parts.append(_events(backdoor_requests, "backdoor_request"))
    if tampered is not None:
        t = tampered.filter(pl.col("tampered").fill_null(False)).with_columns(indicators_s=pl.col("indicators").list.join(","))
        parts.append(_events(t, "tampered", ts="modified"))
    if skim is not None and not skim.is_empty():
        k = skim.filter(pl.col("entered").is_not_null()).with_columns(
            src=pl.lit("server/") + pl.col("skim_file"), ln=pl.col("record_no")
        )
        parts.append(_events(k, "skim_record", ts="entered", source="src", line_no="ln"))
    if phases is not None and not phases.is_empty():
        p = phases.with_columns(ts=pl.coalesce("ts", "phase_ts"), evidence_note=pl.coalesce("evidence_note", "note"))
        parts.append(_events(p, "phase", extra_tags=pl.concat_list([pl.col("phase")])))
    if fs_timeline is not None and (fs_names or incident):
        # a list of names, or {name: tag} to say what each file is (backdoor, tampered, skim)
        named = fs_names if isinstance(fs_names, dict) else {n: None for n in fs_names}
        named = {n: t for n, t in named.items() if n}
        match = [(pl.col("name").str.ends_with("/" + n) | (pl.col("name") == n), t) for n, t in named.items()]
        tag = pl.lit(None, pl.String)
        for cond, t in reversed(match):
            tag = pl.when(cond).then(pl.lit(t, pl.String)).otherwise(tag)
        keep = pl.any_horizontal([c for c, _t in match]) if match else pl.lit(False)
        if incident:
            start, end = incident
            inside = pl.col("ts").is_not_null()
            if start is not None:
                inside &= pl.col("ts") >= start
            if end is not None:
                inside &= pl.col("ts") <= end
            keep = keep | inside
        f = fs_timeline.lazy().filter(keep).with_columns(__tag=tag).collect()
        parts.append(_events(f, "fs", desc=pl.col("timestamp_desc"),
                             extra_tags=pl.concat_list([pl.col("__tag")]).list.drop_nulls()))
    if app_log is not None and (attacker_ips or attacker_sids):
        cond = pl.col("ip").is_in(sorted(set(attacker_ips)))
        if attacker_sids:
            cond = cond | pl.col("sid").is_in(sorted(set(attacker_sids)))
        a = app_log.lazy().filter(cond.fill_null(False)).collect()
        parts.append(_events(a, "attacker_app", extra_tags=pl.concat_list([pl.col("event")]).list.drop_nulls()))
    if sql_errors is not None and not sql_errors.is_empty():
        e = sql_errors.with_columns(
            tie_s=pl.coalesce(pl.col("tie"), pl.format("not tied: {} candidate requests", pl.col("candidates"))),
        )
        flags = pl.concat_list([
            pl.when(pl.col("injected")).then(pl.lit("injected")),
            pl.when(pl.col("req_source").is_not_null()).then(pl.lit("tied")),
        ]).list.drop_nulls()
        parts.append(_events(e, "sql_error", extra_tags=flags))
    if windows:
        rows = [{"ts": when, "source": None, "line_no": None, "window": name, "edge": edge}
                for name, span in sorted(windows.items()) if span
                for edge, when in zip(("opens", "closes"), span) if when is not None]
        if rows:
            w = pl.DataFrame(rows, schema={"ts": schemas.UTC_TS, "source": pl.String, "line_no": pl.Int64,
                                           "window": pl.String, "edge": pl.String})
            parts.append(_events(w, "window", extra_tags=pl.concat_list([pl.col("window")])))
    if card_entries is not None:
        c = card_entries.with_columns(outcome=pl.when(pl.col("failed")).then(pl.lit("failed")).otherwise(pl.lit("ok")))
        parts.append(_events(c, "card_entry", extra_tags=pl.concat_list([pl.col("outcome")])))
    if access is not None and attacker_ips:
        covered = [p.select("source", "line_no") for p in parts if p is not None]
        a = access.lazy().filter(pl.col("client_ip").is_in(sorted(set(attacker_ips)))).collect()
        if covered:
            a = a.join(pl.concat(covered).unique(), on=["source", "line_no"], how="anti")
        parts.append(_events(a, "attacker_request"))
    parts = [p for p in parts if p is not None]
    if not parts:
        return pl.DataFrame(schema=schemas.TIMELINE)
    return pl.concat(parts).select(list(schemas.TIMELINE.names())).cast(dict(schemas.TIMELINE)).sort(
        "ts", "source", "line_no", nulls_last=True, maintain_order=True
    )


def with_windows(timeline: pl.DataFrame, windows: dict) -> pl.DataFrame:
    """``timeline`` with an event at each edge of each window (name -> ``(start, end)``, UTC,
    either None when not established), sorted as :func:`build_timeline` sorts."""
    w = build_timeline(windows=windows)
    return pl.concat([timeline.cast(dict(schemas.TIMELINE)), w]).sort(
        "ts", "source", "line_no", nulls_last=True, maintain_order=True)


#: Every event of every source (``--timeline all``): evidence key -> (timestamp_desc, message
#: template, columns, tags). Attacker text is inserted as data, masked and cut like the rest.
SOURCE_TEMPLATES: dict[str, tuple[str, str, tuple[str, ...], tuple[str, ...]]] = {
    "access_logs": ("Request Time", "{} {} {} -> {} ({})", ("client_ip", "method", "target_raw", "status", "user_agent"),
                    ("access_log",)),
    "app_logs": ("Log Time", "[{} {}] {} (from {}, session {})", ("log", "event", "message", "ip", "sid"), ("app_log",)),
    "query_logs": ("Statement Time", "{} (connection {}): {}", ("command", "conn_id", "argument"), ("query_log",)),
    "fs_timeline": ("", "{} {} (size {})", ("timestamp_desc", "name", "size"), ("fs",)),
}


def _local_iso(ts: pl.Expr, tz: str) -> pl.Expr:
    """A UTC instant as ISO 8601 text with the case zone's offset (the exports' ``datetime``)."""
    return ts.dt.convert_time_zone(tz).dt.to_string("%Y-%m-%dT%H:%M:%S%.6f%:z")


def source_events(key: str, frame: pl.LazyFrame, tz: str) -> pl.LazyFrame:
    """Every row of one evidence source as export rows (:func:`timeline_export_frame` fields),
    lazily: nothing is collected, so the rows can be streamed to a file. Query-log statements
    without a time of their own (MySQL 5.6 files that start before their first timestamp) take
    the bound they are known to lie before, described as such."""
    tdesc, template, cols, tags = SOURCE_TEMPLATES[key]
    lf = frame.lazy()
    names = lf.collect_schema().names()
    lf = lf.with_columns([pl.lit(None, pl.String).alias(c) for c in cols if c not in names])
    ts, desc = pl.col("ts"), pl.lit(tdesc)
    if key == "fs_timeline":
        desc = pl.col("timestamp_desc")
    if key == "query_logs" and "ts_before" in names:
        desc = pl.when(pl.col("ts").is_null()).then(pl.lit("Statement Time (before)")).otherwise(desc)
        ts = pl.coalesce("ts", "ts_before")
    return lf.select(
        pl.format(template, *[_s(c) for c in cols]).alias("message"),
        _local_iso(ts.cast(schemas.UTC_TS), tz).alias("datetime"),
        desc.fill_null("").alias("timestamp_desc"),
        pl.col("source").cast(pl.String),
        pl.col("line_no").cast(pl.Int64),
        pl.lit(list(tags), pl.List(pl.String)).alias("tags"),
    ).filter(pl.col("datetime").is_not_null())


def write_full_timeline(sources: dict[str, pl.LazyFrame], path: str | Path, tz: str) -> Path:
    """Stream every event of every source (``key -> LazyFrame`` of :data:`SOURCE_TEMPLATES`) to
    one JSON-lines file, source by source, each sunk in batches: memory stays flat whatever the
    evidence size. Returns the path."""
    import shutil
    import tempfile

    path = Path(path)
    with open(path, "wb") as out, tempfile.TemporaryDirectory(prefix="forensics-timeline-") as tmp:
        for key in SOURCE_TEMPLATES:
            if key not in sources:
                continue
            part = Path(tmp) / f"{key}.jsonl"
            source_events(key, sources[key], tz).sink_ndjson(part)
            with open(part, "rb") as f:
                shutil.copyfileobj(f, out, 1 << 20)
            part.unlink()
    return path


def timeline_export_frame(frame: pl.DataFrame, tz: str) -> pl.DataFrame:
    """The export fields: ``message, datetime`` (ISO 8601, case-zone offset), ``timestamp_desc,
    source, line_no, tags``."""
    return frame.select(
        pl.col("message").fill_null(""),
        _local_iso(pl.col("ts"), tz).alias("datetime"),
        pl.col("timestamp_desc").fill_null(""),
        "source",
        "line_no",
        pl.col("tags").fill_null(pl.lit([], pl.List(pl.String))),
    )


def write_timeline_jsonl(frame: pl.DataFrame, path: str | Path, tz: str) -> Path:
    """Write the timeline as JSON lines (Timesketch fields); returns the path."""
    path = Path(path)
    timeline_export_frame(frame, tz).write_ndjson(path)
    return path


def neutralise_expr(expr: pl.Expr) -> pl.Expr:
    """Spreadsheet-formula neutralisation: a leading ``= + - @`` (or tab / CR) gets a ``'`` prefix."""
    return pl.when(expr.str.contains(r"^[=+\-@\t\r]")).then(pl.lit("'") + expr).otherwise(expr)


def write_timeline_csv(frame: pl.DataFrame, path: str | Path, tz: str) -> Path:
    """Write the timeline as CSV with formula neutralisation; tags joined with ``,``."""
    path = Path(path)
    out = timeline_export_frame(frame, tz).with_columns(pl.col("tags").list.join(","))
    out = out.with_columns([neutralise_expr(pl.col(c)).alias(c) for c in ("message", "datetime", "timestamp_desc", "source", "tags")])
    out.write_csv(path)
    return path
