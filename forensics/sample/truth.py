"""Ground truth from the simulation's own records, by the counting rules.

Pure functions over small record types, so tests can feed a hand-built state. Nothing here knows
the expected numbers: they come out of what the simulated attacker looked at and what the
simulated customers typed in.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field


@dataclass(frozen=True)
class View:
    """One admin page request and the rows it displayed at that moment."""

    t: int                      # epoch seconds
    ip: str
    sid: str
    page: str                   # customer_list, customer_edit, order_list, order_edit, order_csv
    persons: tuple[str, ...]    # "c:<customer_id>" or "g:<lower-cased e-mail>"
    attacker: bool


@dataclass(frozen=True)
class CardEntry:
    """An order paid with a card payment method (a card entry at its create_date)."""

    order_id: int
    t: int
    customer_id: int
    email: str
    card_no: str | None = None  # known to the simulation only; not in any export


@dataclass(frozen=True)
class SkimRecord:
    t: int
    card_no: str
    order_id: int | None


@dataclass(frozen=True)
class Markers:
    customer_ids: tuple[int, ...] = ()
    emails: tuple[str, ...] = ()
    card_numbers: tuple[str, ...] = ()


@dataclass
class CardCounts:
    confirmed_customer: set[str] = field(default_factory=set)   # card numbers
    confirmed_test: set[str] = field(default_factory=set)
    possible_customer: set[str] = field(default_factory=set)    # persons
    possible_test: set[str] = field(default_factory=set)


def person_of(customer_id: int, email: str) -> str:
    """A person is a customer_id, or for a guest the lower-cased e-mail."""
    return f"c:{customer_id}" if customer_id else f"g:{email.lower()}"


def is_test_person(customer_id: int, email: str, markers: Markers) -> bool:
    if customer_id and customer_id in markers.customer_ids:
        return True
    low = (email or "").lower()
    return any(fnmatch.fnmatchcase(low, pat.lower()) for pat in markers.emails)


def viewed_persons(views: list[View]) -> set[str]:
    """Distinct persons displayed by attacker admin requests."""
    out: set[str] = set()
    for v in views:
        if v.attacker:
            out.update(v.persons)
    return out


def card_counts(entries: list[CardEntry], skims: list[SkimRecord], markers: Markers,
                backdoor_window: tuple[int, int]) -> CardCounts:
    """Confirmed cards (distinct numbers in the skim file) and possible ones (persons with a card
    entry inside the backdoor window and no confirmed card), each split test / customer."""
    by_order = {e.order_id: e for e in entries}
    res = CardCounts()
    confirmed_persons: set[str] = set()
    seen: set[str] = set()
    for s in sorted(skims, key=lambda s: (s.t, s.card_no)):
        if s.card_no in seen:
            continue
        seen.add(s.card_no)
        e = by_order.get(s.order_id) if s.order_id is not None else None
        test = s.card_no in markers.card_numbers
        if e is not None:
            confirmed_persons.add(person_of(e.customer_id, e.email))
            test = test or is_test_person(e.customer_id, e.email, markers)
        (res.confirmed_test if test else res.confirmed_customer).add(s.card_no)
    lo, hi = backdoor_window
    for e in entries:
        if not (lo <= e.t <= hi):
            continue
        p = person_of(e.customer_id, e.email)
        if p in confirmed_persons:
            continue
        (res.possible_test if is_test_person(e.customer_id, e.email, markers) else res.possible_customer).add(p)
    return res


def counts_dict(viewed: set[str], cards: CardCounts) -> dict[str, int]:
    c = {
        "viewed_persons": len(viewed),
        "cards_confirmed_customer": len(cards.confirmed_customer),
        "cards_confirmed_test": len(cards.confirmed_test),
        "cards_possible_customer": len(cards.possible_customer),
        "cards_possible_test": len(cards.possible_test),
    }
    c["cards_total"] = sum(v for k, v in c.items() if k.startswith("cards_"))
    return c
