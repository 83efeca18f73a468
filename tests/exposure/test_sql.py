"""MySQL statement text: rewrite to DuckDB, data-change parsing."""

from __future__ import annotations

import datetime as dt

import pytest

from forensics.exposure.sql import UNKNOWN, RewriteError, first_keyword, parse_change, referenced_tables, to_duckdb

PK = {"dtb_customer": "customer_id", "dtb_order": "order_id"}
NOW = dt.datetime(2017, 4, 2, 10, 0, 0)


@pytest.mark.parametrize(
    ("mysql", "duck"),
    [
        pytest.param("SELECT `a` FROM `t` LIMIT 0, 10", 'SELECT "a" FROM "t" LIMIT 10 OFFSET 0', id="backticks-limit-comma"),
        pytest.param("SELECT a FROM t LIMIT 10 OFFSET 20", "SELECT a FROM t LIMIT 10 OFFSET 20", id="limit-offset"),
        pytest.param("SELECT a FROM t WHERE b = 'O\\'Neil'", "SELECT a FROM t WHERE b = 'O''Neil'", id="backslash-quote"),
        pytest.param('SELECT a FROM t WHERE b = "x"', "SELECT a FROM t WHERE b = 'x'", id="double-quoted-string"),
        pytest.param("SELECT a FROM t WHERE b = 0x4142", "SELECT a FROM t WHERE b = 'AB'", id="hex-literal"),
        pytest.param("SELECT SQL_CALC_FOUND_ROWS a FROM t # tail", "SELECT a FROM t", id="modifier-comment"),
        pytest.param("SELECT a FROM t WHERE d < NOW()", "SELECT a FROM t WHERE d < TIMESTAMP '2017-04-02 10:00:00'", id="now"),
        pytest.param("SELECT a FROM t FOR UPDATE", "SELECT a FROM t", id="for-update"),
    ],
)
def test_rewrite(mysql, duck):
    assert to_duckdb(mysql, now_local=NOW) == duck


@pytest.mark.parametrize("sql", ["DELETE FROM t", "SELECT 1; DROP TABLE t", "INSERT INTO t VALUES (1)", "",
                                 "SELECT 'unterminated"])
def test_rewrite_rejects_anything_but_one_select(sql):
    with pytest.raises(RewriteError):
        to_duckdb(sql)


def test_parse_update_insert_delete():
    u = parse_change("UPDATE dtb_customer SET del_flg = 1, update_date = '2017-04-05 10:00:00' WHERE customer_id = 12", PK)
    assert (u.op, u.pks, u.values) == ("update", [12], {"del_flg": 1, "update_date": "2017-04-05 10:00:00"})
    u = parse_change("UPDATE `dtb_order` SET status = 3, update_date = NOW() WHERE order_id = '44' AND del_flg = 0",
                     PK, now_local=NOW)
    assert u.pks == [44] and u.values["update_date"] == NOW
    i = parse_change("INSERT INTO dtb_customer (customer_id, name01) VALUES (101, 'a'), (102, NULL)", PK)
    assert i.pks == [101, 102] and i.rows[1] == {"customer_id": 102, "name01": None}
    i = parse_change("INSERT INTO dtb_customer SET customer_id = 7, name01 = 'x'", PK)
    assert i.pks == [7]
    d = parse_change("DELETE FROM dtb_order WHERE order_id IN (1, 2)", PK)
    assert (d.op, d.pks) == ("delete", [1, 2])
    x = parse_change("UPDATE dtb_customer SET point = point + 1 WHERE email = 'a'", PK)
    assert x.error and "customer_id" in x.error and x.values["point"] is UNKNOWN
    assert parse_change("UPDATE dtb_session SET sess_data = 'x' WHERE sess_id = 'a'", PK) is None
    assert parse_change("SELECT * FROM dtb_customer", PK) is None


def test_keywords_and_tables():
    assert first_keyword("  (SELECT 1)") == "SELECT"
    sql = "SELECT o.*, c.name01 FROM `dtb_order` o LEFT JOIN dtb_customer AS c ON c.customer_id = o.customer_id"
    assert referenced_tables(sql, {"dtb_order", "dtb_customer", "dtb_payment"}) == {"dtb_order", "dtb_customer"}
