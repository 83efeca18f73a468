"""A made-up shop platform, "testshop", to prove that a platform is one value plus its app-log
reader: its admin lives under ``/backoffice/`` with its own page names, its tables are ``shop_*``,
its card form is ``/checkout/card.php`` and its application log is JSON lines with UTC instants.

:func:`write_testshop_case` writes a case for it from an EC-CUBE case by renaming every route,
table and log line; the answers must not change.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
from pathlib import Path

import polars as pl

from forensics import schemas
from forensics.evidence import rel_source
from forensics.loaders._common import COUNTS, Loaded
from forensics.loaders.app_log import read_app_logs
from forensics.loaders.registry import Source
from forensics.platforms.routing import ANY_PERSON_TABLE, EVERY_PERSON_TABLE, AdminPage, Platform
from forensics.rules import PaymentRule

#: EC-CUBE admin route prefix -> testshop route (relative to the admin folder), most specific first.
ROUTES = [
    ("customer/search_customer.php", "members/picker.php"),
    ("customer/edit.php", "members/view.php"),
    ("customer/index.php", "members/list.php"),
    ("customer/", "members/list.php"),
    ("order/edit.php", "sales/view.php"),
    ("order/disp.php", "sales/show.php"),
    ("order/index.php", "sales/list.php"),
    ("order/", "sales/list.php"),
    ("contents/file_manager.php", "files/manager.php"),
    ("system/bkup.php", "settings/backup.php"),
    ("home.php", "dashboard.php"),
    ("index.php", "login.php"),
    ("", "login.php"),  # the bare admin folder is the login form
]

PAGES = (
    AdminPage("login", r"login\.php"),
    AdminPage("home", r"dashboard\.php", ("shop_order",)),
    AdminPage("customer_csv", r"members/list\.php", ("shop_customer",), mode="csv"),
    AdminPage("customer_list", r"members/list\.php", ("shop_customer",)),
    AdminPage("customer_edit", r"members/view\.php", ("shop_customer",)),
    AdminPage("customer_search", r"members/picker\.php", ("shop_customer",)),
    AdminPage("order_csv", r"sales/list\.php", ("shop_order",), mode="csv"),
    AdminPage("order_list", r"sales/list\.php", ("shop_order",)),
    AdminPage("order_edit", r"sales/view\.php", ("shop_order",)),
    AdminPage("order_disp", r"sales/show\.php", ("shop_order",)),
    AdminPage("backup_download", r"settings/backup\.php", (EVERY_PERSON_TABLE,), mode="download", whole=True),
    AdminPage("report_sql", r"reports/sql\.php", (ANY_PERSON_TABLE,), mode="run"),
    AdminPage("file_manager", r"files/manager\.php"),
    AdminPage("backup", r"settings/backup\.php"),
)

TESTSHOP = Platform(
    name="testshop",
    app_log_timezone=None,  # its log carries UTC instants
    default_admin_dir="/backoffice/",
    admin_pages=PAGES,
    mode_hidden_pages={"backup": "backup_download"},
    person_tables={"shop_customer": ("customer_id", "email"), "shop_order": ("customer_id", "order_email")},
    session_table="shop_session",
    session_id_column="sess_id",
    login_success_status=(302,),
    login_failure_status=(500, 200),
    card_entry_path="/checkout/card.php",
    card_entry_method="POST",
    card_entry_ok_status=(302,),
    upload_pages=r"files/manager\.php",
    docroot_markers=("define.php", "require.php"),
    db_export_glob="shop_*.csv",
    customer_table="shop_customer",
    order_table="shop_order",
    payment_table="shop_payment",
    csv_export_tables={"order_list": "shop_order", "customer_list": "shop_customer"},
    app_log_format="testshop-jsonl",
    admin_account_table="shop_member",
    admin_credential_columns=("login_id", "password", "salt"),
    payment_method_rules=(
        PaymentRule("testshop-card", "name", r"カード|card", "card", "the method's name names a card"),
        PaymentRule("testshop-other", "name", r"振替|書留|振込|代金引換|bank|cash", "not_card",
                    "the method's name names another way to pay"),
    ),
    upload_folder="user_data/",
    display_name="testshop",
    path_constants={"USER_REALDIR": "upload", "HTML_REALDIR": "docroot", "DATA_REALDIR": "data"},
)

#: The JSON fields of one testshop log line and the APP_LOG columns they fill.
_FIELDS = {"script": pl.String, "message": pl.String, "ip": pl.String, "event": pl.String, "login_id": pl.String,
           "member_id": pl.Int64, "authority": pl.Int32, "sid": pl.String, "last_login": pl.String,
           "upload_name": pl.String, "upload_dest": pl.String, "order_id": pl.Int64, "customer_id": pl.Int64}


def read_testshop_logs(s: Source) -> Loaded:
    """testshop's app log: one JSON object a line, ``t`` an ISO instant in UTC; every line a
    record or a reject with its reason."""
    records, rejects, counts = [], [], []
    for path in s.files:
        source = rel_source(path, s.root)
        lines = pl.DataFrame({"line": Path(path).read_text(encoding="utf-8").splitlines()}).with_row_index("line_no", 1)
        parsed = lines.with_columns(j=pl.col("line").str.json_decode(pl.Struct({"t": pl.String, **_FIELDS})))
        parsed = parsed.unnest("j").with_columns(
            ts=pl.col("t").str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_zone="UTC", time_unit="us", strict=False))
        ok = parsed.filter(pl.col("ts").is_not_null())
        bad = parsed.filter(pl.col("ts").is_null())
        records.append(ok.with_columns(source=pl.lit(source), log=pl.lit("app"),
                                       line_no=pl.col("line_no").cast(pl.Int64)))
        rejects.append(bad.select(pl.lit(source).alias("source"), pl.col("line_no").cast(pl.Int64),
                                  reason=pl.lit("not a testshop log line (no t)"), excerpt=pl.col("line").str.slice(0, 200)))
        counts.append(pl.DataFrame({"source": [source], "records": [ok.height], "rejected": [bad.height],
                                    "rows": [ok.height]}, schema=COUNTS))
    if not records:
        return Loaded(pl.DataFrame(schema=schemas.APP_LOG))
    table = pl.concat(records, how="diagonal_relaxed")
    for name, dtype in schemas.APP_LOG.items():
        if name not in table.columns:
            table = table.with_columns(pl.lit(None, dtype).alias(name))
    return Loaded(table.select(schemas.APP_LOG.names()).cast(dict(schemas.APP_LOG)).sort("ts", "source", "line_no"),
                  pl.concat(rejects).cast(schemas.REJECTS), pl.concat(counts))


def _route(path: str, admin_dir: str) -> str:
    """An EC-CUBE path as testshop names it."""
    if path.startswith("/shopping/load_payment_module.php"):
        return "/checkout/card.php" + path[len("/shopping/load_payment_module.php"):]
    if not path.startswith(admin_dir):
        return path
    rest = path[len(admin_dir):]
    for old, new in ROUTES:
        if old == "" and (rest == "" or rest.startswith("?")):
            return "/backoffice/" + new + rest
        if old and rest.startswith(old):
            return "/backoffice/" + new + rest[len(old):]
    return "/backoffice/" + rest


_REQUEST = re.compile(r'"(GET|POST|HEAD|PUT|DELETE|OPTIONS) (\S+)')
_REFERER = re.compile(r'"(https?://[^/"\s]+)(/[^"\s]*)"')


def _access_line(line: str, admin_dir: str) -> str:
    # the attacker's payloads name the shop's own tables, as its query log does
    line = _REQUEST.sub(lambda m: f'"{m[1]} {_route(m[2], admin_dir).replace("dtb_", "shop_")}', line)
    return _REFERER.sub(lambda m: f'"{m[1]}{_route(m[2], admin_dir)}"', line)


def _rewrite(path: Path, out: Path, line_fn) -> None:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", errors="surrogateescape") as src, \
            opener(out, "wt", encoding="utf-8", errors="surrogateescape") as dst:
        for line in src:
            dst.write(line_fn(line))


def write_testshop_case(eccube_case: Path, out: Path, admin_dir: str = "/admin/") -> Path:
    """The same incident as testshop would have recorded it: routes, tables and log lines renamed."""
    eccube_case, out = Path(eccube_case), Path(out)
    shutil.copytree(eccube_case / "server", out / "server")
    shutil.copytree(eccube_case / "fs", out / "fs")
    (out / "logs" / "web").mkdir(parents=True)
    for p in sorted((eccube_case / "logs" / "httpd").glob("access_log*")):
        _rewrite(p, out / "logs" / "web" / p.name, lambda line: _access_line(line, admin_dir))
    (out / "logs" / "db").mkdir(parents=True)
    for p in sorted((eccube_case / "logs" / "mysql").glob("general.log*")):
        _rewrite(p, out / "logs" / "db" / p.name, lambda line: line.replace("dtb_", "shop_"))
    (out / "db").mkdir()
    for p in sorted((eccube_case / "db").glob("dtb_*.csv")):
        shutil.copyfile(p, out / "db" / p.name.replace("dtb_", "shop_"))
    # the application log: every EC-CUBE record as one JSON line
    app = read_app_logs(sorted((eccube_case / "logs" / "eccube").glob("*.log*")), case_root=eccube_case,
                        timezone="Asia/Tokyo", show_progress=False).records
    (out / "logs" / "app").mkdir(parents=True)
    with open(out / "logs" / "app" / "app.jsonl", "w", encoding="utf-8") as fh:
        for r in app.sort("ts", "source", "line_no").iter_rows(named=True):
            row = {k: r[k] for k in _FIELDS if r.get(k) is not None}
            row["script"] = _route(r["script"], admin_dir)
            row["t"] = r["ts"].strftime("%Y-%m-%dT%H:%M:%SZ")
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    case_yml = (eccube_case / "case.yml").read_text(encoding="utf-8")
    case_yml = re.sub(r"profile: \S+", "profile: testshop", case_yml)
    case_yml = re.sub(r"\n  admin_dir: \S+", "", case_yml)
    case_yml = (case_yml.replace("logs/httpd/", "logs/web/").replace("logs/mysql/", "logs/db/")
                .replace("logs/eccube/*.log*", "logs/app/*.jsonl"))
    (out / "case.yml").write_text(case_yml, encoding="utf-8")
    return out / "case.yml"
