"""Card exposure (the counting rules): card entries, confirmed and possible cards.

- Card entries: orders paid by a credit-card payment method, at their ``create_date``, whatever
  their status. :func:`classify_payment_methods` reads ``dtb_payment``: a method is a card method
  by what it is (its name, the file of its payment module), never by the module folder it shares
  with other methods (one module often serves card, convenience-store and bank payments); where
  its signs disagree or say nothing it is undetermined, and ``facts.card_payment_ids`` decides.
- Confirmed card: a distinct card number (``card_key``, keyed hash) found in a skim file, matched
  to its order where one matches: the card entry closest in time to the skim record's entry time
  (within ``tolerance``), preferring one whose order name shares a token with the card holder.
- Possible card: a person with a card entry inside the backdoor window and no confirmed card.
- Test or customer: by ``test_markers`` (the matched order's customer id or e-mail glob, or the
  card number compared through its keyed hash).

No full card number is read or written here: skim records arrive masked and hashed.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import polars as pl

from forensics.exposure.windows import Interval, Window
from forensics.platforms.eccube2 import ECCUBE2
from forensics.rules import PaymentRule

__all__ = [
    "TestMarkers",
    "card_payment_methods",
    "classify_payment_methods",
    "card_entries",
    "confirmed_cards",
    "possible_cards",
]

UTC = pl.Datetime("us", "UTC")

_PAYMENT_SCHEMA = {"payment_id": pl.Int64, "payment_method": pl.String, "module_file": pl.String,
                   "kind": pl.String, "rule_ids": pl.String, "reason": pl.String}


@dataclass(frozen=True)
class TestMarkers:
    """How test entries are told from customers (case.yml ``facts.test_markers``)."""

    __test__ = False  # not a pytest class

    customer_ids: frozenset[int] = frozenset()
    emails: tuple[str, ...] = ()  # fnmatch globs, compared lower-case
    card_keys: frozenset[str] = frozenset()  # keyed hashes of the test card numbers

    @classmethod
    def of(cls, customer_ids: Iterable[int] = (), emails: Iterable[str] = (),
           card_keys: Iterable[str] = ()) -> TestMarkers:
        return cls(frozenset(int(c) for c in customer_ids), tuple(e.lower() for e in emails),
                   frozenset(card_keys))

    def person_reason(self, customer_id: int | None, email: str | None) -> str | None:
        if customer_id is not None and customer_id in self.customer_ids:
            return f"test customer_id {customer_id}"
        if email:
            for g in self.emails:
                if fnmatch.fnmatchcase(email.lower(), g):
                    return f"test e-mail ({g})"
        return None

    def card_reason(self, card_key: str | None) -> str | None:
        return "test card number" if card_key and card_key in self.card_keys else None


def _module_file(module_path: object) -> str | None:
    """The file name of a payment module path without its extension (``mdl_x/card.php`` -> ``card``)."""
    if not module_path:
        return None
    name = re.split(r"[\\/]", str(module_path).strip())[-1]
    return re.sub(r"\.php$", "", name, flags=re.IGNORECASE) or None


def classify_payment_methods(payments: pl.DataFrame | None, override: Iterable[int] | None = None, *,
                             rules: tuple[PaymentRule, ...] = ECCUBE2.payment_method_rules) -> pl.DataFrame:
    """Every payment method of ``dtb_payment`` and what it is: ``payment_id, payment_method,
    module_file, kind`` ("card", "not_card", "undetermined"), ``rule_ids`` (the
    ``rules`` (the platform's ``payment_method_rules``) that matched, comma-separated), ``reason`` (one line).

    A method is card or not card when its signs agree; undetermined when they disagree or none
    applies (EC-CUBE's generic ``load_payment_module.php`` tells nothing). ``override``
    (``facts.card_payment_ids``) decides: the listed ids are card methods, all others not, and the
    reason says what the signs alone gave."""
    if payments is None or "payment_id" not in payments.columns:
        ids = sorted({int(i) for i in override or ()})
        return pl.DataFrame([{"payment_id": i, "payment_method": None, "module_file": None, "kind": "card",
                              "rule_ids": "facts", "reason": "listed in facts.card_payment_ids"} for i in ids],
                            schema=_PAYMENT_SCHEMA)
    chosen = {int(i) for i in override} if override is not None else None
    rows = []
    for r in payments.iter_rows(named=True):
        try:
            pid = int(r["payment_id"])
        except (TypeError, ValueError):
            continue
        values = {"name": r.get("payment_method"), "module_file": _module_file(r.get("module_path"))}
        hits = [rule for rule in rules
                if values[rule.field] and re.search(rule.pattern, str(values[rule.field]), re.IGNORECASE)]
        kinds = {rule.kind for rule in hits}
        signs = "; ".join(f"{'name' if rule.field == 'name' else 'module file'} {values[rule.field]!s:.60} "
                          f"({'card' if rule.kind == 'card' else 'not card'})" for rule in hits)
        if len(kinds) == 1:
            kind, reason = kinds.pop(), signs
        elif kinds:
            kind, reason = "undetermined", f"signs disagree: {signs}"
        else:
            kind, reason = "undetermined", "neither the name nor the payment module's file says what it is"
        rule_ids = ",".join(rule.id for rule in hits)
        if chosen is not None:
            reason = f"facts.card_payment_ids {'lists' if pid in chosen else 'does not list'} it (signs: {reason})"
            kind, rule_ids = ("card" if pid in chosen else "not_card"), "facts"
        rows.append({"payment_id": pid, "payment_method": values["name"], "module_file": values["module_file"],
                     "kind": kind, "rule_ids": rule_ids, "reason": reason})
    return pl.DataFrame(rows, schema=_PAYMENT_SCHEMA).sort("payment_id")


def card_payment_methods(payments: pl.DataFrame | None, override: Iterable[int] | None = None) -> pl.DataFrame:
    """The card methods of :func:`classify_payment_methods` (same columns)."""
    return classify_payment_methods(payments, override).filter(pl.col("kind") == "card")


def order_payment_ids(orders: pl.DataFrame, payments: pl.DataFrame | None) -> pl.DataFrame:
    """``orders`` with a ``payment_id`` column: their own, or, for orders that name their method
    only (the shop's admin CSV download of the order list has ``payment_method``, not the id), the
    id of the ``dtb_payment`` method of that name; EC-CUBE copies the method's name into the order
    when it is placed (``LC_Page_Shopping_Payment``). A name that several methods share, or none,
    gives a null id."""
    if "payment_id" in orders.columns:
        return orders
    if (payments is None or "payment_method" not in orders.columns
            or not {"payment_id", "payment_method"} <= set(payments.columns)):
        return orders.with_columns(pl.lit(None, pl.Int64).alias("payment_id"))
    names = (payments.select(pl.col("payment_method").cast(pl.String).alias("_method"),
                             pl.col("payment_id").cast(pl.Int64, strict=False))
             .filter(pl.col("_method").is_not_null())
             .group_by("_method").agg(pl.col("payment_id").unique())
             .filter(pl.col("payment_id").list.len() == 1)
             .with_columns(pl.col("payment_id").list.first()))
    return (orders.with_columns(pl.col("payment_method").cast(pl.String).alias("_method"))
            .join(names, on="_method", how="left", maintain_order="left").drop("_method"))


def card_entries(orders: pl.DataFrame | None, card_payment_ids: Iterable[int], markers: TestMarkers, *,
                 payments: pl.DataFrame | None = None) -> pl.DataFrame:
    """Orders paid by a card method: ``order_id, entered`` (create_date, UTC), ``person_key,
    person_kind, customer_id, email, order_name`` (name tokens for matching), ``status, del_flg,
    payment_id, is_test, test_reason, source, line_no``. Sorted by ``entered``. Orders without a
    ``payment_id`` column take it from ``payments`` by the method's name (:func:`order_payment_ids`)."""
    schema = {"order_id": pl.Int64, "entered": UTC, "person_key": pl.String, "person_kind": pl.String,
              "customer_id": pl.Int64, "email": pl.String, "order_name": pl.String, "status": pl.Int64,
              "del_flg": pl.Int64, "payment_id": pl.Int64, "is_test": pl.Boolean, "test_reason": pl.String,
              "source": pl.String, "line_no": pl.Int64}
    ids = {int(i) for i in card_payment_ids}
    if orders is None or orders.height == 0 or not ids:
        return pl.DataFrame(schema=schema)
    f = order_payment_ids(orders, payments).filter(pl.col("payment_id").cast(pl.Int64, strict=False).is_in(sorted(ids)))
    rows = []
    for r in f.iter_rows(named=True):
        cid = r.get("customer_id")
        cid = int(cid) if cid not in (None, "", 0, "0") else None
        em = (r.get("order_email") or "").strip().lower() or None
        if cid:
            key, kind = f"customer:{cid}", "customer"
        elif em:
            key, kind = f"guest:{em}", "guest"
        else:
            key, kind = f"order:{r['order_id']}", "unknown"
        name = " ".join(str(r[c]) for c in ("order_name01", "order_name02", "order_kana01", "order_kana02")
                        if r.get(c))
        reason = markers.person_reason(cid, em)
        rows.append({"order_id": r["order_id"], "entered": r.get("create_date"), "person_key": key,
                     "person_kind": kind, "customer_id": cid, "email": em, "order_name": name or None,
                     "status": r.get("status"), "del_flg": r.get("del_flg"), "payment_id": r.get("payment_id"),
                     "is_test": reason is not None, "test_reason": reason, "source": r.get("source"),
                     "line_no": r.get("line_no")})
    return pl.DataFrame(rows, schema=schema, strict=False).sort("entered", "order_id")


def _tokens(s: str | None) -> set[str]:
    if not s:
        return set()
    s = unicodedata.normalize("NFKC", s).upper()
    return {t for t in re.split(r"[\s,./・　]+", s) if len(t) >= 2}


def confirmed_cards(
    skim: pl.DataFrame,
    entries: pl.DataFrame,
    markers: TestMarkers,
    *,
    tolerance: dt.timedelta = dt.timedelta(minutes=30),
) -> pl.DataFrame:
    """One row per distinct card number in the skim files.

    Columns: ``card_key, card_masked, n_records, skim_files, record_nos, first_entered, holder_initial,
    order_id, person_key, customer_id, email, order_entered, match`` (how the order was matched, or
    why none), ``is_test, test_reason``. Sorted by ``first_entered``, ``card_key``.
    """
    schema = {"card_key": pl.String, "card_masked": pl.String, "n_records": pl.Int64,
              "skim_files": pl.List(pl.String), "record_nos": pl.List(pl.Int64), "first_entered": UTC,
              "holder_initial": pl.String, "order_id": pl.Int64, "person_key": pl.String,
              "customer_id": pl.Int64, "email": pl.String, "order_entered": UTC, "match": pl.String,
              "is_test": pl.Boolean, "test_reason": pl.String}
    if skim is None or skim.height == 0:
        return pl.DataFrame(schema=schema)
    recs = skim.sort("entered", "skim_file", "record_no", nulls_last=True).to_dicts()
    ent = entries.to_dicts() if entries is not None else []
    cards: dict[str, list[dict]] = {}
    for r in recs:
        cards.setdefault(r["card_key"], []).append(r)
    # candidate (score, card, order) pairs; assign greedily, best first, one order per card
    pairs = []
    for key, rs in cards.items():
        for r in rs:
            htok = _tokens(r.get("holder"))
            for e in ent:
                named = bool(htok & _tokens(e.get("order_name")))
                if r.get("entered") is not None and e.get("entered") is not None:
                    gap = abs((r["entered"] - e["entered"]).total_seconds())
                    if gap > tolerance.total_seconds():
                        continue
                elif not named:
                    continue
                else:
                    gap = float("inf")
                pairs.append(((not named, gap), key, e["order_id"], named, gap))
    pairs.sort(key=lambda p: (p[0], p[1], p[2]))
    taken_cards: dict[str, tuple] = {}
    taken_orders: set = set()
    for score, key, oid, named, gap in pairs:
        if key in taken_cards or oid in taken_orders:
            continue
        taken_cards[key] = (oid, named, gap)
        taken_orders.add(oid)
    by_oid = {e["order_id"]: e for e in ent}
    out = []
    for key, rs in cards.items():
        first = rs[0]
        holder = first.get("holder") or ""
        row = {"card_key": key, "card_masked": first.get("card_masked"), "n_records": len(rs),
               "skim_files": sorted({r["skim_file"] for r in rs}), "record_nos": [r["record_no"] for r in rs],
               "first_entered": min((r["entered"] for r in rs if r.get("entered")), default=None),
               "holder_initial": (unicodedata.normalize("NFKC", holder).strip()[:1] + ".") if holder.strip() else None,
               "order_id": None, "person_key": None, "customer_id": None, "email": None,
               "order_entered": None, "match": "no card entry within tolerance", "is_test": False,
               "test_reason": None}
        if key in taken_cards:
            oid, named, gap = taken_cards[key]
            e = by_oid[oid]
            row.update(order_id=oid, person_key=e["person_key"], customer_id=e["customer_id"], email=e["email"],
                       order_entered=e["entered"],
                       match=("time" + (f" ({int(gap)} s)" if gap != float("inf") else "")) + (" + holder name" if named else ""))
        reason = markers.card_reason(key) or (
            markers.person_reason(row["customer_id"], row["email"]) if row["order_id"] is not None else None)
        row.update(is_test=reason is not None, test_reason=reason)
        out.append(row)
    return pl.DataFrame(out, schema=schema).sort("first_entered", "card_key", nulls_last=True)


def entries_possibly_leaked(entries: pl.DataFrame, confirmed: pl.DataFrame, window: Interval | None) -> pl.DataFrame:
    """The counting rule of possible cards, on card entries (``person_key, order_id, entered``...):
    the entries made inside ``window`` (the backdoor window, closed) whose person and order hold
    no confirmed card. No window: none. :func:`possible_cards` and the what-if function both count
    with it."""
    if window is None or entries is None or entries.height == 0:
        return entries.clear() if entries is not None else pl.DataFrame()
    conf_persons = confirmed["person_key"].drop_nulls().implode() if confirmed.height else pl.Series([], dtype=pl.String).implode()
    conf_orders = confirmed["order_id"].drop_nulls().implode() if confirmed.height else pl.Series([], dtype=pl.Int64).implode()
    return entries.filter(window.contains_expr("entered") & ~pl.col("person_key").is_in(conf_persons)
                          & ~pl.col("order_id").is_in(conf_orders))


def possible_cards(entries: pl.DataFrame, confirmed: pl.DataFrame, window: Window | Interval | None) -> pl.DataFrame:
    """Persons with a card entry inside ``window`` (the backdoor window) and no confirmed card.

    Columns: ``person_key, person_kind, customer_id, email, order_ids, first_entered,
    last_entered, n_entries, is_test, test_reason``. Empty when the window is not established."""
    schema = {"person_key": pl.String, "person_kind": pl.String, "customer_id": pl.Int64, "email": pl.String,
              "order_ids": pl.List(pl.Int64), "first_entered": UTC, "last_entered": UTC,
              "n_entries": pl.UInt32, "is_test": pl.Boolean, "test_reason": pl.String}
    iv = window.interval if isinstance(window, Window) else window
    if iv is None or entries is None or entries.height == 0:
        return pl.DataFrame(schema=schema)
    e = entries_possibly_leaked(entries, confirmed, iv)
    return (
        e.group_by("person_key")
        .agg(pl.col("person_kind").first(), pl.col("customer_id").drop_nulls().first(),
             pl.col("email").drop_nulls().first(), pl.col("order_id").sort().alias("order_ids"),
             pl.col("entered").min().alias("first_entered"), pl.col("entered").max().alias("last_entered"),
             pl.len().alias("n_entries"), pl.col("is_test").any(), pl.col("test_reason").drop_nulls().first())
        .select([pl.col(c).cast(t) for c, t in schema.items()])
        .sort("first_entered", "person_key")
    )
