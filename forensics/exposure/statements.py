"""The query log as the replay reads it: statements in replay order, split into connections.

A busy shop's general query log holds tens of millions of statements, nearly all of them the
application's own session reads and writes; their text is most of the log's size. The replay
needs less than the whole log in memory:

- every statement's place in replay order (``seq``) and connection (``conn_key``), to split and
  time connections (:func:`statement_order`: no statement text);
- the connections that read a person table (or a session the replay asks about): their session
  id and the person tables their SELECTs read (:func:`connections`: filtered passes over the log;
  every other connection is only counted);
- the text of the statements of the connections it examines, and of the logged changes to the
  exported tables (:func:`statements_of`: one filtered pass).

Each pass scans the log lazily (a table cache's Parquet, or a frame), so memory holds the
statements' places and the few statements read in full, not the log's text.

Replay order: time (an untimed statement, at the head of a MySQL 5.6 file, at the time its bound
gives), then the order the log was read in (files oldest first, then line), so statements in the
same second keep their logged order, also across a rotation. A
connection is ``conn_id#n``: the n-th connection that used the id, split at each ``Connect``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import polars as pl

from forensics.exposure.sql import CHANGE_KEYWORDS
from forensics.frames import detached
from forensics.platforms.routing import Platform

__all__ = [
    "conn_key_expr",
    "connection_rows",
    "data_change_expr",
    "connections",
    "keyword_expr",
    "session_id_rows",
    "person_select_rows",
    "statement_order",
    "statements_of",
]


#: A statement that starts (after spaces and parentheses) with a data change's keyword: anchored,
#: so a test over every statement of the log fails fast on the others.
_CHANGE_START = r"^[\s(]*(?i:" + "|".join(CHANGE_KEYWORDS) + r")\b"


def keyword_expr() -> pl.Expr:
    """First word of a Query/Execute argument, upper case (null for other commands)."""
    return (pl.when(pl.col("command").is_in(["Query", "Execute"]))
            .then(pl.col("argument").str.extract(r"^[\s(]*([A-Za-z]+)", 1).str.to_uppercase())
            .otherwise(None))


def data_change_expr(tables: Iterable[str]) -> pl.Expr:
    """A logged data change (``keyword`` one of :data:`forensics.exposure.sql.CHANGE_KEYWORDS`)
    whose text names one of ``tables`` as a word, in any case: the statements the tables as of a
    moment are rebuilt from. No tables: none."""
    names = sorted({t.lower() for t in tables})
    if not names:
        return pl.lit(False)
    return (pl.col("keyword").is_in(list(CHANGE_KEYWORDS))
            & pl.col("argument").str.contains(rf"(?i)\b(?:{'|'.join(re.escape(t) for t in names)})\b"))


def conn_key_expr() -> pl.Expr:
    """``conn_key`` (``conn_id#conn_n``) of ``conn_id`` and ``conn_n``."""
    return pl.col("conn_id").cast(pl.String) + "#" + pl.col("conn_n").cast(pl.String)


def statement_order(query_log: pl.LazyFrame | pl.DataFrame) -> pl.DataFrame:
    """Every statement's place in replay order, without its text: a statement's ``seq`` is its
    row here (0..). A row per statement of the log, so only what placing needs is kept.

    Returns
    -------
    DataFrame
        ``ts``, ``conn_id``, ``conn_n`` (Int32: ``conn_key`` is ``conn_id#conn_n``), ``_row``
        (UInt32: the statement's row in ``query_log``), in replay order.
    """
    df = (
        query_log.lazy().with_row_index("_row")
        .select("_row", "ts", "conn_id", _order=pl.coalesce("ts", "ts_before"),
                _connect=pl.col("command") == "Connect")
        .collect(engine="streaming")
    )
    # the log's rows are in the order it was read (files oldest first, lines in order): a stable
    # sort on time alone keeps that order within a second. A log read in time order (one server
    # whose clock never went back) needs no sort at all
    if not df["_order"].is_sorted():
        df = df.sort("_order", maintain_order=True)
    return df.select("ts", "conn_id", conn_n=pl.col("_connect").cast(pl.Int32).cum_sum().over("conn_id"), _row="_row")


def _located(rows: pl.DataFrame, order: pl.DataFrame) -> pl.DataFrame:
    """``rows`` (with ``_row``, their row in the log) with their ``seq``, ``conn_id`` and ``conn_n``,
    in replay order, ``_row`` dropped: two gathers, no join."""
    seq_of_row = pl.Series("seq", np.zeros(order.height, dtype=np.uint32)).scatter(
        order["_row"], np.arange(order.height, dtype=np.uint32))
    placed = rows.with_columns(seq=seq_of_row.gather(rows["_row"])).sort("seq").drop("_row")
    return placed.with_columns(order.select("conn_id", "conn_n")[placed["seq"]])


def _rows_of(order: pl.DataFrame, pairs: pl.DataFrame) -> pl.DataFrame:
    """The rows of ``order`` of the connections ``pairs`` (``conn_id, conn_n``): first by the id
    alone (one column tested against a set; a join on both keys of every statement costs
    gigabytes), then on both keys among those rows."""
    ids = pairs["conn_id"].unique().implode()
    return order.filter(pl.col("conn_id").is_in(ids, nulls_equal=True)).join(
        pairs, on=["conn_id", "conn_n"], how="semi", nulls_equal=True, maintain_order="left")


def _placed(rows: pl.DataFrame, order: pl.DataFrame) -> pl.DataFrame:
    """``rows`` (with ``_row``, their row in the log) with their ``seq`` and ``conn_key``, in
    replay order, ``_row`` dropped."""
    placed = _located(rows, order).with_columns(conn_key=conn_key_expr())
    return placed.drop("conn_n", *(["conn_id"] if "conn_id" not in rows.columns else []))


def _session_filter(platform: Platform) -> pl.Expr:
    # a cheap literal prefilter; the regex then runs on the few rows that can match
    return pl.col("argument").str.contains(platform.session_id_column, literal=True)


def _sid_re(platform: Platform) -> str:
    """A statement reading the platform's session row: its session id in group 1."""
    return (rf"(?is)\b{re.escape(platform.session_table)}\b.*?\b{re.escape(platform.session_id_column)}"
            r"\s*=\s*['\"]([^'\"]+)['\"]")


def _person_flags(person_tabs: list[str]) -> list[pl.Expr]:
    return [pl.col("argument").str.contains(rf"(?i)\b{re.escape(t)}\b").alias(f"_t_{t}") for t in person_tabs]


def session_id_rows(statements: pl.LazyFrame | pl.DataFrame, platform: Platform) -> pl.LazyFrame:
    """Statements reading or writing the platform's session row: the columns of ``statements``
    but ``argument``, and ``sid``."""
    lf = statements.lazy()
    return (lf.filter(_session_filter(platform))
            .with_columns(sid=pl.col("argument").str.extract(_sid_re(platform), 1))
            .drop_nulls("sid").drop("argument"))


def person_select_rows(statements: pl.LazyFrame | pl.DataFrame, person_tabs: Iterable[str]) -> pl.LazyFrame:
    """SELECTs naming a person table: the columns of ``statements`` but ``argument``, ``command``
    and ``keyword``, and ``_t_<table>`` (Boolean: it reads that table) per person table. The
    ``keyword`` is taken from ``command`` and ``argument`` when ``statements`` lacks it."""
    pt = sorted(person_tabs)
    lf = statements.lazy()
    names = lf.collect_schema().names()
    named = lf.filter(pl.col("argument").str.contains("(?i)" + "|".join(re.escape(t) for t in pt)))
    if "keyword" not in names:
        named = named.with_columns(keyword=keyword_expr())
    return (named.filter(pl.col("keyword") == "SELECT").with_columns(_person_flags(pt))
            .drop("argument", "command", "keyword", strict=False))


def connection_rows(base: pl.DataFrame, sids: pl.DataFrame, reads: pl.DataFrame, person_tabs: Iterable[str]) -> pl.DataFrame:
    """One row per connection from its statements' aggregates: ``base`` (``conn_key, conn_id, start,
    end, n_statements``), ``sids`` (:func:`session_id_rows` with ``conn_key``, in replay order)
    and ``reads`` (:func:`person_select_rows` with ``conn_key``).

    Returns ``conn_key, conn_id, start, end, sid`` (the first session id it read), ``n_statements,
    tables`` (person tables its SELECTs read, sorted), ``n_person_selects``, sorted by ``start``.
    """
    pt = sorted(person_tabs)
    sid = sids.group_by("conn_key").agg(pl.col("sid").first())
    if pt:
        sel = reads.with_columns(_psel=pl.any_horizontal([pl.col(f"_t_{t}") for t in pt]))
        per = sel.group_by("conn_key").agg(
            *[pl.col(f"_t_{t}").any().alias(f"_has_{t}") for t in pt],
            pl.col("_psel").sum().cast(pl.Int64).alias("n_person_selects"))
        per = per.with_columns(
            pl.concat_list([pl.when(pl.col(f"_has_{t}")).then(pl.lit(t)).otherwise(None) for t in pt])
            .list.drop_nulls().alias("tables")).drop([f"_has_{t}" for t in pt])
    else:
        per = pl.DataFrame(schema={"conn_key": pl.String, "n_person_selects": pl.Int64, "tables": pl.List(pl.String)})
    out = (base.join(sid, on="conn_key", how="left").join(per, on="conn_key", how="left")
           .with_columns(pl.col("n_person_selects").fill_null(0),
                         pl.col("tables").fill_null(pl.lit([], dtype=pl.List(pl.String)))))
    return out.select("conn_key", "conn_id", "start", "end", "sid", "n_statements", "tables",
                      "n_person_selects").sort("start", "conn_key")


def connections(order: pl.DataFrame, query_log: pl.LazyFrame | pl.DataFrame, person_tabs: Iterable[str], *,
                platform: Platform, sessions: Iterable[str] = ()) -> tuple[pl.DataFrame, int]:
    """The connections that read a person table or one of ``sessions`` (session ids), and how many
    connections the log holds in all: ``(rows, count)``, ``rows`` as :func:`connection_rows` gives
    them (a connection that read a listed session after another one is among them too).

    From ``order`` (:func:`statement_order`) and filtered passes over ``query_log``: the SELECTs
    naming a person table, the statements naming a listed session, and the session reads of the
    connections so found. In a busy shop nearly every connection reads its session and nothing
    else: those are counted, never built."""
    pt = sorted(person_tabs)
    pair = ["conn_id", "conn_n"]
    q = query_log.lazy().with_row_index("_row").select("_row", "command", "argument")
    reads = (_located(person_select_rows(q, pt).collect(engine="streaming"), order) if pt
             else pl.DataFrame(schema={"seq": pl.UInt32, "conn_id": pl.Int64, "conn_n": pl.Int32}))
    wanted = [(reads.filter(pl.any_horizontal([pl.col(f"_t_{t}") for t in pt])) if pt else reads).select(pair)]
    listed = sorted(set(sessions))
    if listed:
        naming = q.drop("command").filter(pl.col("argument").str.contains_any(listed))
        found = _located(session_id_rows(naming, platform).collect(engine="streaming"), order)
        wanted.append(found.filter(pl.col("sid").is_in(listed)).select(pair))
    wanted = pl.concat(wanted).cast({"conn_id": pl.Int64, "conn_n": pl.Int32}).unique()
    # the statements of the connections found: their session reads, and their times
    theirs = _rows_of(order, wanted)
    of_theirs = q.drop("command").filter(pl.col("_row").is_in(theirs["_row"].implode()))
    sid_rows = _located(session_id_rows(of_theirs, platform).collect(engine="streaming"), order).with_columns(
        conn_key=conn_key_expr())
    reads = reads.with_columns(conn_key=conn_key_expr())
    base = (theirs.group_by(pair)
            .agg(pl.col("ts").min().alias("start"), pl.col("ts").max().alias("end"), pl.len().alias("n_statements"))
            .select(conn_key=conn_key_expr(), conn_id="conn_id", start="start", end="end", n_statements="n_statements"))
    # every connection but those opened before the log began starts with a Connect
    opened = query_log.lazy().filter(pl.col("command") == "Connect").select(pl.len()).collect(engine="streaming").item()
    already_open = order.select(pl.col("conn_id").filter(pl.col("conn_n") == 0).n_unique()).item()
    return connection_rows(base, sid_rows, reads, pt), int(opened) + already_open


def statements_of(order: pl.DataFrame, query_log: pl.LazyFrame | pl.DataFrame, conn_keys: Iterable[str],
                  change_tables: Iterable[str]) -> pl.DataFrame:
    """The statements, text included, of the connections ``conn_keys``, and every logged data
    change (:data:`forensics.exposure.sql.CHANGE_KEYWORDS`) naming one of ``change_tables``, in replay order.

    Returns the query log's columns with ``seq``, ``conn_key`` and ``keyword`` (first word of a
    Query/Execute argument, upper case), as :func:`forensics.exposure.asof.statement_table` gives
    them for these rows.
    """
    keys = pl.Series("conn_key", sorted(set(conn_keys)), dtype=pl.String).str.split_exact("#", 1).struct.unnest()
    keys = keys.select(conn_id=pl.col("field_0").cast(pl.Int64, strict=False),
                       conn_n=pl.col("field_1").cast(pl.Int32, strict=False)).drop_nulls()  # no such connection: none
    chosen = _rows_of(order, keys)["_row"]
    names = sorted({t.lower() for t in change_tables})
    q = query_log.lazy()
    columns = q.collect_schema().names()
    keep = pl.col("_row").is_in(chosen.implode())
    if names:  # cheap prefilters over the whole text (a change's first word, a table's name); the
        # exact test below, on the rows they keep
        keep = keep | (pl.col("command").is_in(["Query", "Execute"])
                       & pl.col("argument").str.contains(_CHANGE_START)
                       & pl.col("argument").str.contains_any(names, ascii_case_insensitive=True)).fill_null(False)
    # the log's text never whole; the rows kept hold their own text, not the pages they were read from
    rows = detached(q.with_row_index("_row").filter(keep)).collect(engine="streaming")
    rows = rows.with_columns(keyword=keyword_expr())
    if names:
        rows = rows.filter(pl.col("_row").is_in(chosen.implode()) | data_change_expr(names).fill_null(False))
    return _placed(rows, order).select(["seq", *columns, "conn_key", "keyword"])
