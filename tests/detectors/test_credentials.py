"""The injection that read the admin accounts before the attacker's admin login."""

from __future__ import annotations

import polars as pl

from forensics.detectors.credentials import credential_theft
from tests.detectors.frames import ts

UTC = pl.Datetime("us", "UTC")


def sqli(rows):
    return pl.DataFrame(rows, schema={"ts": UTC, "client_ip": pl.String, "tables": pl.List(pl.String),
                                      "columns": pl.List(pl.String)}, orient="row")


LOGIN = ts("2017-03-31 14:28:41")


def test_the_dump_of_the_admin_table_before_the_login_is_the_cause():
    requests = sqli([
        (ts("2017-03-19 05:02:00"), "203.0.113.77", ["dtb_products"], ["product_id"]),
        (ts("2017-03-31 13:49:07"), "192.0.2.146", ["dtb_member"], ["login_id", "password"]),
        (ts("2017-03-31 13:49:35"), "192.0.2.146", ["dtb_member"], ["salt"]),
        (ts("2017-04-01 00:00:00"), "192.0.2.146", ["dtb_member"], ["password"]),  # after the login
    ])
    reach = sqli([(ts("2017-03-31 13:49:07"), "192.0.2.146", ["dtb_member"], ["login_id", "password"])])
    got = credential_theft(requests, reach, None, LOGIN, table="dtb_member",
                           columns=("login_id", "password", "salt"))
    assert got["ips"] == ["192.0.2.146"] and got["requests"] == 2 and got["statements"] == 1
    assert got["columns"] == ["login_id", "password", "salt"] and got["proof"] == "query log"
    assert got["last_ts"] == ts("2017-03-31 13:49:35")


def test_no_read_of_the_admin_table_no_cause():
    requests = sqli([(ts("2017-03-19 05:02:00"), "203.0.113.77", ["dtb_products"], ["product_id"])])
    assert credential_theft(requests, None, None, LOGIN, table="dtb_member") is None
    assert credential_theft(requests, None, None, None, table="dtb_member") is None


def test_payloads_alone_say_so():
    requests = sqli([(ts("2017-03-31 13:49:07"), "192.0.2.146", ["dtb_member"], ["password"])])
    assert credential_theft(requests, None, None, LOGIN, table="dtb_member")["proof"] == "payload only"
