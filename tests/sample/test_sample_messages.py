"""Every app-log line of a generated case is an EC-CUBE 2.13.5 message from the generator's template
table, in the file that message goes to."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from forensics.sample import messages as M

RECORD = re.compile(r"^(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) \[([^\]]*)\] (.*) from (\S+)$", re.S)
FROM = re.compile(r" from [0-9A-Fa-f.:]+$")
START = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[")
# DEBUG_MODE's verbose lines: the session, then backtrace frames FILE(LINE): FUNCTION
VERBOSE = re.compile(r"^(customer_id = \d*|login_id = \w*\(\d*\)\[[0-9a-v]{26}\])$")
FRAME = re.compile(r"^/var/www/eccube/(data|html)/\S+\.php\(\d+\): \w+(?:(?:->|::)\w+)?$")


def app_log_messages(case) -> list[tuple[str, str, int, str, list[str]]]:
    """(log file, file name, line_no, MESSAGE, verbose lines) of every record, planted rejects left
    out. A record is its first line and the lines up to the next record; its MESSAGE runs to the
    first line ending `` from ADDRESS`` (an SQL error's message spans lines), the rest is verbose."""
    truth = json.loads((case / "truth.json").read_text(encoding="utf-8"))
    planted = {(p["file"], p["line_no"]) for p in truth["planted_rejects"]}
    out = []
    for path in sorted((case / "logs/eccube").iterdir()):
        log = re.sub(r"\.\d+$", "", path.name)
        records: list[tuple[int, list[str]]] = []
        for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if START.match(line):
                records.append((no, [line]))
            else:
                assert records, f"{path.name}:{no}: continuation without a record"
                records[-1][1].append(line)
        for no, lines in records:
            if (f"logs/eccube/{path.name}", no) in planted:
                continue
            end = next((i for i, ln in enumerate(lines) if FROM.search(ln)), None)
            assert end is not None, f"{path.name}:{no}: not a gfPrintLog record: {lines[0]!r}"
            m = RECORD.match("\n".join(lines[:end + 1]))
            assert m, f"{path.name}:{no}: not a gfPrintLog record: {lines[0]!r}"
            out.append((log, path.name, no, m.group(3), lines[end + 1:]))
    return out


def check_messages(case) -> Counter:
    """Every record's message is a listed template of its file; verbose parts well formed. Returns counts by key."""
    seen = Counter()
    for log, name, no, msg, verbose in app_log_messages(case):
        key = M.match_template(msg, log)
        assert key is not None, f"{name}:{no}: message not in the template table (or in the wrong file): {msg!r}"
        if verbose:
            assert log != "customer.log", f"{name}:{no}: SC_Customer never writes verbose records"
            assert VERBOSE.match(verbose[0]) and all(FRAME.match(f) for f in verbose[1:]), (name, no, verbose)
        seen[key] += 1
    return seen


def test_every_message_is_a_listed_template(generated_case):
    seen = check_messages(generated_case)
    # the default case writes these (the others come with options)
    assert {"admin_login", "admin_login_failed", "admin_access", "admin_access_error", "admin_logout", "upload",
            "member_login", "member_logout", "order_complete"} <= set(seen)
    assert "upload_failed" not in seen


def test_an_unlisted_message_is_caught():
    assert M.match_template("customer regist. customer_id=12", "site.log") is None
    assert M.match_template("member login. customer_id=12", "site.log") is None
    assert M.match_template("access : user=12\tip=192.0.2.1", "site.log") is None  # customer.log only
    assert M.match_template("access : user=12\tip=192.0.2.1", "customer.log") == "member_login"
    assert M.match_template("File Upload Error!: a.php -> /x/a.php", "admin.log") == "upload_failed"


@pytest.mark.parametrize("key", sorted(M.TEMPLATES))
def test_template_names_its_log_and_source(key):
    t = M.TEMPLATES[key]
    assert t.log in {"site.log", "admin.log", "customer.log", "error.log"}
    assert re.match(r"^(data|html)/\S+\.php \w+$", t.source), t.source
    assert M.render(key, **{f: "x" for f in re.findall(r"\{(\w+)\}", t.text)})
