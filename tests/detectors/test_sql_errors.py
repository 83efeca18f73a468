"""SQL errors from the shop's error log, tied to the requests that caused them.

The error records are written with the format strings of EC-CUBE 2.13.5:
``SC_Helper_HandleError::handle_warning`` (``Fatal error(E_USER_ERROR): MSG on [FILE(LINE)]``),
``SC_Query::error`` (``DB処理でエラーが発生しました。``), ``SC_Query::traceError`` (``SQL: [..]``,
``PlaceHolder: [var_export]``, the MDB2 message and user info) and ``GC_Utils::gfPrintLog`` (the
verbose session line and backtrace), then read by the app-log loader.
"""

from __future__ import annotations

import polars as pl

from forensics.detectors.sql_errors import sql_errors, sqli_database_side, tie_sql_errors
from forensics.detectors.sqli import detect_sqli
from forensics.loaders.app_log import read_app_logs
from tests.detectors.frames import access

ATTACKER = "203.0.113.77"


def error_record(when: str, script: str, sql: str, placeholders: list[str], ip: str, *, native: str | None = None,
                 cut: int | None = None) -> str:
    """One error.log record as EC-CUBE writes it (``when``: local ``YYYY/MM/DD HH:MM:SS``)."""
    ph = "array (\n" + "".join(f"  {i} => '{v}',\n" for i, v in enumerate(placeholders)) + ")"
    native = native or f"You have an error in your SQL syntax; check the manual near '{sql[-20:]}' at line 1"
    errstr = (f"DB処理でエラーが発生しました。\nSQL: [{sql}]\nPlaceHolder: [{ph}]\nMDB2 Error: syntax error\n"
              "_doQuery: [Error message: Could not execute statement]\n[Native code: 1064]\n"
              f"[Native message: {native}]\n")
    if cut is not None:  # trigger_error keeps the first 1024 bytes of a message
        errstr = errstr[:cut]
    return (f"{when} [{script}] Fatal error(E_USER_ERROR): {errstr} on [/var/www/eccube/data/class/SC_Query.php(1097)]"
            f" from {ip}\ncustomer_id = \n/var/www/eccube/html{script}(31): LC_Page_Ex->process\n"
            "/var/www/eccube/data/class/SC_Query.php(1097): SC_Query->error\n")


def load(tmp_path, text: str) -> pl.DataFrame:
    (tmp_path / "error.log").write_text(text, encoding="utf-8")
    loaded = read_app_logs([tmp_path / "error.log"], case_root=tmp_path, timezone="Asia/Tokyo", show_progress=False)
    assert loaded.rejects.is_empty()
    return loaded.records


LIST = "SELECT COUNT(*) FROM dtb_products AS alldtl WHERE del_flg = 0 AND category_id = "


def test_sql_error_records_parse_into_statement_and_database_message(tmp_path):
    sql = LIST + "3 AND 1=CONVERT(int,(SELECT table_name FROM information_schema.tables))"
    app = load(tmp_path, error_record("2017/03/19 14:02:34", "/products/list.php", sql, ["1"], ATTACKER)
               + error_record("2017/03/19 14:02:35", "/products/list.php", LIST + "'" + "x" * 2000, [], ATTACKER, cut=1024))
    assert app["event"].to_list() == ["sql_error", "sql_error"]
    first, cut = app.row(0, named=True), app.row(1, named=True)
    assert first["sql"] == sql and first["db_error"].startswith("You have an error in your SQL syntax")
    assert first["backtrace"].endswith("SC_Query->error") and first["ip"] == ATTACKER
    # cut short by PHP: the statement as far as it was logged, no database message
    assert cut["sql"].startswith(LIST + "'xxx") and cut["db_error"] is None
    errs = sql_errors(app)
    assert errs["injected"].to_list() == [True, False]
    assert errs["page"].to_list() == ["/products/list.php"] * 2
    assert "information_schema.tables" in errs["tables"][0]


def test_error_is_tied_to_the_request_whose_text_reached_the_statement(tmp_path):
    payload = "3 AND 1=CONVERT(int,(SELECT 1))"
    app = load(tmp_path, error_record("2017/03/19 14:02:35", "/products/list.php", LIST + payload.lower(), [], ATTACKER))
    # three requests from the attacker in the same second, one of them carrying the payload; a
    # request two seconds earlier; a request of another IP; one request after the error
    acc = access([
        {"ts": "2017-03-19 05:02:33", "client_ip": ATTACKER, "target": "/products/list.php?category_id=3"},
        {"ts": "2017-03-19 05:02:35", "client_ip": ATTACKER, "target": "/products/list.php?category_id=3%20AND%209%3D9"},
        {"ts": "2017-03-19 05:02:35", "client_ip": ATTACKER, "target": "/products/list.php?category_id=3+AND+1%3DCONVERT%28int%2C%28SELECT+1%29%29"},
        {"ts": "2017-03-19 05:02:35", "client_ip": ATTACKER, "target": "/products/list.php?category_id=4"},
        {"ts": "2017-03-19 05:02:35", "client_ip": "198.51.100.7", "target": "/products/list.php?category_id=3+AND+1%3DCONVERT%28int%2C%28SELECT+1%29%29"},
        {"ts": "2017-03-19 05:02:36", "client_ip": ATTACKER, "target": "/products/list.php?category_id=3+AND+1%3DCONVERT%28int%2C%28SELECT+1%29%29"},
    ])
    s = detect_sqli(acc).collect()
    tied = tie_sql_errors(sql_errors(app), app, acc, s)
    row = tied.row(0, named=True)
    assert row["tie"] == "payload in statement" and row["req_line_no"] == 3 and row["req_flagged"]
    assert row["candidates"] == 4  # the attacker's requests to that page from 2 s before up to the error
    side = sqli_database_side(s, None, tied)
    mine = side.filter(pl.col("ip") == ATTACKER).row(0, named=True)
    assert mine["requests"] == 3 and mine["reached_db"] == 1 and mine["sql_errors"] == 1
    assert mine["how_tied"] == ["error log: payload in statement (1)"]


def test_placeholder_text_with_quotes_escaped_still_ties(tmp_path):
    # the value reached the query as a placeholder: var_export writes ' as \'
    app = load(tmp_path, error_record("2017/03/19 14:02:35", "/products/detail.php", "SELECT * FROM dtb_products WHERE product_id = ?",
                                      ["9\\' OR \\'a\\'=\\'a"], ATTACKER))
    acc = access([
        {"ts": "2017-03-19 05:02:35", "client_ip": ATTACKER, "target": "/products/detail.php?product_id=9%27+OR+%27a%27%3D%27a"},
        {"ts": "2017-03-19 05:02:35", "client_ip": ATTACKER, "target": "/products/detail.php?product_id=10"},
    ])
    row = tie_sql_errors(sql_errors(app), app, acc, detect_sqli(acc).collect()).row(0, named=True)
    assert row["tie"] == "payload in statement" and row["req_line_no"] == 1


def test_undecidable_error_names_no_request_and_says_how_many_could_be(tmp_path):
    app = load(tmp_path, error_record("2017/03/19 14:02:35", "/products/index.php", "SELECT broken(", [], ATTACKER))
    acc = access([
        {"ts": "2017-03-19 05:02:35", "client_ip": ATTACKER, "target": "/products/?a=1"},
        {"ts": "2017-03-19 05:02:35", "client_ip": ATTACKER, "target": "/products/?a=2"},
        {"ts": "2017-03-19 05:02:35", "client_ip": ATTACKER, "target": "/products/list.php"},  # another page
    ])
    row = tie_sql_errors(sql_errors(app), app, acc, None).row(0, named=True)
    assert row["req_source"] is None and row["tie"] is None and row["candidates"] == 2
    # one candidate: tied by IP, page and time alone
    row = tie_sql_errors(sql_errors(app), app, acc.head(1), None).row(0, named=True)
    assert row["tie"] == "same IP, page and time" and row["req_line_no"] == 1 and row["candidates"] == 1


def test_no_error_log_gives_empty_tables():
    app = pl.DataFrame(schema=read_app_logs([], timezone="UTC", show_progress=False).records.schema)
    errs = sql_errors(app)
    assert errs.is_empty()
    assert tie_sql_errors(errs, app, access([]), None).is_empty()


def test_sql_errors_are_timeline_events_tagged_by_what_is_known(tmp_path):
    from forensics.timeline import build_timeline

    app = load(tmp_path, error_record("2017/03/19 14:02:35", "/products/list.php", LIST + "3 union select 1,2", [], ATTACKER)
               + error_record("2017/03/19 15:00:00", "/products/list.php", "SELECT broken(", [], "198.51.100.9"))
    acc = access([{"ts": "2017-03-19 05:02:35", "client_ip": ATTACKER, "target": "/products/list.php?category_id=3+union+select+1,2"}])
    tied = tie_sql_errors(sql_errors(app), app, acc, detect_sqli(acc).collect())
    tl = build_timeline(sql_errors=tied)
    assert tl["tags"].to_list() == [["sql_error", "database", "injected", "tied"], ["sql_error", "database"]]
    assert "caused by /products/list.php?category_id=3+union+select+1,2" in tl["message"][0]
    assert "not tied: 0 candidate requests" in tl["message"][1]
