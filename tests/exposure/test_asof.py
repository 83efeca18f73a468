"""Tables as of a moment, and the locked-down replay engine."""

from __future__ import annotations

import polars as pl
import pytest

from forensics.exposure.asof import AsOfTables, ReplayError, SafeReplayer, primary_keys, statement_table
from tests.exposure.world import TZ, QueryLog, customers, jst


def build(ql: QueryLog, tab: pl.DataFrame) -> tuple[AsOfTables, pl.DataFrame]:
    st = statement_table(ql.frame())
    return AsOfTables.build({"dtb_customer": tab}, st, TZ), st


def seq_of(st: pl.DataFrame, needle: str) -> tuple[int, object]:
    r = st.filter(pl.col("argument").str.contains(needle, literal=True)).row(0, named=True)
    return r["seq"], r["ts"]


def test_primary_keys():
    assert primary_keys({"dtb_customer": customers([]), "dtb_x": pl.DataFrame({"a": [1], "b_id": [2]})}) == \
        {"dtb_customer": "customer_id", "dtb_x": "b_id"}


def test_hard_deleted_row_is_rebuilt_from_its_insert():
    tab = customers([{"customer_id": 1}])
    ql = (QueryLog()
          .conn(1, "2017-04-01 00:00:00", None, ["INSERT INTO dtb_customer (customer_id, name01, del_flg, create_date) "
                                                 "VALUES (5, 'gone', 0, '2017-04-01 00:00:00')"])
          .conn(2, "2017-04-02 00:00:00", None, ["SELECT 'probe'"])
          .conn(3, "2017-04-03 00:00:00", None, ["DELETE FROM dtb_customer WHERE customer_id = 5"])
          .conn(4, "2017-04-04 00:00:00", None, ["SELECT 'after'"]))
    asof, st = build(ql, tab)
    df, flags = asof.at("dtb_customer", *seq_of(st, "'probe'"))
    assert sorted(df["customer_id"].to_list()) == [1, 5]
    assert df.filter(pl.col("customer_id") == 5)["create_date"].to_list() == [jst("2017-04-01 00:00:00")]
    assert "rebuilt" in flags[5][0]
    df, _ = asof.at("dtb_customer", *seq_of(st, "'after'"))
    assert df["customer_id"].to_list() == [1]


def test_values_as_set_at_the_moment():
    tab = customers([{"customer_id": 1, "update_date": "2017-04-03 00:00:00"}])
    tab = tab.with_columns(pl.lit("new").alias("name01"))
    ql = (QueryLog()
          .conn(1, "2017-04-01 00:00:00", None, ["UPDATE dtb_customer SET name01 = 'mid', update_date = '2017-04-01 00:00:00' WHERE customer_id = 1"])
          .conn(2, "2017-04-02 00:00:00", None, ["SELECT 'probe'"])
          .conn(3, "2017-04-03 00:00:00", None, ["UPDATE dtb_customer SET name01 = 'new', update_date = '2017-04-03 00:00:00' WHERE customer_id = 1"]))
    asof, st = build(ql, tab)
    df, flags = asof.at("dtb_customer", *seq_of(st, "'probe'"))
    assert df.row(0, named=True)["name01"] == "mid"
    assert df.row(0, named=True)["update_date"] == jst("2017-04-01 00:00:00")
    assert flags == {}
    assert asof.problems.height == 0


def test_an_insert_of_a_row_in_the_export_keeps_only_the_values_later_changes_set():
    tab = customers([{"customer_id": 7, "update_date": "2017-04-03 00:00:00"}]).with_columns(
        name01=pl.lit("end"), point=pl.lit(30))
    ql = (QueryLog()
          .conn(1, "2017-04-01 00:00:00", None, ["INSERT INTO dtb_customer (customer_id, name01, point, del_flg, "
                                                 "create_date) VALUES (7, 'first', 10, 0, '2017-04-01 00:00:00')"])
          .conn(2, "2017-04-02 00:00:00", None, ["SELECT 'probe'"])
          .conn(3, "2017-04-03 00:00:00", None, ["UPDATE dtb_customer SET point = 30 WHERE customer_id = 7"]))
    asof, st = build(ql, tab)
    # the update is parsed before the insert, and the insert's op still comes first
    assert [o.op for o in asof.ops["dtb_customer"][7]] == ["insert", "update"]
    assert asof.ops["dtb_customer"][7][0].values == {"point": 10}
    df, flags = asof.at("dtb_customer", *seq_of(st, "'probe'"))
    row = df.row(0, named=True)
    assert (row["point"], row["name01"]) == (10, "end") and flags == {}


def test_an_insert_of_a_row_missing_from_the_export_keeps_every_value():
    tab = customers([{"customer_id": 1}]).with_columns(point=pl.lit(0))
    ql = (QueryLog()
          .conn(1, "2017-04-01 00:00:00", None, ["INSERT INTO dtb_customer (customer_id, name01, point, del_flg, "
                                                 "create_date) VALUES ('8', 'gone', 10, 0, '2017-04-01 00:00:00')"])
          .conn(2, "2017-04-02 00:00:00", None, ["UPDATE dtb_customer SET point = 20 WHERE customer_id = 8"])
          .conn(3, "2017-04-03 00:00:00", None, ["SELECT 'probe'"])
          .conn(4, "2017-04-04 00:00:00", None, ["DELETE FROM dtb_customer WHERE customer_id = 8"]))
    asof, st = build(ql, tab)
    df, flags = asof.at("dtb_customer", *seq_of(st, "'probe'"))
    row = df.filter(pl.col("customer_id") == 8).row(0, named=True)
    assert (row["name01"], row["point"]) == ("gone", 20)
    assert "rebuilt" in flags[8][0]


def test_each_row_takes_its_own_values_and_a_logged_null_is_a_value():
    tab = customers([{"customer_id": i, "update_date": "2017-04-03 00:00:00"} for i in (1, 2, 3)]).with_columns(
        name01=pl.lit("end"))
    ql = (QueryLog()
          .conn(1, "2017-04-01 00:00:00", None, [
              "UPDATE dtb_customer SET name01 = 'mid' WHERE customer_id = 1",
              "UPDATE dtb_customer SET name01 = NULL, del_flg = 0 WHERE customer_id = 2",
              "INSERT INTO dtb_customer (customer_id, name01, del_flg, create_date) "
              "VALUES (4, 'gone', 0, '2017-04-01 00:00:00')"])
          .conn(2, "2017-04-02 00:00:00", None, ["SELECT 'probe'"])
          .conn(3, "2017-04-03 00:00:00", None, [
              "UPDATE dtb_customer SET name01 = 'end' WHERE customer_id = 1",
              "UPDATE dtb_customer SET name01 = 'end', del_flg = 1 WHERE customer_id = 2",
              "UPDATE dtb_customer SET del_flg = 1 WHERE customer_id = 3",
              "DELETE FROM dtb_customer WHERE customer_id = 4"]))
    asof, st = build(ql, tab)
    df, flags = asof.at("dtb_customer", *seq_of(st, "'probe'"))
    got = {r["customer_id"]: (r["name01"], r["del_flg"]) for r in df.iter_rows(named=True)}
    # 1: its own earlier value; 2: the NULL it was set to; 3: a flag set later, 0 before;
    # 4: deleted later, rebuilt from its INSERT
    assert got == {1: ("mid", 0), 2: (None, 0), 3: ("end", 0), 4: ("gone", 0)}
    assert df.height == 4 and df.schema == tab.schema
    assert set(flags) == {3, 4} and "assumed 0" in flags[3][0] and "rebuilt" in flags[4][0]


def test_problems_are_in_log_order_whatever_the_kind_of_change():
    ql = (QueryLog()
          .conn(1, "2017-04-01 00:00:00", None, ["INSERT INTO dtb_customer SELECT * FROM dtb_customer"])
          .conn(2, "2017-04-02 00:00:00", None, ["UPDATE dtb_customer SET point = 0 WHERE email LIKE '%x'"])
          .conn(3, "2017-04-03 00:00:00", None, ["INSERT INTO dtb_customer VALUES (1)"]))
    asof, _ = build(ql, customers([{"customer_id": 1}]))
    assert asof.problems["op"].to_list() == ["insert", "update", "insert"]
    assert asof.problems["seq"].is_sorted()


def test_unapplicable_change_is_reported():
    ql = QueryLog().conn(1, "2017-04-01 00:00:00", None, ["UPDATE dtb_customer SET point = 0 WHERE email LIKE '%x'"])
    asof, _ = build(ql, customers([{"customer_id": 1}]))
    assert asof.problems["reason"].to_list() == ["WHERE does not name rows by customer_id"]


def test_replayer_runs_selects_only_and_reads_no_files():
    eng = SafeReplayer()
    eng.register("t", pl.DataFrame({"a": [1, 2, 3]}))
    _, cols, rows = eng.select("SELECT `a` FROM t ORDER BY a LIMIT 1, 1")
    assert cols == ["a"] and rows == [(2,)]
    for bad in ["DELETE FROM t", "SELECT * FROM read_csv('/etc/passwd')", "SELECT 1; SELECT 2",
                "SELECT * FROM t; COPY t TO '/tmp/x.csv'"]:
        with pytest.raises(ReplayError):
            eng.select(bad)
    with pytest.raises(Exception):
        eng.con.execute("SET enable_external_access = true")
    eng.close()
