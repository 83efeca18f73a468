"""Viewed records: which persons' records the attacker's admin requests displayed (the counting rules).

Steps (:func:`viewed_records`):

1. Connections. Each PHP request opens its own MySQL connection; the query log groups statements
   by ``conn_id`` (split at each ``Connect``). A connection's session id is the literal
   ``sess_id`` it reads from (or writes to) the session table.
2. Attribution of connections to requests. By session id first: a connection that reads an
   attacker session (an app-log ``sid`` of an attacker admin request) is the attacker's; one that
   reads any other session the app log knows is not. Otherwise by time: the requests (access log)
   within ``tolerance`` seconds of the connection's first statement that could have issued its
   queries (a customer page reads the customer table, an order page the order table). Only
   attacker requests: attacker; none: not; both: *ambiguous*, counted and flagged, never
   silently dropped nor silently counted.
3. Replay. Every SELECT of an attacker display page (the platform's routing table,
   :mod:`forensics.platforms.eccube2`: customer / order lists, edits, CSV exports, ``home.php``,
   a ``csv_sql.php`` output...) that reads a person table is executed in DuckDB over the tables as
   of that statement (:mod:`forensics.exposure.asof`). Statements that cannot be replayed are
   listed with the reason. A page that hands over every row (a ``bkup.php`` download) shows every
   person that existed at that moment, deleted rows included. A request whose class hangs on a
   mode the access log does not show (a POST to ``bkup.php``) may have been such a page: the
   count becomes a bound, and the result says why.
4. Persons. Each result row is a person: ``customer_id`` when non-zero, else the lower-cased
   order e-mail (a guest order); the data items are the categories of the non-empty columns the
   SELECT returned.

Without a query log there is nothing to replay: :func:`viewed_upper_bound` lists every person the
attacker's display pages could have shown (rows that existed by the end of the admin_access
window in the tables those pages read), and the result says so.
"""

from __future__ import annotations

import bisect
import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from forensics.detectors.near import near_expr
from forensics.exposure.asof import AsOfTables, ReplayError, SafeReplayer, to_local_naive
from forensics.exposure.sql import referenced_tables
from forensics.exposure.statements import (
    connection_rows,
    connections,
    person_select_rows,
    session_id_rows,
    statement_order,
    statements_of,
)
from forensics.platforms.eccube2 import ECCUBE2
from forensics.platforms.routing import Platform, page_expr, pages_showing, shown_tables

__all__ = [
    "ITEM_RULES",
    "ViewedResult",
    "connection_table",
    "person_tables",
    "viewed_records",
    "viewed_upper_bound",
]

UTC = pl.Datetime("us", "UTC")

#: EC-CUBE 2's admin routing table (the default ``platform``): which pages exist and which
#: person tables they show. Pages that show person records count (``pages_showing``); pages that
#: hand over every row (``AdminPage.whole``: a backup download) have no SELECT to replay, their
#: persons are the rows that existed then.
ADMIN_PAGES = ECCUBE2.admin_pages

@dataclass(frozen=True)
class ItemRule:
    """A data item a displayed column holds (a rule record, :mod:`forensics.rules`): a returned
    column whose name (lower case, table prefix removed) matches ``pattern`` shows ``item``."""

    id: str
    item: str
    pattern: str
    description: str
    status: str = "stable"
    false_positives: tuple[str, ...] = ()


#: Data-item categories by returned column name.
ITEM_RULES: tuple[ItemRule, ...] = (
    ItemRule("item-name", "name", r"^(order_)?(name|kana)0?[12]?$", "name01/02, kana01/02, order_name01.."),
    ItemRule("item-company", "name", r"^(order_)?company_name$", "company name (identifies the orderer)"),
    ItemRule("item-address", "address", r"^(order_)?(zip0?[12]?|zipcode|pref(_name)?|addr0?[12]?)$",
             "zip, prefecture (id, or its name in an admin CSV download), address lines",
             false_positives=("a prefecture alone (pref) is shown with every order list, without the address lines",)),
    ItemRule("item-phone", "phone", r"^(order_)?(tel|fax)0?[1-3]?$", "tel01..03, fax"),
    ItemRule("item-email", "email", r"^(order_)?email(_mobile)?$", "email, email_mobile, order_email"),
    ItemRule("item-birth", "birth", r"^(order_)?birth$", "date of birth"),
    ItemRule("item-sex", "sex", r"^(order_)?sex(_name)?$", "sex (id, or its name in an admin CSV download)"),
    ItemRule("item-job", "job", r"^(order_)?job(_name)?$", "occupation (id, or its name in an admin CSV download)"),
)
_ITEM_RES = [(r.item, re.compile(r.pattern)) for r in ITEM_RULES]


def _item_of(col: str) -> str | None:
    c = col.lower().split(".")[-1]
    for item, rx in _ITEM_RES:
        if rx.match(c):
            return item
    return None


def person_tables(tables: Mapping[str, pl.DataFrame | pl.LazyFrame], *, platform: Platform = ECCUBE2) -> set[str]:
    """Exported tables holding person records: those with a customer_id or an e-mail column (the
    platform's session table aside)."""
    out = set()
    for name, f in tables.items():
        cols = set(f.collect_schema().names() if isinstance(f, pl.LazyFrame) else f.columns)
        if cols & {"customer_id", "email", "order_email"} and name.lower() != platform.session_table.lower():
            out.add(name.lower())
    return out


def connection_table(statements: pl.DataFrame, person_tabs: Iterable[str], *, platform: Platform = ECCUBE2) -> pl.DataFrame:
    """One row per query-log connection of ``statements`` (:func:`forensics.exposure.asof.statement_table`):
    ``conn_key, conn_id, start, end, sid, n_statements, tables`` (person tables its SELECTs read,
    sorted), ``n_person_selects`` (:func:`forensics.exposure.statements.connection_rows`)."""
    pt = sorted(person_tabs)
    base = statements.group_by("conn_key").agg(
        pl.col("conn_id").first(), pl.col("ts").min().alias("start"), pl.col("ts").max().alias("end"),
        pl.len().alias("n_statements"))
    sids = session_id_rows(statements.select("conn_key", "argument"), platform).collect()
    reads = (person_select_rows(statements.select("conn_key", "keyword", "argument"), pt).collect() if pt
             else pl.DataFrame(schema={"conn_key": pl.String}))
    return connection_rows(base, sids, reads, pt)


@dataclass
class ViewedResult:
    """Outcome of :func:`viewed_records`.

    Attributes
    ----------
    mode
        ``replay`` (established from the query log), ``upper_bound`` (no query log: bound only) or
        ``partial`` (replayed, but some attacker display requests are not covered by the log).
    reason
        Why the count is a bound (None for ``replay``).
    connections
        Per connection that read a person table: ``conn_key, start, end, sid, tables, n_person_selects, attribution``
        (attacker / staff / other / ambiguous / unattributed), ``method`` (sid / time),
        ``req_source, req_line_no, req_ts, client_ip, page``, ``candidates`` (time attribution).
    replays
        Per replayed-or-considered SELECT: ``seq, ts, source, line_no, conn_key, page, status``
        (ok / failed / not_display_page / no_request), ``reason, duck_sql, n_rows``.
    rows
        Per displayed row: statement provenance, request provenance, ``person_key, person_kind,
        customer_id, email, items, estimated, estimate_reason, ambiguous``.
    persons
        Per person: ``person_key, person_kind, customer_id, email, items, first_viewed,
        last_viewed, n_statements, n_requests, estimated, ambiguous_only``.
    upper
        Upper-bound persons (same columns as ``persons`` without view times) or None.
    uncovered
        Attacker display requests with no attributed connection: ``source, line_no, ts, page,
        covered_by_log`` (false: outside the query log's time span).
    change_problems
        Logged data changes that could not be applied (from :class:`AsOfTables`).
    uncertain
        Person keys whose display depends on values the log does not tell (replays with the
        lower and the upper bound of an unknown ``update_date`` differ on them).
    quiet_connections
        Connections of the log that read no person table (counted, not kept: in a busy shop
        nearly every connection is one).
    """

    mode: str
    reason: str | None
    connections: pl.DataFrame
    replays: pl.DataFrame
    rows: pl.DataFrame
    persons: pl.DataFrame
    upper: pl.DataFrame | None = None
    uncovered: pl.DataFrame | None = None
    change_problems: pl.DataFrame | None = None
    uncertain: list[str] = field(default_factory=list)
    quiet_connections: int = 0

    @property
    def count_lower(self) -> int | None:
        """Persons established as displayed: attributed to the attacker without doubt and not
        depending on values the log does not tell (None without a replay)."""
        if self.mode not in ("replay", "partial"):
            return None
        sure = self.persons.filter(~pl.col("ambiguous_only")
                                   & ~pl.col("person_key").is_in(pl.Series(self.uncertain, dtype=pl.String).implode()))
        return sure.height

    @property
    def count(self) -> int | None:
        """Distinct persons displayed; None when the evidence only bounds it (no query log,
        uncovered requests, staff/attacker overlap, or rows that depend on unknown values)."""
        if self.mode != "replay":
            return None
        lo, hi = self.count_lower, self.count_upper
        return lo if lo == hi else None

    @property
    def count_upper(self) -> int | None:
        """Upper bound: every person a bound or an alternative attribution/replay could add."""
        if self.upper is not None:
            return self.upper.height
        if self.mode != "replay":
            return None
        return len(set(self.persons["person_key"].to_list()) | set(self.uncertain))

    @property
    def bound_reason(self) -> str | None:
        """Why :attr:`count` is None (None when it is established)."""
        if self.reason:
            return self.reason
        if self.count is not None:
            return None
        parts = []
        amb = int(self.persons["ambiguous_only"].sum()) if self.persons.height else 0
        if amb:
            parts.append(f"{amb} person(s) shown only by connections that cannot be told from staff requests "
                         "in the same seconds")
        if self.uncertain:
            parts.append(f"{len(self.uncertain)} person(s) on pages whose rows depend on update_date values "
                         "the query log does not tell")
        return "; ".join(parts) or None


ROW_SCHEMA = {
    "seq": pl.UInt32, "ts": UTC, "source": pl.String, "line_no": pl.Int64, "conn_key": pl.String,
    "req_source": pl.String, "req_line_no": pl.Int64, "req_ts": UTC, "client_ip": pl.String,
    "sid": pl.String, "page": pl.String, "table": pl.String, "person_key": pl.String,
    "person_kind": pl.String, "customer_id": pl.Int64, "email": pl.String,
    "items": pl.List(pl.String), "estimated": pl.Boolean, "estimate_reason": pl.String,
    "ambiguous": pl.Boolean,
}
REPLAY_SCHEMA = {
    "seq": pl.UInt32, "ts": UTC, "source": pl.String, "line_no": pl.Int64, "conn_key": pl.String,
    "page": pl.String, "attribution": pl.String, "status": pl.String, "reason": pl.String,
    "duck_sql": pl.String, "n_rows": pl.Int64,
}
PERSON_SCHEMA = {
    "person_key": pl.String, "person_kind": pl.String, "customer_id": pl.Int64, "email": pl.String,
    "items": pl.List(pl.String), "first_viewed": UTC, "last_viewed": UTC, "n_statements": pl.UInt32,
    "n_requests": pl.UInt32, "estimated": pl.Boolean, "ambiguous_only": pl.Boolean,
}


def person_key(customer_id: Any, email: Any) -> tuple[str | None, str | None, int | None, str | None]:
    """(key, kind, customer_id, email): a non-zero customer_id, else the lower-cased e-mail."""
    try:
        cid = int(customer_id) if customer_id not in (None, "") else 0
    except (TypeError, ValueError):
        cid = 0
    em = str(email).strip().lower() if email not in (None, "") else None
    if cid:
        return f"customer:{cid}", "customer", cid, em
    if em:
        return f"guest:{em}", "guest", None, em
    return None, None, None, None


def _near(requests: pl.DataFrame | pl.LazyFrame | None, moments: pl.Series, tolerance_s: float) -> pl.DataFrame | None:
    """The ``requests`` logged near one of ``moments`` (:func:`forensics.detectors.near.near_expr`:
    a superset of those within ``tolerance_s``), read without collecting the rest; only the
    columns :func:`_prep_requests` reads."""
    if requests is None:
        return None
    lf = requests.lazy()
    names = lf.collect_schema().names()
    return lf.select([c for c in _REQUEST_COLUMNS if c in names]).filter(
        near_expr(pl.col("ts"), moments, tolerance_s)).collect()


#: The columns of a request the attribution reads.
_REQUEST_COLUMNS = {"ts": UTC, "source": pl.String, "line_no": pl.Int64, "client_ip": pl.String,
                    "method": pl.String, "path": pl.String, "status": pl.Int64, "sid": pl.String, "page": pl.String,
                    "mode": pl.String}


def _prep_requests(frame: pl.DataFrame | None, admin_dir: str, attacker: bool, platform: Platform) -> pl.DataFrame:
    cols = _REQUEST_COLUMNS
    if frame is None or frame.height == 0:
        return pl.DataFrame(schema={**cols, "attacker": pl.Boolean})
    f = frame
    for c, t in cols.items():
        if c not in f.columns:
            f = f.with_columns(pl.lit(None, dtype=t).alias(c))
    f = f.select([pl.col(c).cast(t) for c, t in cols.items()])
    f = f.with_columns(pl.coalesce(pl.col("page"), page_expr(platform.admin_pages, pl.col("path"), pl.col("mode"), admin_dir))
                       .alias("page"))
    return f.with_columns(pl.lit(attacker).alias("attacker"))


def _compatible(page: str | None, tables: list[str], ptabs: set[str], platform: Platform) -> bool:
    """Whether a request of ``page`` could have issued a connection reading ``tables`` (a page
    whose mode its request hides: in any of its modes)."""
    want = shown_tables(platform.admin_pages, page, ptabs)
    hidden = platform.mode_hidden_pages.get(page or "")
    if hidden is not None and want is not None:
        also = shown_tables(platform.admin_pages, hidden, ptabs)
        want = None if also is None else want | also
    return want is None or bool(want & set(tables))


#: The request a connection is attributed to, where one is chosen.
_CHOSEN = {"req_source": pl.String, "req_line_no": pl.Int64, "req_ts": UTC, "client_ip": pl.String,
           "page": pl.String}


def _window_counts(starts: np.ndarray, moments: np.ndarray, tol: int) -> np.ndarray:
    """For each of ``starts``, how many of ``moments`` (sorted) lie within ``tol`` of it, both
    ends included (Int64 microseconds)."""
    return np.searchsorted(moments, starts + tol, side="right") - np.searchsorted(moments, starts - tol, side="left")


def _attribute(conns: pl.DataFrame, att: pl.DataFrame, others: pl.DataFrame, *, attacker_sids: set[str],
               known: set[str], tol: dt.timedelta, ptabs: set[str], platform: Platform) -> tuple[pl.DataFrame, list[dict]]:
    """Each connection that read a person table attributed to a request, or not.

    ``conns``: :func:`forensics.exposure.statements.connection_rows` rows; ``att``: the
    attacker's requests (:func:`_prep_requests`); ``others``: ``ts, page`` of every other request
    that may have opened one. A connection reading an attacker session is the attacker's
    (``method`` sid), one reading another known session staff's; any other is told by the
    requests within ``tol`` of its start whose page could have read its tables (``candidates``):
    none is unattributed, only the attacker's is attacker, only others' is other, both is
    ambiguous. The counts are taken per page over sorted times, so the other requests stay a
    frame; only connections with an attacker's request to choose are looked at one by one, in
    order (a request already chosen by an earlier connection is chosen again only when no other
    fits).

    Returns
    -------
    (DataFrame, list of dict)
        ``conns`` with ``attribution``, ``method`` and ``candidates`` (Int64); and for each
        connection given a request, ``conn_key`` and the request's ``req_source, req_line_no,
        req_ts, client_ip, page`` and ``req_sid``, in ``conns`` order.
    """
    sid = pl.col("sid").fill_null("")
    by_sid = sid.is_in(list(attacker_sids - {""}))
    staff = ~by_sid & sid.is_in(list(known - {""}))
    timed = ~by_sid & ~staff & pl.col("start").is_not_null()
    flags = conns.select(by_sid=by_sid, staff=staff, timed=timed)
    starts = conns["start"].dt.epoch("us").fill_null(0).to_numpy()
    width = int(tol / dt.timedelta(microseconds=1))
    n_att = np.zeros(conns.height, dtype=np.int64)
    n_other = np.zeros(conns.height, dtype=np.int64)
    table_sets = [tuple(t or ()) for t in conns["tables"].to_list()]
    kinds = sorted(set(table_sets))
    for counts, frame in ((n_att, att), (n_other, others)):
        times = (frame.select("page", t=pl.col("ts").dt.epoch("us")).drop_nulls("t")
                 .sort("page", "t", nulls_last=False))
        every = times["t"].to_numpy()
        at = 0
        for page, n in times.group_by("page", maintain_order=True).len().iter_rows():
            fits = {k: _compatible(page, list(k), ptabs, platform) for k in kinds}
            mask = np.fromiter((fits[k] for k in table_sets), dtype=np.bool_, count=len(table_sets))
            if mask.any():
                counts[mask] += _window_counts(starts[mask], every[at:at + n], width)
            at += n
    timed_mask = flags["timed"].to_numpy()
    n_att = np.where(timed_mask, n_att, 0)
    n_other = np.where(timed_mask, n_other, 0)
    attributed = conns.with_columns(
        attribution=pl.when(flags["by_sid"]).then(pl.lit("attacker"))
        .when(flags["staff"]).then(pl.lit("staff"))
        .when(pl.Series(n_att + n_other) == 0).then(pl.lit("unattributed"))
        .when(pl.Series(n_other) == 0).then(pl.lit("attacker"))
        .when(pl.Series(n_att) == 0).then(pl.lit("other"))
        .otherwise(pl.lit("ambiguous")),
        method=pl.when(flags["by_sid"] | flags["staff"]).then(pl.lit("sid")).otherwise(pl.lit("time")),
        candidates=pl.Series(n_att + n_other, dtype=pl.Int64),
    )
    # the attacker's request of each connection it may have opened, in order: a request chosen once
    # is taken again only when no other fits (a request of no known time opens nothing)
    rows = att.drop_nulls("ts").sort("ts", maintain_order=True).to_dicts()
    moments = [r["ts"] for r in rows]
    att_by_sid: dict[str, list[dict]] = {}
    for r in rows:
        if r["sid"]:
            att_by_sid.setdefault(r["sid"], []).append(r)
    used: set[tuple] = set()
    chosen: list[dict] = []
    pick = attributed.with_columns(_i=pl.int_range(pl.len())).filter(
        flags["by_sid"] | pl.Series(n_att > 0)).select("_i", "conn_key", "start", "sid", "tables")
    for i, key, start, sid_, tables in pick.iter_rows():
        tabs_read = tables or []
        if flags["by_sid"][i]:
            near = [r for r in att_by_sid.get(sid_, []) if start is not None
                    and abs(r["ts"] - start) <= max(tol, dt.timedelta(seconds=30))]
            best = min(near, default=None, key=lambda r: (not _compatible(r["page"], tabs_read, ptabs, platform),
                                                          (r["source"], r["line_no"]) in used,
                                                          abs((r["ts"] - start).total_seconds())))
        else:
            lo, hi = bisect.bisect_left(moments, start - tol), bisect.bisect_right(moments, start + tol)
            fits = [r for r in rows[lo:hi] if _compatible(r["page"], tabs_read, ptabs, platform)]
            best = min(fits, default=None, key=lambda r: ((r["source"], r["line_no"]) in used,
                                                           abs((r["ts"] - start).total_seconds())))
        if best is not None:
            used.add((best["source"], best["line_no"]))
            chosen.append({"conn_key": key, "req_source": best["source"], "req_line_no": best["line_no"],
                           "req_ts": best["ts"], "client_ip": best["client_ip"], "page": best["page"],
                           "req_sid": best["sid"]})
    return attributed, chosen


def _ran_in_mode(statements: pl.DataFrame, conn_key: str, signature: str) -> bool:
    """Whether connection ``conn_key`` ran a statement of a page mode's own reads (``signature``,
    ``AdminPage.mode_signature``)."""
    return statements.filter(pl.col("conn_key") == conn_key)["argument"].str.contains(signature).any()


def viewed_records(
    query_log: pl.LazyFrame | pl.DataFrame | None,
    tables: Mapping[str, pl.DataFrame | pl.LazyFrame],
    attacker_requests: pl.DataFrame,
    *,
    tz: str,
    other_requests: pl.DataFrame | pl.LazyFrame | None = None,
    known_sids: Iterable[str] | None = None,
    admin_dir: str = "/admin/",
    tolerance_s: float = 2.0,
    window_end: dt.datetime | None = None,
    platform: Platform = ECCUBE2,
) -> ViewedResult:
    """Persons whose records the attacker's admin requests displayed (pages, tables and session
    table as ``platform`` has them).

    Parameters
    ----------
    query_log
        QUERY_LOG frame (None or empty: no query log, upper bound only).
    tables
        Database exports by table name (``dtb_customer``, ``dtb_order``...).
    attacker_requests
        Attacker admin requests: ``ts, source, line_no, client_ip, path, status, sid, page, mode``
        (missing columns are derived or null).
    other_requests
        Every other request that may have opened a connection (access log rows: ``ts,
        client_ip, path``...), for time attribution and to detect overlaps; a LazyFrame is read
        only for the seconds near a connection that read a person table.
    known_sids
        Every session id the app log knows (attacker sessions included); a connection reading a
        known non-attacker session is never the attacker's.
    window_end
        End of the admin_access window (bound for the upper bound; defaults to the last
        attacker request).
    """
    zone = ZoneInfo(tz)
    tabs = {k.lower(): (v.collect() if isinstance(v, pl.LazyFrame) else v) for k, v in tables.items()}
    att = _prep_requests(attacker_requests, admin_dir, True, platform)
    display_pages = tuple(pages_showing(platform.admin_pages))
    whole_pages = [p.name for p in platform.admin_pages if p.whole]
    hidden_pages = platform.mode_hidden_pages
    attacker_sids = set(att["sid"].drop_nulls().to_list())
    known = set(known_sids or ()) | attacker_sids
    ptabs = person_tables(tabs, platform=platform)
    display = att.filter(pl.col("page").is_in(list(display_pages)))
    whole = display.filter(pl.col("page").is_in(whole_pages))
    # a POST hides the mode: such a request may have been the display one (a backup download); a
    # GET names its mode in the query string, so one without it was not
    hidden = att.filter(pl.col("page").is_in(list(hidden_pages))
                        & (pl.col("method").is_null() | (pl.col("method") != "GET"))).with_columns(
        pl.col("page").replace_strict(hidden_pages, default=None))
    hidden = hidden.filter(pl.col("status").is_null() | pl.col("status").is_between(200, 299))
    if window_end is None and att.height:
        window_end = att["ts"].max()

    order = statement_order(query_log) if query_log is not None else None  # where statements stand, no text
    if order is None or order.height == 0:
        upper = viewed_upper_bound(tabs, pl.concat([display, hidden], how="vertical"), window_end=window_end,
                                   platform=platform)
        return ViewedResult(
            mode="upper_bound",
            reason="no MySQL query log in the case: the rows each page displayed cannot be "
                   "established; bound = every person in the tables the attacker's pages show "
                   "that existed by the end of the admin_access window",
            connections=pl.DataFrame(), replays=pl.DataFrame(schema=REPLAY_SCHEMA),
            rows=pl.DataFrame(schema=ROW_SCHEMA), persons=pl.DataFrame(schema=PERSON_SCHEMA),
            upper=upper, uncovered=display.select("source", "line_no", "ts", "page"),
        )

    # kept: the connections that read a person table, or a session of a request whose mode its
    # line hides (their statements tell the mode); the rest (nearly all, in a busy shop) counted
    hidden_sids = hidden["sid"].drop_nulls().unique().to_list()
    conns, n_connections = connections(order, query_log, ptabs, platform=platform, sessions=hidden_sids)
    quiet_connections = n_connections - conns.filter(pl.col("n_person_selects") > 0).height
    conns = conns.filter((pl.col("n_person_selects") > 0) | pl.col("sid").is_in(hidden_sids))
    log_start, log_end = order.ts_min, order.ts_max

    # ---- attribution --------------------------------------------------------------------------
    tol = dt.timedelta(seconds=tolerance_s)
    starts = conns.filter((pl.col("n_person_selects") > 0) & pl.col("start").is_not_null()).select(
        pl.col("start").alias("_cs")).sort("_cs")
    # only requests near a connection that read person tables matter for time attribution: those
    # seconds are read from the other requests (a filter their scan applies), then counted exactly
    oth = _prep_requests(_near(other_requests, starts["_cs"], tolerance_s), admin_dir, False, platform)
    if att.height and oth.height:
        oth = oth.join(att.select("source", "line_no"), on=["source", "line_no"], how="anti")
    # only requests to scripts can open a connection
    oth = oth.filter(pl.col("path").is_null() | pl.col("path").str.contains(r"(?i)(\.php$|/$)"))
    attributed, chosen = _attribute(conns.filter(pl.col("n_person_selects") > 0), att, oth.select("ts", "page"),
                                    attacker_sids=attacker_sids, known=known, tol=tol, ptabs=ptabs, platform=platform)
    del oth  # counted per page and second: the attribution keeps no row of the other requests
    # read in full, once the other requests are gone: the statements of the connections kept
    # (the logged changes, of the tables the replay reads, are read once those are known)
    st = statements_of(order, query_log, conns["conn_key"].to_list(), change_tables=())
    # a request whose line hides its mode: the statements of its connection tell the mode when the
    # platform knows that mode's own reads (AdminPage.mode_signature); a request resolved either
    # way leaves the bound
    signatures = {p.name: p.mode_signature for p in platform.admin_pages if p.mode_signature}
    hidden_class = {(r["source"], r["line_no"]): r["page"] for r in hidden.iter_rows(named=True)}
    resolved: set[tuple] = set()
    for rec in chosen:
        key = (rec["req_source"], rec["req_line_no"])
        sig = signatures.get(hidden_class.get(key, ""))
        if sig is None:
            continue
        resolved.add(key)
        if _ran_in_mode(st, rec["conn_key"], sig):
            rec["page"] = hidden_class[key]  # ran in the display mode: replayed as that page
    # a hidden request whose own session's connection read no person table ran in another mode
    # when that connection lacks the signature (it displayed nobody)
    window = max(tol, dt.timedelta(seconds=30))
    for r in hidden.iter_rows(named=True):
        key = (r["source"], r["line_no"])
        sig = signatures.get(r["page"] or "")
        if key in resolved or sig is None or not r["sid"] or r["ts"] is None:
            continue
        mine = conns.filter((pl.col("sid") == r["sid"]) & (pl.col("n_person_selects") == 0)
                            & ((pl.col("start") - r["ts"]).abs() <= window))
        if mine.height == 0:
            continue
        nearest = mine.sort((pl.col("start") - r["ts"]).abs()).row(0, named=True)
        if not _ran_in_mode(st, nearest["conn_key"], sig):
            resolved.add(key)
    if resolved:
        hidden = hidden.filter(~pl.struct("source", "line_no").is_in(
            pl.DataFrame(sorted(resolved), schema=["source", "line_no"], orient="row").to_struct().implode()))
    picked = pl.DataFrame(chosen, schema={"conn_key": pl.String, **_CHOSEN, "req_sid": pl.String})
    conn_df = (attributed.join(picked, on="conn_key", how="left", maintain_order="left")
               .select(*conns.columns, "attribution", "method", *_CHOSEN, "candidates", "req_sid")
               .sort("start", "conn_key"))

    # tables as of each moment: only the tables the attributed SELECTs read
    sel_keys = conn_df.filter(pl.col("attribution").is_in(["attacker", "ambiguous"]))["conn_key"]
    needed: set[str] = set()
    for arg in st.filter(pl.col("conn_key").is_in(sel_keys.implode()) & (pl.col("keyword") == "SELECT"))["argument"]:
        reads = referenced_tables(arg, set(tabs)) & set(tabs)
        if reads & ptabs:  # only SELECTs that read person tables are replayed
            needed |= reads
    # every logged change to those tables, whichever connection made it
    changes = statements_of(order, query_log, (), change_tables=needed) if needed else None
    asof = AsOfTables.build({t: tabs[t] for t in needed}, changes, tz, log_start=log_start)
    del changes  # parsed into the as-of tables' changes
    asof.tables = tabs  # lookups (order -> orderer) may use any export; changes are parsed for `needed`

    # ---- replay -------------------------------------------------------------------------------
    sel = conn_df.filter(pl.col("attribution").is_in(["attacker", "ambiguous"]))
    replays: list[dict] = []
    rows: list[dict] = []
    uncertain: set[str] = set()
    if sel.height:
        cinfo = {r["conn_key"]: r for r in sel.iter_rows(named=True)}
        stmts = st.filter(pl.col("conn_key").is_in(list(cinfo)) & (pl.col("keyword") == "SELECT"))
        eng = SafeReplayer()
        try:
            for s in stmts.iter_rows(named=True):
                reads = referenced_tables(s["argument"], set(tabs)) & ptabs
                if not reads:
                    continue
                ci = cinfo[s["conn_key"]]
                rep = {"seq": s["seq"], "ts": s["ts"], "source": s["source"], "line_no": s["line_no"],
                       "conn_key": s["conn_key"], "page": ci["page"], "attribution": ci["attribution"],
                       "status": None, "reason": None, "duck_sql": None, "n_rows": None}
                if ci["page"] is None:
                    rep["status"] = "no_request"
                    rep["reason"] = "attacker session, but no attacker request near this connection"
                    replays.append(rep)
                    continue
                if ci["page"] not in display_pages:
                    rep["status"] = "not_display_page"
                    rep["reason"] = f"page {ci['page']} is not a display page (the counting rules)"
                    replays.append(rep)
                    continue
                now_local = s["ts"].astimezone(zone).replace(tzinfo=None)
                eng.clear()
                frames: dict[str, pl.DataFrame] = {}
                flags: dict[str, dict] = {}
                for t in referenced_tables(s["argument"], set(tabs)) & set(tabs):
                    frames[t], flags[t] = asof.at(t, s["seq"], s["ts"])
                    eng.register(t, to_local_naive(frames[t].drop([c for c in ("source", "line_no") if c in frames[t].columns]), tz))
                try:
                    duck_sql, cols, res = eng.select(s["argument"], now_local=now_local)
                except ReplayError as e:
                    rep["status"], rep["reason"] = "failed", str(e)
                    replays.append(rep)
                    continue
                rep.update(status="ok", duck_sql=duck_sql, n_rows=len(res))
                got = _rows_to_persons(cols, res, frames, flags, asof, s, ci, platform)
                if any("update_date" in why for f in flags.values() for ws in f.values() for why in ws):
                    # the page's rows may depend on an update_date the log does not tell:
                    # replay with the other bound and say so when the persons differ
                    alt_frames = {}
                    for t in frames:
                        alt_frames[t], _ = asof.at(t, s["seq"], s["ts"], estimate="high")
                        eng.register(t, to_local_naive(alt_frames[t].drop([c for c in ("source", "line_no") if c in alt_frames[t].columns]), tz))
                    try:
                        _, cols2, res2 = eng.select(s["argument"], now_local=now_local)
                        alt = {r["person_key"] for r in _rows_to_persons(cols2, res2, alt_frames, flags, asof, s, ci, platform)}
                        base_keys = {r["person_key"] for r in got}
                        if alt != base_keys:
                            rep["status"] = "ok_uncertain"
                            rep["reason"] = ("rows depend on update_date values the log does not tell; "
                                             f"with the later bound: +{sorted(alt - base_keys)} -{sorted(base_keys - alt)}")
                            uncertain.update(alt ^ base_keys)
                    except ReplayError:
                        pass
                replays.append(rep)
                rows.extend(got)
        finally:
            eng.close()

    rows.extend(_whole_rows(tabs, whole, platform))
    replay_df = pl.DataFrame(replays, schema=REPLAY_SCHEMA)
    row_df = pl.DataFrame(rows, schema=ROW_SCHEMA)
    persons = _aggregate_persons(row_df)

    # ---- coverage -------------------------------------------------------------------------------
    got = conn_df.filter(pl.col("req_source").is_not_null()).select(
        pl.col("req_source").alias("source"), pl.col("req_line_no").alias("line_no")).unique()
    lo_t, hi_t = log_start, log_end
    unc = display.filter(~pl.col("page").is_in(whole_pages)).join(got, on=["source", "line_no"], how="anti").with_columns(
        pl.col("ts").is_between(pl.lit(lo_t - tol), pl.lit(hi_t + tol)).alias("covered_by_log"))
    # only requests that answered a page (2xx, or status unknown) displayed anything
    unc = unc.filter(pl.col("status").is_null() | pl.col("status").is_between(200, 299))
    outside = unc.filter(~pl.col("covered_by_log"))
    unreplayed = _unreplayed_requests(display, replay_df, conn_df, st)
    mode, reason, upper = "replay", None, None
    reasons = []
    if outside.height:
        reasons.append(f"{outside.height} attacker display request(s) fall outside the query log's time span")
    if unreplayed.height:
        why = replay_df.filter(pl.col("status") == "failed")["reason"].drop_nulls().unique().sort().head(1).to_list()
        reasons.append(f"{unreplayed.height} attacker display request(s) whose SELECTs could not be replayed on the "
                       f"exports (e.g. {why[0] if why else 'unknown reason'})")
    if hidden.height:
        pages = ", ".join(sorted(set(hidden["page"].drop_nulls())))
        reasons.append(f"{hidden.height} attacker request(s) whose mode the access log does not show may have "
                       f"been {pages}")
    if reasons:
        mode = "partial"
        reason = "; ".join(reasons) + ": bound = replayed persons plus every person those requests could show"
        cols = outside.drop("covered_by_log").columns
        bound = viewed_upper_bound(tabs, pl.concat([outside.select(cols), hidden.select(cols), unreplayed.select(cols)],
                                                   how="vertical"), window_end=window_end, platform=platform)
        upper = pl.concat([persons.select(bound.columns), bound], how="vertical").unique(
            "person_key", keep="first", maintain_order=True).sort("person_key")
    return ViewedResult(
        mode=mode, reason=reason, connections=conn_df, replays=replay_df, rows=row_df,
        persons=persons, upper=upper,
        uncovered=unc.select("source", "line_no", "ts", "page", "covered_by_log"),
        change_problems=asof.problems, uncertain=sorted(uncertain), quiet_connections=quiet_connections,
    )


def _unreplayed_requests(display: pl.DataFrame, replays: pl.DataFrame, connections: pl.DataFrame,
                         statements: pl.DataFrame) -> pl.DataFrame:
    """The display requests one of whose row-returning SELECTs failed to replay (a column the
    exports lack: the shop's admin CSV downloads hold no ``del_flg``): the rows they displayed
    are unknown, so they join the upper bound. A failed ``SELECT COUNT(...)`` shows no rows."""
    failed = replays.filter(pl.col("status") == "failed").select("seq", "conn_key")
    if failed.height == 0 or display.height == 0:
        return display.clear()
    failed = failed.join(statements.select(pl.col("seq").cast(failed.schema["seq"]), "argument"), on="seq", how="left")
    failed = failed.filter(~pl.col("argument").fill_null("").str.contains(r"(?is)^\s*select\s+count\s*\("))
    reqs = (connections.join(failed.select("conn_key").unique(), on="conn_key", how="semi")
            .select(pl.col("req_source").alias("source"), pl.col("req_line_no").alias("line_no"))
            .drop_nulls().unique())
    return display.join(reqs, on=["source", "line_no"], how="semi")


def _whole_rows(tables: Mapping[str, pl.DataFrame], requests: pl.DataFrame, platform: Platform) -> list[dict]:
    """ROW_SCHEMA dicts for pages that hand over every row (a backup download): every person of
    the person tables that existed at the request's moment."""
    out = []
    for r in requests.iter_rows(named=True):
        persons = viewed_upper_bound(tables, requests.filter((pl.col("source") == r["source"])
                                                             & (pl.col("line_no") == r["line_no"])),
                                     window_end=r["ts"], platform=platform)
        for p in persons.iter_rows(named=True):
            out.append({
                "seq": None, "ts": r["ts"], "source": r["source"], "line_no": r["line_no"], "conn_key": None,
                "req_source": r["source"], "req_line_no": r["line_no"], "req_ts": r["ts"],
                "client_ip": r["client_ip"], "sid": r["sid"], "page": r["page"], "table": None, **p,
                "estimated": False, "estimate_reason": None, "ambiguous": False,
            })
    return out


def _lookup(frame: pl.DataFrame | None, col: str, value: Any) -> dict | None:
    if frame is None or col not in frame.columns or value is None:
        return None
    try:
        hit = frame.filter(pl.col(col) == value)
    except Exception:  # noqa: BLE001 - type mismatch between a result value and the column
        hit = frame.filter(pl.col(col).cast(pl.String) == str(value))
    return hit.row(0, named=True) if hit.height else None


def _norm(v: Any) -> Any:
    if isinstance(v, str) and v.strip().lstrip("-").isdigit():
        return int(v)
    return v


def _index(frame: pl.DataFrame | None, key: str, cols: tuple[str, ...]) -> dict:
    if frame is None or key not in frame.columns:
        return {}
    present = [c for c in cols if c in frame.columns]
    out = {}
    for row in frame.select(key, *present).iter_rows():
        vals = dict(zip(present, row[1:]))
        out[_norm(row[0])] = tuple(vals.get(c) for c in cols)
    return out


def _rows_to_persons(cols, res, frames, flags, asof: AsOfTables, s: dict, ci: dict, platform: Platform) -> list[dict]:
    """One output dict per result row that identifies a person."""
    lc = [c.lower().split(".")[-1] for c in cols]

    def idx(name: str) -> int | None:
        return lc.index(name) if name in lc else None

    i_cid, i_oem, i_oid, i_em = idx("customer_id"), idx("order_email"), idx("order_id"), idx("email")
    item_idx = [(k, _item_of(c)) for k, c in enumerate(lc)]
    order_table, customer_table = platform.order_table.lower(), platform.customer_table.lower()
    orders = frames.get(order_table)
    if orders is None and order_table in asof.tables:
        orders = asof.tables[order_table]
    customers = frames.get(customer_table)
    if customers is None and customer_table in asof.tables:
        customers = asof.tables[customer_table]
    out = []
    order_idx = None
    for r in res:
        cid = r[i_cid] if i_cid is not None else None
        em = r[i_oem] if i_oem is not None else None
        table = order_table if (i_oid is not None or i_oem is not None) else customer_table
        flag_keys: list[tuple[str, Any]] = []
        if i_oid is not None:
            flag_keys.append((order_table, r[i_oid]))
        if i_cid is not None and cid:
            flag_keys.append((customer_table, cid))
        if i_oid is not None and r[i_oid] is not None:
            # an order row: the orderer is whoever the order names (a SELECT may return only
            # the e-mail of a registered customer's order)
            if order_idx is None:
                order_idx = _index(orders, "order_id", ("customer_id", "order_email"))
            o = order_idx.get(_norm(r[i_oid]))
            if o:
                cid, em = o
        if cid in (None, 0, "0") and em in (None, "") and i_em is not None and r[i_em]:
            c = _lookup(customers, "email", r[i_em])
            cid = c.get("customer_id") if c else None
            if not cid and i_oid is None:
                em = r[i_em]
        key, kind, cid_n, em_n = person_key(cid, em)
        if key is None:
            continue
        items = sorted({it for k, it in item_idx if it and r[k] not in (None, "")})
        reasons = []
        for t, pk in flag_keys:
            reasons.extend(flags.get(t, {}).get(_norm(pk), []))
        out.append({
            "seq": s["seq"], "ts": s["ts"], "source": s["source"], "line_no": s["line_no"],
            "conn_key": s["conn_key"], "req_source": ci["req_source"], "req_line_no": ci["req_line_no"],
            "req_ts": ci["req_ts"], "client_ip": ci["client_ip"], "sid": ci["sid"] or ci.get("req_sid"),
            "page": ci["page"], "table": table, "person_key": key, "person_kind": kind,
            "customer_id": cid_n, "email": em_n, "items": items, "estimated": bool(reasons),
            "estimate_reason": "; ".join(reasons) if reasons else None,
            "ambiguous": ci["attribution"] == "ambiguous",
        })
    return out


def _aggregate_persons(rows: pl.DataFrame) -> pl.DataFrame:
    if rows.height == 0:
        return pl.DataFrame(schema=PERSON_SCHEMA)
    return (
        rows.group_by("person_key")
        .agg(
            pl.col("person_kind").first(),
            pl.col("customer_id").drop_nulls().first(),
            pl.col("email").drop_nulls().first(),
            pl.col("items").list.explode(keep_nulls=False, empty_as_null=False).unique().sort(),
            pl.col("ts").min().alias("first_viewed"),
            pl.col("ts").max().alias("last_viewed"),
            pl.col("seq").n_unique().alias("n_statements"),
            pl.struct("req_source", "req_line_no").n_unique().alias("n_requests"),
            pl.col("estimated").any(),
            pl.col("ambiguous").all().alias("ambiguous_only"),
        )
        .select([pl.col(c).cast(t) for c, t in PERSON_SCHEMA.items()])
        .sort("person_key")
    )


def viewed_upper_bound(
    tables: Mapping[str, pl.DataFrame],
    display_requests: pl.DataFrame,
    *,
    window_end: dt.datetime | None,
    platform: Platform = ECCUBE2,
) -> pl.DataFrame:
    """Every person the given display requests' pages could have shown: the rows of each page's
    table that existed when the last page reading that table was shown (a row created later was
    never on screen), deleted ones included; ``window_end`` bounds requests without a time (all
    rows when unknown). Columns of ``persons`` minus the view times: ``person_key, person_kind,
    customer_id, email, items``."""
    ptabs = person_tables(tables, platform=platform)
    last_shown: dict[str, dt.datetime | None] = {}
    for r in display_requests.iter_rows(named=True) if display_requests.height else ():
        ts = r.get("ts") if r.get("ts") is not None else window_end
        for t in shown_tables(platform.admin_pages, r["page"], ptabs) or ():
            if t not in last_shown:
                last_shown[t] = ts
            elif last_shown[t] is not None:
                last_shown[t] = None if ts is None else max(last_shown[t], ts)
    want = sorted(last_shown)
    parts = []
    for t in want:
        f = tables.get(t)
        if f is None:
            continue
        cutoff = last_shown[t]
        if cutoff is not None and "create_date" in f.columns:
            f = f.filter(pl.col("create_date").is_null() | (pl.col("create_date") <= cutoff))
        items = sorted({it for c in f.columns if (it := _item_of(c))})
        cid = pl.col("customer_id").cast(pl.Int64, strict=False) if "customer_id" in f.columns else pl.lit(None, pl.Int64)
        em_col = "order_email" if "order_email" in f.columns else ("email" if "email" in f.columns else None)
        em = pl.col(em_col).str.strip_chars().str.to_lowercase() if em_col else pl.lit(None, pl.String)
        if t == platform.customer_table.lower() or "order_email" not in f.columns:
            em = pl.lit(None, pl.String)
        g = f.select(cid.alias("customer_id"), em.alias("email")).with_columns(
            pl.when(pl.col("customer_id").fill_null(0) != 0)
            .then(pl.lit("customer:") + pl.col("customer_id").cast(pl.String))
            .when(pl.col("email").is_not_null() & (pl.col("email") != ""))
            .then(pl.lit("guest:") + pl.col("email"))
            .alias("person_key"),
        ).filter(pl.col("person_key").is_not_null()).with_columns(
            pl.when(pl.col("person_key").str.starts_with("customer:")).then(pl.lit("customer"))
            .otherwise(pl.lit("guest")).alias("person_kind"),
            pl.lit(items, dtype=pl.List(pl.String)).alias("items"),
        ).with_columns(
            pl.when(pl.col("person_kind") == "customer").then(pl.col("customer_id")).alias("customer_id"),
        )
        parts.append(g.select("person_key", "person_kind", "customer_id", "email", "items"))
    if not parts:
        return pl.DataFrame(schema={k: PERSON_SCHEMA[k] for k in ("person_key", "person_kind", "customer_id", "email", "items")})
    return (
        pl.concat(parts, how="vertical")
        .group_by("person_key")
        .agg(pl.col("person_kind").first(), pl.col("customer_id").drop_nulls().first(),
             pl.col("email").drop_nulls().first(), pl.col("items").list.explode(keep_nulls=False, empty_as_null=False).unique().sort())
        .sort("person_key")
    )
