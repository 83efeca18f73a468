"""Phases with evidence rows, and the containment check."""

from __future__ import annotations

import polars as pl

from forensics.detectors import admin, attackers, backdoor, phases, sqli, tampering

from . import scenario as S
from .frames import ts


def build(containment=None):
    s = sqli.detect_sqli(S.ACCESS)
    lg = admin.admin_logins(S.ACCESS, S.APP, S.ADMIN)
    first = attackers.first_attack(s)
    base = admin.baseline_admin_ips(lg, first)
    new = admin.new_ip_admin_logins(lg, internal_ips=[S.STAFF], baseline_ips=base["ip"].to_list())
    bd = backdoor.backdoors(app_log=S.APP, access=S.ACCESS, fs_files=S.FS, admin_dir=S.ADMIN, since=first)
    hits = backdoor.backdoor_requests(S.ACCESS, bd["url_path"].to_list())
    ips = attackers.attacker_ips(s, hits, new)["ip"].to_list()
    tp = tampering.tampered_files(S.FS, pl.DataFrame({"path": [S.TEMPLATE], "content": [S.SKIMMER_PHP]}), since=first)
    return phases.incident_phases(sqli=s, logins=lg, attacker_ips=ips, backdoors=bd, tampered=tp, access=S.ACCESS, containment=containment)


def test_phase_times_and_evidence():
    ph = build(containment=ts("2018-05-06 00:05:00"))
    assert {k: v.ts for k, v in ph.items()} == {
        "sqli_first": ts("2018-05-02 02:00:00"),
        "attacker_admin_login": ts("2018-05-03 03:00:10"),
        "backdoor_installed": ts("2018-05-03 03:02:00"),
        "card_form_tampered": ts("2018-05-04 12:14:00"),
        "containment": ts("2018-05-06 00:05:00"),
    }
    assert ph["sqli_first"].evidence["line_no"].to_list() == [3]
    assert sorted(ph["attacker_admin_login"].evidence["source"].to_list()) == ["logs/eccube/admin.log", "logs/httpd/access_log"]
    assert ph["containment"].extra["containment_observed"] == ts("2018-05-06 00:00:00")
    assert ph["containment"].extra["containment_agrees"] is True


def test_containment_disagreement_and_fallback():
    ph = build(containment=ts("2018-05-07 00:00:00"))
    assert ph["containment"].extra["containment_agrees"] is False
    ph = build()
    assert ph["containment"].ts == ts("2018-05-06 00:00:00")


def test_missing_evidence_gives_none():
    empty = S.ACCESS.head(0)
    ph = phases.incident_phases(sqli=sqli.detect_sqli(empty), logins=admin.admin_logins(empty, S.APP.head(0)), access=empty)
    assert all(p.ts is None for p in ph.values())
    frame = phases.phases_frame(ph)
    assert frame["phase"].to_list() == list(phases.PHASES)


def test_phases_frame_rows():
    frame = phases.phases_frame(build(containment=ts("2018-05-06 00:05:00")))
    assert frame.columns == ["phase", "phase_ts", "note", "ts", "source", "line_no", "evidence_note"]
    assert frame.filter(pl.col("phase") == "backdoor_installed").height == 2


def test_tampered_without_file_times_is_null_with_bound():
    from .frames import fs_files

    fs = fs_files([{"name": "/" + S.TEMPLATE}])
    tp = tampering.tampered_files(fs, pl.DataFrame({"path": [S.TEMPLATE], "content": [S.SKIMMER_PHP]}), require_change=False)
    skim_rows = pl.DataFrame({"entered": [ts("2018-05-05 06:00:00")]}, schema={"entered": pl.Datetime("us", "UTC")})
    ph = phases.incident_phases(tampered=tp, skim=skim_rows)
    assert ph["card_form_tampered"].ts is None
    assert ph["card_form_tampered"].extra["upper_bound"] == ts("2018-05-05 06:00:00")
    assert "unknown" in ph["card_form_tampered"].note
