r"""Round trips: a random format string, random lines written by an independent writer (this
module's, as Apache, nginx and IIS/CloudFront write them), read back with ``format=`` that string;
every field must come back.

The writers never use the loader's regexes: each field knows how its server writes a value
(Apache: ``\"`` and ``\\`` inside quotes; nginx ``escape=default``: ``\x22``, ``\x5C``;
``escape=json``: ``\"``, ``\\``; IIS: a space as ``+``; CloudFront: percent-encoded twice).
"""

from __future__ import annotations

import datetime as dt
import string
import tempfile
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forensics.loaders import read_access_logs

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

IP = st.builds("{}.{}.{}.{}".format, *[st.integers(1, 254)] * 4)
#: A value with no space, quote or backslash (what an unquoted field can hold).
WORD = st.text(string.ascii_letters + string.digits + "-._~/;:,()=!*", min_size=1, max_size=16)
#: Printable ASCII, spaces, quotes and backslashes included (what a quoted field can hold).
FREE = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=24)
PATH = st.text(string.ascii_lowercase + string.digits + "/._-", min_size=0, max_size=12).map(lambda p: "/" + p)
QUERY = st.none() | st.text(string.ascii_lowercase + string.digits + "=&", min_size=1, max_size=10)
WHEN = st.datetimes(dt.datetime(2000, 1, 1), dt.datetime(2030, 12, 31)).map(lambda t: t.replace(microsecond=0))
OFFSET = st.integers(-12 * 60, 14 * 60).map(lambda m: m - m % 15)
HOST = st.text(string.ascii_lowercase + string.digits + ".-", min_size=1, max_size=12).filter(lambda h: h not in "-")


@dataclass
class Line:
    """One written line and what the table must hold for it."""

    parts: list[str] = field(default_factory=list)
    want: dict = field(default_factory=dict)
    extra: list[str] = field(default_factory=list)


def _load(definition: str, lines: list[str]):
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "access_log"
        p.write_text("".join(x + "\n" for x in lines), encoding="utf-8")
        loaded = read_access_logs([p], case_root=d, format=definition, show_progress=False)
    return loaded


def _check(loaded, written: list[Line]):
    assert loaded.rejects.is_empty(), loaded.rejects.to_dicts()[:3]
    assert loaded.records.height == len(written)
    for row, line in zip(loaded.records.iter_rows(named=True), written):
        got = {k: row[k] for k in line.want}
        assert got == line.want, (line.parts, got, line.want)
        assert row["extra"] == (" ".join(line.extra) or None)


def _request(draw) -> tuple[str, dict]:
    method, path, query = draw(st.sampled_from(["GET", "POST", "HEAD"])), draw(PATH), draw(QUERY)
    proto = draw(st.sampled_from(["HTTP/1.0", "HTTP/1.1"]))
    target = path + ("?" + query if query is not None else "")
    text = f"{method} {target} {proto}"
    return text, {"request_raw": text, "method": method, "path": path, "query_raw": query, "protocol": proto}


# --- Apache LogFormat ---------------------------------------------------------------------------

def _apache_quote(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"')  # mod_log_config's escaping inside a quoted field


def _apache_t(t: dt.datetime, off: int) -> str:
    sign = "-" if off < 0 else "+"
    return f"[{t:%d}/{MONTHS[t.month - 1]}/{t:%Y:%H:%M:%S} {sign}{abs(off) // 60:02d}{abs(off) % 60:02d}]"


#: (directive, how to draw its value and what it fills): each returns (logged text, wanted columns, extra).
def _apache_field(directive: str, quoted: bool):
    def draw_value(draw):
        if directive in ("%h", "%a"):
            ip = draw(IP)
            return ip, {"client_ip": ip}, None
        if directive == "%l":
            v = draw(WORD)
            return v, {"ident": v}, None
        if directive == "%u":
            v = draw(WORD)
            return v, {"remote_user": v}, None
        if directive == "%t":
            t, off = draw(WHEN), draw(OFFSET)
            ts = (t - dt.timedelta(minutes=off)).replace(tzinfo=dt.timezone.utc)
            return _apache_t(t, off), {"ts": ts, "utc_offset_min": off}, None
        if directive == "%r":
            text, want = _request(draw)
            return text, want, None
        if directive in ("%>s", "%s"):
            v = draw(st.integers(100, 599))
            return str(v), {"status": v}, None
        if directive == "%b":
            v = draw(st.none() | st.integers(0, 10**9))
            return ("-" if v is None else str(v)), {"bytes": v}, None
        if directive in ("%O", "%I"):
            v = draw(st.none() | st.integers(0, 10**12))
            return ("-" if v is None else str(v)), {"bytes_sent" if directive == "%O" else "bytes_received": v}, None
        if directive == "%D":
            v = draw(st.integers(0, 10**9))
            return str(v), {"duration_us": v}, None
        if directive == "%v":
            v = draw(HOST.filter(lambda h: ":" not in h))
            return v, {"vhost": v}, None
        if directive == "%p":
            v = draw(st.integers(1, 65535))
            return str(v), {"port": v}, None
        if directive in ("%{Referer}i", "%{User-Agent}i"):
            v = draw(FREE if quoted else WORD)
            col = "referer" if "Referer" in directive else "user_agent"
            return (_apache_quote(v) if quoted else v), {col: v}, None
        if directive == "%{X-Forwarded-For}i":
            ips = draw(st.lists(IP, min_size=1, max_size=3 if quoted else 1))
            v = ", ".join(ips)
            return v, {"forwarded_for": v}, None
        if directive == "%{X-Request-Id}i":
            v = draw(WORD)
            return v, {}, f"header_x_request_id={v}"
        raise AssertionError(directive)

    return draw_value


#: One directive per field; %h and %t always, the rest a random subset. Fields that may hold
#: spaces are quoted when drawn unquoted-incompatible.
APACHE_OPTIONAL = ["%l", "%u", "%r", "%>s|%s", "%b", "%O", "%I", "%D", "%v", "%p", "%{Referer}i", "%{User-Agent}i",
                   "%{X-Forwarded-For}i", "%{X-Request-Id}i"]
SEPARATORS = [" ", " ", " | ", " rt="]


def _draw_lines(draw, fields) -> list[Line]:
    """One to four lines of the fields ``(writer, place)``: ``writer(draw)`` gives a value's text,
    what the loader must read from it and its ``extra`` item; ``place(text)`` puts the text in
    the line (separator, quotes)."""
    written = []
    for _ in range(draw(st.integers(1, 4))):
        line = Line()
        for writer, place in fields:
            text, want, extra = writer(draw)
            line.parts.append(place(text))
            line.want.update(want)
            if extra:
                line.extra.append(extra)
        written.append(line)
    return written


@st.composite
def apache_case(draw):
    chosen = ["%h|%a", "%t", *draw(st.lists(st.sampled_from(APACHE_OPTIONAL), unique=True))]
    order = draw(st.permutations(chosen))
    tokens = []
    for d in order:
        directive = draw(st.sampled_from(d.split("|")))
        quoted = directive != "%t" and draw(st.booleans())
        tokens.append((directive, quoted))
    seps = [draw(st.sampled_from(SEPARATORS)) for _ in tokens[1:]]
    definition = "".join((s if i else "") + (f'"{d}"' if q else d)
                         for i, ((d, q), s) in enumerate(zip(tokens, [""] + seps)))
    fields = [(_apache_field(d, q), lambda text, s=s, q=q: s + (f'"{text}"' if q else text))
              for (d, q), s in zip(tokens, [""] + seps)]
    return definition, _draw_lines(draw, fields)


@SETTINGS
@given(apache_case())
def test_apache_logformat_round_trip(case):
    definition, written = case
    _check(_load(definition, ["".join(line.parts) for line in written]), written)


# --- nginx log_format ---------------------------------------------------------------------------

def _nginx_escape(v: str, mode: str) -> str:
    """ngx_http_log_escape (``escape=default``) or the JSON escaping (``escape=json``)."""
    if mode == "json":
        return v.replace("\\", "\\\\").replace('"', '\\"')
    return "".join(f"\\x{ord(c):02X}" if c in '"\\' or ord(c) < 0x20 or ord(c) > 0x7E else c for c in v)


def _nginx_field(var: str, quoted: bool, mode: str):
    def draw_value(draw):
        if var == "remote_addr":
            ip = draw(IP)
            return ip, {"client_ip": ip}, None
        if var == "remote_user":
            v = draw(WORD)
            return v, {"remote_user": v}, None
        if var in ("time_local", "time_iso8601"):
            t, off = draw(WHEN), draw(OFFSET)
            ts = (t - dt.timedelta(minutes=off)).replace(tzinfo=dt.timezone.utc)
            sign = "-" if off < 0 else "+"
            if var == "time_local":
                text = _apache_t(t, off)[1:-1]
            else:
                text = f"{t:%Y-%m-%dT%H:%M:%S}{sign}{abs(off) // 60:02d}:{abs(off) % 60:02d}"
            return text, {"ts": ts, "utc_offset_min": off}, None
        if var == "request":
            text, want = _request(draw)
            return text, want, None
        if var == "status":
            v = draw(st.integers(100, 599))
            return str(v), {"status": v}, None
        if var == "body_bytes_sent":
            v = draw(st.integers(0, 10**9))
            return str(v), {"bytes": v}, None
        if var in ("bytes_sent", "request_length"):
            v = draw(st.integers(0, 10**12))
            return str(v), {"bytes_sent" if var == "bytes_sent" else "bytes_received": v}, None
        if var == "request_time":
            ms = draw(st.integers(0, 10**7))
            return f"{ms // 1000}.{ms % 1000:03d}", {"duration_us": ms * 1000}, None
        if var == "host":
            v = draw(HOST)
            return v, {"vhost": v}, None
        if var == "server_port":
            v = draw(st.integers(1, 65535))
            return str(v), {"port": v}, None
        if var in ("http_referer", "http_user_agent"):
            v = draw(FREE if quoted else WORD)
            logged = _nginx_escape(v, mode)
            col = "referer" if var == "http_referer" else "user_agent"
            # escape=json is undone; an escape=default \xNN stays as logged (as Apache's \xNN do)
            return logged, {col: v if mode == "json" else logged}, None
        if var == "http_x_forwarded_for":
            v = ", ".join(draw(st.lists(IP, min_size=1, max_size=3 if quoted else 1)))
            return v, {"forwarded_for": v}, None
        raise AssertionError(var)

    return draw_value


NGINX_OPTIONAL = ["remote_user", "request", "status", "body_bytes_sent", "bytes_sent", "request_length", "request_time", "host",
                  "server_port", "http_referer", "http_user_agent", "http_x_forwarded_for"]


@st.composite
def nginx_case(draw):
    mode = draw(st.sampled_from(["default", "json"]))
    prefix = draw(st.sampled_from(["", "escape=default "])) if mode == "default" else "escape=json "
    chosen = ["remote_addr", "time_local|time_iso8601", *draw(st.lists(st.sampled_from(NGINX_OPTIONAL), unique=True))]
    tokens = []
    for v in draw(st.permutations(chosen)):
        var = draw(st.sampled_from(v.split("|")))
        wrap = ("[", "]") if var.startswith("time_") else (('"', '"') if draw(st.booleans()) else ("", ""))
        tokens.append((var, wrap))
    seps = [draw(st.sampled_from(SEPARATORS)) for _ in tokens[1:]]
    definition = prefix + "".join(s + f"{a}${v}{b}" for (v, (a, b)), s in zip(tokens, [""] + seps))
    fields = [(_nginx_field(var, a == '"', mode), lambda text, s=s, a=a, b=b: f"{s}{a}{text}{b}")
              for (var, (a, b)), s in zip(tokens, [""] + seps)]
    return definition, _draw_lines(draw, fields)


@SETTINGS
@given(nginx_case())
def test_nginx_log_format_round_trip(case):
    definition, written = case
    _check(_load(definition, ["".join(line.parts) for line in written]), written)


def test_an_nginx_default_escape_reads_as_logged():
    line = Line(parts=['192.0.2.1 [31/Mar/2017:23:28:41 +0900] "GET / HTTP/1.1" "Mozilla \\x22x\\x22 \\x5C"'],
                want={"user_agent": 'Mozilla \\x22x\\x22 \\x5C', "path": "/"})
    _check(_load('$remote_addr [$time_local] "$request" "$http_user_agent"', line.parts), [line])


# --- W3C extended -------------------------------------------------------------------------------

W3C_OPTIONAL = ["cs-method+cs-uri-stem", "cs-uri-query", "cs-version", "sc-status", "sc-bytes", "cs-bytes", "cs(Referer)",
                "cs(User-Agent)", "s-port", "cs-host|cs(Host)", "time-taken", "cs-username",
                "X-Forwarded-For|cs(X-Forwarded-For)", "s-ip", "sc-substatus"]
#: What IIS can write in a user agent without loss (it writes a space as "+", and a "+" as itself).
IIS_AGENT = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="+") | st.just(" "),
                    min_size=1, max_size=24).filter(lambda v: v != "-")


def _w3c_field(name: str, tab: bool):
    def draw_value(draw):
        if name == "c-ip":
            v = draw(IP)
            return v, {"client_ip": v}, None
        if name == "cs-uri-query":
            v = draw(QUERY)
            return (v or "-"), {"query_raw": v}, None
        if name == "cs-version":
            v = draw(st.sampled_from(["HTTP/1.0", "HTTP/1.1", "HTTP/2.0"]))
            return v, {"protocol": v}, None
        if name == "sc-status":
            v = draw(st.integers(100, 599))
            return str(v), {"status": v}, None
        if name in ("sc-bytes", "cs-bytes"):
            v = draw(st.integers(0, 10**9))
            return str(v), {"bytes" if name == "sc-bytes" else "bytes_received": v}, None
        if name == "cs(Referer)":
            v = "http://" + draw(HOST) + draw(PATH)
            return v, {"referer": v}, None
        if name == "cs(User-Agent)":
            if tab:  # CloudFront: URL-encoded, then the "%" encoded again
                v = draw(FREE.filter(lambda x: x not in ("", "-")))
                return urllib.parse.quote(urllib.parse.quote(v, safe="/;()"), safe="/;()%"), {"user_agent": v}, None
            v = draw(IIS_AGENT)
            return v.replace(" ", "+"), {"user_agent": v}, None
        if name == "s-port":
            v = draw(st.integers(1, 65535))
            return str(v), {"port": v}, None
        if name in ("cs-host", "cs(Host)"):
            v = draw(HOST)
            return v, {"vhost": v}, None
        if name == "time-taken":
            ms = draw(st.integers(0, 10**7))
            text = f"{ms // 1000}.{ms % 1000:03d}" if tab else str(ms)  # CloudFront: seconds; IIS: ms
            return text, {"duration_us": ms * 1000}, None
        if name == "cs-username":
            v = draw(WORD)
            return v, {"remote_user": v}, None
        if name in ("X-Forwarded-For", "cs(X-Forwarded-For)"):
            v = draw(IP)
            return v, {"forwarded_for": v}, None
        if name in ("s-ip", "sc-substatus"):
            v = draw(IP) if name == "s-ip" else str(draw(st.integers(0, 99)))
            return v, {}, f"{name}={v}"
        raise AssertionError(name)

    return draw_value


@st.composite
def w3c_case(draw):
    tab = draw(st.booleans())
    picked = draw(st.lists(st.sampled_from(W3C_OPTIONAL), unique=True))
    names = ["date", "time", "c-ip"]
    for p in picked:
        names.extend(draw(st.sampled_from(p.split("|"))).split("+"))
    names = draw(st.permutations(names))
    header = ["#Software: Microsoft Internet Information Services 10.0", "#Version: 1.0",
              "#Date: 2017-03-31 00:00:00", "#Fields: " + " ".join(names)]
    written = []
    for _ in range(draw(st.integers(1, 4))):
        line = Line()
        values = {}
        when = draw(WHEN)
        method, stem = draw(st.sampled_from(["GET", "POST"])), draw(PATH)
        for n in names:
            if n == "date":
                values[n] = f"{when:%Y-%m-%d}"
            elif n == "time":
                values[n] = f"{when:%H:%M:%S}"
            elif n == "cs-method":
                values[n] = method
            elif n == "cs-uri-stem":
                values[n] = stem
            else:
                text, want, extra = _w3c_field(n, tab)(draw)
                values[n] = text
                line.want.update(want)
                if extra:
                    line.extra.append(extra)
        if "cs-uri-stem" not in names:  # no request line to rebuild: its parts are kept in extra
            for n in ("cs-uri-query", "cs-version"):
                if n in names:
                    line.want.pop("query_raw" if n == "cs-uri-query" else "protocol", None)
                    line.extra.append(f"{n}={values[n]}")
        line.want["ts"] = when.replace(tzinfo=dt.timezone.utc)
        line.want["utc_offset_min"] = 0
        if "cs-method" in names:
            line.want.update(method=method, path=stem)
        line.extra = [e for n in names for e in line.extra if e.startswith(n + "=")]  # in field order
        line.parts = ["\t".join(values[n] for n in names) if tab else " ".join(values[n] for n in names)]
        written.append(line)
    return header, written


@SETTINGS
@given(w3c_case())
def test_w3c_round_trip(case):
    header, written = case
    loaded = _load("w3c", header + [line.parts[0] for line in written])
    assert loaded.counts.row(0)[1:] == (len(header) + len(written), 0, len(written))
    _check(loaded, written)
