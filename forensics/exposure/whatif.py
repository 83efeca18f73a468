"""What-if: the counts for other window edges or attacker IPs, without reloading evidence.

:func:`precompute` reduces an investigation to per-event tables once (viewed rows with their
request IP and session IP and time; card entries; confirmed cards with entry times); :func:`whatif`
filters them. Nothing is replayed again, so an alternative edge takes milliseconds.

Limits (said in the report): attacker IPs can only narrow the set (staff connections were never
replayed), and confirmed cards stay those found in the skim files (a later ``skimmer_start``
drops cards entered before it; an earlier one adds none).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import polars as pl

from forensics.exposure.cards import entries_possibly_leaked
from forensics.exposure.counts import card_counts
from forensics.exposure.windows import Interval

__all__ = ["Precomputed", "precompute", "whatif"]


@dataclass(frozen=True)
class Precomputed:
    """Per-event tables and the base edges."""

    views: pl.DataFrame  # person_key, ts, client_ip, session_ip, ambiguous, uncertain
    entries: pl.DataFrame  # order_id, person_key, entered, is_test
    confirmed: pl.DataFrame  # card_key, first_entered, order_id, person_key, is_test
    backdoor_start: dt.datetime | None
    skimmer_start: dt.datetime | None
    containment: dt.datetime | None
    attacker_ips: frozenset[str]
    viewed_mode: str
    viewed_upper: int | None
    uncertain: frozenset[str] = frozenset()


def precompute(inv: Any) -> Precomputed:
    """From an :class:`forensics.findings.Investigation` (or anything with the same attributes:
    ``viewed``, ``card_entries``, ``cards_confirmed``, ``windows``, ``attacker_ip_list``,
    ``session_ips``)."""
    v = inv.viewed
    if v is not None and v.rows.height:
        sess = getattr(inv, "session_ips", {}) or {}
        views = v.rows.select("person_key", "ts", "client_ip", "sid", "ambiguous").with_columns(
            pl.col("sid").replace_strict(sess, default=None, return_dtype=pl.String).alias("session_ip"),
            pl.col("person_key").is_in(pl.Series(v.uncertain, dtype=pl.String).implode()).alias("uncertain"),
        ).drop("sid")
    else:
        views = pl.DataFrame(schema={"person_key": pl.String, "ts": pl.Datetime("us", "UTC"),
                                     "client_ip": pl.String, "ambiguous": pl.Boolean, "session_ip": pl.String,
                                     "uncertain": pl.Boolean})
    w = inv.windows
    return Precomputed(
        views=views,
        entries=inv.card_entries.select("order_id", "person_key", "entered", "is_test"),
        confirmed=inv.cards_confirmed.select("card_key", "first_entered", "order_id", "person_key", "is_test"),
        backdoor_start=w["backdoor"].start,
        skimmer_start=w["skimmer"].start,
        containment=w["backdoor"].end or w["skimmer"].end,
        attacker_ips=frozenset(inv.attacker_ip_list),
        viewed_mode=v.mode if v is not None else "none",
        viewed_upper=v.count_upper if v is not None else None,
        uncertain=frozenset(v.uncertain) if v is not None else frozenset(),
    )


def whatif(
    inv_or_pre: Any,
    *,
    backdoor_start: dt.datetime | None = None,
    skimmer_start: dt.datetime | None = None,
    containment: dt.datetime | None = None,
    attacker_ips: Iterable[str] | None = None,
) -> dict[str, Any]:
    """Counts (findings.json keys) for alternative edges; ``None`` arguments keep the base.

    >>> utc = dt.timezone.utc
    >>> ts = pl.Datetime("us", "UTC")
    >>> pre = Precomputed(
    ...     views=pl.DataFrame({"person_key": ["c:2"], "ts": [dt.datetime(2017, 4, 2, tzinfo=utc)],
    ...                         "client_ip": ["192.0.2.146"], "ambiguous": [False], "session_ip": [None],
    ...                         "uncertain": [False]}, schema_overrides={"ts": ts, "session_ip": pl.String}),
    ...     entries=pl.DataFrame({"order_id": [11], "person_key": ["c:3"], "entered": [dt.datetime(2017, 4, 3, tzinfo=utc)],
    ...                           "is_test": [False]}, schema_overrides={"entered": ts}),
    ...     confirmed=pl.DataFrame(schema={"card_key": pl.String, "first_entered": ts, "order_id": pl.Int64,
    ...                                    "person_key": pl.String, "is_test": pl.Boolean}),
    ...     backdoor_start=dt.datetime(2017, 3, 31, 14, 31, tzinfo=utc), skimmer_start=None,
    ...     containment=dt.datetime(2017, 4, 10, 4, tzinfo=utc), attacker_ips=frozenset({"192.0.2.146"}),
    ...     viewed_mode="replay", viewed_upper=None)
    >>> whatif(pre)["cards_possible_customer"]
    1
    >>> whatif(pre, backdoor_start=dt.datetime(2017, 4, 5, tzinfo=utc))["cards_possible_customer"]
    0
    """
    pre = inv_or_pre if isinstance(inv_or_pre, Precomputed) else _cached(inv_or_pre)
    b0 = backdoor_start or pre.backdoor_start
    s0 = skimmer_start or pre.skimmer_start
    end = containment or pre.containment
    ips = pre.attacker_ips if attacker_ips is None else frozenset(attacker_ips)

    # viewed persons: attacker views before containment, from the chosen IPs
    bounds: dict[str, Any] = {}
    if pre.viewed_mode in ("replay",):
        v = pre.views
        if end is not None:
            v = v.filter(pl.col("ts") <= end)
        if attacker_ips is not None:
            v = v.filter(pl.col("client_ip").is_in(sorted(ips)) | pl.col("session_ip").is_in(sorted(ips)))
        every = set(v["person_key"].to_list())
        sure = v.filter(~pl.col("ambiguous"))
        if "uncertain" in sure.columns:
            sure = sure.filter(~pl.col("uncertain"))
        sure = set(sure["person_key"].to_list()) - pre.uncertain
        upper = len(every | (pre.uncertain if attacker_ips is None and containment is None else set()))
        viewed = len(sure) if len(sure) == upper else None
        if viewed is None:
            bounds = {"viewed_persons_lower": len(sure), "viewed_persons_upper": upper}
    else:
        viewed = None
    c = pre.confirmed
    if skimmer_start is not None or containment is not None:
        lo = s0
        c = c.filter(
            pl.col("first_entered").is_null()
            | ((pl.col("first_entered") >= lo) if lo is not None else pl.lit(True))
            & ((pl.col("first_entered") <= end) if end is not None else pl.lit(True))
        )
    window = Interval(b0, end) if b0 is not None and end is not None and end >= b0 else None
    poss = entries_possibly_leaked(pre.entries, c, window)
    poss = poss.group_by("person_key").agg(pl.col("is_test").any()) if poss.height else poss
    out = {"viewed_persons": viewed, **card_counts(c, poss)}
    if viewed is None:
        out.update(bounds or {"viewed_persons_upper": pre.viewed_upper})
    return out


def _cached(inv: Any) -> Precomputed:
    """The investigation's precomputed tables, computed once and kept on the object."""
    pre = getattr(inv, "_whatif_pre", None)
    if pre is None:
        pre = precompute(inv)
        try:
            object.__setattr__(inv, "_whatif_pre", pre)
        except (AttributeError, TypeError):  # slotted or frozen objects: compute each time
            pass
    return pre
