"""Evidence I/O: line splitting, bounded gzip, read-only opening, mapped reading, escaping."""

from __future__ import annotations

import gzip
import os

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


def _lines_of(reader, path, **kw):
    """(line_no, text, invalid_utf8) of every line a reader hands out, and its tail rejects."""
    from forensics.evidence import RawLines

    lines, tails = [], []
    for piece, tail in reader(path, **kw):
        frame = piece.lines() if isinstance(piece, RawLines) else piece
        lines += frame.select("line_no", "line", "invalid_utf8").rows()
        tails += tail.rows()
    return lines, tails


_PIECES = [b"a", b"GET / HTTP/1.1", b"\n", b"\r\n", b"\n\n", b"\xff", "東".encode(), b"x" * 700, b"y" * 3000]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(st.sampled_from(_PIECES), max_size=40), chunk=st.sampled_from([64, 1000, 4096, 1 << 20]))
def test_a_plain_file_read_mapped_gives_the_lines_the_line_reader_gives(tmp_path, parts, chunk):
    from forensics.evidence import iter_lines, iter_raw_lines

    path = tmp_path / "plain.log"
    path.write_bytes(b"".join(parts))
    kw = dict(chunk_bytes=chunk, max_line_bytes=2048)
    assert _lines_of(iter_raw_lines, path, **kw) == _lines_of(iter_lines, path, **kw)


def test_a_plain_file_is_read_in_mapped_windows_and_holds_no_open_file(tmp_path):
    import pyarrow as pa

    from forensics import filemap
    from forensics.evidence import RawLines, iter_raw_lines

    if not filemap.available() or not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs a C library mmap and /proc")
    path = tmp_path / "big.log"
    path.write_bytes(b"".join(b"line %d\n" % i for i in range(20_000)))
    before = len(os.listdir("/proc/self/fd"))
    pieces = [p for p, _tail in iter_raw_lines(path, chunk_bytes=16_384)]
    assert len(pieces) > 5 and all(isinstance(p, RawLines) and isinstance(p.data, pa.Buffer) for p in pieces)
    assert sum(p.n for p in pieces) == 20_000 and pieces[-1].lines()["line"][-1] == "line 19999"
    assert len(os.listdir("/proc/self/fd")) == before  # the windows outlive the descriptor


def test_a_piece_cut_after_any_line_keeps_every_line_on_one_side():
    import random

    from forensics.evidence import RawLines

    rnd = random.Random(3)
    lines = [b"x" * rnd.choice([0, 1, 50, 3000, 200_000]) for _ in range(60)]
    data = b"pre\n" + b"".join(ln + b"\n" for ln in lines) + b"post"
    piece = RawLines(data, 4, len(data) - 4, len(lines), 2)
    for k in (1, 2, 17, 30, 59):
        head, rest = piece.cut(k)
        assert (head.n, rest.n, head.line_no, rest.line_no) == (k, len(lines) - k, 2, 2 + k)
        assert head.bytes() == b"".join(ln + b"\n" for ln in lines[:k])
        assert rest.bytes() == b"".join(ln + b"\n" for ln in lines[k:])
