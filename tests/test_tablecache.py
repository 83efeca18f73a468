"""Table cache: line logs parsed once into Parquet give the same tables, counts and findings."""

from __future__ import annotations

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
