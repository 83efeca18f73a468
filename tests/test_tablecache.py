"""Table cache: line logs parsed once into Parquet give the same tables, counts and findings."""

from __future__ import annotations

import datetime as dt
import gc
import json
import os
from pathlib import Path

import polars as pl
import pytest

from forensics import tablecache
from forensics.case import CaseError, open_case

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_data" / "toshomart-2017" / "case.yml"

pytestmark = pytest.mark.skipif(not SAMPLE.is_file(), reason="sample case not generated")


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """The sample case read into memory, and read through a table cache."""
    cache = tmp_path_factory.mktemp("tables")
    return open_case(SAMPLE, table_cache=None), open_case(SAMPLE, table_cache=cache), cache


def test_cached_tables_equal_the_tables_read_into_memory(both):
    mem, cached, cache = both
    assert mem.table_cache is None and cached.table_cache == cache
    for name in ("access_log", "query_log"):
        lazy = getattr(cached, name)()
        assert lazy.collect_schema() == getattr(mem, name)().collect_schema()
        assert lazy.collect().equals(getattr(mem, name)().collect()), name
    assert list((cache / "access_logs" / "records").glob("source_id=*/day=*/part.parquet"))
    assert (cache / "query_logs" / "key.json").is_file()
    assert cached.record_counts().equals(mem.record_counts())
    assert cached.count_records().equals(mem.record_counts())
    key = ["source", "line_no"]
    assert cached.rejects().collect().sort(key).equals(mem.rejects().collect().sort(key))
    assert cached.rejects("access_logs").collect().height > 0  # planted malformed lines come through the cache


def test_a_scan_reads_only_the_columns_asked_for(both):
    _, cached, _ = both
    plan = cached.access_log().select("ts", "client_ip").explain()
    assert "PROJECT 2/" in plan, plan  # two columns read from the Parquet file


def test_findings_are_the_same_with_the_cache(both):
    from forensics.findings import findings_dict, investigate

    mem, cached, _ = both
    key = b"same key for both runs"
    a, b = findings_dict(investigate(mem, key=key)), findings_dict(investigate(cached, key=key))
    assert json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)
    assert b["counts"]["viewed_persons"] is not None


def test_cache_is_reused_and_rebuilt_when_the_evidence_changes(tmp_path):
    log = tmp_path / "case" / "logs" / "access_log"
    log.parent.mkdir(parents=True)
    line = '203.0.113.9 - - [31/Mar/2017:23:28:01 +0900] "GET /a HTTP/1.1" 200 5 "-" "x"\n'
    log.write_text(line)
    (tmp_path / "case" / "case.yml").write_text(
        "id: t\ntimezone: Asia/Tokyo\nevidence:\n  access_logs: [logs/access_log]\n", encoding="utf-8")
    case = open_case(tmp_path / "case" / "case.yml", table_cache=tmp_path / "cache")
    assert case.access_log().collect().height == 1
    records = tmp_path / "cache" / "access_logs" / "key.json"  # written last, at each build
    first = records.stat().st_mtime_ns
    again = open_case(tmp_path / "case" / "case.yml", table_cache=tmp_path / "cache")
    assert again.access_log().collect().height == 1 and records.stat().st_mtime_ns == first  # reused
    log.write_text(line * 3)
    os.utime(log, ns=(first + 10**9, first + 10**9))
    changed = open_case(tmp_path / "case" / "case.yml", table_cache=tmp_path / "cache")
    assert changed.access_log().collect().height == 3  # stale key: parsed again
    assert changed.record_counts().filter(pl.col("evidence") == "access_logs")["records"].to_list() == [3]
    st = log.stat()
    log.write_text(line.replace("/a ", "/b ") * 3)  # rewritten in place: same size, the old mtime put back
    os.utime(log, ns=(st.st_atime_ns, st.st_mtime_ns))
    rewritten = open_case(tmp_path / "case" / "case.yml", table_cache=tmp_path / "cache")
    assert set(rewritten.access_log().collect()["path"]) == {"/b"}


def test_cache_inside_the_case_folder_is_refused():
    with pytest.raises(CaseError, match="inside the case folder"):
        open_case(SAMPLE, table_cache=SAMPLE.parent / "tables")


def test_auto_uses_the_shared_folder_of_a_run(tmp_path, monkeypatch):
    monkeypatch.setenv(tablecache.ENV_VAR, str(tmp_path / "shared"))
    case = open_case(SAMPLE)
    assert case.table_cache == tmp_path / "shared"


def test_auto_spills_large_logs_to_a_private_folder_removed_with_the_case(monkeypatch):
    monkeypatch.delenv(tablecache.ENV_VAR, raising=False)
    monkeypatch.setattr(tablecache, "SPILL_BYTES", 0)
    case = open_case(SAMPLE)
    folder = case.table_cache
    assert folder is not None and folder.is_dir() and not folder.is_relative_to(SAMPLE.parent)
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    monkeypatch.setattr(tablecache, "SPILL_BYTES", 10**15)
    assert open_case(SAMPLE).table_cache is None  # a small case stays in memory
    del case
    gc.collect()
    assert not folder.exists()


def test_cached_tables_are_readable_by_the_owner_only(tmp_path):
    cache = tablecache.TableCache(tmp_path / "cache")
    log = tmp_path / "a.log"
    log.write_text("x\n")
    cache.log("t", [log], pl.Schema({"x": pl.String}), lambda seen: iter(()))
    files = [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert files and all(p.stat().st_mode & 0o077 == 0 for p in files)
    assert (tmp_path / "cache").stat().st_mode & 0o077 == 0


def test_records_are_partitioned_by_source_file_and_day(both):
    import re

    _, cached, _ = both
    log = cached._cached("access_logs")
    parts = log.part_files()
    assert len(parts) > len(log.sources()) > 1  # several files, most over several days
    names = [str(p.relative_to(log.records_dir)) for p in parts]
    assert all(re.fullmatch(r"source_id=\d{6}/day=\d{4}-\d\d-\d\d/part\.parquet", n) for n in names), names[:3]
    table = log.scan_partitioned().collect()
    assert table.drop("source_id", "day").equals(log.scan().collect())
    per_part = table.group_by("source_id", "day", maintain_order=True).agg(
        sources=pl.col("source").unique(), last=pl.col("ts").max().dt.date())
    assert per_part["sources"].list.len().max() == 1
    assert per_part.select(pl.col("sources").list.first()).to_series().to_list() == \
        [log.sources()[i] for i in per_part["source_id"]]
    assert (per_part["last"] == per_part["day"]).all()  # each part's day: the day its latest time falls on
    assert all(p.stat().st_mode & 0o077 == 0 for p in log.records_dir.rglob("*"))


def test_a_filter_on_the_partitions_skips_the_other_files(tmp_path):
    logs = tmp_path / "case" / "logs"
    logs.mkdir(parents=True)
    (logs / "access_log.1").write_text(LINE.replace("31/Mar", "30/Mar") + LINE)
    (logs / "access_log").write_text(LINE.replace("23:28", "23:29"))
    (tmp_path / "case" / "case.yml").write_text(
        "id: t\ntimezone: Asia/Tokyo\nevidence:\n  access_logs: [logs/access_log*]\n", encoding="utf-8")
    case = open_case(tmp_path / "case" / "case.yml", table_cache=tmp_path / "cache")
    log = case._cached("access_logs")
    assert log.sources() == {0: "logs/access_log.1", 1: "logs/access_log"}
    names = [str(p.relative_to(log.records_dir)) for p in log.part_files()]
    assert names == ["source_id=000000/day=2017-03-30/part.parquet", "source_id=000000/day=2017-03-31/part.parquet",
                     "source_id=000001/day=2017-03-31/part.parquet"]
    for p in log.part_files()[1:2]:  # (the first file gives the schema)
        p.write_bytes(b"not parquet")  # a filter that skips these files never opens them
    last = log.scan_partitioned().filter(pl.col("source_id") == 1).collect()
    assert last["source"].to_list() == ["logs/access_log"]
    first = log.scan_partitioned().filter(pl.col("day") == pl.date(2017, 3, 30)).collect()
    assert first["source"].to_list() == ["logs/access_log.1"] and first["day"].to_list() == [dt.date(2017, 3, 30)]
    with pytest.raises(Exception):
        log.scan_partitioned().filter(pl.col("day") == pl.date(2017, 3, 31)).collect()  # one of them holds that day


LINE = '203.0.113.9 - - [31/Mar/2017:23:28:01 +0900] "GET /a HTTP/1.1" 200 5 "-" "x"\n'


def test_a_rotated_mysql_56_series_keeps_its_time_from_one_file_to_the_next(tmp_path):
    db = tmp_path / "case" / "db"
    db.mkdir(parents=True)
    (db / "general.log.1").write_text("170331 23:31:02\t   12 Query\tSELECT 1\n")
    (db / "general.log").write_text("\t\t   12 Query\tSELECT 2\n170401  0:00:01\t   12 Query\tSELECT 3\n")
    (db / "query.log").write_text("\t\t   13 Query\tSELECT 4\n")  # another series: no time to carry
    (tmp_path / "case" / "case.yml").write_text(
        "id: t\ntimezone: Asia/Tokyo\nevidence:\n  query_logs: [db/general.log*, db/query.log]\n", encoding="utf-8")
    cached = open_case(tmp_path / "case" / "case.yml", table_cache=tmp_path / "cache")
    table = cached.query_log().collect()
    assert table.equals(open_case(tmp_path / "case" / "case.yml", table_cache=None).query_log().collect())
    ts = dict(zip(table["argument"], table["ts"].dt.strftime("%Y-%m-%d %H:%M:%S").to_list()))
    assert ts == {"SELECT 1": "2017-03-31 14:31:02", "SELECT 2": "2017-03-31 14:31:02",
                  "SELECT 3": "2017-03-31 15:00:01", "SELECT 4": None}
    names = [str(p.relative_to(tmp_path / "cache" / "query_logs" / "records"))
             for p in cached._cached("query_logs").part_files()]
    assert names[-1] == "source_id=000002/day=__HIVE_DEFAULT_PARTITION__/part.parquet"  # a file without any time
