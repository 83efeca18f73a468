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
    "StatementOrder",
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


def _among(column: str, values: pl.Series) -> pl.Expr:
    """True where ``column`` is one of ``values``; a null among them matches the null rows."""
    distinct = values.unique()
    test = pl.col(column).is_in(distinct.drop_nulls().implode())
    return test | pl.col(column).is_null() if distinct.null_count() else test


class StatementOrder:
    """Where each statement of a query log stands in replay order, found for the rows asked about
    without holding a row per statement (:func:`statement_order` builds it).

    What it holds grows with the log's span, not its size: a row per distinct second (``_order``,
    the statement's time or, untimed, its bound): how many statements come before that second
    in replay order, the first and last row of the log in it, and whether its rows are
    contiguous in the log (they are unless the server's clock went back, or files overlap). A
    statement's ``seq`` is then the statements before its second plus its place in it (its row
    less the second's first row; the rows of a second that is not contiguous are read when asked
    about). Its connection number (``conn_n``) counts the ``Connect`` statements of its
    ``conn_id`` up to it, read for the ids asked about.

    Attributes
    ----------
    log : LazyFrame
        The query log with ``_row`` (UInt32: its row in the log) and ``_order``.
    seconds : DataFrame
        ``_order``, ``before`` (Int64), ``lo``, ``hi`` (UInt32), ``contiguous`` (Boolean), in
        replay order (an untimed statement without a bound first).
    height : int
        Statements in the log.
    ts_min, ts_max : datetime or None
        The first and last statement's time.
    opened : int
        ``Connect`` statements in the log.
    in_row_order : bool
        The log was read in replay order (every second contiguous, in order): ``seq`` is ``_row``.
    """

    def __init__(self, query_log: pl.LazyFrame | pl.DataFrame):
        self.log = (query_log.lazy().with_row_index("_row")
                    .with_columns(_order=pl.coalesce("ts", "ts_before")))
        per = (self.log.group_by("_order")
               .agg(n=pl.len(), lo=pl.col("_row").min(), hi=pl.col("_row").max(),
                    ts_min=pl.col("ts").min(), ts_max=pl.col("ts").max(),
                    connects=(pl.col("command") == "Connect").sum())
               .collect(engine="streaming")
               .sort("_order", nulls_last=False))
        self.height = int(per["n"].sum() or 0)
        self.ts_min, self.ts_max = per["ts_min"].min(), per["ts_max"].max()
        self.opened = int(per["connects"].sum() or 0)
        self.seconds = per.select(
            "_order", before=(pl.col("n").cum_sum() - pl.col("n")).cast(pl.Int64), lo="lo", hi="hi",
            contiguous=(pl.col("hi").cast(pl.Int64) - pl.col("lo") + 1) == pl.col("n"))
        lo_next = self.seconds["lo"].shift(-1)
        self.in_row_order = bool(self.seconds["contiguous"].all()
                                 and ((self.seconds["hi"] < lo_next) | lo_next.is_null()).all())

    def locate(self, rows: pl.DataFrame) -> pl.DataFrame:
        """``rows`` (with ``_row``, ``conn_id`` and ``_order``, as :attr:`log` gives them) with
        their ``seq`` (UInt32) and ``conn_n`` (Int32), in replay order."""
        if rows.height == 0:
            return rows.with_columns(seq=pl.lit(None, pl.UInt32), conn_n=pl.lit(None, pl.Int32))
        return self._connection_numbers(self._places(rows)).sort("seq")

    def _places(self, rows: pl.DataFrame) -> pl.DataFrame:
        placed = rows.join(self.seconds.select("_order", "before", "lo", "contiguous"), on="_order", how="left",
                           nulls_equal=True, maintain_order="left")
        odd = placed.filter(~pl.col("contiguous"))["_order"].unique()
        within = pl.col("_row").cast(pl.Int64) - pl.col("lo")
        if odd.len():  # seconds whose rows are spread over the log: their rows read, ranked by row
            ranks = (self.log.filter(_among("_order", odd)).select("_order", "_row").collect(engine="streaming")
                     .sort("_order", "_row", nulls_last=False)
                     .select("_row", _rank=pl.int_range(pl.len(), dtype=pl.Int64).over("_order")))
            placed = placed.join(ranks, on="_row", how="left", maintain_order="left")
            within = pl.when(pl.col("contiguous")).then(within).otherwise(pl.col("_rank"))
        return placed.with_columns(seq=(pl.col("before") + within).cast(pl.UInt32)).drop(
            "before", "lo", "contiguous", "_rank", strict=False)

    def _connection_numbers(self, rows: pl.DataFrame) -> pl.DataFrame:
        connects = (self.log.filter((pl.col("command") == "Connect") & _among("conn_id", rows["conn_id"]))
                    .select("_row", "conn_id", "_order").collect(engine="streaming"))
        mine = rows.select("_row", "conn_id", "_order").unique("_row")
        every = pl.concat([connects.with_columns(_c=pl.lit(1, pl.Int32)),
                           mine.join(connects.select("_row"), on="_row", how="anti").with_columns(_c=pl.lit(0, pl.Int32))])
        numbered = (every.sort("conn_id", "_order", "_row", nulls_last=False)
                    .select("_row", conn_n=pl.col("_c").cum_sum().over("conn_id")))
        return rows.join(numbered, on="_row", how="left", maintain_order="left")

    def statements_of_ids(self, ids: pl.Series) -> pl.DataFrame:
        """Every statement of the connection ids ``ids``, without its text: ``_row, ts, conn_id,
        _order, seq, conn_n``, in replay order."""
        rows = self.log.filter(_among("conn_id", ids)).select("_row", "ts", "conn_id", "_order").collect(engine="streaming")
        return self.locate(rows)

    def already_open(self) -> int:
        """Connection ids with a statement before their first ``Connect`` (opened before the log
        began): a connection each, counted beside :attr:`opened`. One pass, a row per id."""
        connect = pl.col("command") == "Connect"
        if self.in_row_order:  # replay order is row order: an id's first statement is its least row
            per = self.log.group_by("conn_id").agg(
                first=pl.col("_row").min(), first_connect=pl.when(connect).then(pl.col("_row")).min())
        else:  # (a log out of time order: each statement's place first, a row per statement)
            per = self.locate(self.log.select("_row", "conn_id", "_order").collect(engine="streaming")).lazy().join(
                self.log.select("_row", connect.alias("_c")), on="_row").group_by("conn_id").agg(
                first=pl.col("seq").min(), first_connect=pl.when(pl.col("_c")).then(pl.col("seq")).min())
        return int(per.filter(pl.col("first_connect").is_null() | (pl.col("first") < pl.col("first_connect")))
                   .select(pl.len()).collect(engine="streaming").item())


def statement_order(query_log: pl.LazyFrame | pl.DataFrame) -> StatementOrder:
    """The replay order of ``query_log``'s statements (:class:`StatementOrder`: one pass over the
    log, a row per distinct second kept)."""
    return StatementOrder(query_log)


def _rows_of(order: StatementOrder, pairs: pl.DataFrame) -> pl.DataFrame:
    """The statements (``_row, ts, conn_id, _order, seq, conn_n``, replay order) of the
    connections ``pairs`` (``conn_id, conn_n``): every statement of their ids, then those of
    the pairs."""
    return order.statements_of_ids(pairs["conn_id"]).join(
        pairs, on=["conn_id", "conn_n"], how="semi", nulls_equal=True, maintain_order="left")


def _placed(rows: pl.DataFrame, order: StatementOrder) -> pl.DataFrame:
    """``rows`` (with ``_row``, ``conn_id`` and ``_order``) with their ``seq`` and ``conn_key``,
    in replay order, ``_row``, ``_order`` and ``conn_n`` dropped."""
    return order.locate(rows).with_columns(conn_key=conn_key_expr()).drop("_row", "_order", "conn_n")


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


def connections(order: StatementOrder, query_log: pl.LazyFrame | pl.DataFrame, person_tabs: Iterable[str], *,
                platform: Platform, sessions: Iterable[str] = ()) -> tuple[pl.DataFrame, int]:
    """The connections that read a person table or one of ``sessions`` (session ids), and how many
    connections the log holds in all: ``(rows, count)``, ``rows`` as :func:`connection_rows` gives
    them (a connection that read a listed session after another one is among them too).

    From ``order`` (:func:`statement_order` of ``query_log``) and filtered passes over the log:
    the SELECTs naming a person table, the statements naming a listed session, every statement of
    the connection ids so found (no text), and the session reads among them. In a busy shop
    nearly every connection reads its session and nothing else: those are counted, never built."""
    pt = sorted(person_tabs)
    pair = ["conn_id", "conn_n"]
    q = order.log.select("_row", "conn_id", "_order", "command", "argument")
    reads = (order.locate(person_select_rows(q, pt).collect(engine="streaming")) if pt
             else pl.DataFrame(schema={"_row": pl.UInt32, "seq": pl.UInt32, "conn_id": pl.Int64, "conn_n": pl.Int32}))
    wanted = [(reads.filter(pl.any_horizontal([pl.col(f"_t_{t}") for t in pt])) if pt else reads).select(pair)]
    listed = sorted(set(sessions))
    if listed:
        naming = q.drop("command").filter(pl.col("argument").str.contains_any(listed))
        found = order.locate(session_id_rows(naming, platform).collect(engine="streaming"))
        wanted.append(found.filter(pl.col("sid").is_in(listed)).select(pair))
    wanted = pl.concat(wanted).cast({"conn_id": pl.Int64, "conn_n": pl.Int32}).unique()
    # the statements of the connections found: their session reads, and their times
    theirs = _rows_of(order, wanted)
    of_theirs = q.drop("command").filter(pl.col("_row").is_in(theirs["_row"].implode()))
    sid_rows = (session_id_rows(of_theirs, platform).drop("conn_id", "_order").collect(engine="streaming")
                .join(theirs.select("_row", "seq", "conn_id", "conn_n"), on="_row")
                .sort("seq").drop("_row").with_columns(conn_key=conn_key_expr()))
    reads = reads.with_columns(conn_key=conn_key_expr())
    base = (theirs.group_by(pair)
            .agg(pl.col("ts").min().alias("start"), pl.col("ts").max().alias("end"), pl.len().alias("n_statements"))
            .select(conn_key=conn_key_expr(), conn_id="conn_id", start="start", end="end", n_statements="n_statements"))
    # every connection but those opened before the log began starts with a Connect
    return connection_rows(base, sid_rows, reads, pt), order.opened + order.already_open()


def statements_of(order: StatementOrder, query_log: pl.LazyFrame | pl.DataFrame, conn_keys: Iterable[str],
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
    columns = query_log.lazy().collect_schema().names()
    keep = pl.col("_row").is_in(chosen.implode())
    if names:  # cheap prefilters over the whole text (a change's first word, a table's name); the
        # exact test below, on the rows they keep
        keep = keep | (pl.col("command").is_in(["Query", "Execute"])
                       & pl.col("argument").str.contains(_CHANGE_START)
                       & pl.col("argument").str.contains_any(names, ascii_case_insensitive=True)).fill_null(False)
    # the log's text never whole; the rows kept hold their own text, not the pages they were read from
    rows = detached(order.log.filter(keep)).collect(engine="streaming")
    rows = rows.with_columns(keyword=keyword_expr())
    if names:
        rows = rows.filter(pl.col("_row").is_in(chosen.implode()) | data_change_expr(names).fill_null(False))
    return _placed(rows, order).select(["seq", *columns, "conn_key", "keyword"])
