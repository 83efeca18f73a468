"""Size limits on attacker-written evidence: a line or a statement over the limit is one reject
with its size, and memory stays bounded whatever one line holds."""

from __future__ import annotations

import gzip
import subprocess
import sys
import textwrap

import polars as pl
import pytest

from forensics import evidence
from forensics.evidence import iter_lines, iter_raw_lines, RawLines
from forensics.loaders import query_log, read_query_logs


def _walk(reader, path, **kw):
    """(line numbers and lengths handed out, tail rejects) of one reader over one file."""
    got, rejects = [], []
    for piece, tail in reader(path, **kw):
        lines = piece.lines() if isinstance(piece, RawLines) else piece
        got += lines.select("line_no", pl.col("line").str.len_bytes()).rows()
        rejects += tail.rows()
    return got, rejects


@pytest.mark.parametrize("reader", [iter_lines, iter_raw_lines])
@pytest.mark.parametrize("compress", [False, True])
def test_a_line_over_the_limit_is_one_reject_and_numbering_goes_on(tmp_path, reader, compress):
    limit = 4096
    body = (b"short\n" + b"x" * limit + b"\n"  # exactly at the limit: kept
            + b"y" * (limit + 1) + b"\n"  # one byte over: rejected
            + b"z" * (10 * limit) + b"\nafter\n"  # over, spanning blocks
            + b"w" * (3 * limit))  # over, last line without newline
    path = tmp_path / "a.log"
    path.write_bytes(gzip.compress(body) if compress else body)
    got, rejects = _walk(reader, path, chunk_bytes=1024, max_line_bytes=limit)
    assert got == [(1, 5), (2, limit), (5, 5)]
    assert [(no, reason.split(" exceeds")[0]) for no, reason, _ in rejects] == [
        (3, f"line of {limit + 1:,} bytes"),
        (4, f"line of {10 * limit:,} bytes"),
        (6, f"line of {3 * limit:,} bytes (the last, without newline)"),
    ]
    assert all(excerpt.startswith(c * 20) for (_, _, excerpt), c in zip(rejects, "yzw"))


def test_the_limit_is_never_below_one_block(tmp_path):
    path = tmp_path / "a.log"
    path.write_bytes(b"a" * 3000 + b"\n")
    got, rejects = _walk(iter_lines, path, chunk_bytes=4096, max_line_bytes=10)
    assert got == [(1, 3000)] and rejects == []


def _statements(n_lines: int, width: int) -> str:
    big = "\n".join(["INSERT INTO dtb_x VALUES ('" + "a" * width] * n_lines) + "')"
    return (
        "170331 23:31:01\t   12 Query\tSELECT 1\n"
        f"170331 23:31:02\t   12 Query\t{big}\n"
        "\t\t   12 Query\tSELECT 2\n"
        "170331 23:31:05\t   12 Query\tSELECT 3\n"
    )


@pytest.mark.parametrize("batch_lines", [4, 1000])  # held back across batches, or whole in one batch
def test_a_statement_over_the_limit_is_rejected_and_the_time_it_printed_still_carries(
        tmp_path, monkeypatch, batch_lines):
    monkeypatch.setattr(query_log, "MAX_STATEMENT_BYTES", 1000)
    monkeypatch.setattr(query_log, "BATCH_BYTES", 400)
    path = tmp_path / "general.log"
    path.write_text(_statements(n_lines=30, width=100))
    loaded = read_query_logs([path], case_root=tmp_path, timezone="Asia/Tokyo", batch_lines=batch_lines)
    rec = loaded.records.sort("line_no")
    assert rec["argument"].to_list() == ["SELECT 1", "SELECT 2", "SELECT 3"]
    # SELECT 2 ran in the second the rejected statement printed (5.6 prints a time when it changes)
    assert rec["ts"].dt.convert_time_zone("Asia/Tokyo").dt.second().to_list() == [1, 2, 5]
    rej = loaded.rejects.sort("line_no")
    assert rej["line_no"].to_list() == list(range(2, 32))
    assert "exceeds the limit of 1,000 bytes" in rej["reason"][0]
    assert set(rej["reason"][1:]) == {"continuation of a rejected statement"}
    c = loaded.counts.row(0, named=True)
    assert c["records"] + c["rejected"] == 33


def test_a_statement_under_the_limit_is_kept_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(query_log, "MAX_STATEMENT_BYTES", 10_000)
    path = tmp_path / "general.log"
    path.write_text(_statements(n_lines=30, width=100))
    loaded = read_query_logs([path], case_root=tmp_path, timezone="Asia/Tokyo", batch_lines=4)
    assert loaded.rejects.height == 0
    assert loaded.records.filter(pl.col("line_count") == 30).height == 1


_PEAK = textwrap.dedent("""
    import resource, sys
    from pathlib import Path
    from forensics.loaders import read_access_logs
    p = Path(sys.argv[1])
    loaded = read_access_logs([p], case_root=p.parent)
    print(loaded.counts.row(0)[1], loaded.counts.row(0)[2], resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
""")


@pytest.mark.parametrize("size", [evidence.MAX_LINE_BYTES - 200, 4 * evidence.MAX_LINE_BYTES])
def test_one_huge_access_line_keeps_memory_under_two_gigabytes(tmp_path, size):
    ok = b'203.0.113.9 - - [31/Mar/2017:23:31:02 +0900] "GET / HTTP/1.1" 200 5 "-" "ua"\n'
    path = tmp_path / "access_log"
    with path.open("wb") as f:
        f.write(ok + b'203.0.113.9 - - [31/Mar/2017:23:31:02 +0900] "GET /?q=')
        for _ in range(size // (1 << 20)):
            f.write(b"A" * (1 << 20))
        f.write(b' HTTP/1.1" 200 5 "-" "ua"\n' + ok)
    out = subprocess.run([sys.executable, "-c", _PEAK, str(path)], capture_output=True, text=True, check=True)
    records, rejected, peak_kib = map(int, out.stdout.split())
    assert (records, rejected) == ((3, 0) if size < evidence.MAX_LINE_BYTES else (2, 1))
    assert peak_kib < 2 * 1024 * 1024


@pytest.mark.parametrize("sql", [
    "INSERT INTO dtb_customer (customer_id, name01) VALUES " + ",".join(f"({i}, 'n{i}')" for i in range(400)),
    "/* bulk */ UPDATE `dtb_customer` SET name01 = '" + "x" * 9000 + "' WHERE customer_id = 1",
])
def test_a_change_too_long_to_parse_is_a_reported_problem_never_a_silent_skip(monkeypatch, sql):
    from forensics.exposure import sql as sqlmod

    monkeypatch.setattr(sqlmod, "MAX_PARSED_CHARS", 5000)
    change = sqlmod.parse_change(sql, {"dtb_customer": "customer_id"})
    assert change is not None and change.table == "dtb_customer" and change.pks == []
    assert "exceeds the parsing limit of 5,000" in change.error
    monkeypatch.setattr(sqlmod, "MAX_PARSED_CHARS", 10**9)
    assert not sqlmod.parse_change(sql, {"dtb_customer": "customer_id"}).error
