"""A small case folder whose evidence was written, in part, by an attacker.

Every hostile shape we know of is planted here, with known line numbers, so tests can check
what the toolkit did with each: scripts and ``javascript:`` in user agents, referers and paths;
spreadsheet formulas in values that end up in CSV exports; ANSI escapes in log lines; file
names with ``../``, newlines and non-UTF-8 bytes; a symlink in ``server/`` pointing outside the
case; a gzip decompression bomb; NUL bytes, invalid UTF-8 and a truncated line.
"""

from __future__ import annotations

import gzip
import json
import os
from dataclasses import dataclass
from pathlib import Path

SCRIPT = "<script>alert('pwn')</script>"
JS_URL = "javascript:alert(document.cookie)"
FORMULA = "=cmd|' /C calc'!A0"
AT_FORMULA = "@SUM(1+1)*cmd|' /C calc'!A0"
IMG_XSS = "<img src=x onerror=alert(1)>"  # a file name cannot hold "/"
ANSI = "\x1b[2J\x1b[31mOWNED\x1b[0m"
ATTACKER = "203.0.113.66"
OUTSIDE_TEXT = "OUTSIDE THE CASE: must never be read"
STAFF = "198.51.100.10"


@dataclass
class HostileCase:
    root: Path
    case_yml: Path
    outside_secret: Path
    bomb_path: Path


def _luhn_complete(prefix: str) -> str:
    digits = [int(d) for d in prefix]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return prefix + str((10 - total % 10) % 10)


def _bomb(size: int) -> bytes:
    """A multi-member gzip of ``size`` bytes of NULs (about 1000:1, no newline: one endless
    "line"), built fast; a few hundred kB on disk."""
    block = b"\0" * (4 << 20)
    member = gzip.compress(block, mtime=0)
    return member * max(1, size // len(block))


PAN = _luhn_complete("498765432101234")  # a full, Luhn-valid card number planted in names and URLs
#: The same number as attackers and payment modules write it: grouped 8+8, with dots, full-width.
PAN_FORMS = (PAN, f"{PAN[:8]} {PAN[8:]}", ".".join(PAN[i:i + 4] for i in range(0, 16, 4)),
             PAN.translate(str.maketrans("0123456789", "０１２３４５６７８９")))


def build_hostile_case(root: Path, *, bomb_bytes: int = 512 * 1024 * 1024) -> HostileCase:
    """Write the hostile case under ``root`` and return its paths."""
    root.mkdir(parents=True, exist_ok=True)
    outside = root.parent / f"{root.name}-outside-secret.txt"
    outside.write_text(f"{OUTSIDE_TEXT}\n")
    outside_dir = root.parent / f"{root.name}-outside-dir"
    outside_dir.mkdir()
    (outside_dir / "secret.php").write_text(f"<?php /* {OUTSIDE_TEXT} */ ?>\n")
    logs = root / "logs"
    (logs / "httpd").mkdir(parents=True)
    (logs / "eccube").mkdir(parents=True)
    (logs / "mysql").mkdir(parents=True)

    t = "[01/Apr/2017:10:{m:02d}:00 +0900]"
    access = [
        f'{ATTACKER} - - {t.format(m=0)} "GET /products/list.php?category_id=1%27%20AND%201%3D1--%20- HTTP/1.1" 200 512 "{JS_URL}" "{SCRIPT}"',
        f'{ATTACKER} - - {t.format(m=1)} "GET /{SCRIPT} HTTP/1.1" 404 12 "-" "Mozilla/5.0"',
        f'{ATTACKER} - - {t.format(m=2)} "GET /products/list.php?name={FORMULA.replace(" ", "%20")} HTTP/1.1" 200 9 "-" "{AT_FORMULA}"',
        f'{ATTACKER} - - {t.format(m=3)} "GET /?q={ANSI} HTTP/1.1" 200 9 "-" "curl/7.1"',
        f'{ATTACKER} - - {t.format(m=4)} "GET /products/list.php?category_id=1%20UNION%20SELECT%20login_id,password%20FROM%20dtb_member HTTP/1.1" 200 9 "-" "sqlmap/1.1"',
        f'{ATTACKER} - - {t.format(m=6)} "GET /{JS_URL} HTTP/1.1" 404 12 "{SCRIPT}" "{ANSI}"',
        f'{ATTACKER} - - {t.format(m=7)} "GET /products/detail.php?product_id=1&card={PAN} HTTP/1.1" 200 9 "-" "x"',
        f'{ATTACKER} - - {t.format(m=8)} "GET /../../etc/passwd%0a%1b[2J HTTP/1.1" 400 9 "-" "x"',
        f'{ATTACKER} - - {t.format(m=9)} "GET /user_data/x{PAN}.php HTTP/1.1" 200 9 "-" "ua {PAN_FORMS[2]} {PAN_FORMS[3]}"',
        f'{STAFF} - - {t.format(m=5)} "GET /index.php HTTP/1.1" 200 100 "-" "Mozilla/5.0"',
    ]
    body = "\n".join(access).encode() + b"\n"
    body += b"\x00\x00\x00 binary garbage \xff\xfe\n"  # NUL bytes and invalid UTF-8
    body += f'{ATTACKER} - - [01/Apr/2017:10:06:00 +0900] "GET /trunc'.encode() + b"\n"  # truncated
    (logs / "httpd" / "access_log").write_bytes(body)
    bomb = logs / "httpd" / "access_log-20170402.gz"
    bomb.write_bytes(_bomb(bomb_bytes))

    admin = [
        f"2017/04/01 10:10:00 [/admin/index.php] {ANSI} password incorrect. from {ATTACKER}",
        f"2017/04/01 10:11:00 [/admin/index.php] login: user=admin(2) auth=0 lastlogin=2017-03-30 10:00:00 sid=abc{SCRIPT} from {ATTACKER}",
        f"2017/04/01 10:12:00 [/admin/contents/file_manager.php] ../../{IMG_XSS}.php -> /var/www/html/user_data/../../{ANSI}.php from {ATTACKER}",
        f"2017/04/01 10:13:00 [/admin/contents/file_manager.php] x{PAN}.php -> /var/www/html/user_data/x{PAN}.php from {ATTACKER}",
        f"2017/04/01 10:14:00 [/admin/index.php] card_{PAN} password incorrect. from {ATTACKER}",
        f"mdl_pay debug card_no={PAN_FORMS[1]} cvv=123",  # a payment module's debug line: rejected, quoted
    ]
    (logs / "eccube" / "admin.log").write_text("\n".join(admin) + "\n")
    (logs / "mysql" / "general.log").write_text(
        "170401 10:11:00\t    5 Connect\teccube@localhost on eccube_db\n"
        f"\t\t    5 Query\tSELECT * FROM dtb_customer WHERE name01 = '{SCRIPT}'\n"
        f"\t\t    5 Query\tSELECT * FROM dtb_order WHERE order_name01 = '' UNION SELECT '{PAN}' -- '\n"
        "\t\t    5 Quit\t\n"
    )

    server = root / "server" / "html" / "user_data"
    server.mkdir(parents=True)
    (server / "ok.gif").write_bytes(b"GIF89a" + b"\x00" * 20)
    (server / f"{IMG_XSS}.php").write_text("<?php eval(base64_decode($_POST['x'])); ?>")
    (server / "new\nline.php").write_text("<?php echo 1; ?>")
    (server / f"x{PAN}.php").write_text("<?php system($_GET['c']); ?>")
    (server / f"{PAN}.gif").write_text(f"{PAN_FORMS[1]}|TARO YAMADA|04/21|123\n")  # not an image: a skim candidate
    os.symlink(outside, server / "escape.txt")
    os.symlink(outside, server / "escape.gif")  # a "skim file" candidate by name
    os.symlink(outside_dir, server / "linkdir")
    bad_name = os.fsencode(str(server)) + b"/bad\xff\xfename.gif"
    with open(bad_name, "wb") as handle:
        handle.write(b"not an image")

    db = root / "db"
    db.mkdir()
    (db / "dtb_customer.csv").write_text(
        "customer_id,name01,name02,email,tel01,tel02,tel03,create_date,update_date,del_flg\n"
        f'2,"{FORMULA}",{SCRIPT},victim@example.com,03,1234,5678,2017-03-01 10:00:00,2017-03-01 10:00:00,0\n'
        f'3,"{AT_FORMULA}",+1 evil,other@example.com,03,1234,5679,2017-03-01 10:00:00,2017-03-01 10:00:00,0\n'
    )
    (db / "dtb_order.csv").write_text(
        "order_id,customer_id,order_name01,order_name02,order_email,payment_id,payment_method,status,create_date,update_date,del_flg\n"
        f"1,2,\"{FORMULA}\",x,victim@example.com,5,クレジットカード決済,7,2017-04-02 10:00:00,2017-04-02 10:00:00,0\n"
        f"2,3,{PAN_FORMS[1]},x,other@example.com,5,クレジットカード決済,7,2017-04-03 10:00:00,2017-04-03 10:00:00,0\n"
    )
    (db / "dtb_payment.csv").write_text("payment_id,payment_method\n5,クレジットカード決済\n")

    (root / "fs").mkdir()
    (root / "fs" / "bodyfile.txt").write_text(
        f"0|/var/www/eccube/html/user_data/{IMG_XSS}.php|100|r/rrw-r--r--|48|48|40|1491008000|1491008000|1491008000|1491008000\n"
        f"0|/var/www/eccube/html/user_data/card_{PAN}.txt|101|r/rrw-r--r--|48|48|40|1491008000|1491008000|1491008000|0\n"
        f"0|/var/www/eccube/html/user_data/x{PAN}.php|104|r/rrw-r--r--|48|48|40|1491008040|1491008040|1491008040|1491008040\n"
        f"0|/var/www/eccube/html/../../../{ANSI}{SCRIPT}|102|r/rrw-r--r--|48|48|40|1491008100|1491008100|1491008100|0\n"
        f"0|/var/www/eccube/html/user_data/{FORMULA}.php|103|r/rrw-r--r--|48|48|40|1491008200|1491008200|1491008200|0\n"
        "this is not a bodyfile line\n"
    )
    case_yml = root / "case.yml"
    case_yml.write_text(
        "id: hostile-case\n"
        f"title: {json.dumps('hostile ' + SCRIPT)}\n"
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
        f"  internal_ips: [{STAFF}]\n"
        "  test_markers: {customer_ids: [1], emails: [], card_numbers: []}\n"
    )
    return HostileCase(root=root, case_yml=case_yml, outside_secret=outside, bomb_path=bomb)


HOSTILE_STRINGS = (SCRIPT, JS_URL, IMG_XSS, ANSI)
