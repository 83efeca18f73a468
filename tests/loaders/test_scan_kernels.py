"""Scan kernels specialised to a format read exactly what the interpreting scanner reads.

For each named format, lines are written (well-formed, mutated at random, hostile) and scanned
twice in the same blocks: by the interpreter (``access_scan._scan``) and by the format's own
kernel. Every output must be equal: the fields, which lines are vouched for, the lines left to the
regex. The time cache both share (the last time read kept, only ``HH:MM:SS`` read again within a
day) is checked against the regex route on times that differ in one part at a time.
"""

from __future__ import annotations

import os
import random
from datetime import datetime, timedelta, timezone

import polars as pl
import pytest

from forensics.evidence import RawLines
from forensics.loaders import access_log as al
from forensics.loaders import access_scan, scan_kernels
from forensics.loaders._common import RawPart
from forensics.loaders.logformat import ALIASES, NAMED_FORMATS, compile_format

from test_access_log_routes import block, mutate, valid_utf8
from test_access_scan_formats import assert_same, writer

NAMES = [*NAMED_FORMATS, *ALIASES]


def program(name: str) -> access_scan.Program:
    return access_scan.program_of(compile_format(name))


def scans_equal(name: str, blocks: list[tuple[bytes, int, int, int]]) -> pl.Series:
    """Both kernels on ``blocks``: equal outputs; returns which lines were vouched for."""
    prog = program(name)
    kernel = scan_kernels.kernel_of(prog)
    assert kernel is not access_scan._scan
    by_interpreter = access_scan.scan_format(prog, blocks)
    by_kernel = access_scan.scan_format(prog, blocks, kernel)
    assert (by_interpreter is None) == (by_kernel is None)
    if by_kernel is None:
        return None
    (f0, v0, l0), (f1, v1, l1) = by_interpreter, by_kernel
    assert v1.equals(v0) and l1.equals(l0)
    assert f1.equals(f0), pl.concat([f0, f1]).unique(keep="none").head(4).to_dicts()
    return v1


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("seed", range(3))
def test_kernel_reads_what_the_interpreter_reads(name, seed):
    _, line = writer(name)
    rnd = random.Random(f"kernel-{name}-{seed}")
    lines = [mutate(rnd, line(rnd).encode(), keep_quotes=rnd.random() < 0.5) if rnd.random() < 0.4 else line(rnd).encode()
             for _ in range(3000)]
    clean = block([ln for ln in lines if valid_utf8(ln)])
    vouched = scans_equal(name, [(clean, 0, len(clean), clean.count(b"\n"))])
    assert 0 < vouched.sum() < vouched.len()
    # the same lines cut into blocks of one buffer, starting and ending anywhere in it
    cuts = sorted(rnd.sample([i + 1 for i, b in enumerate(clean) if b == 10], 5))
    blocks, start = [], 0
    for end in [*cuts, len(clean)]:
        if end > start:
            blocks.append((clean, start, end, clean[start:end].count(b"\n")))
        start = end
    assert scans_equal(name, blocks).equals(vouched)
    whole = block(lines)  # invalid UTF-8 in some: both refuse the block, or both read it alike
    scans_equal(name, [(whole, 0, len(whole), len(lines))])


@pytest.mark.parametrize("name", NAMES)
def test_hostile_lines(name):
    fields = {"combined": '"GET / HTTP/1.1" 200 512 "-" "ua"', "common": '"GET / HTTP/1.1" 200 512'}
    tail = fields.get(ALIASES.get(name, name), '"GET / HTTP/1.1" 200 512 "-" "ua"')
    head = "shop.example:443 " if name == "vhost_combined" else ""
    t = "[31/Mar/2017:23:28:01 +0900]"
    escaped = tail.replace("GET /", "GET /?q=\\x22\\\\")
    lines = [
        f"{head}203.0.113.9 - - {t} {tail}",
        f"{head}2001:db8::7 - - {t} {tail}",
        f"{head}- - - {t} {tail}",
        f"{head}203.0.113.9 - - {t} {tail.replace('200', '2000')}",
        f"{head}203.0.113.9 - - {t} {tail.replace('512', '9223372036854775807')}",
        f"{head}203.0.113.9 - - {t} {tail.replace('512', '9223372036854775808')}",
        f"{head}203.0.113.9 - - {t} {tail.replace('512', '99999999999999999999999')}",
        f"{head}203.0.113.9 - - {t} {tail.replace('512', '-')}",
        f"{head}203.0.113.9 - - {t} {tail.replace('512', '')}",
        f"{head}203.0.113.9 - - {t} {escaped}",
        f"{head}203.0.113.9 - - {t} {tail}\r",
        f"{head}203.0.113.9 - -  {t} {tail}",
        f"{head}203.0.113.9 -- - {t} {tail}",
        f"{head}203.0.113.9 - -{t} {tail}",
        f"{head}2 - - {t} {tail}",
        f"{head}203.0.113.9 - - {t}  {tail}",
        f"{head}203.0.113.9 - - {t} {tail} x",
        f"{head}東 - 東 {t} {tail}",
        f"{head}203.0.113.9 - - [31/Mar/2017:23:28:01 +0900 {tail}",
        f"{head}203.0.113.9 - - {t} {tail[:-1]}",
        "",
        f"{head}203.0.113.9 - - {t}",
    ]
    data = block([ln.encode() for ln in lines])
    vouched = scans_equal(name, [(data, 0, len(data), len(lines))])
    assert vouched[0] and vouched[1] and not vouched.all()
    assert_same(compile_format(name), data)


def _time_lines(name: str, times: list[str]) -> bytes:
    fmt, _ = writer(name)
    head = "shop.example:443 " if name == "vhost_combined" else ""
    tail = "" if name == "common" else ' "-" "ua"'
    return block([f'{head}203.0.113.9 - - [{t}] "GET / HTTP/1.1" 200 5{tail}'.encode() for t in times])


def _utc(clf: str) -> datetime | None:
    """The instant of a time field; a second 60 (a leap second) is read as the next minute's
    first, as the format's regex route reads it."""
    leap = clf[18:20] == "60"
    try:
        at = datetime.strptime(clf[:18] + "59" + clf[20:] if leap else clf, "%d/%b/%Y:%H:%M:%S %z")
    except ValueError:
        return None
    return (at + timedelta(seconds=leap)).astimezone(timezone.utc).replace(tzinfo=None)


@pytest.mark.parametrize("name", ["combined", "common"])
def test_times_that_differ_in_one_part_read_exactly(name):
    """Times in a row that share the day, the offset, or everything; and invalid ones among them
    (an hour 24, a 30 February, a letter in the hour), which must not take the last valid one's
    reading, and a leap second."""
    times = [
        "31/Mar/2017:23:28:01 +0900", "31/Mar/2017:23:28:01 +0900", "31/Mar/2017:23:28:02 +0900",
        "31/Mar/2017:23:59:59 +0900", "31/Mar/2017:24:00:00 +0900", "31/Mar/2017:23:28:60 +0900",
        "31/Mar/2017:23:28:02 +0900", "31/Mar/2017:23:28:02 -0700", "31/Mar/2017:23:28:03 -0700",
        "01/Apr/2017:00:00:00 -0700", "01/Apr/2017:00:00:00 +0900", "30/Feb/2017:10:00:00 +0900",
        "30/Feb/2017:10:00:01 +0900", "29/Feb/2016:10:00:00 +0900", "29/Feb/2016:10:00:01 +0900",
        "29/Feb/2017:10:00:02 +0900", "29/Feb/2016:1a:00:03 +0900", "29/Feb/2016:10:00:04 +0900",
        "29/Feb/2016:10:00:04 +0930", "29/Feb/2016:10:00:04 +0930", "01/Mar/2016:00:00:00 +0000",
    ]
    data = _time_lines(name, times)
    scans_equal(name, [(data, 0, len(data), len(times))])
    rec = assert_same(compile_format(name), data)
    want = {i + 1: _utc(t) for i, t in enumerate(times) if _utc(t) is not None}
    got = dict(zip(rec["line_no"].to_list(), rec["ts"].dt.replace_time_zone(None).to_list(), strict=True))
    assert got == want


def test_time_cache_across_blocks_and_random_walks():
    """Many lines whose times walk forward and back by random steps, cut into blocks."""
    rnd = random.Random(5)
    at = datetime(2016, 2, 28, 23, 59, 0, tzinfo=timezone(timedelta(hours=9)))
    times = []
    for _ in range(4000):
        at += timedelta(seconds=rnd.choice([0, 0, 1, 1, 2, 59, 3600, -1, 86400, -86400]))
        if rnd.random() < 0.02:
            at = at.astimezone(timezone(timedelta(minutes=rnd.choice([-420, 0, 330, 540]))))
        times.append(at.strftime("%d/%b/%Y:%H:%M:%S %z"))
    data = _time_lines("combined", times)
    cut = data.index(b"\n", len(data) // 2) + 1
    scans_equal("combined", [(data, 0, cut, data[:cut].count(b"\n")), (data, cut, len(data), data[cut:].count(b"\n"))])
    parts = [RawPart("s", RawLines(data, 0, len(data), len(times), 1))]
    rec, rej = al.parse_access_parts(parts, fmt=compile_format("combined"))
    assert rej.height == 0
    assert rec["ts"].dt.replace_time_zone(None).to_list() == [_utc(t) for t in times]


def test_only_named_formats_get_a_kernel_of_their_own():
    custom = access_scan.program_of(compile_format('%h %l %u %t "%r" %>s %b %D'))
    assert scan_kernels.kernel_of(custom) is access_scan._scan
    kernels = {scan_kernels.kernel_of(program(name)) for name in NAMES}
    assert access_scan._scan not in kernels and len(kernels) == len(NAMED_FORMATS)  # an alias shares its format's


def test_a_kernel_file_is_rewritten_only_when_its_text_changes(tmp_path):
    path = tmp_path / "scan_x.py"
    scan_kernels._written(path, "a = 1\n")
    os.utime(path, (1_000_000, 1_000_000))
    scan_kernels._written(path, "a = 1\n")
    assert path.stat().st_mtime == 1_000_000  # numba's cache of it stays valid
    scan_kernels._written(path, "a = 2\n")
    assert path.read_text() == "a = 2\n" and list(tmp_path.iterdir()) == [path]


def test_the_kernel_text_names_the_code_it_comes_from():
    text = scan_kernels.kernel_source(program("common"))
    assert scan_kernels._generated_by() in text and "def _line(" in text and "def _scan(" in text
    assert scan_kernels.kernel_source(program("combined")) != text
