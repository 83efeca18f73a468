"""Attacker IPs by the counting rules, with reasons."""

from __future__ import annotations

import polars as pl

from forensics import schemas
from forensics.detectors import admin, attackers, backdoor, sqli

from . import scenario as S


def test_attacker_ips_and_reasons():
    s = sqli.detect_sqli(S.ACCESS)
    lg = admin.admin_logins(S.ACCESS, S.APP, S.ADMIN)
    base = admin.baseline_admin_ips(lg, attackers.first_attack(s))
    new = admin.new_ip_admin_logins(lg, internal_ips=[S.STAFF], baseline_ips=base["ip"].to_list())
    hits = backdoor.backdoor_requests(S.ACCESS, ["/user_data/x1.php"])
    out = attackers.attacker_ips(s, hits, new, access=S.ACCESS)
    assert out.schema == schemas.ATTACKER_IPS
    assert dict(zip(out["ip"], out["reasons"].to_list())) == {
        S.ATT: ["new_ip_admin_login", "sqli"],
        S.SHELL: ["backdoor_request"],
    }
    # first/last seen over every request of the IP (the 403 after containment included)
    assert out.filter(pl.col("ip") == S.ATT)["last_seen"][0] == S.frames.ts("2018-05-06 00:00:09")


def test_vendor_and_staff_are_not_attackers_without_attack():
    s = sqli.detect_sqli(S.ACCESS.filter(pl.col("client_ip") != S.ATT))
    assert attackers.first_attack(s) is None
    out = attackers.attacker_ips(s)
    assert out.is_empty() and out.schema == schemas.ATTACKER_IPS


def test_first_attack_without_sqli_starts_at_the_planting_login():
    no_access = S.ACCESS.head(0)
    s = sqli.detect_sqli(no_access)
    lg = admin.admin_logins(no_access, S.APP, S.ADMIN)
    bd = backdoor.backdoors(app_log=S.APP, access=no_access, fs_files=S.FS, admin_dir=S.ADMIN)
    assert bd["url_path"].to_list() == ["/user_data/x1.php"]  # uploads only: old.php is not listed
    first = attackers.first_attack(s, backdoors=bd, logins=lg)
    assert first == S.frames.ts("2018-05-03 03:00:10")
    base = admin.baseline_admin_ips(lg, first)
    new = admin.new_ip_admin_logins(lg, internal_ips=[S.STAFF], baseline_ips=base["ip"].to_list())
    assert attackers.attacker_ips(s, None, new)["ip"].to_list() == [S.ATT]
