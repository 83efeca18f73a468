"""The access-log loader's fast routes give exactly what the exact (regex) route gives.

Lines are parsed three ways: the native scan (``access_scan.scan_combined``) with the regex for the
lines it does not vouch for; the line route (split exactly, then the regex) for blocks holding
invalid UTF-8; and the reference here, :data:`COMBINED` alone on every line. All three must agree
on records and rejects, on well-formed lines and on randomly mutated ones (quotes, spaces,
backslashes, multi-byte characters, invalid UTF-8, ``\\r``, cut lines), wherever the block starts
and ends in its buffer.
"""

from __future__ import annotations

import random

import polars as pl
import pytest

from forensics.evidence import RawLines, split_lines
from forensics.loaders import access_log as al
from forensics.loaders import access_scan
from forensics.loaders._common import RawPart
from forensics.loaders.logformat import COMBINED

IPS = ["203.0.113.9", "2001:db8::7", "::ffff:192.0.2.1", "host.example.jp", "-", "198.51.100.250"]
TIMES = ["31/Mar/2017:23:28:01 +0900", "01/Jan/2017:00:00:00 -0700", "29/Feb/2016:12:00:00 +0530",
         "31/Feb/2017:23:28:01 +0900", "10/Oct/2000:13:55:36 -0000", "12/Mar/2017:02:30:00 +9999"]
REQS = ["GET / HTTP/1.1", "GET /products/list.php?name=%E6%9D%B1%E5%95%86&x=1 HTTP/1.1",
        "POST /admin/index.php HTTP/1.1", "GET /p.php?id=1%27%20UNION%20SELECT%20NULL-- HTTP/1.1", "-",
        "GET /a b.php HTTP/1.1", "GET /", "", "GET /p.php?q=a+b%2Bc&&k HTTP/1.0"]
REFS = ["-", "https://toshomart.com/products/list.php?category_id=4", "", "http://x/?q=東"]
UAS = ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36", "sqlmap/1.1#stable (http://sqlmap.org)",
       "-", "", "東商マート bot"]
EXTRAS = ["", " 1234 toshomart.com", " -", " \"x\"", "  "]


def good_line(rnd: random.Random) -> str:
    return (f'{rnd.choice(IPS)} - {rnd.choice(["-", "admin"])} [{rnd.choice(TIMES)}] "{rnd.choice(REQS)}" '
            f'{rnd.choice(["200", "302", "404", "408"])} {rnd.choice(["-", "0", "19056", "99999999999999999999"])} '
            f'"{rnd.choice(REFS)}" "{rnd.choice(UAS)}"{rnd.choice(EXTRAS) if rnd.random() < 0.2 else ""}')


def mutate(rnd: random.Random, line: bytes, keep_quotes: bool) -> bytes:
    for _ in range(rnd.randint(1, 3)):
        at = rnd.randint(0, len(line))
        op = rnd.choice(["space", "bs", "mb", "del", "digit", "bracket", "letter", "dash"]
                        + ([] if keep_quotes else ["quote", "cut", "cr", "invalid", "quote"]))
        if op == "del" and line:
            if line[at - 1 : at] == b'"' and keep_quotes:
                continue
            line = line[: at - 1] + line[at:] if at else line[1:]
        elif op == "cut":
            line = line[:at]
        else:
            ins = {"space": b" ", "bs": b"\\", "mb": "東".encode(), "digit": b"7", "bracket": b"]", "letter": b"x",
                   "dash": b"-", "quote": b'"', "cr": b"\r", "invalid": b"\xff"}[op]
            line = line[:at] + ins + line[at:]
    return line.replace(b"\n", b"")


def valid_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def reference(data: bytes, source: str = "s") -> tuple[pl.DataFrame, pl.DataFrame]:
    """COMBINED on every line (the exact route), then the same typing and request columns."""
    lines = split_lines(data).with_columns(source=pl.lit(source))
    df = al._line_fields(lines, COMBINED)
    return al._records(df)


def fast(data: bytes, line_no: int = 1, source: str = "s") -> tuple[pl.DataFrame, pl.DataFrame]:
    n = data.count(b"\n")
    return al.parse_access_parts([RawPart(source, RawLines(data, 0, len(data), n, line_no))])


def assert_same(data: bytes):
    rec, rej = fast(data)
    ref_rec, ref_rej = reference(data)
    assert rec.equals(ref_rec), pl.concat([rec, ref_rec]).unique(keep="none").head(4).to_dicts()
    assert rej.equals(ref_rej), (rej.to_dicts()[:3], ref_rej.to_dicts()[:3])
    assert rec.height + rej.height == data.count(b"\n")


def block(lines: list[bytes]) -> bytes:
    return b"".join(line + b"\n" for line in lines)


def vouched(data: bytes) -> pl.Series | None:
    """The lines the native scan vouches for (None: it refused the block)."""
    scanned = access_scan.scan_format(access_scan.COMBINED_PROGRAM, [(data, 0, len(data), data.count(b"\n"))])
    return None if scanned is None else scanned[1]


def test_well_formed_block_is_vouched_and_equal():
    rnd = random.Random(1)
    lines = [good_line(rnd).encode() for _ in range(3000)]
    lines = [ln for ln in lines if ln.count(b'"') == 6]
    data = block(lines)
    # left to the regex: an impossible date
    expected = [b"31/Feb/" not in ln for ln in lines]
    assert vouched(data).to_list() == expected
    assert_same(data)


@pytest.mark.parametrize("seed", range(6))
def test_scanned_block_with_mutated_lines(seed):
    """Six quotes kept: the block is scanned, the refused lines go through the regex."""
    rnd = random.Random(seed)
    lines = []
    for _ in range(2500):
        line = good_line(rnd).encode()
        if line.count(b'"') != 6:
            continue
        lines.append(mutate(rnd, line, keep_quotes=True) if rnd.random() < 0.3 else line)
    lines = [ln for ln in lines if ln.count(b'"') == 6 and b"\r" not in ln and valid_utf8(ln)]
    data = block(lines)
    fast = vouched(data)
    assert 0 < fast.sum() < len(lines)
    assert_same(data)


@pytest.mark.parametrize("seed", range(6))
def test_any_mutation(seed):
    """Any mutation: quotes added or lost, cut lines, \\r, invalid UTF-8 (the block then takes the
    line route)."""
    rnd = random.Random(100 + seed)
    lines = [mutate(rnd, good_line(rnd).encode(), keep_quotes=False) if rnd.random() < 0.3 else good_line(rnd).encode()
             for _ in range(2500)]
    data = block(lines)
    assert (vouched(data) is None) == (not valid_utf8(data))
    assert_same(data)
    clean = block([ln for ln in lines if valid_utf8(ln)])
    assert vouched(clean) is not None
    assert_same(clean)


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param([b'a "r" 2 "f" "u" x"', b'd "r" 2 "f'], id="seven-and-five-quotes"),
        pytest.param([b'a "r" 2 "f" "u"""', b'b "r" 2 "f" "u', b'c "r" "f'], id="eight-and-fewer"),
        pytest.param([b"", b"", b'x "r" 2 "f" "u" "" ""'], id="empty-lines"),
        pytest.param([b'\xef\xbb\xbfa "r" 2 "f" "u"'], id="bom"),
        pytest.param([b'a "r" 2 "f" "u"\r'], id="cr"),
        pytest.param([b'a "r\xff" 2 "f" "u"'], id="invalid-utf8"),
    ],
)
def test_odd_lines_among_good_ones(bad):
    rnd = random.Random(7)
    good = [good_line(rnd).encode() for _ in range(200)]
    good = [ln for ln in good if ln.count(b'"') == 6]
    for at in (0, len(good) // 2, len(good)):
        lines = good[:at] + bad + good[at:]
        assert_same(block(lines))


def test_hostile_vouched_lines():
    """Six quotes, but fields the split checks must refuse or type exactly like the regex."""
    t = "[31/Mar/2017:23:28:01 +0900]"
    lines = [
        f'203.0.113.9 - - {t} "GET / HTTP/1.1" 200 512 "-" "ua"',
        f'203.0.113.9  - - {t} "GET / HTTP/1.1" 200 512 "-" "ua"',  # two spaces
        f'203.0.113.9 - - -  {t} "GET / HTTP/1.1" 200 512 "-" "ua"',
        f'203.0.113.9 - {t} "GET / HTTP/1.1" 200 512 "-" "ua"',  # a field missing
        '203.0.113.9 - - [31/mar/2017:23:28:01 +0900] "GET / HTTP/1.1" 200 512 "-" "ua"',  # month case
        '203.0.113.9 - - [31/Mar/2017:23:28:01 +09000] "GET / HTTP/1.1" 200 512 "-" "ua"',
        '203.0.113.9 - - [31/Mar/2017:23:28:01 0900] "GET / HTTP/1.1" 200 512 "-" "ua"',
        '203.0.113.9 - - [31/Mar/2017:23:28:01 +0900]  "GET / HTTP/1.1" 200 512 "-" "ua"',
        '203.0.113.9 - - [31/Mar/2017:23:28:01 +0900]x "GET / HTTP/1.1" 200 512 "-" "ua"',
        '203.0.113.9 - - [31/Mar/2017:23:28:01 +0900 ] "GET / HTTP/1.1" 200 512 "-" "ua"',
        '203.0.113.9 - - [31/Mar/2017:24:28:01 +0900] "GET / HTTP/1.1" 200 512 "-" "ua"',
        '203.0.113.9 - - [31/Mar/2017:23:28:60 -0030] "GET / HTTP/1.1" 200 512 "-" "ua"',
        '203.0.113.9 - - [31/Mar/2017:23:28:01 -1259] "GET / HTTP/1.1" 200 512 "-" "ua"',
        f'203.0.113.9 - - {t} "GET / HTTP/1.1" 200  512 "-" "ua"',
        f'203.0.113.9 - - {t} "GET / HTTP/1.1" 200 512  "-" "ua"',
        f'203.0.113.9 - - {t} "GET / HTTP/1.1"200 512 "-" "ua"',
        f'203.0.113.9 - - {t} "GET / HTTP/1.1" 20 512 "-" "ua"',
        f'203.0.113.9 - - {t} "GET / HTTP/1.1" 200 5x2 "-" "ua"',
        f'203.0.113.9 - - {t} "GET / HTTP/1.1" 200 -- "-" "ua"',
        f'203.0.113.9 - - {t} "GET / HTTP/1.1" 200 512 "-"  "ua"',
        f'203.0.113.9 - - {t} "GET / HTTP/1.1" 200 512 "-""ua"',
        f'203.0.113.9 - - {t} "GET / HTTP/1.1" 200 512 "-" "ua" extra',
        f'203.0.113.9 - - {t} "GET / HTTP/1.1" 200 512 "-" "ua"x',
        f'203.0.113.9 - - {t} "GET /\\x16 HTTP/1.1" 400 512 "-" "ua"',
        f'203.0.113.9 - - {t} "GET / HTTP/1.1" 200 512 "\\\\" "ua\\\\"',
        f'h\\ - - {t} "GET / HTTP/1.1" 200 512 "-" "ua"',
        f'東 - - {t} "GET / HTTP/1.1" 200 512 "-" "ua"',
        f'203.0.113.9 - - {t} "GET /\x00 HTTP/1.1" 200 512 "\x1f" "\x7f"',
        f'203.0.113.9 - - [31/Mar/2017:23:28:01 +0900]東 "GET / HTTP/1.1" 200 512 "-" "ua"',
    ]
    data = block([ln.encode() for ln in lines])
    fast = vouched(data)
    assert fast[0] and not fast.all()
    assert_same(data)


def test_file_level_equal_to_reference(tmp_path):
    """Whole files through iter_parsed(raw=True): pieces cut into small batches, numbering kept."""
    rnd = random.Random(42)
    lines = [mutate(rnd, good_line(rnd).encode(), keep_quotes=rnd.random() < 0.7) if rnd.random() < 0.1
             else good_line(rnd).encode() for _ in range(5000)]
    data = block(lines)
    p = tmp_path / "access_log"
    p.write_bytes(data)
    got = al.read_access_logs([p], case_root=tmp_path, show_progress=False, batch_lines=777)
    rec, rej = reference(data, "access_log")
    assert got.records.equals(rec.drop("_lines"))
    assert got.rejects.equals(rej)
    c = got.counts.row(0, named=True)
    assert c["records"] + c["rejected"] == 5000


@pytest.mark.parametrize("offset", [1, 3, 7, 8])
def test_blocks_anywhere_in_their_buffer(offset):
    """A piece shares its decompressed buffer with others: it starts and ends anywhere in it."""
    rnd = random.Random(offset)
    lines = [mutate(rnd, good_line(rnd).encode(), keep_quotes=rnd.random() < 0.5) if rnd.random() < 0.3
             else good_line(rnd).encode() for _ in range(1500)]
    data = block([ln for ln in lines if valid_utf8(ln)])
    buf = b'q"\n' * offset + data + b"partial"
    rec, rej = al.parse_access_parts(
        [RawPart("s", RawLines(buf, 3 * offset, 3 * offset + len(data), data.count(b"\n"), 1))])
    ref_rec, ref_rej = reference(data)
    assert rec.equals(ref_rec) and rej.equals(ref_rej)


def test_dates_crlf_and_sizes_at_the_edges():
    times = ["29/Feb/2016:12:00:00 +0530", "29/Feb/1900:12:00:00 +0900", "29/Feb/2000:00:00:00 -0000",
             "31/Apr/2017:12:00:00 +0900", "00/Mar/2017:12:00:00 +0900", "31/Mar/2017:24:00:00 +0900",
             "31/Mar/2017:23:28:60 +0900", "31/Mar/0999:23:28:01 +0900", "01/Jan/0000:00:00:00 +0000",
             "31/Dec/9999:23:59:59 -9999", "31/MAR/2017:23:28:01 +0900"]
    sizes = ["-", "0", "007", "9" * 18, "9" * 19]
    lines = [f'203.0.113.9 - - [{t}] "GET / HTTP/1.1" 200 {s} "-" "ua"'.encode() + (b"\r" if k % 2 else b"")
             for k, (t, s) in enumerate((t, s) for t in times for s in sizes)]
    assert_same(block(lines))


def test_batch_of_parts_from_two_files_with_a_bad_block():
    """One batch: pieces of two files, one holding invalid UTF-8, and a line frame (a damaged end)
    between them: every line numbered and attributed to its file, in order."""
    rnd = random.Random(9)
    a = block([good_line(rnd).encode() for _ in range(300)])
    b = block([good_line(rnd).encode() for _ in range(200)] + [b'bad \xff "x"'] + [good_line(rnd).encode() for _ in range(50)])
    c = block([good_line(rnd).encode() for _ in range(100)])
    cut = a.index(b"\n", len(a) // 2) + 1
    na = a[:cut].count(b"\n")
    tail = split_lines(c).with_columns(source=pl.lit("f2"), line_no=pl.col("line_no") + 251)
    parts = [RawPart("f1", RawLines(a, 0, cut, na, 1)), RawPart("f1", RawLines(a, cut, len(a), 300 - na, na + 1)),
             RawPart("f2", RawLines(b, 0, len(b), 251, 1)), tail]
    rec, rej = al.parse_access_parts(parts)
    refs = [reference(a, "f1"), reference(b, "f2"), reference(c, "f2")]
    shift = [pl.col("line_no"), pl.col("line_no"), pl.col("line_no") + 251]  # c continues file f2
    ref_rec = pl.concat([r.with_columns(line_no=k) for (r, _), k in zip(refs, shift)])
    ref_rej = pl.concat([r.with_columns(line_no=k) for (_, r), k in zip(refs, shift)])
    assert rec.equals(ref_rec) and rej.equals(ref_rej)
    assert rec.height + rej.height == 651
    assert {"source": "f2", "line_no": 201, "reason": "invalid UTF-8 (bytes shown as \\xNN)"} in \
        rej.select("source", "line_no", "reason").to_dicts()


_SPLIT_FORMATS = [
    '%h %l %u %t "%m %U%q %H" %>s %b "%{Referer}i" "%{User-Agent}i"',
    '%h %t "%m %U %H" "%{User-Agent}i %{X-Forwarded-For}i" %>s',
    '%h %l %u %t "%r" %>s %b "%{Referer}i | %{User-Agent}i"',
]


@pytest.mark.parametrize("definition", _SPLIT_FORMATS)
def test_quoted_texts_split_on_their_own_read_as_the_whole_regex(definition):
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from forensics.loaders.logformat import compile_format, quoted_sections

    fmt = compile_format(definition)
    assert quoted_sections(fmt) is not None
    text = st.text(alphabet='ab /?=" \\|-x1', max_size=14)
    head = st.sampled_from(['1.2.3.4 - - [31/Mar/2017:23:28:01 +0900] "', '1.2.3.4 [31/Mar/2017:23:28:01 +0900] "', "x "])
    tail = st.sampled_from(['" 200 5 "-" "UA"', '" 200', '" "a | b"', '"', "", '" 200 - "r" "u" extra'])

    @settings(max_examples=300, deadline=None)
    @given(lines=st.lists(st.builds(lambda h, t, u, v: h + t + u + v, head, text, st.sampled_from(["", '" "', " "]), tail),
                          min_size=1, max_size=8))
    def check(lines):
        frame = pl.DataFrame({"line": lines})
        whole = frame.select(m=pl.col("line").str.extract_groups(fmt.regex)).unnest("m")
        assert al._groups(frame, fmt).equals(whole.with_columns(al._clock(whole))), lines

    check()


def test_quotes_that_cannot_split_on_their_own_leave_the_line_to_the_whole_regex():
    from forensics.loaders.logformat import compile_format, quoted_sections

    assert quoted_sections(COMBINED) is None
    assert quoted_sections(compile_format('%h "%m %U')) is None  # no closing quote: not split
    assert quoted_sections(compile_format('%h "%m %U %t" %s')) is None  # a bracketed time inside the quotes
