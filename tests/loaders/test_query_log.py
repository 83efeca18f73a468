"""MySQL general query log loader: 5.6 and 5.7 layouts, carried times, multi-line statements."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from forensics.loaders import query_log
from forensics.loaders.query_log import read_query_logs, scan_query_logs
from forensics.schemas import QUERY_LOG

UTC = dt.timezone.utc
BANNER = ("/usr/sbin/mysqld, Version: 5.6.35-log (MySQL Community Server (GPL)). started with:\n"
          "Tcp port: 3306  Unix socket: /var/lib/mysql/mysql.sock\n"
          "Time                 Id Command    Argument\n")


def load(write, text, name="general.log", tz="Asia/Tokyo", **kw):
    path = write(name, text)
    return read_query_logs([path], case_root=path.parent, timezone=tz, show_progress=False, **kw)


def test_mysql56_time_carried_forward(write):
    text = BANNER + ("170331 23:31:02\t   12 Connect\teccube@localhost on eccube_db\n"
                     "\t\t   12 Query\tSELECT 1\n"
                     "170401  9:05:01\t   13 Query\tSELECT 2\n"
                     "\t\t   12 Quit\t\n")
    loaded = load(write, text)
    df = loaded.records
    assert df["ts"].to_list() == [dt.datetime(2017, 3, 31, 14, 31, 2, tzinfo=UTC)] * 2 + [dt.datetime(2017, 4, 1, 0, 5, 1, tzinfo=UTC)] * 2
    assert df["conn_id"].to_list() == [12, 12, 13, 12]
    assert df["command"].to_list() == ["Connect", "Query", "Query", "Quit"]
    assert df["argument"].to_list() == ["eccube@localhost on eccube_db", "SELECT 1", "SELECT 2", ""]
    assert df["line_no"].to_list() == [4, 5, 6, 7] and set(df["layout"]) == {"mysql5.6"}
    c = loaded.counts.row(0, named=True)
    assert (c["records"], c["rejected"], c["rows"]) == (7, 0, 4)  # banner lines are accounted for


def test_mysql57_utc_and_offset(write):
    text = ("2017-03-31T14:31:02.123456Z\t   12 Query\tSELECT 1\n"
            "2017-03-31T23:31:03.000001+09:00\t   12 Init DB\teccube_db\n")
    df = load(write, text).records
    assert df["ts"].to_list() == [dt.datetime(2017, 3, 31, 14, 31, 2, 123456, tzinfo=UTC),
                                  dt.datetime(2017, 3, 31, 14, 31, 3, 1, tzinfo=UTC)]
    assert df["command"].to_list() == ["Query", "Init DB"] and set(df["layout"]) == {"mysql5.7"}


@pytest.mark.parametrize("layout", [
    pytest.param("170331 23:31:02\t   12 Query\t", id="mysql56-multiline"),
    pytest.param("2017-03-31T14:31:02.000000Z\t   12 Query\t", id="mysql57-multiline"),
])
def test_multiline_statement(write, layout):
    text = layout + "SELECT *\nFROM dtb_customer\n\nWHERE customer_id = 1\n" + layout + "SELECT 2\n"
    loaded = load(write, text)
    df = loaded.records
    assert df["argument"][0] == "SELECT *\nFROM dtb_customer\n\nWHERE customer_id = 1"
    assert df["line_count"].to_list() == [4, 1] and df["line_no"].to_list() == [1, 5]
    assert loaded.counts["records"][0] == 5


def test_time_carries_across_rotated_files(write, tmp_path):
    a = write("general.log-20170331", "170331 23:31:02\t   12 Query\tSELECT 1\n")
    b = write("general.log", "\t\t   12 Query\tSELECT 2\n")
    df = read_query_logs([b, a], case_root=tmp_path, timezone="Asia/Tokyo", show_progress=False).records
    assert df["source"].to_list() == ["general.log-20170331", "general.log"]
    assert df["ts"].null_count() == 0 and df["ts"][0] == df["ts"][1]


@pytest.mark.parametrize(
    "text, reason",
    [
        pytest.param("garbage first\n170331 23:31:02\t   12 Query\tSELECT 1\n", "not a query-log entry", id="leading-garbage"),
        pytest.param(b"\xff\xfe\x00\n170331 23:31:02\t   12 Query\tSELECT 1\n", "invalid UTF-8", id="binary-first-line"),
    ],
)
def test_rejects(write, text, reason):
    loaded = load(write, text)
    assert reason in loaded.rejects["reason"][0]
    c = loaded.counts.row(0, named=True)
    lines = (text if isinstance(text, bytes) else text.encode()).count(b"\n")
    assert c["records"] + c["rejected"] == lines


def test_invalid_utf8_inside_statement_rejects_whole_statement(write):
    text = b"170331 23:31:02\t   12 Query\tSELECT '\xff'\nFROM x\n170331 23:31:02\t   12 Query\tSELECT 1\n"
    loaded = load(write, text)
    assert loaded.records["argument"].to_list() == ["SELECT 1"]
    assert loaded.rejects["line_no"].to_list() == [1, 2]


def test_schema(write, tmp_path):
    path = write("general.log", "170331 23:31:02\t   12 Query\tSELECT 1\n")
    lf = scan_query_logs([path], case_root=tmp_path, timezone="Asia/Tokyo")
    assert lf.collect_schema() == QUERY_LOG and lf.collect().schema == QUERY_LOG


QUERY_LOG_STREAM = (
    "garbage before any entry\n"
    + BANNER
    + "\t\t   11 Query\tSELECT 'before any time'\n"
    "171105  0:59:00\t   12 Connect\tshop@localhost on eccube\n"
    "\t\t   12 Query\tSELECT *\nFROM dtb_customer\nWHERE customer_id = 1\n"
    "171105  1:30:00\t   12 Query\tSELECT 1\n"
    "171105  1:50:00\t   12 Query\tSELECT 2\n"
    "171105  1:10:00\t   12 Query\tSELECT 3\n"  # the clock went back: second pass (EST)
    "\t\t   12 Query\tUPDATE dtb_order\nSET status = 5\n"
    "171105  1:40:00\t   12 Query\tSELECT 4\n"
    "171105  2:10:00\t   12 Quit\t\n"
    "171105  2:20:00\t   13 Query\tSELECT \xff broken\n"
    "2017-11-05T08:00:00.5Z\t   14 Query\tSELECT 5\n"
    "\t\t   14 Query\tSELECT 'carried 5.6 time after a 5.7 line'\n"
)


@pytest.mark.parametrize("batch_lines", [1, 2, 3, 5, 7, 11])
def test_streamed_batches_give_the_same_table_as_one_batch(tmp_path, batch_lines):
    """Statements cut by a batch edge, 5.6 times carried over, a repeated DST hour on an edge,
    rejects and a second file: batch by batch gives exactly what one batch gives."""
    from forensics.loaders.query_log import iter_query_logs

    (tmp_path / "general.log-20171104").write_bytes(
        b"171104 23:00:00\t    9 Query\tSELECT 0\n\t\t    9 Query\tSELECT\n  'spans'\n")
    (tmp_path / "general.log").write_bytes(QUERY_LOG_STREAM.encode("utf-8").replace(b"\xc3\xbf", b"\xff"))
    paths = [tmp_path / "general.log", tmp_path / "general.log-20171104"]
    kw = dict(case_root=tmp_path, timezone="America/New_York", show_progress=False)
    whole = read_query_logs(paths, batch_lines=10**9, **kw)
    # 2 + 10 statements; rejected: the garbage line and the Quit statement the broken line continues
    assert whole.records.height == 12 and whole.rejects.height == 3
    # the repeated hour: EDT until the clock goes back, then EST
    second = whole.records.filter(pl.col("argument").str.starts_with("SELECT 3"))["ts"][0]
    assert second == dt.datetime(2017, 11, 5, 6, 10, tzinfo=UTC)
    parts = list(iter_query_logs(paths, batch_lines=batch_lines, **kw))
    assert len(parts) > 2
    streamed = read_query_logs(paths, batch_lines=batch_lines, **kw)
    assert streamed.records.equals(whole.records)
    key = ["source", "line_no"]
    assert streamed.rejects.sort(key).equals(whole.rejects.sort(key))
    assert streamed.counts.equals(whole.counts)
    lines = {p.name: p.read_bytes().count(b"\n") for p in paths}
    for row in streamed.counts.iter_rows(named=True):
        assert row["records"] + row["rejected"] == lines[row["source"]]


def test_untimed_head_statements_are_kept_with_their_bound(write):
    """5.6 prints a time only when it changes: statements before the first time of a file are
    records with no time and the bound they lie in, not rejects."""
    loaded = load(write, "\t\t   12 Query\tSELECT 1\n\t\t   12 Query\tSELECT 2\n170331 23:31:02\t   12 Query\tSELECT 3\n")
    assert loaded.rejects.is_empty()
    r = loaded.records
    assert r["ts"].to_list()[:2] == [None, None]
    assert r["ts_before"].to_list() == [dt.datetime(2017, 3, 31, 14, 31, 2, tzinfo=UTC)] * 2 + [None]
    assert r["ts"][2] == dt.datetime(2017, 3, 31, 14, 31, 2, tzinfo=UTC)


@pytest.mark.parametrize("batch_lines", [1, 2, 5, 10**9])
def test_time_carries_only_within_one_rotated_series(tmp_path, batch_lines):
    """Two unrelated logs read together: the last time of one is never given to the head of the
    other (it once dated statements years early); within a rotated series it carries."""
    old = tmp_path / "old_server"
    new = tmp_path / "new_server"
    old.mkdir()
    new.mkdir()
    (old / "general.log").write_text("150101 10:00:00\t    1 Query\tSELECT 'old'\n")
    (new / "general.log.1").write_text("170331 23:00:00\t    2 Query\tSELECT 'rotated'\n")
    (new / "general.log").write_text("\t\t    3 Query\tSELECT 'carried'\n170401  0:00:00\t    3 Query\tSELECT 'x'\n")
    (new / "query.log").write_text("\t\t    4 Query\tSELECT 'head'\n170402  1:00:00\t    4 Query\tSELECT 'y'\n")
    paths = [old / "general.log", new / "general.log", new / "general.log.1", new / "query.log"]
    r = read_query_logs(paths, case_root=tmp_path, timezone="Asia/Tokyo", batch_lines=batch_lines,
                        show_progress=False).records
    by = {a: (t, b) for a, t, b in r.select("argument", "ts", "ts_before").iter_rows()}
    assert by["SELECT 'carried'"] == (dt.datetime(2017, 3, 31, 14, 0, tzinfo=UTC), None)
    assert by["SELECT 'head'"] == (None, dt.datetime(2017, 4, 1, 16, 0, tzinfo=UTC))


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_PIECES = ["2017-03-31T14:31:02.123456Z ", "2017-03-31T14:31:02+09:00\t", "170331 23:31:02\t", "170401  9:05:01\t",
           "\t\t", "\t\t   ", "12", " ", "Query", "Init DB", "Connect", "\t", "SELECT 1", "x\ty", "\u3000", "\n",
           "Quit", "q", "7 ", "é", "\r", ""]


_SHAPES = ["\t\t12 Quit", "\t\t12 Quit\t", "\t\t12 Query\tSELECT 1", "170331 23:31:02\t  7 Init DB\tshop",
           "2017-03-31T14:31:02.123456Z 12 Query\tSELECT\n1", "\t\t12 Query x", "\t\t\u300012 Connect\tu@h on db",
           "SELECT 1", ""]


def _same_groups(line: str) -> None:
    frame = pl.DataFrame({"line": [line]})
    whole = frame.select(pl.col("line").str.extract_groups(query_log.ENTRY)).unnest("line")
    head = frame.select(query_log._entry(pl.col("line")).alias("m")).unnest("m")
    assert head.equals(whole.select(head.columns)), repr(line)


@pytest.mark.parametrize("line", _SHAPES)
def test_entry_read_by_its_head_equals_the_whole_line_regex(line):
    """The argument is taken as the rest of the line after the head: the same groups as ENTRY."""
    _same_groups(line)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=9).map("".join))
def test_entry_read_by_its_head_equals_the_whole_line_regex_on_random_lines(line):
    _same_groups(line)


@pytest.mark.parametrize("text, opens", [
    ("170331 23:31:02\t   12 Query\tSELECT 1\n", True),
    ("\t\t   12 Query\tSELECT 1\n170331 23:31:03\t   12 Query\tSELECT 2\n", False),
    ("/usr/sbin/mysqld, Version: 5.6.35-log (MySQL Community Server (GPL)). started with:\n"
     "Tcp port: 3306  Unix socket: /var/lib/mysql/mysql.sock\nTime                 Id Command    Argument\n"
     "170331 23:31:02\t   12 Connect\tshop@localhost on shop\n", True),
    ("garbage before any statement\n170331 23:31:02\t   12 Query\tSELECT 1\n", True),
    ("2017-03-31T14:31:02.000123Z\t   12 Query\tSELECT 1\n", True),
    ("not a query log at all\n", False),
    ("", False),
])
def test_a_file_opens_with_its_time_when_its_first_statement_prints_one(tmp_path, text, opens):
    import gzip

    (tmp_path / "general.log").write_text(text, encoding="utf-8")
    (tmp_path / "general.log.gz").write_bytes(gzip.compress(text.encode()))
    assert query_log.opens_with_its_time(tmp_path / "general.log") is opens
    assert query_log.opens_with_its_time(tmp_path / "general.log.gz") is opens
    assert query_log.opens_with_its_time(tmp_path / "missing.log") is False


def test_a_series_is_cut_into_units_at_the_files_that_open_with_their_time(tmp_path):
    """Files that open with a time are parsed on their own (side by side); a file that opens in
    the same second as the one before stays with it, and the table is the one read whole."""
    from forensics.case import open_case
    from forensics.loaders.registry import EVIDENCE

    db = tmp_path / "case" / "db"
    db.mkdir(parents=True)
    (db / "general.log.3").write_text("170331 23:31:02\t   12 Query\tSELECT 1\n")
    (db / "general.log.2").write_text("170331 23:40:00\t   13 Query\tSELECT 2\n\t\t   13 Query\tSELECT 3\n")
    (db / "general.log.1").write_text("\t\t   13 Query\tSELECT 4\n170401  0:00:01\t   13 Query\tSELECT 5\n")
    (db / "general.log").write_text("170401  1:00:00\t   14 Query\tSELECT 6\n")
    (tmp_path / "case" / "case.yml").write_text(
        "id: t\ntimezone: Asia/Tokyo\nevidence:\n  query_logs: [db/general.log*]\n", encoding="utf-8")
    case = open_case(tmp_path / "case" / "case.yml", table_cache=tmp_path / "cache")
    units = EVIDENCE["query_logs"].units(case._source("query_logs"))
    assert [[p.name for p in u] for u in units] == [["general.log.3"], ["general.log.2", "general.log.1"], ["general.log"]]
    table = case.query_log().collect()
    assert table.equals(open_case(tmp_path / "case" / "case.yml", table_cache=None).query_log().collect())
    ts = dict(zip(table["argument"], table["ts"].dt.strftime("%H:%M:%S").to_list()))
    assert ts["SELECT 4"] == "14:40:00"  # carried from general.log.2 into general.log.1
