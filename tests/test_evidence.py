"""Evidence I/O: line splitting, bounded gzip, read-only opening, escaping."""

from __future__ import annotations

import gzip
import os

import polars as pl
import pytest

from forensics.evidence import escape_excerpt, escape_py, open_readonly, read_evidence, read_lines, split_lines


@pytest.mark.parametrize(
    "data, lines",
    [
        pytest.param(b"", [], id="empty"),
        pytest.param(b"\n", [""], id="one-empty-line"),
        pytest.param(b"a\nb", ["a", "b"], id="no-final-newline"),
        pytest.param(b"a\r\nb\r\n", ["a", "b"], id="crlf"),
        pytest.param(b"a\n\nb\n", ["a", "", "b"], id="blank-line"),
        pytest.param(b"x\x00y\n", ["x\x00y"], id="nul"),
        pytest.param("東\n".encode(), ["東"], id="utf8"),
        pytest.param(b"a\x1fb\n", ["a\x1fb"], id="unit-separator"),
        pytest.param(b"\xef\xbb\xbfa\n", ["\ufeffa"], id="bom-kept"),
        pytest.param(b'"a,b" "c\n\n#d\n', ['"a,b" "c', "", "#d"], id="quotes-commas-hash"),
    ],
)
def test_split_lines(data, lines):
    df = split_lines(data)
    assert df["line"].to_list() == lines
    assert df["line_no"].to_list() == list(range(1, len(lines) + 1))
    assert not df["invalid_utf8"].any()


def test_split_invalid_utf8_aligned():
    df = split_lines(b"ok\n\xff\\x\n\xe6\x9d\xb1\r\n\xe6\x9d\n")
    assert df["invalid_utf8"].to_list() == [False, True, False, True]
    assert df["line"].to_list() == ["ok", "\\xff\\\\x", "東", "\\xe6\\x9d"]


def test_gzip_truncated_and_corrupt(tmp_path):
    data = b"".join(b"line %d\n" % i for i in range(5000))
    gz = gzip.compress(data)
    p = tmp_path / "t.gz"
    p.write_bytes(gz[:-100])
    raw = read_evidence(p)
    assert raw.compressed and raw.tail_problem and "truncated" in raw.tail_problem
    assert data.startswith(raw.data)
    p.write_bytes(gz[:200] + b"\x00" * 50 + gz[250:])
    raw = read_evidence(p)
    assert raw.tail_problem is not None


def test_read_lines_tail_rejects(tmp_path):
    gz = gzip.compress(b"".join(b"line %d\n" % i for i in range(5000)))
    p = tmp_path / "t.gz"
    p.write_bytes(gz[: len(gz) // 2])
    lines, tail = read_lines(p)
    assert tail["line_no"].to_list()[-1] == lines.height + len(tail)
    assert lines["line"].to_list() == [f"line {i}" for i in range(lines.height)]


def test_bound(tmp_path):
    p = tmp_path / "bomb.gz"
    p.write_bytes(gzip.compress(b"\0" * 10_000_000))
    raw = read_evidence(p, max_decompressed=1000)
    assert len(raw.data) == 1000 and "limit" in raw.tail_problem


def test_open_readonly(tmp_path):
    p = tmp_path / "f"
    p.write_bytes(b"x")
    with open_readonly(p) as f:
        with pytest.raises(OSError):
            f.write(b"y")
    os.symlink(p, tmp_path / "link")
    with pytest.raises(OSError):
        open_readonly(tmp_path / "link")


def test_escaping():
    s = pl.Series(["a\x00\x1b[31m\u202e\\b" + "x" * 300])
    out = pl.select(escape_excerpt(pl.lit(s), 12)).item()
    assert out == "a\\x00\\x1b[31m\\u202e\\\\bxx…"
    assert escape_py("a\nb\x7f") == "a\\nb\\x7f"
