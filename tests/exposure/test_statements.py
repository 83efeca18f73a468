"""The query log as the replay reads it, in passes: the same places, connections and statements as
the whole log held in memory gives."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest

from forensics.exposure.asof import statement_table
from forensics.exposure.sql import CHANGE_KEYWORDS
from forensics.exposure.statements import StatementOrder, conn_key_expr, connections, statement_order, statements_of
from forensics.exposure.viewed import connection_table
from forensics.platforms.eccube2 import ECCUBE2
from tests.exposure.world import CUST_LIST, QueryLog, jst

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "toshomart-2017" / "case.yml"
PERSONS = ["dtb_customer", "dtb_order"]


def _log() -> pl.LazyFrame:
    """Two files, a connection id used twice (split at its second Connect), statements in one
    second across files, an untimed head of a 5.6 file, changes to an exported table and to one
    that is not."""
    ql = QueryLog()
    ql.conn(7, "2017-03-31 23:30:00", "sid-a", [CUST_LIST, "UPDATE dtb_customer SET point = 1 WHERE customer_id = 1"])
    ql.conn(7, "2017-03-31 23:30:05", "sid-b", ["SELECT * FROM dtb_products"])
    ql.conn(8, "2017-03-31 23:30:05", None, ["INSERT INTO dtb_session (sess_id) VALUES ('x')",
                                             "insert into `DTB_ORDER` (order_id) values (3)"])
    first = ql.frame()
    ql = QueryLog()
    ql.conn(9, "2017-03-31 23:30:05", "sid-c", [CUST_LIST])
    ql.add(10, "2017-03-31 23:31:00", "Query", "DELETE FROM dtb_customer WHERE customer_id = 2")
    second = ql.frame().with_columns(source=pl.lit("logs/mysql/general.log.1"))
    untimed = second.head(2).with_columns(ts=None, ts_before=pl.lit(jst("2017-03-31 23:30:05")) + timedelta(0),
                                           line_no=pl.col("line_no") + 100)
    return pl.concat([first, second, untimed]).lazy()


def _as_placed(order: StatementOrder, log: pl.LazyFrame) -> pl.DataFrame:
    """Every statement of ``log`` located by ``order``: ``seq``, ``ts``, ``conn_key``, and the
    log's ``source`` and ``line_no`` of its row, in replay order."""
    every = order.log.select("_row", "ts", "conn_id", "_order", "source", "line_no").collect()
    return order.locate(every).with_columns(conn_key=conn_key_expr())


def _cases():
    yield pytest.param(_log(), id="built")
    if SAMPLE.is_file():
        from forensics.case import open_case

        yield pytest.param(open_case(SAMPLE).query_log(), id="sample")


@pytest.mark.parametrize("log", list(_cases()))
def test_places_connections_and_statements_equal_the_whole_table(log):
    whole = statement_table(log)
    order = statement_order(log)
    # every statement's place and connection, without its text: its row in the log tells the rest
    assert _as_placed(order, log).select("seq", "line_no", "ts", "conn_key", "source").equals(
        whole.select("seq", "line_no", "ts", "conn_key", "source"))
    every = connection_table(whole, PERSONS, platform=ECCUBE2)
    sessions = every.filter(pl.col("n_person_selects") == 0)["sid"].drop_nulls().to_list()[:2]
    assert sessions
    conns, count = connections(order, log, PERSONS, platform=ECCUBE2, sessions=sessions)
    # the connections that read a person table or a given session are built, the rest counted
    kept = (pl.col("n_person_selects") > 0) | pl.col("sid").is_in(sessions)
    assert conns.filter(kept).equals(every.filter(kept)) and count == every.height
    assert conns.height < every.height
    assert conns["sid"].drop_nulls().len() and conns["n_person_selects"].sum() > 0  # the passes found something
    # the statements of some connections and the changes to the exported tables, text included
    examined = conns.filter(pl.col("n_person_selects") > 0)["conn_key"].to_list()[:3] + ["no-such#1"]
    part = statements_of(order, log, examined, change_tables=["dtb_customer", "DTB_ORDER"])
    want = whole.filter(pl.col("conn_key").is_in(examined) | (
        pl.col("keyword").is_in(list(CHANGE_KEYWORDS))
        & pl.col("argument").str.contains(r"(?i)\b(?:dtb_customer|dtb_order)\b")))
    assert part.equals(want) and part["conn_key"].is_in(examined).any()


def test_changes_to_exported_tables_are_read_from_any_connection_and_no_other_change():
    log = _log()
    order = statement_order(log)
    part = statements_of(order, log, [], change_tables=["dtb_customer", "dtb_order"])
    assert sorted(part["keyword"].to_list()) == ["DELETE", "INSERT", "UPDATE"]  # not the dtb_session INSERT
    assert part["seq"].is_sorted()


def test_an_untimed_head_takes_its_place_and_a_reused_id_is_two_connections():
    log = _log()
    order = _as_placed(statement_order(log), log)
    assert {"7#1", "7#2"} <= set(order["conn_key"].to_list())
    untimed = order.filter(pl.col("ts").is_null())
    assert untimed.height == 2 and untimed["line_no"].min() > 100
    # placed at its bound (23:30:05), after the statements of that second in the file read before it
    at = order.filter(pl.col("line_no") > 100)["seq"].to_list()
    same_second = order.filter(pl.col("ts") == jst("2017-03-31 23:30:05"))
    assert min(at) > same_second.filter(pl.col("source") == "logs/mysql/general.log")["seq"].max()


def test_in_one_second_the_file_read_first_comes_first_whatever_its_name():
    # a rotation inside a second: general.log.1 (read first, the older file) sorts after
    # general.log by name, yet its statements ran first
    ql = QueryLog()
    ql.conn(7, "2017-03-31 23:30:05", "sid-a", [CUST_LIST])
    older = ql.frame().with_columns(source=pl.lit("logs/mysql/general.log.1"))
    ql = QueryLog()
    ql.conn(8, "2017-03-31 23:30:05", "sid-b", [CUST_LIST])
    newer = ql.frame()
    log = pl.concat([older, newer]).lazy()
    placed = _as_placed(statement_order(log), log)
    assert placed.filter(pl.col("source") == "logs/mysql/general.log.1")["seq"].max() < \
        placed.filter(pl.col("source") == "logs/mysql/general.log")["seq"].min()
    assert statement_table(log)["source"].to_list() == placed["source"].to_list()


def _clock_went_back() -> pl.LazyFrame:
    """A log out of time order: the second file's clock went back a minute, so its statements
    come before the first file's in replay order; ids 3 and 4 were open before the log began (no
    Connect before their statements), and id 4 opens anew after a restart."""
    ql = QueryLog()
    ql.add(3, "2017-03-31 23:30:00", "Query", CUST_LIST)
    ql.add(4, "2017-03-31 23:30:00", "Query", "SELECT 1")
    ql.conn(5, "2017-03-31 23:30:01", "sid-a", [CUST_LIST])
    ql.conn(4, "2017-03-31 23:30:02", "sid-b", [CUST_LIST])
    first = ql.frame()
    ql = QueryLog()
    ql.conn(6, "2017-03-31 23:29:00", "sid-c", [CUST_LIST, "UPDATE dtb_customer SET point = 2 WHERE customer_id = 1"])
    ql.add(3, "2017-03-31 23:30:01", "Query", "SELECT 2")  # the same second as id 5's, read later
    second = ql.frame().with_columns(source=pl.lit("logs/mysql/general.log.1"))
    return pl.concat([first, second]).lazy()


def test_a_log_out_of_time_order_and_connections_open_before_it_began():
    log = _clock_went_back()
    order = statement_order(log)
    assert not order.in_row_order and not order.seconds["contiguous"].all()
    whole = statement_table(log)
    assert _as_placed(order, log).select("seq", "line_no", "ts", "conn_key", "source").equals(
        whole.select("seq", "line_no", "ts", "conn_key", "source"))
    every = connection_table(whole, PERSONS, platform=ECCUBE2)
    conns, count = connections(order, log, PERSONS, platform=ECCUBE2)
    assert count == every.height == 5  # 3#0, 4#0 open before the log; 4#1, 5#1, 6#1 opened in it
    assert conns.equals(every.filter(pl.col("n_person_selects") > 0))
    assert {"3#0", "4#1"} <= set(conns["conn_key"].to_list())
    part = statements_of(order, log, ["3#0"], change_tables=["dtb_customer"])
    assert part.equals(whole.filter((pl.col("conn_key") == "3#0") | (pl.col("keyword") == "UPDATE")))
    assert part["seq"].is_sorted()


def test_a_log_in_time_order_places_each_statement_at_its_row():
    log = _clock_went_back().filter(pl.col("source") == "logs/mysql/general.log")
    order = statement_order(log)
    assert order.in_row_order and order.height == 10 and order.opened == 2
    placed = _as_placed(order, log)
    assert placed["seq"].to_list() == list(range(10)) and placed["_row"].to_list() == list(range(10))
    assert connections(order, log, PERSONS, platform=ECCUBE2)[1] == 4
