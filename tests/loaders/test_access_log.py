"""Access-log loader: every format variant of the evidence formats and full line accounting."""

from __future__ import annotations

import datetime as dt
import gzip

import polars as pl
import pytest

from forensics.loaders.access_log import read_access_logs, scan_access_log_rejects, scan_access_logs
from forensics.schemas import ACCESS_LOG, REJECTS

UTC = dt.timezone.utc
UA = '"Mozilla/5.0 (X11)"'


def line(ip="203.0.113.9", t="31/Mar/2017:23:28:01 +0900", req="GET / HTTP/1.1", status="200", size="512",
         ref='"-"', ua=UA, extra=""):
    return f'{ip} - - [{t}] "{req}" {status} {size} {ref} {ua}{extra}'


def load(write, text, name="access_log", gz=False, **kw):
    path = write(name, text, gz=gz)
    return read_access_logs([path], case_root=path.parent, show_progress=False, **kw)


@pytest.mark.parametrize(
    "text, expect",
    [
        pytest.param(line(), {"client_ip": "203.0.113.9", "method": "GET", "path": "/", "status": 200, "bytes": 512,
                              "ts": dt.datetime(2017, 3, 31, 14, 28, 1, tzinfo=UTC), "utc_offset_min": 540}, id="combined-ipv4"),
        pytest.param(line(ip="2001:db8::7"), {"client_ip": "2001:db8::7"}, id="combined-ipv6"),
        pytest.param(line(ip="::ffff:192.0.2.1"), {"client_ip": "192.0.2.1"}, id="combined-ipv4-mapped-ipv6"),  # compared as the IPv4 address
        pytest.param(line(size="-"), {"bytes": None}, id="dash-size"),
        pytest.param(line(t="31/Mar/2017:07:28:01 -0700"), {"ts": dt.datetime(2017, 3, 31, 14, 28, 1, tzinfo=UTC),
                                                             "utc_offset_min": -420}, id="offset-negative"),
        pytest.param(line(t="31/Mar/2017:19:58:01 +0530"), {"ts": dt.datetime(2017, 3, 31, 14, 28, 1, tzinfo=UTC),
                                                             "utc_offset_min": 330}, id="offset-half-hour"),
        pytest.param(line(t="31/Mar/2017:14:28:01 +0000"), {"ts": dt.datetime(2017, 3, 31, 14, 28, 1, tzinfo=UTC)}, id="offset-utc"),
        pytest.param(line(extra=" 1234 toshomart.com"), {"extra": "1234 toshomart.com", "user_agent": "Mozilla/5.0 (X11)"},
                     id="extra-trailing-fields"),
        pytest.param(line(ua=r'"Mo \"zilla\" \\ x"'), {"user_agent": 'Mo "zilla" \\ x'}, id="escaped-quotes-user-agent"),
        pytest.param(line(req=r'GET /a\"b HTTP/1.1'), {"request_raw": 'GET /a"b HTTP/1.1', "path_raw": '/a"b'}, id="escaped-quotes-request"),
        pytest.param(line(ref=r'"http://x/?q=\"1\""'), {"referer": 'http://x/?q="1"'}, id="escaped-quotes-referer"),
        pytest.param(line(req="GET /"), {"method": "GET", "target_raw": "/", "protocol": None}, id="http09-no-protocol"),
        pytest.param(line(req="GET /a b.php HTTP/1.1"), {"target_raw": "/a b.php", "protocol": "HTTP/1.1"}, id="target-with-space"),
        pytest.param(line(req="-", status="408", size="-"), {"method": None, "target_raw": None, "status": 408}, id="request-dash-408"),
        pytest.param(line(req=r"\x16\x03\x01\x00\xa5\x01", status="400"), {"method": None, "request_raw": r"\x16\x03\x01\x00\xa5\x01"},
                     id="tls-bytes-escaped"),
        pytest.param(line(req="POST /admin/index.php HTTP/1.1", status="302"), {"method": "POST", "status": 302}, id="post-302"),
    ],
)
def test_format_variants(write, text, expect):
    loaded = load(write, text + "\n")
    assert loaded.rejects.height == 0, loaded.rejects.to_dicts()
    row = loaded.records.row(0, named=True)
    for k, v in expect.items():
        assert row[k] == v, (k, row[k])
    assert row["source"] == "access_log" and row["line_no"] == 1


@pytest.mark.parametrize(
    "target, path, query, params",
    [
        pytest.param("/products/list.php?name=%E6%9D%B1%E5%95%86&x=1", "/products/list.php", "name=東商&x=1",
                     [{"key": "name", "value": "東商"}, {"key": "x", "value": "1"}], id="japanese-utf8"),
        pytest.param("/p.php?q=%e6%9d%b1", "/p.php", "q=東", [{"key": "q", "value": "東"}], id="lowercase-hex"),
        pytest.param("/p.php?q=a+b%2Bc", "/p.php", "q=a b+c", [{"key": "q", "value": "a b+c"}], id="plus-in-query"),
        pytest.param("/a+b.php", "/a+b.php", None, None, id="plus-in-path-kept"),
        pytest.param("/p.php?id=1%2527", "/p.php", "id=1%27", [{"key": "id", "value": "1%27"}], id="double-encoding-visible"),
        pytest.param("/p.php?x=%ZZ%4&y=%FF%E6%9D", "/p.php", "x=%ZZ%4&y=%FF%E6%9D",
                     [{"key": "x", "value": "%ZZ%4"}, {"key": "y", "value": "%FF%E6%9D"}], id="invalid-sequences-kept"),
        pytest.param("/%7Eadmin/%2e%2e/x", "/~admin/../x", None, None, id="path-decoded"),
        pytest.param("/p.php?a=1&&b&c=%3D%26", "/p.php", "a=1&&b&c==&",
                     [{"key": "a", "value": "1"}, {"key": "b", "value": None}, {"key": "c", "value": "=&"}], id="params-split-before-decoding"),
        pytest.param("/p.php?", "/p.php", "", [], id="empty-query"),
        pytest.param("/p.php?e=%F0%9F%98%80", "/p.php", "e=😀", [{"key": "e", "value": "😀"}], id="four-byte-utf8"),
        pytest.param("/p.php?id=1%27%20UNION%20SELECT%20NULL--", "/p.php", "id=1' UNION SELECT NULL--",
                     [{"key": "id", "value": "1' UNION SELECT NULL--"}], id="sqli-payload"),
    ],
)
def test_percent_decoding(write, target, path, query, params):
    loaded = load(write, line(req=f"GET {target} HTTP/1.1") + "\n")
    row = loaded.records.row(0, named=True)
    assert row["target_raw"] == target
    assert (row["path"], row["query"], row["query_params"]) == (path, query, params)


def test_schema_and_lazy(write):
    path = write("access_log", line() + "\n")
    lf = scan_access_logs([path], case_root=path.parent)
    assert lf.collect_schema() == ACCESS_LOG
    df = lf.collect()
    assert df.schema == ACCESS_LOG and df.height == 1
    assert scan_access_log_rejects([path], case_root=path.parent).collect().schema == REJECTS


def test_plain_and_gzip_equal(write):
    text = "\n".join(line(req=f"GET /p{i}.php HTTP/1.1") for i in range(50)) + "\n"
    a = load(write, text, name="a/access_log").records.drop("source")
    b = load(write, text, name="b/access_log.gz", gz=True).records.drop("source")
    assert a.equals(b)


def test_rotated_set_in_time_order(write, tmp_path):
    paths = [
        write("access_log", line(t="10/Apr/2017:00:00:00 +0900") + "\n"),
        write("access_log-20170402.gz", line(t="02/Apr/2017:00:00:00 +0900") + "\n", gz=True),
        write("access_log-20170326", line(t="26/Mar/2017:00:00:00 +0900") + "\n"),
        write("access.log.1", line(t="09/Apr/2017:00:00:00 +0900") + "\n"),
        write("access.log.2.gz", line(t="08/Apr/2017:00:00:00 +0900") + "\n", gz=True),
        write("access.log", line(t="10/Apr/2017:00:00:01 +0900") + "\n"),
    ]
    df = read_access_logs(reversed(paths), case_root=tmp_path, show_progress=False).records
    assert df["source"].to_list() == ["access.log.2.gz", "access.log.1", "access.log",
                                      "access_log-20170326", "access_log-20170402.gz", "access_log"]


BAD = [
    pytest.param(b'203.0.113.9 - - [31/Mar/2017:23:28:01 +0900] "GET /x HTTP/1.1" 200 1 "http://ref', "bad referer field", id="truncated-referer"),
    pytest.param(b'203.0.113.9 - - [31/Mar/2017:23:28:01 +0900] "GET /x HTT', "truncated or unterminated request", id="truncated-request"),
    pytest.param(b"\x00\x8f\xff\x1b[\xfe\x00\x07\xc3(", "invalid UTF-8", id="binary-garbage"),
    pytest.param(b"203.0.113.9 - - [31/Mar/2017:23:28:01 +0900] \"GET /\x00 HTTP/1.1\" 200 1 \"-\" \"\x00\"", None, id="nul-bytes-parse"),
    pytest.param(line(req="GET /\x82\xa0 HTTP/1.1").encode("latin-1"), "invalid UTF-8", id="invalid-utf8"),
    pytest.param(line(ua='"東商マート"').encode("cp932"), "invalid UTF-8", id="cp932-text"),
    pytest.param(b'203.0.113.9 - - [31/Feb/2017:23:28:01 +0900] "GET / HTTP/1.1" 200 1 "-" "-"', "impossible %t", id="impossible-date"),
    pytest.param(b'203.0.113.9 - - [31/Foo/2017:23:28:01 +0900] "GET / HTTP/1.1" 200 1 "-" "-"', "impossible %t", id="bad-month"),
    pytest.param(b'203.0.113.9 - - [2017-03-31 23:28:01] "GET / HTTP/1.1" 200 1 "-" "-"', "bad %t", id="iso-time-not-apache"),
    pytest.param(b'203.0.113.9 - - [31/Mar/2017:23:28:01 +0900] "GET / HTTP/1.1" 2000 1 "-" "-"', "bad status", id="bad-status"),
    pytest.param(b"", "empty line", id="empty-line"),
    pytest.param(b"<script>alert(1)</script>", "not an access-log line", id="html-junk"),
]


@pytest.mark.parametrize("bad, reason", BAD)
def test_bad_lines_accounted(write, bad, reason):
    good = line().encode()
    data = good + b"\n" + bad + b"\n" + good + b"\n"
    loaded = load(write, data)
    counts = loaded.counts.row(0, named=True)
    assert counts["records"] + counts["rejected"] == 3
    if reason is None:
        assert loaded.rejects.height == 0 and loaded.records.height == 3
        return
    assert loaded.records["line_no"].to_list() == [1, 3]
    rej = loaded.rejects.row(0, named=True)
    assert rej["line_no"] == 2 and reason in rej["reason"], rej
    # excerpts are escaped: no control characters survive
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in rej["excerpt"])


def test_binary_excerpt_escaped(write):
    loaded = load(write, line().encode() + b"\n\x00\x1b[31m\xff\\x\n")
    assert loaded.rejects["excerpt"].to_list() == ["\\x00\\x1b[31m\\xff\\\\x"]


def test_crlf_lines(write):
    loaded = load(write, (line() + "\r\n") * 3)
    assert loaded.records.height == 3 and loaded.records["user_agent"].to_list() == ["Mozilla/5.0 (X11)"] * 3


def test_100kb_line(write):
    long = line(req="GET /p.php?q=" + "A%27" * 25_000 + " HTTP/1.1")
    loaded = load(write, line() + "\n" + long + "\n" + "x" * 100_000 + "\n")
    assert loaded.records.height == 2 and loaded.rejects.height == 1
    assert len(loaded.records["query"][1]) == 2 + 50_000
    assert len(loaded.rejects["excerpt"][0]) < 200


def test_no_final_newline(write):
    loaded = load(write, line() + "\n" + line())
    assert loaded.records["line_no"].to_list() == [1, 2]


def test_truncated_gzip_keeps_lines(write, tmp_path):
    text = "".join(line(req=f"GET /p{i}.php HTTP/1.1") + "\n" for i in range(2000))
    full = gzip.compress(text.encode())
    path = write("access_log.1.gz", full[: len(full) // 2])
    loaded = read_access_logs([path], case_root=tmp_path, show_progress=False)
    c = loaded.counts.row(0, named=True)
    assert 0 < c["records"] < 2000
    # records are the leading lines, in order; the rest is accounted for by rejects
    assert loaded.records["line_no"].to_list() == list(range(1, c["records"] + 1))
    reasons = loaded.rejects["reason"].to_list()
    assert any("truncated" in r for r in reasons)
    assert c["records"] + c["rejected"] == loaded.rejects["line_no"].max()


def test_decompression_bomb_bounded(write, tmp_path):
    bomb = gzip.compress(line().encode() + b"\n" + b"A" * 5_000_000)
    path = write("access_log.gz", bomb)
    loaded = read_access_logs([path], case_root=tmp_path, show_progress=False, max_decompressed=100_000)
    assert loaded.records.height == 1
    assert any("limit of 100000 bytes" in r for r in loaded.rejects["reason"].to_list())


def test_multi_member_gzip(write, tmp_path):
    data = gzip.compress((line() + "\n").encode()) + gzip.compress((line(ip="192.0.2.1") + "\n").encode())
    path = write("access_log.gz", data)
    df = read_access_logs([path], case_root=tmp_path, show_progress=False, max_decompressed=1000).records
    assert df["client_ip"].to_list() == ["203.0.113.9", "192.0.2.1"]


def test_clock_skew(write):
    loaded = load(write, line() + "\n", skew_seconds=90)
    assert loaded.records["ts"][0] == dt.datetime(2017, 3, 31, 14, 26, 31, tzinfo=UTC)


def test_batches_preserve_order(write, tmp_path):
    text = "".join(line(req=f"GET /p{i}.php HTTP/1.1") + "\n" for i in range(1000))
    paths = [write(f"access_log-2017030{d}", text) for d in range(1, 4)]
    loaded = read_access_logs(paths, case_root=tmp_path, show_progress=False, batch_lines=170)
    df = loaded.records
    assert df.height == 3000
    assert df["line_no"].to_list() == list(range(1, 1001)) * 3
    assert df["path"].to_list()[:3] == ["/p0.php", "/p1.php", "/p2.php"]
    assert loaded.counts["records"].to_list() == [1000, 1000, 1000]


def test_iter_streams_batches_with_bounded_size(write, tmp_path):
    from forensics.loaders.access_log import iter_access_logs

    text = "".join(line(req=f"GET /p{i}.php HTTP/1.1") + "\n" for i in range(500)) + "garbage\n"
    paths = [write(f"access_log-2017030{d}.gz", text, gz=True) for d in range(1, 3)]
    batches = list(iter_access_logs(paths, case_root=tmp_path, batch_lines=120, show_progress=False))
    assert all(b.records.height <= 120 for b in batches) and len(batches) >= 9
    assert sum(b.records.height for b in batches) == 1000 and sum(b.rejects.height for b in batches) == 2
    whole = read_access_logs(paths, case_root=tmp_path, show_progress=False)
    assert pl.concat([b.records for b in batches]).equals(whole.records)


def test_symlinked_log_not_followed(write, tmp_path):
    import os

    target = write("outside/secret", line() + "\n")
    os.symlink(target, tmp_path / "access_log")
    loaded = read_access_logs([tmp_path / "access_log"], case_root=tmp_path, show_progress=False)
    assert loaded.records.height == 0
    assert loaded.rejects["reason"].to_list() == ["symlink: not followed (evidence is read without following links)"]
    assert loaded.counts.row(0, named=True)["rejected"] == 1


def test_request_cache_rows_across_batches_threads_and_resets():
    """Each line's row in the cache's frame holds its own request's columns, whatever the order in
    which two threads add requests, and after the frame starts again (``max_rows`` reached)."""
    import random
    import threading

    from forensics.loaders.access_log import RequestCache, _request_fields

    rnd = random.Random(5)
    pool = [f"GET /p.php?id={k}&q=%E6%9D%B1{k % 7} HTTP/1.1" for k in range(300)] + ["-", "", "GET /"]
    batches = [pl.Series("request", [rnd.choice(pool[: 40 + 20 * b]) for _ in range(500)]) for b in range(12)]
    expected = {r: row for row in _request_fields(pl.DataFrame({"request": pool})).to_dicts() for r in [row["request"]]}

    for max_rows in (10_000, 90):  # 90: the frame starts again several times
        cache = RequestCache(max_rows=max_rows)
        failures: list = []

        def work(mine, cache=cache, failures=failures):
            for requests in mine:
                frame, at = cache.rows(requests)
                got = frame[at].to_dicts()
                if at.null_count() or [g["request"] for g in got] != requests.to_list() \
                        or any(g != expected[g["request"]] for g in got):
                    failures.append(requests)

        threads = [threading.Thread(target=work, args=(batches[k::2],)) for k in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not failures
        assert cache.frame.height <= max(max_rows, 500)
        assert cache.frame["request"].is_unique().all()


@pytest.mark.parametrize("seed", range(6))
def test_a_request_finds_the_same_row_by_enum_and_by_join(monkeypatch, seed):
    """The two ways of finding each request's row in the cache's frame agree: unknown requests
    null, a null request the frame's null row (or null when it has none), the empty request its own."""
    import random

    from forensics.loaders import access_log

    rnd = random.Random(seed)
    pool = [f"GET /p{k} HTTP/1.1" for k in range(30)] + ["", "-"]
    known = rnd.sample(pool, 12) + ([None] if seed % 2 else [])
    rnd.shuffle(known)
    frame = pl.DataFrame({"request": known}, schema={"request": pl.String})
    requests = pl.Series("request", [rnd.choice([*pool, None]) for _ in range(300)], dtype=pl.String)
    expected = [known.index(r) if r in known else None for r in requests.to_list()]
    monkeypatch.setattr(access_log, "ENUM_LOOKUP_ROWS", 10_000)
    assert access_log._rows_of(requests, frame).to_list() == expected
    monkeypatch.setattr(access_log, "ENUM_LOOKUP_ROWS", 0)
    assert access_log._rows_of(requests, frame).to_list() == expected


def test_request_cache_frame_replaced_between_join_and_lock(monkeypatch):
    """Another batch starts the frame again while this one was joining: its rows must not be used."""
    from forensics.loaders import access_log

    cache = access_log.RequestCache(max_rows=4)
    first = pl.Series("request", ["GET /a HTTP/1.1", "GET /b HTTP/1.1"])
    cache.rows(first)
    mine = pl.Series("request", ["GET /a HTTP/1.1", "GET /b HTTP/1.1", "GET /new HTTP/1.1"])
    other = pl.Series("request", ["GET /x HTTP/1.1", "GET /y HTTP/1.1", "GET /z HTTP/1.1"])  # 2 + 3 > 4: a new frame
    join = access_log._rows_of
    interleaved = []

    def rows_of(requests, frame):
        at = join(requests, frame)
        if not interleaved:
            interleaved.append(True)
            cache.rows(other)  # runs between this batch's join and its turn for the lock
        return at

    monkeypatch.setattr(access_log, "_rows_of", rows_of)
    frame, at = cache.rows(mine)
    assert frame[at]["request"].to_list() == mine.to_list()
    assert frame[at]["path"].to_list() == ["/a", "/b", "/new"]


def test_client_address_in_canonical_spelling(tmp_path):
    from forensics.loaders.access_log import read_access_logs

    p = tmp_path / "access_log"
    p.write_text('2001:0DB8:0:0::1 - - [31/Mar/2017:23:28:01 +0900] "GET / HTTP/1.1" 200 5 "-" "x"\n'
                 '::ffff:192.0.2.7 - - [31/Mar/2017:23:28:02 +0900] "GET / HTTP/1.1" 200 5 "-" "x"\n'
                 '192.0.2.8 - - [31/Mar/2017:23:28:03 +0900] "GET / HTTP/1.1" 200 5 "-" "x"\n')
    got = read_access_logs([p], case_root=tmp_path).records["client_ip"].to_list()
    assert got == ["2001:db8::1", "192.0.2.7", "192.0.2.8"]


def test_warm_up_readies_the_native_pieces_of_the_loader():
    """What ``make install`` runs: the scanner, the named formats' kernels and the percent decoder
    compiled (or loaded from numba's cache), so no analyst's first load waits for them."""
    from forensics.loaders import access_log, access_scan, scan_kernels, urldecode
    from forensics.loaders.logformat import NAMED_FORMATS, compile_format

    assert access_log.warm_up() >= 0
    assert access_scan._scan.signatures and urldecode._decode.signatures
    for name in NAMED_FORMATS:
        assert scan_kernels.kernel_of(access_scan.program_of(compile_format(name))).signatures, name
