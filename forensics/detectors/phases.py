"""Phases of the incident (the findings format: ``phases``), each with the evidence rows behind it.

- ``sqli_first``: the first SQL injection request.
- ``attacker_admin_login``: the first successful admin login from an attacker IP (access-log 302
  or app-log ``login:``, whichever is earlier; both rows are evidence).
- ``backdoor_installed``: the earliest backdoor upload (else its creation time in the bodyfile).
- ``card_form_tampered``: the modification time of the tampered card-entry code (a tampered file
  that reads card fields; the earliest when there are several).
- ``containment``: ``facts.containment``; checked against the block seen in the access log
  (:func:`observed_block`: the first 403 after which an attacker IP only got 403;
  ``containment_observed``); the attacker IPs' last answered request before it is
  ``containment_last_allowed``; ``containment_agrees`` tells whether the fact lies between the two
  (the block took effect after the last answered request and by the first refused one, give or
  take ``containment_tolerance``): an attacker may not come back for hours after a block.
  Without the fact, the observed time stands in.

All values UTC, ``None`` where the evidence is missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import polars as pl

__all__ = ["PHASES", "Phase", "incident_phases", "observed_block", "phases_frame"]

PHASES = ("sqli_first", "attacker_admin_login", "backdoor_installed", "card_form_tampered", "containment")

EVIDENCE_SCHEMA = pl.Schema({"ts": pl.Datetime("us", "UTC"), "source": pl.String, "line_no": pl.Int64, "note": pl.String})


def _empty() -> pl.DataFrame:
    return pl.DataFrame(schema=EVIDENCE_SCHEMA)


@dataclass
class Phase:
    """One phase: its UTC instant (or None), why, and the rows that prove it."""

    name: str
    ts: datetime | None
    note: str
    evidence: pl.DataFrame = field(default_factory=_empty)
    extra: dict = field(default_factory=dict)


def _ev(frame: pl.DataFrame, ts: str, source: str, line_no: str, note: str | pl.Expr) -> pl.DataFrame:
    if frame.is_empty():
        return _empty()
    return frame.select(
        pl.col(ts).cast(pl.Datetime("us", "UTC")).alias("ts"),
        pl.col(source).cast(pl.String).alias("source"),
        pl.col(line_no).cast(pl.Int64).alias("line_no"),
        (note if isinstance(note, pl.Expr) else pl.lit(note)).alias("note"),
    ).filter(pl.col("source").is_not_null())


def incident_phases(
    *,
    sqli: pl.LazyFrame | pl.DataFrame | None = None,
    logins: pl.DataFrame | None = None,
    attacker_ips=(),
    backdoors: pl.DataFrame | None = None,
    tampered: pl.DataFrame | None = None,
    access: pl.LazyFrame | pl.DataFrame | None = None,
    skim: pl.DataFrame | None = None,
    containment: datetime | None = None,
    containment_tolerance: timedelta = timedelta(minutes=15),
    login_group: timedelta = timedelta(seconds=5),
) -> dict[str, Phase]:
    """Every phase of :data:`PHASES` (name -> :class:`Phase`)."""
    attackers = sorted(set(attacker_ips))
    out: dict[str, Phase] = {}

    s = sqli.lazy().sort("ts").head(1).collect() if sqli is not None else pl.DataFrame()
    if s.is_empty():
        out["sqli_first"] = Phase("sqli_first", None, "no SQL injection request found")
    else:
        out["sqli_first"] = Phase(
            "sqli_first", s["ts"][0], "first SQL injection request",
            _ev(s, "ts", "source", "line_no", pl.format("SQLi from {}: {}", "client_ip", pl.col("target_raw").str.slice(0, 200))),
        )

    ok = (
        logins.filter((pl.col("outcome") == "success") & pl.col("ip").is_in(attackers)).sort("ts")
        if logins is not None
        else pl.DataFrame()
    )
    if ok.is_empty():
        out["attacker_admin_login"] = Phase("attacker_admin_login", None, "no successful admin login from an attacker IP")
    else:
        t0 = ok["ts"][0]
        first = ok.filter((pl.col("ts") <= t0 + login_group) & (pl.col("ip") == ok["ip"][0]))
        out["attacker_admin_login"] = Phase(
            "attacker_admin_login", t0, f"first successful admin login from attacker IP {ok['ip'][0]}",
            _ev(first, "ts", "source", "line_no", pl.format("admin login success from {} ({})", "ip", "evidence")),
        )

    b = backdoors.filter(pl.col("installed").is_not_null()).sort("installed") if backdoors is not None else pl.DataFrame()
    if b.is_empty():
        out["backdoor_installed"] = Phase("backdoor_installed", None, "no backdoor found")
    else:
        r = b.head(1)
        ev = pl.concat(
            [
                _ev(r, "installed", "upload_source", "upload_line_no", pl.format("upload of {} by {}", "url_path", "uploaded_by")),
                _ev(r, "created", "fs_source", "fs_line_no", pl.format("{} created", "server_path")),
            ]
        )
        out["backdoor_installed"] = Phase("backdoor_installed", r["installed"][0], f"backdoor {r['url_path'][0]} installed", ev)

    t = (
        tampered.filter(pl.col("tampered").fill_null(False)).sort("modified", nulls_last=True)
        if tampered is not None
        else pl.DataFrame()
    )
    if t.is_empty():
        out["card_form_tampered"] = Phase("card_form_tampered", None, "no tampered code file with a skimmer found")
    elif t["modified"][0] is None:
        # found by content, but no file times (no bodyfile): the first skimmed record bounds it
        bound = skim["entered"].min() if skim is not None and not skim.is_empty() else None
        out["card_form_tampered"] = Phase(
            "card_form_tampered", None,
            f"{t['path'][0]} holds skimmer code, but its modification time is unknown (no file times)"
            + ("" if bound is None else "; the first skimmed card record bounds it from above"),
            extra={"upper_bound": bound},
        )
    else:
        r = t.head(1)
        out["card_form_tampered"] = Phase(
            "card_form_tampered", r["modified"][0], f"{r['path'][0]} modified with skimmer code",
            _ev(r, "modified", "source", "line_no", pl.format("{} modified", "path")),
        )

    observed, obs_ev = observed_block(access, attackers, since=out["sqli_first"].ts) if access is not None else (None, _empty())
    # the block happened after the last answered attacker request and by the first refused one
    allowed = obs_ev.filter(pl.col("note").str.starts_with("last answer"))["ts"]
    last_allowed = allowed[0] if len(allowed) else None
    agrees = None
    if observed is not None and containment is not None:
        agrees = (last_allowed is None or last_allowed < containment) and containment <= observed + containment_tolerance
    extra = {
        "containment_fact": containment,
        "containment_observed": observed,
        "containment_last_allowed": last_allowed,
        "containment_agrees": agrees,
    }
    if containment is not None:
        note = "facts.containment" + (
            "" if observed is None else (" (agrees with the block seen in the access log)" if agrees else " (differs from the block seen in the access log)")
        )
        out["containment"] = Phase("containment", containment, note, obs_ev, extra)
    elif observed is not None:
        out["containment"] = Phase("containment", observed, "attacker IPs refused (403) from here on (no facts.containment)", obs_ev, extra)
    else:
        out["containment"] = Phase("containment", None, "no facts.containment and no 403 to an attacker IP", obs_ev, extra)
    return out


def observed_block(access: pl.LazyFrame | pl.DataFrame, attacker_ips, *, since=None, min_blocked: int = 2):
    """When the attacker IPs were blocked, as the access log shows it.

    Per attacker IP: the first 403 after its last non-403 answer (from then on it only got 403),
    when at least ``min_blocked`` requests were refused that way (one stray 403 for a forbidden
    path is not a block). Returns ``(earliest such instant or None, evidence rows)``.
    """
    attackers = sorted(set(attacker_ips))
    if not attackers:
        return None, _empty()
    lf = access.lazy().filter(pl.col("client_ip").is_in(attackers))
    if since is not None:
        lf = lf.filter(pl.col("ts") >= since)
    req = lf.select("ts", "source", "line_no", "client_ip", "status").collect()
    last_ok = req.filter(pl.col("status") != 403).group_by("client_ip").agg(last_ok=pl.col("ts").max())
    blocked = (
        req.filter(pl.col("status") == 403)
        .join(last_ok, on="client_ip", how="left")
        .filter(pl.col("last_ok").is_null() | (pl.col("ts") > pl.col("last_ok")))
        .sort("ts", "source", "line_no")
    )
    firsts = (
        blocked.group_by("client_ip")
        .agg(pl.all().first(), n=pl.len())
        .filter(pl.col("n") >= min_blocked)
        .sort("ts")
    )
    if firsts.is_empty():
        return None, _empty()
    first = firsts["ts"][0]
    allowed = req.filter((pl.col("status") != 403) & (pl.col("ts") < first)).sort("ts").tail(1)
    return first, pl.concat(
        [
            _ev(allowed, "ts", "source", "line_no", pl.format("last answer (not 403) to an attacker IP ({}) before the block", "client_ip")),
            _ev(firsts, "ts", "source", "line_no", pl.format("attacker IP {} refused (403) from here on", "client_ip")),
        ]
    )


def phases_frame(phases: dict[str, Phase]) -> pl.DataFrame:
    """One row per evidence row of every phase: ``phase, phase_ts, note, ts, source, line_no, evidence_note``
    (a phase without evidence rows gives one row with nulls)."""
    rows = []
    for name in PHASES:
        p = phases.get(name)
        if p is None:
            continue
        ev = p.evidence
        if ev.is_empty():
            rows.append(pl.DataFrame({"phase": [name], "phase_ts": [p.ts], "note": [p.note]}, schema={"phase": pl.String, "phase_ts": pl.Datetime("us", "UTC"), "note": pl.String}).with_columns(
                ts=pl.lit(None, pl.Datetime("us", "UTC")), source=pl.lit(None, pl.String), line_no=pl.lit(None, pl.Int64), evidence_note=pl.lit(None, pl.String)))
        else:
            rows.append(ev.select(
                phase=pl.lit(name), phase_ts=pl.lit(p.ts, pl.Datetime("us", "UTC")), note=pl.lit(p.note),
                ts="ts", source="source", line_no="line_no", evidence_note="note"))
    return pl.concat(rows) if rows else pl.DataFrame()
