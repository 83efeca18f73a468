"""Rows logged near some moments, as a filter a table scan applies while it reads.

Two logs written by different servers are compared within a tolerance (the SQL-injection reach,
the replay's attribution of connections to requests). Joining a whole log to the moments would
read all of it; instead :func:`near_expr` keeps the rows whose second is within reach of a moment,
a cheap test on ``ts`` that the scan of a cached table applies as it reads, and the caller then
makes the exact test on the few rows kept.
"""

from __future__ import annotations

import math

import polars as pl

__all__ = ["near_expr"]


def near_expr(ts: pl.Expr, moments: pl.Series, tolerance_s: float) -> pl.Expr:
    """True where ``ts`` falls in a second within ``tolerance_s`` (rounded up, plus one for the
    seconds' fractions) of one of ``moments``: a superset of the rows within ``tolerance_s`` of
    one (null moments are left out; none: no row)."""
    reach = math.ceil(tolerance_s) + 1
    seconds = (moments.drop_nulls().dt.epoch("s").unique().to_frame("s")
               .join(pl.DataFrame({"d": range(-reach, reach + 1)}), how="cross")
               .select((pl.col("s") + pl.col("d")).unique())["s"])
    return ts.dt.epoch("s").is_in(seconds.implode())
