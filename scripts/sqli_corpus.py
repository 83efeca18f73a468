"""Build the SQL-injection corpus of ``tests/data/sqli_corpus/`` from the real tool.

What it does:

1. installs sqlmap (``SQLMAP_VERSION``, from PyPI, pure Python) into a cache folder on first
   use (``$FORENSICS_CACHE``, by default the git-ignored ``.cache/`` of the repository), outside
   the project's own install;
2. starts a small, deliberately vulnerable shop on 127.0.0.1 (``http.server`` + ``sqlite3``):
   pages whose parameters are pasted into SQL in a numeric, a quoted-string, a parenthesised
   and a ``LIKE`` context; database errors are echoed in the page (error-based works), ``sleep``
   and a slow ``randomblob`` exist (time-based works); every request it receives is written as
   an Apache combined access-log line;
3. runs sqlmap against it, one run per (DBMS forced with ``--dbms``, technique letter, tamper
   script, level, risk) of :func:`runs`; the run's settings go to a label file, never into the
   log line;
4. labels every captured line (:func:`label_line`) and writes ``sqlmap_access.log.gz`` and
   ``sqlmap_labels.csv.gz``.

Usage::

    .venv/bin/python scripts/sqli_corpus.py [--out tests/data/sqli_corpus] [--run-timeout 30] [--jobs 3]
    .venv/bin/python scripts/sqli_corpus.py --list     # the runs and their command lines

Labels (one row per log line, same order)
-----------------------------------------
``attack``
    the tested parameter's value differs from the page's original value and is not one of
    sqlmap's neutral probes below: it carries SQL (or a SQL-breaking heuristic string) that
    sqlmap built for the run's technique. ``technique`` is the run's technique, except for
    sqlmap's heuristic probes (the original value followed by a run of ``'"(),.``, or by
    ``<'">``) and its WAF/IPS probe (an extra parameter holding a fixed attack string), which
    are ``heuristic`` and ``waf-probe`` in every run.
``benign-probe``
    the original value, or a value that is a plain random number or random alphanumeric word
    (sqlmap's page-stability and random-value checks), also when a tamper script wrapped it
    (encoded again, ``%`` before each character, a null byte appended); these carry no SQL and
    are excluded from recall and from the false-positive count.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import os
import re
import shlex
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

SQLMAP_VERSION = "1.10.10"
REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "tests" / "data" / "sqli_corpus"

# --- the vulnerable shop ------------------------------------------------------------------------

#: page -> (tested parameter, its original value, the statement the value is pasted into, other
#: parameters of the page's ordinary URL)
PAGES: dict[str, tuple[str, str, str, str]] = {
    "/item.php": ("id", "3", "SELECT id, name, price FROM items WHERE id={v}", ""),
    "/search.php": ("q", "pear", "SELECT id, name, price FROM items WHERE name='{v}'", "page=1"),
    "/list.php": ("cat", "2", "SELECT id, name, price FROM items WHERE (cat_id={v}) ORDER BY price", "sort=price"),
    "/find.php": ("name", "app", "SELECT id, name, price FROM items WHERE name LIKE '%{v}%'", "disp=20"),
    # not injectable (a bound parameter): sqlmap finds nothing and sends every test of the run
    "/view.php": ("code", "A-100", "SELECT id, name, price FROM items WHERE name=?", "lang=en"),
    # used by the validation runs only: a double-quoted string context
    "/tag.php": ("t", "red", 'SELECT id, name, price FROM items WHERE name="{v}"', "n=10"),
}

_ITEMS = [(1, "apple", 120, 1), (2, "banana", 90, 1), (3, "cherry", 450, 2), (4, "pear", 200, 2), (5, "plum", 150, 3), (6, "grape", 380, 3)]


def _database() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:", check_same_thread=False)
    db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, price INTEGER, cat_id INTEGER)")
    db.executemany("INSERT INTO items VALUES (?, ?, ?, ?)", _ITEMS)
    db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, login TEXT, password TEXT)")
    db.executemany("INSERT INTO users VALUES (?, ?, ?)", [(1, "admin", "5f4dcc3b5aa765d61d8327deb882cf99"), (2, "staff", "e99a18c428cb38d5f260853678922e03")])

    def sleep(n):
        time.sleep(min(float(n or 0), 3.0))
        return 0

    def randomblob(n):  # sqlmap's SQLite delay is a huge RANDOMBLOB: sleep instead of burning a core
        n = int(n or 0)
        if n >= 10_000_000:
            time.sleep(min(n / 50_000_000, 3.0))
            return b"\0"
        return os.urandom(max(n, 1))

    for name in ("sleep", "pg_sleep"):
        db.create_function(name, 1, sleep)
    db.create_function("randomblob", 1, randomblob)
    return db


class Shop(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.db = _database()
        self.lock = threading.Lock()
        self.lines: list[str] = []


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # the access log is written below, not to stderr
        pass

    def do_GET(self):
        shop: Shop = self.server
        parts = urlsplit(self.path)
        page = PAGES.get(parts.path)
        status, body = 404, "<html><body>not found</body></html>"
        if page is not None:
            params = dict(parse_qsl(parts.query, keep_blank_values=True))
            value = params.get(page[0], "")
            bound = "?" in page[2]
            stmt = page[2] if bound else page[2].format(v=value)
            try:
                with shop.lock:
                    rows = shop.db.execute(stmt, (value,) if bound else ()).fetchall()
                status = 200
                body = "<html><body><ul>" + "".join(f"<li>{r[1]}: {r[2]} yen</li>" for r in rows) + "</ul></body></html>"
            except Exception as exc:  # the shop shows its database errors: error-based works
                status = 500
                body = f"<html><body><b>SQL error</b>: {type(exc).__name__}: {exc}<br>query: {stmt}</body></html>"
        data = body.encode("utf-8", "replace")
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        stamp = datetime.now(timezone.utc).strftime("%d/%b/%Y:%H:%M:%S +0000")
        ref = self.headers.get("Referer", "-")
        ua = self.headers.get("User-Agent", "-")
        line = f'{self.client_address[0]} - - [{stamp}] "{self.command} {self.path} {self.request_version}" {status} {len(data)} "{ref}" "{ua}"'
        with shop.lock:
            shop.lines.append(line)


# --- the runs ---------------------------------------------------------------------------------

TECHNIQUES = {"B": "boolean", "E": "error", "U": "union", "S": "stacked", "T": "time", "Q": "inline"}

#: --dbms choices (sqlmap's names); each forces that DBMS's payloads
DBMSES = (
    "MySQL", "PostgreSQL", "Microsoft SQL Server", "Oracle", "SQLite", "IBM DB2", "Firebird",
    "Informix", "ClickHouse", "Microsoft Access", "SAP MaxDB", "Sybase", "HSQLDB", "H2",
    "Apache Derby", "Vertica", "Presto", "MonetDB", "CUBRID", "Altibase", "MimerSQL", "CrateDB",
    "InterSystems Cache", "eXtremeDB", "FrontBase", "Raima Database Manager", "Virtuoso", "Snowflake",
    "Google Cloud Spanner", "SAP HANA",
)

#: tamper scripts, each run with the DBMS and techniques it is meant for
TAMPERS = (
    ("space2comment", "MySQL"), ("randomcase", "MySQL"), ("charencode", "MySQL"), ("between", "MySQL"),
    ("equaltolike", "MySQL"), ("space2plus", "PostgreSQL"), ("space2randomblank", "Microsoft SQL Server"),
    ("versionedkeywords", "MySQL"), ("versionedmorekeywords", "MySQL"), ("halfversionedmorekeywords", "MySQL"),
    ("space2mysqldash", "MySQL"), ("space2hash", "MySQL"), ("modsecurityversioned", "MySQL"),
    ("modsecurityzeroversioned", "MySQL"), ("greatest", "MySQL"), ("least", "PostgreSQL"),
    ("symboliclogical", "MySQL"), ("unionalltounion", "MySQL"), ("ifnull2ifisnull", "MySQL"),
    ("commalessmid", "MySQL"), ("concat2concatws", "MySQL"), ("chardoubleencode", "MySQL"),
    ("percentage", "Microsoft SQL Server"), ("space2mssqlblank", "Microsoft SQL Server"),
    ("space2dash", "Microsoft SQL Server"), ("apostrophenullencode", "MySQL"), ("appendnullbyte", "Microsoft Access"),
    ("space2comment,randomcase", "Oracle"), ("between,randomcase,space2comment", "PostgreSQL"),
    ("charencode,space2plus", "SQLite"), ("space2morecomment", "MySQL"), ("sp_password", "Microsoft SQL Server"),
    ("plus2concat", "Microsoft SQL Server"), ("substring2leftright", "PostgreSQL"), ("ord2ascii", "MySQL"),
    ("sleep2getlock", "MySQL"), ("uppercase", "Oracle"), ("lowercase", "IBM DB2"),
)


@dataclass(frozen=True)
class Run:
    run_id: str
    dbms: str
    technique: str  # sqlmap's letter
    tamper: str  # "" when none
    level: int
    risk: int
    page: str
    enumerate: bool = False
    fixed_part: str = ""  #: "validation" for the runs of :func:`validation_runs`

    @property
    def part(self) -> str:
        """``tune`` or ``heldout``: a hash of the run id, so a run's requests stay in one part
        (``validation`` for the validation runs)."""
        if self.fixed_part:
            return self.fixed_part
        return "heldout" if int(hashlib.sha256(self.run_id.encode()).hexdigest(), 16) % 2 else "tune"

    def args(self, base: str) -> list[str]:
        param, original, _stmt, extra = PAGES[self.page]
        url = f"{base}{self.page}?{param}={original}" + (f"&{extra}" if extra else "")
        out = [
            "-u", url, "-p", param, "--batch", "--flush-session", "--disable-coloring",
            f"--technique={self.technique}", f"--level={self.level}", f"--risk={self.risk}",
            f"--dbms={self.dbms}", "--time-sec=1", "--timeout=5", "--retries=0",
        ]
        if self.tamper:
            out.append(f"--tamper={self.tamper}")
        if self.enumerate:
            out += ["--banner", "--current-user", "--tables", "--dump", "-T", "users", "--start=1", "--stop=2"]
        return out


def runs() -> list[Run]:
    """Every run: each DBMS with each technique (levels and risks cycling up to 5 and 3, the
    pages cycling), enumeration runs on the real back-end (SQLite), and tamper runs."""
    out: list[Run] = []
    # every other run against the page that is not injectable: most of an attack's traffic
    # hits pages that resist it, and there sqlmap tries every test of the level
    pages = [p for v in ("/item.php", "/search.php", "/list.php", "/find.php") for p in ("/view.php", v)]
    k = 0
    for dbms in DBMSES:
        for letter in TECHNIQUES:
            level, risk = 1 + k % 5, 1 + k % 3
            slug = re.sub(r"[^a-z0-9]+", "-", dbms.lower()).strip("-")
            out.append(Run(f"{slug}-{letter}", dbms, letter, "", level, risk, pages[k % len(pages)]))
            k += 1
    for letter in "BUT":
        out.append(Run(f"sqlite-enum-{letter}", "SQLite", letter, "", 2, 1, pages[(k := k + 1) % len(pages)], enumerate=True))
    for i, (tamper, dbms) in enumerate(TAMPERS):
        for letter in ("BEUSTQ"[i % 6], "BEUSTQ"[(i + 3) % 6]):
            slug = re.sub(r"[^a-z0-9]+", "-", tamper)
            out.append(Run(f"tamper-{slug}-{letter}", dbms, letter, tamper, 3 + i % 3, 1 + i % 3, pages[(k := k + 1) % len(pages)]))
    return out


#: tamper chains of the validation runs (none of them is a setting of :data:`TAMPERS`)
VALIDATION_TAMPERS = (
    ("space2comment,charencode", "MySQL"), ("randomcase,versionedmorekeywords", "MySQL"),
    ("between,chardoubleencode", "MySQL"), ("space2hash,randomcase", "MySQL"),
    ("equaltolike,space2dash", "Microsoft SQL Server"), ("halfversionedmorekeywords,space2comment", "MySQL"),
    ("symboliclogical,randomcase", "MySQL"), ("greatest,space2mssqlblank", "Microsoft SQL Server"),
    ("percentage,randomcase", "Microsoft SQL Server"), ("ifnull2ifisnull,space2plus", "MySQL"),
    ("unionalltounion,space2morecomment", "MySQL"), ("sp_password,randomcase", "Microsoft SQL Server"),
)


def validation_runs() -> list[Run]:
    """A third part, made after the rules were last changed and never used to change them:
    eight DBMS choices with each technique on a double-quoted page and the pages of
    :func:`runs`, and tamper chains that no run of :func:`runs` uses."""
    out: list[Run] = []
    pages = ["/tag.php", "/view.php", "/tag.php", "/item.php", "/tag.php", "/search.php", "/tag.php", "/find.php"]
    k = 0
    for dbms in ("MySQL", "PostgreSQL", "Microsoft SQL Server", "Oracle", "SQLite", "IBM DB2", "Firebird", "ClickHouse"):
        for letter in TECHNIQUES:
            slug = re.sub(r"[^a-z0-9]+", "-", dbms.lower()).strip("-")
            out.append(Run(f"validation-{slug}-{letter}", dbms, letter, "", 3 + k % 3, 1 + (k + 1) % 3, pages[k % len(pages)], fixed_part="validation"))
            k += 1
    for i, (tamper, dbms) in enumerate(VALIDATION_TAMPERS):
        for letter in ("BEUSTQ"[(i + 1) % 6], "BEUSTQ"[(i + 4) % 6]):
            slug = re.sub(r"[^a-z0-9]+", "-", tamper)
            out.append(Run(f"validation-tamper-{slug}-{letter}", dbms, letter, tamper, 3 + i % 3, 1 + i % 3, pages[(k := k + 1) % len(pages)], fixed_part="validation"))
    return out


# --- labels -----------------------------------------------------------------------------------

_RANDOM_VALUE = re.compile(r"-?\d{1,10}|[A-Za-z]{1,12}|[A-Za-z0-9]{1,12}")
_HEURISTIC = set("'\"(),.")


def _plain(value: str) -> str:
    """``value`` without what a tamper script wraps around it: further rounds of percent-encoding,
    lone ``%`` signs, null bytes, surrounding blanks (the original value so wrapped is a probe)."""
    for _ in range(3):
        value = unquote(value)
    return re.sub(r"%(?![0-9A-Fa-f]{2})", "", value).replace("\0", "").strip()


def label_line(line: str, run: Run) -> tuple[str, str]:
    """``(label, technique)`` of one captured request (module docstring: the labelling)."""
    m = re.search(r'"[A-Z]+ (\S+) HTTP', line)
    target = m.group(1) if m else ""
    parts = urlsplit(target)
    page = PAGES.get(parts.path)
    if page is None:
        return "attack", "other"
    param, original, _stmt, extra = page
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    known = {param} | {kv.split("=")[0] for kv in extra.split("&") if kv}
    if any(k not in known for k, _ in pairs):
        return "attack", "waf-probe"
    value = _plain(dict(pairs).get(param, ""))
    if value == original or _RANDOM_VALUE.fullmatch(value):
        return "benign-probe", ""
    tail = value[len(original):] if value.startswith(original) else None
    if tail is not None and tail and set(tail) <= _HEURISTIC:
        return "attack", "heuristic"
    if tail is not None and "<'\">" in tail:
        return "attack", "heuristic"
    return "attack", TECHNIQUES[run.technique]


# --- benign traffic -----------------------------------------------------------------------------

_REQUEST = re.compile(r'"(?:[A-Z]+) (\S+) HTTP/[\d.]+" \d{3} \S+ "([^"]*)"')


def build_benign(elastic_log: Path, url_list: Path, out: Path) -> int:
    """``benign_requests.csv.gz``: ``origin, line, target`` (the request target as a server logs it).

    ``elastic_log`` is an Apache combined log: its request targets, and the query-carrying
    referer URLs (search-engine queries typed by people) as targets. ``url_list`` is a CSV of
    URLs, one a row after a header: each URL's path and query.
    """
    rows: list[tuple[str, int, str]] = []
    for n, line in enumerate(elastic_log.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        m = _REQUEST.search(line)
        if not m:
            continue
        rows.append(("elastic-apache-logs", n, m.group(1)))
        ref = urlsplit(m.group(2))
        if ref.query and ref.scheme in ("http", "https"):
            rows.append(("elastic-apache-logs-referer", n, (ref.path or "/") + "?" + ref.query))
    for n, url in enumerate(url_list.read_text(encoding="utf-8", errors="replace").splitlines()[1:], 2):
        u = urlsplit(url.strip().strip('"'))
        if not u.netloc:
            continue
        rows.append(("iscx-url2016-benign", n, (u.path or "/") + ("?" + u.query if u.query else "")))
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["origin", "line", "target"])
    w.writerows(rows)
    out.mkdir(parents=True, exist_ok=True)
    with gzip.open(out / "benign_requests.csv.gz", "wt", encoding="utf-8", compresslevel=9) as fh:
        fh.write(buf.getvalue())
    return len(rows)


# --- driver -------------------------------------------------------------------------------------

def sqlmap_path() -> Path:
    """sqlmap.py of the cached install (installed from PyPI on first use)."""
    cache = Path(os.environ.get("FORENSICS_CACHE", REPO / ".cache")) / f"sqlmap-{SQLMAP_VERSION}"
    script = cache / "sqlmap" / "sqlmap.py"
    if not script.exists():
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(cache), f"sqlmap=={SQLMAP_VERSION}"],
            check=True,
        )
    return script


def _write_labels(out: Path, labels: list[dict], prefix: str = "sqlmap") -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(labels[0]))
    w.writeheader()
    w.writerows(labels)
    with gzip.open(out / f"{prefix}_labels.csv.gz", "wt", encoding="utf-8", compresslevel=9) as fh:
        fh.write(buf.getvalue())


def relabel(out: Path, prefix: str = "sqlmap") -> str:
    """Label the captured lines in ``out`` again with :func:`label_line` (runs from the label file)."""
    by_id = {r.run_id: r for r in runs() + validation_runs()}
    with gzip.open(out / f"{prefix}_access.log.gz", "rt", encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    with gzip.open(out / f"{prefix}_labels.csv.gz", "rt", encoding="utf-8") as fh:
        labels = list(csv.DictReader(fh))
    changed = 0
    for row, line in zip(labels, lines, strict=True):
        label, technique = label_line(line, by_id[row["run_id"]])
        changed += (label, technique) != (row["label"], row["technique"])
        row["label"], row["technique"] = label, technique
    _write_labels(out, labels, prefix)
    return f"{changed} of {len(labels)} labels changed"


def capture(run: Run, sqlmap: Path, timeout: float, tmp: str) -> tuple[list[str], str, float]:
    """One sqlmap run against a shop of its own: (its access-log lines, "done"/"timeout", seconds)."""
    shop = Shop()
    threading.Thread(target=shop.serve_forever, daemon=True).start()
    cmd = [sys.executable, str(sqlmap), *run.args(f"http://127.0.0.1:{shop.server_address[1]}"), f"--output-dir={tmp}"]
    t0 = time.monotonic()
    try:
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=timeout, check=False)
        ended = "done"
    except subprocess.TimeoutExpired:
        ended = "timeout"
    secs = time.monotonic() - t0
    time.sleep(0.2)
    shop.shutdown()
    with shop.lock:
        return list(shop.lines), ended, secs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--run-timeout", type=float, default=30.0, help="seconds one sqlmap run may take")
    ap.add_argument("--jobs", type=int, default=3, help="sqlmap runs at a time (each against its own shop)")
    ap.add_argument("--only", default="", help="regex on run ids (default: every run)")
    ap.add_argument("--list", action="store_true", help="print the runs' command lines and stop")
    ap.add_argument("--validation", action="store_true",
                    help="the validation runs instead, into validation_access.log.gz / validation_labels.csv.gz")
    ap.add_argument("--relabel", action="store_true",
                    help="label the lines of an existing corpus in --out again (after a change of label_line)")
    ap.add_argument("--benign", nargs=2, type=Path, metavar=("APACHE_LOG", "URL_CSV"),
                    help="write benign_requests.csv.gz from these two files instead (README: origins)")
    args = ap.parse_args(argv)
    if args.benign:
        print(f"{build_benign(*args.benign, args.out)} benign requests -> {args.out}")
        return 0
    prefix = "validation" if args.validation else "sqlmap"
    if args.relabel:
        print(relabel(args.out, prefix))
        return 0
    todo = [r for r in (validation_runs() if args.validation else runs()) if re.search(args.only, r.run_id)]
    if args.list:
        for r in todo:
            print(r.part, r.run_id, "sqlmap", shlex.join(r.args("http://127.0.0.1:PORT")))
        return 0
    sqlmap = sqlmap_path()
    log_lines: list[str] = []
    labels: list[dict] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(args.jobs) as pool:
        captured = pool.map(lambda r: capture(r, sqlmap, args.run_timeout, tmp), todo)
        for n, (run, (got, ended, secs)) in enumerate(zip(todo, captured), 1):
            for line in got:
                label, technique = label_line(line, run)
                labels.append({
                    "line_no": len(log_lines) + 1, "run_id": run.run_id, "part": run.part, "dbms": run.dbms,
                    "run_technique": TECHNIQUES[run.technique], "tamper": run.tamper, "level": run.level,
                    "risk": run.risk, "label": label, "technique": technique,
                })
                log_lines.append(line)
            print(f"[{n}/{len(todo)}] {run.run_id}: {len(got)} requests, {secs:.0f}s ({ended})", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    with gzip.open(args.out / f"{prefix}_access.log.gz", "wt", encoding="utf-8", compresslevel=9) as fh:
        fh.write("\n".join(log_lines) + "\n")
    _write_labels(args.out, labels, prefix)
    attacks = sum(1 for r in labels if r["label"] == "attack")
    print(f"{len(log_lines)} requests ({attacks} attack) from {len(todo)} runs in {time.monotonic() - started:.0f}s -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
