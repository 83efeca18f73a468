"""Stateless background traffic, generated in bulk one day at a time.

Browsing visitors, searches (including the near-misses), crawlers, an uptime monitor and 404
scanners. Nothing here changes the database, so a day can be produced independently of the others
from its own random stream: cheap to scale to millions of lines.
"""

from __future__ import annotations

import random
from urllib.parse import quote_plus

from . import world as W
from .sim import SID_CHARS, q

FRONT_SESS = 'cart|a:0:{}tmp|a:0:{}'
ASSETS_FIRST = [
    ("/user_data/packages/default/css/import.css", 612), ("/js/jquery-1.4.2.min.js", 72174),
    ("/js/eccube.js", 13985), ("/user_data/packages/default/img/common/logo.gif", 3562),
    ("/user_data/packages/default/img/banner/bnr_top_main.jpg", 48211), ("/favicon.ico", 1150),
]
HOURS_W = [2, 1, 1, 0.5, 0.5, 0.5, 1, 2, 3, 4, 5, 6, 7, 6, 5, 5, 5, 5, 6, 7, 8, 8, 7, 4]
REFERERS = ["-", "-", "https://www.google.co.jp/", "https://www.google.co.jp/", "https://search.yahoo.co.jp/search?p=%E6%9D%B1%E5%95%86%E3%83%9E%E3%83%BC%E3%83%88",
            "https://www.bing.com/", "https://toshomart.com/", "http://b.hatena.ne.jp/"]
N_PROD = len(W.PRODUCTS)
N_CAT = len(W.CATEGORIES)


def _ip(r: random.Random) -> str:
    if r.random() < 0.06:
        return f"{r.choice(W.IP6_PREFIXES)}:{r.randint(1, 0xffff):x}:{r.randint(1, 0xffff):x}::{r.randint(1, 0xfff):x}"
    return f"{r.choice(W.IP_PREFIXES)}.{r.randint(1, 254)}.{r.randint(1, 254)}"


def search_sql(word: str) -> str:
    conds = " AND ".join(f"(alldtl.name LIKE {q('%' + w + '%')} OR alldtl.comment3 LIKE {q('%' + w + '%')})"
                         for w in word.split())
    return ("SELECT COUNT(*) FROM dtb_products AS alldtl WHERE alldtl.del_flg = 0 AND alldtl.status = 1"
            + (" AND " + conds if conds else ""))


def _page(r: random.Random):
    """(path, sql) of one shop page."""
    x = r.random()
    if x < 0.16:
        return "/", "SELECT T1.best_id, T1.product_id, T1.comment FROM dtb_best_products AS T1 WHERE T1.del_flg = 0 ORDER BY T1.rank LIMIT 4"
    if x < 0.46:
        c = r.randint(1, N_CAT)
        path = f"/products/list.php?category_id={c}" + (f"&pageno={r.randint(2, 3)}" if r.random() < 0.12 else "")
        return path, ("SELECT COUNT(*) FROM dtb_products AS alldtl WHERE alldtl.del_flg = 0 AND alldtl.status = 1 "
                      f"AND alldtl.product_id IN (SELECT product_id FROM dtb_product_categories WHERE category_id = {c})")
    if x < 0.86:
        p = r.randint(1, N_PROD)
        return f"/products/detail.php?product_id={p}", f"SELECT * FROM dtb_products WHERE product_id = {p} AND del_flg = 0"
    if x < 0.93:
        word = r.choice(W.NEAR_MISS_SEARCHES) if r.random() < 0.2 else r.choice(W.SEARCH_WORDS)
        return ("/products/list.php?mode=search&category_id=&maker_id=&name=" + quote_plus(word), search_sql(word))
    if x < 0.96:
        return "/cart/index.php", "SELECT * FROM dtb_baseinfo"
    return r.choice(["/abouts/index.php", "/guide/index.php", "/contact/index.php", "/order/index.php"]), \
        "SELECT * FROM dtb_baseinfo"


def day_entries(day: int, *, seed: int, scale: int, clock: W.Clock, seq0: int) -> list[tuple]:
    """Background requests of one day as entries ``(t, seq, access_line, qblock, None)``."""
    r = random.Random(seed * 1000003 + day * 7919 + 17)
    acc = clock.access
    out: list[tuple] = []
    app = out.append
    seq = seq0
    t_day = W.T0 + day * 86400
    wd = day % 7
    factor = 0.8 if wd == 6 else (1.15 if wd in (4, 5) else 1.0)
    n_vis = int(285 * scale * factor * r.uniform(0.85, 1.15))
    hours = r.choices(range(24), weights=HOURS_W, k=n_vis)
    randint, rnd, choice = r.randint, r.random, r.choice
    for h in hours:
        t = t_day + h * 3600 + randint(0, 3599)
        ip = _ip(r)
        ua = choice(W.BROWSER_UAS)
        ref = choice(REFERERS)
        sid = "".join(r.choices(SID_CHARS, k=26))
        first = True
        n = 1
        while rnd() < 0.62 and n < 12:
            n += 1
        for _ in range(n):
            path, sql = _page(r)
            head = f'{ip} - - {acc(t)} "GET '
            tail = f'" "{ua}"'
            app((t, seq, f'{head}{path} HTTP/1.1" 200 {randint(8000, 26000)} "{ref}{tail}', (sid, first, (sql,), FRONT_SESS), None))
            seq += 1
            pref = "https://toshomart.com" + path
            if first:
                for a, size in ASSETS_FIRST:
                    app((t + 1, seq, f'{ip} - - {acc(t + 1)} "GET {a} HTTP/1.1" 200 {size} "{pref}{tail}', None, None))
                    seq += 1
            else:
                p = randint(1, N_PROD)
                if rnd() < 0.3:
                    app((t + 1, seq, f'{ip} - - {acc(t + 1)} "GET /user_data/packages/default/css/import.css HTTP/1.1" 304 - "{pref}{tail}', None, None))
                else:
                    app((t + 1, seq, f'{ip} - - {acc(t + 1)} "GET /upload/save_image/{p:02d}011200_58b4c{p:03x}.jpg HTTP/1.1" 200 {20000 + p * 731} "{pref}{tail}', None, None))
                seq += 1
            first = False
            ref = pref
            t += randint(6, 150)
            if t >= t_day + 86400 - 2:
                break
    # crawlers: product and category pages, robots.txt
    for ua, ips, n in ((W.GOOGLEBOT_UA, W.GOOGLE_IPS, 120), (W.BINGBOT_UA, W.BING_IPS, 60)):
        for k in range(int(n * scale * r.uniform(0.8, 1.2))):
            t = t_day + randint(0, 86397)
            ip = choice(ips)
            if k == 0:
                app((t, seq, f'{ip} - - {acc(t)} "GET /robots.txt HTTP/1.1" 200 68 "-" "{ua}"', None, None))
                seq += 1
                continue
            path, sql = _page(r)
            app((t, seq, f'{ip} - - {acc(t)} "GET {path} HTTP/1.1" 200 {randint(8000, 26000)} "-" "{ua}"',
                 ("".join(r.choices(SID_CHARS, k=26)), True, (sql,), FRONT_SESS), None))
            seq += 1
    # uptime monitor: the top page every five minutes (not scaled: one monitor)
    ip = W.UPTIME_IPS[day % 2]
    for k in range(288):
        t = t_day + k * 300 + 17
        app((t, seq, f'{ip} - - {acc(t)} "HEAD / HTTP/1.1" 200 - "https://toshomart.com/" "{W.UPTIME_UA}"',
             ("".join(r.choices(SID_CHARS, k=26)), True, (), FRONT_SESS), None))
        seq += 1
    # 404 scanners probing other software
    for _ in range(r.choice([0, 1, 1, 2]) * max(1, scale // 10 + (1 if scale > 1 else 0))):
        t = t_day + randint(0, 80000)
        ip = f"{choice(['45.55', '185.100', '91.200', '5.188', '104.248', '139.59'])}.{randint(1, 254)}.{randint(1, 254)}"
        ua = choice(W.SCANNER_UAS)
        for path in r.sample(W.SCAN_PATHS, randint(8, len(W.SCAN_PATHS))):
            app((t, seq, f'{ip} - - {acc(t)} "GET {path} HTTP/1.1" 404 {randint(200, 320)} "-" "{ua}"', None, None))
            seq += 1
            t += randint(0, 2)
    return out
