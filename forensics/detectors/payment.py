"""Payment failure signal: card-entry requests over time and the point where they start failing.

A card entry is ``POST /shopping/load_payment_module.php`` (configurable); on EC-CUBE a good card
entry answers 302 (to the next step), anything else counts as a failure (configurable). After the
card form was tampered with, payments failed (the counting rules), which is what the customer
noticed. :func:`failure_change_point` finds the split of the binary series (in time order) that
maximises the likelihood of two Bernoulli segments, with the later segment failing more often.
"""

from __future__ import annotations

import math

import polars as pl

__all__ = ["card_entries", "failure_rate", "failure_change_point"]


def card_entries(
    access: pl.LazyFrame | pl.DataFrame,
    *,
    path: str = "/shopping/load_payment_module.php",
    method: str = "POST",
    ok_status: tuple[int, ...] = (302,),
) -> pl.DataFrame:
    """Card-entry requests: provenance, ``client_ip, status, failed`` sorted by ``ts``."""
    return (
        access.lazy()
        .filter((pl.col("method") == method) & (pl.col("path") == path))
        .select("ts", "source", "line_no", "client_ip", "status", failed=~pl.col("status").is_in(list(ok_status)))
        .sort("ts", "source", "line_no")
        .collect()
    )


def failure_rate(entries: pl.DataFrame, every: str = "1d") -> pl.DataFrame:
    """Per time bin (UTC, ``every`` as in ``dt.truncate``): ``bin, attempts, failures, rate``."""
    return (
        entries.group_by(pl.col("ts").dt.truncate(every).alias("bin"))
        .agg(attempts=pl.len(), failures=pl.col("failed").sum().cast(pl.Int64))
        .with_columns(rate=pl.col("failures") / pl.col("attempts"))
        .sort("bin")
    )


def _ll(k: float, n: float) -> float:
    if n == 0 or k == 0 or k == n:
        return 0.0
    p = k / n
    return k * math.log(p) + (n - k) * math.log(1 - p)


def failure_change_point(entries: pl.DataFrame, *, min_after: int = 2) -> dict | None:
    """The change point of the failure series (max-likelihood single split).

    Returns None when there are no entries or no split raises the failure rate; otherwise a dict:
    ``ts`` (first entry of the failing segment, UTC), ``source``, ``line_no`` (its log line),
    ``n_before, failures_before, rate_before, n_after, failures_after, rate_after, llr``
    (log-likelihood gain over one segment).
    """
    if entries.is_empty():
        return None
    e = entries.sort("ts", "source", "line_no").with_columns(cum=pl.col("failed").cast(pl.Int64).cum_sum())
    n = e.height
    total = int(e["cum"][-1])
    cum = e["cum"].to_list()
    base = _ll(total, n)
    best = None
    for i in range(1, n - min_after + 1):  # split before index i; O(n) scalar arithmetic
        k1 = cum[i - 1]
        k2 = total - k1
        n1, n2 = i, n - i
        if k2 / n2 <= k1 / n1:
            continue
        gain = _ll(k1, n1) + _ll(k2, n2) - base
        if best is None or gain > best[0]:
            best = (gain, i, k1, k2, n1, n2)
    if best is None:
        return None
    gain, i, k1, k2, n1, n2 = best
    row = e.row(i, named=True)
    return {
        "ts": row["ts"], "source": row["source"], "line_no": row["line_no"],
        "n_before": n1, "failures_before": k1, "rate_before": k1 / n1,
        "n_after": n2, "failures_after": k2, "rate_after": k2 / n2, "llr": gain,
    }
