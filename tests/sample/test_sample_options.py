"""Sample options: each adds a real EC-CUBE 2.13.5 behaviour; the analysis, run on the generated case,
must give the answers the simulation computed (truth.json)."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest

from forensics.sample import OPTIONS, write_sample_case
from tests.sample.test_sample_messages import check_messages

KEYS = ["phases", "attacker_ips", "backdoor_paths", "tampered_files", "skim_files", "windows"]


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    made: dict[str, Path] = {}

    def get(option: str) -> Path:
        if option not in made:
            made[option] = write_sample_case(tmp_path_factory.mktemp(option) / "case", options=[option])
        return made[option]
    return get


def analyse(case: Path) -> tuple[dict, dict]:
    from forensics.case import open_case
    from forensics.findings import findings_dict, investigate

    findings = findings_dict(investigate(open_case(case / "case.yml")))
    return findings, json.loads((case / "truth.json").read_text(encoding="utf-8"))


def assert_key_answers(findings: dict, truth: dict, *, viewed_bound_ok: bool = False) -> None:
    for key in KEYS:
        assert findings[key] == truth[key], key
    got = findings["counts"]
    for name, want in truth["counts"].items():
        if name == "viewed_persons" and viewed_bound_ok and got[name] is None:
            # the access log cannot tell which bkup.php POST was the download: an exact bound
            assert got["viewed_persons_upper"] == want
            continue
        assert got[name] == want, name


def test_unknown_option_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown sample option"):
        write_sample_case(tmp_path / "x", options=["nosuch"])
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("option", sorted(OPTIONS))
def test_option_writes_only_listed_messages(cases, option):
    seen = check_messages(cases(option))
    if option == "failed_upload":
        assert seen["upload_failed"] == 1


def test_brute_force(cases):
    case = cases("brute_force")
    findings, truth = analyse(case)
    fails = truth["admin_login_failures"]
    assert fails["by_ip"]["192.0.2.146"] == 242 and fails["unlogged"] > 0
    admin = "".join(p.read_text(encoding="utf-8") for p in sorted((case / "logs/eccube").glob("admin.log*")))
    assert admin.count("password incorrect.") == fails["logged"]
    assert_key_answers(findings, truth)


def test_utc_server(cases):
    case = cases("utc_server")
    first = gzip.decompress((case / "logs/httpd/access_log-20170319.gz").read_bytes()).decode().splitlines()[0]
    assert "/Mar/2017:15:" in first and first.split("]")[0].endswith("+0000")
    qlog = gzip.decompress((case / "logs/mysql/general.log-20170319.gz").read_bytes()).decode().splitlines()
    assert "Version: 5.7" in qlog[0] and re.match(r"^2017-03-12T15:\d\d:\d\d\.\d{6}Z\t", qlog[3])
    # EC-CUBE's own clock stays Asia/Tokyo
    admin = (case / "logs/eccube/admin.log.3").read_text(encoding="utf-8")
    assert admin.startswith("2017/03/13 09:")
    findings, truth = analyse(case)
    assert_key_answers(findings, truth)


def test_backup_download(cases):
    findings, truth = analyse(cases("backup_download"))
    assert truth["counts"]["viewed_persons"] > 600
    assert [v["page"] for v in truth["attacker_views"]][-1] == "backup_download"
    assert_key_answers(findings, truth, viewed_bound_ok=True)


def test_failed_upload(cases):
    findings, truth = analyse(cases("failed_upload"))
    assert truth["failed_uploads"] and truth["failed_uploads"][0]["at"] < truth["phases"]["backdoor_installed"]
    assert_key_answers(findings, truth)


def test_debug_mode(cases):
    case = cases("debug_mode")
    admin = (case / "logs/eccube/admin.log").read_text(encoding="utf-8")
    assert re.search(r"\] login: user=\w+\(\d\) auth=0 lastlogin=\S+ \S+ sid= from \S+\nlogin_id = \w+\(0\)\[[0-9a-v]{26}\]\n", admin)
    findings, truth = analyse(case)
    assert_key_answers(findings, truth)


def test_subfolder(cases):
    case = cases("subfolder")
    assert "admin_dir: /shop/admin/" in (case / "case.yml").read_text(encoding="utf-8")
    lines = gzip.decompress((case / "logs/httpd/access_log-20170402.gz").read_bytes()).decode().splitlines()
    targets = {ln.split('"')[1].split(" ")[1] for ln in lines}
    assert "/shop/admin/index.php" in targets and not any(t.startswith("/admin/") for t in targets)
    assert "define('ROOT_URLPATH', '/shop/')" in (case / "server/data/config/config.php").read_text(encoding="utf-8")
    findings, truth = analyse(case)
    assert truth["backdoor_paths"] == ["/shop/user_data/include/bloc_b.php"]
    assert_key_answers(findings, truth)


def test_csv_sql_export(cases):
    # the POST hides its mode; the statements of its connection show the stored SELECT read by id
    # and run (csv_output), and the POST before it stored the statement (no person read)
    findings, truth = analyse(cases("csv_sql_export"))
    want = truth["counts"]["viewed_persons"]
    assert truth["attacker_views"][-1]["page"] == "csv_sql_output" and 55 < want < 200
    assert findings["counts"]["viewed_persons"] == want
    assert_key_answers(findings, truth)




def test_admin_csv_exports(cases):
    # the member and order tables as the shop's own downloads: recognised by their labels, the
    # cards counted as on the dumps; the viewed persons bounded (the downloads lack columns the
    # pages' SELECTs read, and rows deleted before the download), the truth inside the bound
    case = cases("admin_csv_exports")
    names = sorted(p.name for p in (case / "db").iterdir())
    assert not {"dtb_customer.csv", "dtb_order.csv"} & set(names)
    assert any(n.startswith("customer_") for n in names) and any(n.startswith("order_") for n in names)
    findings, truth = analyse(case)
    got, want = findings["counts"], truth["counts"]
    for name in ("cards_confirmed_customer", "cards_confirmed_test", "cards_possible_customer",
                 "cards_possible_test", "cards_total"):
        assert got[name] == want[name], name
    if got["viewed_persons"] is None:
        assert got.get("viewed_persons_lower", 0) <= want["viewed_persons"] <= got["viewed_persons_upper"]
    else:
        assert got["viewed_persons"] == want["viewed_persons"]
    for key in KEYS:
        assert findings[key] == truth[key], key


def test_error_log(cases):
    # the injections that broke the list page's SQL (answered 500) write EC-CUBE's SQL error
    # records; the analysis ties each to its request by the injected text in the statement
    from forensics.case import open_case
    from forensics.findings import investigate

    case = cases("error_log")
    truth = json.loads((case / "truth.json").read_text(encoding="utf-8"))
    want = truth["sql_errors"]
    inv = investigate(open_case(case / "case.yml"))
    errors = inv.detections.sql_errors
    assert errors.height > 0 and errors["page"].unique().to_list() == ["/products/list.php"]
    assert errors["db_error"].str.starts_with("You have an error in your SQL syntax").all()
    # each tied to its request: by the injected text in the statement, or as the only flagged one
    assert errors["req_source"].is_not_null().all() and errors["req_flagged"].all()
    assert errors.filter(errors["tie"] == "payload in statement").height >= errors.height // 2
    assert errors.height == len(want) > 0
    side = inv.detections.sqli_database_side
    assert side["sql_errors"].sum() == errors.height
