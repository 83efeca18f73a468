"""Static facts of the simulated world: calendar, clock formats, people, products, user agents.

Everything here is plain data or a pure helper; no randomness lives here (callers pass their own
``random.Random``), so the generator stays deterministic.
"""

from __future__ import annotations

import calendar
import time

JST_OFFSET = 9 * 3600


def jst(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> int:
    """Epoch seconds (UTC) of a naive Asia/Tokyo wall-clock time."""
    return calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0)) - JST_OFFSET


#: Evidence period: 2017-03-13 00:00 .. 2017-04-17 00:00 JST (exclusive), 35 days.
T0 = jst(2017, 3, 13)
DAYS = 35
T_END = T0 + DAYS * 86400

#: Facts of the incident (the reference incident). The attack script is timed from these.
CONTAINMENT = jst(2017, 4, 10, 13, 0, 0)
CARD_STOPPED = jst(2017, 4, 10, 11, 42, 18)

#: Weekly logrotate (Sunday morning): access_log-YYYYMMDD holds everything before that instant.
ACCESS_ROTATIONS = [
    (jst(2017, 3, 19, 3, 13, 2), "20170319"),
    (jst(2017, 3, 26, 3, 12, 41), "20170326"),
    (jst(2017, 4, 2, 3, 14, 7), "20170402"),
    (jst(2017, 4, 9, 3, 11, 55), "20170409"),
    (jst(2017, 4, 16, 3, 13, 30), "20170416"),
]
MYSQL_ROTATIONS = [(t + 60, name) for t, name in ACCESS_ROTATIONS]

STAFF_IP = "198.51.100.10"          # shop office (internal_ips)
VENDOR_IP = "203.0.113.45"          # system provider: admin before the attack, not internal
ATTACKER_SQLMAP = "203.0.113.77"    # sqlmap, sqlmap user agent
ATTACKER_MAIN = "192.0.2.146"       # browser UA: SQLi, admin login, upload, admin browsing
ATTACKER_V6 = "2001:db8:5c1:7::1f"  # sqlmap over IPv6, later reuses the admin session
ATTACKER_SHELL = "192.0.2.233"      # only ever talks to the backdoor
ATTACKER_IPS = sorted([ATTACKER_SQLMAP, ATTACKER_MAIN, ATTACKER_V6, ATTACKER_SHELL])

DOCROOT = "/var/www/eccube"
BACKDOOR_URL = "/user_data/include/bloc_b.php"
BACKDOOR_REL = "html/user_data/include/bloc_b.php"
SKIM_REL = "html/user_data/packages/default/img/common/loading_s.gif"
SKIM_URL = "/user_data/packages/default/img/common/loading_s.gif"
SKIM_XOR_KEY = 0x5A


# ---------------------------------------------------------------------------------------------
# Clock formats. Pre-rendered per day and per second of day so bulk writers only concatenate.

_MON = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


class Clock:
    """Fast renderers for the period's timestamps (epoch seconds in, strings out).

    ``server_offset``: the UTC offset of the server's clock (seconds), which Apache's ``%t`` and
    MySQL 5.6's general log use; EC-CUBE's app logs and its ``date()`` values are Asia/Tokyo
    whatever the server's zone (``SC_Initial`` sets it)."""

    def __init__(self, server_offset: int = JST_OFFSET) -> None:
        self.server_offset = server_offset
        sign = "+" if server_offset >= 0 else "-"
        self.acc_zone = f" {sign}{abs(server_offset) // 3600:02d}{abs(server_offset) // 60 % 60:02d}]"
        self.hms = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86400)]
        self.hms_my = [f"{s // 3600:2d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86400)]
        self.acc_day, self.my_day, self.app_day, self.db_day = [], [], [], []
        for d in range(-1, DAYS + 2):
            g = time.gmtime(T0 + d * 86400 + JST_OFFSET)
            self.acc_day.append(f"[{g.tm_mday:02d}/{_MON[g.tm_mon - 1]}/{g.tm_year}:")
            self.my_day.append(f"{g.tm_year % 100:02d}{g.tm_mon:02d}{g.tm_mday:02d} ")
            self.app_day.append(f"{g.tm_year}/{g.tm_mon:02d}/{g.tm_mday:02d} ")
            self.db_day.append(f"{g.tm_year}-{g.tm_mon:02d}-{g.tm_mday:02d} ")

    def _split(self, t: int) -> tuple[int, int]:
        d, s = divmod(t - T0, 86400)
        return d + 1, s

    def _split_server(self, t: int) -> tuple[int, int]:
        d, s = divmod(t + self.server_offset - JST_OFFSET - T0, 86400)
        return d + 1, s

    def access(self, t: int) -> str:
        d, s = self._split_server(t)
        return self.acc_day[d] + self.hms[s] + self.acc_zone

    def mysql(self, t: int) -> str:
        d, s = self._split_server(t)
        return self.my_day[d] + self.hms_my[s]

    def mysql57(self, t: int) -> str:
        """MySQL 5.7's general-log time (log_timestamps=UTC, the default), without the fraction."""
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t))

    def app(self, t: int) -> str:
        d, s = self._split(t)
        return self.app_day[d] + self.hms[s]

    def db(self, t: int) -> str:
        if T0 - 86400 <= t < T_END + 86400:
            d, s = self._split(t)
            return self.db_day[d] + self.hms[s]
        return db_time(t)


def db_time(t: int) -> str:
    """Naive JST ``YYYY-MM-DD HH:MM:SS`` for any instant."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t + JST_OFFSET))


def iso_jst(t: int) -> str:
    """ISO 8601 with the +09:00 offset."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t + JST_OFFSET)) + "+09:00"


# ---------------------------------------------------------------------------------------------
# People

FAMILY = [
    ("佐藤", "サトウ"), ("鈴木", "スズキ"), ("高橋", "タカハシ"), ("田中", "タナカ"), ("伊藤", "イトウ"),
    ("渡辺", "ワタナベ"), ("山本", "ヤマモト"), ("中村", "ナカムラ"), ("小林", "コバヤシ"), ("加藤", "カトウ"),
    ("吉田", "ヨシダ"), ("山田", "ヤマダ"), ("佐々木", "ササキ"), ("山口", "ヤマグチ"), ("松本", "マツモト"),
    ("井上", "イノウエ"), ("木村", "キムラ"), ("林", "ハヤシ"), ("斎藤", "サイトウ"), ("清水", "シミズ"),
    ("山崎", "ヤマザキ"), ("森", "モリ"), ("池田", "イケダ"), ("橋本", "ハシモト"), ("阿部", "アベ"),
    ("石川", "イシカワ"), ("山下", "ヤマシタ"), ("中島", "ナカジマ"), ("石井", "イシイ"), ("小川", "オガワ"),
    ("前田", "マエダ"), ("岡田", "オカダ"), ("長谷川", "ハセガワ"), ("藤田", "フジタ"), ("後藤", "ゴトウ"),
    ("近藤", "コンドウ"), ("村上", "ムラカミ"), ("遠藤", "エンドウ"), ("青木", "アオキ"), ("坂本", "サカモト"),
]
GIVEN = [
    ("太郎", "タロウ", 1), ("健一", "ケンイチ", 1), ("大輔", "ダイスケ", 1), ("誠", "マコト", 1),
    ("浩二", "コウジ", 1), ("隆", "タカシ", 1), ("翔太", "ショウタ", 1), ("直樹", "ナオキ", 1),
    ("和也", "カズヤ", 1), ("拓也", "タクヤ", 1), ("修", "オサム", 1), ("健太", "ケンタ", 1),
    ("花子", "ハナコ", 2), ("恵子", "ケイコ", 2), ("裕子", "ユウコ", 2), ("美穂", "ミホ", 2),
    ("由美", "ユミ", 2), ("陽子", "ヨウコ", 2), ("愛", "アイ", 2), ("真由美", "マユミ", 2),
    ("さくら", "サクラ", 2), ("明美", "アケミ", 2), ("京子", "キョウコ", 2), ("智子", "トモコ", 2),
]
ROMA_FAMILY = ["sato", "suzuki", "takahashi", "tanaka", "ito", "watanabe", "yamamoto", "nakamura",
               "kobayashi", "kato", "yoshida", "yamada", "sasaki", "yamaguchi", "matsumoto", "inoue",
               "kimura", "hayashi", "saito", "shimizu", "yamazaki", "mori", "ikeda", "hashimoto", "abe",
               "ishikawa", "yamashita", "nakajima", "ishii", "ogawa", "maeda", "okada", "hasegawa",
               "fujita", "goto", "kondo", "murakami", "endo", "aoki", "sakamoto"]
MAIL_DOMAINS = ["example.jp", "example.com", "mail.example.ne.jp", "example.co.jp", "docomo.example.jp",
                "ezweb.example.jp", "example.net", "biz.example.jp"]
#: (pref id, pref name, zip01 prefix, towns)
PREFS = [
    (13, "東京都", "1", ["新宿区西新宿", "世田谷区三軒茶屋", "練馬区豊玉北", "大田区蒲田", "八王子市旭町"]),
    (14, "神奈川県", "2", ["横浜市中区山下町", "川崎市中原区小杉町", "相模原市中央区"]),
    (11, "埼玉県", "3", ["さいたま市浦和区高砂", "川口市本町", "所沢市日吉町"]),
    (12, "千葉県", "2", ["千葉市中央区富士見", "船橋市本町", "柏市柏"]),
    (27, "大阪府", "5", ["大阪市北区梅田", "堺市堺区", "豊中市本町"]),
    (23, "愛知県", "4", ["名古屋市中区栄", "豊田市小坂本町", "岡崎市康生通"]),
    (40, "福岡県", "8", ["福岡市博多区博多駅前", "北九州市小倉北区"]),
    (1, "北海道", "0", ["札幌市中央区大通西", "旭川市宮下通"]),
    (26, "京都府", "6", ["京都市下京区四条通", "宇治市宇治"]),
    (28, "兵庫県", "6", ["神戸市中央区三宮町", "姫路市駅前町"]),
]
PREF_WEIGHTS = [30, 14, 10, 9, 10, 8, 5, 5, 4, 5]

# ---------------------------------------------------------------------------------------------
# Shop

#: product_id -> (name, category_id, price)
PRODUCTS = {
    1: ("純米吟醸 東商 720ml", 1, 1890), 2: ("本醸造 辛口 1.8L", 1, 2160), 3: ("大吟醸 雫 720ml", 1, 4320),
    4: ("芋焼酎 黒麹 1.8L", 2, 2480), 5: ("麦焼酎 25度 900ml", 2, 1080), 6: ("米焼酎 球磨 720ml", 2, 1620),
    7: ("赤ワイン 3本セット", 3, 3980), 8: ("白ワイン シャルドネ", 3, 1580), 9: ("スパークリングワイン", 3, 2200),
    10: ("缶ビール 350ml 24本", 4, 4780), 11: ("クラフトビール 6本", 4, 2650), 12: ("梅酒 1.8L", 5, 2380),
    13: ("業務用 濃口醤油 1.8L", 6, 698), 14: ("白だし 1L", 6, 540), 15: ("米酢 900ml", 6, 398),
    16: ("本みりん 1.8L", 6, 880), 17: ("味噌 合わせ 1kg", 6, 620), 18: ("サラダ油 1.5kg", 7, 560),
    19: ("ごま油 600g", 7, 780), 20: ("乾麺 そば 10束", 8, 1280), 21: ("乾麺 うどん 10束", 8, 1180),
    22: ("コシヒカリ 5kg", 9, 2480), 23: ("あきたこまち 10kg", 9, 4380), 24: ("缶詰 さば水煮 24缶", 10, 3600),
    25: ("海苔 全形 100枚", 10, 2980), 26: ("昆布 日高 500g", 10, 1680), 27: ("緑茶 ティーバッグ 100袋", 11, 980),
    28: ("ほうじ茶 500g", 11, 1080), 29: ("ギフト 日本酒飲み比べ", 12, 5400), 30: ("ギフト 調味料詰め合わせ", 12, 3240),
    31: ("ユニオンジャック グラス", 12, 1200), 32: ("ワイングラス 2脚", 12, 1800),
}
CATEGORIES = {1: "日本酒", 2: "焼酎", 3: "ワイン", 4: "ビール", 5: "果実酒", 6: "調味料", 7: "油",
              8: "乾麺", 9: "米", 10: "乾物・缶詰", 11: "お茶", 12: "ギフト"}

#: payment_id -> (method, charge, rule_max, is card module)
PAYMENTS = {
    1: ("郵便振替", 0, 300000, False),
    2: ("現金書留", 0, 300000, False),
    3: ("銀行振込", 0, 1000000, False),
    4: ("代金引換", 324, 300000, False),
    5: ("クレジットカード決済", 0, 500000, True),
}
CARD_PAYMENT_ID = 5

#: Ordinary search words; near-misses for naive SQL-injection detectors are listed separately.
SEARCH_WORDS = ["日本酒", "焼酎", "ワイン", "ビール", "醤油", "味噌", "ギフト", "純米吟醸", "梅酒", "米 10kg",
                "お茶", "海苔", "そば", "sake", "wine", "gift set", "クラフトビール", "大吟醸 720ml"]
NEAR_MISS_SEARCHES = ["O'Reilly", "Rock'n'Roll", "select wine set", "union jack glass", "order by phone",
                      "drop shipping", "buy 2 get 1=1 free", "gift -- box", "日本酒 -- 辛口", "select ワイン 3本",
                      "Chef's choice", "d'Arenberg", "1=1 セット", "where to buy", "and/or 焼酎"]

BROWSER_UAS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/56.0.2924.87 Safari/537.36",
    "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko",
    "Mozilla/5.0 (Windows NT 10.0; WOW64; rv:52.0) Gecko/20100101 Firefox/52.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_12_3) AppleWebKit/603.1.30 (KHTML, like Gecko) Version/10.1 Safari/603.1.30",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 10_2_1 like Mac OS X) AppleWebKit/602.4.6 (KHTML, like Gecko) Version/10.0 Mobile/14D27 Safari/602.1",
    "Mozilla/5.0 (Linux; Android 6.0.1; SO-01H Build/32.2.B.0.253) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/56.0.2924.87 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 6.1; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/57.0.2987.110 Safari/537.36",
    "Mozilla/5.0 (iPad; CPU OS 10_2 like Mac OS X) AppleWebKit/602.3.12 (KHTML, like Gecko) Version/10.0 Mobile/14C92 Safari/602.1",
    "Mozilla/5.0 (Windows NT 6.3; Win64; x64; Trident/7.0; Touch; rv:11.0) like Gecko",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/51.0.2704.79 Safari/537.36 Edge/14.14393",
]
STAFF_UA = "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko"
VENDOR_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/56.0.2924.87 Safari/537.36"
ATTACKER_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:45.0) Gecko/20100101 Firefox/45.0"
SQLMAP_UA = "sqlmap/1.1.3#stable (http://sqlmap.org)"
SHELL_UA = "Mozilla/5.0 (Windows NT 6.1; rv:50.0) Gecko/20100101 Firefox/50.0"
GOOGLEBOT_UA = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
BINGBOT_UA = "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"
UPTIME_UA = "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)"
SCANNER_UAS = ["Mozilla/5.0 zgrab/0.x", "python-requests/2.13.0", "-",
               "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/41.0.2228.0 Safari/537.36"]
SCAN_PATHS = ["/wp-login.php", "/wp-admin/", "/xmlrpc.php", "/phpmyadmin/", "/phpMyAdmin/scripts/setup.php",
              "/pma/", "/myadmin/", "/.env", "/.git/config", "/admin.php", "/manager/html", "/cgi-bin/test.cgi",
              "/wp-content/plugins/revslider/temp/update_extract/", "/joomla/administrator/", "/shell.php",
              "/index.php?s=/index/think/app/invoke", "/backup.sql", "/db.sql", "/config.php.bak", "/.svn/entries"]

#: Background client addresses are drawn from these (consumer ISP style) /16 prefixes.
IP_PREFIXES = ["126.12", "126.209", "153.203", "153.142", "180.12", "180.46", "219.100", "220.144",
               "221.113", "114.160", "60.35", "61.205", "106.161", "110.3", "111.239", "118.8",
               "122.103", "124.39", "133.32", "175.132", "182.170", "210.138", "222.151", "49.98"]
IP6_PREFIXES = ["240b:10:2c0", "240d:1a:4f1", "2400:4051:91a0", "2001:268:c0a4"]
GOOGLE_IPS = ["66.249.66.1", "66.249.66.85", "66.249.79.12", "66.249.71.40"]
BING_IPS = ["157.55.39.14", "157.55.39.201", "207.46.13.77"]
UPTIME_IPS = ["69.162.124.230", "63.143.42.250"]
