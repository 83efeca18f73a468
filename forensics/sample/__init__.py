"""Deterministic synthetic case generator: the 東商マート (toshomart.com) breach of 2017.

``write_sample_case(dir, scale=1, seed=20170331)`` simulates the shop (EC-CUBE 2.13 on Apache and
MySQL 5.6) from 2017-03-13 to 2017-04-16 JST and writes a case folder: ``case.yml``, the evidence
(access logs, EC-CUBE app logs, MySQL general log, TSK bodyfile, recovered ``server/`` tree, database
exports) and ``truth.json``, computed from the simulation's own state by the counting
rules. Same seed, scale and options give byte-identical files. ``options`` (names in :data:`OPTIONS`)
add other real EC-CUBE behaviours: a brute-force login run, a server clock in UTC, a backup download,
a failed upload, DEBUG_MODE logs, a shop under a sub-folder, a CSV-SQL export, the shop's admin CSV
downloads as the database exports, the access logs in another server's format (``log_*``:
:mod:`forensics.sample.logformats`).

This package imports nothing else from ``forensics``: analysis code must recover the truth from the
evidence alone.
"""

from __future__ import annotations

import json
import random
import re
import shutil
from collections import Counter
from operator import itemgetter
from pathlib import Path

from . import traffic
from . import world as W
from .admin_csv import write_admin_csv
from .logformats import OPTION_FORMATS, header as log_header, rewrite as log_rewrite, truncated_plant
from .output import MYSQL57_HEADER, MYSQL_HEADER, QueryLog, RotatingText, write_app_log, write_csv
from .schema import columns
from .server import ServerTree
from .sim import CUST_COLS, DETAIL_COLS, ORDER_COLS, Sim
from .story import TARGET_VIEWED, Story
from .truth import Markers, card_counts, counts_dict, viewed_persons

__all__ = ["write_sample_case", "simulate"]

CASE_ID = "toshomart-2017"
CASE_YML = """id: toshomart-2017
title: 東商マート 不正アクセス調査
timezone: Asia/Tokyo
site:
  profile: eccube2
  admin_dir: /admin/
evidence:
  access_logs: [logs/httpd/access_log*]
  app_logs: [logs/eccube/*.log*]
  query_logs: [logs/mysql/general.log*]
  fs_timeline: fs/bodyfile.txt
  server_files: server/
  db: {encoding: utf-8, dir: db/}
facts:
  containment: 2017-04-10T13:00:00+09:00
  internal_ips: [198.51.100.10]
  test_markers:
    customer_ids: [1]
    emails: ["*@toyoshoji.example"]
    card_numbers: ["4111111111111111"]
"""
MARKERS = Markers(customer_ids=(1,), emails=("*@toyoshoji.example",), card_numbers=("4111111111111111",))
STAFF_UPLOAD_T = W.jst(2017, 3, 22, 11, 5, 40)
OWNED = ["case.yml", "truth.json", "logs", "fs", "server", "db"]


#: option -> the real behaviour it adds (``write_sample_case(options=...)``, ``forensics sample --option``)
OPTIONS: dict[str, str] = {
    "brute_force": "about 240 failed admin logins from the attacker before the real one (HTTP 500 error page; "
                   "'ID password incorrect.' for a well-formed ID, nothing logged for one that fails the format check)",
    "utc_server": "server clock in UTC: access-log times +0000 and a MySQL 5.7 general log (UTC); EC-CUBE's app "
                  "logs and date() values stay Asia/Tokyo",
    "backup_download": "the attacker creates and downloads a database backup (system/bkup.php) at the end of the "
                       "last session: every person in the database at that moment is viewed",
    "failed_upload": "a failed file-manager upload ('File Upload Error!:') of the backdoor into a folder the web "
                     "server cannot write, before the real upload",
    "debug_mode": "DEBUG_MODE: every site.log and admin.log record is verbose (session line and backtrace)",
    "csv_sql_export": "the attacker stores a SELECT of the Tokyo customers in contents/csv_sql.php and runs its "
                      "csv_output: every row it returned is viewed",
    "admin_csv_exports": "the member and order tables come as the shop's own admin CSV downloads (customer/order "
                         "index.php, mode csv: dtb_csv labels, CP932, live rows only), made the day after "
                         "containment, instead of table dumps",
    "error_log": "EC-CUBE's error.log: every injection that broke the list page's SQL (the heuristic "
                 "probes answered 500) writes its SQL error there, verbose, as SC_Query does",
    "subfolder": "the shop is served under /shop/ (Apache Alias of the same html/ folder): every shop and admin "
                 "URL, SCRIPT_NAME and ROOT_URLPATH carry /shop; probes for other software stay at the root",
    # the access logs in another server's format (one of these at most; see forensics.sample.logformats)
    "log_common": "access logs in Apache's Common Log Format (%h %l %u %t \"%r\" %>s %b, RHEL's ssl_access_log): "
                  "no referer, no user agent",
    "log_vhost_combined": "access logs in Apache's vhost_combined (Debian's other_vhosts_access.log: %v:%p first, "
                          "%O bytes sent with the headers)",
    "log_nginx": "access logs in nginx's default combined log_format (0 for an empty body, \\x22 for a quote)",
    "log_w3c": "access logs in IIS's W3C extended format with its default fields (UTC times, a #Fields: header "
               "per file, no sc-bytes)",
}


def _check_options(options) -> None:
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ValueError(f"unknown sample option(s) {', '.join(unknown)}; known: {', '.join(sorted(OPTIONS))}")
    formats = sorted(set(options) & set(OPTION_FORMATS))
    if len(formats) > 1:
        raise ValueError(f"sample options {', '.join(formats)}: the access logs are written in one format")


def simulate(seed: int = 20170331, scale: int = 1, options=()) -> tuple[Sim, Story]:
    """Run the simulation (no files written). ``options``: names from :data:`OPTIONS`."""
    _check_options(options)
    sim = Sim(seed, scale, frozenset(options))
    story = Story(sim)
    story.seed_database()
    story.schedule_attack()          # first: registers the attacker's page times as guards
    story.schedule_background()
    sim.at(STAFF_UPLOAD_T, story.staff_upload)
    sim.run()
    return sim, story


def _mask(no: str) -> str:
    return no[:6] + "*" * (len(no) - 10) + no[-4:]


def write_sample_case(dir: Path, *, scale: int = 1, seed: int = 20170331, options=()) -> Path:
    """Write the case folder; returns its path. ``scale`` multiplies background traffic and customers;
    ``options`` adds real behaviours (names from :data:`OPTIONS`), truth computed by the simulation."""
    root = Path(dir)
    if scale < 1:
        raise ValueError("scale must be >= 1")
    _check_options(options)
    if root.exists() and any(root.iterdir()):
        if not (root / "case.yml").exists():
            raise ValueError(f"{root} is not empty and holds no case.yml: refusing to write into it")
        for name in OWNED:
            p = root / name
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
    root.mkdir(parents=True, exist_ok=True)
    sim, story = simulate(seed, scale, options)
    viewed = viewed_persons(sim.views)
    if len(viewed) != TARGET_VIEWED and not {"backup_download", "csv_sql_export"} & sim.options:
        raise RuntimeError(f"simulation produced {len(viewed)} viewed persons, expected {TARGET_VIEWED}")
    level = 6 if scale <= 10 else 1
    planted: list[dict] = []
    tagged = _write_request_logs(root, sim, seed, scale, level, planted)
    _write_app_logs(root, sim, scale, planted)
    _write_db(root, sim)
    tree = _write_server(root, sim, story, planted)
    case_yml = CASE_YML.replace("admin_dir: /admin/", f"admin_dir: {sim.base}/admin/")
    if "admin_csv_exports" in sim.options:  # the downloads are CP932, the other dumps UTF-8: told per file
        case_yml = case_yml.replace("db: {encoding: utf-8, dir: db/}", "db: {encoding: auto, dir: db/}")
    (root / "case.yml").write_bytes(case_yml.encode())
    truth = _truth(sim, story, tree, tagged, planted, seed, scale)
    (root / "truth.json").write_bytes((json.dumps(truth, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode())
    return root


# ------------------------------------------------------------------------------------------------
def _write_request_logs(root: Path, sim: Sim, seed: int, scale: int, level: int, planted: list) -> dict:
    (root / "logs/httpd").mkdir(parents=True)
    (root / "logs/mysql").mkdir(parents=True)
    fmt = next((OPTION_FORMATS[o] for o in sorted(sim.options) if o in OPTION_FORMATS), None)
    starts = [W.T0] + [t for t, _name in W.ACCESS_ROTATIONS]  # when each access-log file is begun
    acc = RotatingText(root / "logs/httpd", "access_log", W.ACCESS_ROTATIONS, gz_level=level, rel="logs/httpd",
                       header=(lambda idx: log_header(fmt, starts[idx])) if fmt else "")
    my = RotatingText(root / "logs/mysql", "general.log", W.MYSQL_ROTATIONS, gz_level=level,
                      header=MYSQL57_HEADER if "utc_server" in sim.options else MYSQL_HEADER,
                      rel="logs/mysql")
    qlog = QueryLog(my, sim.clock, layout="5.7" if "utc_server" in sim.options else "5.6")
    tagged: dict[str, list] = {"sqli": [], "backdoor": [], "skim": []}
    plants = [
        (W.jst(2017, 3, 24, 12, 0, 3), "truncated access-log line (cut inside the referer, no user agent)",
         '126.12.88.41 - - [24/Mar/2017:12:00:03 +0900] "GET /products/detail.php?product_id=7 HTTP/1.1" 200 15320 '
         '"https://toshomart.com/products/list.php?categ'),
        (W.jst(2017, 4, 16, 10, 0, 0), "binary garbage line (NUL and high bytes, not UTF-8)",
         "\x00\x00\x00\x00\udc8f\udcff\x1b[\udcfe\udcfe\x00\x07\udcc3(\udca0\udca1\x00\x00"),
    ]
    if fmt:  # the same request cut short where that format shows it
        plants[0] = (plants[0][0], *truncated_plant(fmt, plants[0][0]))
    for day in range(W.DAYS):
        # state-changing requests of the day (from the simulation) + the day's bulk background
        ents = sim.entries.get(day, []) + traffic.day_entries(day, seed=seed, scale=scale, clock=sim.clock, seq0=10**10 + day * 10**8)
        ents.sort(key=itemgetter(0, 1))
        write_raw, qwrite = acc.write_raw, qlog.write
        for t, _seq, text, block, tag in ents:
            if sim.base:
                text = _in_subfolder(text, sim.base)
            if fmt:
                text = log_rewrite(fmt, text, t)
            if t >= acc.limit:
                acc.roll(t)
            if plants and t >= plants[0][0]:
                _pt, what, line = plants.pop(0)
                write_raw(line + "\n")
                acc.line_no += 1
                planted.append({"file": acc.rel_name, "line_no": acc.line_no, "what": what})
            write_raw(text)
            write_raw("\n")
            if block is not None:
                if isinstance(block, list):
                    acc.line_no += len(block)
                else:
                    acc.line_no += 1
                qwrite(t, block)
            else:
                acc.line_no += 1
            if tag is not None:
                tagged[tag[0]].append((tag[1], acc.rel_name, acc.line_no, t))
        sim.entries.pop(day, None)
    acc.close()
    my.close()
    return tagged


_ROOT_ONLY = tuple(W.SCAN_PATHS) + ("/robots.txt",)
_REQ = re.compile(r'"(GET|POST|HEAD) (/[^ "]*)')


def _in_subfolder(text: str, base: str) -> str:
    """Access lines of a shop served under ``base``: request targets and the shop's own referers move
    under it; probes for other software and robots.txt stay at the site root."""
    def target(m: re.Match) -> str:
        path = m.group(2)
        return m.group(0) if path.startswith(_ROOT_ONLY) else f'"{m.group(1)} {base}{path}'
    text = _REQ.sub(target, text)
    return text.replace('"https://toshomart.com/', f'"https://toshomart.com{base}/')


def _write_app_logs(root: Path, sim: Sim, scale: int, planted: list) -> None:
    folder = root / "logs/eccube"
    folder.mkdir(parents=True)
    admin = [x[2] for x in sorted(sim.app_logs["admin.log"])]
    customer = [x[2] for x in sorted(sim.app_logs["customer.log"])]
    site = [x[2] for x in sorted(sim.app_logs["site.log"])]
    # a record cut short before its " from REMOTE_ADDR" (the write interrupted): the first order
    # completed after 2017-04-05 03:00 JST
    pt = sim.clock.app(W.jst(2017, 4, 5, 3, 0, 0))
    idx = next(i for i, ln in enumerate(site) if ln >= pt)
    bad = site[idx] = site[idx].rsplit(" from ", 1)[0]
    write_app_log(folder, "admin.log", admin, 24_000)
    write_app_log(folder, "customer.log", customer, 12_000 * scale)
    if sim.app_logs["error.log"]:
        write_app_log(folder, "error.log", [x[2] for x in sorted(sim.app_logs["error.log"])], 24_000 * scale)
    files = write_app_log(folder, "site.log", site, 15_000 * scale)
    for name, lines in files:
        if bad in lines:
            line_no = 1 + sum(rec.count("\n") + 1 for rec in lines[:lines.index(bad)])   # records may span lines
            planted.append({"file": f"logs/eccube/{name}", "line_no": line_no,
                            "what": "app-log record cut short before its 'from REMOTE_ADDR' part"})


def _write_db(root: Path, sim: Sim) -> None:
    folder = root / "db"
    folder.mkdir(parents=True)
    if "admin_csv_exports" in sim.options:
        # the investigator's copies: the shop's own member and order downloads, made the day after
        # containment (live rows only, as the admin list pages select them)
        at = "2017-04-11 10:15:02"
        prefs = {pid: name for pid, name, _zip, _towns in W.PREFS}
        live_c = [dict(zip(CUST_COLS, sim.row_values(sim.customers[k], CUST_COLS))) for k in sorted(sim.customers)
                  if sim.customers[k]["del_flg"] == 0]
        live_o = [dict(zip(ORDER_COLS, sim.row_values(sim.orders[k], ORDER_COLS))) for k in sorted(sim.orders)
                  if sim.orders[k]["del_flg"] == 0]
        write_admin_csv(folder, 2, live_c, at, prefs)
        write_admin_csv(folder, 3, live_o, at, prefs)
    else:
        custs = [sim.row_values(sim.customers[k], CUST_COLS) for k in sorted(sim.customers)]
        write_csv(folder / "dtb_customer.csv", CUST_COLS, custs)
        write_csv(folder / "dtb_order.csv", ORDER_COLS, [sim.row_values(sim.orders[k], ORDER_COLS) for k in sorted(sim.orders)])
    write_csv(folder / "dtb_order_detail.csv", DETAIL_COLS, [[d[c] for c in DETAIL_COLS] for d in sim.details])
    prow = []
    for pid, (name, charge, rmax, card) in sorted(W.PAYMENTS.items()):
        deleted = card and sim.payment_deleted_at is not None
        prow.append({
            "payment_id": pid, "payment_method": name, "charge": charge, "rule_max": rmax, "rank": 6 - pid,
            "fix": 2, "status": 1, "del_flg": 1 if deleted else 0, "creator_id": 2, "create_date": "2016-11-02 14:20:11",
            "update_date": W.db_time(sim.payment_deleted_at) if deleted else "2016-11-02 14:20:11",
            "upper_rule": rmax, "charge_flg": 1, "rule_min": 0, "upper_rule_max": rmax,
            "module_id": 1 if card else None, "module_path": "mdl_toyocredit/load_payment_module.php" if card else None,
            "memo01": "toyocredit" if card else None, "memo03": "1" if card else None})
    _write_table(folder, "dtb_payment", prow)
    pw_t = sim.member_pw_changed
    _write_table(folder, "dtb_member", [
        {"member_id": 1, "name": "管理者", "department": "東商マート", "login_id": "admin",
         "password": ("0" * 8 + "f" * 56) if pw_t else "x", "salt": "x8Kq2mZ0aa", "authority": 0, "rank": 2, "work": 1,
         "del_flg": 0, "creator_id": 0, "create_date": "2016-11-02 14:10:31",
         "update_date": W.db_time(pw_t) if pw_t else "2016-11-02 14:10:31", "login_date": W.db_time(sim.member_lastlogin[1])},
        {"member_id": 2, "name": "東洋商事サポート", "department": "東洋商事株式会社", "login_id": "toyo_support",
         "password": "5e6b1c0d" * 8, "salt": "p0Lz8Qw1rt", "authority": 0, "rank": 1, "work": 1, "del_flg": 0,
         "creator_id": 1, "create_date": "2016-11-02 14:12:03", "update_date": "2016-11-02 14:12:03",
         "login_date": W.db_time(sim.member_lastlogin[2])},
    ])


def _write_table(folder: Path, table: str, rows: list[dict]) -> None:
    """A table dump: the table's columns in CREATE TABLE order, values by name (absent: empty)."""
    cols = columns(table)
    write_csv(folder / f"{table}.csv", cols, [[r.get(c) for c in cols] for r in rows])


def _write_server(root: Path, sim: Sim, story: Story, planted: list) -> ServerTree:
    tree = ServerTree(root / "server", random.Random(sim.seed * 13 + 3))
    skim_t = [s.t for s in story.skims]
    backdoor_last = max(t for t in story.backdoor_hits if t < W.CONTAINMENT)
    card_posts = [s.t for s in story.skims]
    tree.build(tamper_t=story.tamper_t, backdoor_t=story.backdoor_t, skim_lines=story.skim_lines,
               skim_times=skim_t, skim_fetch=story.skim_fetch_ts, backdoor_last=backdoor_last,
               last_card_post=max(card_posts), staff_upload_t=STAFF_UPLOAD_T, root_urlpath=sim.base + "/")
    tree.write()
    logs = [(f"{W.DOCROOT}/data/logs/site.log", 41230, W.jst(2017, 4, 16, 23, 41, 2)),
            (f"{W.DOCROOT}/data/logs/admin.log", 18211, W.jst(2017, 4, 16, 17, 2, 40)),
            (f"{W.DOCROOT}/data/logs/customer.log", 9342, W.jst(2017, 4, 16, 22, 51, 17)),
            (f"{W.DOCROOT}/data/cache/mtb_constants.php", 60122, W.jst(2016, 11, 2, 14, 30, 0))]
    lines = tree.bodyfile(logs)
    k = len(lines) // 3
    lines.insert(k, f"0|{W.DOCROOT}/html/upload/temp_image|1049999|d/drwxr-xr-x|48")
    planted.append({"file": "fs/bodyfile.txt", "line_no": k + 1, "what": "bodyfile line with 5 of 11 fields"})
    (root / "fs").mkdir()
    (root / "fs/bodyfile.txt").write_bytes(("\n".join(lines) + "\n").encode())
    return tree


def _truth(sim: Sim, story: Story, tree: ServerTree, tagged: dict, planted: list, seed: int, scale: int) -> dict:
    viewed = viewed_persons(sim.views)
    window = (story.backdoor_t, W.CONTAINMENT)
    cards = card_counts(sim.card_entries, story.skims, MARKERS, window)
    counts = counts_dict(viewed, cards)
    sqli_by_ip: dict[str, int] = {}
    for ip, _f, _l, _t in tagged["sqli"]:
        sqli_by_ip[ip] = sqli_by_ip.get(ip, 0) + 1
    bd_by_ip: dict[str, int] = {}
    for ip, _f, _l, _t in tagged["backdoor"]:
        bd_by_ip[ip] = bd_by_ip.get(ip, 0) + 1
    attacker_ips = sorted(set(sqli_by_ip) | set(bd_by_ip) | {W.ATTACKER_MAIN})
    iso = W.iso_jst
    by_order = {e.order_id: e for e in sim.card_entries}
    seen: set[str] = set()
    views = []
    for v in sim.views:
        if v.attacker:
            new = sorted(set(v.persons) - seen)
            seen.update(v.persons)
            views.append({"at": iso(v.t), "ip": v.ip, "sid": v.sid, "page": v.page, "persons": list(v.persons),
                          "new_persons": len(new)})
    return {
        "case": CASE_ID,
        "timezone": "Asia/Tokyo",
        "generator": {"seed": seed, "scale": scale, "package": "forensics.sample", "options": sorted(sim.options)},
        "phases": {
            "sqli_first": iso(story.sqli_first),
            "attacker_admin_login": iso(story.login_t),
            "backdoor_installed": iso(story.backdoor_t),
            "card_form_tampered": iso(story.tamper_t),
            "containment": iso(W.CONTAINMENT),
        },
        "attacker_ips": attacker_ips,
        "backdoor_paths": [sim.base + W.BACKDOOR_URL],
        "tampered_files": [tree.tampered_rel],
        "skim_files": [W.SKIM_REL],
        "windows": {
            "admin_access": [iso(story.login_t), iso(story.last_attacker_admin)],
            "backdoor": [iso(story.backdoor_t), iso(W.CONTAINMENT)],
            "skimmer": [iso(story.tamper_t), iso(W.CONTAINMENT)],
        },
        "counts": counts,
        "viewed_persons": {
            "customer_ids": sorted(int(p[2:]) for p in viewed if p.startswith("c:")),
            "guest_emails": sorted(p[2:] for p in viewed if p.startswith("g:")),
        },
        "attacker_views": views,
        "cards": {
            "confirmed": sorted(
                [{"card_masked": _mask(s.card_no), "order_id": s.order_id, "entered": iso(s.t),
                  "test": s.card_no in cards.confirmed_test}
                 for s in {s.card_no: s for s in sorted(story.skims, key=lambda s: -s.t)}.values()],
                key=lambda d: d["entered"]),
            "skim_records": len(story.skims),
            "possible_customer_persons": sorted(cards.possible_customer),
            "possible_test_persons": sorted(cards.possible_test),
            "card_entries_in_backdoor_window": sorted(
                e.order_id for e in sim.card_entries if window[0] <= e.t <= window[1]),
            "card_entries_outside_window": sum(1 for e in sim.card_entries if not (window[0] <= e.t <= window[1])),
            "skim_order_ids": sorted({s.order_id for s in story.skims}),
            "skim_persons": sorted({f"c:{by_order[s.order_id].customer_id}" if by_order[s.order_id].customer_id
                                    else f"g:{by_order[s.order_id].email.lower()}" for s in story.skims}),
        },
        "sqli": {
            "count_by_ip": dict(sorted(sqli_by_ip.items())),
            "total": len(tagged["sqli"]),
            "first": iso(min(t for *_x, t in tagged["sqli"])),
            "requests": [{"source": f, "line_no": ln, "ip": ip} for ip, f, ln, _t in tagged["sqli"]],
        },
        "backdoor_requests_by_ip": dict(sorted(bd_by_ip.items())),
        "backdoor_only_ips": sorted(set(bd_by_ip) - set(sqli_by_ip) - {W.ATTACKER_MAIN}),
        "non_attacker_admin_ips": sorted([W.STAFF_IP, W.VENDOR_IP]),
        "planted_rejects": sorted(planted, key=lambda d: (d["file"], d["line_no"])),
        "admin_login_failures": {
            "by_ip": dict(sorted(Counter(f["ip"] for f in story.login_failures).items())),
            "logged": sum(1 for f in story.login_failures if f["logged"]),
            "unlogged": sum(1 for f in story.login_failures if not f["logged"]),
        },
        "failed_uploads": story.failed_uploads,
        **({"sql_errors": story.facts.get("sql_errors", [])} if "error_log" in sim.options else {}),
        "traps": {
            "same_second_staff_and_attacker": iso(story.facts["same_second_pair"]),
            "viewed_then_withdrawn_customer_id": story.facts.get("viewed_then_withdrawn"),
            "registered_after_last_customer_list_view": story.facts.get("registered_after_view"),
            "csv_export_order_id_range": story.facts.get("csv_order_range"),
            "recompiled_templates": tree.recompiled_rel,
            "staff_upload": "html/user_data/sale_banner_201703.jpg",
            "vendor_ip": W.VENDOR_IP,
        },
    }
