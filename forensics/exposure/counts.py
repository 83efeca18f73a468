"""Counts for findings.json (the findings format) and the tables the report and letters use.

- :func:`exposure_counts`: the ``counts`` object (plus extra keys saying how each was reached).
- :func:`affected_persons`: one row per affected person and category, masked for notification
  letters (name initial, masked e-mail), with the data items and the evidence.
- :func:`count_evidence`: per count, its value, the rule, and the evidence rows that justify it.
"""

from __future__ import annotations

import unicodedata
from typing import Any

import polars as pl

from forensics.exposure.viewed import ViewedResult
from forensics.platforms.eccube2 import ECCUBE2
from forensics.platforms.routing import Platform

__all__ = ["card_counts", "exposure_counts", "affected_persons", "count_evidence", "mask_email", "name_initial"]


def card_counts(confirmed: pl.DataFrame, possible: pl.DataFrame) -> dict[str, int]:
    """The card counts of the counting rules: confirmed cards (one a row, ``is_test``) and possible
    ones (one a person, ``is_test``) split into customer and test, and their total.

    >>> card_counts(pl.DataFrame({"is_test": [False, True]}), pl.DataFrame({"is_test": [False]}))
    {'cards_confirmed_customer': 1, 'cards_confirmed_test': 1, 'cards_possible_customer': 1, 'cards_possible_test': 0, 'cards_total': 3}
    """
    c_test = int(confirmed["is_test"].sum()) if confirmed.height else 0
    p_test = int(possible["is_test"].sum()) if possible.height else 0
    return {
        "cards_confirmed_customer": confirmed.height - c_test,
        "cards_confirmed_test": c_test,
        "cards_possible_customer": possible.height - p_test,
        "cards_possible_test": p_test,
        "cards_total": confirmed.height + possible.height,
    }


def exposure_counts(
    viewed: ViewedResult | None,
    confirmed: pl.DataFrame,
    possible: pl.DataFrame,
    *,
    viewed_reason: str | None = None,
    confirmed_reason: str | None = None,
    possible_reason: str | None = None,
    possible_upper: pl.DataFrame | None = None,
) -> dict[str, Any]:
    """``viewed_persons`` (None when only bounded, then ``viewed_persons_upper``),
    ``cards_confirmed_customer``, ``cards_confirmed_test``, ``cards_possible_customer``,
    ``cards_possible_test``, ``cards_total``; extra keys: ``viewed_persons_lower`` /
    ``viewed_persons_upper`` when only bounded, ``viewed_persons_ambiguous`` (persons shown only by
    connections that could not be told from staff ones), ``viewed_persons_uncertain``,
    ``viewed_mode`` and ``*_reason``. A ``*_reason`` argument makes that count null (not
    established) with the reason: ``confirmed_reason`` when no skim file could be read,
    ``possible_reason`` when card entries are unknown (then ``cards_total`` is null and
    ``cards_total_lower`` holds the confirmed cards) or only bounded: ``possible_upper``, the
    possible cards counting the orders of payment methods not known to be card methods, gives
    ``cards_possible_lower`` / ``cards_possible_upper`` and ``cards_total_lower`` /
    ``cards_total_upper``."""
    out: dict[str, Any] = {}
    if viewed is None:
        out.update(viewed_persons=None, viewed_mode="none",
                   viewed_persons_reason=viewed_reason or "no attacker admin requests or no exports to replay against")
    else:
        out["viewed_persons"] = viewed.count
        if viewed.count is None:
            out["viewed_persons_upper"] = viewed.count_upper
            if viewed.count_lower is not None:
                out["viewed_persons_lower"] = viewed.count_lower
            out["viewed_persons_reason"] = viewed.bound_reason
        out["viewed_mode"] = viewed.mode
        out["viewed_persons_ambiguous"] = int(viewed.persons["ambiguous_only"].sum()) if viewed.persons.height else 0
        out["viewed_persons_uncertain"] = len(viewed.uncertain)
    out.update(card_counts(confirmed, possible))
    if confirmed_reason:
        # no skim file could be read: confirmed cards are not established (possible ones still are,
        # and then include any card a skimmer took)
        out["cards_confirmed_customer"] = out["cards_confirmed_test"] = None
        out["cards_confirmed_reason"] = confirmed_reason
    if possible_reason:
        out["cards_possible_customer"] = out["cards_possible_test"] = None
        out["cards_possible_reason"] = possible_reason
        out["cards_total"] = None
        out["cards_total_lower"] = confirmed.height
        if possible_upper is not None:
            out["cards_possible_lower"] = possible.height
            out["cards_possible_upper"] = possible_upper.height
            out["cards_total_lower"] = confirmed.height + possible.height
            out["cards_total_upper"] = confirmed.height + possible_upper.height
    return out


def mask_email(email: str | None) -> str | None:
    """``t***@example.jp``: first character of the local part, domain kept."""
    if not email or "@" not in email:
        return None
    local, _, domain = email.partition("@")
    return (local[:1] + "***@" + domain) if local else "***@" + domain


def name_initial(name: str | None) -> str | None:
    """First character of the family name followed by ``*`` (``山*``)."""
    if not name or not str(name).strip():
        return None
    return unicodedata.normalize("NFKC", str(name)).strip()[:1] + "*"


def _names(tables: dict[str, pl.DataFrame], platform: Platform) -> dict[str, str]:
    out: dict[str, str] = {}
    o = tables.get(platform.order_table)
    if o is not None and "order_name01" in o.columns:
        for r in o.select("customer_id", "order_email", "order_name01").iter_rows():
            cid, em, n = r
            key = f"customer:{cid}" if cid not in (None, 0) else (f"guest:{em.strip().lower()}" if em else None)
            if key and n:
                out.setdefault(key, n)
    c = tables.get(platform.customer_table)
    if c is not None and "name01" in c.columns:
        for cid, n in c.select("customer_id", "name01").iter_rows():
            if n:
                out[f"customer:{cid}"] = n
    return out


def _emails(tables: dict[str, pl.DataFrame], platform: Platform) -> dict[str, str]:
    c = tables.get(platform.customer_table)
    if c is None or "email" not in c.columns:
        return {}
    return {f"customer:{cid}": e for cid, e in c.select("customer_id", "email").iter_rows() if e}


def affected_persons(
    viewed: ViewedResult | None,
    confirmed: pl.DataFrame,
    possible: pl.DataFrame,
    tables: dict[str, pl.DataFrame],
    *,
    platform: Platform = ECCUBE2,
) -> pl.DataFrame:
    """Affected persons for the notification letters, masked (names and e-mails from the
    platform's order and customer tables).

    Columns: ``person_ref`` (customer id, or ``guest-N`` for guests), ``person_kind``,
    ``category`` (viewed / viewed_ambiguous / viewed_upper_bound / card_confirmed / card_possible),
    ``name_initial``, ``email_masked``, ``items`` (what was exposed), ``is_test``, ``evidence``.
    The unmasked ``person_key`` is not in it."""
    names, emails = _names(tables, platform), _emails(tables, platform)
    rows: list[dict] = []

    def base(key: str, kind: str, cid, em) -> dict:
        return {"person_key": key, "person_kind": kind, "customer_id": cid,
                "name_initial": name_initial(names.get(key)),
                "email_masked": mask_email(em or emails.get(key))}

    if viewed is not None:
        for p in viewed.persons.iter_rows(named=True):
            cat = "viewed_ambiguous" if p["ambiguous_only"] else "viewed"
            rows.append({**base(p["person_key"], p["person_kind"], p["customer_id"], p["email"]),
                         "category": cat, "items": p["items"], "is_test": False,
                         "evidence": f"{p['n_requests']} admin request(s), {p['n_statements']} replayed SELECT(s)"
                                     + (", values estimated" if p["estimated"] else "")})
        if viewed.upper is not None and viewed.mode == "upper_bound":
            for p in viewed.upper.iter_rows(named=True):
                rows.append({**base(p["person_key"], p["person_kind"], p["customer_id"], p["email"]),
                             "category": "viewed_upper_bound", "items": p["items"], "is_test": False,
                             "evidence": viewed.reason})
    card_items = ["card_number", "card_holder", "card_holder_address", "card_expiry", "card_security_code"]
    for c in confirmed.iter_rows(named=True):
        if c["person_key"] is None:
            continue
        rows.append({**base(c["person_key"], c["person_key"].split(":")[0], c["customer_id"], c["email"]),
                     "category": "card_confirmed", "items": card_items, "is_test": c["is_test"],
                     "evidence": f"card {c['card_masked']} in {', '.join(c['skim_files'])} "
                                 f"(records {c['record_nos']}), order {c['order_id']} matched by {c['match']}"})
    for p in possible.iter_rows(named=True):
        rows.append({**base(p["person_key"], p["person_kind"], p["customer_id"], p["email"]),
                     "category": "card_possible", "items": card_items, "is_test": p["is_test"],
                     "evidence": f"card entry (orders {p['order_ids']}) inside the backdoor window"})
    schema = {"person_key": pl.String, "person_kind": pl.String, "customer_id": pl.Int64,
              "name_initial": pl.String, "email_masked": pl.String, "category": pl.String,
              "items": pl.List(pl.String), "is_test": pl.Boolean, "evidence": pl.String}
    df = pl.DataFrame(rows, schema=schema)
    # guests get a stable reference that does not reveal the address
    guests = sorted(set(df.filter(pl.col("person_kind") == "guest")["person_key"].to_list()))
    ref = {g: f"guest-{i + 1}" for i, g in enumerate(guests)}
    df = df.with_columns(
        pl.when(pl.col("customer_id").is_not_null()).then(pl.col("customer_id").cast(pl.String))
        .otherwise(pl.col("person_key").replace_strict(ref, default=None, return_dtype=pl.String))
        .alias("person_ref")
    )
    return df.select("person_ref", "person_kind", "category", "name_initial", "email_masked", "items",
                     "is_test", "evidence", "person_key").sort("category", "person_ref").drop("person_key")


def count_evidence(counts: dict[str, Any], viewed: ViewedResult | None, confirmed: pl.DataFrame,
                   possible: pl.DataFrame, windows: dict, tz: str | None = None) -> pl.DataFrame:
    """Per count: ``count, value, rule, evidence`` (short text naming the rows behind it; times
    in ``tz``)."""
    def w(name):
        win = windows.get(name)
        return "not established" if win is None or win.interval is None else " .. ".join(win.interval.to_iso(tz))
    v = viewed
    rows = [
        ("viewed_persons", counts.get("viewed_persons"),
         "distinct persons displayed by attacker admin display pages (replayed SELECTs)",
         "no query log" if v is None or v.mode == "upper_bound" else
         f"{v.replays.filter(pl.col('status').str.starts_with('ok')).height} replayed SELECTs, "
         f"{v.replays.filter(pl.col('status') == 'failed').height} not replayable; admin_access {w('admin_access')}"),
        ("viewed_persons_upper", counts.get("viewed_persons_upper"), "bound when rows cannot be established",
         (v.reason if v is not None else None) or ""),
        ("cards_confirmed_customer", counts["cards_confirmed_customer"], "distinct skimmed card numbers, not test",
         "; ".join(f"{r['card_masked']} order {r['order_id']}" for r in confirmed.filter(~pl.col("is_test")).iter_rows(named=True))),
        ("cards_confirmed_test", counts["cards_confirmed_test"], "distinct skimmed card numbers, test markers",
         "; ".join(f"{r['card_masked']} ({r['test_reason']})" for r in confirmed.filter(pl.col("is_test")).iter_rows(named=True))),
        ("cards_possible_customer", counts["cards_possible_customer"],
         "persons with a card entry in the backdoor window and no confirmed card, not test",
         f"backdoor window {w('backdoor')}; orders " + ", ".join(str(o) for r in possible.filter(~pl.col("is_test")).iter_rows(named=True) for o in r["order_ids"])),
        ("cards_possible_test", counts["cards_possible_test"], "as above, test markers",
         ", ".join(str(o) for r in possible.filter(pl.col("is_test")).iter_rows(named=True) for o in r["order_ids"])),
        ("cards_total", counts["cards_total"], "all confirmed + all possible", ""),
    ]
    return pl.DataFrame(rows, schema={"count": pl.String, "value": pl.Int64, "rule": pl.String, "evidence": pl.String},
                        orient="row")
