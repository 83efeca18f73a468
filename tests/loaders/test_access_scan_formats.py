"""The native scan driven by any compiled format reads exactly what the format's regex reads.

For every named format and for custom Apache ``LogFormat`` and nginx ``log_format`` strings, lines
are written by a writer of this test (values per field name, quotes escaped the way the server
does), some mutated at random, and parsed twice: the fast route (``parse_access_parts``: the
native program, the regex for the lines it refuses) and the reference (the format's regex alone on
every line). Records and rejects must be equal, and the program must vouch for the well-formed
lines of the named formats.
"""

from __future__ import annotations

import random

import polars as pl
import pytest

from forensics.evidence import RawLines, split_lines
from forensics.loaders import access_log as al
from forensics.loaders import access_scan
from forensics.loaders._common import RawPart
from forensics.loaders.logformat import Field, compile_format

from test_access_log_routes import block, mutate, valid_utf8

FORMATS = {
    "combined": "combined",
    "common": "common",
    "vhost_combined": "vhost_combined",
    "nginx": "nginx",
    "apache_extended": '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i" %D "%{X-Forwarded-For}i" %v:%p',
    "apache_timing": '%a %{X-Forwarded-For}i %l %u %t "%r" %s %B %T %I %O',
    "nginx_iso": '$remote_addr - $remote_user [$time_iso8601] "$request" $status $body_bytes_sent '
                 '"$http_referer" "$http_user_agent" $request_time "$http_x_forwarded_for" $host',
    "nginx_escape_json": 'escape=json $remote_addr [$time_local] "$request" $status $bytes_sent "$http_user_agent"',
}

TIMES = ["31/Mar/2017:23:28:01 +0900", "01/Jan/2017:00:00:00 -0700", "29/Feb/2016:12:00:00 +0530",
         "31/Feb/2017:23:28:01 +0900", "10/Oct/2000:13:55:36 -0000"]
ISO_TIMES = ["2017-03-31T23:28:01+09:00", "2017-01-01T00:00:00Z", "2016-02-29T12:00:00-05:30", "2017-02-31T01:00:00+09:00",
             "2017-03-31T24:00:00+09:00"]
QUOTED_VALUES = ["-", "", "https://toshomart.com/products/list.php?category_id=4", "東商マート bot",
                 'Mozilla/5.0 "quoted"', "back\\slash", "sqlmap/1.1#stable (http://sqlmap.org)"]
VALUES = {
    "client_ip": ["203.0.113.9", "2001:db8::7", "::ffff:192.0.2.1", "host.example.jp"],
    "ident": ["-"], "remote_user": ["-", "admin", "東"],
    "request": ["GET / HTTP/1.1", "GET /p.php?id=1%27%20UNION%20SELECT%20NULL-- HTTP/1.1", "POST /admin/index.php HTTP/1.1",
                "-", "GET /a b.php HTTP/1.1"],
    "status": ["200", "302", "404", "500"], "bytes": ["-", "0", "19056", "99999999999999999999"],
    "bytes_sent": ["0", "512", "-"], "bytes_received": ["0", "733"], "duration_us": ["0", "1200", "99999"], "duration_s": ["0", "3", "0.012", "1.5", "-"],
    "vhost": ["shop.example", "toshomart.com"], "port": ["80", "443"],
    "forwarded_for": ["-", "198.51.100.7", "198.51.100.7, 10.0.0.1"], "method": ["GET", "POST", "HEAD"],
    "url_path": ["/", "/products/list.php", "/admin/index.php"], "query_string": ["", "?id=1", "?name=%E6%9D%B1"],
    "protocol": ["HTTP/1.1", "HTTP/1.0"], "referer": QUOTED_VALUES, "user_agent": QUOTED_VALUES,
}


def escape(value: str, nginx: bool) -> str:
    """A value inside quotes as the server writes it: Apache ``\\"`` and ``\\\\``; nginx ``\\x22``
    and ``\\x5C``."""
    if nginx:
        return value.replace("\\", "\\x5C").replace('"', "\\x22")
    return value.replace("\\", "\\\\").replace('"', '\\"')


def writer(definition: str):
    fmt = compile_format(definition)
    nginx = "$" in fmt.definition or definition == "nginx"

    def line(rnd: random.Random) -> str:
        out = []
        for piece in fmt.pieces:
            if not isinstance(piece, Field):
                out.append(piece.text)
                continue
            name = piece.name.rsplit("_", 1)[0] if piece.name[-1].isdigit() else piece.name
            if name in ("t", "t_iso"):
                out.append(rnd.choice(TIMES if name == "t" else ISO_TIMES))
                continue
            value = rnd.choice(VALUES.get(name, ["x", "-"]))
            out.append(escape(value, nginx) if piece.quoted else value.replace(" ", "") or "-")
        return "".join(out)

    return fmt, line


def reference(fmt, data: bytes) -> tuple[pl.DataFrame, pl.DataFrame]:
    lines = split_lines(data).with_columns(source=pl.lit("s"))
    return al._records(al._line_fields(lines, fmt), fmt=fmt)


def assert_same(fmt, data: bytes) -> pl.Series:
    parts = [RawPart("s", RawLines(data, 0, len(data), data.count(b"\n"), 1))]
    rec, rej = al.parse_access_parts(parts, fmt=fmt)
    ref_rec, ref_rej = reference(fmt, data)
    assert rec.equals(ref_rec), pl.concat([rec, ref_rec]).unique(keep="none").head(4).to_dicts()
    assert rej.equals(ref_rej), (rej.to_dicts()[:3], ref_rej.to_dicts()[:3])
    assert rec.height + rej.height == data.count(b"\n")
    return rec


@pytest.mark.parametrize("name", list(FORMATS))
def test_every_format_has_a_program(name):
    assert access_scan.program_of(compile_format(FORMATS[name])) is not None


@pytest.mark.parametrize("name", list(FORMATS))
def test_well_formed_lines_are_vouched_and_equal(name):
    fmt, line = writer(FORMATS[name])
    rnd = random.Random(name)
    lines = [line(rnd).encode() for _ in range(2000)]
    data = block(lines)
    scanned = access_scan.scan_format(access_scan.program_of(fmt), [(data, 0, len(data), len(lines))])
    rec = assert_same(fmt, data)
    # the program vouches for exactly the lines that are records (not for a date that does not exist)
    assert scanned[1].arg_true().to_list() == (rec["line_no"] - 1).to_list()
    impossible = sum(b"31/Feb/" in ln or b"-02-31T" in ln or b"T24:" in ln for ln in lines)
    assert 0 < impossible <= len(lines) - rec.height and rec.height > len(lines) // 5


@pytest.mark.parametrize("name", list(FORMATS))
@pytest.mark.parametrize("seed", range(3))
def test_mutated_lines_equal(name, seed):
    fmt, line = writer(FORMATS[name])
    rnd = random.Random(f"{name}-{seed}")
    lines = [mutate(rnd, line(rnd).encode(), keep_quotes=rnd.random() < 0.5) if rnd.random() < 0.4 else line(rnd).encode()
             for _ in range(1500)]
    assert_same(fmt, block([ln for ln in lines if valid_utf8(ln)]))
    assert_same(fmt, block(lines))  # invalid UTF-8 somewhere: the block takes the line route


def test_nginx_escapes_are_vouched_and_kept_as_logged():
    fmt = compile_format("nginx")
    data = (b'203.0.113.9 - - [31/Mar/2017:23:28:01 +0900] "GET /?q=\\x22x\\x22 HTTP/1.1" 200 5 "-" '
            b'"Mozilla \\x22quoted\\x22"\n')
    scanned = access_scan.scan_format(access_scan.program_of(fmt), [(data, 0, len(data), 1)])
    assert scanned[1].to_list() == [True]
    rec = assert_same(fmt, data)
    assert rec["user_agent"][0] == "Mozilla \\x22quoted\\x22"


@pytest.mark.parametrize("definition", ['%h %t %r %>s', '%h %t "%m %U%q %H" %>s'])
def test_a_format_no_program_reads_takes_the_regex(definition):
    """``%r`` outside quotes ("[^ ]+ [^ ]+ [^ ]+"), or several fields inside one pair of quotes."""
    fmt = compile_format(definition)
    assert access_scan.program_of(fmt) is None
    data = (b'203.0.113.9 [31/Mar/2017:23:28:01 +0900] GET / HTTP/1.1 200\n' if '"' not in definition
            else b'203.0.113.9 [31/Mar/2017:23:28:01 +0900] "GET / HTTP/1.1" 200\n')
    parts = [RawPart("s", RawLines(data, 0, len(data), 1, 1))]
    rec, rej = al.parse_access_parts(parts, fmt=fmt)
    assert rec["path"].to_list() == ["/"] and rej.height == 0


@pytest.mark.parametrize("name", ["combined", "nginx_iso"])
def test_a_whole_file_read_natively_or_by_the_regex_alone_is_the_same(tmp_path, name):
    fmt, line = writer(FORMATS[name])
    rnd = random.Random(f"file-{name}")
    lines = [mutate(rnd, line(rnd).encode(), keep_quotes=True) if rnd.random() < 0.2 else line(rnd).encode()
             for _ in range(3000)]
    (tmp_path / "access_log").write_bytes(block([ln for ln in lines if valid_utf8(ln)]))

    def load(native: bool) -> tuple[pl.DataFrame, pl.DataFrame]:
        batches = list(al.iter_access_logs([tmp_path / "access_log"], case_root=tmp_path, format=FORMATS[name],
                                           batch_lines=700, show_progress=False, native=native))
        return pl.concat([b.records for b in batches]), pl.concat([b.rejects for b in batches])

    (rec, rej), (ref_rec, ref_rej) = load(True), load(False)
    assert rec.equals(ref_rec) and rej.equals(ref_rej)
    assert rec.height > 1000 and rej.height > 0
