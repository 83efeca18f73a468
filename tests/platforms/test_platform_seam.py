"""A platform is one value plus its app-log reader: a made-up shop ("testshop", other routes,
tables, card form and log layout) gets the same answers on the same incident recorded its way."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from forensics.case import open_case
from forensics.findings import findings_dict, investigate
from forensics.loaders import registry
from forensics.platforms import PLATFORMS
from tests.platforms.testshop import TESTSHOP, read_testshop_logs, write_testshop_case

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "toshomart-2017"


@pytest.fixture(scope="module")
def testshop_findings(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setitem(PLATFORMS, TESTSHOP.name, TESTSHOP)
    mp.setitem(registry.APP_LOG_READERS, TESTSHOP.app_log_format, read_testshop_logs)
    try:
        case_yml = write_testshop_case(SAMPLE, tmp_path_factory.mktemp("testshop"))
        case = open_case(case_yml, table_cache=None)
        assert case.platform is TESTSHOP and case.admin_dir == "/backoffice/"
        yield case, findings_dict(investigate(case))
    finally:
        mp.undo()


def test_the_case_speaks_testshop(testshop_findings):
    case, _f = testshop_findings
    text = "".join((gzip.open(p, "rt", errors="replace") if p.suffix == ".gz" else open(p, errors="replace")).read()
                   for p in case.evidence["access_logs"])
    assert "/admin/" not in text
    assert "/backoffice/members/list.php" in text and "/checkout/card.php" in text
    assert not any("dtb_" in p.name for p in case.evidence["db"])
    assert case.app_log().collect().height > 0


def test_testshop_answers_equal_the_truth(testshop_findings):
    _case, f = testshop_findings
    truth = json.loads((SAMPLE / "truth.json").read_text(encoding="utf-8"))
    for key in ("viewed_persons", "cards_confirmed_customer", "cards_confirmed_test", "cards_possible_customer",
                "cards_possible_test", "cards_total"):
        assert f["counts"][key] == truth["counts"][key], key
    assert sorted(f["attacker_ips"]) == sorted(truth["attacker_ips"])
    assert f["backdoor_paths"] == truth["backdoor_paths"]
    for phase in ("sqli_first", "attacker_admin_login", "backdoor_installed", "card_form_tampered"):
        assert f["phases"][phase] == truth["phases"][phase], phase
    # the injection that read the admin accounts (its own table name) before the login
    cause = f["phases_cause"]["attacker_admin_login"]
    assert cause["table"] == "shop_member" and cause["proof"] == "query log" and "password" in cause["columns"]
