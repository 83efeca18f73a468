"""The investigation in one call, and findings.json (the findings format).

:func:`investigate` runs every detector and exposure calculator on a case and keeps every table
in an :class:`Investigation`; :func:`findings_dict` turns it into the findings.json object.
Nothing here writes files; nothing here knows the sample case.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from forensics import cards as cardlib
from forensics.detectors.credentials import credential_theft
from forensics.detectors.suite import Detections, detect_all
from forensics.exposure.cards import TestMarkers, card_entries, classify_payment_methods, confirmed_cards, possible_cards
from forensics.exposure.counts import affected_persons, count_evidence, exposure_counts
from forensics.exposure.viewed import ViewedResult, viewed_records
from forensics.exposure.windows import Window, exposure_windows
from forensics.gaps import not_established
from forensics.timeline import with_windows
from forensics.vocabulary import PHASE_NAMES

__all__ = ["INVESTIGATION_TABLES", "Investigation", "investigate", "findings_dict", "evidence_table"]



#: The investigation's tables, by the names :meth:`Investigation.tables` gives them (a notebook
#: session saves each as ``tables/inv_<name>.parquet`` and loads it by that name): evidence files
#: and rejects; SQL injection (flagged requests, per IP, query-log statements and SQL errors they
#: caused, what reached the database); admin logins, sessions, new-IP logins and the baseline;
#: attacker IPs and their admin requests; uploads, backdoors and their requests; tampered files,
#: skim candidates, records and per-file status; card-entry requests of the access log
#: (``card_posts``), their failure rate, the phases and the super-timeline; payment methods, card
#: entries of the orders, confirmed and possible cards, the count table and affected persons; the
#: viewed-records replay (connections, replays, rows, persons, upper bound, uncovered pages,
#: changes not applied; empty when there was nothing to replay).
INVESTIGATION_TABLES: tuple[str, ...] = (
    "evidence", "rejects",
    "sqli", "sqli_by_ip", "sqli_reach", "sqli_reach_summary", "sql_errors", "sqli_database_side",
    "admin_logins", "admin_sessions", "new_ip_admin_logins", "baseline_admin_ips", "attacker_ips",
    "attacker_admin_requests",
    "uploads", "backdoors", "backdoor_requests",
    "tampered", "skim_candidates", "skim_records", "skim_files_status",
    "card_posts", "payment_failure_rate", "phases", "timeline",
    "payment_methods", "card_entries", "cards_confirmed", "cards_possible", "count_table", "affected",
    "viewed_connections", "viewed_replays", "viewed_rows", "viewed_persons", "viewed_upper", "viewed_uncovered",
    "viewed_change_problems",
)


@dataclass
class Investigation:
    """Every table of one investigation (UTC instants; the case zone only for display).

    Attributes
    ----------
    case : the opened case (``forensics.case.Case``).
    evidence : ``path, kind, sha256, size, records, rejected`` per input file.
    rejects : every evidence type's rejects.
    detections : every detector output (:class:`forensics.detectors.suite.Detections`: sqli,
        logins, sessions, backdoors, attacker_ips, attacker_admin_requests, tampered, skim_records,
        phases, timeline, gaps...); the main ones are also properties here (``sqli``,
        ``attacker_ips``, ``attacker_requests``, ``backdoors``, ``tampered``, ``skim_records``,
        ``phases``, ``timeline``).
    windows : name -> :class:`~forensics.exposure.windows.Window` (admin_access, backdoor, skimmer).
    viewed : :class:`~forensics.exposure.viewed.ViewedResult` (connections, replays, rows, persons,
        upper bound, uncovered requests), None without attacker admin requests or exports.
    payment_methods : every payment method (dtb_payment) classified card / not_card / undetermined,
        with the rules that matched and why.
    card_entries : card-paid orders at their create_date, with person and test marker.
    cards_confirmed : distinct skimmed cards (masked, keyed hash), each matched to its order.
    cards_possible : persons with a card entry in the backdoor window and no confirmed card.
    counts : the ``counts`` object; count_table : per count, rule and evidence.
    affected : masked affected-person list (notification letters).
    session_ips : admin sid -> IP that opened the session.
    notes : why a value is null or only a bound (key -> reason).
    """

    case: Any
    evidence: pl.DataFrame
    rejects: pl.DataFrame
    detections: Detections
    windows: dict[str, Window]
    viewed: ViewedResult | None
    payment_methods: pl.DataFrame
    card_entries: pl.DataFrame
    cards_confirmed: pl.DataFrame
    cards_possible: pl.DataFrame
    counts: dict[str, Any]
    count_table: pl.DataFrame
    affected: pl.DataFrame
    session_ips: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    #: query-log statements with no time of their own (a MySQL 5.6 file starting before its first
    #: time line): kept with the bound they lie before, never placed at a guessed time
    untimed_statements: int = 0
    #: the SQL injection that read the admin accounts before the attacker's admin login
    #: (:func:`forensics.detectors.credentials.credential_theft`), None when the evidence shows none
    credential_theft: dict | None = None

    # detector outputs, by name
    @property
    def sqli(self) -> pl.DataFrame:
        return self.detections.sqli

    @property
    def attacker_ips(self) -> pl.DataFrame:
        return self.detections.attacker_ips

    @property
    def attacker_requests(self) -> pl.DataFrame:
        return self.detections.attacker_admin_requests

    @property
    def backdoors(self) -> pl.DataFrame:
        return self.detections.backdoors

    @property
    def tampered(self) -> pl.DataFrame:
        return self.detections.tampered

    @property
    def skim_candidates(self) -> pl.DataFrame:
        return self.detections.skim_candidates

    @property
    def skim_records(self) -> pl.DataFrame:
        return self.detections.skim_records

    @property
    def phases(self) -> dict:
        return self.detections.phases

    @property
    def timeline(self) -> pl.DataFrame:
        """The detections' super-timeline with the edges of the exposure windows."""
        spans = {name: (w.interval.start, w.interval.end) if w.interval is not None else None
                 for name, w in self.windows.items()}
        return with_windows(self.detections.timeline, spans)

    @property
    def timezone(self) -> str:
        return self.case.timezone

    @property
    def attacker_ip_list(self) -> list[str]:
        return sorted(self.attacker_ips["ip"].to_list()) if self.attacker_ips.height else []

    @property
    def viewed_persons(self) -> pl.DataFrame:
        return self.viewed.persons if self.viewed is not None else pl.DataFrame()

    def tables(self) -> dict[str, pl.DataFrame]:
        """Every table of the investigation by its declared name (:data:`INVESTIGATION_TABLES`):
        what a notebook session saves and later loads by that name."""
        d, v = self.detections, self.viewed
        frames = {
            "evidence": self.evidence, "rejects": self.rejects,
            "sqli": d.sqli, "sqli_by_ip": d.sqli_by_ip, "sqli_reach": d.sqli_reach,
            "sqli_reach_summary": d.sqli_reach_summary, "sql_errors": d.sql_errors,
            "sqli_database_side": d.sqli_database_side,
            "admin_logins": d.logins, "admin_sessions": d.sessions, "new_ip_admin_logins": d.new_ip_logins,
            "baseline_admin_ips": d.baseline_ips, "attacker_ips": d.attacker_ips,
            "attacker_admin_requests": d.attacker_admin_requests,
            "uploads": d.uploads, "backdoors": d.backdoors, "backdoor_requests": d.backdoor_requests,
            "tampered": d.tampered, "skim_candidates": d.skim_candidates, "skim_records": d.skim_records,
            "skim_files_status": d.skim_files_status,
            "card_posts": d.card_entries, "payment_failure_rate": d.payment_failure_rate, "phases": d.phases_frame,
            "timeline": self.timeline,
            "payment_methods": self.payment_methods, "card_entries": self.card_entries,
            "cards_confirmed": self.cards_confirmed, "cards_possible": self.cards_possible,
            "count_table": self.count_table, "affected": self.affected,
            "viewed_connections": v.connections if v is not None else None,
            "viewed_replays": v.replays if v is not None else None,
            "viewed_rows": v.rows if v is not None else None,
            "viewed_persons": v.persons if v is not None else None,
            "viewed_upper": v.upper if v is not None else None,
            "viewed_uncovered": v.uncovered if v is not None else None,
            "viewed_change_problems": v.change_problems if v is not None else None,
        }
        if tuple(frames) != INVESTIGATION_TABLES:  # the declaration and the tables go together
            raise RuntimeError("Investigation.tables() and INVESTIGATION_TABLES disagree")
        return {name: (f if f is not None else pl.DataFrame()) for name, f in frames.items()}

    def whatif(self, **edges) -> dict[str, Any]:
        """Counts for other window edges / attacker IPs (:func:`forensics.exposure.whatif.whatif`)."""
        from forensics.exposure.whatif import whatif

        return whatif(self, **edges)


def evidence_table(case) -> pl.DataFrame:
    """``path`` (relative to the case folder), ``kind, sha256, size, records, rejected`` for every
    evidence file the case names (the ``server/`` copy is inventoried by the loaders instead).
    Hashes are taken with the read-only opener of :mod:`forensics.manifest`."""
    from forensics.evidence import rel_source
    from forensics.manifest import sha256_file

    counts = {r["source"]: (r["records"], r["rejected"]) for r in case.record_counts().iter_rows(named=True)}
    rows = []
    for key, paths in sorted(case.evidence.items()):
        if key == "server_files":
            continue
        for p in paths:
            p = Path(p)
            if not p.is_file() or p.is_symlink():
                continue
            rel = rel_source(p, Path(case.root))
            rec, rej = counts.get(rel, (0, 0))
            rows.append({"path": rel, "kind": key, "sha256": sha256_file(p), "size": p.stat().st_size,
                         "records": rec, "rejected": rej})
    return pl.DataFrame(rows, schema={"path": pl.String, "kind": pl.String, "sha256": pl.String, "size": pl.Int64,
                                      "records": pl.Int64, "rejected": pl.Int64}).sort("path")


def _first_evidence(phase) -> dict[str, Any]:
    if phase is None:
        return {}
    ev = phase.evidence
    out: dict[str, Any] = {"what": phase.note}
    if ev is not None and ev.height:
        r = ev.row(0, named=True)
        out.update(source=r["source"], line_no=r["line_no"], ts=r["ts"])
    return out


def investigate(case, *, key: bytes | None = None) -> Investigation:
    """Run the whole analysis on an opened case (``forensics.case.open_case``).

    ``key``: HMAC key for card hashes (default: this run's random key, :mod:`forensics.cards`).
    """
    tz = case.timezone
    admin_dir, platform = case.admin_dir, case.platform
    notes: dict[str, str] = {}
    det = detect_all(case, key=key)
    access = case.access_log()
    app = case.app_log()
    att_req = det.attacker_admin_requests
    phases = det.phases
    last_req = att_req.sort("ts").tail(1)
    edge_ev = {name: _first_evidence(p) for name, p in phases.items()}
    if last_req.height:
        r = last_req.row(0, named=True)
        edge_ev["last_attacker_admin_request"] = {"what": f"last attacker admin request {r['path']}",
                                                  "source": r["source"], "line_no": r["line_no"], "ts": r["ts"]}
    windows = exposure_windows({k: p.ts for k, p in phases.items()},
                               last_admin_request=last_req["ts"][0] if last_req.height else None,
                               evidence=edge_ev)

    db = {k.lower(): v.collect() for k, v in case.db_tables().items()}
    viewed: ViewedResult | None
    if att_req.height == 0:
        viewed = None
        notes["viewed_persons"] = "no attacker admin requests found"
    elif not db:
        viewed = None
        notes["viewed_persons"] = "no database exports in the case: nothing to replay against"
    else:
        # lazy: the replay reads only the requests near the connections it attributes
        other = (access.filter(pl.col("path").str.contains(r"(?i)(\.php$|/$)"))
                 .select("ts", "source", "line_no", "client_ip", "path", "status"))
        # app-log lines of other sessions stand for requests the access log may lack
        att_sids = att_req["sid"].drop_nulls().unique().to_list()
        app_other = (app.filter(pl.col("sid").is_not_null() & ~pl.col("sid").is_in(att_sids)
                                & ~pl.col("ip").is_in(det.attacker_ip_list))
                     .select("ts", "source", "line_no", pl.col("ip").alias("client_ip"),
                             pl.col("script").alias("path"), pl.lit(None, pl.Int64).alias("status"), "sid"))
        other = pl.concat([other.with_columns(pl.lit(None, pl.String).alias("sid")),
                           app_other.cast(dict(other.collect_schema()) | {"sid": pl.String})], how="vertical")
        known = set(app.filter(pl.col("sid").is_not_null()).select("sid").unique().collect()["sid"].to_list())
        viewed = viewed_records(case.query_log(), db, att_req, tz=tz, other_requests=other, known_sids=known,
                                admin_dir=admin_dir, window_end=windows["admin_access"].end, platform=platform)
        if viewed.reason:
            notes["viewed_persons"] = viewed.reason

    markers_cfg = case.facts.test_markers
    markers = TestMarkers.of(
        customer_ids=markers_cfg.customer_ids, emails=markers_cfg.emails,
        card_keys=[cardlib.card_key(n, key) for n in markers_cfg.card_numbers])
    orders, payments = db.get(platform.order_table), db.get(platform.payment_table)
    pay = classify_payment_methods(payments, getattr(case.facts, "card_payment_ids", None),
                                   rules=platform.payment_method_rules)
    card_ids = pay.filter(pl.col("kind") == "card")["payment_id"].to_list()
    open_ids = pay.filter(pl.col("kind") == "undetermined")["payment_id"].to_list()
    if not card_ids and not open_ids:
        notes["card_entries"] = (f"no credit-card payment method in {platform.payment_table}" if payments is not None
                                 else f"no {platform.payment_table} export: card entries unknown")
    entries = card_entries(orders, card_ids, markers, payments=payments)
    confirmed = confirmed_cards(det.skim_records, entries, markers)
    possible = possible_cards(entries, confirmed, windows["backdoor"])
    possible_upper = None
    if open_ids:
        # methods whose kind the evidence cannot tell: their orders in the window may be card entries
        upper = possible_cards(card_entries(orders, card_ids + open_ids, markers, payments=payments), confirmed,
                               windows["backdoor"])
        names = ", ".join(f"{r['payment_method'] or '?'} (id {r['payment_id']})"
                          for r in pay.filter(pl.col("kind") == "undetermined").iter_rows(named=True))
        notes["payment_methods"] = (f"payment methods not classified as card or not: {names}; "
                                    "facts.card_payment_ids decides")
        if upper.height > possible.height:
            possible_upper = upper
    # each counted card names the window it falls in (traceability: order, skim record, window)
    confirmed = confirmed.with_columns(
        pl.when(windows["skimmer"].contains_expr("first_entered")).then(pl.lit("skimmer"))
        .when(windows["backdoor"].contains_expr("first_entered")).then(pl.lit("backdoor"))
        .otherwise(pl.lit(None, pl.String)).alias("window"))
    possible = possible.with_columns(pl.lit("backdoor").alias("window"))
    if orders is None:
        notes["cards_possible"] = f"no {platform.order_table} export: card entries unknown"
    elif not card_ids and not open_ids:
        notes["cards_possible"] = notes["card_entries"]
    elif possible_upper is not None:
        notes["cards_possible"] = (f"{notes['payment_methods']}; their orders in the backdoor window make "
                                   f"{possible_upper.height - possible.height} more possible card(s)")
    elif windows["backdoor"].interval is None:
        notes["cards_possible"] = f"backdoor window {windows['backdoor'].reason}"
    if "server_files" not in getattr(case, "available", {"server_files"}):
        notes["cards_confirmed"] = "no server copy in the case: skim files cannot be read"
    counts = exposure_counts(viewed, confirmed, possible, viewed_reason=notes.get("viewed_persons"),
                             confirmed_reason=notes.get("cards_confirmed"),
                             possible_reason=notes.get("cards_possible"), possible_upper=possible_upper)
    if counts.get("viewed_persons_reason"):
        notes["viewed_persons"] = counts["viewed_persons_reason"]
    sessions = det.sessions
    return Investigation(
        case=case, evidence=evidence_table(case), rejects=case.rejects().collect(), detections=det,
        windows=windows, viewed=viewed, payment_methods=pay, card_entries=entries,
        cards_confirmed=confirmed, cards_possible=possible, counts=counts,
        count_table=count_evidence(counts, viewed, confirmed, possible, windows, tz),
        affected=affected_persons(viewed, confirmed, possible, db, platform=platform),
        session_ips={r["sid"]: r["opened_ip"] for r in sessions.iter_rows(named=True) if r["opened_ip"]},
        untimed_statements=_untimed_statements(case),
        notes=notes,
        credential_theft=credential_theft(
            det.sqli, det.sqli_reach, det.sql_errors,
            det.phases["attacker_admin_login"].ts if det.phases.get("attacker_admin_login") else None,
            table=platform.admin_account_table, columns=platform.admin_credential_columns),
    )


def _untimed_statements(case) -> int:
    if "query_logs" not in getattr(case, "available", set()):
        return 0
    return int(case.query_log().filter(pl.col("ts").is_null()).select(pl.len()).collect().item())


def _skim_status(inv: Investigation) -> pl.DataFrame:
    status = getattr(inv.detections, "skim_files_status", None)
    return status if isinstance(status, pl.DataFrame) and "status" in status.columns else pl.DataFrame(
        schema={"skim_file": pl.String, "status": pl.String, "reason": pl.String})


def _iso(t: dt.datetime | None, zone: ZoneInfo) -> str | None:
    return t.astimezone(zone).isoformat() if t is not None else None


def _phases_cause(inv: Investigation, zone: ZoneInfo) -> dict[str, Any]:
    """What led to a phase, where the evidence shows it: the attacker's admin login and the SQL
    injection that read the admin accounts before it (a ``reason`` sentence and its figures)."""
    theft = inv.credential_theft
    if not theft:
        return {}
    cols = f" ({', '.join(theft['columns'])})" if theft["columns"] else ""
    proof = {"query log": f"{theft['statements']} statement(s) the database ran with the injected text",
             "error log": f"{theft['sql_errors']} SQL error(s) the injection caused",
             "payload only": "the payloads only (no database-side record of them)"}[theft["proof"]]
    reason = (f"SQL injection from {', '.join(theft['ips'])} read {theft['table']}{cols}, the admin accounts, from "
              f"{_iso(theft['first_ts'], zone)} to {_iso(theft['last_ts'], zone)} before this login: "
              f"{theft['requests']} request(s); shown by {proof}")
    return {"attacker_admin_login": {
        "reason": reason, "table": theft["table"], "columns": theft["columns"], "ips": theft["ips"],
        "first": _iso(theft["first_ts"], zone), "last": _iso(theft["last_ts"], zone), "requests": theft["requests"],
        "statements": theft["statements"], "sql_errors": theft["sql_errors"], "proof": theft["proof"]}}


def findings_dict(inv: Investigation) -> dict[str, Any]:
    """The findings.json object (the findings format) plus extra keys:
    ``phases_reason``, ``windows_reason``, ``counts_reason`` (why a value is null),
    ``phase_evidence`` / ``window_evidence`` (rows that set each value), ``attacker_ip_reasons``,
    ``viewed`` (replay summary), ``cards`` (masked confirmed/possible lists), ``skim_candidates``."""
    tz = inv.timezone
    zone = ZoneInfo(tz)
    gaps = list(getattr(inv.detections, "gaps", []) or [])
    phases, reasons, pev = {}, {}, {}
    for name in PHASE_NAMES:
        p = inv.phases.get(name)
        phases[name] = _iso(p.ts if p else None, zone)
        if p is None or p.ts is None:
            # not found, or not established when the evidence it needs was absent or unusable
            reasons[name] = not_established(name, gaps) or (p.note if p else "not computed")
        if p is not None and p.evidence is not None and p.evidence.height:
            pev[name] = [{"source": r["source"], "line_no": r["line_no"], "ts": _iso(r["ts"], zone)}
                         for r in p.evidence.sort("source", "line_no").iter_rows(named=True)]
    windows, wreasons, wev = {}, {}, {}
    for name in sorted(inv.windows):
        w = inv.windows[name]
        windows[name] = w.to_iso(tz)
        if w.interval is None:
            wreasons[name] = w.reason
        wev[name] = {side: {k: (_iso(v, zone) if isinstance(v, dt.datetime) else v) for k, v in ev.items()}
                     for side, ev in (("opened_by", w.opened_by), ("closed_by", w.closed_by))}
    counts = dict(inv.counts)
    creasons = {k: v for k, v in inv.notes.items()}
    skim_files = sorted(set(inv.skim_records["skim_file"].to_list())) if inv.skim_records.height else []
    tampered = inv.tampered.filter(pl.col("tampered").fill_null(False))
    v = inv.viewed
    viewed_summary = None
    if v is not None:
        rep = v.replays
        viewed_summary = {
            "mode": v.mode,
            "reason": v.reason,
            "connections": sorted(
                (v.connections.group_by("attribution").len().rows() if v.connections.height else [])
                + ([("no_person_select", v.quiet_connections)] if v.quiet_connections else [])),
            "replayed_selects": rep.filter(pl.col("status").str.starts_with("ok")).height,
            "uncertain_selects": rep.filter(pl.col("status") == "ok_uncertain").height,
            "uncertain_persons": len(v.uncertain),
            "not_replayed": [
                {"source": r["source"], "line_no": r["line_no"], "status": r["status"], "reason": r["reason"]}
                for r in rep.filter(pl.col("status").is_in(["failed", "no_request"])).sort("source", "line_no")
                .iter_rows(named=True)
            ],
            "not_counted_selects": rep.filter(pl.col("status") == "not_display_page").height,
            "ambiguous_connections": v.connections.filter(pl.col("attribution") == "ambiguous").height
            if v.connections.height else 0,
            "estimated_rows": int(v.rows["estimated"].sum()) if v.rows.height else 0,
            "change_problems": v.change_problems.height if v.change_problems is not None else 0,
        }
    cards = {
        "confirmed": [
            {"card": r["card_masked"], "order_id": r["order_id"], "records": r["n_records"],
             "skim_files": r["skim_files"], "first_entered": _iso(r["first_entered"], zone),
             "match": r["match"], "test": r["is_test"], "test_reason": r["test_reason"],
             "window": r.get("window")}
            for r in inv.cards_confirmed.iter_rows(named=True)
        ],
        "possible_orders": sorted(o for r in inv.cards_possible.iter_rows(named=True) for o in r["order_ids"]),
        "payment_methods": inv.payment_methods.filter(pl.col("kind") == "card")["payment_id"].to_list(),
        "payment_methods_undetermined": [
            {"payment_id": r["payment_id"], "payment_method": r["payment_method"], "reason": r["reason"]}
            for r in inv.payment_methods.filter(pl.col("kind") == "undetermined").iter_rows(named=True)],
    }
    return {
        "case": inv.case.id,
        "title": getattr(inv.case, "title", None),
        "platform": getattr(getattr(inv.case, "platform", None), "display_name", None),
        "timezone": tz,
        "phases": phases,
        "phases_reason": reasons,
        "phase_evidence": pev,
        "phases_cause": _phases_cause(inv, zone),
        "attacker_ips": inv.attacker_ip_list,
        "attacker_ips_reason": None if inv.attacker_ip_list else (not_established("attacker_ips", gaps)
                                                                  or "no IP met the attacker rules"),
        "attacker_ip_reasons": {r["ip"]: r["reasons"] for r in inv.attacker_ips.sort("ip").iter_rows(named=True)},
        "backdoor_paths": sorted(p for p in inv.backdoors["url_path"].to_list() if p),
        "tampered_files": sorted(tampered["path"].to_list()),
        "skim_files": skim_files,
        "skim_candidates": sorted(inv.skim_candidates["path"].to_list()) if inv.skim_candidates.height else [],
        "windows": windows,
        "windows_reason": wreasons,
        "window_evidence": wev,
        "counts": counts,
        "counts_reason": creasons,
        "gaps": [{k: g[k] for k in ("evidence", "path", "reason", "affects")} for g in gaps],
        "query_log_untimed_statements": getattr(inv, "untimed_statements", 0),
        "skim_files_not_decoded": [
            {"path": r["skim_file"], "status": r["status"], "reason": r["reason"]}
            for r in _skim_status(inv).filter(pl.col("status") != "decoded").iter_rows(named=True)],
        "viewed": viewed_summary,
        "cards": cards,
        "evidence": [
            {"path": r["path"], "sha256": r["sha256"], "records": r["records"], "rejected": r["rejected"]}
            for r in inv.evidence.sort("path").iter_rows(named=True)
        ],
    }
