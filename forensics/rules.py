"""Rules as named records, the way Sigma writes detection rules: every rule the toolkit applies to
evidence has an ``id``, a ``description`` of what it finds, a ``status`` (how far it is trusted:
``stable``, ``test``, ``experimental``) and the ``false_positives`` known for it.

The rule tables live next to the code that applies them (one concern per module):

- SQL injection: ``forensics.detectors.sqli.SQLI_RULES``;
- admin pages: each platform's routing table (``forensics.platforms.eccube2.ADMIN_PAGES``);
- data items a page shows: ``forensics.exposure.viewed.ITEM_RULES``;
- payment methods: each platform's ``payment_method_rules`` (:class:`PaymentRule`,
  ``forensics.platforms.eccube2.PAYMENT_METHOD_RULES``).

:func:`rule_table` lists any of them as one frame (for a notebook or the documentation).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import polars as pl

__all__ = ["STATUSES", "PaymentRule", "rule_table"]

#: How far a rule is trusted, most first.
STATUSES = ("stable", "test", "experimental")


@dataclass(frozen=True)
class PaymentRule:
    """One sign of what a payment method is (a rule record): ``pattern``
    (regex, case-insensitive) found in ``field`` ("name": ``payment_method``; "module_file": the
    file name of ``module_path``, its folder left out) makes the method ``kind`` ("card" or
    "not_card")."""

    id: str
    field: str
    pattern: str
    kind: str
    description: str
    status: str = "stable"
    false_positives: tuple[str, ...] = ()



def rule_table(rules: Iterable[Any]) -> pl.DataFrame:
    """``id, description, status, false_positives`` (a list) of rule records; raises ValueError
    on a duplicate id, an empty description or an unknown status.

    >>> from forensics.platforms.eccube2 import PAYMENT_METHOD_RULES
    >>> rule_table(PAYMENT_METHOD_RULES).select("id", "status").head(2).rows()
    [('name-card', 'stable'), ('name-other', 'stable')]
    """
    rows = [{"id": r.id, "description": r.description, "status": r.status,
             "false_positives": [r.false_positives] if isinstance(r.false_positives, str) and r.false_positives
             else [] if isinstance(r.false_positives, str) else list(r.false_positives)} for r in rules]
    ids = [r["id"] for r in rows]
    if len(set(ids)) != len(ids):
        raise ValueError(f"duplicate rule ids: {sorted({i for i in ids if ids.count(i) > 1})}")
    for r in rows:
        if not r["description"]:
            raise ValueError(f"rule {r['id']!r} has no description")
        if r["status"] not in STATUSES:
            raise ValueError(f"rule {r['id']!r} has status {r['status']!r} (one of {', '.join(STATUSES)})")
    return pl.DataFrame(rows, schema={"id": pl.String, "description": pl.String, "status": pl.String,
                                      "false_positives": pl.List(pl.String)})
