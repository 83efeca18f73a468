"""Every app-log line of a generated case is an EC-CUBE 2.13.5 message from the generator's template
table, in the file that message goes to."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from forensics.sample import messages as M

RECORD = re.compile(r"^(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) \[([^\]]*)\] (.*) from (\S+)$")


def app_log_messages(case) -> list[tuple[str, str, int, str]]:
    """(log file, file name, line_no, MESSAGE) of every record, planted rejects left out."""
    truth = json.loads((case / "truth.json").read_text(encoding="utf-8"))
    planted = {(p["file"], p["line_no"]) for p in truth["planted_rejects"]}
    out = []
    for path in sorted((case / "logs/eccube").iterdir()):
        log = re.sub(r"\.\d+$", "", path.name)
        for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if (f"logs/eccube/{path.name}", no) in planted:
                continue
            m = RECORD.match(line)
            assert m, f"{path.name}:{no}: not a gfPrintLog record: {line!r}"
            out.append((log, path.name, no, m.group(3)))
    return out


def test_every_message_is_a_listed_template(generated_case):
    seen = Counter()
    for log, name, no, msg in app_log_messages(generated_case):
        key = M.match_template(msg, log)
        assert key is not None, f"{name}:{no}: message not in the template table (or in the wrong file): {msg!r}"
        seen[key] += 1
    # the default case writes these (the others come with options)
    assert {"admin_login", "admin_login_failed", "admin_access", "admin_access_error", "admin_logout", "upload",
            "member_login", "member_logout", "order_complete"} <= set(seen)


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
