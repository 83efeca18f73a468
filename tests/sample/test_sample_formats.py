"""Every evidence file of the generated case conforms to its real-world format.

Each line is matched by a strict regular expression; the only lines allowed to fail are the
planted rejects that truth.json lists (and those must fail).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from datetime import datetime
from pathlib import Path

import pytest

# Apache combined: %h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"
COMBINED = re.compile(
    r'^(?P<host>[0-9a-f.:]+) - - '                                   # client address (IPv4 or IPv6)
    r'\[(?P<t>\d{2}/(?:Mar|Apr)/2017:\d{2}:\d{2}:\d{2}) \+0900\] '   # %t with its own offset
    r'"(?P<method>GET|POST|HEAD) (?P<target>/[^ "]*) HTTP/1\.1" '    # request line, target percent-encoded
    r'(?P<status>\d{3}) (?P<bytes>\d+|-) '                           # status, body bytes
    r'"(?P<ref>[^"]*)" "(?P<ua>[^"]*)"$')                            # referer, user agent
# EC-CUBE 2.13 app log: YYYY/MM/DD HH:MM:SS [SCRIPT_NAME] MESSAGE from REMOTE_ADDR
APP = re.compile(r"^(?P<t>2017/\d{2}/\d{2} \d{2}:\d{2}:\d{2}) \[(?P<script>/[^\] ]*)\] (?P<msg>.+) from (?P<ip>[0-9a-f.:]+)$")
# admin.log: SC_Session (access, access error., logout), LC_Page_Admin_Index (login: its sid is
# empty on a fresh login; password incorrect), SC_UploadFile::makeTempFile (upload, failed upload)
ADMIN_MSG = re.compile(
    r"^(access : user=\w+ auth=\d+ sid=[0-9a-v]{26}"
    r"|access error\."
    r"|logout : user=\w+ auth=\d+ sid=[0-9a-v]{26}"
    r"|login: user=\w+\(\d+\) auth=\d+ lastlogin=\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} sid=(?:[0-9a-v]{26})?"
    r"|\w+ password incorrect\."
    r"|(?:File Upload Error!: )?\S+ -> /var/www/eccube/html/user_data/\S+)$")
# customer.log: SC_Customer::startSession / EndSession
CUSTOMER_MSG = re.compile(r"^(access|logout) : user=\d+\tip=[0-9a-f.:]+$")
# MySQL 5.6 general log: time (YYMMDD H:MM:SS, hour space-padded) only when it changes, else two tabs
MYSQL = re.compile(r"^(?:(?P<t>\d{6} [ \d]\d:\d{2}:\d{2})\t|\t\t)(?P<id>[ \d]{4}\d+) (?P<cmd>Connect|Query|Quit)\t(?P<arg>.*)$")
MYSQL_HEADER = ["/usr/sbin/mysqld, Version: 5.6.35-log (MySQL Community Server (GPL)). started with:",
                "Tcp port: 3306  Unix socket: /var/lib/mysql/mysql.sock",
                "Time                 Id Command    Argument"]
CONTINUATION = re.compile(r"^(FROM |WHERE |ORDER BY |LIMIT \d+(?:, \d+| OFFSET \d+)$|  AND |       order_)")
# TSK bodyfile 3.x: MD5|name|inode|mode_as_string|UID|GID|size|atime|mtime|ctime|crtime
BODY = re.compile(r"^(?:[0-9a-f]{32}|0)\|/var/www/eccube(?:/[^|]+)?\|\d+\|[rd]/[-rd][-rwx]{9}\|\d+\|\d+\|\d+\|\d{10}\|\d{10}\|\d{10}\|\d{10}$")


def _lines(path: Path) -> list[str]:
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    assert raw.endswith(b"\n")
    return raw.decode("utf-8", "surrogateescape").split("\n")[:-1]


def _planted(case: Path) -> dict[tuple[str, int], str]:
    truth = json.loads((case / "truth.json").read_text(encoding="utf-8"))
    return {(p["file"], p["line_no"]): p["what"] for p in truth["planted_rejects"]}


def _check(case: Path, rel_glob: str, ok) -> tuple[int, int]:
    planted = _planted(case)
    n = bad = 0
    files = sorted(case.glob(rel_glob))
    assert files, rel_glob
    for f in files:
        rel = f.relative_to(case).as_posix()
        for i, line in enumerate(_lines(f), 1):
            n += 1
            good = ok(rel, i, line)
            if (rel, i) in planted:
                assert not good, f"planted reject parses: {rel}:{i}"
                bad += 1
            else:
                assert good, f"{rel}:{i}: {line[:200]!r}"
    return n, bad


def test_access_logs_are_combined_format(generated_case):
    def ok(rel, i, line):
        m = COMBINED.match(line)
        return bool(m) and (m["bytes"] != "-" or m["status"] in ("302", "304", "200"))
    n, bad = _check(generated_case, "logs/httpd/access_log*", ok)
    assert n > 100_000 and bad == 2


def test_access_logs_rotate_weekly_and_stay_in_order(generated_case):
    names = sorted(p.name for p in (generated_case / "logs/httpd").iterdir())
    assert names == ["access_log", "access_log-20170319.gz", "access_log-20170326.gz", "access_log-20170402.gz",
                     "access_log-20170409.gz", "access_log-20170416.gz"]
    gz = (generated_case / "logs/httpd/access_log-20170319.gz").read_bytes()
    assert gz[4:8] == b"\0\0\0\0" and b"access_log-20170319\0" in gz[:40]   # mtime 0, fixed name
    prev = None
    for name in names[1:] + names[:1]:
        for line in _lines(generated_case / "logs/httpd" / name):
            m = COMBINED.match(line)
            if not m:
                continue
            t = datetime.strptime(m["t"], "%d/%b/%Y:%H:%M:%S")
            assert prev is None or t >= prev, line
            prev = t


def test_app_logs_are_eccube_format(generated_case):
    def ok(rel, i, line):
        m = APP.match(line)
        if not m:
            return False
        name = rel.split("/")[-1]
        if name.startswith("admin.log"):
            return bool(ADMIN_MSG.match(m["msg"]))
        if name.startswith("customer.log"):
            return bool(CUSTOMER_MSG.match(m["msg"]))
        return True
    n, bad = _check(generated_case, "logs/eccube/*.log*", ok)
    assert bad == 1
    names = sorted(p.name for p in (generated_case / "logs/eccube").iterdir())
    assert "admin.log.1" in names and "site.log.1" in names and "admin.log" in names and "customer.log" in names


def test_query_logs_are_mysql56_general_log(generated_case):
    state = {}

    def ok(rel, i, line):
        if rel != state.get("file"):
            state.update(file=rel, last_t=None, in_query=False)
        if i <= 3:
            return line == MYSQL_HEADER[i - 1]
        m = MYSQL.match(line)
        if m:
            if m["t"]:
                assert m["t"] != state["last_t"], f"{rel}:{i}: time repeated"
                state["last_t"] = m["t"]
            else:
                assert state["last_t"] is not None
            if m["cmd"] == "Connect":
                assert m["arg"] == "eccube@localhost on eccube_db"
            if m["cmd"] == "Quit":
                assert m["arg"] == ""
            state["in_query"] = m["cmd"] == "Query"
            return True
        return state["in_query"] and bool(CONTINUATION.match(line))
    n, bad = _check(generated_case, "logs/mysql/general.log*", ok)
    assert n > 200_000 and bad == 0


def test_query_log_connections_are_whole(generated_case):
    """Every connection opens, runs its statements, and quits; ids only grow."""
    open_ids: set[int] = set()
    last = 0
    for f in sorted((generated_case / "logs/mysql").iterdir(), key=lambda p: (p.name == "general.log", p.name)):
        for line in _lines(f):
            m = MYSQL.match(line)
            if not m:
                continue
            cid = int(m["id"])
            if m["cmd"] == "Connect":
                assert cid > last
                last = cid
                open_ids.add(cid)
            elif m["cmd"] == "Quit":
                open_ids.remove(cid)
            else:
                assert cid in open_ids
    assert not open_ids


def test_bodyfile_is_tsk3(generated_case):
    n, bad = _check(generated_case, "fs/bodyfile.txt", lambda rel, i, line: bool(BODY.match(line)))
    assert bad == 1 and n > 200


@pytest.mark.parametrize("table, first", [
    ("dtb_customer", "customer_id,name01,name02,kana01,kana02,company_name,zip01,zip02,zipcode,country_id,pref,addr01,addr02,email"),
    ("dtb_order", "order_id,order_temp_id,customer_id,message,order_name01,order_name02"),
    ("dtb_payment", "payment_id,payment_method,charge,rule_max"),
    ("dtb_member", "member_id,name,department,login_id,password,salt"),
    ("dtb_order_detail", "order_detail_id,order_id,product_id"),
])
def test_db_exports_are_csv_with_eccube_columns(generated_case, table, first):
    text = (generated_case / "db" / f"{table}.csv").read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    assert ",".join(rows[0]).startswith(first)
    assert all(len(r) == len(rows[0]) for r in rows)
    for col in ("create_date", "update_date"):
        if col in rows[0]:
            k = rows[0].index(col)
            assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", r[k]) for r in rows[1:])


def test_server_tree_has_real_images_and_the_planted_files(generated_case):
    truth = json.loads((generated_case / "truth.json").read_text(encoding="utf-8"))
    server = generated_case / "server"
    files = [p for p in server.rglob("*") if p.is_file()]
    assert 150 <= len(files) <= 600
    magic = {".gif": b"GIF8", ".jpg": b"\xff\xd8\xff", ".png": b"\x89PNG"}
    skim = {server / s for s in truth["skim_files"]}
    for p in files:
        if p.suffix in magic and p not in skim:
            assert p.read_bytes().startswith(magic[p.suffix]), p
    for s in skim:
        assert not s.read_bytes().startswith(b"GIF8")
    backdoor = (server / "html" / truth["backdoor_paths"][0].lstrip("/")).read_text()
    for ind in ("eval(", "base64_decode", "shell_exec", "$_POST"):
        assert ind in backdoor
    tampered = (server / truth["tampered_files"][0]).read_text()
    assert "$_POST['card_no']" in tampered and truth["skim_files"][0] in tampered
    assert re.search(r"templates_c/default/%%[0-9A-F]{2}\^[0-9A-F]{3}\^[0-9A-F]{8}%%credit\.tpl\.php$",
                     truth["tampered_files"][0])
    for rel in truth["traps"]["recompiled_templates"]:
        text = (server / rel).read_text()
        assert "$_POST" not in text and "file_put_contents" not in text


def test_case_yml_is_the_contract_example(generated_case):
    text = (generated_case / "case.yml").read_text(encoding="utf-8")
    for needle in ("id: toshomart-2017", "title: 東商マート 不正アクセス調査", "timezone: Asia/Tokyo",
                   "profile: eccube2", "admin_dir: /admin/", "access_logs: [logs/httpd/access_log*]",
                   "app_logs: [logs/eccube/*.log*]", "query_logs: [logs/mysql/general.log*]",
                   "fs_timeline: fs/bodyfile.txt", "server_files: server/", "db: {encoding: utf-8, dir: db/}",
                   "containment: 2017-04-10T13:00:00+09:00", "internal_ips: [198.51.100.10]",
                   "customer_ids: [1]", 'emails: ["*@toyoshoji.example"]', 'card_numbers: ["4111111111111111"]'):
        assert needle in text
