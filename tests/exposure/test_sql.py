"""MySQL statement text: rewrite to DuckDB, data-change parsing."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forensics.exposure.sql import (
    UNKNOWN, RewriteError, _tokenized_change, first_keyword, norm_pk, parse_change, referenced_tables,
    simple_insert_keys, to_duckdb,
)

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


_PKS = {"dtb_order": "order_id", "dtb_customer": "customer_id"}
_VALUE_TEXT = st.one_of(
    st.integers(0, 10**6).map(str),
    st.sampled_from(["NULL", "CURRENT_TIMESTAMP", "NOW()", "CONCAT('a', 'b')", "-3", "1.5", "'a' 'b'", "0x41",
                     "/* c */ 7", "'it''s'", "'a\\'b'", "'x,y'", "'(p)'", '"dq"', "'5'", "' 6 '", "''"]),
    st.text(alphabet="ab ,'()\\\"", max_size=6).map(lambda t: "'" + t.replace("\\", "").replace("'", "") + "'"),
)


@settings(max_examples=300, deadline=None)
@given(table=st.sampled_from(["dtb_order", "`dtb_order`", "eccube.dtb_order", "DTB_CUSTOMER", "dtb_other"]),
       values=st.lists(_VALUE_TEXT, min_size=1, max_size=4), extra=st.booleans(),
       tail=st.sampled_from(["", ";", " ON DUPLICATE KEY UPDATE status = 1", ", (9, 'z')"]),
       head=st.sampled_from(["INSERT INTO", "insert into", "REPLACE INTO", "INSERT IGNORE", "/* x */ INSERT INTO"]))
def test_simple_insert_keys_read_what_the_parser_reads(table, values, extra, tail, head):
    pk = _PKS.get(table.strip("`").split(".")[-1].lower(), "order_id")
    cols = [pk] + [f"c{i}" for i in range(len(values) - 1 + extra)]  # extra: one column more than values
    sql = f"{head} {table} ({', '.join(cols)}) VALUES ({', '.join(values)}){tail}"
    got = simple_insert_keys(pl.DataFrame({"argument": [sql]}), _PKS).row(0, named=True)
    ch = parse_change(sql, _PKS)
    if got["_pk"] is None:
        return
    # read at once only where the tokenizer reads the same single row and key without a problem
    assert ch is not None and ch.error is None and len(ch.pks) == 1, sql
    assert (got["_table"], norm_pk(got["_pk"])) == (ch.table, ch.pks[0]), sql


#: Literals as a shop's code writes them (quoted text with every escape, signed and decimal numbers,
#: NULL, the clock words), and text that only looks like one.
_LITERAL = st.one_of(
    st.integers(-10**6, 10**6).map(str),
    st.floats(-1e6, 1e6, allow_nan=False).map(lambda f: f"{f!r}".replace("inf", "1")),
    st.text(alphabet="ab ,=;()\\'\"`\n#-/*é", max_size=8).map(
        lambda t: "'" + t.replace("\\", "\\\\").replace("'", "\\'") + "'"),
    st.text(alphabet="ab ,'\"", max_size=6).map(lambda t: '"' + t.replace('"', '""') + '"'),
    st.sampled_from(["NULL", "null", "TRUE", "false", "NOW()", "now ( )", "CURRENT_TIMESTAMP", "LOCALTIMESTAMP", "+4",
                     ".5", "5.", "1e5", "'a''b'", "'a\\nb'", "'WHERE x = 1'", "''"]),
)
_NOT_LITERAL = st.one_of(
    st.sampled_from(["NULL()", "LOCALTIMESTAMPX", "CURRENT_TIMESTAMP(6)", "- 4", "--4", "1E+2x", "1.2.3", "X'41'", "0x41",
                     "`c`", "c + 1", "(1)", "'unterminated", "'a' 'b'", "/* c */ 7", "CONCAT('a', 'b')"]),
    st.text(alphabet="ab 1',=;()\\\"`-.\n", max_size=8),
)


def _mostly(valid, hostile):
    """Nine draws in ten from ``valid``, the tenth from ``hostile``."""
    return st.integers(0, 9).flatmap(lambda i: hostile if i == 9 else valid)


_CHANGE_VALUE = _mostly(_LITERAL, _NOT_LITERAL)
_NAME = _mostly(st.sampled_from(["status", "`status`", "Status", "order_id", "customer_id", "`order_id`", "c", "note"]),
                st.sampled_from(["a$b", "t.c", "`a b`", "1c", "c d", "", "where", "ORDER", "limit", "and", "set", "values",
                                 "`where`", "ignore"]))


@settings(max_examples=500, deadline=None)
@given(table=_mostly(st.sampled_from(["dtb_order", "`dtb_order`", "DTB_CUSTOMER", "dtb_session"]),
                     st.sampled_from(["eccube.dtb_order", "`dtb_order", "dtb_order$", "dtb_order x", "ignore", "set"])),
       sets=st.lists(st.tuples(_NAME, _CHANGE_VALUE), min_size=1, max_size=3),
       key=st.tuples(_mostly(st.sampled_from(["order_id", "customer_id", "`ORDER_ID`"]),
                             st.sampled_from(["status", "order_id = 1 AND x", "x = 2 AND order_id", "limit", "and"])),
                     _CHANGE_VALUE),
       space=st.sampled_from([" ", "  ", "\n", "\t", ""]),
       head=_mostly(st.sampled_from(["UPDATE", "update", " UPDATE"]),
                    st.sampled_from(["UPDATE LOW_PRIORITY", "/* c */ UPDATE", "UPDATEx"])),
       tail=_mostly(st.sampled_from(["", ";", " ; ;"]), st.sampled_from([" LIMIT 1", " -- c", "#c", " ORDER BY x", ","])))
def test_simple_updates_read_as_the_tokenizer_reads_them(table, sets, key, space, head, tail):
    sql = (f"{head} {table} SET{space}{(',' + space).join(f'{c}{space}={space}{v}' for c, v in sets)}"
           f"{space}WHERE {key[0]} = {key[1]}{tail}")
    assert parse_change(sql, _PKS, now_local=NOW) == _tokenized_change(sql, _PKS, now_local=NOW), sql
    assert parse_change(sql, _PKS) == _tokenized_change(sql, _PKS), sql


@settings(max_examples=500, deadline=None)
@given(table=_mostly(st.sampled_from(["dtb_order", "`dtb_customer`", "dtb_session"]), st.sampled_from(["eccube.dtb_order"])),
       rows=st.lists(st.tuples(_NAME, _CHANGE_VALUE), min_size=1, max_size=4), key=_CHANGE_VALUE,
       space=st.sampled_from([" ", "", "\n"]),
       extra=_mostly(st.just(""), st.sampled_from([", c", ", 1", ","])),
       head=_mostly(st.sampled_from(["INSERT INTO", "insert into", "REPLACE INTO"]),
                    st.sampled_from(["INSERT", "INSERT IGNORE INTO", "/* c */ INSERT INTO"])),
       tail=_mostly(st.sampled_from(["", ";"]), st.sampled_from([", (9, 'z')", " ON DUPLICATE KEY UPDATE status = 1", " #"])),
       values_word=_mostly(st.sampled_from(["VALUES", "VALUE", "values"]), st.sampled_from(["VALUESX", "SELECT"])))
def test_simple_inserts_read_as_the_tokenizer_reads_them(table, rows, key, space, head, tail, values_word, extra):
    pk = "customer_id" if "customer" in table else "order_id"
    cols = [pk] + [c for c, _ in rows]
    values = [key] + [v for _, v in rows]
    sql = (f"{head} {table}{space}({space}{(',' + space).join(cols)}{space}){space}{values_word}{space}"
           f"({space}{(',' + space).join(values)}{extra}{space}){tail}")
    assert parse_change(sql, _PKS, now_local=NOW) == _tokenized_change(sql, _PKS, now_local=NOW), sql


def test_a_shops_changes_are_read_without_the_tokenizer():
    from forensics.exposure.sql import _NOT_SIMPLE, _simple_change

    shop = ["UPDATE dtb_order SET status = 1, update_date = '2017-03-19 03:20:33' WHERE order_id = 86860",
            "UPDATE dtb_customer SET tel02 = '9597', point = -3, update_date = NOW() WHERE customer_id = '24458';",
            "INSERT INTO dtb_order (order_id, customer_id, order_name01, create_date) "
            "VALUES (17, 3, '山田, 太郎', CURRENT_TIMESTAMP)"]
    for sql in shop:
        assert _simple_change(sql, _PKS, NOW) is not _NOT_SIMPLE, sql
        assert _simple_change(sql, _PKS, NOW) == _tokenized_change(sql, _PKS, now_local=NOW)
    assert _simple_change("UPDATE dtb_customer SET point = point + 1 WHERE customer_id = 1", _PKS, NOW) is _NOT_SIMPLE
    # names the tokenizer's reading takes for keywords are left to it
    odd = {"ignore": "id", **_PKS}
    for sql in ["UPDATE ignore SET a = 1 WHERE id = 1", "UPDATE dtb_order SET where = 1 WHERE order_id = 2",
                "UPDATE dtb_order SET `where` = 1 WHERE order_id = 2", "INSERT INTO dtb_order (order_id, limit) VALUES (1, 2)"]:
        assert parse_change(sql, odd) == _tokenized_change(sql, odd), sql
    assert _simple_change("UPDATE dtb_order SET `where` = 1 WHERE order_id = 2", _PKS, NOW) is not _NOT_SIMPLE


def test_simple_insert_keys_read_a_shops_inserts():
    sqls = ["INSERT INTO dtb_order (order_id, customer_id, order_name01, create_date) "
            "VALUES (17, 3, '山田, 太郎', CURRENT_TIMESTAMP)",
            "INSERT INTO `dtb_customer` (`customer_id`, `email`) VALUES ('42', 'a@example.com');",
            "INSERT INTO dtb_order (customer_id) VALUES (3)",  # no key: auto-increment
            "INSERT INTO dtb_order (order_id, note) VALUES (18, CONCAT('a', 'b'))"]
    got = simple_insert_keys(pl.DataFrame({"argument": sqls}), _PKS)
    assert got["_pk"].to_list() == ["17", "42", None, None]
    assert got["_table"].to_list() == ["dtb_order", "dtb_customer", None, None]


def test_simple_insert_keys_read_in_slices_as_at_once(monkeypatch):
    import forensics.exposure.sql as sql

    statements = pl.DataFrame({"argument": [f"INSERT INTO dtb_order (order_id, note) VALUES ({i}, 'n{i}')" if i % 3
                                            else f"INSERT INTO dtb_customer (email) VALUES ('{i}')" for i in range(11)],
                               "seq": list(range(11))})
    whole = simple_insert_keys(statements, _PKS)
    monkeypatch.setattr(sql, "INSERT_SLICE_ROWS", 4)
    sliced = simple_insert_keys(statements, _PKS)
    assert sliced.equals(whole) and whole["_pk"].null_count() == 4
