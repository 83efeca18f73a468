"""EC-CUBE app-log loader: structured messages, multi-line records, case-zone times, rejects."""

from __future__ import annotations

import datetime as dt

import pytest

from forensics.loaders.app_log import read_app_logs, scan_app_logs
from forensics.schemas import APP_LOG

UTC = dt.timezone.utc


def load(write, text, name="admin.log", tz="Asia/Tokyo", **kw):
    path = write(name, text)
    return read_app_logs([path], case_root=path.parent, timezone=tz, show_progress=False, **kw)


@pytest.mark.parametrize(
    "message, expect",
    [
        pytest.param("login : user=admin(2) auth=0 lastlogin=2017-03-30 10:00:00 sid=abc123",
                     {"event": "login", "login_id": "admin", "member_id": 2, "authority": 0,
                      "last_login": "2017-03-30 10:00:00", "sid": "abc123"}, id="login-spaced"),
        pytest.param("login: user=admin(1) auth=0 lastlogin= sid=zz9",
                     {"event": "login", "member_id": 1, "last_login": "", "sid": "zz9"}, id="login-empty-lastlogin"),
        pytest.param("admin password incorrect.", {"event": "login_failed", "login_id": "admin"}, id="login-failed"),
        pytest.param("access : user=admin auth=0 sid=abc123", {"event": "access", "login_id": "admin", "sid": "abc123", "authority": 0}, id="access"),
        pytest.param("shell.php -> /var/www/html/user_data/shell.php",
                     {"event": "upload", "upload_name": "shell.php", "upload_dest": "/var/www/html/user_data/shell.php"}, id="upload"),
        pytest.param("my file.gif -> user_data/my file.gif", {"event": "upload", "upload_name": "my file.gif"}, id="upload-spaces"),
        pytest.param("order complete. order_id=1234", {"event": "order_complete", "order_id": 1234}, id="order-complete"),
        pytest.param("member login. customer_id=73", {"event": "other", "sid": None}, id="other"),
        # the messages of EC-CUBE 2.13.5 (LC_Page_Admin_Index, SC_UploadFile, SC_Helper_FileManager)
        pytest.param("login: user=admin(2) auth=0 lastlogin=2017-03-30 10:00:00 sid=",
                     {"event": "login", "login_id": "admin", "member_id": 2, "sid": None}, id="login-fresh-session"),
        pytest.param("File Upload Error!: x.php -> /var/www/html/user_data/x.php",
                     {"event": "upload_failed", "upload_name": "x.php", "upload_dest": "/var/www/html/user_data/x.php"},
                     id="upload-failed"),
        pytest.param("解凍：/var/www/html/upload/temp_template/t.tar.gz->/var/www/html/upload/temp_template/t",
                     {"event": "unpack", "upload_name": "/var/www/html/upload/temp_template/t.tar.gz",
                      "upload_dest": "/var/www/html/upload/temp_template/t"}, id="unpack-template"),
        pytest.param("logout : user=admin auth=0 sid=abc123", {"event": "logout", "login_id": "admin", "sid": "abc123"},
                     id="admin-logout"),
        pytest.param("access : user=73\tip=203.0.113.9", {"event": "member_login", "customer_id": 73}, id="member-login"),
        pytest.param("logout : user=73\tip=203.0.113.9", {"event": "member_logout", "customer_id": 73}, id="member-logout"),
        pytest.param("解凍: /var/www/html/upload/temp_plugin/p.tar.gz -> /var/www/html/upload/temp_plugin/p/",
                     {"event": "unpack", "upload_dest": "/var/www/html/upload/temp_plugin/p/"}, id="unpack-plugin"),
    ],
)
def test_messages(write, message, expect):
    loaded = load(write, f"2017/03/31 23:28:10 [/admin/index.php] {message} from 203.0.113.9\n")
    assert loaded.rejects.height == 0
    row = loaded.records.row(0, named=True)
    assert row["ts"] == dt.datetime(2017, 3, 31, 14, 28, 10, tzinfo=UTC)
    assert (row["script"], row["ip"], row["log"]) == ("/admin/index.php", "203.0.113.9", "admin")
    for k, v in expect.items():
        assert row[k] == v, (k, row[k])


def test_ipv6_and_log_names(write, tmp_path):
    a = write("logs/admin.log.3", "2017/03/31 23:28:10 [/admin/home.php] access : user=a auth=0 sid=s from 2001:db8::1\n")
    b = write("logs/site.log", "2017/03/31 23:28:10 [/shopping/complete.php] order complete. order_id=1 from 192.0.2.1\n")
    df = read_app_logs([a, b], case_root=tmp_path, timezone="Asia/Tokyo", show_progress=False).records
    assert df["log"].to_list() == ["admin", "site"] and df["ip"].to_list() == ["2001:db8::1", "192.0.2.1"]
    assert df.schema == APP_LOG


def test_multiline_record(write):
    text = ("2017/03/31 23:28:10 [/admin/index.php] SQL error\nSELECT *\n  FROM dtb_member from 192.0.2.1\n"
            "2017/03/31 23:28:11 [/admin/index.php] admin password incorrect. from 192.0.2.1\n")
    loaded = load(write, text)
    assert loaded.records["line_no"].to_list() == [1, 4]
    assert loaded.records["message"][0] == "SQL error\nSELECT *\n  FROM dtb_member"
    assert loaded.counts.row(0, named=True) | {} == {"source": "admin.log", "records": 4, "rejected": 0, "rows": 2}


@pytest.mark.parametrize(
    "bad, reason",
    [
        pytest.param("2017/04/05 03:00:01 [/shopping/load_payment_module.php] gateway timeout", "from REMOTE_ADDR", id="no-from"),
        pytest.param("2017/02/30 03:00:01 [/x.php] m from 1.2.3.4", "impossible date", id="impossible-date"),
        pytest.param(b"2017/03/31 23:28:10 [/a.php] \xff\xfe from 1.2.3.4", "invalid UTF-8", id="invalid-utf8"),
        pytest.param("東商".encode("cp932"), "invalid UTF-8", id="cp932"),
    ],
)
def test_rejects(write, bad, reason):
    good = b"2017/03/31 23:28:10 [/a.php] ok from 1.2.3.4\n"
    bad = bad.encode() if isinstance(bad, str) else bad
    loaded = load(write, good + bad + b"\n" + good)
    c = loaded.counts.row(0, named=True)
    assert c["records"] + c["rejected"] == 3
    assert loaded.rejects["line_no"].to_list() == [2] and reason in loaded.rejects["reason"][0]


def test_leading_continuation_rejected(write):
    loaded = load(write, "orphan line\n2017/03/31 23:28:10 [/a.php] ok from 1.2.3.4\n")
    assert loaded.rejects["line_no"].to_list() == [1] and loaded.records.height == 1


def test_rejected_multiline_record_accounts_every_line(write):
    loaded = load(write, "2017/03/31 23:28:10 [/a.php] no addr\nsecond\nthird\n")
    assert sorted(loaded.rejects["line_no"].to_list()) == [1, 2, 3]
    c = loaded.counts.row(0, named=True)
    assert (c["records"], c["rejected"]) == (0, 3)


@pytest.mark.parametrize(
    "local, expect",
    [
        pytest.param("2017/03/12 01:30:00", dt.datetime(2017, 3, 12, 6, 30, tzinfo=UTC), id="dst-normal"),
        pytest.param("2017/11/05 01:30:00", dt.datetime(2017, 11, 5, 5, 30, tzinfo=UTC), id="dst-ambiguous-earliest"),
        pytest.param("2017/03/12 02:30:00", None, id="dst-nonexistent-rejected"),
    ],
)
def test_dst(write, local, expect):
    loaded = load(write, f"{local} [/a.php] m from 1.2.3.4\n", tz="America/New_York")
    if expect is None:
        assert loaded.records.height == 0 and "DST gap" in loaded.rejects["reason"][0]
    else:
        assert loaded.records["ts"][0] == expect


def test_scan_is_lazy_and_typed(write, tmp_path):
    path = write("admin.log", "2017/03/31 23:28:10 [/a.php] ok from 1.2.3.4\n")
    lf = scan_app_logs([path], case_root=tmp_path, timezone="Asia/Tokyo")
    assert lf.collect_schema() == APP_LOG and lf.collect().height == 1


def test_client_address_in_canonical_spelling(tmp_path):
    from forensics.loaders.app_log import read_app_logs

    p = tmp_path / "admin.log"
    p.write_text("2017/03/31 23:28:10 [/admin/index.php] admin password incorrect. from 2001:0DB8:0:0::1\n")
    assert read_app_logs([p], case_root=tmp_path, timezone="Asia/Tokyo").records["ip"].to_list() == ["2001:db8::1"]


@pytest.mark.parametrize("script, event", [
    ("/admin/products/product.php", "download_copy"),  # makeTempDownFile: copy()'s result, then the temp file
    ("/admin/contents/file_manager.php", "upload"),  # a file really named "1", uploaded
])
def test_a_copy_result_is_no_upload(write, script, event):
    line = f"2017/03/31 23:28:10 [{script}] 1 -> /var/www/data/download/temp/03312328_5a1b2c.zip from 203.0.113.9\n"
    row = load(write, line).records.row(0, named=True)
    assert row["event"] == event and row["upload_dest"] == "/var/www/data/download/temp/03312328_5a1b2c.zip"


#: An SQL error as EC-CUBE 2.13.5 writes it to error.log (SC_Query::error -> trigger_error ->
#: SC_Helper_HandleError, gfPrintLog verbose): the message spans lines, " from ADDR" ends its last
#: line, then the session and the backtrace follow.
VERBOSE_SQL_ERROR = (
    "2017/04/01 10:00:00 [/products/list.php] Fatal error(E_USER_ERROR): DB処理でエラーが発生しました。\n"
    "SQL: [SELECT * FROM dtb_products WHERE category_id = '1'' AND del_flg = 0]\n"
    "MDB2 Error: syntax error\n"
    "[Native code: 1064]\n"
    " on [/var/www/eccube/data/class/SC_Query.php(1097)] from 203.0.113.66\n"
    "customer_id = \n"
    "/var/www/eccube/html/products/list.php(11): LC_Page_Products_List_Ex->process\n"
    "/var/www/eccube/data/class/SC_Query.php(250): SC_Query->error\n"
    "(): trigger_error\n"
    "2017/04/01 10:00:05 [/admin/order/index.php] Warning(E_USER_WARNING): x on [/a.php(3)] from 203.0.113.66\n"
    "login_id = admin(0)[k9s8d7]\n"
    "/var/www/eccube/html/admin/order/index.php(30): LC_Page_Admin_Order_Ex->process\n"
)


def test_a_verbose_record_is_one_record_with_its_session_and_backtrace(write):
    loaded = load(write, VERBOSE_SQL_ERROR, name="error.log")
    assert loaded.rejects.height == 0
    c = loaded.counts.row(0, named=True)
    assert (c["records"], c["rows"]) == (12, 2)
    sql, adm = loaded.records.rows(named=True)
    assert sql["message"].startswith("Fatal error(E_USER_ERROR): DB処理でエラーが発生しました。\nSQL: [SELECT")
    assert sql["message"].endswith("on [/var/www/eccube/data/class/SC_Query.php(1097)]")
    assert (sql["ip"], sql["customer_id"], sql["sid"], sql["log"]) == ("203.0.113.66", None, None, "error")
    assert sql["backtrace"].splitlines()[0] == "/var/www/eccube/html/products/list.php(11): LC_Page_Products_List_Ex->process"
    assert len(sql["backtrace"].splitlines()) == 3
    assert (adm["sid"], adm["login_id"], adm["authority"], adm["script"]) == ("k9s8d7", "admin", 0, "/admin/order/index.php")


def test_a_message_that_only_looks_like_an_address_stays_in_the_message(write):
    text = "2017/04/01 10:00:00 [/a.php] copied from dead\nbeef to x from 192.0.2.1\n"
    row = load(write, text).records.row(0, named=True)
    assert (row["message"], row["ip"], row["backtrace"]) == ("copied from dead\nbeef to x", "192.0.2.1", None)
