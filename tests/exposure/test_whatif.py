"""What-if over precomputed events: other edges and attacker IPs, no evidence reloaded."""

from __future__ import annotations

import time
from types import SimpleNamespace


from forensics.exposure.cards import card_entries, confirmed_cards, possible_cards
from forensics.exposure.viewed import viewed_records
from forensics.exposure.whatif import precompute, whatif
from forensics.exposure.windows import exposure_windows
from tests.exposure.test_cards import MARKERS, PAN_A, TEST_PAN, skim, world
from tests.exposure.world import CUST_EDIT, TZ, QueryLog, customers, jst, requests


def inv():
    o, ids = world()
    e = card_entries(o, ids, MARKERS)
    c = confirmed_cards(skim([(PAN_A, "2017-04-09 10:03:00", "HANAKO SATO"),
                              (TEST_PAN, "2017-04-09 12:01:00", "TEST")]), e, MARKERS)
    w = exposure_windows({"attacker_admin_login": jst("2017-03-31 23:28:00"),
                          "backdoor_installed": jst("2017-04-01 00:00:00"),
                          "card_form_tampered": jst("2017-04-08 21:14:00"),
                          "containment": jst("2017-04-10 13:00:00")},
                         last_admin_request=jst("2017-04-05 00:00:00"))
    ql = (QueryLog().conn(1, "2017-04-02 10:00:00", "s1", [CUST_EDIT.format(cid=1)])
          .conn(2, "2017-04-05 00:00:00", "s2", [CUST_EDIT.format(cid=2)]))
    att = requests([{"ts": "2017-04-02 10:00:00", "sid": "s1", "page": "customer_edit", "client_ip": "203.0.113.5"},
                    {"ts": "2017-04-05 00:00:00", "sid": "s2", "page": "customer_edit", "client_ip": "192.0.2.9",
                     "line_no": 2}])
    v = viewed_records(ql.frame(), {"dtb_customer": customers([{"customer_id": 1}, {"customer_id": 2}])}, att, tz=TZ)
    return SimpleNamespace(viewed=v, card_entries=e, cards_confirmed=c, windows=w,
                           cards_possible=possible_cards(e, c, w["backdoor"]),
                           attacker_ip_list=["192.0.2.9", "203.0.113.5"], session_ips={"s2": "203.0.113.5"})


def test_base_edges_reproduce_the_counts():
    i = inv()
    base = whatif(i)
    assert base == {"viewed_persons": 2, "cards_confirmed_customer": 1, "cards_confirmed_test": 1,
                    "cards_possible_customer": 3, "cards_possible_test": 1, "cards_total": 6}


def test_later_backdoor_start_and_earlier_containment():
    i = inv()
    later = whatif(i, backdoor_start=jst("2017-04-03 12:00:00"))
    assert later["cards_possible_customer"] == 2  # customer 6 (04-02, 04-03) drops out
    early = whatif(i, containment=jst("2017-04-04 00:00:00"))
    assert early["viewed_persons"] == 1 and early["cards_confirmed_customer"] == 0
    assert early["cards_possible_customer"] == 1  # customer 6 (04-02, 04-03)


def test_attacker_ips_narrow_by_request_or_session_ip():
    i = inv()
    assert whatif(i, attacker_ips=["203.0.113.5"])["viewed_persons"] == 2  # s2 opened from it
    assert whatif(i, attacker_ips=["192.0.2.9"])["viewed_persons"] == 1


def test_whatif_is_fast_on_precomputed_tables():
    pre = precompute(inv())
    t0 = time.perf_counter()
    for _ in range(20):
        whatif(pre, backdoor_start=jst("2017-04-02 00:00:00"), skimmer_start=jst("2017-04-08 00:00:00"))
    assert (time.perf_counter() - t0) / 20 < 0.2
