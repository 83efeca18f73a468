"""Card exposure: card entries, confirmed cards matched to orders, possible cards, test markers."""

from __future__ import annotations

import polars as pl
from polars.testing import assert_frame_equal

from forensics import cards as cardlib
from forensics.detectors.skim import SKIM_RECORD_SCHEMA
from forensics.exposure.cards import (
    TestMarkers,
    card_entries,
    card_payment_methods,
    classify_payment_methods,
    confirmed_cards,
    order_payment_ids,
    possible_cards,
)
from forensics.exposure.counts import affected_persons, exposure_counts, mask_email
from forensics.exposure.windows import Interval
from tests.exposure.world import jst, orders, payments

TEST_PAN = "4111111111111111"
# customer numbers built at run time (never a literal full number in the source)
PAN_A = "453201" + "000000" + "012"
PAN_A += cardlib.luhn_check_digit(PAN_A)
PAN_B = "540000" + "000000" + "777"
PAN_B += cardlib.luhn_check_digit(PAN_B)

MARKERS = TestMarkers.of(customer_ids=[1], emails=["*@toyoshoji.example"], card_keys=[cardlib.card_key(TEST_PAN)])
BACKDOOR = Interval(jst("2017-04-01 00:00:00"), jst("2017-04-10 13:00:00"))


def skim(rows):
    out = []
    for i, (pan, at, holder) in enumerate(rows, start=1):
        out.append({"skim_file": "html/user_data/img/logo.gif", "record_no": i, "card_masked": cardlib.mask_pan(pan),
                    "card_key": cardlib.card_key(pan), "expiry": "12/20", "holder": holder,
                    "entered": jst(at) if at else None, "has_security_code": True, "encoding": "lines"})
    return pl.DataFrame(out, schema=SKIM_RECORD_SCHEMA)


def world():
    o = orders([
        {"order_id": 1, "customer_id": 5, "payment_id": 2, "create_date": "2017-03-30 10:00:00"},  # before window
        {"order_id": 2, "customer_id": 6, "payment_id": 2, "create_date": "2017-04-02 10:00:00"},  # possible
        {"order_id": 3, "customer_id": 6, "payment_id": 2, "create_date": "2017-04-03 10:00:00"},  # same person
        {"order_id": 4, "customer_id": 0, "order_email": "Guest@X.jp", "payment_id": 2,
         "create_date": "2017-04-04 10:00:00", "del_flg": 1},  # guest, deleted: still an entry
        {"order_id": 5, "customer_id": 0, "order_email": "qa@toyoshoji.example", "payment_id": 2,
         "create_date": "2017-04-05 10:00:00"},  # test order in the possible window
        {"order_id": 6, "customer_id": 1, "payment_id": 1, "create_date": "2017-04-05 11:00:00"},  # not card
        {"order_id": 7, "customer_id": 8, "payment_id": 2, "create_date": "2017-04-09 10:00:00",
         "order_name01": "SATO", "order_name02": "HANAKO", "status": 7},  # skimmed, pending
        {"order_id": 8, "customer_id": 9, "payment_id": 2, "create_date": "2017-04-09 10:01:00",
         "order_name01": "SUZUKI"},
        {"order_id": 9, "customer_id": 1, "payment_id": 2, "create_date": "2017-04-09 12:00:00"},  # test customer
    ])
    ids = card_payment_methods(payments())["payment_id"].to_list()
    return o, ids


def test_card_payment_method_by_name_and_override():
    assert card_payment_methods(payments())["payment_id"].to_list() == [2]
    assert card_payment_methods(payments(), override=[1, 3])["payment_id"].to_list() == [1, 3]


def shared_module() -> pl.DataFrame:
    """One payment module serving card and convenience-store payments, and a generic method."""
    return pl.DataFrame({
        "payment_id": [1, 2, 3, 4, 5],
        "payment_method": ["クレジットカード決済", "コンビニ決済", "銀行振込", "決済サービス", "Credit card (Pay-easy)"],
        "module_path": ["/var/www/data/downloads/module/mdl_xxx/card.php",
                        "/var/www/data/downloads/module/mdl_xxx/conveni.php", None,
                        "mdl_xxx/load_payment_module.php", None],
    })


def test_a_method_is_a_card_method_by_what_it_is_not_by_its_module_folder():
    pay = classify_payment_methods(shared_module())
    kinds = dict(zip(pay["payment_id"].to_list(), pay["kind"].to_list()))
    assert kinds == {1: "card", 2: "not_card", 3: "not_card", 4: "undetermined", 5: "undetermined"}
    reasons = dict(zip(pay["payment_id"].to_list(), pay["reason"].to_list()))
    assert "card.php" not in reasons[1] and "module file card" in reasons[1]
    assert reasons[4].startswith("neither") and reasons[5].startswith("signs disagree")
    assert card_payment_methods(shared_module())["payment_id"].to_list() == [1]


def test_module_file_decides_when_the_name_is_silent():
    pay = pl.DataFrame({"payment_id": [7, 8], "payment_method": ["決済A", "決済B"],
                        "module_path": ["mdl_sln/credit.php", "mdl_sln/cvs.php"]})
    assert classify_payment_methods(pay)["kind"].to_list() == ["card", "not_card"]


def test_facts_decide_undetermined_methods_and_say_what_the_signs_gave():
    pay = classify_payment_methods(shared_module(), override=[1, 4])
    assert pay.filter(pl.col("kind") == "card")["payment_id"].to_list() == [1, 4]
    assert set(pay["kind"]) == {"card", "not_card"}
    assert "does not list it (signs: name コンビニ決済" in pay.filter(pl.col("payment_id") == 2)["reason"][0]


def test_orders_of_undetermined_methods_bound_the_possible_cards():
    o, _ = world()
    o = o.with_columns(payment_id=pl.when(pl.col("order_id") == 8).then(4).otherwise(pl.col("payment_id")))
    pay = classify_payment_methods(shared_module().with_columns(
        payment_id=pl.Series([2, 1, 3, 4, 5])))  # card is id 2 here, as in the world's orders
    card = pay.filter(pl.col("kind") == "card")["payment_id"].to_list()
    undetermined = pay.filter(pl.col("kind") == "undetermined")["payment_id"].to_list()
    assert card == [2] and 4 in undetermined
    markers = TestMarkers.of()
    empty = confirmed_cards(pl.DataFrame(schema=SKIM_RECORD_SCHEMA), card_entries(o, card, markers), markers)
    lower = possible_cards(card_entries(o, card, markers), empty, BACKDOOR)
    upper = possible_cards(card_entries(o, card + undetermined, markers), empty, BACKDOOR)
    assert upper.height == lower.height + 1  # order 8 (customer 9) may be a card entry
    c = exposure_counts(None, empty, lower, possible_reason="methods not classified", possible_upper=upper)
    assert c["cards_possible_customer"] is None and c["cards_total"] is None
    assert (c["cards_possible_lower"], c["cards_possible_upper"]) == (lower.height, upper.height)
    assert (c["cards_total_lower"], c["cards_total_upper"]) == (lower.height, upper.height)


def test_confirmed_possible_and_test_split():
    o, ids = world()
    e = card_entries(o, ids, MARKERS)
    assert 6 not in e["order_id"].to_list() and 4 in e["order_id"].to_list()
    s = skim([
        (PAN_A, "2017-04-09 10:03:00", "HANAKO SATO"),   # order 7 (closest in time is 8, name decides)
        (PAN_A, "2017-04-09 10:04:00", "HANAKO SATO"),   # card retried twice: one card
        (PAN_B, "2017-04-09 10:02:00", "ICHIRO SUZUKI"),  # order 8
        (TEST_PAN, "2017-04-09 12:01:00", "TEST CARD"),   # test card number
        (TEST_PAN, "2017-04-09 12:30:00", "TEST CARD"),
    ])
    c = confirmed_cards(s, e, MARKERS)
    assert c.height == 3
    got = {r["card_masked"]: (r["order_id"], r["is_test"], r["n_records"]) for r in c.iter_rows(named=True)}
    assert got[cardlib.mask_pan(PAN_A)] == (7, False, 2)
    assert got[cardlib.mask_pan(PAN_B)] == (8, False, 1)
    assert got[cardlib.mask_pan(TEST_PAN)] == (9, True, 2)
    p = possible_cards(e, c, BACKDOOR)
    assert p["person_key"].to_list() == ["customer:6", "guest:guest@x.jp", "guest:qa@toyoshoji.example"]
    assert p.filter(pl.col("is_test"))["order_ids"].to_list() == [[5]]
    counts = exposure_counts(None, c, p)
    assert (counts["cards_confirmed_customer"], counts["cards_confirmed_test"],
            counts["cards_possible_customer"], counts["cards_possible_test"], counts["cards_total"]) == (2, 1, 2, 1, 6)
    # nothing written out holds a full number
    text = str(c.to_dicts()) + str(p.to_dicts())
    assert PAN_A not in text and PAN_B not in text and TEST_PAN not in text


def test_unmatched_skim_record_still_counts():
    o, ids = world()
    e = card_entries(o, ids, MARKERS)
    c = confirmed_cards(skim([(PAN_A, "2017-05-01 00:00:00", "NOBODY")]), e, MARKERS)
    assert c["order_id"].to_list() == [None] and c["match"].to_list() == ["no card entry within tolerance"]


def test_affected_list_is_masked():
    o, ids = world()
    e = card_entries(o, ids, MARKERS)
    p = possible_cards(e, confirmed_cards(skim([]), e, MARKERS), BACKDOOR)
    a = affected_persons(None, confirmed_cards(skim([]), e, MARKERS), p, {"dtb_order": o})
    assert "guest@x.jp" not in str(a.to_dicts())
    assert set(a["person_ref"].to_list()) == {"1", "6", "8", "9", "guest-1", "guest-2"}
    assert mask_email("taro@example.jp") == "t***@example.jp"


def test_orders_naming_their_payment_method_only_take_its_id_by_name():
    """An admin CSV download of the order list has payment_method (the name), not payment_id."""
    o = orders([{"order_id": 1, "payment_id": 2, "create_date": "2017-04-02 00:00:00"},
                {"order_id": 2, "payment_id": 3}, {"order_id": 3, "payment_id": 2}, {"order_id": 4}])
    named = o.drop("payment_id").with_columns(
        payment_method=pl.Series(["クレジットカード決済", "代金引換", "クレジットカード決済", "消えた決済"]))
    assert order_payment_ids(named, payments())["payment_id"].to_list() == [2, 3, 2, None]
    assert order_payment_ids(o, None)["payment_id"].to_list() == o["payment_id"].to_list()  # its own id kept
    assert order_payment_ids(named, None)["payment_id"].to_list() == [None] * 4  # no dtb_payment: unknown
    shared = pl.concat([payments(), payments().tail(1).with_columns(payment_id=pl.lit(9, pl.Int64))])
    assert order_payment_ids(named, shared)["payment_id"].to_list() == [2, None, 2, None]  # 代金引換 twice: ambiguous
    got = card_entries(named, [2], MARKERS, payments=payments())
    want = card_entries(o, [2], MARKERS)
    assert got["order_id"].to_list() == [3, 1]
    assert_frame_equal(got, want)
    assert card_entries(named, [2], MARKERS).height == 0  # without dtb_payment no order is known to be a card entry
