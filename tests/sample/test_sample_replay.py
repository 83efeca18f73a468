"""The evidence alone carries the viewed-person truth.

An analyst's replay, written here independently of the generator: rebuild dtb_customer / dtb_order
as of each attacker page from the end-state exports and the query log's INSERT/UPDATE statements
(an earlier value that the log does not show is taken as older than the log), run the page's own
SELECT from the query log in SQLite, and compare the persons with truth.json.
"""

from __future__ import annotations

import csv
import gzip
import json
import re
import sqlite3
from pathlib import Path

HEAD = re.compile(r"^(?:(\d{6}) ([ \d]\d):(\d{2}):(\d{2})\t|\t\t)\s*(\d+) (Connect|Query|Quit)\t(.*)$")
INS = re.compile(r"^INSERT INTO (dtb_customer|dtb_order) \(([^)]*)\) VALUES \((.*)\)$", re.S)
UPD = re.compile(r"^UPDATE (dtb_customer|dtb_order) SET (.*) WHERE (?:customer_id|order_id) = (\d+)$", re.S)
SET = re.compile(r"(\w+) = ('(?:[^'\\]|\\.)*'|[^,]+)")
INT_COLS = ("customer_id", "order_id", "del_flg", "status")


def _lines(p: Path) -> list[str]:
    raw = p.read_bytes()
    return (gzip.decompress(raw) if p.suffix == ".gz" else raw).decode("utf-8", "surrogateescape").split("\n")[:-1]


def _values(s: str) -> list:
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c in " ,\n":
            i += 1
        elif c == "'":
            j, buf = i + 1, []
            while s[j] != "'":
                if s[j] == "\\":
                    buf.append({"n": "\n"}.get(s[j + 1], s[j + 1]))
                    j += 2
                else:
                    buf.append(s[j])
                    j += 1
            out.append("".join(buf))
            i = j + 1
        else:
            j = s.find(",", i)
            j = len(s) if j < 0 else j
            v = s[i:j].strip()
            out.append(None if v == "NULL" else v)
            i = j
    return out


def _statements(case: Path) -> list[list]:
    """[time 'YYYY-MM-DD HH:MM:SS', connection id, command, argument] in file order."""
    files = sorted((case / "logs/mysql").iterdir(), key=lambda p: (p.name == "general.log", p.name))
    out, now = [], None
    for f in files:
        for ln in _lines(f)[3:]:
            m = HEAD.match(ln)
            if m:
                if m[1]:
                    d = m[1]
                    now = f"20{d[:2]}-{d[2:4]}-{d[4:]} {int(m[2]):02d}:{m[3]}:{m[4]}"
                out.append([now, int(m[5]), m[6], m[7]])
            else:
                out[-1][3] += "\n" + ln
    return out


def test_query_log_replay_gives_the_truth(generated_case):
    case = generated_case
    truth = json.loads((case / "truth.json").read_text(encoding="utf-8"))
    stmts = _statements(case)
    hist: dict[str, dict[int, list]] = {"dtb_customer": {}, "dtb_order": {}}
    conns: dict[int, list] = {}
    for t, cid, cmd, sql in stmts:
        conns.setdefault(cid, []).append((t, cmd, sql))
        if cmd != "Query":
            continue
        if m := INS.match(sql):
            row = dict(zip([c.strip() for c in m[2].split(",")], _values(m[3])))
            key = int(row["customer_id" if m[1] == "dtb_customer" else "order_id"])
            hist[m[1]].setdefault(key, []).append((t, "insert", row))
        elif m := UPD.match(sql):
            sets = {a: _values(b.strip())[0] for a, b in SET.findall(m[2])}
            hist[m[1]].setdefault(int(m[3]), []).append((t, "update", sets))
    export = {}
    for tbl, key in (("dtb_customer", "customer_id"), ("dtb_order", "order_id")):
        with open(case / "db" / f"{tbl}.csv", encoding="utf-8", newline="") as fh:
            export[tbl] = {int(r[key]): r for r in csv.DictReader(fh)}

    def as_of(tbl: str, t: str) -> list[dict]:
        rows = []
        for k, r in export[tbl].items():
            h = hist[tbl].get(k, [])
            if any(kind == "insert" and ht >= t for ht, kind, _ in h):
                continue                      # not created yet
            row = dict(r)
            if any(ht >= t for ht, _, _ in h):
                for col in ("update_date", "del_flg", "status"):
                    if col not in row:
                        continue
                    known = [x[2][col] for x in h if x[0] < t and col in x[2]]
                    if known:
                        row[col] = known[-1]
                    elif any(col in x[2] for x in h if x[0] >= t):
                        row[col] = {"update_date": "1970-01-01 00:00:00", "del_flg": "0", "status": "1"}[col]
            rows.append(row)
        return rows

    sid_conns: dict[str, list] = {}
    for cid, ss in conns.items():
        for t, _cmd, sql in ss:
            if m := re.match(r"SELECT sess_data FROM dtb_session WHERE sess_id = '(\w+)'", sql):
                sid_conns.setdefault(m[1], []).append((t, cid))
    viewed: set[str] = set()
    for v in truth["attacker_views"]:
        t = v["at"][:19].replace("T", " ")
        got: set[str] = set()
        for cid in [c for tt, c in sid_conns[v["sid"]] if tt == t]:
            for _t, cmd, sql in conns[cid]:
                if cmd != "Query" or not sql.startswith("SELECT") or "COUNT(*)" in sql or "dtb_order_detail" in sql:
                    continue
                tbl = "dtb_customer" if "dtb_customer" in sql else "dtb_order" if "dtb_order" in sql else None
                if tbl is None:
                    continue
                cols = list(next(iter(export[tbl].values())))
                db = sqlite3.connect(":memory:")
                db.execute(f"CREATE TABLE {tbl} (" + ", ".join(c + (" INTEGER" if c in INT_COLS else "") for c in cols) + ")")
                db.executemany(f"INSERT INTO {tbl} VALUES ({','.join('?' * len(cols))})",
                               [[r[c] for c in cols] for r in as_of(tbl, t)])
                email = "order_email" if tbl == "dtb_order" else "email"
                for row in db.execute(sql.replace("SELECT ", f"SELECT customer_id, {email}, ", 1)):
                    got.add(f"c:{row[0]}" if row[0] else f"g:{row[1].lower()}")
        assert got == set(v["persons"]), (v["at"], v["page"], sorted(got ^ set(v["persons"])))
        viewed |= got
    assert len(viewed) == truth["counts"]["viewed_persons"] == 55
