"""The simulated shop: database state, an event queue, and every request that changes state.

Requests are kept as *entries* ``(t, seq, access_text, qblock, tag)``; the writers turn them into
the access log and the MySQL general log. State changes (INSERT/UPDATE) are applied at exactly the
second their statement is logged, so "the rows as they stood when the attacker looked" is simply
the state at that point of the queue.
"""

from __future__ import annotations

import hashlib
import heapq
import random
from typing import Callable

from . import messages as M
from . import schema as S
from . import world as W
from .truth import View, person_of

SID_CHARS = "0123456789abcdefghijklmnopqrstuv"

CUST_COLS = S.columns("dtb_customer")
ORDER_COLS = S.columns("dtb_order")
DETAIL_COLS = S.columns("dtb_order_detail")
ORDER_LIST_COLS = ("order_id, create_date, order_name01, order_name02, order_kana01, order_kana02, "
                   "order_email, customer_id, payment_method, payment_total, status, update_date")
CUST_LIST_COLS = ("customer_id,name01,name02,kana01,kana02,sex,email,tel01,tel02,tel03,pref,status,"
                  "update_date,mailmaga_flg")


def q(v) -> str:
    """A literal as EC-CUBE's MDB2 emulated prepare puts it into the statement."""
    if v is None:
        return "NULL"
    if isinstance(v, int):
        return str(v)
    s = str(v).replace("\\", "\\\\").replace("'", "\\'").replace('"', '\\"').replace("\n", "\\n")
    return "'" + s + "'"


class Sim:
    """Event-driven simulation of the shop over the evidence period."""

    def __init__(self, seed: int, scale: int, options: frozenset[str] = frozenset()) -> None:
        self.seed, self.scale, self.options = seed, scale, options
        self.rng = random.Random(seed * 7 + 1)
        self.clock = W.Clock(0 if "utc_server" in options else W.JST_OFFSET)
        self.base = "/shop" if "subfolder" in options else ""   # the shop's URL path prefix
        self.customers: dict[int, dict] = {}
        self.cust_ids: list[int] = []           # creation order, for O(1) random picks
        self.orders: dict[int, dict] = {}
        self.details: list[dict] = []
        self.cust_ip: dict[int, str] = {}
        self.cust_ua: dict[int, str] = {}
        self.next_customer_id = 1
        self.next_order_id = 1
        self.next_detail_id = 1
        self.card_enabled = True
        self.payment_deleted_at: int | None = None
        self.member_lastlogin = {1: W.jst(2017, 3, 11, 17, 40, 12), 2: W.jst(2017, 2, 27, 14, 2, 55)}
        self.member_pw_changed: int | None = None
        self._heap: list = []
        self._hseq = 0
        self.seq = 0
        self.entries: dict[int, list] = {}      # day -> entries
        self.app_logs: dict[str, list[tuple[int, int, str]]] = {"admin.log": [], "site.log": [], "customer.log": [],
                                                                  "error.log": []}
        self.views: list[View] = []
        self.card_entries: list = []            # (order_id, t, customer_id, email, card_no|None)
        self.guard_times: list[int] = []        # attacker views: keep other writes off these seconds
        self.facts: dict = {}

    # ---- queue -------------------------------------------------------------------------------
    def at(self, t: int, fn: Callable[[int], None]) -> None:
        self._hseq += 1
        heapq.heappush(self._heap, (t, self._hseq, fn))

    def run(self) -> None:
        while self._heap:
            t, _, fn = heapq.heappop(self._heap)
            fn(t)

    def clear_of_guards(self, t: int) -> int:
        """Move a state change off the seconds around an attacker page view (no same-second race)."""
        for g in self.guard_times:
            if abs(t - g) <= 2:
                return self.clear_of_guards(g + 3)
        return t

    # ---- emitting ----------------------------------------------------------------------------
    def _seq(self) -> int:
        self.seq += 1
        return self.seq

    def access_line(self, t, ip, method, path, status, size, ref, ua) -> str:
        return (f'{ip} - - {self.clock.access(t)} "{method} {path} HTTP/1.1" {status} '
                f'{size if size else "-"} "{ref}" "{ua}"')

    def req(self, t, ip, method, path, status, size, ref, ua, block=None, tag=None) -> None:
        """One HTTP request; ``block`` is its query-log part (see output.QueryLogWriter)."""
        line = self.access_line(t, ip, method, path, status, size, ref, ua)
        day = (t - W.T0) // 86400
        self.entries.setdefault(day, []).append((t, self._seq(), line, block, tag))

    def raw_entry(self, t, text, block=None, tag=None) -> None:
        day = (t - W.T0) // 86400
        self.entries.setdefault(day, []).append((t, self._seq(), text, block, tag))

    def app_log(self, t, script, ip, key: str, *, admin: tuple | None = None, session_customer="", **values) -> None:
        """One EC-CUBE app-log record (gfPrintLog's layout) of message template ``key``, in the template's
        file. ``admin`` (login_id, authority, session id) / ``session_customer``: the session, which a verbose
        record (``debug_mode``) prints."""
        tpl = M.TEMPLATES[key]
        msg = M.render(key, **values)
        rec = f"{self.clock.app(t)} [{self.base}{script}] {msg} from {ip}"
        # error.log is always verbose (handle_warning passes $verbose = true); customer.log never
        if tpl.log == "error.log" or ("debug_mode" in self.options and tpl.log != "customer.log"):
            rec = "\n".join([rec, *M.verbose_lines(key, script, W.DOCROOT, admin=admin, customer_id=session_customer)])
        self.app_logs[tpl.log].append((t, self._seq(), rec))

    def sid(self, rng: random.Random | None = None) -> str:
        r = rng or self.rng
        return "".join(r.choice(SID_CHARS) for _ in range(26))

    # ---- people ------------------------------------------------------------------------------
    def random_ip(self, rng: random.Random) -> str:
        if rng.random() < 0.06:
            return f"{rng.choice(W.IP6_PREFIXES)}:{rng.randint(1, 0xffff):x}:{rng.randint(1, 0xffff):x}::{rng.randint(1, 0xfff):x}"
        return f"{rng.choice(W.IP_PREFIXES)}.{rng.randint(1, 254)}.{rng.randint(1, 254)}"

    def new_person(self, rng: random.Random) -> dict:
        fam, fkana = rng.choice(W.FAMILY)
        given, gkana, sex = rng.choice(W.GIVEN)
        pi = rng.choices(range(len(W.PREFS)), weights=W.PREF_WEIGHTS)[0]
        pref, _pname, zp, towns = W.PREFS[pi]
        roma = W.ROMA_FAMILY[W.FAMILY.index((fam, fkana))]
        local = rng.choice([f"{roma}{rng.randint(1, 999)}", f"{roma}.{gkana[:1] and rng.choice('abcdefghkmnrstwy')}{rng.randint(10, 99)}",
                            f"{rng.choice('abcdefghkmnrstwy')}{roma}{rng.randint(60, 99)}"])
        mobile = rng.random() < 0.5
        tel = (f"0{rng.choice([90, 80, 70])}", f"{rng.randint(1000, 9999)}", f"{rng.randint(1000, 9999)}") if mobile else \
              (f"0{rng.randint(3, 99)}", f"{rng.randint(100, 9999)}", f"{rng.randint(1000, 9999)}")
        return {
            "name01": fam, "name02": given, "kana01": fkana, "kana02": gkana,
            "zip01": f"{zp}{rng.randint(0, 99):02d}", "zip02": f"{rng.randint(0, 9999):04d}", "pref": pref,
            "addr01": rng.choice(towns), "addr02": f"{rng.randint(1, 9)}-{rng.randint(1, 30)}-{rng.randint(1, 20)}"
            + (f" {rng.choice(['コーポ', 'ハイツ', 'メゾン'])}{rng.choice(['桜', '緑', '青葉'])}{rng.randint(101, 509)}" if rng.random() < 0.4 else ""),
            "email": f"{local}@{rng.choice(W.MAIL_DOMAINS)}", "tel01": tel[0], "tel02": tel[1], "tel03": tel[2], "sex": sex,
        }

    def make_customer(self, rng: random.Random, created: int, updated: int, *, person: dict | None = None,
                      status: int = 2, del_flg: int = 0) -> dict:
        cid = self.next_customer_id
        self.next_customer_id += 1
        p = person or self.new_person(rng)
        y = rng.randint(1945, 1998)
        c = {
            "customer_id": cid, **p, "email_mobile": None, "fax01": None, "fax02": None, "fax03": None,
            "job": rng.randint(1, 18), "birth": f"{y}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} 00:00:00",
            "password": hashlib.sha256(f"{self.seed}pw{cid}".encode()).hexdigest(),
            "salt": "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(10)),
            "secret_key": "r" + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(17)),
            "reminder": rng.randint(1, 7), "reminder_answer": hashlib.sha256(f"{self.seed}ra{cid}".encode()).hexdigest(),
            "point": rng.choice([0, 0, 0, 12, 50, 120, 300]), "note": None, "status": status,
            "mailmaga_flg": rng.choice([1, 2, 3]), "_c": created, "_u": updated, "del_flg": del_flg,
            "mobile_phone_id": None, "buy_times": 0, "buy_total": 0,
        }
        self.customers[cid] = c
        self.cust_ids.append(cid)
        self.cust_ip[cid] = self.random_ip(rng)
        self.cust_ua[cid] = rng.choice(W.BROWSER_UAS)
        return c

    def make_order(self, rng, t, *, customer: dict | None, guest: dict | None, payment_id: int,
                   status: int, updated: int | None = None, commit: int | None = None) -> dict:
        oid = self.next_order_id
        self.next_order_id += 1
        src = customer or guest
        items = []
        for _ in range(rng.choice([1, 1, 1, 2, 2, 3])):
            pid = rng.randint(1, len(W.PRODUCTS))
            name, _cat, price = W.PRODUCTS[pid]
            items.append((pid, name, price, rng.choice([1, 1, 1, 2, 3, 6])))
        subtotal = sum(p * n for _, _, p, n in items)
        deliv = 0 if subtotal >= 10000 else 864
        charge = W.PAYMENTS[payment_id][1]
        total = subtotal + deliv + charge
        o = {
            "order_id": oid, "order_temp_id": hashlib.md5(f"{self.seed}ot{oid}".encode()).hexdigest(),
            "customer_id": customer["customer_id"] if customer else 0, "message": None,
            "order_name01": src["name01"], "order_name02": src["name02"], "order_kana01": src["kana01"],
            "order_kana02": src["kana02"], "order_email": src["email"], "order_tel01": src["tel01"],
            "order_tel02": src["tel02"], "order_tel03": src["tel03"], "order_zip01": src["zip01"],
            "order_zip02": src["zip02"], "order_pref": src["pref"], "order_addr01": src["addr01"],
            "order_addr02": src["addr02"], "order_sex": src["sex"], "order_birth": None,
            "subtotal": subtotal, "discount": 0, "deliv_id": 1, "deliv_fee": deliv, "charge": charge,
            "use_point": 0, "add_point": subtotal // 100, "birth_point": 0, "tax": subtotal * 8 // 108, "total": total,
            "payment_total": total, "payment_id": payment_id, "payment_method": W.PAYMENTS[payment_id][0],
            "note": None, "status": status, "_c": t, "_u": updated if updated is not None else t,
            "_commit": commit, "payment_date": None, "device_type_id": 10, "del_flg": 0,
        }
        self.orders[oid] = o
        o["_items"] = []
        for pid, name, price, n in items:
            self.details.append({"order_detail_id": self.next_detail_id, "order_id": oid, "product_id": pid,
                                 "product_class_id": pid, "product_name": name, "product_code": f"TS-{pid:04d}",
                                 "classcategory_name1": None, "classcategory_name2": None,
                                 "price": price, "quantity": n, "point_rate": 1, "tax_rate": 8, "tax_rule": 1})
            o["_items"].append(self.details[-1])
            self.next_detail_id += 1
        return o

    # ---- SQL text ----------------------------------------------------------------------------
    def row_values(self, row: dict, cols: list[str]) -> list:
        out = []
        for c in cols:
            if c == "create_date":
                out.append(self.clock.db(row["_c"]))
            elif c == "update_date":
                out.append(self.clock.db(row["_u"]))
            elif c == "commit_date":
                out.append(self.clock.db(row["_commit"]) if row.get("_commit") else None)
            else:
                out.append(row.get(c))
        return out

    def insert_sql(self, table: str, row: dict, cols: list[str]) -> str:
        return (f"INSERT INTO {table} ({', '.join(cols)}) VALUES ("
                + ", ".join(q(v) for v in self.row_values(row, cols)) + ")")

    # ---- what an admin page displays at this moment ------------------------------------------
    def customer_rows(self, offset: int, limit: int | None, pred=None) -> list[dict]:
        rows = [c for c in self.customers.values() if c["del_flg"] == 0 and (pred is None or pred(c))]
        rows.sort(key=lambda c: (c["_u"], c["customer_id"]), reverse=True)
        return rows[offset:] if limit is None else rows[offset:offset + limit]

    def order_rows(self, offset: int, limit: int | None, pred=None) -> list[dict]:
        rows = [o for o in self.orders.values()
                if o["del_flg"] == 0 and o["status"] != 7 and (pred is None or pred(o))]
        rows.sort(key=lambda o: (o["_u"], o["order_id"]), reverse=True)
        return rows[offset:] if limit is None else rows[offset:offset + limit]


def order_person(o: dict) -> str:
    return person_of(o["customer_id"], o["order_email"])
