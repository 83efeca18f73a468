"""Attacker IPs (the counting rules).

An IP is an attacker when it

- ``sqli``: sent an SQL injection request;
- ``backdoor_request``: requested a backdoor URL;
- ``new_ip_admin_login``: logged into the admin panel while being neither an internal IP
  (``facts.internal_ips``) nor an admin IP seen before the first attack (baseline).

Each IP comes with every reason that applies and the first/last time any of its requests was
seen (the whole access log when given, otherwise the evidence rows of its reasons).
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from forensics import schemas

__all__ = ["attacker_ips", "first_attack"]


def first_attack(
    sqli: pl.LazyFrame | pl.DataFrame,
    backdoor_hits: pl.DataFrame | None = None,
    *,
    backdoors: pl.DataFrame | None = None,
    logins: pl.DataFrame | None = None,
    lookback: timedelta = timedelta(hours=24),
):
    """The first attack instant (UTC), None when no attack is seen.

    The earliest of: the first SQLi request; the first backdoor request; a backdoor's installation;
    and the admin login that led to a backdoor upload (the uploader IP's last successful login
    within ``lookback`` before the upload). Without SQLi evidence (no access log) the login that
    planted the backdoor still starts the attack, so that IP is not taken for a known admin.
    """
    times = [sqli.lazy().select(pl.col("ts").min()).collect().item()]
    if backdoor_hits is not None and not backdoor_hits.is_empty():
        times.append(backdoor_hits["ts"].min())
    if backdoors is not None and not backdoors.is_empty():
        times.append(backdoors["installed"].min())
        if logins is not None and not logins.is_empty():
            ok = logins.filter(pl.col("outcome") == "success")
            for ip, at in backdoors.select("uploaded_by", "installed").drop_nulls().iter_rows():
                before = ok.filter((pl.col("ip") == ip) & (pl.col("ts") <= at) & (pl.col("ts") >= at - lookback))
                if not before.is_empty():
                    times.append(before["ts"].max())
    times = [t for t in times if t is not None]
    return min(times) if times else None


def attacker_ips(
    sqli: pl.LazyFrame | pl.DataFrame,
    backdoor_hits: pl.DataFrame | None = None,
    new_ip_logins: pl.DataFrame | None = None,
    *,
    access: pl.LazyFrame | pl.DataFrame | None = None,
) -> pl.DataFrame:
    """``schemas.ATTACKER_IPS``: ``ip, reasons, first_seen, last_seen``, sorted by ``ip``.

    Parameters
    ----------
    sqli : output of :func:`forensics.detectors.sqli.detect_sqli` (``client_ip``, ``ts``).
    backdoor_hits : requests to backdoor URLs (``client_ip``, ``ts``), e.g.
        :func:`forensics.detectors.backdoor.backdoor_requests`.
    new_ip_logins : :func:`forensics.detectors.admin.new_ip_admin_logins` (``ip``, ``ts``).
    access : the access log, for first/last seen over all of an IP's requests.
    """
    parts = [sqli.lazy().select(pl.col("client_ip").alias("ip"), "ts", reason=pl.lit("sqli")).collect()]
    if backdoor_hits is not None:
        parts.append(backdoor_hits.select(pl.col("client_ip").alias("ip"), "ts", reason=pl.lit("backdoor_request")))
    if new_ip_logins is not None:
        parts.append(new_ip_logins.select("ip", "ts", reason=pl.lit("new_ip_admin_login")))
    ev = pl.concat([p.cast({"ip": pl.String, "ts": schemas.UTC_TS}) for p in parts]).filter(pl.col("ip").is_not_null())
    out = ev.group_by("ip").agg(
        reasons=pl.col("reason").unique().sort(),
        first_seen=pl.col("ts").min(),
        last_seen=pl.col("ts").max(),
    )
    if access is not None:
        seen = (
            access.lazy()
            .filter(pl.col("client_ip").is_in(out["ip"].to_list()))
            .group_by(pl.col("client_ip").alias("ip"))
            .agg(a_first=pl.col("ts").min(), a_last=pl.col("ts").max())
            .collect()
        )
        out = (
            out.join(seen, on="ip", how="left")
            .with_columns(
                first_seen=pl.min_horizontal("first_seen", "a_first"),
                last_seen=pl.max_horizontal("last_seen", "a_last"),
            )
            .drop("a_first", "a_last")
        )
    return out.select(list(schemas.ATTACKER_IPS.names())).cast(dict(schemas.ATTACKER_IPS)).sort("ip")
