"""Who does what, when: customers, staff, the vendor, and the scripted attack.

Background actors are scaled by ``scale``; the attack is not. The attacker's admin browsing is
*adaptive*: each planned page is evaluated against the database as it stands at that second, and
the script stops adding list pages once they would overshoot the target; single customer edit
pages (one new person each) fill the rest. So the viewed-person count is a product of the
simulation, and ``truth.viewed_persons`` recounts it independently from the recorded views.
"""

from __future__ import annotations

import base64
import random

from . import payloads as P
from . import world as W
from .sim import CUST_COLS, CUST_LIST_COLS, DETAIL_COLS, ORDER_COLS, ORDER_LIST_COLS, Sim, order_person, q
from .truth import CardEntry, SkimRecord, View, person_of

TARGET_VIEWED = 55
FILLER_RESERVE = 5   # list pages stop this many persons short; single edit pages (+1 each) fill the rest
FRONT_SESS = 'cart|a:0:{}tmp|a:0:{}'
HOURS_W = [2, 1, 1, 0.5, 0.5, 0.5, 1, 2, 3, 4, 5, 6, 7, 6, 5, 5, 5, 5, 6, 7, 8, 8, 7, 4]
REF_SHOP = "https://toshomart.com"


def _member_sess(cid: int) -> str:
    return f'customer|a:1:{{s:11:"customer_id";s:{len(str(cid))}:"{cid}";}}cart|a:0:{{}}'


def _admin_sess(member_id: int, login_id: str, uniq: str) -> str:
    return (f'cert|s:8:"7WDhcBTF";login_id|s:{len(login_id)}:"{login_id}";authority|s:1:"0";'
            f'member_id|s:1:"{member_id}";uniq_id|s:32:"{uniq}";')


#: the tables a backup dumps (lfCreateBkupData: every table of the database; the ones the shop uses)
BKUP_TABLES = ["dtb_baseinfo", "dtb_best_products", "dtb_bkup", "dtb_category", "dtb_customer", "dtb_deliv",
               "dtb_member", "dtb_order", "dtb_order_detail", "dtb_order_temp", "dtb_payment", "dtb_product_categories",
               "dtb_product_class", "dtb_products", "dtb_session", "dtb_shipping", "dtb_shipment_item"]
BKUP_NAME = "bk20170410"
#: the attacker's stored CSV SQL (dtb_csv_sql.csv_sql: the statement after "SELECT ")
CSV_SQL_NAME = "list"
CSV_SQL = ("customer_id, name01, name02, email, tel01, tel02, tel03, zip01, zip02, pref, addr01, addr02 "
           "FROM dtb_customer WHERE del_flg = 0 AND pref = 13")

def member_login_sql(email: str) -> str:
    """SC_Customer::setCustomerDataFromEmailPass (a PC login: no email_mobile condition)."""
    return f"SELECT * FROM dtb_customer WHERE (email = {q(email)}) AND del_flg = 0 AND status = 2"


MEMBERS = {"admin": (1, "管理者"), "toyo_support": (2, "東洋商事サポート")}


class Story:
    def __init__(self, sim: Sim) -> None:
        self.s = sim
        self.rng = sim.rng
        self.arng = random.Random(sim.seed * 31 + 5)   # the attack: independent of scale
        self.viewed: set[str] = set()
        self.skims: list[SkimRecord] = []
        self.skim_lines: list[str] = []
        self.tamper_t = W.jst(2017, 4, 8, 21, 14, 36)
        self.backdoor_t = W.jst(2017, 3, 31, 23, 31, 7)
        self.login_t = W.jst(2017, 3, 31, 23, 28, 41)
        self.card_persons_used: set[int] = set()
        self.sqli_first: int | None = None
        self.last_attacker_admin = 0
        self.csv_room = 8
        self.facts = sim.facts
        self.options = sim.options
        self.orng = random.Random(sim.seed * 41 + 9)   # events of the options: the default case unchanged
        self.login_failures: list[dict] = []
        self.failed_uploads: list[dict] = []

    # ================================================================ helpers
    def hour_time(self, rng, day: int) -> int:
        h = rng.choices(range(24), weights=HOURS_W)[0]
        return W.T0 + day * 86400 + h * 3600 + rng.randint(0, 3599)

    def page(self, t, ip, ua, sid, method, path, status=200, size=None, ref="-", sqls=(), new=False, sess=FRONT_SESS,
             tag=None):
        r = self.rng
        if size is None:
            size = 0 if status in (302, 304) else r.randint(7000, 24000)
        self.s.req(t, ip, method, path, status, size, ref, ua, (sid, new, tuple(sqls), sess), tag)

    def admin(self, t, ip, ua, sess, path, *, method="POST", sqls=(), status=200, log=None, attacker=False):
        """An authenticated admin page: access line in admin.log, session read/write in the query log.
        ``log``: (template key, values) of a further message the page writes."""
        sid, member_id, login_id, uniq = sess
        size = 0 if status == 302 else self.rng.randint(9000, 60000)
        self.s.req(t, ip, method, path, status, size, REF_SHOP + "/admin/home.php", ua,
                   (sid, False, tuple(sqls), _admin_sess(member_id, login_id, uniq)))
        ctx = (login_id, 0, sid)
        self.s.app_log(t, path, ip, "admin_access", admin=ctx, login_id=login_id, auth=0, sid=sid)
        if log:
            self.s.app_log(t, path, ip, log[0], admin=ctx, **log[1])
        if attacker:
            self.last_attacker_admin = max(self.last_attacker_admin, t)

    def admin_login(self, t, ip, ua, login_id="admin", *, fail_ids=(), rng=None) -> tuple:
        """GET the login form, optional failed attempts, then a successful login. Returns the session."""
        s, r = self.s, rng or self.rng
        pre_sid = s.sid(r)
        tt = t - 20 - 50 * len(fail_ids)
        self.page(tt, ip, ua, pre_sid, "GET", "/admin/", 200, 4120, "-", new=True, sess="")
        for bad in fail_ids:
            tt += r.randint(30, 45)
            self.failed_login(tt, ip, ua, pre_sid, bad)
        member_id = MEMBERS[login_id][0]
        sid = s.sid(r)
        uniq = "".join(r.choice("0123456789abcdef") for _ in range(32))
        last = s.member_lastlogin[member_id]
        # LC_Page_Admin_Index: lfIsLoginMember, lfDoLogin, then lfSetLoginData's UPDATE
        self.s.req(t, ip, "POST", "/admin/index.php", 302, 0, REF_SHOP + "/admin/", ua,
                   (sid, True, (
                       f"SELECT password, salt FROM dtb_member WHERE login_id = {q(login_id)} AND del_flg <> 1 AND work = 1",
                       f"SELECT member_id, authority, login_date, name FROM dtb_member WHERE login_id = {q(login_id)}",
                       f"UPDATE dtb_member SET login_date = {q(s.clock.db(t))} WHERE member_id = {member_id}",
                   ), _admin_sess(member_id, login_id, uniq)))
        # lfSetLoginSession builds an SC_Session before setting the certificate: "access error.", and
        # the login line's sid (that object's) is empty
        s.app_log(t, "/admin/index.php", ip, "admin_access_error", admin=("", "", sid))
        s.app_log(t, "/admin/index.php", ip, "admin_login", admin=(login_id, 0, sid), login_id=login_id,
                  member_id=member_id, auth=0, lastlogin=W.db_time(last), sid="")
        s.member_lastlogin[member_id] = t
        sess = (sid, member_id, login_id, uniq)
        self.admin(t + 1, ip, ua, sess, "/admin/home.php", method="GET",
                   sqls=["SELECT COUNT(*) FROM dtb_order WHERE del_flg = 0 AND status = 1",
                         "SELECT COUNT(*) FROM dtb_customer WHERE del_flg = 0 AND status = 2"])
        return sess

    def failed_login(self, t, ip, ua, sid, login_id, new: bool = False) -> None:
        """A wrong password for a well-formed ID: lfSetIncorrectData logs it, and sfDispError(LOGIN_ERROR)
        shows LC_Page_Error_DispError, which answers HTTP 500."""
        self.page(t, ip, ua, sid, "POST", "/admin/index.php", 500, 4301, REF_SHOP + "/admin/",
                  sqls=[f"SELECT password, salt FROM dtb_member WHERE login_id = {q(login_id)} "
                        f"AND del_flg <> 1 AND work = 1"], sess="", new=new)
        self.s.app_log(t, "/admin/index.php", ip, "admin_login_failed", admin=("", "", sid), login_id=login_id)
        self.login_failures.append({"t": t, "ip": ip, "logged": True})

    def malformed_login(self, t, ip, ua, sid, new: bool) -> None:
        """A login ID that fails lfInitParam's ALNUM_CHECK: the error page (500), no query, no log line."""
        self.page(t, ip, ua, sid, "POST", "/admin/index.php", 500, 4301, REF_SHOP + "/admin/", sess="", new=new)
        self.login_failures.append({"t": t, "ip": ip, "logged": False})

    def active_members(self, before: int, *, exclude=()) -> list[dict]:
        return [c for c in self.s.customers.values()
                if c["del_flg"] == 0 and c["status"] == 2 and c["customer_id"] != 1 and c["_c"] < before
                and c["customer_id"] not in exclude]

    def guest_person(self, r, *, mixed: bool | None = None) -> dict:
        """A guest buyer; some type their e-mail with capitals (a guest person is the lower-cased e-mail)."""
        g = self.s.new_person(r)
        if mixed or (mixed is None and r.random() < 0.08):
            local, dom = g["email"].split("@")
            g["email"] = local[:1].upper() + local[1:] + "@" + dom.title()
        return g

    def pick_member(self, r, before: int, *, exclude=()) -> dict | None:
        """A random active member created before ``before`` (rejection sampling: O(1) at any scale)."""
        ids, cs = self.s.cust_ids, self.s.customers
        for _ in range(200):
            c = cs[ids[r.randrange(len(ids))]]
            if (c["del_flg"] == 0 and c["status"] == 2 and c["customer_id"] != 1 and c["_c"] < before
                    and c["customer_id"] not in exclude):
                return c
        return None

    # ================================================================ initial database
    def seed_database(self) -> None:
        s, r, sc = self.s, self.rng, self.s.scale
        start, end = W.jst(2013, 4, 1), W.T0 - 4 * 86400
        test = s.make_customer(r, W.jst(2013, 3, 28, 15, 2, 11), W.jst(2013, 3, 28, 15, 2, 11),
                               person={"name01": "テスト", "name02": "会員", "kana01": "テスト", "kana02": "カイイン",
                                       "zip01": "103", "zip02": "0027", "pref": 13, "addr01": "中央区日本橋",
                                       "addr02": "1-2-3 東洋商事ビル", "email": "test@toyoshoji.example",
                                       "tel01": "03", "tel02": "4531", "tel03": "9870", "sex": 1})
        test["note"] = "テスト用会員（削除不可）"
        for tc in sorted(r.randint(start, end) for _ in range(260 * sc)):
            up = tc if r.random() < 0.5 else r.randint(tc, W.T0 - 3 * 86400)
            c = s.make_customer(r, tc, up)
            if r.random() < 0.04:
                c["del_flg"] = 1
        pool = list(s.customers.values())
        for tc in sorted(r.randint(W.jst(2014, 1, 1), W.T0 - 2 * 86400) for _ in range(800 * sc)):
            cands = [c for c in r.sample(pool, min(5, len(pool))) if c["_c"] < tc and c["customer_id"] != 1]
            cust = cands[0] if cands and r.random() < 0.7 else None
            guest = None if cust else s.new_person(r)
            pay = r.choices([1, 2, 3, 4, 5], weights=[5, 1, 20, 30, 40])[0]
            up = min(tc + r.randint(86400, 4 * 86400), W.T0 - 86400)
            o = s.make_order(r, tc, customer=cust, guest=guest, payment_id=pay, status=r.choice([5] * 19 + [3]),
                             updated=up, commit=up)

    # ================================================================ background actors
    def schedule_background(self) -> None:
        s, r, sc = self.s, self.rng, self.s.scale
        for day in range(W.DAYS):
            wd = day % 7  # 0 = Monday (2017-03-13)
            for kind, base in (("reg", 1.8), ("prof", 1.2), ("wd", 0.25), ("order", 10.0)):
                n = int(base * sc * r.uniform(0.6, 1.4) + r.random())
                for _ in range(n):
                    s.at(self.hour_time(r, day), getattr(self, f"bg_{kind}"))
            if wd != 6:
                s.at(W.T0 + day * 86400 + 9 * 3600 + r.randint(60, 900), self.staff_session)
                if wd != 5:
                    s.at(W.T0 + day * 86400 + 14 * 3600 + r.randint(0, 7200), self.staff_session)

    def card_allowed(self, t: int) -> bool:
        # Background card payments stay clear of the backdoor window; the window's card entries are
        # scripted so the counts do not move with --scale.
        return t < W.jst(2017, 3, 31, 22, 30)

    def bg_reg(self, t: int) -> None:
        s, r = self.s, self.rng
        t = s.clear_of_guards(t)
        if t >= W.T_END - 600:
            return
        c = s.make_customer(r, t, t)
        self._registration(t, c)

    def _registration(self, t: int, c: dict) -> None:
        s, r = self.s, self.rng
        ip, ua, sid = s.cust_ip[c["customer_id"]], s.cust_ua[c["customer_id"]], s.sid(r)
        self.page(t - 200, ip, ua, sid, "GET", "/entry/kiyaku.php", ref=REF_SHOP + "/", new=True)
        self.page(t - 170, ip, ua, sid, "GET", "/entry/index.php", ref=REF_SHOP + "/entry/kiyaku.php")
        self.page(t - 30, ip, ua, sid, "POST", "/entry/index.php", ref=REF_SHOP + "/entry/index.php",
                  sqls=[f"SELECT COUNT(*) FROM dtb_customer WHERE del_flg = 0 AND email = {q(c['email'])}"])
        self.page(t, ip, ua, sid, "POST", "/entry/index.php", 302, ref=REF_SHOP + "/entry/index.php", sqls=[
            "UPDATE dtb_customer_customer_id_seq SET sequence = LAST_INSERT_ID(sequence + 1)",
            s.insert_sql("dtb_customer", c, CUST_COLS)])
        # CUSTOMER_CONFIRM_MAIL is false: LC_Page_Entry logs the new member in (SC_Customer::setLogin)
        s.app_log(t, "/entry/index.php", ip, "member_login", customer_id=c["customer_id"], host=ip)
        self.page(t + 1, ip, ua, sid, "GET", "/entry/complete.php", ref=REF_SHOP + "/entry/index.php")

    def _member_login(self, t, c, sid, ip, ua, path="/mypage/login.php"):
        self.page(t - 1, ip, ua, sid, "GET", path, ref=REF_SHOP + "/", new=True)
        self.page(t, ip, ua, sid, "POST", "/frontparts/login_check.php", 302, ref=REF_SHOP + path,
                  sqls=[member_login_sql(c["email"])], sess=_member_sess(c["customer_id"]))
        self.s.app_log(t, "/frontparts/login_check.php", ip, "member_login", customer_id=c["customer_id"], host=ip)

    def bg_prof(self, t: int) -> None:
        s, r = self.s, self.rng
        t = s.clear_of_guards(t)
        c = self.pick_member(r, t - 86400)
        if c is None or t >= W.T_END - 600:
            return
        ip, ua, sid, cid = s.cust_ip[c["customer_id"]], s.cust_ua[c["customer_id"]], s.sid(r), c["customer_id"]
        self._member_login(t - 150, c, sid, ip, ua)
        self.page(t - 120, ip, ua, sid, "GET", "/mypage/change.php", ref=REF_SHOP + "/mypage/index.php",
                  sess=_member_sess(cid), sqls=[f"SELECT * FROM dtb_customer WHERE customer_id = {cid}"])
        what = r.choice(["addr", "tel", "mail"])
        if what == "addr":
            c["addr02"] = f"{r.randint(1, 9)}-{r.randint(1, 30)}-{r.randint(1, 20)}"
            sets = f"addr02 = {q(c['addr02'])}"
        elif what == "tel":
            c["tel02"], c["tel03"] = f"{r.randint(1000, 9999)}", f"{r.randint(1000, 9999)}"
            sets = f"tel02 = {q(c['tel02'])}, tel03 = {q(c['tel03'])}"
        else:
            c["mailmaga_flg"] = 3 if c["mailmaga_flg"] != 3 else 1
            sets = f"mailmaga_flg = {c['mailmaga_flg']}"
        c["_u"] = t
        self.page(t, ip, ua, sid, "POST", "/mypage/change.php", 302, ref=REF_SHOP + "/mypage/change.php",
                  sess=_member_sess(cid), sqls=[f"UPDATE dtb_customer SET {sets}, update_date = {q(s.clock.db(t))} "
                                                f"WHERE customer_id = {cid}"])
        self.page(t + 1, ip, ua, sid, "GET", "/mypage/change_complete.php", ref=REF_SHOP + "/mypage/change.php",
                  sess=_member_sess(cid))

    def bg_wd(self, t: int, customer: dict | None = None) -> None:
        s, r = self.s, self.rng
        t = s.clear_of_guards(t)
        if customer is None:
            customer = self.pick_member(r, t - 3 * 86400, exclude=self.card_persons_used)
            if customer is None or t >= W.T_END - 600:
                return
        c = customer
        cid = c["customer_id"]
        ip, ua, sid = s.cust_ip[cid], s.cust_ua[cid], s.sid(r)
        self._member_login(t - 90, c, sid, ip, ua)
        self.page(t - 60, ip, ua, sid, "GET", "/mypage/refusal.php", ref=REF_SHOP + "/mypage/index.php",
                  sess=_member_sess(cid))
        c["del_flg"], c["_u"] = 1, t
        self.page(t, ip, ua, sid, "POST", "/mypage/refusal.php", 302, ref=REF_SHOP + "/mypage/refusal.php",
                  sess=_member_sess(cid), sqls=[f"UPDATE dtb_customer SET del_flg = 1, update_date = "
                                                f"{q(s.clock.db(t))} WHERE customer_id = {cid}"])
        # LC_Page_Mypage_Refusal ends the member's session (SC_Customer::EndSession)
        s.app_log(t, "/mypage/refusal.php", ip, "member_logout", customer_id=cid, host=ip)
        self.page(t + 1, ip, ua, sid, "GET", "/mypage/refusal_complete.php", ref=REF_SHOP + "/mypage/refusal.php",
                  sess=FRONT_SESS)

    def bg_order(self, t: int) -> None:
        r = self.rng
        t = self.s.clear_of_guards(t)
        if t >= W.T_END - 900:
            return
        cust = self.pick_member(r, t - 3600, exclude=self.card_persons_used) if r.random() < 0.7 else None
        card_ok = self.s.card_enabled and self.card_allowed(t)
        pay = r.choices([1, 2, 3, 4, 5], weights=[5, 1, 20, 30, 45 if card_ok else 0])[0]
        self.order_flow(t, cust, pay)

    def order_flow(self, t: int, cust: dict | None, pay: int, *, guest: dict | None = None, ip=None, ua=None,
                   card: tuple | None = None, card_posts: int = 1) -> dict:
        """The purchase flow; the order row is INSERTed at ``t`` (confirm). Card payments go on to the
        card-entry POST; once the form is tampered they fail (200, order stays pending)."""
        s, r = self.s, self.rng
        if cust is None and guest is None:
            guest = self.guest_person(r)
        if cust is not None:
            ip = ip or s.cust_ip[cust["customer_id"]]
            ua = ua or s.cust_ua[cust["customer_id"]]
        else:
            ip = ip or s.random_ip(r)
            ua = ua or r.choice(W.BROWSER_UAS)
        sid = s.sid(r)
        sess = _member_sess(cust["customer_id"]) if cust else FRONT_SESS
        is_card = W.PAYMENTS[pay][3]
        o = s.make_order(r, t, customer=cust, guest=guest, payment_id=pay, status=7 if is_card else 1)
        pid = s.details[-1]["product_id"]
        d0 = f"/products/detail.php?product_id={pid}"
        tt = t - 300
        self.page(tt, ip, ua, sid, "GET", d0, ref=r.choice(["-", REF_SHOP + "/", REF_SHOP + "/products/list.php?category_id=" +
                                                             str(W.PRODUCTS[pid][1])]), new=True,
                  sqls=[f"SELECT * FROM dtb_products WHERE product_id = {pid} AND del_flg = 0"])
        self.page(tt + 40, ip, ua, sid, "POST", d0, 302, ref=REF_SHOP + d0)
        self.page(tt + 41, ip, ua, sid, "GET", "/cart/index.php", ref=REF_SHOP + d0)
        self.page(tt + 60, ip, ua, sid, "POST", "/cart/index.php", 302, ref=REF_SHOP + "/cart/index.php")
        self.page(tt + 61, ip, ua, sid, "GET", "/shopping/index.php", ref=REF_SHOP + "/cart/index.php")
        if cust:
            # the login form of shopping/index.php posts to itself (LC_Page_Shopping mode=login)
            self.page(tt + 90, ip, ua, sid, "POST", "/shopping/index.php", 302, ref=REF_SHOP + "/shopping/index.php",
                      sqls=[member_login_sql(cust["email"])], sess=sess)
            s.app_log(tt + 90, "/shopping/index.php", ip, "member_login", customer_id=cust["customer_id"], host=ip)
            self.page(tt + 91, ip, ua, sid, "GET", "/shopping/deliv.php", ref=REF_SHOP + "/shopping/index.php", sess=sess)
            self.page(tt + 120, ip, ua, sid, "POST", "/shopping/deliv.php", 302, ref=REF_SHOP + "/shopping/deliv.php", sess=sess)
        else:
            self.page(tt + 150, ip, ua, sid, "POST", "/shopping/index.php", 302, ref=REF_SHOP + "/shopping/index.php")
        self.page(tt + 160, ip, ua, sid, "GET", "/shopping/payment.php", ref=REF_SHOP + "/shopping/deliv.php", sess=sess)
        self.page(tt + 200, ip, ua, sid, "POST", "/shopping/payment.php", 302, ref=REF_SHOP + "/shopping/payment.php", sess=sess)
        self.page(tt + 201, ip, ua, sid, "GET", "/shopping/confirm.php", ref=REF_SHOP + "/shopping/payment.php", sess=sess)
        rows = [f"UPDATE dtb_order_order_id_seq SET sequence = LAST_INSERT_ID(sequence + 1)",
                s.insert_sql("dtb_order", o, ORDER_COLS)]
        rows += [s.insert_sql("dtb_order_detail", d, DETAIL_COLS) for d in o["_items"]]
        nxt = "/shopping/load_payment_module.php" if is_card else "/shopping/complete.php"
        self.page(t, ip, ua, sid, "POST", "/shopping/confirm.php", 302, ref=REF_SHOP + "/shopping/confirm.php",
                  sess=sess, sqls=rows)
        # LC_Page_Shopping_Confirm: completeOrder(ORDER_PENDING) for a module payment, ORDER_NEW otherwise
        s.app_log(t, "/shopping/confirm.php", ip, "order_complete", session_customer=o["customer_id"] or "",
                  order_id=o["order_id"])
        if is_card:
            s.card_entries.append(CardEntry(o["order_id"], t, o["customer_id"], o["order_email"],
                                            card[0] if card else None))
            self.page(t + 1, ip, ua, sid, "GET", nxt, ref=REF_SHOP + "/shopping/confirm.php", sess=sess,
                      sqls=[f"SELECT * FROM dtb_order WHERE order_id = {o['order_id']}"])
            tp = t + r.randint(35, 80)
            for k in range(card_posts):
                s.at(tp + k * r.randint(70, 150), lambda tt2, o=o, ip=ip, ua=ua, sid=sid, sess=sess, card=card:
                     self.card_post(tt2, o, ip, ua, sid, sess, card))
        else:
            self.page(t + 1, ip, ua, sid, "GET", nxt, ref=REF_SHOP + "/shopping/confirm.php", sess=sess)
        return o

    def card_post(self, t, o, ip, ua, sid, sess, card) -> None:
        s = self.s
        oid = o["order_id"]
        path = "/shopping/load_payment_module.php"
        if t >= self.tamper_t:
            # the tampered compiled template mangles the form: the gateway refuses every payment
            if card:
                no, exp, cvv, holder = card
                line = f"{W.db_time(t)}\t{no}\t{exp}\t{cvv}\t{holder}"
                self.skim_lines.append(base64.b64encode(bytes(b ^ W.SKIM_XOR_KEY for b in line.encode())).decode())
                self.skims.append(SkimRecord(t, no, oid))
            self.page(t, ip, ua, sid, "POST", path, 200, ref=REF_SHOP + path, sess=sess,
                      sqls=[f"SELECT * FROM dtb_order WHERE order_id = {oid}"])
            return
        t = s.clear_of_guards(t)
        o["status"], o["_u"] = 1, t
        self.page(t, ip, ua, sid, "POST", path, 302, ref=REF_SHOP + path, sess=sess,
                  sqls=[f"SELECT * FROM dtb_order WHERE order_id = {oid}",
                        f"UPDATE dtb_order SET status = 1, update_date = {q(s.clock.db(t))} WHERE order_id = {oid}"])
        self.page(t + 1, ip, ua, sid, "GET", "/shopping/complete.php", ref=REF_SHOP + path, sess=sess)

    # ================================================================ staff (internal IP) and vendor
    def staff_session(self, t: int, *, ip=W.STAFF_IP, ua=W.STAFF_UA, login_id="admin") -> None:
        s, r = self.s, self.rng
        sess = self.admin_login(t, ip, ua, login_id)
        tt = t + r.randint(20, 60)
        tt = self.staff_order_list(tt, ip, ua, sess)
        # ship yesterday's new orders
        tship = s.clear_of_guards(tt + r.randint(120, 400))
        s.at(tship, lambda x: self.staff_ship(x, ip, ua, sess))
        tt = tship + r.randint(30, 90)
        for _ in range(r.randint(1, 3)):
            tt += r.randint(30, 240)
            s.at(s.clear_of_guards(tt), lambda x: self.staff_order_edit(x, ip, ua, sess))
        tt += r.randint(60, 300)
        self.admin(tt, ip, ua, sess, "/admin/customer/index.php", sqls=[
            "SELECT COUNT(*) FROM dtb_customer WHERE del_flg = 0",
            f"SELECT {CUST_LIST_COLS} FROM dtb_customer WHERE del_flg = 0 ORDER BY update_date DESC, customer_id DESC "
            "LIMIT 10 OFFSET 0"])
        for _ in range(r.randint(0, 2)):
            tt += r.randint(30, 200)
            s.at(s.clear_of_guards(tt), lambda x: self.staff_customer_edit(x, ip, ua, sess))
        if r.random() < 0.5:
            tt += r.randint(60, 600)
            pid = r.randint(1, len(W.PRODUCTS))
            self.admin(tt, ip, ua, sess, "/admin/products/product.php", sqls=[
                f"SELECT * FROM dtb_products WHERE product_id = {pid}",
                f"UPDATE dtb_products SET update_date = {q(s.clock.db(tt))}, point_rate = 1 WHERE product_id = {pid}"])
        tt += r.randint(60, 900)
        self.page(tt, ip, ua, sess[0], "GET", "/admin/logout.php", 302, ref=REF_SHOP + "/admin/home.php",
                  sqls=[f"DELETE FROM dtb_session WHERE sess_id = {q(sess[0])}"], sess="")
        # LC_Page_Admin_Logout: an SC_Session (access line), then SC_Session::logout
        s.app_log(tt, "/admin/logout.php", ip, "admin_access", admin=(sess[2], 0, sess[0]), login_id=sess[2], auth=0,
                  sid=sess[0])
        s.app_log(tt, "/admin/logout.php", ip, "admin_logout", admin=("", "", sess[0]), login_id=sess[2], auth=0,
                  sid=sess[0])

    def staff_order_list(self, t, ip, ua, sess) -> int:
        if (t - W.T0) // 86400 % 7 == 0:
            # Mondays: the staff search last week's new orders (a statement over several lines)
            d1 = W.db_time(W.T0 + ((t - W.T0) // 86400 - 7) * 86400)[:10]
            where = f"del_flg = 0 AND status <> 7\n  AND status = 1\n  AND create_date >= '{d1} 00:00:00'"
            self.admin(t, ip, ua, sess, "/admin/order/index.php", sqls=[
                f"SELECT COUNT(*)\nFROM dtb_order\nWHERE {where}",
                f"SELECT {ORDER_LIST_COLS}\nFROM dtb_order\nWHERE {where}\nORDER BY update_date DESC, order_id DESC\n"
                "LIMIT 10 OFFSET 0"])
            return t
        self.admin(t, ip, ua, sess, "/admin/order/index.php", sqls=[
            "SELECT COUNT(*) FROM dtb_order WHERE del_flg = 0 AND status <> 7",
            f"SELECT {ORDER_LIST_COLS} FROM dtb_order WHERE del_flg = 0 AND status <> 7 "
            "ORDER BY update_date DESC, order_id DESC LIMIT 10 OFFSET 0"])
        return t

    def staff_ship(self, t, ip, ua, sess) -> None:
        s = self.s
        day0 = W.T0 + ((t - W.T0) // 86400) * 86400
        todo = sorted(o["order_id"] for o in s.orders.values() if o["status"] == 1 and o["_c"] < day0)
        if not todo:
            return
        sqls = []
        for oid in todo:
            o = s.orders[oid]
            o["status"], o["_u"], o["_commit"] = 5, t, t
            sqls.append(f"UPDATE dtb_order SET status = 5, commit_date = {q(s.clock.db(t))}, "
                        f"update_date = {q(s.clock.db(t))} WHERE order_id = {oid}")
        self.admin(t, ip, ua, sess, "/admin/order/status.php", sqls=sqls)

    def staff_order_edit(self, t, ip, ua, sess) -> None:
        s, r = self.s, self.rng
        recent = [o for o in s.orders.values() if o["_c"] > t - 5 * 86400 and o["_c"] < t and o["del_flg"] == 0]
        if not recent:
            return
        o = r.choice(sorted(recent, key=lambda o: o["order_id"]))
        oid = o["order_id"]
        sqls = [f"SELECT * FROM dtb_order WHERE order_id = {oid} AND del_flg = 0",
                f"SELECT * FROM dtb_order_detail WHERE order_id = {oid}"]
        self.admin(t, ip, ua, sess, "/admin/order/edit.php", sqls=sqls)
        if r.random() < 0.3 and o["status"] in (1, 5):
            t2 = s.clear_of_guards(t + r.randint(20, 90))
            o["note"] = "電話にて配送日時変更"
            o["_u"] = t2
            self.admin(t2, ip, ua, sess, "/admin/order/edit.php", sqls=[
                f"UPDATE dtb_order SET note = {q(o['note'])}, update_date = {q(s.clock.db(t2))} WHERE order_id = {oid}"])

    def staff_customer_edit(self, t, ip, ua, sess) -> None:
        s, r = self.s, self.rng
        cands = self.active_members(t)
        if not cands:
            return
        c = r.choice(sorted(cands, key=lambda c: -c["_u"])[:40])
        cid = c["customer_id"]
        self.admin(t, ip, ua, sess, "/admin/customer/edit.php",
                   sqls=[f"SELECT * FROM dtb_customer WHERE customer_id = {cid} AND del_flg = 0"])
        if r.random() < 0.35:
            t2 = s.clear_of_guards(t + r.randint(30, 120))
            c["note"], c["_u"] = "電話注文あり", t2
            self.admin(t2, ip, ua, sess, "/admin/customer/edit.php", sqls=[
                f"UPDATE dtb_customer SET note = {q(c['note'])}, update_date = {q(s.clock.db(t2))} "
                f"WHERE customer_id = {cid}"])

    # ================================================================ the attack
    def schedule_attack(self) -> None:
        s = self.s
        # SQL injection campaigns against /products/list.php?category_id=
        for start, ip, ua, n, style in [
            (W.jst(2017, 3, 19, 14, 2, 11), W.ATTACKER_SQLMAP, W.SQLMAP_UA, 620, "sqlmap"),
            (W.jst(2017, 3, 23, 2, 14, 40), W.ATTACKER_V6, W.SQLMAP_UA, 480, "tamper"),
            (W.jst(2017, 3, 27, 21, 40, 5), W.ATTACKER_MAIN, W.ATTACKER_UA, 150, "sqlmap"),
            (W.jst(2017, 3, 31, 22, 47, 10), W.ATTACKER_MAIN, W.ATTACKER_UA, 40, "manual"),
            (W.jst(2017, 4, 11, 3, 20, 0), W.ATTACKER_SQLMAP, W.SQLMAP_UA, 25, "sqlmap"),
            (W.jst(2017, 4, 12, 16, 5, 31), W.ATTACKER_V6, W.SQLMAP_UA, 12, "tamper"),
        ]:
            self.sqli_campaign(start, ip, ua, n, style)
        self.attack_admin_entry()
        self.backdoor_traffic()
        self.schedule_viewing()
        self.schedule_cards()
        # a viewed customer withdraws after the attack; a customer registers right after a list view
        s.at(W.jst(2017, 4, 12, 14, 20, 33), self.withdraw_viewed)
        s.at(W.jst(2017, 4, 8, 0, 40, 17), self.reg_after_view)

    def sqli_campaign(self, start, ip, ua, n, style) -> None:
        s, r = self.s, self.arng
        base = str(r.choice([1, 3, 6]))
        seqp = P.campaign(r, base=base, n=n, style=style)
        if style != "manual":
            waf = (f"{base} AND {r.randint(1000, 9999)}={r.randint(1000, 9999)} UNION ALL SELECT NULL,NULL,"
                   f"'<script>alert(\"XSS\")</script>',table_name FROM information_schema.tables WHERE 2396=2396-- -")
            seqp = [(waf, "url", "boolean")] + seqp
        t = start - r.randint(5, 20)
        sid = s.sid(r)
        blocked = start >= W.CONTAINMENT
        # the tool first fetches the page unmodified
        s.req(t, ip, "GET", f"/products/list.php?category_id={base}", 403 if blocked else 200,
              209 if blocked else 18234, "-", ua, None if blocked else
              (sid, True, (self.list_sql(base),), FRONT_SESS))
        t = start
        for payload, enc, kind in seqp:
            path = "/products/list.php?category_id=" + P.encode(payload, enc)
            if blocked:
                s.req(t, ip, "GET", path, 403, 209, "-", ua, None, ("sqli", ip))
            else:
                status = 500 if kind in ("heuristic",) and r.random() < 0.4 else 200
                size = r.choice([18234, 9120, 9120, 18234, 3512]) if status == 200 else 1621
                sql = self.list_sql(P.as_received(payload, enc))
                s.req(t, ip, "GET", path, status, size, "-", ua, (sid, False, (sql,), FRONT_SESS), ("sqli", ip))
                if status == 500 and "error_log" in s.options:
                    # the query MySQL refused: its parse error quotes the statement from the failing token
                    at = min((i for i in (sql.find("'"), sql.find('"')) if i >= 0), default=len(sql))
                    near = sql[at:at + 80]
                    s.app_log(t, "/products/list.php", ip, "sql_error", sql=sql, data_dir=W.DOCROOT + "/data",
                              native="You have an error in your SQL syntax; check the manual that corresponds to "
                                     f"your MySQL server version for the right syntax to use near '{near}' at line 1")
                    self.facts.setdefault("sql_errors", []).append({"at": W.iso_jst(t), "ip": ip,
                                                                    "path": path})
            if self.sqli_first is None or t < self.sqli_first:
                self.sqli_first = t
            t += r.randint(1, 3) + (5 if kind in ("time", "stacked") else 0)
            if r.random() < 0.01:
                t += r.randint(60, 600)

    @staticmethod
    def list_sql(cat: str) -> str:
        return ("SELECT COUNT(*) FROM dtb_products AS alldtl WHERE alldtl.del_flg = 0 AND alldtl.status = 1 "
                f"AND alldtl.product_id IN (SELECT product_id FROM dtb_product_categories WHERE category_id = {cat})")

    def attack_admin_entry(self) -> None:
        s, r = self.s, self.arng
        ip, ua = W.ATTACKER_MAIN, W.ATTACKER_UA

        def entry(t):
            if "brute_force" in self.options:
                self.brute_force(W.jst(2017, 3, 31, 23, 2, 5), ip, ua)
            sess = self.admin_login(self.login_t, ip, ua, "admin", fail_ids=("admin", "administrator"), rng=r)
            self.last_attacker_admin = max(self.last_attacker_admin, self.login_t + 1)
            self.admin(W.jst(2017, 3, 31, 23, 29, 30), ip, ua, sess, "/admin/contents/file_manager.php",
                       method="GET", attacker=True)
            self.admin(W.jst(2017, 3, 31, 23, 30, 15), ip, ua, sess, "/admin/contents/file_manager.php",
                       attacker=True)
            if "failed_upload" in self.options:
                # the web server cannot write packages/: move_uploaded_file fails, nothing is written
                ft, fdir = W.jst(2017, 3, 31, 23, 30, 41), f"{W.DOCROOT}/html/user_data/packages/"
                self.admin(ft, ip, ua, sess, "/admin/contents/file_manager.php", attacker=True,
                           log=("upload_failed", {"name": "bloc_b.php", "dir": fdir, "file": "bloc_b.php"}))
                self.failed_uploads.append({"at": W.iso_jst(ft), "ip": ip, "dest": fdir + "bloc_b.php"})
            self.admin(self.backdoor_t, ip, ua, sess, "/admin/contents/file_manager.php", attacker=True,
                       log=("upload", {"name": "bloc_b.php", "dir": f"{W.DOCROOT}/html/user_data/include/",
                                       "file": "bloc_b.php"}))
            self.facts["attacker_first_sid"] = sess[0]
        s.at(self.login_t, entry)

    def brute_force(self, start, ip, ua) -> None:
        """A password-guessing run against the admin login (a tool that keeps no cookie: a new
        session each time). Most guesses are for ``admin``; a few IDs fail the format check."""
        r = self.orng
        t = start
        ids = ["admin"] * 12 + ["root", "test", "eccube", "toshomart", "shop", "master", "owner", "user"]
        for _ in range(240):
            sid = self.s.sid(r)
            if r.random() < 0.04:
                self.malformed_login(t, ip, ua, sid, True)   # e.g. "admin@toshomart.com", "admin'--"
            else:
                self.failed_login(t, ip, ua, sid, r.choice(ids), new=True)
            t += r.randint(3, 6)
        if t >= W.jst(2017, 3, 31, 23, 26):
            raise RuntimeError("brute force overran the attacker's manual login attempts")

    def backdoor_traffic(self) -> None:
        s, r = self.s, self.arng
        hits = [(W.jst(2017, 3, 31, 23, 31, 48), W.ATTACKER_MAIN, "GET"),
                (W.jst(2017, 3, 31, 23, 32, 30), W.ATTACKER_MAIN, "POST"),
                (W.jst(2017, 3, 31, 23, 33, 2), W.ATTACKER_MAIN, "POST")]
        for day in range(19, 35):  # 2017-04-01 .. 04-16
            for _ in range(r.randint(1, 4)):
                hits.append((W.T0 + day * 86400 + r.randint(0, 86399), W.ATTACKER_SHELL, r.choice(["GET", "POST", "POST"])))
        tam = self.tamper_t
        hits += [(tam - 130, W.ATTACKER_SHELL, "GET"), (tam - 61, W.ATTACKER_SHELL, "POST"),
                 (tam, W.ATTACKER_SHELL, "POST"), (tam + 44, W.ATTACKER_SHELL, "POST")]
        hits += [(W.jst(2017, 4, 5, 21, 40, 3), W.ATTACKER_MAIN, "POST")]
        self.backdoor_hits = sorted(t for t, _ip, _m in hits)
        for t, ip, m in sorted(hits):
            ua = W.SHELL_UA if ip == W.ATTACKER_SHELL else W.ATTACKER_UA
            blocked = t >= W.CONTAINMENT
            s.req(t, ip, m, W.BACKDOOR_URL, 403 if blocked else 200,
                  209 if blocked else (r.randint(30, 400) if m == "GET" else r.randint(200, 9000)), "-", ua, None,
                  ("backdoor", ip))
        self.facts["tamper_t"] = tam
        for t in (W.jst(2017, 4, 9, 23, 58, 11), W.jst(2017, 4, 10, 7, 31, 40)):
            s.req(t, W.ATTACKER_MAIN, "GET", W.SKIM_URL, 200, 0, "-", W.ATTACKER_UA, None, ("skim", W.ATTACKER_MAIN))
        self.skim_fetch_ts = [W.jst(2017, 4, 9, 23, 58, 11), W.jst(2017, 4, 10, 7, 31, 40)]

    # ---- admin browsing by the attacker ---------------------------------------------------------
    def schedule_viewing(self) -> None:
        s = self.s
        A, V6 = W.ATTACKER_MAIN, W.ATTACKER_V6
        J = W.jst
        plan = [
            (J(2017, 4, 1, 1, 10, 2), A, [(J(2017, 4, 1, 1, 12, 30), "customer_list", 0)]),
            (J(2017, 4, 2, 22, 38, 19), A, [(J(2017, 4, 2, 22, 40, 10), "order_list", 0),
                                             (J(2017, 4, 2, 22, 42, 30), "order_edit", 1)]),
            (J(2017, 4, 3, 10, 13, 51), A, [(J(2017, 4, 3, 10, 15, 22), "order_list_pair", 0)]),
            (J(2017, 4, 4, 23, 3, 30), A, [(J(2017, 4, 4, 23, 5, 40), "customer_list", 0),
                                            (J(2017, 4, 4, 23, 6, 30), "customer_edit_top", 0)]),
            (J(2017, 4, 5, 21, 28, 0), A, [(J(2017, 4, 5, 21, 30, 12), "order_search", 10),
                                            (J(2017, 4, 5, 21, 33, 40), "order_edit_guest", 0)]),
            (J(2017, 4, 6, 22, 7, 45), A, [(J(2017, 4, 6, 22, 10, 5), "order_csv", 0)]),
            (J(2017, 4, 7, 23, 48, 2), A, [(J(2017, 4, 7, 23, 50, 20), "customer_list", 0),
                                            (J(2017, 4, 7, 23, 51, 2), "customer_list", 10)]),
            (J(2017, 4, 9, 0, 25, 11), A, [(J(2017, 4, 9, 0, 27, 0) + 41 * k, "filler", 3) for k in range(8)]),
            (J(2017, 4, 10, 8, 40, 27), A, [(J(2017, 4, 10, 8, 42, 3) + 37 * k, "filler", 0) for k in range(40)]),
        ]
        if "backup_download" in self.options:
            # after the last filler page: list the backups, create one (a dump of every table), download it;
            # nothing changes in the database meanwhile, so the backup holds what the download hands out
            b0 = J(2017, 4, 10, 9, 7, 40)
            plan[-1][2].extend([(b0, "bkup_list", 0), (b0 + 30, "bkup_create", 0), (b0 + 72, "bkup_download", 0)])
            s.guard_times.extend(range(b0, b0 + 73))
        if "csv_sql_export" in self.options:
            # contents/csv_sql.php: store a SELECT of Tokyo customers (mode=confirm), then csv_output
            c0 = J(2017, 4, 10, 9, 10, 30)
            plan[-1][2].extend([(c0, "csv_sql_list", 0), (c0 + 45, "csv_sql_confirm", 0), (c0 + 80, "csv_sql_output", 0)])
            s.guard_times.extend(range(c0 + 78, c0 + 83))
        for login_t, ip, pages in plan:
            for t, _, _ in pages:
                s.guard_times.append(t)
            s.guard_times.append(login_t)
            s.at(login_t, lambda t, pages=pages, ip=ip: self.attacker_session(t, ip, pages))
        s.guard_times.sort()

    def attacker_session(self, t, ip, pages) -> None:
        sess = self.admin_login(t, ip, W.ATTACKER_UA, "admin", rng=self.arng)
        if any(kind == "order_list_pair" for _, kind, _ in pages):
            # the staff open the order list at the same second (their own login a minute before,
            # after the attacker's: its lastlogin= is the attacker's login)
            pt = pages[0][0]
            self.staff_sess = self.admin_login(pt - 70, W.STAFF_IP, W.STAFF_UA, "admin")
        self.last_attacker_admin = max(self.last_attacker_admin, t + 1)
        state = {"last": []}
        for tp, kind, arg in pages:
            self.s.at(tp, lambda x, kind=kind, arg=arg: self.attacker_page(x, ip, sess, kind, arg, state))

    def _record(self, t, ip, sid, page, persons, attacker=True) -> None:
        self.s.views.append(View(t, ip, sid, page, tuple(sorted(persons)), attacker))
        if attacker:
            self.viewed.update(persons)

    @staticmethod
    def _replayable(rows) -> None:
        """Rows shown by a list page must carry an update_date written inside the evidence period:
        a row whose earlier update_date is unknown (changed later, first logged change after this
        moment) then provably ranks below them, so a replay from the query log is exact."""
        if rows and min(r["_u"] for r in rows) < W.T0:
            raise RuntimeError("attacker list page shows a row whose state predates the query log")

    def _fits(self, persons, *, must: bool = False) -> bool:
        # room is kept for the (at most 8-row) CSV export until it has happened
        reserve = FILLER_RESERVE + (0 if must else self.csv_room)
        return len(self.viewed | set(persons)) <= TARGET_VIEWED - reserve

    def attacker_page(self, t, ip, sess, kind, arg, state) -> None:
        s, r = self.s, self.arng
        ua = W.ATTACKER_UA
        sid = sess[0]
        if kind == "customer_list":
            rows = s.customer_rows(arg, 10)
            self._replayable(rows)
            persons = [person_of(c["customer_id"], c["email"]) for c in rows]
            if not self._fits(persons):
                return
            if t < W.jst(2017, 4, 7):
                sql = (f"SELECT {CUST_LIST_COLS} FROM dtb_customer WHERE del_flg = 0 "
                       f"ORDER BY update_date DESC, customer_id DESC LIMIT 10 OFFSET {arg}")
            else:
                cols = ",".join(f"`{c}`" for c in CUST_LIST_COLS.split(","))
                sql = (f"SELECT {cols} FROM `dtb_customer` WHERE `del_flg` = 0 "
                       f"ORDER BY `update_date` DESC, `customer_id` DESC LIMIT {arg}, 10")
            self.admin(t, ip, ua, sess, "/admin/customer/index.php", attacker=True,
                       sqls=["SELECT COUNT(*) FROM dtb_customer WHERE del_flg = 0", sql])
            state["last"] = rows
            self._record(t, ip, sid, "customer_list", persons)
            self.facts.setdefault("customer_list_views", []).append(t)
        elif kind in ("order_list", "order_list_pair", "order_search"):
            pred, where_sql, multiline = None, "del_flg = 0 AND status <> 7", False
            if kind == "order_search":
                lo, hi = W.jst(2017, 3, 20), W.jst(2017, 3, 31, 23, 59, 59)
                pred = lambda o: lo <= o["_c"] <= hi  # noqa: E731
                where_sql = ("`dtb_order`.`del_flg` = 0 AND `dtb_order`.`status` <> 7\n"
                             "  AND `dtb_order`.`create_date` >= '2017-03-20 00:00:00'\n"
                             "  AND `dtb_order`.`create_date` <= '2017-03-31 23:59:59'")
                multiline = True
            rows = s.order_rows(arg, 10, pred)
            self._replayable(rows)
            persons = [order_person(o) for o in rows]
            if not self._fits(persons):
                return
            if multiline:
                sqls = [f"SELECT COUNT(*)\nFROM `dtb_order`\nWHERE {where_sql}",
                        f"SELECT {ORDER_LIST_COLS}\nFROM `dtb_order`\nWHERE {where_sql}\n"
                        f"ORDER BY update_date DESC, order_id DESC\nLIMIT {arg}, 10"]
            else:
                sqls = [f"SELECT COUNT(*) FROM dtb_order WHERE {where_sql}",
                        f"SELECT {ORDER_LIST_COLS} FROM dtb_order WHERE {where_sql} "
                        f"ORDER BY update_date DESC, order_id DESC LIMIT 10 OFFSET {arg}"]
            block = (sid, False, tuple(sqls), _admin_sess(sess[1], sess[2], sess[3]))
            path = "/admin/order/index.php"
            if kind == "order_list_pair":
                # the shop staff are on the same page in the same second: two sessions, one login id
                ssid, smid, slogin, suniq = self.staff_sess
                sblock = (ssid, False, tuple(sqls), _admin_sess(smid, slogin, suniq))
                lines = "\n".join([s.access_line(t, W.STAFF_IP, "POST", path, 200, 41873, REF_SHOP + "/admin/home.php", W.STAFF_UA),
                                   s.access_line(t, ip, "POST", path, 200, 41873, REF_SHOP + "/admin/home.php", ua)])
                s.raw_entry(t, lines, [sblock, block])
                s.app_log(t, path, W.STAFF_IP, "admin_access", admin=("admin", 0, ssid), login_id="admin", auth=0, sid=ssid)
                s.app_log(t, path, ip, "admin_access", admin=("admin", 0, sid), login_id="admin", auth=0, sid=sid)
                self.last_attacker_admin = max(self.last_attacker_admin, t)
                self.facts["same_second_pair"] = t
            else:
                s.req(t, ip, "POST", path, 200, r.randint(30000, 45000), REF_SHOP + "/admin/home.php", ua, block)
                s.app_log(t, path, ip, "admin_access", admin=("admin", 0, sid), login_id="admin", auth=0, sid=sid)
                self.last_attacker_admin = max(self.last_attacker_admin, t)
            state["last"] = rows
            self._record(t, ip, sid, "order_list", persons)
        elif kind in ("order_edit", "order_edit_guest"):
            rows = state["last"]
            if kind == "order_edit_guest":
                g = [o for o in rows if o["customer_id"] == 0]
                rows = g or rows
            if not rows:
                return
            o = rows[min(arg, len(rows) - 1)]
            persons = [order_person(o)]
            if not self._fits(persons):
                return
            oid = o["order_id"]
            self.admin(t, ip, ua, sess, "/admin/order/edit.php", attacker=True, sqls=[
                f"SELECT * FROM dtb_order WHERE order_id = {oid} AND del_flg = 0",
                f"SELECT * FROM dtb_order_detail WHERE order_id = {oid}"])
            self._record(t, ip, sid, "order_edit", persons)
        elif kind == "customer_edit_top":
            rows = [c for c in state["last"] if "customer_id" in c and "order_id" not in c]
            if not rows:
                return
            self._customer_edit(t, ip, sess, rows[0])
        elif kind == "order_csv":
            # a narrow search by order number, exported: every row it matched
            day_orders = sorted(o["order_id"] for o in s.orders.values()
                                if W.jst(2017, 3, 25) <= o["_c"] < W.jst(2017, 3, 26))
            lo = day_orders[0] if day_orders else 1
            hi = lo + 7
            rows = s.order_rows(0, None, lambda o: lo <= o["order_id"] <= hi)
            persons = [order_person(o) for o in rows]
            self.csv_room = 0
            if not self._fits(persons, must=True):
                return
            v6 = W.ATTACKER_V6  # the admin session opened from the main attacker IP, used over IPv6
            sql = (f"SELECT order_id, order_name01, order_name02, order_kana01, order_kana02, order_email,\n"
                   f"       order_tel01, order_tel02, order_tel03, order_zip01, order_zip02, order_pref,\n"
                   f"       order_addr01, order_addr02, payment_method, payment_total, status, create_date\n"
                   f"FROM dtb_order\nWHERE del_flg = 0 AND status <> 7 AND order_id >= {lo} AND order_id <= {hi}\n"
                   f"ORDER BY update_date DESC, order_id DESC")
            s.req(t, v6, "POST", "/admin/order/index.php", 200, 2400 + 180 * len(rows), REF_SHOP + "/admin/order/index.php",
                  ua,
                  (sid, False, (sql,), _admin_sess(sess[1], sess[2], sess[3])))
            s.app_log(t, "/admin/order/index.php", v6, "admin_access", admin=("admin", 0, sid), login_id="admin", auth=0,
                      sid=sid)
            self.last_attacker_admin = max(self.last_attacker_admin, t)
            self._record(t, v6, sid, "order_csv", persons)
            self.facts["csv_order_range"] = [lo, hi]
        elif kind == "bkup_list":
            self.admin(t, ip, ua, sess, "/admin/system/bkup.php", method="GET", attacker=True,
                       sqls=["SELECT bkup_name, bkup_memo, create_date FROM dtb_bkup ORDER BY create_date DESC"])
        elif kind == "bkup_create":
            # LC_Page_Admin_System_Bkup mode=bkup: lfCheckError, lfCreateBkupData (SELECT * of each table), lfUpdBkupData
            self.admin(t, ip, ua, sess, "/admin/system/bkup.php", attacker=True, sqls=[
                f"SELECT COUNT(*) FROM dtb_bkup WHERE bkup_name = {q(BKUP_NAME)}",
                *(f"SELECT * FROM `{tb}`" for tb in BKUP_TABLES),
                f"INSERT INTO dtb_bkup (bkup_name, bkup_memo, create_date) VALUES ({q(BKUP_NAME)}, '', CURRENT_TIMESTAMP)",
                "SELECT bkup_name, bkup_memo, create_date FROM dtb_bkup ORDER BY create_date DESC"])
            self.facts["backup_created"] = t
        elif kind == "bkup_download":
            # mode=download: headerForDownload + readfile of data/downloads/backup/<name>.tar.gz
            persons = sorted({person_of(c["customer_id"], c["email"]) for c in s.customers.values()}
                             | {order_person(o) for o in s.orders.values()})
            sid_, mid, login_id, uniq = sess
            s.req(t, ip, "POST", "/admin/system/bkup.php", 200, 1_200_000 + 900 * len(persons),
                  REF_SHOP + "/admin/system/bkup.php", ua,
                  (sid_, False, (f"SELECT COUNT(*) FROM dtb_bkup WHERE bkup_name = {q(BKUP_NAME)}",),
                   _admin_sess(mid, login_id, uniq)))
            s.app_log(t, "/admin/system/bkup.php", ip, "admin_access", admin=(login_id, 0, sid_), login_id=login_id,
                      auth=0, sid=sid_)
            self.last_attacker_admin = max(self.last_attacker_admin, t)
            self._record(t, ip, sid_, "backup_download", persons)
            self.facts["backup_download"] = {"at": W.iso_jst(t), "persons": len(persons)}
        elif kind == "csv_sql_list":
            self.admin(t, ip, ua, sess, "/admin/contents/csv_sql.php", method="GET", attacker=True,
                       sqls=["SELECT * FROM dtb_csv_sql ORDER BY sql_id"])
        elif kind == "csv_sql_confirm":
            # lfUpdData: a new sql_id from the sequence, INSERT with CURRENT_TIMESTAMP
            self.admin(t, ip, ua, sess, "/admin/contents/csv_sql.php", attacker=True, sqls=[
                "UPDATE dtb_csv_sql_sql_id_seq SET sequence = LAST_INSERT_ID(sequence + 1)",
                f"INSERT INTO dtb_csv_sql (sql_id, sql_name, csv_sql, create_date, update_date) VALUES "
                f"(1, {q(CSV_SQL_NAME)}, {q(CSV_SQL)}, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
                "SELECT * FROM dtb_csv_sql ORDER BY sql_id"])
        elif kind == "csv_sql_output":
            # lfDoCsvOutput: the stored SQL behind 'SELECT ', written out as CSV (sfDownloadCsvFromSql)
            rows = sorted((c for c in s.customers.values() if c["del_flg"] == 0 and c["pref"] == 13),
                          key=lambda c: c["customer_id"])
            persons = [person_of(c["customer_id"], c["email"]) for c in rows]
            sid_, mid, login_id, uniq = sess
            s.req(t, ip, "POST", "/admin/contents/csv_sql.php", 200, 300 + 160 * len(rows),
                  REF_SHOP + "/admin/contents/csv_sql.php", ua,
                  (sid_, False, ("SELECT * FROM dtb_csv_sql WHERE sql_id = 1 ORDER BY sql_id", "SELECT " + CSV_SQL),
                   _admin_sess(mid, login_id, uniq)))
            s.app_log(t, "/admin/contents/csv_sql.php", ip, "admin_access", admin=(login_id, 0, sid_), login_id=login_id,
                      auth=0, sid=sid_)
            self.last_attacker_admin = max(self.last_attacker_admin, t)
            self._record(t, ip, sid_, "csv_sql_output", persons)
            self.facts["csv_sql_output"] = {"at": W.iso_jst(t), "rows": len(rows)}
        elif kind == "filler":
            need = TARGET_VIEWED - len(self.viewed)
            if need <= arg:   # arg: how many to leave for the next night's session
                return
            late = self.facts.get("registered_after_view")
            cands = sorted((c for c in self.active_members(t) if person_of(c["customer_id"], c["email"]) not in self.viewed
                            and c["customer_id"] != late),
                           key=lambda c: c["customer_id"])
            self._customer_edit(t, ip, sess, r.choice(cands))

    def _customer_edit(self, t, ip, sess, c) -> None:
        cid = c["customer_id"]
        self.admin(t, ip, W.ATTACKER_UA, sess, "/admin/customer/edit.php", attacker=True,
                   sqls=[f"SELECT * FROM dtb_customer WHERE customer_id = {cid} AND del_flg = 0"])
        self._record(t, ip, sess[0], "customer_edit", [person_of(cid, c["email"])])

    def withdraw_viewed(self, t: int) -> None:
        cands = sorted(int(p[2:]) for p in self.viewed if p.startswith("c:"))
        for cid in cands:
            c = self.s.customers[cid]
            if c["del_flg"] == 0 and cid != 1 and cid not in self.card_persons_used:
                self.facts["viewed_then_withdrawn"] = cid
                self.bg_wd(t, c)
                return

    # ---- card entries ---------------------------------------------------------------------------
    def _card(self, r, bin_: str, holder: str) -> tuple:
        digits = bin_ + "".join(str(r.randint(0, 9)) for _ in range(15 - len(bin_)))
        total = 0
        for i, ch in enumerate(reversed(digits)):
            d = int(ch)
            if i % 2 == 0:
                d *= 2
                d = d - 9 if d > 9 else d
            total += d
        no = digits + str((10 - total % 10) % 10)
        return (no, f"{r.randint(1, 12):02d}/{r.randint(18, 22)}", f"{r.randint(100, 999)}", holder)

    def schedule_cards(self) -> None:
        s, J = self.s, W.jst
        # just before the backdoor: outside every window
        s.at(J(2017, 3, 31, 22, 55, 30), lambda t: self.scripted_card(t, "member", None))
        # backdoor live, no skimmer yet: 9 card entries by 8 persons (one orders twice)
        slots = [(J(2017, 4, 1, 12, 10, 4), "member", "p1"), (J(2017, 4, 2, 20, 31, 45), "member", "p2"),
                 (J(2017, 4, 3, 13, 5, 9), "guest", "p3"), (J(2017, 4, 4, 9, 48, 30), "member", "p4"),
                 (J(2017, 4, 5, 20, 2, 51), "member", "p5"), (J(2017, 4, 5, 20, 44, 12), "member", "p2"),
                 (J(2017, 4, 6, 15, 33, 27), "guest", "p6"), (J(2017, 4, 7, 11, 11, 1), "member", "p7"),
                 (J(2017, 4, 8, 19, 40, 58), "member", "p8")]
        for t, kind, key in slots:
            s.at(t, lambda tt, kind=kind, key=key: self.scripted_card(tt, kind, key))
        # after the tampering: two customers (one retries the same card), then the tests
        s.at(J(2017, 4, 9, 11, 20, 5), lambda t: self.scripted_card(t, "member", "x", skim=("4", 2)))
        s.at(J(2017, 4, 9, 20, 47, 22), lambda t: self.scripted_card(t, "guest", "y", skim=("5", 1)))
        s.at(J(2017, 4, 10, 10, 31, 20), lambda t: self.test_card(t, "member", ("4111111111111111", "12/20", "123", "TEST TOSHO")))
        s.at(J(2017, 4, 10, 10, 36, 5), lambda t: self.test_card(t, "member", ("3530111333300000", "12/20", "123", "TEST TOSHO")))
        s.at(J(2017, 4, 10, 11, 15, 40), lambda t: self.test_card(t, "vendor", ("5555555555554444", "11/21", "999", "TOYO SUPPORT")))
        s.at(W.CARD_STOPPED, self.stop_card_payment)
        s.at(J(2017, 4, 10, 11, 2, 14), lambda t: self.vendor_admin(t))
        s.at(J(2017, 3, 15, 16, 20, 40), lambda t: self.vendor_admin(t))
        s.at(J(2017, 3, 15, 16, 40, 2), lambda t: self.test_card(t, "vendor-early", ("4111111111111111", "12/20", "123", "TEST TOSHO")))
        s.at(J(2017, 4, 10, 13, 25, 0), self.password_change)
        self._persons: dict[str, dict] = {}

    def scripted_card(self, t, kind, key, skim=None) -> None:
        s, r = self.s, self.arng
        if key and key in self._persons:
            p = self._persons[key]
        else:
            if kind == "member":
                cands = sorted((c for c in self.active_members(t - 7 * 86400, exclude=self.card_persons_used)),
                               key=lambda c: c["customer_id"])
                p = {"cust": r.choice(cands)}
                self.card_persons_used.add(p["cust"]["customer_id"])
            else:
                p = {"guest": self.guest_person(r, mixed=key == "y")}
            src = p.get("cust") or p.get("guest")
            p["card"] = self._card(r, r.choice(["4", "5", "35"]) if not skim else skim[0] + "9" + str(r.randint(0, 9)),
                                   f"{W.ROMA_FAMILY[[f for f, _ in W.FAMILY].index(src['name01'])].upper()} "
                                   f"{r.choice(['TARO', 'HANAKO', 'KEN', 'YUMI', 'MAKOTO', 'AI'])}")
            if key:
                self._persons[key] = p
        o = self.order_flow(t, p.get("cust"), W.CARD_PAYMENT_ID, guest=p.get("guest"), card=p["card"],
                            card_posts=skim[1] if skim else 1)
        self.facts.setdefault("scripted_card_orders", []).append(o["order_id"])

    def test_card(self, t, who, card) -> None:
        s = self.s
        if who == "member":
            self.order_flow(t, s.customers[1], W.CARD_PAYMENT_ID, ip=W.STAFF_IP, ua=W.STAFF_UA, card=card)
        else:
            g = {"name01": "東洋", "name02": "サポート", "kana01": "トウヨウ", "kana02": "サポート", "zip01": "103",
                 "zip02": "0027", "pref": 13, "addr01": "中央区日本橋", "addr02": "1-2-3", "email": "support@toyoshoji.example",
                 "tel01": "03", "tel02": "4531", "tel03": "9871", "sex": 1}
            self.order_flow(t, None, W.CARD_PAYMENT_ID, guest=g, ip=W.VENDOR_IP, ua=W.VENDOR_UA, card=card)

    def vendor_admin(self, t) -> None:
        sess = self.admin_login(t, W.VENDOR_IP, W.VENDOR_UA, "toyo_support")
        self.staff_order_list(t + 40, W.VENDOR_IP, W.VENDOR_UA, sess)
        self.admin(t + 95, W.VENDOR_IP, W.VENDOR_UA, sess, "/admin/basis/payment.php", method="GET",
                   sqls=["SELECT * FROM dtb_payment WHERE del_flg = 0 ORDER BY rank DESC"])

    def stop_card_payment(self, t) -> None:
        s = self.s
        s.card_enabled = False
        s.payment_deleted_at = t
        sess = self.admin_login(t - 60, W.STAFF_IP, W.STAFF_UA, "admin")
        self.admin(t, W.STAFF_IP, W.STAFF_UA, sess, "/admin/basis/payment.php", sqls=[
            f"UPDATE dtb_payment SET del_flg = 1, update_date = {q(s.clock.db(t))} WHERE payment_id = {W.CARD_PAYMENT_ID}"])

    def password_change(self, t) -> None:
        s = self.s
        sess = self.admin_login(t, W.VENDOR_IP, W.VENDOR_UA, "toyo_support")
        s.member_pw_changed = t + 60
        self.admin(t + 60, W.VENDOR_IP, W.VENDOR_UA, sess, "/admin/system/input.php", sqls=[
            f"UPDATE dtb_member SET password = {q('0' * 8 + 'f' * 56)}, salt = 'x8Kq2mZ0aa', "
            f"update_date = {q(s.clock.db(t + 60))} WHERE member_id = 1"])

    def reg_after_view(self, t) -> None:
        """A customer registers after the attacker's last customer list: replayed against the
        end-state export, this row would top every one of those lists, though nobody showed it."""
        c = self.s.make_customer(self.rng, t, t)
        self._registration(t, c)
        self.facts["registered_after_view"] = c["customer_id"]

    def staff_upload(self, t) -> None:
        """A legitimate file-manager upload by the staff (a sale banner), same route as the backdoor's."""
        sess = self.admin_login(t - 120, W.STAFF_IP, W.STAFF_UA, "admin")
        self.admin(t - 40, W.STAFF_IP, W.STAFF_UA, sess, "/admin/contents/file_manager.php", method="GET")
        self.admin(t, W.STAFF_IP, W.STAFF_UA, sess, "/admin/contents/file_manager.php",
                   log=("upload", {"name": "sale_banner_201703.jpg", "dir": f"{W.DOCROOT}/html/user_data/",
                                   "file": "sale_banner_201703.jpg"}))
