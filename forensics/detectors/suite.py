"""Every detector run on a case, wired in the order their inputs need.

:func:`detect_all` is the one place where detectors meet a :class:`forensics.case.Case`: it asks
the case for its tables and for the bytes of the few candidate files (backdoors, changed code,
skim candidates) and hands them to the pure detector functions. Evidence a case lacks gives empty
frames and ``None`` phases, with a reason in ``Detections.gaps``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from forensics.detectors import admin, attackers, backdoor, payment, phases, skim, sqli, tampering
from forensics.detectors import sql_errors as db_errors
from forensics.detectors.clients import resolve_clients
from forensics.detectors.layout import ServerLayout, infer_layout
from forensics.gaps import evidence_gaps

__all__ = ["Detections", "detect_all"]

#: Bytes read per candidate file.
MAX_FILE_BYTES = 16 * 1024 * 1024

#: Access-log columns the detectors read.
ACCESS_COLUMNS = ("ts", "source", "line_no", "client_ip", "method", "target_raw", "path", "query", "status",
                  "bytes", "referer", "user_agent", "forwarded_for")


@dataclass
class Detections:
    """Detector outputs of one case (all instants UTC). See each detector for the columns."""

    sqli: pl.DataFrame
    sqli_by_ip: pl.DataFrame
    sqli_reach: pl.DataFrame
    sqli_reach_summary: pl.DataFrame
    logins: pl.DataFrame
    baseline_ips: pl.DataFrame
    new_ip_logins: pl.DataFrame
    sessions: pl.DataFrame
    uploads: pl.DataFrame
    backdoors: pl.DataFrame
    backdoor_requests: pl.DataFrame
    attacker_ips: pl.DataFrame
    attacker_admin_requests: pl.DataFrame
    tampered: pl.DataFrame
    skim_candidates: pl.DataFrame
    skim_records: pl.DataFrame
    card_entries: pl.DataFrame
    payment_failure_rate: pl.DataFrame
    payment_change_point: dict | None
    phases: dict
    phases_frame: pl.DataFrame
    timeline: pl.DataFrame
    gaps: list[dict] = field(default_factory=list)  # forensics.gaps.evidence_gaps
    #: per candidate skim file: decoded / no_card_data / not_decoded, with the reason (skim.SKIM_FILE_SCHEMA)
    skim_files_status: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=skim.SKIM_FILE_SCHEMA))
    layout: ServerLayout = field(default_factory=ServerLayout)
    #: SQL errors of the app logs, each tied to the request that caused it (db_errors.TIED_SQL_ERRORS)
    sql_errors: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=db_errors.TIED_SQL_ERRORS))
    #: per SQLi IP: requests, requests that reached the database, tables and columns read
    sqli_database_side: pl.DataFrame = field(default_factory=pl.DataFrame)

    @property
    def attacker_ip_list(self) -> list[str]:
        return sorted(self.attacker_ips["ip"].to_list())

    @property
    def backdoor_paths(self) -> list[str]:
        """URL paths (the findings format: ``backdoor_paths``)."""
        return sorted(p for p in self.backdoors["url_path"].to_list() if p)

    @property
    def tampered_files(self) -> list[str]:
        """Paths relative to server/ (``tampered_files``)."""
        return sorted(self.tampered.filter(pl.col("tampered").fill_null(False))["path"].to_list())

    @property
    def skim_files(self) -> list[str]:
        """Paths relative to server/ of files holding card records (``skim_files``)."""
        return sorted(set(self.skim_records["skim_file"].to_list()))


def _bytes(case, paths) -> pl.DataFrame | None:
    paths = sorted({p for p in paths if p})
    if not paths or case.server_root is None:
        return None
    try:
        return case.server_file_bytes(paths, max_bytes=MAX_FILE_BYTES)
    except (OSError, ValueError):
        return None


def detect_all(case, *, key: bytes | None = None) -> Detections:
    """Run every detector on ``case`` (a :class:`forensics.case.Case`).

    ``key``: HMAC key for card hashes (default: this run's random key, see :mod:`forensics.cards`).
    """
    from forensics import timeline as tl

    counts = case.record_counts()
    empty = counts.filter(pl.col("records") == 0)["source"].to_list()
    gaps = evidence_gaps(getattr(case, "available", set()), counts,
                         case.rejects().filter(pl.col("source").is_in(empty)).select("source", "line_no", "reason").collect())
    admin_dir = case.admin_dir
    # lazy, only the columns detectors read: each detector collects the rows it flags, so memory
    # follows the attack, not the traffic (a table cache is scanned once per detector)
    access = case.access_log().select(ACCESS_COLUMNS)
    if case.proxies:  # behind the shop's proxies: the client is the nearest forwarded-for hop
        access = resolve_clients(access, case.proxies)
    app = case.app_log().collect()
    fs = case.fs_files().collect()
    sf = case.server_files().collect()
    qlog = case.query_log()  # lazy: SQLi reach and CSV-export detection each read only what they need

    config = _bytes(case, ["data/config/config.php"])
    config_text = None
    if config is not None and config["content"][0] is not None:
        config_text = bytes(config["content"][0]).decode("utf-8", "replace")
    layout = infer_layout(
        document_root=getattr(case, "document_root", None),
        fs_names=fs.get_column("name") if fs.height else None,
        upload_dests=app.filter(pl.col("upload_dest").str.starts_with("/"))["upload_dest"] if app.height else None,
        server_paths=sf.get_column("path") if sf.height else None,
        config_text=config_text,
        upload_folder=case.platform.upload_folder,
        docroot_markers=case.platform.docroot_markers,
    )

    s = sqli.detect_sqli(access).collect()
    reach = sqli.sqli_query_reach(qlog, s)
    errors = db_errors.tie_sql_errors(db_errors.sql_errors(app), app, access, s)
    platform = case.platform
    logins = admin.admin_logins(access, app, admin_dir, platform=platform)
    first_sqli = attackers.first_attack(s)

    up = backdoor.uploads(app, access, admin_dir, layout=layout, platform=platform)
    created = backdoor.created_scripts(fs, first_sqli, layout=layout, upload_folder=platform.upload_folder)
    bd_paths = [p for p in up["server_path"].to_list() + created["server_path"].to_list() if p]
    bds = backdoor.backdoors(app_log=app, access=access, fs_files=fs, admin_dir=admin_dir, since=first_sqli,
                             contents=_bytes(case, bd_paths), layout=layout, platform=platform)
    hits = backdoor.backdoor_requests(access, bds["url_path"].drop_nulls().to_list())
    # the attack starts at the first SQLi, or (without it) at the login that planted a backdoor
    first = attackers.first_attack(s, hits, backdoors=bds, logins=logins)
    baseline = admin.baseline_admin_ips(logins, first)
    new = admin.new_ip_admin_logins(logins, internal_ips=case.facts.internal_ips, baseline_ips=baseline["ip"].to_list())
    ips = attackers.attacker_ips(s, hits, new, access=access)
    ip_list = ips["ip"].to_list()
    sessions = admin.admin_sessions(app)
    areq = admin.attacker_admin_requests(access, app, ip_list, admin_dir, sessions=sessions, query_log=qlog,
                                         platform=platform)

    if fs.is_empty():
        # no times: every code file of the server copy is a candidate (tampered judged by content)
        code = sf.filter(pl.col("path").str.contains(tampering.CODE_FILE_RX)).select(
            "path", name=pl.lit("/") + pl.col("path"), mtime=pl.lit(None, pl.Datetime("us", "UTC"))
        )
        fs_for_tamper = code.select(
            source=pl.lit(None, pl.String), line_no=pl.lit(None, pl.Int64), md5=pl.lit(None, pl.String), name="name",
            inode=pl.lit(None, pl.String), mode=pl.lit("r/r"), uid=pl.lit(None, pl.Int64), gid=pl.lit(None, pl.Int64),
            size=pl.lit(None, pl.Int64), atime="mtime", mtime="mtime", ctime="mtime", crtime="mtime",
        )
        changed_paths = code["path"].to_list()
        copy_layout = ServerLayout(docroot_dir=layout.docroot_dir, data_dir=layout.data_dir,
                                   docroot_fs="/" + layout.docroot_dir if layout.docroot_dir else "", data_fs="/" + layout.data_dir,
                                   url_root=layout.url_root)
        tamp = tampering.tampered_files(fs_for_tamper, _bytes(case, changed_paths), require_change=False, layout=copy_layout,
                                        platform=platform)
    else:
        changed = tampering.changed_code_files(fs, since=first, layout=layout)
        tamp = tampering.tampered_files(fs, _bytes(case, changed["path"].to_list()), since=first, layout=layout,
                                        platform=platform)
    writes_to = tamp.filter(pl.col("tampered").fill_null(False))["writes_to"].drop_nulls().to_list()
    cand = skim.skim_candidates(sf, writes_to)
    decoding = skim.decode_skim_files(_bytes(case, cand["path"].to_list()), tz=case.timezone, key=key,
                                      expected=writes_to)
    recs = decoding.records

    entries = payment.card_entries(access, path=platform.card_entry_path, method=platform.card_entry_method,
                                   ok_status=platform.card_entry_ok_status)
    rate = payment.failure_rate(entries, "1d")
    cp = payment.failure_change_point(entries)

    ph = phases.incident_phases(
        sqli=s, logins=logins, attacker_ips=ip_list, backdoors=bds, tampered=tamp, access=access, skim=recs,
        containment=case.facts.containment,
    )
    pf = phases.phases_frame(ph)
    fs_names = {
        **{p: "backdoor" for p in bds["server_path"].to_list()},
        **{p: "tampered" for p in tamp.filter(pl.col("tampered").fill_null(False))["path"].to_list()},
        **{p: "skim" for p in recs["skim_file"].to_list()},
    }
    attacker_sids = sessions.filter(pl.col("opened_ip").is_in(ip_list))["sid"].drop_nulls().to_list() if sessions.height else []
    incident_end = case.facts.containment
    if incident_end is None and ip_list:
        incident_end = access.filter(pl.col("client_ip").is_in(ip_list)).select(pl.col("ts").max()).collect().item()
    timeline = tl.build_timeline(
        sqli=s, logins=logins, admin_requests=areq, uploads=up, backdoor_requests=hits, tampered=tamp, skim=recs,
        phases=pf, fs_timeline=case.fs_timeline(), fs_names=fs_names, card_entries=entries, access=access,
        attacker_ips=ip_list, app_log=app, attacker_sids=attacker_sids, sql_errors=errors,
        incident=(first, incident_end) if first is not None else None,
    )
    return Detections(
        sqli=s, sqli_by_ip=sqli.sqli_by_ip(s), sqli_reach=reach, sqli_reach_summary=sqli.sqli_reach_summary(s, reach),
        logins=logins, baseline_ips=baseline, new_ip_logins=new, sessions=sessions, uploads=up, backdoors=bds,
        backdoor_requests=hits, attacker_ips=ips, attacker_admin_requests=areq, tampered=tamp, skim_candidates=cand,
        skim_records=recs, skim_files_status=decoding.files, card_entries=entries, payment_failure_rate=rate, payment_change_point=cp, phases=ph,
        phases_frame=pf, timeline=timeline, gaps=gaps, layout=layout,
        sql_errors=errors, sqli_database_side=db_errors.sqli_database_side(s, reach, errors),
    )
