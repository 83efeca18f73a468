"""Every loader on hostile bytes: nothing lost, nothing raised, a reason for every reject.

Property (the handling of evidence): for each input file, ``records + rejected`` equals the lines it
holds (data rows for a CSV), no exception escapes, and every reject carries a reason. Inputs mix
well-formed lines with arbitrary bytes, NUL bytes, invalid UTF-8 / CP932, CRLF, lines cut short
(missing fields), impossible and out-of-range dates; plain and gzip, and gzip truncated or
corrupted anywhere. 1 MB lines and decompression bombs are fixed examples (too big to draw).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from forensics import evidence
from forensics.loaders import read_access_logs, read_app_logs, read_bodyfiles, read_db_export, read_query_logs

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# --- building blocks ----------------------------------------------------------------------------

YEARS = st.sampled_from(["2017", "0000", "9999", "1969", "2038", "12017"])
MONTHS = st.sampled_from(["01", "03", "11", "12", "00", "13", "99"])
DAYS = st.sampled_from(["01", "29", "31", "00", "32"])
HMS = st.sampled_from(["00:00:00", "23:59:59", "01:30:00", "24:00:00", "12:60:61", "99:99:99"])
MONS = st.sampled_from(["Jan", "Mar", "Nov", "Dec", "Foo", "mar"])
OFFSETS = st.sampled_from(["+0900", "-0500", "-0400", "+0000", "+9999", "-2400"])
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n"), max_size=40)
HOSTILE = st.sampled_from([
    "<script>alert(1)</script>", "javascript:alert(1)", "=cmd|' /C calc'!A0", "@SUM(1+1)",
    "\x1b[2J\x1b[31mOWNED\x1b[0m", "\u202eexe.gif", "\x00\x00", "4987654321012349", "\\x41\\", '"',
])
JUNK = st.binary(max_size=60).map(lambda b: b.replace(b"\n", b""))
INVALID_UTF8 = st.sampled_from([b"\xff\xfe", b"\xc3\x28", b"\xe6\x9d", b"\xed\xa0\x80", b"\x80abc", b"\xf8\x88\x80\x80\x80"])


def _enc(s: str) -> bytes:
    return s.encode("utf-8", "surrogatepass")


@st.composite
def lines_of(draw, good_line) -> bytes:
    """A file: lines that are well-formed, hostile, cut short, junk, invalid UTF-8; LF or CRLF."""
    out = []
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(["good", "good", "good", "cut", "junk", "invalid", "empty", "nul"]))
        line = _enc(draw(good_line))
        if kind == "cut":
            line = line[: draw(st.integers(0, max(len(line) - 1, 0)))]
        elif kind == "junk":
            line = draw(JUNK)
        elif kind == "invalid":
            at = draw(st.integers(0, len(line)))
            line = line[:at] + draw(INVALID_UTF8) + line[at:]
        elif kind == "empty":
            line = b""
        elif kind == "nul":
            line = line.replace(b" ", b"\x00", 1)
        eol = draw(st.sampled_from([b"\n", b"\n", b"\r\n", b"\r\r\n"]))
        out.append(line + eol)
    data = b"".join(out)
    if data and draw(st.booleans()):
        data = data.rstrip(b"\n")  # last line without newline
    return data


def n_lines(data: bytes) -> int:
    if not data:
        return 0
    return data.count(b"\n") + (0 if data.endswith(b"\n") else 1)


def access_line():
    return st.builds(
        lambda ip, d, mon, y, hms, off, path, status, ref, ua: (
            f'{ip} - - [{d}/{mon}/{y}:{hms} {off}] "GET {path} HTTP/1.1" {status} 12 "{ref}" "{ua}"'),
        st.sampled_from(["203.0.113.9", "::1", "2001:db8::1", "-", "host.example"]),
        DAYS, MONS, YEARS, HMS, OFFSETS,
        st.one_of(HOSTILE, TEXT).map(lambda s: "/" + s.replace('"', '\\"').replace(" ", "%20")),
        st.sampled_from(["200", "404", "999", "20"]),
        st.one_of(HOSTILE, TEXT).map(lambda s: s.replace("\\", "\\\\").replace('"', '\\"')),
        st.one_of(HOSTILE, TEXT).map(lambda s: s.replace("\\", "\\\\").replace('"', '\\"')),
    )


def app_line():
    first = st.builds(
        lambda y, m, d, hms, msg, ip: f"{y}/{m}/{d} {hms} [/admin/index.php] {msg} from {ip}",
        YEARS, MONTHS, DAYS, HMS,
        st.one_of(HOSTILE, TEXT, st.just("login : user=admin(2) auth=0 lastlogin=2017-03-30 10:00:00 sid=abc")),
        st.sampled_from(["203.0.113.9", "::1", "unknown"]),
    )
    return st.one_of(first, first, TEXT.map(lambda s: "  continuation " + s))  # multi-line messages


def query56_line():
    timed = st.builds(
        lambda y, m, d, h, cid, cmd, arg: f"{y[-2:]}{m}{d} {h:>2}:04:05\t{cid:>5} {cmd}\t{arg}",
        YEARS, MONTHS, DAYS, st.sampled_from(["0", "9", "23", "24", "99"]), st.integers(0, 10**6),
        st.sampled_from(["Query", "Connect", "Quit", "Init DB"]), st.one_of(HOSTILE, TEXT),
    )
    same = st.builds(lambda cid, arg: f"\t\t{cid:>5} Query\t{arg}", st.integers(0, 99), st.one_of(HOSTILE, TEXT))
    banner = st.sampled_from(["/usr/sbin/mysqld, Version: 5.6.40-log (MySQL). started with:",
                              "Tcp port: 3306  Unix socket: /var/lib/mysql/mysql.sock", "Time                 Id Command    Argument"])
    return st.one_of(timed, same, same, banner, TEXT.map(lambda s: "AND " + s))


def query57_line():
    timed = st.builds(
        lambda y, m, d, hms, frac, tz, cid, arg: f"{y}-{m}-{d}T{hms}{frac}{tz}\t{cid:>5} Query\t{arg}",
        YEARS, MONTHS, DAYS, HMS, st.sampled_from(["", ".123456", ".1", ".1234567890"]),
        st.sampled_from(["Z", "+09:00", "-05:00", "+99:99"]), st.integers(0, 10**6), st.one_of(HOSTILE, TEXT),
    )
    return st.one_of(timed, timed, TEXT.map(lambda s: "  WHERE " + s))


def body_line():
    epoch = st.one_of(st.integers(-(2**63), 2**63).map(str), st.sampled_from(["0", "1491008000", "1491008000.5", "1e30", "99999999999999999999999"]))
    return st.builds(
        lambda name, uid, size, a, m, c, cr: f"0|/var/www/{name}|12-128-1|r/rrw-r--r--|{uid}|48|{size}|{a}|{m}|{c}|{cr}",
        st.one_of(HOSTILE, TEXT).map(lambda s: s.replace("\r", "")),
        st.one_of(st.integers(-(2**70), 2**70).map(str), st.just("48")),
        st.one_of(st.integers(0, 2**80).map(str), st.just("40")),
        epoch, epoch, epoch, epoch,
    )


# --- the property -----------------------------------------------------------------------------

def check_loaded(loaded, files: dict[str, int | None], *, single_line: bool) -> None:
    """``files``: source -> expected lines (None when unknowable, e.g. damaged gzip)."""
    counts = {r["source"]: r for r in loaded.counts.iter_rows(named=True)}
    assert set(counts) == set(files), (counts, files)
    rej = loaded.rejects
    assert rej["reason"].null_count() == 0 and (rej["reason"].str.strip_chars() != "").all(), rej
    for source, expected in files.items():
        c = counts[source]
        total = c["records"] + c["rejected"]
        if expected is not None:
            assert total == expected, (source, c, expected)
        mine = rej.filter(pl.col("source") == source)
        # an access log whose head is no log at all: the lines no record was read from are one
        # reject per batch (no line number), standing for all of them in the counts
        whole = mine.filter(pl.col("line_no").is_null() & pl.col("reason").str.starts_with("no known access-log format"))
        if whole.height:
            assert c["rejected"] >= mine.height, (source, c, mine)
            nos = loaded.records.filter(pl.col("source") == source)["line_no"].to_list()
            assert len(set(nos)) == len(nos) == c["records"] and all(1 <= n <= total for n in nos)
            continue
        assert mine.height == c["rejected"]
        if single_line:  # every physical line is one record or one reject: 1..total exactly once
            nos = loaded.records.filter(pl.col("source") == source)["line_no"].to_list()
            nos += mine["line_no"].to_list()
            assert sorted(nos) == list(range(1, total + 1)), (source, sorted(nos), total)
    # excerpts of rejects are inert: no raw control character (ESC, NUL, CR) survives
    assert not rej["excerpt"].fill_null("").str.contains(r"[\x00-\x08\x0b-\x1f\x7f]").any()


def _gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


@st.composite
def packed(draw, good_line):
    """(file bytes, expected lines or None): plain, gzip, truncated gzip, corrupted gzip."""
    data = draw(lines_of(good_line))
    how = draw(st.sampled_from(["plain", "plain", "gzip", "truncated", "corrupt"]))
    if how == "plain":
        # content is gzip by its first two bytes, whatever else it is: a text starting with them
        # is read as a (corrupt) gzip stream
        return data, (None if data[:2] == b"\x1f\x8b" else n_lines(data))
    gz = _gz(data)
    if how == "gzip":
        return gz, n_lines(data)
    if how == "truncated":
        return gz[: draw(st.integers(2, len(gz) - 1))], None
    at = draw(st.integers(10, len(gz) - 1))
    return gz[:at] + bytes([gz[at] ^ draw(st.integers(1, 255))]) + gz[at + 1 :], None


LINE_LOADERS = {
    "access": (access_line, lambda p, root: read_access_logs(p, case_root=root, show_progress=False), True),
    "app": (app_line, lambda p, root: read_app_logs(p, case_root=root, timezone="America/New_York", show_progress=False), False),
    "query56": (query56_line, lambda p, root: read_query_logs(p, case_root=root, timezone="Asia/Tokyo", show_progress=False), False),
    "query57": (query57_line, lambda p, root: read_query_logs(p, case_root=root, timezone="Asia/Tokyo", show_progress=False), False),
    "bodyfile": (body_line, lambda p, root: read_bodyfiles(p, case_root=root, show_progress=False), True),
}


def _run(kind: str, tmp_path: Path, files: list[tuple[bytes, int | None]]):
    _, read, single = LINE_LOADERS[kind]
    root = tmp_path / f"case-{kind}"
    root.mkdir(exist_ok=True)
    paths, expect = [], {}
    for i, (data, n) in enumerate(files):
        name = f"ev.log.{i + 1}" if i else "ev.log"
        (root / name).write_bytes(data)
        paths.append(root / name)
        expect[name] = n
    loaded = read(paths, root)
    check_loaded(loaded, expect, single_line=single)
    return loaded


@pytest.mark.parametrize("kind", sorted(LINE_LOADERS))
def test_line_loader_accounts_for_every_line(kind, tmp_path):
    strategy = st.lists(packed(LINE_LOADERS[kind][0]()), min_size=1, max_size=3)

    @SETTINGS
    @given(files=strategy)
    def prop(files):
        _run(kind, tmp_path, files)

    prop()


# --- fixed big examples -------------------------------------------------------------------------

def test_one_megabyte_lines_are_accounted_for(tmp_path):
    big = "A" * (1 << 20)
    access = (f'203.0.113.9 - - [01/Apr/2017:10:00:00 +0900] "GET /?q={big} HTTP/1.1" 200 1 "-" "{big}"\n'
              f"{big}\n").encode()
    loaded = _run("access", tmp_path, [(access, 2), (_gz(access), 2)])
    assert loaded.records.height == 2 and loaded.rejects.height == 2
    assert loaded.rejects["excerpt"].str.len_chars().max() < 200  # an excerpt, not the megabyte
    app = f"2017/04/01 10:00:00 [/admin/x.php] {big}\n{big}\n from 203.0.113.9\n".encode()
    assert _run("app", tmp_path, [(app, 3)]).records.height == 1
    q = f"170401 10:00:00\t    5 Query\tSELECT '{big}'\n{big}\n".encode()
    assert _run("query56", tmp_path, [(q, 2)]).records["line_count"].to_list() == [2]
    body = f"0|/{big}|1|r/r|0|0|1|0|1491008000|0|0\n".encode()
    assert _run("bodyfile", tmp_path, [(body, 1)]).records.height == 1


@pytest.mark.parametrize("payload", ["zeros", "log-lines"])
def test_decompression_bomb_is_bounded_and_reported(payload, tmp_path):
    """A small gzip that expands past the ratio bound: the rest is one reject with the reason."""
    line = b""
    if payload == "zeros":
        block = b"\0" * (4 << 20)
    else:
        line = b'203.0.113.66 - - [02/Apr/2017:10:00:00 +0900] "GET / HTTP/1.1" 200 1 "-" "x"\n'
        block = line * ((4 << 20) // len(line))
    bomb = _gz(block) * 48  # 192 MiB from a few hundred kB
    assert len(block) * 48 > evidence.MAX_RATIO * len(bomb)  # a bomb by the ratio rule
    loaded = _run("access", tmp_path, [(bomb, None)])
    reasons = loaded.rejects["reason"].to_list()
    assert any("decompression bomb" in r for r in reasons), reasons
    counts = loaded.counts.row(0, named=True)
    kept_bytes = (counts["records"] + counts["rejected"]) * (len(line) if payload != "zeros" else 1)
    # the guarantee: no more than max(64 MiB, 200 x the compressed size) is decompressed (plus one
    # block); the compressed size read so far may be over-estimated by read-ahead, never under
    assert kept_bytes <= max(evidence.BOMB_MIN_BYTES, evidence.MAX_RATIO * len(bomb)) + (64 << 20)
    assert kept_bytes < len(block) * 48 * 3 // 4  # and the bomb was cut well before its end


# --- database exports (CSV; UTF-8 and CP932) ----------------------------------------------------

HEADER = "customer_id,name01,email,tel01,create_date,update_date,del_flg"


@st.composite
def csv_file(draw, encoding: str):
    """(bytes, expected data rows): rows with hostile text, wrong field counts, bad dates,
    bytes invalid in the encoding; no quotes, so one physical line is one row."""
    rows = []
    for _ in range(draw(st.integers(0, 10))):
        kind = draw(st.sampled_from(["good", "good", "good", "fields", "invalid", "date"]))
        name = draw(st.one_of(HOSTILE, st.text(alphabet="東商マート太郎abc =+-@<>", max_size=12))).replace(",", " ").replace('"', " ")
        name = "".join(ch for ch in name if ch not in "\r\n\x00")
        date = draw(st.sampled_from(["2017-04-01 10:00:00", "2017/04/01 10:00:00", "2017-13-45 99:00:00", "0000-00-00 00:00:00", "", "9999-12-31 23:59:59"]))
        row = f"{draw(st.integers(1, 10**20))},{name},a@example.com,090,{date},{date},0"
        try:
            raw = row.encode(encoding)
        except UnicodeEncodeError:
            raw = row.encode("utf-8", "replace")
            kind = "skip"
        if kind == "skip":
            continue
        if kind == "fields":
            raw = raw.rsplit(b",", draw(st.integers(1, 3)))[0]
        elif kind == "invalid":
            raw = raw + (b",\xff\xfe" if encoding == "utf-8" else b",\x81\x7f\xa0\xfd")
        rows.append(raw)
    eol = draw(st.sampled_from([b"\n", b"\r\n"]))
    data = HEADER.encode(encoding) + eol + b"".join(r + eol for r in rows)
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data if encoding == "utf-8" else data
    return data, len(rows)


@pytest.mark.parametrize("encoding", ["utf-8", "cp932"])
def test_db_export_accounts_for_every_row(encoding, tmp_path):
    @SETTINGS
    @given(f=csv_file(encoding))
    @example(f=(b"", 0))
    @example(f=(b"customer_id,name01\n\x00\x00\x00\n", 1))
    def prop(f):
        data, n = f
        path = tmp_path / "dtb_customer.csv"
        path.write_bytes(data)
        loaded = read_db_export(path, case_root=tmp_path, encoding=encoding, timezone="America/New_York")
        check_loaded(loaded, {"dtb_customer.csv": n}, single_line=False)

    prop()


@SETTINGS
@given(data=st.binary(max_size=400), encoding=st.sampled_from(["utf-8", "cp932", "auto"]))
def test_db_export_arbitrary_bytes_never_raise(data, encoding, tmp_path):
    path = tmp_path / "dtb_order.csv"
    path.write_bytes(data)
    loaded = read_db_export(path, case_root=tmp_path, encoding=encoding, timezone="Asia/Tokyo")
    check_loaded(loaded, {"dtb_order.csv": None}, single_line=False)


@SETTINGS
@given(data=st.binary(max_size=400), gz=st.booleans())
def test_any_bytes_any_line_loader(data, gz, tmp_path):
    """Arbitrary bytes (NUL, CR, invalid UTF-8 anywhere) through every line loader."""
    blob = _gz(data) if gz else data
    for kind in LINE_LOADERS:
        _run(kind, tmp_path, [(blob, n_lines(data))])
