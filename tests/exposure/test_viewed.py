"""Viewed persons: attribution of query-log connections and replay of the pages' SELECTs."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest

from forensics.exposure.viewed import ADMIN_PAGES, person_key, viewed_records
from forensics.platforms.eccube2 import ECCUBE2
from forensics.platforms.routing import page_expr
from forensics.schemas import UTC_TS as UTC
from tests.exposure.world import CUST_EDIT, CUST_LIST, ORDER_LIST, TZ, QueryLog, customers, jst, orders, requests

ATT_SID = "attackersid0001"
STAFF_SID = "staffsid0000001"


@pytest.fixture
def tables():
    return {
        "dtb_customer": customers([
            {"customer_id": 1, "update_date": "2017-03-01 00:00:00"},
            {"customer_id": 2, "update_date": "2017-03-02 00:00:00"},
            {"customer_id": 3, "update_date": "2017-03-03 00:00:00"},
            {"customer_id": 4, "update_date": "2017-03-04 00:00:00"},
        ]),
        "dtb_order": orders([
            {"order_id": 10, "customer_id": 2},
            {"order_id": 11, "customer_id": 0, "order_email": "Guest@Example.JP"},
        ]),
    }


def run(tables, ql, att, **kw):
    return viewed_records(ql.frame() if ql is not None else None, tables, att, tz=TZ, **kw)


def keys(res):
    return res.persons.filter(~pl.col("ambiguous_only"))["person_key"].to_list()


def test_list_page_by_session_id(tables):
    ql = QueryLog().conn(5, "2017-04-02 10:00:01", ATT_SID, [
        "SELECT COUNT(*) FROM dtb_customer WHERE del_flg = 0", CUST_LIST.format(off=0, n=2)])
    att = requests([{"ts": "2017-04-02 10:00:01", "sid": ATT_SID, "page": "customer_list"}])
    res = run(tables, ql, att)
    assert res.mode == "replay"
    assert keys(res) == ["customer:3", "customer:4"]
    assert res.count == 2
    assert res.persons["items"].to_list()[0] == ["address", "email", "name", "phone"]
    assert res.connections.filter(pl.col("attribution") == "attacker")["method"].to_list() == ["sid"]


def test_staff_view_same_second_is_not_counted(tables):
    ql = (QueryLog()
          .conn(5, "2017-04-02 10:00:01", ATT_SID, [CUST_EDIT.format(cid=1)])
          .conn(6, "2017-04-02 10:00:01", STAFF_SID, [CUST_EDIT.format(cid=2)]))
    att = requests([{"ts": "2017-04-02 10:00:01", "sid": ATT_SID, "page": "customer_edit"}])
    staff = requests([{"ts": "2017-04-02 10:00:01", "sid": STAFF_SID, "client_ip": "198.51.100.10",
                       "page": "customer_edit", "line_no": 99}])
    res = run(tables, ql, att, other_requests=staff, known_sids=[STAFF_SID, ATT_SID])
    assert keys(res) == ["customer:1"]
    att_staff = dict(zip(res.connections["conn_key"], res.connections["attribution"]))
    assert att_staff == {"5#1": "attacker", "6#1": "staff"}


def test_overlap_without_session_is_ambiguous_and_flagged(tables):
    ql = QueryLog().conn(5, "2017-04-02 10:00:01", None, [CUST_EDIT.format(cid=1)])
    att = requests([{"ts": "2017-04-02 10:00:01", "page": "customer_edit"}])
    staff = requests([{"ts": "2017-04-02 10:00:01", "client_ip": "198.51.100.10",
                       "page": "customer_edit", "line_no": 99}])
    res = run(tables, ql, att, other_requests=staff)
    assert res.connections["attribution"].to_list() == ["ambiguous"]
    assert res.count is None and res.count_lower == 0  # not counted as established ...
    assert res.persons["person_key"].to_list() == ["customer:1"]  # ... but listed, flagged
    assert res.persons["ambiguous_only"].to_list() == [True]


def test_time_attribution_when_only_attacker(tables):
    ql = QueryLog().conn(5, "2017-04-02 10:00:02", None, [CUST_EDIT.format(cid=4)])
    att = requests([{"ts": "2017-04-02 10:00:01", "page": "customer_edit"}])
    res = run(tables, ql, att)
    assert keys(res) == ["customer:4"]
    assert res.connections["method"].to_list() == ["time"]


def test_customer_viewed_twice_counts_once(tables):
    ql = (QueryLog()
          .conn(5, "2017-04-02 10:00:01", ATT_SID, [CUST_EDIT.format(cid=2)])
          .conn(7, "2017-04-03 11:00:00", ATT_SID, [ORDER_LIST.format(off=0, n=1)]))
    att = requests([{"ts": "2017-04-02 10:00:01", "sid": ATT_SID, "page": "customer_edit"},
                    {"ts": "2017-04-03 11:00:00", "sid": ATT_SID, "page": "order_list", "line_no": 2,
                     "path": "/admin/order/index.php"}])
    tables["dtb_order"] = orders([{"order_id": 10, "customer_id": 2}])
    res = run(tables, ql, att)
    assert keys(res) == ["customer:2"]
    p = res.persons.row(0, named=True)
    assert p["n_statements"] == 2 and p["n_requests"] == 2


def test_guest_order_is_lower_cased_email(tables):
    ql = QueryLog().conn(5, "2017-04-02 10:00:01", ATT_SID, [
        "SELECT order_id, order_name01, order_tel01 FROM dtb_order WHERE order_id = 11"])
    att = requests([{"ts": "2017-04-02 10:00:01", "sid": ATT_SID, "page": "order_edit",
                     "path": "/admin/order/edit.php"}])
    res = run(tables, ql, att)
    # the SELECT did not return the e-mail: the person comes from the order, the items do not
    assert keys(res) == ["guest:guest@example.jp"]
    assert res.persons["items"].to_list() == [["name", "phone"]]
    assert person_key(0, " A@B.jp ")[0] == "guest:a@b.jp"


def test_row_created_after_the_view_is_not_shown(tables):
    tables["dtb_customer"] = pl.concat([tables["dtb_customer"], customers([
        {"customer_id": 9, "create_date": "2017-04-05 00:00:00"}])])
    ql = (QueryLog()
          .conn(5, "2017-04-02 10:00:01", ATT_SID, [CUST_LIST.format(off=0, n=1)])
          .conn(8, "2017-04-05 00:00:00", None, [
              "INSERT INTO dtb_customer (customer_id, name01, create_date, update_date, del_flg) "
              "VALUES (10, 'x', '2017-04-05 00:00:00', '2017-04-05 00:00:00', 0)"]))
    tables["dtb_customer"] = pl.concat([tables["dtb_customer"], customers([
        {"customer_id": 10, "create_date": "2017-04-05 00:00:00"}])])
    att = requests([{"ts": "2017-04-02 10:00:01", "sid": ATT_SID, "page": "customer_list"}])
    res = run(tables, ql, att)
    assert keys(res) == ["customer:4"]


def test_later_update_and_soft_delete_use_earlier_state(tables):
    # customer 1 was updated after the view (moves to the top of the end state) and customer 4
    # was soft-deleted after it: the page showed 4 and 3
    tables["dtb_customer"] = customers([
        {"customer_id": 1, "update_date": "2017-04-06 00:00:00"},
        {"customer_id": 2, "update_date": "2017-03-02 00:00:00"},
        {"customer_id": 3, "update_date": "2017-03-03 00:00:00"},
        {"customer_id": 4, "update_date": "2017-04-07 00:00:00", "del_flg": 1},
    ])
    ql = (QueryLog()
          .conn(4, "2017-03-31 00:00:00", None, [
              "UPDATE dtb_customer SET update_date = '2017-03-31 00:00:00' WHERE customer_id = 4"])
          .conn(5, "2017-04-02 10:00:01", ATT_SID, [CUST_LIST.format(off=0, n=2)])
          .conn(8, "2017-04-06 00:00:00", None, [
              "UPDATE dtb_customer SET name01 = 'n', update_date = '2017-04-06 00:00:00' WHERE customer_id = 1"])
          .conn(9, "2017-04-07 00:00:00", None, [
              "UPDATE dtb_customer SET del_flg = 1, update_date = '2017-04-07 00:00:00' WHERE customer_id = 4"]))
    att = requests([{"ts": "2017-04-02 10:00:01", "sid": ATT_SID, "page": "customer_list"}])
    res = run(tables, ql, att)
    assert keys(res) == ["customer:3", "customer:4"]
    # del_flg before the later change is not in the log: assumed 0, and the row is flagged
    row4 = res.rows.filter(pl.col("person_key") == "customer:4").row(0, named=True)
    assert row4["estimated"] and "del_flg" in row4["estimate_reason"]


def test_csv_export_shows_every_row(tables):
    ql = QueryLog().conn(5, "2017-04-02 10:00:01", ATT_SID, [
        "SELECT order_id, customer_id, order_name01, order_email FROM dtb_order WHERE del_flg = 0 ORDER BY order_id"])
    att = requests([{"ts": "2017-04-02 10:00:01", "sid": ATT_SID, "mode": "csv",
                     "path": "/admin/order/index.php"}])
    res = run(tables, ql, att)
    assert keys(res) == ["customer:2", "guest:guest@example.jp"]
    assert res.replays["page"].to_list() == ["order_csv"]


def test_missing_query_log_gives_upper_bound(tables):
    att = requests([{"ts": "2017-04-02 10:00:01", "sid": ATT_SID, "page": "customer_list"}])
    res = run(tables, None, att)
    assert res.mode == "upper_bound" and res.count is None
    assert res.count_upper == 4
    assert "no MySQL query log" in res.reason


def test_upper_bound_counts_the_persons_that_existed_when_the_pages_were_shown(tables):
    tables = dict(tables)
    tables["dtb_customer"] = pl.concat([tables["dtb_customer"], customers([
        {"customer_id": 5, "create_date": "2017-04-02 10:30:00"},  # after the last list page
        {"customer_id": 6, "create_date": "2017-04-02 11:59:00"},  # after it too, before the window ends
    ])])
    att = requests([{"ts": "2017-04-02 09:00:00", "sid": ATT_SID, "page": "customer_list"},
                    {"ts": "2017-04-02 10:00:01", "sid": ATT_SID, "page": "customer_list"},
                    {"ts": "2017-04-02 12:00:00", "sid": ATT_SID, "page": "order_list"}])
    res = run(tables, None, att, window_end=jst("2017-04-02 12:00:00"))
    assert res.mode == "upper_bound"
    shown = res.upper.filter(pl.col("person_key").str.starts_with("customer:"))["customer_id"].to_list()
    assert sorted(shown) == [1, 2, 3, 4]  # 5 and 6 registered after the last customer page


def test_non_select_is_never_executed_and_failures_are_reported(tables):
    ql = QueryLog().conn(5, "2017-04-02 10:00:01", ATT_SID, [
        "SELECT * FROM dtb_customer c JOIN mtb_nothing m ON m.id = c.pref",
        "UPDATE dtb_customer SET name01 = 'x' WHERE customer_id = 1",
        "SELECT * FROM dtb_customer WHERE customer_id = 1; DROP TABLE dtb_customer"])
    att = requests([{"ts": "2017-04-02 10:00:01", "sid": ATT_SID, "page": "customer_edit"}])
    res = run(tables, ql, att)
    st = res.replays.select("status", "reason").rows()
    assert [s for s, _ in st] == ["failed", "failed"]
    assert "mtb_nothing" in st[0][1] and "more than one statement" in st[1][1]


@pytest.mark.parametrize("path, mode, admin_dir, page", [
    ("/admin/customer/index.php", None, "/admin/", "customer_list"),
    ("/admin/order/index.php", "csv", "/admin/", "order_csv"),
    ("/shop/admin2/order/edit.php", None, "/shop/admin2/", "order_edit"),
    ("/shopping/confirm.php", None, "/admin/", None),
])
def test_request_page_from_path(path, mode, admin_dir, page):
    frame = pl.DataFrame({"path": [path], "mode": [mode]}, schema={"path": pl.String, "mode": pl.String})
    assert frame.select(page=page_expr(ADMIN_PAGES, pl.col("path"), pl.col("mode"), admin_dir))["page"][0] == page


def test_unknown_earlier_update_date_is_flagged_when_it_decides_the_page(tables):
    # customer 1 was updated after the view; its update_date before that is not in the log
    # (between its create_date 2017-01-01 and the log start 2017-04-01): page 1 of size 1 shows
    # customer 4 if it was low, customer 1 if it was high.
    tables["dtb_customer"] = customers([
        {"customer_id": 1, "update_date": "2017-04-06 00:00:00"},
        {"customer_id": 4, "update_date": "2017-03-04 00:00:00"},
    ])
    ql = (QueryLog()
          .conn(3, "2017-04-01 00:00:00", None, ["SELECT 1"])
          .conn(5, "2017-04-02 10:00:01", ATT_SID, [CUST_LIST.format(off=0, n=1)])
          .conn(8, "2017-04-06 00:00:00", None, [
              "UPDATE dtb_customer SET note = 'n', update_date = '2017-04-06 00:00:00' WHERE customer_id = 1"]))
    att = requests([{"ts": "2017-04-02 10:00:01", "sid": ATT_SID, "page": "customer_list"}])
    res = run(tables, ql, att)
    assert keys(res) == ["customer:4"]
    assert res.replays["status"].to_list() == ["ok_uncertain"]
    assert res.uncertain == ["customer:1", "customer:4"]


def test_order_rows_are_persons_of_the_order_even_without_customer_id_column(tables):
    ql = QueryLog().conn(5, "2017-04-02 10:00:01", ATT_SID, [
        "SELECT order_id, order_name01, order_email FROM dtb_order WHERE del_flg = 0"])
    att = requests([{"ts": "2017-04-02 10:00:01", "sid": ATT_SID, "mode": "csv", "path": "/admin/order/index.php"}])
    res = run(tables, ql, att)
    assert keys(res) == ["customer:2", "guest:guest@example.jp"]


def test_bounds_when_attribution_is_ambiguous(tables):
    from forensics.exposure.counts import exposure_counts

    ql = (QueryLog()
          .conn(5, "2017-04-02 10:00:01", None, [CUST_EDIT.format(cid=1)])
          .conn(6, "2017-04-03 10:00:01", ATT_SID, [CUST_EDIT.format(cid=2)]))
    att = requests([{"ts": "2017-04-02 10:00:01", "page": "customer_edit"},
                    {"ts": "2017-04-03 10:00:01", "sid": ATT_SID, "page": "customer_edit", "line_no": 2}])
    staff = requests([{"ts": "2017-04-02 10:00:01", "client_ip": "198.51.100.10", "page": "customer_edit",
                       "line_no": 99}])
    res = run(tables, ql, att, other_requests=staff)
    assert (res.count, res.count_lower, res.count_upper) == (None, 1, 2)
    c = exposure_counts(res, pl.DataFrame(schema={"is_test": pl.Boolean}), pl.DataFrame(schema={"is_test": pl.Boolean}))
    assert c["viewed_persons"] is None and c["viewed_persons_upper"] == 2 and c["viewed_persons_lower"] == 1
    assert "staff" in c["viewed_persons_reason"]


def test_request_outside_the_query_log_span_gives_a_bound(tables):
    ql = QueryLog().conn(5, "2017-04-02 10:00:01", ATT_SID, [CUST_EDIT.format(cid=1)])
    att = requests([{"ts": "2017-04-02 10:00:01", "sid": ATT_SID, "page": "customer_edit"},
                    {"ts": "2017-04-09 10:00:00", "sid": ATT_SID, "page": "order_list", "line_no": 2,
                     "path": "/admin/order/index.php"}])
    res = run(tables, ql, att)
    assert res.mode == "partial" and res.count is None
    assert res.count_lower == 1
    # bound: the replayed customer plus every orderer the order list could show
    assert res.count_upper == 3 and "outside the query log" in res.reason
    assert res.uncovered.filter(~pl.col("covered_by_log"))["line_no"].to_list() == [2]


def test_text_primary_keys_in_the_export(tables):
    tables["dtb_customer"] = tables["dtb_customer"].with_columns(pl.col("customer_id").cast(pl.String))
    ql = (QueryLog()
          .conn(5, "2017-04-02 10:00:01", ATT_SID, [CUST_EDIT.format(cid=4)])
          .conn(9, "2017-04-07 00:00:00", None, [
              "UPDATE dtb_customer SET del_flg = 1, update_date = '2017-04-07 00:00:00' WHERE customer_id = 4"]))
    tables["dtb_customer"] = tables["dtb_customer"].with_columns(
        pl.when(pl.col("customer_id") == "4").then(1).otherwise(pl.col("del_flg")).alias("del_flg"))
    att = requests([{"ts": "2017-04-02 10:00:01", "sid": ATT_SID, "page": "customer_edit"}])
    res = run(tables, ql, att)
    assert keys(res) == ["customer:4"]
    assert res.rows["estimated"].to_list() == [True]


HOME_ORDERS = ("SELECT order_id, customer_id, order_name01, order_name02, order_email, create_date FROM dtb_order "
               "WHERE del_flg = 0 ORDER BY create_date DESC LIMIT 10")  # LC_Page_Admin_Home: the newest orders


def test_home_page_shows_its_newest_orders(tables):
    ql = QueryLog().conn(5, "2017-04-02 10:00:01", ATT_SID, [HOME_ORDERS])
    att = requests([{"ts": "2017-04-02 10:00:01", "sid": ATT_SID, "path": "/admin/home.php"}])
    res = run(tables, ql, att)
    assert res.mode == "replay" and keys(res) == ["customer:2", "guest:guest@example.jp"]


def test_a_backup_download_shows_every_person_that_existed_then():
    tables = {
        "dtb_customer": customers([{"customer_id": 1}, {"customer_id": 2, "del_flg": 1},
                                   {"customer_id": 3, "create_date": "2017-04-05 00:00:00"}]),
        "dtb_order": orders([{"order_id": 10, "customer_id": 0, "order_email": "g@example.jp"}]),
    }
    ql = QueryLog().conn(5, "2017-04-02 10:00:00", ATT_SID, ["SELECT 1"])
    att = requests([{"ts": "2017-04-02 10:00:01", "sid": ATT_SID,
                     "path": "/admin/system/bkup.php", "mode": "download"}])
    res = run(tables, ql, att)
    # deleted rows are in a backup too; a member registered after the download is not
    assert res.mode == "replay" and keys(res) == ["customer:1", "customer:2", "guest:g@example.jp"]
    assert res.count == 3


@pytest.mark.parametrize("with_query_log", [True, False])
def test_a_backup_page_whose_mode_is_hidden_bounds_the_count(tables, with_query_log):
    ql = QueryLog().conn(5, "2017-04-02 10:00:01", ATT_SID, [CUST_EDIT.format(cid=1)])
    att = requests([{"ts": "2017-04-02 10:00:01", "sid": ATT_SID, "page": "customer_edit"},
                    {"ts": "2017-04-02 10:05:00", "sid": ATT_SID, "path": "/admin/system/bkup.php", "line_no": 2}])
    res = run(tables, ql if with_query_log else None, att)
    assert res.count is None and res.count_upper == 5  # four members and the guest orderer
    if with_query_log:
        assert res.mode == "partial" and res.count_lower == 1
        assert "mode the access log does not show may have been backup_download" in res.bound_reason


def test_a_get_of_the_backup_page_without_a_mode_downloaded_nothing(tables):
    ql = QueryLog().conn(5, "2017-04-02 10:00:01", ATT_SID, [CUST_EDIT.format(cid=1)])
    att = requests([{"ts": "2017-04-02 10:00:01", "sid": ATT_SID, "page": "customer_edit"},
                    {"ts": "2017-04-02 10:05:00", "sid": ATT_SID, "path": "/admin/system/bkup.php", "line_no": 2,
                     "method": "GET"}])
    res = run(tables, ql, att)
    assert res.mode == "replay" and res.count == 1


def test_a_page_whose_select_cannot_be_replayed_on_the_exports_bounds_the_count(tables):
    """An export that lacks a column the page reads (an admin CSV download has no ``pref`` id):
    the rows the page showed are unknown, so every person it could show joins the bound; a failed
    ``SELECT COUNT(*)`` shows no rows and bounds nothing."""
    no_pref = {**tables, "dtb_customer": tables["dtb_customer"].drop("pref")}
    ql = QueryLog().conn(5, "2017-04-02 10:00:01", ATT_SID, [CUST_LIST.format(off=0, n=2)])
    att = requests([{"ts": "2017-04-02 10:00:01", "sid": ATT_SID, "page": "customer_list"}])
    res = run(no_pref, ql, att)
    assert res.replays["status"].to_list() == ["failed"] and "pref" in res.replays["reason"][0]
    assert res.mode == "partial" and res.count is None and res.count_lower == 0
    assert res.count_upper == 4 and "could not be replayed" in res.reason
    ql = QueryLog().conn(5, "2017-04-02 10:00:01", ATT_SID, [
        "SELECT COUNT(*) FROM dtb_customer WHERE del_flg = 0 AND pref = 13", CUST_EDIT.format(cid=1)])
    att = requests([{"ts": "2017-04-02 10:00:01", "sid": ATT_SID, "page": "customer_edit"}])
    res = run(no_pref, ql, att)
    assert res.replays["status"].to_list() == ["failed", "ok"]
    assert res.mode == "replay" and keys(res) == ["customer:1"]


def _person_conns(rows: list[tuple[str, str, str | None, list[str]]]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"conn_key": k, "conn_id": i, "start": jst(at), "end": jst(at), "sid": sid, "n_statements": 3,
          "tables": tabs, "n_person_selects": 1} for i, (k, at, sid, tabs) in enumerate(rows)],
        schema={"conn_key": pl.String, "conn_id": pl.Int64, "start": UTC, "end": UTC, "sid": pl.String,
                "n_statements": pl.UInt32, "tables": pl.List(pl.String), "n_person_selects": pl.Int64})


def test_time_attribution_counts_the_requests_whose_page_fits_within_the_tolerance():
    from forensics.exposure.viewed import _attribute, _prep_requests

    att = _prep_requests(requests([
        {"ts": "2017-03-31 23:30:00", "page": "customer_list", "sid": "att", "line_no": 1},
        {"ts": "2017-03-31 23:40:00", "page": "order_list", "sid": "att", "line_no": 2},
        {"ts": "2017-03-31 23:50:01", "page": "customer_list", "sid": "att", "line_no": 3},
    ]), "/admin/", True, ECCUBE2)
    others = pl.DataFrame({"ts": [jst("2017-03-31 23:35:02"), jst("2017-03-31 23:50:00"), jst("2017-03-31 23:45:00")],
                           "page": [None, "customer_edit", "order_list"]}, schema={"ts": UTC, "page": pl.String})
    conns = _person_conns([
        ("a#1", "2017-03-31 23:30:01", None, ["dtb_customer"]),  # the attacker's request alone, 1 s away
        ("b#1", "2017-03-31 23:30:02", None, ["dtb_customer"]),  # the same request again: it fits no other
        ("c#1", "2017-03-31 23:35:00", None, ["dtb_customer"]),  # a page-less request 2 s away: any table
        ("d#1", "2017-03-31 23:40:00", None, ["dtb_customer"]),  # order_list shows no customer
        ("e#1", "2017-03-31 23:50:00", None, ["dtb_customer"]),  # the attacker's and another's
        ("f#1", "2017-03-31 23:45:03", None, ["dtb_order"]),  # 3 s: out of reach
        ("g#1", "2017-03-31 23:59:00", "att", ["dtb_customer"]),  # the attacker's session, no request near
        ("h#1", "2017-03-31 23:30:00", "staff", ["dtb_customer"]),  # a known session
    ])
    out, chosen = _attribute(conns, att, others, attacker_sids={"att"}, known={"att", "staff"},
                             tol=timedelta(seconds=2), ptabs={"dtb_customer", "dtb_order"}, platform=ECCUBE2)
    got = {r["conn_key"]: (r["attribution"], r["method"], r["candidates"]) for r in out.iter_rows(named=True)}
    assert got == {
        "a#1": ("attacker", "time", 1), "b#1": ("attacker", "time", 1), "c#1": ("other", "time", 1),
        "d#1": ("unattributed", "time", 0), "e#1": ("ambiguous", "time", 2), "f#1": ("unattributed", "time", 0),
        "g#1": ("attacker", "sid", 0), "h#1": ("staff", "sid", 0),
    }
    assert [(c["conn_key"], c["req_line_no"]) for c in chosen] == [("a#1", 1), ("b#1", 1), ("e#1", 3)]


def test_an_attacker_request_of_no_known_time_opens_no_connection():
    from forensics.exposure.viewed import _attribute, _prep_requests

    att = _prep_requests(requests([
        {"ts": "2017-03-31 23:30:00", "page": "customer_list", "sid": "att", "line_no": 1},
        {"ts": "2017-03-31 23:30:01", "page": "customer_list", "sid": "att", "line_no": 2},
    ]), "/admin/", True, ECCUBE2)
    att = att.with_columns(ts=pl.when(pl.col("line_no") == 2).then(pl.col("ts")))  # line 1's time unknown
    conns = _person_conns([
        ("a#1", "2017-03-31 23:30:01", None, ["dtb_customer"]),
        ("b#1", "2017-03-31 23:30:01", "att", ["dtb_customer"]),
    ])
    others = pl.DataFrame(schema={"ts": UTC, "page": pl.String})
    out, chosen = _attribute(conns, att, others, attacker_sids={"att"}, known={"att"},
                             tol=timedelta(seconds=2), ptabs={"dtb_customer"}, platform=ECCUBE2)
    assert out["attribution"].to_list() == ["attacker", "attacker"]
    assert [(c["conn_key"], c["req_line_no"]) for c in chosen] == [("a#1", 2), ("b#1", 2)]
