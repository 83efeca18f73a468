"""Admin panel: logins, sessions, the baseline of admin IPs, and the attacker's admin requests.

EC-CUBE 2.13 (the evidence formats): the login form posts to ``{admin_dir}index.php``; success
answers 302 (to ``home.php``) and writes ``login: user=ID(N) ... sid=SID`` to admin.log. A failure
goes to ``SC_Utils::sfDispError(LOGIN_ERROR)``, whose page (``LC_Page_Error_DispError``) answers
500; a wrong password also writes ``ID password incorrect.``, a login ID failing the form's check
(any injection in the login form) writes nothing. Builds that answer a failure with the form
again (200) are counted as failures too (``Platform.login_failure_status``). Every later admin page writes
``access : user=ID auth=N sid=SID``. Admin navigation is POST, so request lines carry neither
record IDs nor the ``mode`` (except when it is in the query string); the page is told from the
path (:data:`ADMIN_PAGES`).

``admin_dir`` is always a parameter (a site may rename ``/admin/``); it has a leading and a
trailing ``/``.
"""

from __future__ import annotations

import re

import polars as pl

from forensics.cards import mask_pans_expr
from forensics.ipaddr import IpSet
from forensics.platforms import routing
from forensics.platforms.eccube2 import ECCUBE2
from forensics.platforms.routing import Platform, norm_admin_dir

__all__ = [
    "ADMIN_PAGES",
    "admin_requests",
    "admin_logins",
    "admin_sessions",
    "baseline_admin_ips",
    "new_ip_admin_logins",
    "attacker_admin_requests",
    "infer_csv_mode",
    "page_expr",
    "mode_expr",
]

#: EC-CUBE 2's admin routing table (every page class, its path and what it displays); each
#: function takes the case's ``platform`` (:class:`forensics.platforms.Platform`), EC-CUBE 2 unless told.
ADMIN_PAGES = ECCUBE2.admin_pages

#: Longest time between a login logged without its session id and the first line of the session
#: it opened (the page the login redirects to is requested at once).
OPENER_WINDOW = "60s"

#: Seconds between an access-log request and its app-log line for them to be the same request
#: (both logs are written within the request; the app log has second resolution).
LINK_TOLERANCE = "2s"


def mode_expr(query: pl.Expr = pl.col("query")) -> pl.Expr:
    """``mode`` from a decoded query string (null when absent)."""
    return query.str.extract(r"(?:^|&)mode=([^&]*)", 1)


def page_expr(path: pl.Expr, mode: pl.Expr, admin_dir: str = "/admin/", *, platform: Platform = ECCUBE2) -> pl.Expr:
    """Page class of an admin request: a name of the platform's admin pages (``customer_csv``
    when a list page's mode is csv, ...), ``other`` under the admin folder, null outside it."""
    return routing.page_expr(platform.admin_pages, path, mode, admin_dir)


def admin_requests(access: pl.LazyFrame | pl.DataFrame, admin_dir: str = "/admin/", *,
                   platform: Platform = ECCUBE2) -> pl.LazyFrame:
    """Access-log requests under ``admin_dir``: provenance, ``client_ip, method, path, query,
    status, bytes, user_agent, mode, page``."""
    admin_dir = norm_admin_dir(admin_dir)
    return (
        access.lazy()
        .filter(pl.col("path").str.starts_with(admin_dir))
        .with_columns(mode=mode_expr(pl.col("query")))
        .with_columns(page=page_expr(pl.col("path"), pl.col("mode"), admin_dir, platform=platform))
        # attacker text: card-number-shaped runs masked (the handling of evidence)
        .with_columns(query=mask_pans_expr(pl.col("query")), user_agent=mask_pans_expr(pl.col("user_agent")))
        .select("ts", "source", "line_no", "client_ip", "method", "path", "query", "status", "bytes", "user_agent", "mode", "page")
    )


def admin_logins(
    access: pl.LazyFrame | pl.DataFrame,
    app_log: pl.LazyFrame | pl.DataFrame,
    admin_dir: str = "/admin/",
    *,
    platform: Platform = ECCUBE2,
) -> pl.DataFrame:
    """Login attempts from both logs, one row per evidence line: POSTs to the platform's
    ``login`` page, told success or failure by its answer (``Platform.login_*_status``).

    Returns ``ts, source, line_no, ip, outcome`` ("success"/"failure"), ``evidence``
    ("access_log"/"app_log"), ``login_id`` and ``sid`` (app log only), sorted by ``ts``.
    """
    admin_dir = norm_admin_dir(admin_dir)
    acc = (
        access.lazy()
        # the form posts to index.php; a POST to the bare directory reaches the same script
        .filter((pl.col("method") == "POST") & (page_expr(pl.col("path"), pl.lit(None, pl.String), admin_dir,
                                                          platform=platform) == "login"))
        .select(
            "ts", "source", "line_no", pl.col("client_ip").alias("ip"),
            outcome=pl.when(pl.col("status").is_in(list(platform.login_success_status))).then(pl.lit("success"))
            .when(pl.col("status").is_in(list(platform.login_failure_status))).then(pl.lit("failure"))
            .otherwise(pl.lit(None, pl.String)),
            evidence=pl.lit("access_log"),
            login_id=pl.lit(None, pl.String),
            sid=pl.lit(None, pl.String),
        )
        .filter(pl.col("outcome").is_not_null())
    )
    app = (
        app_log.lazy()
        .filter(pl.col("event").is_in(["login", "login_failed"]))
        .select(
            "ts", "source", "line_no", "ip",
            outcome=pl.when(pl.col("event") == "login").then(pl.lit("success")).otherwise(pl.lit("failure")),
            evidence=pl.lit("app_log"),
            login_id=pl.col("login_id"),
            sid=pl.col("sid"),
        )
    )
    return pl.concat([acc, app]).sort("ts", "evidence", "source", "line_no").collect()


def admin_sessions(app_log: pl.LazyFrame | pl.DataFrame, *, opener_window: str = OPENER_WINDOW) -> pl.DataFrame:
    """Admin sessions by app-log ``sid``: the login line opens, access lines continue.

    A fresh login is logged before its session has an id (``login: ... sid=`` empty, as EC-CUBE
    2.13 writes it): such a login opens the session whose first line is the next ``access`` line
    of the same user from the same IP within ``opener_window`` (the page the login redirects to),
    one session per login.

    Returns ``sid, login_id, opened_ip, opened_ts, opened_source, opened_line_no`` (null when no
    login line opens it), ``opened_by`` ("login line" with the sid, "login before the first access
    line", or null), ``first_ts, last_ts, lines, ips`` (every IP seen in the session, sorted).
    """
    lf = app_log.lazy().filter(pl.col("event").is_in(["login", "access"]))
    named = lf.filter(pl.col("sid").is_not_null())
    opened = (
        named.filter(pl.col("event") == "login")
        .sort("ts", "line_no")
        .group_by("sid")
        .agg(
            opened_ip=pl.col("ip").first(),
            opened_ts=pl.col("ts").first(),
            opened_source=pl.col("source").first(),
            opened_line_no=pl.col("line_no").first(),
            login_id_open=pl.col("login_id").first(),
        )
        .with_columns(opened_by=pl.lit("login line"))
    )
    # logins without a sid: the session whose first line follows them
    firsts = (
        named.sort("ts", "line_no").group_by("sid")
        .agg(pl.col("ts").first().alias("first_ts"), pl.col("ip").first().alias("ip"),
             pl.col("login_id").first().alias("login_id"), pl.col("event").first().alias("first_event"))
        .filter(pl.col("first_event") == "access")
        .join(opened.select("sid"), on="sid", how="anti")
        .sort("first_ts")
    )
    bare = (
        lf.filter(pl.col("sid").is_null() & (pl.col("event") == "login"))
        .select(pl.col("ts").alias("login_ts"), "ip", "login_id", pl.col("source").alias("login_source"),
                pl.col("line_no").alias("login_line_no"))
        .sort("login_ts")
    )
    inferred = (
        firsts.join_asof(bare, left_on="first_ts", right_on="login_ts", by=["ip", "login_id"], strategy="backward",
                         tolerance=opener_window, check_sortedness=False)
        .filter(pl.col("login_ts").is_not_null())
        .sort("first_ts")
        .unique(["login_source", "login_line_no"], keep="first", maintain_order=True)  # one session per login
        .select("sid", opened_ip=pl.col("ip"), opened_ts=pl.col("login_ts"), opened_source=pl.col("login_source"),
                opened_line_no=pl.col("login_line_no"), login_id_open=pl.col("login_id"),
                opened_by=pl.lit("login before the first access line"))
    )
    opened = pl.concat([opened, inferred], how="vertical_relaxed")
    spans = named.group_by("sid").agg(
        first_ts=pl.col("ts").min(),
        last_ts=pl.col("ts").max(),
        lines=pl.len(),
        ips=pl.col("ip").drop_nulls().unique().sort(),
        login_id_any=pl.col("login_id").drop_nulls().first(),
    )
    return (
        spans.join(opened, on="sid", how="left")
        .select(
            "sid",
            login_id=pl.coalesce("login_id_open", "login_id_any"),
            opened_ip=pl.col("opened_ip"),
            opened_ts=pl.col("opened_ts"),
            opened_source=pl.col("opened_source"),
            opened_line_no=pl.col("opened_line_no"),
            opened_by=pl.col("opened_by"),
            first_ts=pl.col("first_ts"),
            last_ts=pl.col("last_ts"),
            lines=pl.col("lines"),
            ips=pl.col("ips"),
        )
        .sort("first_ts", "sid")
        .collect()
    )


def baseline_admin_ips(logins: pl.DataFrame, before) -> pl.DataFrame:
    """Admin IPs seen before the first attack: IPs with a successful login before ``before``.

    Only successful logins count: a scanner probing the login page before the attack must not
    become "known". ``before`` null (no attack found) gives every successful-login IP.
    Returns ``ip, first_login, logins``.
    """
    ok = logins.filter(pl.col("outcome") == "success")
    if before is not None:
        ok = ok.filter(pl.col("ts") < before)
    return ok.group_by("ip").agg(first_login=pl.col("ts").min(), logins=pl.len()).sort("ip")


def new_ip_admin_logins(logins: pl.DataFrame, *, internal_ips, baseline_ips) -> pl.DataFrame:
    """Successful logins from IPs that are neither internal nor baseline (the counting rules).

    ``internal_ips``: addresses or networks, any spelling (:class:`forensics.ipaddr.IpSet`);
    ``baseline_ips``: addresses as the logs give them (canonical spelling)."""
    internal = internal_ips if isinstance(internal_ips, IpSet) else IpSet(internal_ips)
    known = IpSet([*internal.items, *baseline_ips])
    ok = logins.filter(pl.col("outcome") == "success")
    return ok.filter(~known.expr(ok.get_column("ip"), "ip"))


def _link_sid(reqs: pl.DataFrame, app_log: pl.LazyFrame | pl.DataFrame) -> pl.DataFrame:
    """Attach the app-log ``sid`` of the same request (same IP and script, nearest second)."""
    lines = (
        app_log.lazy()
        .filter(pl.col("sid").is_not_null())
        .select(pl.col("ts").alias("app_ts"), pl.col("ip").alias("client_ip"), pl.col("script").alias("path"), "sid")
        .sort("app_ts")
        .collect()
    )
    if reqs.is_empty() or lines.is_empty():
        return reqs.with_columns(sid=pl.lit(None, pl.String))
    return (
        reqs.sort("ts")
        .join_asof(
            lines, left_on="ts", right_on="app_ts", by=["client_ip", "path"], strategy="nearest",
            tolerance=LINK_TOLERANCE, check_sortedness=False,
        )
        .drop("app_ts")
    )


def infer_csv_mode(reqs: pl.DataFrame, query_log: pl.LazyFrame | pl.DataFrame | None, *, tolerance: str = "1s",
                   platform: Platform = ECCUBE2) -> pl.DataFrame:
    """Fill ``mode`` = "csv" for list-page POSTs whose mode is not in the query string, when the
    query log shows, within ``tolerance``, a SELECT of the page's table without LIMIT and without
    COUNT (the export reads every matching row; the list page reads one page with LIMIT).

    Adds ``mode_source`` ("query_string", "query_log" or null) and updates ``page``. The list
    pages and their tables: ``platform.csv_export_tables``.
    """
    csv_tables = platform.csv_export_tables
    names = "|".join(re.escape(t.lower()) for t in sorted(set(csv_tables.values())))
    out = reqs.with_columns(mode_source=pl.when(pl.col("mode").is_not_null()).then(pl.lit("query_string")).otherwise(pl.lit(None, pl.String)))
    if query_log is None or reqs.is_empty():
        return out
    low = pl.col("argument").str.to_lowercase()
    tables = sorted({t.lower() for t in csv_tables.values()})
    stmts = (
        query_log.lazy()
        .filter(pl.col("command").is_in(["Query", "Execute"]) & pl.col("ts").is_not_null()
                & pl.col("argument").str.contains_any(tables, ascii_case_insensitive=True))  # cheap, before the regex
        .select("ts", "source", "line_no", "argument")
        .collect(engine="streaming")  # a large log's text is read piece by piece, never whole
        .with_columns(table=low.str.extract(rf"(?s)^\s*select\b.*?\bfrom\s+`?({names})`?(?:\s|$)", 1))
        .filter(pl.col("table").is_not_null() & ~low.str.contains(r"\blimit\s+\d") & ~low.str.contains(r"\bcount\s*\("))
        .select(pl.col("ts").alias("q_ts"), "table", pl.col("source").alias("q_source"), pl.col("line_no").alias("q_line_no"))
        .sort("q_ts")
    )
    if stmts.is_empty():
        return out
    cand = out.with_columns(
        table=pl.col("page").replace_strict({k: v.lower() for k, v in csv_tables.items()}, default=None,
                                            return_dtype=pl.String),
        __row=pl.int_range(pl.len()),
    )
    probe = cand.filter(pl.col("mode").is_null() & pl.col("table").is_not_null()).sort("ts")
    matched = probe.join_asof(stmts, left_on="ts", right_on="q_ts", by="table", strategy="nearest", tolerance=tolerance, check_sortedness=False)
    hit = matched.filter(pl.col("q_ts").is_not_null()).select("__row")
    return (
        cand.with_columns(__hit=pl.col("__row").is_in(hit["__row"].implode()))
        .with_columns(
            mode=pl.when(pl.col("__hit")).then(pl.lit("csv")).otherwise(pl.col("mode")),
            mode_source=pl.when(pl.col("__hit")).then(pl.lit("query_log")).otherwise(pl.col("mode_source")),
            page=pl.when(pl.col("__hit")).then(pl.col("page").str.replace("_list", "_csv")).otherwise(pl.col("page")),
        )
        .drop("table", "__row", "__hit")
    )


def attacker_admin_requests(
    access: pl.LazyFrame | pl.DataFrame,
    app_log: pl.LazyFrame | pl.DataFrame,
    attacker_ips,
    admin_dir: str = "/admin/",
    *,
    sessions: pl.DataFrame | None = None,
    query_log: pl.LazyFrame | pl.DataFrame | None = None,
    platform: Platform = ECCUBE2,
) -> pl.DataFrame:
    """Admin requests from attacker IPs, and requests of admin sessions opened from them.

    Each access-log admin request is linked to its app-log ``sid`` (same IP and script within
    :data:`LINK_TOLERANCE`); a request whose session was opened from an attacker IP counts even
    when it came from another IP. When the case has no access log, the app-log lines of those
    sessions stand in (``method``/``status`` null).

    With ``query_log``, a list-page POST without a mode in its query string becomes a CSV export
    when the query log shows the export's full SELECT (:func:`infer_csv_mode`).

    Returns provenance, ``client_ip, method, path, query, status, bytes, sid, page, mode, via``
    (``ip`` or ``session``), ``mode_source`` ("query_string", "query_log" or null), sorted by ``ts``.
    """
    admin_dir = norm_admin_dir(admin_dir)
    attackers = sorted(set(attacker_ips))
    sessions = sessions if sessions is not None else admin_sessions(app_log)
    bad_sids = sessions.filter(pl.col("opened_ip").is_in(attackers))["sid"].to_list()
    reqs = _link_sid(admin_requests(access, admin_dir, platform=platform).collect(), app_log)
    cols = ["ts", "source", "line_no", "client_ip", "method", "path", "query", "status", "bytes", "sid", "page", "mode", "via"]
    out = reqs.filter(pl.col("client_ip").is_in(attackers) | pl.col("sid").is_in(bad_sids)).with_columns(
        via=pl.when(pl.col("client_ip").is_in(attackers)).then(pl.lit("ip")).otherwise(pl.lit("session"))
    )
    if reqs.is_empty():
        app = (
            app_log.lazy()
            .filter(
                pl.col("script").str.starts_with(admin_dir)
                & (pl.col("ip").is_in(attackers) | pl.col("sid").is_in(bad_sids))
                & pl.col("event").is_in(["login", "access", "upload", "upload_failed", "unpack", "download_copy", "login_failed"])
            )
            .select(
                "ts", "source", "line_no", pl.col("ip").alias("client_ip"),
                method=pl.lit(None, pl.String), path=pl.col("script"), query=pl.lit(None, pl.String),
                status=pl.lit(None, pl.Int16), bytes=pl.lit(None, pl.Int64), sid=pl.col("sid"),
                mode=pl.lit(None, pl.String),
                via=pl.when(pl.col("ip").is_in(attackers)).then(pl.lit("ip")).otherwise(pl.lit("session")),
            )
            .with_columns(page=page_expr(pl.col("path"), pl.col("mode"), admin_dir, platform=platform))
            .collect()
        )
        out = app
    out = infer_csv_mode(out.select(cols), query_log, platform=platform)
    return out.select(cols + ["mode_source"]).sort("ts", "source", "line_no")
