"""The SQL injection that took the admin credentials, when the evidence shows it.

An attacker who logs into the admin panel with a real account took its credentials somewhere; an
injection that read the platform's admin-account table (``Platform.admin_account_table``: EC-CUBE's
``dtb_member``) before the login is where, as far as the evidence goes: the payloads naming the
table (access log), the statements the database ran with the injected text (query log) and the
SQL errors it answered (error log) are weighed, the database side first.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

__all__ = ["credential_theft"]


def credential_theft(
    sqli: pl.DataFrame,
    reach: pl.DataFrame | None,
    errors: pl.DataFrame | None,
    login_ts: dt.datetime | None,
    *,
    table: str,
    columns: tuple[str, ...] = (),
) -> dict | None:
    """The injection that read ``table`` before ``login_ts``: ``ips``, ``first_ts``, ``last_ts``,
    ``requests`` (flagged requests naming the table), ``statements`` (query-log statements with
    injected text reading it), ``sql_errors`` (tied errors reading it), ``columns`` (of
    ``columns``, those named), ``proof`` ("query log", "error log" or "payload only"). None when
    no injection read it before the login (or no login, or no table to look for).
    """
    if not table or login_ts is None:
        return None
    t = table.lower()

    def reading(frame: pl.DataFrame | None, ip_col: str, ts_col: str) -> pl.DataFrame:
        if frame is None or frame.is_empty() or "tables" not in frame.columns:
            return pl.DataFrame(schema={"ip": pl.String, "ts": pl.Datetime("us", "UTC"), "cols": pl.List(pl.String)})
        return frame.filter(pl.col("tables").list.contains(t) & (pl.col(ts_col) < login_ts)).select(
            pl.col(ip_col).alias("ip"), pl.col(ts_col).alias("ts"), pl.col("columns").alias("cols"))

    by_payload = reading(sqli, "client_ip", "ts")
    by_log = reading(reach.filter(pl.col("client_ip").is_not_null()) if reach is not None and "client_ip" in reach.columns
                     else None, "client_ip", "ts")
    by_error = reading(errors.filter(pl.col("req_source").is_not_null()) if errors is not None and not errors.is_empty()
                       else None, "ip", "ts")
    every = pl.concat([by_payload, by_log, by_error])
    if every.is_empty():
        return None
    named = sorted({c for cs in every["cols"].to_list() if cs for c in cs} & set(columns))
    return {
        "table": table,
        "ips": sorted(set(every["ip"].drop_nulls().to_list())),
        "first_ts": every["ts"].min(),
        "last_ts": every["ts"].max(),
        "requests": by_payload.height,
        "statements": by_log.height,
        "sql_errors": by_error.height,
        "columns": named,
        "proof": "query log" if by_log.height else "error log" if by_error.height else "payload only",
    }
