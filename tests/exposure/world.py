"""Small hand-built worlds for the exposure tests: exports, query log, requests (times in JST)."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import polars as pl

from forensics import schemas

TZ = "Asia/Tokyo"
JST = ZoneInfo(TZ)
UTC = timezone.utc


def jst(s: str) -> datetime:
    """'2017-04-02 10:00:00' in JST -> aware UTC datetime."""
    return datetime.fromisoformat(s).replace(tzinfo=JST).astimezone(UTC)


def customers(rows: list[dict]) -> pl.DataFrame:
    """dtb_customer export: customer_id, name01, name02, email, tel01, pref, addr01, del_flg,
    create_date, update_date (JST strings)."""
    out = []
    for i, r in enumerate(rows, start=2):
        cd = jst(r.get("create_date", "2017-01-01 00:00:00"))
        out.append({
            "source": "db/dtb_customer.csv", "line_no": i,
            "customer_id": r["customer_id"], "name01": r.get("name01", f"姓{r['customer_id']}"),
            "name02": r.get("name02", "名"), "email": r.get("email", f"c{r['customer_id']}@example.jp"),
            "tel01": "03", "pref": 13, "addr01": "千代田区", "del_flg": r.get("del_flg", 0),
            "create_date": cd,
            "update_date": jst(r["update_date"]) if "update_date" in r else cd,
        })
    return pl.DataFrame(out, schema={
        "source": pl.String, "line_no": pl.Int64, "customer_id": pl.Int64, "name01": pl.String,
        "name02": pl.String, "email": pl.String, "tel01": pl.String, "pref": pl.Int64,
        "addr01": pl.String, "del_flg": pl.Int64, "create_date": schemas.UTC_TS, "update_date": schemas.UTC_TS})


def orders(rows: list[dict]) -> pl.DataFrame:
    """dtb_order export: order_id, customer_id (0 = guest), order_name01, order_email, payment_id,
    status, del_flg, create_date, update_date."""
    out = []
    for i, r in enumerate(rows, start=2):
        cd = jst(r.get("create_date", "2017-03-01 00:00:00"))
        out.append({
            "source": "db/dtb_order.csv", "line_no": i, "order_id": r["order_id"],
            "customer_id": r.get("customer_id", 0), "order_name01": r.get("order_name01", "山田"),
            "order_name02": r.get("order_name02", "太郎"),
            "order_kana01": r.get("order_kana01", "ヤマダ"),
            "order_email": r.get("order_email", f"o{r['order_id']}@example.jp"),
            "order_tel01": "090", "payment_id": r.get("payment_id", 1), "status": r.get("status", 1),
            "del_flg": r.get("del_flg", 0), "create_date": cd,
            "update_date": jst(r["update_date"]) if "update_date" in r else cd,
        })
    return pl.DataFrame(out, schema={
        "source": pl.String, "line_no": pl.Int64, "order_id": pl.Int64, "customer_id": pl.Int64,
        "order_name01": pl.String, "order_name02": pl.String, "order_kana01": pl.String,
        "order_email": pl.String, "order_tel01": pl.String, "payment_id": pl.Int64, "status": pl.Int64,
        "del_flg": pl.Int64, "create_date": schemas.UTC_TS, "update_date": schemas.UTC_TS})


def payments() -> pl.DataFrame:
    return pl.DataFrame({
        "source": ["db/dtb_payment.csv"] * 3, "line_no": [2, 3, 4], "payment_id": [1, 2, 3],
        "payment_method": ["郵便振替", "クレジットカード決済", "代金引換"],
        "module_path": [None, None, None], "del_flg": [0, 0, 0],
    }, schema_overrides={"module_path": pl.String})


class QueryLog:
    """Builder of a QUERY_LOG frame: ``conn(id, at, sid, [sql...])`` adds Connect, the session
    read, the statements (one a second from ``at``) and Quit."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def add(self, conn_id: int, at: str | datetime, command: str, argument: str) -> None:
        t = jst(at) if isinstance(at, str) else at
        self.rows.append({"ts": t, "source": "logs/mysql/general.log", "line_no": len(self.rows) + 1,
                          "line_count": 1, "conn_id": conn_id, "command": command,
                          "argument": argument, "layout": "mysql5.6"})

    def conn(self, conn_id: int, at: str, sid: str | None, sqls: list[str]) -> QueryLog:
        self.add(conn_id, at, "Connect", "eccube@localhost on eccube_db")
        if sid:
            self.add(conn_id, at, "Query", f"SELECT sess_data FROM dtb_session WHERE sess_id = '{sid}'")
        for s in sqls:
            self.add(conn_id, at, "Query", s)
        self.add(conn_id, at, "Quit", "")
        return self

    def frame(self) -> pl.DataFrame:
        return pl.DataFrame(self.rows, schema=schemas.QUERY_LOG)


def requests(rows: list[dict], source: str = "logs/httpd/access_log") -> pl.DataFrame:
    """Admin requests: ts (JST string), client_ip, path, sid, page, status."""
    out = []
    for i, r in enumerate(rows, start=1):
        out.append({"ts": jst(r["ts"]), "source": source, "line_no": r.get("line_no", i),
                    "client_ip": r.get("client_ip", "203.0.113.5"), "method": r.get("method", "POST"),
                    "path": r.get("path", "/admin/customer/index.php"), "status": r.get("status", 200),
                    "sid": r.get("sid"), "page": r.get("page"), "mode": r.get("mode")})
    return pl.DataFrame(out, schema={"ts": schemas.UTC_TS, "source": pl.String, "line_no": pl.Int64,
                                     "client_ip": pl.String, "method": pl.String, "path": pl.String,
                                     "status": pl.Int64, "sid": pl.String, "page": pl.String,
                                     "mode": pl.String})


CUST_LIST = ("SELECT customer_id,name01,name02,email,tel01,pref,addr01 FROM `dtb_customer` "
             "WHERE del_flg = 0 ORDER BY update_date DESC, customer_id DESC LIMIT {off}, {n}")
CUST_EDIT = "SELECT * FROM dtb_customer WHERE customer_id = {cid} AND del_flg = 0"
ORDER_LIST = ("SELECT order_id, customer_id, order_name01, order_name02, order_email, order_tel01 "
              "FROM dtb_order WHERE del_flg = 0 ORDER BY update_date DESC LIMIT {n} OFFSET {off}")
