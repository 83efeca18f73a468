"""Acceptance: the detectors on the shipped sample case agree with truth.json and with
the reference incident, and nothing they return holds a full card number.

Uses ``sample_data/toshomart-2017`` when present, otherwise writes the sample with the
``forensics sample`` command into a temporary folder (the tests never import the generator).
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from forensics import cards, timeline

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "sample_data" / "toshomart-2017" / "case.yml"
JST = ZoneInfo("Asia/Tokyo")

#: The public notice of the reference incident, JST: phase -> the minute it happened (sqli_first: the day).
NOTICE_MINUTES = {
    "attacker_admin_login": datetime(2017, 3, 31, 23, 28, tzinfo=JST),
    "backdoor_installed": datetime(2017, 3, 31, 23, 31, tzinfo=JST),
    "card_form_tampered": datetime(2017, 4, 8, 21, 14, tzinfo=JST),
    "containment": datetime(2017, 4, 10, 13, 0, tzinfo=JST),
}


@pytest.fixture(scope="module")
def case_yml(tmp_path_factory) -> Path:
    if SHIPPED.exists() and (SHIPPED.parent / "truth.json").exists():
        return SHIPPED
    out = tmp_path_factory.mktemp("sample") / "toshomart-2017"
    proc = subprocess.run([sys.executable, "-m", "forensics.cli", "sample", str(out)], capture_output=True, text=True, cwd=REPO)
    if proc.returncode != 0:
        pytest.skip(f"sample case not available: {proc.stderr.strip()[:200]}")
    return out / "case.yml"


@pytest.fixture(scope="module")
def truth(case_yml) -> dict:
    return json.loads((case_yml.parent / "truth.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def detections(case_yml):
    from forensics import open_case
    from forensics.detectors.suite import detect_all

    return detect_all(open_case(case_yml))


def test_phases_match_truth_and_contract(detections, truth):
    for name, want in truth["phases"].items():
        got = detections.phases[name].ts
        assert got is not None, name
        assert abs(got - datetime.fromisoformat(want)) <= timedelta(seconds=60), (name, got, want)
    for name, minute in NOTICE_MINUTES.items():
        got = detections.phases[name].ts.astimezone(JST)
        assert minute <= got < minute + timedelta(seconds=60), (name, got)
    assert detections.phases["sqli_first"].ts.astimezone(JST).date().isoformat() == "2017-03-19"
    for name in ("sqli_first", "attacker_admin_login", "backdoor_installed", "card_form_tampered"):
        assert not detections.phases[name].evidence.is_empty(), name


def test_containment_checked_against_access_log(detections):
    extra = detections.phases["containment"].extra
    assert extra["containment_observed"] is not None
    assert extra["containment_agrees"] is True


def test_attackers_backdoor_tampered_skim(detections, truth):
    assert detections.attacker_ip_list == truth["attacker_ips"]
    assert detections.backdoor_paths == truth["backdoor_paths"]
    assert detections.tampered_files == truth["tampered_files"]
    assert detections.skim_files == truth["skim_files"]
    non_attackers = set(truth.get("non_attacker_admin_ips", []))
    assert not non_attackers & set(detections.attacker_ip_list)


def test_sqli_every_attack_and_nothing_else(detections, truth):
    want = {(r["source"], int(r["line_no"])) for r in truth["sqli"]["requests"]}
    got = set(detections.sqli.select("source", "line_no").iter_rows())
    assert not want - got, f"missed {len(want - got)}"
    assert not got - want, f"false positives {len(got - want)}"
    by_ip = dict(zip(detections.sqli_by_ip["ip"], detections.sqli_by_ip["requests"]))
    assert by_ip == truth["sqli"]["count_by_ip"]


def test_sqli_reached_member_table(detections):
    reach = detections.sqli_reach_summary.filter(pl.col("table") == "dtb_member")
    assert reach.height == 1
    assert {"login_id", "password"} <= set(reach["columns"][0])


def test_sample_statements_are_tied_to_their_requests_by_text(detections, truth):
    reach = detections.sqli_reach
    # every statement with injected SQL carries the text of one flagged request, in the same second
    assert reach.height > 0 and reach["client_ip"].is_not_null().all()
    assert reach["tie"].unique().to_list() == ["injected text found in the statement, same second"]
    assert set(reach["client_ip"]) <= set(truth["sqli"]["count_by_ip"])
    flagged = detections.sqli.select(pl.col("source").alias("req_source"), pl.col("line_no").alias("req_line_no"),
                                     "client_ip")
    assert reach.join(flagged, on=["req_source", "req_line_no", "client_ip"], how="anti").is_empty()
    # the admin accounts: one statement per request that read them
    member = reach.filter(pl.col("tables").list.contains("dtb_member"))
    assert member.height == member.select("req_source", "req_line_no").n_unique() == 14


def test_skim_records_match_confirmed_cards(detections, truth):
    want = sorted(c["card_masked"] for c in truth["cards"]["confirmed"])
    assert sorted(detections.skim_records["card_masked"].unique().to_list()) == want
    assert detections.skim_records.height == truth["cards"]["skim_records"]


def test_payment_failures_start_in_skimmer_window(detections):
    cp = detections.payment_change_point
    assert cp is not None
    assert detections.phases["card_form_tampered"].ts <= cp["ts"] <= detections.phases["containment"].ts


def test_timeline_tags_every_sqli_request(detections, truth):
    tl = detections.timeline
    tagged = set(tl.filter(pl.col("tags").list.contains("sqli")).select("source", "line_no").iter_rows())
    want = {(r["source"], int(r["line_no"])) for r in truth["sqli"]["requests"]}
    assert want <= tagged


def test_no_full_card_number_in_any_output(detections, tmp_path):
    text = []
    for name, value in vars(detections).items():
        if isinstance(value, pl.DataFrame):
            with pl.Config(tbl_rows=-1, tbl_cols=-1, fmt_str_lengths=10_000):
                text.append(repr(value.to_dicts()))
                text.append(str(value))
        else:
            text.append(repr(value))
    hits = cards.scan_text_for_card_data("\n".join(text))
    assert hits == []
    timeline.write_timeline_jsonl(detections.timeline, tmp_path / "timeline.jsonl", "Asia/Tokyo")
    timeline.write_timeline_csv(detections.timeline, tmp_path / "timeline.csv", "Asia/Tokyo")
    assert cards.scan_for_card_data(tmp_path) == []


def test_every_attacker_view_is_an_attacker_admin_request(detections, truth):
    req = detections.attacker_admin_requests
    got = {(ts.replace(microsecond=0), page) for ts, page in req.select("ts", "page").iter_rows()}
    for v in truth.get("attacker_views", []):
        at = datetime.fromisoformat(v["at"])
        assert any((at + timedelta(seconds=s), v["page"]) in got for s in (-1, 0, 1)), v
