"""The native scanner's own contract: views that read back as the line's bytes wherever a block
lies in its buffer, UTF-8 checked like Python does, times and numbers typed exactly.

Equality with the regex on whole blocks is in ``test_access_log_routes.py``.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from forensics.evidence import RawLines
from forensics.loaders import access_log as al
from forensics.loaders import access_scan
from forensics.loaders._common import RawPart

T = "[31/Mar/2017:23:28:01 +0900]"


def scan(data: bytes, start: int = 0, end: int | None = None):
    end = len(data) if end is None else end
    return access_scan.scan_format(access_scan.COMBINED_PROGRAM, [(data, start, end, data.count(b"\n", start, end))])


def line(ip="203.0.113.9", user="-", request="GET / HTTP/1.1", size="512", referer="-", ua="ua", extra="", t=T):
    return f'{ip} - {user} {t} "{request}" 200 {size} "{referer}" "{ua}"{extra}'.encode()


@pytest.mark.parametrize("offset", range(9))
def test_views_read_back_every_length_at_every_offset(offset):
    """Strings of 0 - 20 bytes (inline up to 12, by offset beyond) from any byte position; the
    block starts ``offset`` bytes into its buffer and ends anywhere in a word."""
    text = "abcdefghij東klmnopq"
    lines = [line(ip=text[: 1 + k], user=text[: 1 + (k * 7) % 19], request=text[:k], referer=text[: (k * 3) % 20],
                  ua=text[: (k * 5) % 20], extra=" " + text[:k] if k % 3 else "")
             for k in range(20)]
    body = b"".join(ln + b"\n" for ln in lines)
    data = b"x\n\"y" * 3 + b"z" * offset + body + b"tail"  # not a whole line after the block
    start = 12 + offset
    fields, fast, rest = scan(data, start, start + len(body))
    assert fast.all() and rest.null_count() == len(lines)
    for k, row in enumerate(fields.iter_rows(named=True)):
        assert row["client_ip"] == text[: 1 + k]
        assert row["remote_user"] == text[: 1 + (k * 7) % 19]
        assert row["request"] == text[:k]
        assert row["referer"] == text[: (k * 3) % 20]
        assert row["user_agent"] == text[: (k * 5) % 20]
        assert row["rest"] == (" " + text[:k] if k % 3 else "")


def test_refused_lines_come_back_as_text_without_their_cr():
    lines = [line(), b'not "an" access line', line() + b"\r", b"", line(ua='a"b'), line(size="x")]
    fields, fast, rest = scan(b"".join(ln + b"\n" for ln in lines))
    assert fast.to_list() == [True, False, True, False, True, False]
    assert rest.to_list() == [None, 'not "an" access line', None, "", None, line(size="x").decode()]
    assert fields["user_agent"][2] == "ua"  # the \r is the line ending's, not the field's
    # read as the format's regex reads it: the user agent ends at the first quote, the rest trails
    assert (fields["user_agent"][4], fields["rest"][4]) == ("a", 'b"')


@pytest.mark.parametrize(
    "bad",
    [b"\xc0\x80", b"\xc1\xbf", b"\xe0\x80\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\x80",
     b"\xe6\x9d", b"\xff", b"\xf0\x9f\x98"],
)
def test_invalid_utf8_anywhere_refuses_the_block(bad):
    good = line(ua="東商マート 😀 é")
    assert scan(good + b"\n") is not None
    for data in (line(ua="x@@").replace(b"@@", bad) + b"\n", line(extra=" @@").replace(b"@@", bad) + b"\n",
                 line(ip="@@").replace(b"@@", bad) + b"\n", good + b"\n" + good + bad + b"\n"):
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")
        assert scan(data) is None


@pytest.mark.parametrize(
    ("t", "local", "offset"),
    [
        ("[29/Feb/2016:12:00:00 +0530]", dt.datetime(2016, 2, 29, 12), 330),
        ("[29/Feb/2000:00:00:00 -0000]", dt.datetime(2000, 2, 29), 0),
        ("[31/Dec/1999:23:59:59 -1200]", dt.datetime(1999, 12, 31, 23, 59, 59), -720),
        ("[01/Jan/1000:00:00:00 +0099]", dt.datetime(1000, 1, 1), 99),
        ("[15/Jun/9999:08:30:00 -9999]", dt.datetime(9999, 6, 15, 8, 30), -6039),
        ("[29/Feb/1900:12:00:00 +0900]", None, None),  # not a leap year
        ("[29/Feb/2017:12:00:00 +0900]", None, None),
        ("[31/Apr/2017:12:00:00 +0900]", None, None),
        ("[00/Mar/2017:12:00:00 +0900]", None, None),
        ("[31/Mar/2017:24:00:00 +0900]", None, None),
        ("[31/Mar/2017:23:60:00 +0900]", None, None),
        ("[31/Mar/2017:23:28:60 +0900]", None, None),
        ("[31/Mar/0999:23:28:01 +0900]", None, None),  # left to the regex
        ("[31/MAR/2017:23:28:01 +0900]", None, None),
        ("[31/Mar/2017:23:28:01 +09:0]", None, None),
        ("[3a/Mar/2017:23:28:01 +0900]", None, None),
    ],
)
def test_times_vouched_only_when_they_exist(t, local, offset):
    fields, fast, _ = scan(line(t=t) + b"\n")
    assert fast[0] == (local is not None)
    if local is not None:
        assert fields["local"][0] == local
        assert fields["utc_offset_min"][0] == offset


@pytest.mark.parametrize(
    ("size", "value", "ok"),
    [("-", None, True), ("0", 0, True), ("007", 7, True), ("9" * 18, int("9" * 18), True),
     (str(2**63 - 1), 2**63 - 1, True),
     (str(2**63), None, True), ("9" * 19, None, True), ("0" * 30 + "5", 5, True),  # too large for Int64: null
     ("--", None, False), ("1-", None, False), ("", None, False)],
)
def test_sizes(size, value, ok):
    """Read as numbers by the scan, typed as a cast of their text would type them."""
    data = line(size=size) + b"\n"
    fields, fast, _ = scan(data)
    assert fast[0] == ok
    assert fields.schema["bytes"] == pl.Int64 and fields.schema["status"] == pl.Int16
    assert pl.Series([size]).cast(pl.Int64, strict=False)[0] == value
    if ok:
        assert fields["bytes"][0] == value and fields["status"][0] == 200
        records, _ = al.parse_access_parts([RawPart("s", RawLines(data, 0, len(data), 1, 1))])
        assert records["bytes"][0] == value and records["status"][0] == 200
        assert records.schema["bytes"] == pl.Int64 and records.schema["status"] == pl.Int16


def test_a_wrong_line_count_is_an_error_not_a_guess():
    data = line() + b"\n" + line() + b"\n"
    with pytest.raises(ValueError, match="expected 3 whole lines"):
        access_scan.scan_format(access_scan.COMBINED_PROGRAM, [(data, 0, len(data), 3)])
    with pytest.raises(ValueError, match="expected 1 whole lines"):
        access_scan.scan_format(access_scan.COMBINED_PROGRAM, [(data, 0, len(data), 1)])
    with pytest.raises(ValueError):
        access_scan.scan_format(access_scan.COMBINED_PROGRAM, [(data + b"half", 0, len(data) + 4, 2)])  # not ending with a newline


def test_blocks_of_several_buffers_make_one_chunk():
    """Pieces of one buffer and of others, in order; the views name each piece's buffer."""
    one = line(ua="first buffer, long enough") + b"\n" + line(ua="still the first one") + b"\n"
    two = b"junk" + line(ua="second buffer here") + b"\n"
    cut = one.index(b"\n") + 1
    fields, fast, _ = access_scan.scan_format(access_scan.COMBINED_PROGRAM, [(one, cut, len(one), 1), (two, 4, len(two), 1), (one, 0, cut, 1)])
    assert fast.all() and fields["user_agent"].n_chunks() == 1
    assert fields["user_agent"].to_list() == ["still the first one", "second buffer here", "first buffer, long enough"]
    bad = line(ua="x") + b"\xff\n"
    assert access_scan.scan_format(access_scan.COMBINED_PROGRAM, [(one, 0, len(one), 2), (bad, 0, len(bad), 1)]) is None


def test_empty_block():
    fields, fast, rest = scan(b"")
    assert access_scan.scan_format(access_scan.COMBINED_PROGRAM, []) is not None
    assert fields.height == 0 and fast.len() == 0 and rest.len() == 0


@pytest.mark.parametrize(
    "ua, value, escaped",
    [
        pytest.param("like \\x22Gecko\\x22", "like \\x22Gecko\\x22", False, id="nginx-x22-stays-as-logged"),
        pytest.param('say \\"hi\\"', 'say \\"hi\\"', True, id="apache-escaped-quote"),
        pytest.param("a\\\\b", "a\\\\b", True, id="doubled-backslash"),
        pytest.param('a\\\\\\"b', 'a\\\\\\"b', True, id="odd-run-then-quote"),
        pytest.param("a\\\\", "a\\\\", True, id="even-run-before-the-closing-quote"),
        pytest.param("a\\tb", "a\\tb", False, id="other-escape"),
    ],
)
def test_quoted_fields_end_at_the_first_quote_no_backslash_escapes(ua, value, escaped):
    """A quote after an odd run of backslashes is the value's; the line is marked for undoing
    escapes only when it holds one the reading undoes (``\\"``, ``\\\\``), not for nginx's ``\\x22``."""
    fields, fast, _ = scan(line(ua=ua) + b"\n")
    assert fast.to_list() == [True]
    assert fields["user_agent"][0] == value and fields["rest"][0] == ""
    assert fields["_escaped"][0] == escaped
    records, _ = al.parse_access_parts([RawPart("s", RawLines(line(ua=ua) + b"\n", 0, len(line(ua=ua)) + 1, 1, 1))])
    assert records["user_agent"][0] == value.replace('\\"', '"').replace("\\\\", "\\") if escaped else value
