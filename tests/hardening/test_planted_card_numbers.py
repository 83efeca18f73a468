"""Random Luhn-valid card numbers planted in every evidence field and file name never reach an
output whole.

Each example writes a small case in which every field an attacker or a customer can fill (and
every file name) holds a random card number: any brand and length, grouped or not, with any
separator the masking documents, ASCII or full-width digits, glued to any neighbour. After
``forensics run``, an independent oracle reads every output file (JSON and notebooks string by
string, HTML entities decoded, Parquet cell by cell, gzip decompressed) and looks for each planted
number's digits in the file's digit stream with every separator and percent escape removed.
"""

from __future__ import annotations

import gzip
import html
import json
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.hardening.conftest import REPO, output_files

pytestmark = pytest.mark.slow

#: Brands by their published IIN ranges and lengths (card-network rules, not the toolkit's).
BRANDS = (
    (("4",), (13, 16, 19)),                                 # Visa
    (("51", "53", "55", "2221", "2500", "2720"), (16,)),    # Mastercard
    (("34", "37"), (15,)),                                  # American Express
    (("6011", "644", "65"), (16, 19)),                      # Discover
    (("3528", "3550", "3589"), (16, 19)),                   # JCB
    (("36", "300", "305", "38"), (14,)),                    # Diners Club
    (("62",), (16, 17, 18, 19)),                            # UnionPay
    (("5018", "6759"), (16, 19)),                           # Maestro
)
SEPARATORS = ("", " ", "-", ".", "+", "_", "\t", "\u3000", "\uff0d", "%20")
NEIGHBOURS = ("", "x", "X", "_", "=", ":", "/", "#", "card_", "番号", "ｘ", "%3D", "(", "'")
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def _luhn_complete(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


@st.composite
def card_numbers(draw) -> str:
    prefixes, lengths = draw(st.sampled_from(BRANDS))
    prefix, length = draw(st.sampled_from(prefixes)), draw(st.sampled_from(lengths))
    body = prefix + "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=length - len(prefix) - 1,
                                          max_size=length - len(prefix) - 1)))
    return _luhn_complete(body)


@st.composite
def written(draw, digits: str, *, spaces: bool = True, percent: bool = True) -> str:
    """``digits`` as someone may write it: grouped (4s, 8+8, 4-6-5) with one separator, perhaps
    in full-width digits, between two neighbours."""
    seps = [s for s in SEPARATORS if (spaces or s.strip()) and (percent or "%" not in s)]
    sep = draw(st.sampled_from(seps))
    cut = draw(st.sampled_from(("4", "8", "465")))
    if cut == "4":
        groups = [digits[i:i + 4] for i in range(0, len(digits), 4)]
    elif cut == "8":
        groups = [digits[:8], digits[8:]]
    else:
        groups = [digits[:4], digits[4:10], digits[10:]]
    if draw(st.booleans()):
        groups = [g.translate(FULLWIDTH) for g in groups]
    text = sep.join(g for g in groups if g)
    left, right = draw(st.sampled_from(NEIGHBOURS)), draw(st.sampled_from(NEIGHBOURS))
    if not spaces:
        left, right = left.replace(" ", ""), right.replace(" ", "")
    return left + text + right


def _name_safe(text: str) -> str:
    return text.replace("/", "_").replace("\t", "_").replace("%", "_")


def build_case(root: Path, draw) -> list[str]:
    """Write a case under ``root`` with a planted number in every field; returns their digits."""
    planted: list[str] = []

    def pan(**kw) -> str:
        digits = draw(card_numbers())
        planted.append(digits)
        return draw(written(digits, **kw))

    logs = root / "logs"
    for d in ("httpd", "eccube", "mysql"):
        (logs / d).mkdir(parents=True)
    attacker = "203.0.113.66"
    t = "[01/Apr/2017:10:{m:02d}:00 +0900]"
    lines = [
        f'{attacker} - {_name_safe(pan(spaces=False))} {t.format(m=0)} "GET /products/detail.php?product_id=1&card_no={pan()} HTTP/1.1" 200 9 "{pan()}" "{pan()}"',
        f'host{_name_safe(pan(spaces=False, percent=False))}.example - - {t.format(m=1)} "GET /user_data/{_name_safe(pan(spaces=False))}.php HTTP/1.1" 200 9 "-" "ua"',
        f'{attacker} - - {t.format(m=2)} "POST /shopping/load_payment_module.php?{pan()} HTTP/1.1" 200 9 "-" "ua"',
        f'{attacker} - - {t.format(m=3)} "GET /products/list.php?name=1%27%20UNION%20SELECT%20{pan(spaces=False)}--%20- HTTP/1.1" 200 9 "-" "sqlmap/1.1"',
        f"this line is no access-log line {pan()}",
    ]
    (logs / "httpd" / f"access_log-{_name_safe(pan(spaces=False))}").write_text("\n".join(lines) + "\n")
    app = [
        f"2017/04/01 10:10:00 [/admin/index.php] {pan()} password incorrect. from {attacker}",
        f"2017/04/01 10:11:00 [/admin/index.php] login: user={_name_safe(pan(spaces=False))}(2) auth=0 sid=s{_name_safe(pan(spaces=False))} from {attacker}",
        f"2017/04/01 10:12:00 [/admin/contents/file_manager.php] x{_name_safe(pan(spaces=False))}.php -> /var/www/html/user_data/y{_name_safe(pan(spaces=False))}.php from {attacker}",
        f"2017/04/01 10:13:00 [/shopping/{_name_safe(pan(spaces=False))}.php] {pan()} from {attacker}",
        f"mdl_pay debug card_no={pan()} cvv=123",
    ]
    (logs / "eccube" / f"site{_name_safe(pan(spaces=False))}.log").write_text("\n".join(app) + "\n")
    (logs / "mysql" / f"general.log-{_name_safe(pan(spaces=False))}").write_text(
        "170401 10:11:00\t    5 Connect\teccube@localhost on eccube_db\n"
        f"\t\t    5 Query\tSELECT * FROM dtb_order WHERE order_name01 = '' UNION SELECT '{pan()}' -- '\n"
        f"\t\t    5 Query\tUPDATE dtb_customer SET name01 = '{pan()}' WHERE customer_id = 2\n"
        f"\t\t    5 Query\tINSERT INTO dtb_order (order_id, order_name01, memo01) VALUES (9, '{pan()}', '{pan()}')\n"
        "\t\t    5 Quit\t\n"
    )
    user_data = root / "server" / "html" / "user_data"
    user_data.mkdir(parents=True)
    (user_data / f"{_name_safe(pan())}.php").write_text(f"<?php eval($_POST['x']); /* {pan()} */ ?>")
    (user_data / f"{_name_safe(pan())}.gif").write_text(f"{pan()}|TARO {pan()}|04/21|123\n")
    (root / "fs").mkdir()
    (root / "fs" / "bodyfile.txt").write_text(
        f"0|/var/www/html/user_data/{_name_safe(pan())}.php|100|r/rrw-r--r--|48|48|40|1491008000|1491008000|1491008000|1491008000\n"
        f"0|/var/www/html/user_data/{_name_safe(pan())}.gif|101|r/rrw-r--r--|48|48|40|1491008100|1491008100|1491008100|0\n"
        f"not a bodyfile line {pan()}\n"
    )
    db = root / "db"
    db.mkdir()

    def cell() -> str:
        return '"' + pan().replace('"', "") + '"'

    (db / "dtb_customer.csv").write_text(
        "customer_id,name01,name02,email,tel01,create_date,update_date,del_flg\n"
        f"2,{cell()},{cell()},{cell()},{cell()},2017-03-01 10:00:00,2017-03-01 10:00:00,0\n")
    (db / "dtb_order.csv").write_text(
        "order_id,customer_id,order_name01,order_name02,order_email,payment_id,payment_method,memo01,status,"
        "create_date,update_date,del_flg\n"
        f"1,2,{cell()},{cell()},{cell()},5,クレジットカード決済,{cell()},7,2017-04-02 10:00:00,2017-04-02 10:00:00,0\n")
    (db / "dtb_payment.csv").write_text("payment_id,payment_method\n5,クレジットカード決済\n")
    (db / "dtb_member.csv").write_text(
        f"member_id,login_id,name,create_date,update_date,del_flg\n2,{cell()},{cell()},2017-01-01 00:00:00,2017-01-01 00:00:00,0\n")
    (root / "case.yml").write_text(
        "id: planted-numbers\n"
        f"title: {json.dumps('planted ' + pan(), ensure_ascii=False)}\n"
        "timezone: Asia/Tokyo\n"
        "site: {profile: eccube2}\n"
        "evidence:\n"
        "  access_logs: [logs/httpd/access_log*]\n"
        "  app_logs: [logs/eccube/*.log*]\n"
        "  query_logs: [logs/mysql/general.log*]\n"
        "  fs_timeline: fs/bodyfile.txt\n"
        "  server_files: server/\n"
        "  db: {encoding: utf-8, dir: db/}\n"
        "facts:\n"
        "  containment: 2017-04-10T13:00:00+09:00\n"
        "  test_markers: {customer_ids: [], emails: [], card_numbers: []}\n", encoding="utf-8")
    return planted


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _texts(path: Path):
    """Every piece of text an output file holds, as a reader would see it."""
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    if path.suffix == ".parquet":
        frame = pl.read_parquet(path)
        for col in frame.columns:
            yield col
            for value in frame[col].to_list():
                yield from (_strings(value) if isinstance(value, (str, list, dict)) else [str(value)])
        return
    text = data.decode("utf-8", "replace")
    if path.suffix in (".json", ".ipynb") or path.name.endswith(".jsonl"):
        for line in (text.splitlines() if path.name.endswith(".jsonl") else [text]):
            try:
                yield from _strings(json.loads(line))
            except ValueError:
                yield line
        return
    yield html.unescape(text)


def _digit_stream(text: str) -> str:
    text = re.sub(r"%[0-9A-Fa-f]{2}", "", unicodedata.normalize("NFKC", text))
    return re.sub(r"\D", "", text)


# each example is a whole run: no shrinking (the failing example is reported as drawn)
@settings(max_examples=2, deadline=None, database=None, phases=[Phase.generate],
          suppress_health_check=list(HealthCheck))
@given(st.data())
def test_no_planted_number_reaches_any_output(tmp_path_factory, data):
    base = tmp_path_factory.mktemp("planted")
    planted = build_case(base / "case", data.draw)
    out = base / "out"
    proc = subprocess.run([sys.executable, "-m", "forensics.cli", "run", str(base / "case" / "case.yml"), "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, errors="backslashreplace", timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(planted) > 40
    files = [p for p in output_files(out) if p.suffix != ".png" and p.name != ".forensics-run.lock"]
    assert any(p.name == "report.html" for p in files)
    leaks = []
    for p in files:
        stream = "".join(_digit_stream(t) + "|" for t in _texts(p))
        leaks += [(str(p.relative_to(out)), d[:6] + "…") for d in planted if d in stream]
    assert not leaks, leaks[:10]
