"""Card exposure: card entries, confirmed cards matched to orders, possible cards, test markers."""

from __future__ import annotations

import polars as pl

from forensics import cards as cardlib
from forensics.detectors.skim import SKIM_RECORD_SCHEMA
from forensics.exposure.cards import TestMarkers, card_entries, card_payment_methods, confirmed_cards, possible_cards
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
