"""Admin logins, sessions, baseline, attacker requests and page classes (admin dir renamed)."""

from __future__ import annotations

import polars as pl
import pytest

from forensics.detectors import admin, attackers, sqli

from . import scenario as S
from .frames import access, app_log


def logins() -> pl.DataFrame:
    return admin.admin_logins(S.ACCESS, S.APP, S.ADMIN)


def test_logins_from_both_logs():
    lg = logins()
    assert lg.filter(pl.col("outcome") == "success").group_by("evidence").len().sort("evidence")["len"].to_list() == [3, 3]
    fail = lg.filter(pl.col("outcome") == "failure")
    assert fail["ip"].unique().to_list() == [S.ATT]
    assert set(fail["evidence"]) == {"access_log", "app_log"}


def test_default_admin_dir_ignores_renamed_panel():
    assert admin.admin_logins(S.ACCESS, S.APP.head(0), "/admin/").is_empty()


def test_baseline_and_new_ip_logins():
    lg = logins()
    first = attackers.first_attack(sqli.detect_sqli(S.ACCESS))
    base = admin.baseline_admin_ips(lg, first)
    assert base["ip"].to_list() == [S.VENDOR]
    new = admin.new_ip_admin_logins(lg, internal_ips=[S.STAFF], baseline_ips=base["ip"].to_list())
    assert new["ip"].unique().to_list() == [S.ATT]
    assert new["ts"].min() == S.frames.ts("2018-05-03 03:00:10")


def test_sessions():
    sess = admin.admin_sessions(S.APP)
    row = sess.filter(pl.col("sid") == "s-att").row(0, named=True)
    assert row["opened_ip"] == S.ATT and row["login_id"] == "admin"
    assert row["ips"] == sorted([S.ATT, S.HELPER])
    assert row["lines"] == 5
    assert row["opened_line_no"] == 4


def test_attacker_admin_requests_include_session_reuse():
    out = admin.attacker_admin_requests(S.ACCESS, S.APP, [S.ATT, S.SHELL], S.ADMIN)
    assert out["line_no"].to_list() == [6, 7, 8, 9, 12, 13]
    assert out.filter(pl.col("client_ip") == S.HELPER)["via"].unique().to_list() == ["session"]
    assert out["page"].to_list() == ["login", "login", "customer_list", "file_manager", "order_edit", "order_csv"]
    assert out.columns == ["ts", "source", "line_no", "client_ip", "method", "path", "query", "status", "bytes", "sid", "page", "mode", "via", "mode_source"]


def test_attacker_admin_requests_from_app_log_when_no_access_log():
    out = admin.attacker_admin_requests(S.ACCESS.head(0), S.APP, [S.ATT], S.ADMIN)
    assert out["source"].unique().to_list() == ["logs/eccube/admin.log"]
    assert set(out["client_ip"]) == {S.ATT, S.HELPER}


@pytest.mark.parametrize(
    "target,page",
    [
        pytest.param("/x/index.php", "login", id="login"),
        pytest.param("/x/", "login", id="dir"),
        pytest.param("/x/customer/index.php", "customer_list", id="customer-list"),
        pytest.param("/x/customer/index.php?mode=csv", "customer_csv", id="customer-csv"),
        pytest.param("/x/customer/edit.php", "customer_edit", id="customer-edit"),
        pytest.param("/x/order/index.php", "order_list", id="order-list"),
        pytest.param("/x/order/?mode=csv", "order_csv", id="order-csv-dir"),
        pytest.param("/x/order/edit.php?order_id=3", "order_edit", id="order-edit"),
        pytest.param("/x/contents/file_manager.php", "file_manager", id="file-manager"),
        pytest.param("/x/home.php", "home", id="home"),
        pytest.param("/x/order/disp.php?order_id=3", "order_disp", id="order-disp"),
        pytest.param("/x/order/pdf.php", "order_pdf", id="order-pdf"),
        pytest.param("/x/customer/search_customer.php", "customer_search", id="customer-search"),
        pytest.param("/x/mail/", "mail_search", id="mail"),
        pytest.param("/x/contents/csv_sql.php?mode=csv_output&sql_id=2", "csv_sql_output", id="csv-sql-output"),
        pytest.param("/x/contents/csv_sql.php", "csv_sql", id="csv-sql-mode-hidden"),
        pytest.param("/x/system/bkup.php?mode=download&list_name=b1", "backup_download", id="backup-download"),
        pytest.param("/x/system/bkup.php", "backup", id="backup-mode-hidden"),
        pytest.param("/x/order/index.php.bak", "other", id="not-a-page"),
        pytest.param("/x/total/index.php", "other", id="totals-show-no-person"),
    ],
)
def test_page_classes(target, page):
    frame = access([{"ts": "2018-01-01 00:00:00", "client_ip": "1.1.1.1", "target": target}])
    out = admin.admin_requests(frame, "x").collect()
    assert out["page"].to_list() == [page]


def test_csv_mode_from_query_log():
    from .frames import query_log

    q = query_log(
        [
            # the list page: one page of rows
            {"ts": "2018-05-04 04:00:00", "argument": "SELECT * FROM dtb_order WHERE del_flg = 0 ORDER BY update_date DESC LIMIT 10 OFFSET 0"},
            # the export: every matching row, no LIMIT
            {"ts": "2018-05-04 04:10:00", "argument": "SELECT order_id, order_name01, order_email\nFROM dtb_order\nWHERE del_flg = 0 AND order_id >= 3"},
        ]
    )
    reqs = access(
        [
            {"ts": "2018-05-04 04:00:00", "client_ip": S.ATT, "method": "POST", "target": S.ADMIN + "order/index.php"},
            {"ts": "2018-05-04 04:10:00", "client_ip": S.ATT, "method": "POST", "target": S.ADMIN + "order/index.php"},
            {"ts": "2018-05-04 04:10:00", "client_ip": S.ATT, "method": "POST", "target": S.ADMIN + "customer/index.php"},
        ]
    )
    out = admin.attacker_admin_requests(reqs, S.APP.head(0), [S.ATT], S.ADMIN, query_log=q)
    assert out["page"].to_list() == ["order_list", "order_csv", "customer_list"]
    assert out["mode_source"].to_list() == [None, "query_log", None]


def test_internal_networks_and_ipv6_spellings_are_not_new_ips():
    """``facts.internal_ips`` holds networks and any spelling of an address: both match."""
    lg = pl.DataFrame(
        {"ts": [S.frames.ts("2018-05-03 03:00:10")] * 3, "source": ["a"] * 3, "line_no": [1, 2, 3],
         "ip": ["203.0.113.45", "2001:db8::1", "192.0.2.9"], "outcome": ["success"] * 3,
         "evidence": ["app_log"] * 3, "login_id": ["admin"] * 3, "sid": ["s1", "s2", "s3"]})
    new = admin.new_ip_admin_logins(lg, internal_ips=["203.0.113.0/24", "2001:0db8:0:0::1"], baseline_ips=[])
    assert new["ip"].to_list() == ["192.0.2.9"]


@pytest.mark.parametrize("status, outcome", [(302, "success"), (500, "failure"), (200, "failure"), (403, None)])
def test_a_failed_login_answers_500_and_counts_without_the_app_log(status, outcome):
    acc = access([{"ts": "2018-05-01 10:00:00", "client_ip": S.ATT, "method": "POST", "target": S.ADMIN + "index.php",
                   "status": status}])
    got = admin.admin_logins(acc, S.APP.head(0), S.ADMIN)
    assert got["outcome"].to_list() == ([outcome] if outcome else [])


def test_a_login_logged_without_its_session_id_opens_the_session_that_follows_it():
    # EC-CUBE 2.13 logs a fresh login with an empty sid: the session's id first shows on the page
    # the login redirects to
    app = app_log([
        {"ts": "2017-03-31 14:28:41", "script": "/admin/index.php", "event": "login", "ip": "192.0.2.146",
         "login_id": "admin", "sid": None},
        {"ts": "2017-03-31 14:28:42", "script": "/admin/home.php", "event": "access", "ip": "192.0.2.146",
         "login_id": "admin", "sid": "s-attacker"},
        # the same user and IP, but that login already opened a session
        {"ts": "2017-03-31 14:28:50", "script": "/admin/home.php", "event": "access", "ip": "192.0.2.146",
         "login_id": "admin", "sid": "s-second"},
        {"ts": "2017-03-31 15:00:00", "script": "/admin/index.php", "event": "login", "ip": "198.51.100.10",
         "login_id": "admin", "sid": None},
        # first line three minutes after that login: not the page it redirected to
        {"ts": "2017-03-31 15:03:00", "script": "/admin/home.php", "event": "access", "ip": "198.51.100.10",
         "login_id": "admin", "sid": "s-late"},
        {"ts": "2017-03-31 16:00:00", "script": "/admin/index.php", "event": "login", "ip": "198.51.100.10",
         "login_id": "admin", "sid": "s-named"},
    ])
    s = {r["sid"]: r for r in admin.admin_sessions(app).iter_rows(named=True)}
    assert s["s-attacker"]["opened_ip"] == "192.0.2.146"
    assert s["s-attacker"]["opened_by"] == "login before the first access line"
    assert s["s-second"]["opened_ip"] is None and s["s-late"]["opened_ip"] is None
    assert s["s-named"]["opened_by"] == "login line" and s["s-named"]["opened_ip"] == "198.51.100.10"
