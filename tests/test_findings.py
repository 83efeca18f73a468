"""findings.json (the findings format): format on a hand-built investigation, and the whole
analysis on the sample case against its truth.json."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import polars as pl
import pytest

from forensics.detectors.phases import Phase
from forensics.exposure.cards import TestMarkers, card_entries, confirmed_cards, possible_cards
from forensics.exposure.counts import count_evidence, exposure_counts
from forensics.exposure.windows import exposure_windows
from forensics.findings import PHASE_NAMES, Investigation, findings_dict
from forensics.schemas import ATTACKER_IPS
from tests.exposure.world import jst, orders

REPO = Path(__file__).resolve().parents[1]


def small_investigation() -> Investigation:
    ph = {n: Phase(n, None, f"no {n}") for n in PHASE_NAMES}
    ph["sqli_first"] = Phase("sqli_first", jst("2017-03-19 03:00:00"), "first SQLi")
    ph["containment"] = Phase("containment", jst("2017-04-10 13:00:00"), "facts.containment")
    ph["backdoor_installed"] = Phase("backdoor_installed", jst("2017-03-31 23:31:05"), "upload",
                                     pl.DataFrame({"ts": [jst("2017-03-31 23:31:05")], "source": ["logs/eccube/admin.log"],
                                                   "line_no": [12], "note": ["upload"]},
                                                  schema={"ts": pl.Datetime("us", "UTC"), "source": pl.String,
                                                          "line_no": pl.Int64, "note": pl.String}))
    w = exposure_windows({k: p.ts for k, p in ph.items()})
    o = orders([{"order_id": 1, "customer_id": 3, "payment_id": 2, "create_date": "2017-04-02 00:00:00"}])
    e = card_entries(o, [2], TestMarkers.of())
    c = confirmed_cards(pl.DataFrame(), e, TestMarkers.of())
    p = possible_cards(e, c, w["backdoor"])
    counts = exposure_counts(None, c, p)
    ips = pl.DataFrame({"ip": ["203.0.113.9", "192.0.2.1"], "reasons": [["sqli"], ["sqli"]],
                        "first_seen": [jst("2017-03-19 03:00:00")] * 2, "last_seen": [jst("2017-04-10 12:00:00")] * 2},
                       schema=ATTACKER_IPS)
    empty = pl.DataFrame()
    det = SimpleNamespace(
        phases=ph, attacker_ips=ips, backdoors=pl.DataFrame({"url_path": ["/user_data/z.php", "/user_data/a.php"]}),
        tampered=pl.DataFrame({"path": ["b.tpl.php", "a.tpl.php"], "tampered": [True, None]}),
        skim_candidates=pl.DataFrame({"path": ["html/x.gif"]}),
        skim_records=pl.DataFrame({"skim_file": []}, schema={"skim_file": pl.String}),
        gaps=[{"evidence": "query_logs", "path": None, "reason": "no database query log in the case",
               "affects": ["viewed_persons", "sqli_reach"]}])
    return Investigation(
        case=SimpleNamespace(id="t-1", title="t", timezone="Asia/Tokyo"),
        evidence=pl.DataFrame({"path": ["logs/b", "logs/a"], "kind": ["x", "x"], "sha256": ["b" * 64, "a" * 64],
                               "size": [1, 2], "records": [3, 4], "rejected": [0, 1]}),
        rejects=empty, detections=det, windows=w, viewed=None, payment_methods=pl.DataFrame(
            {"payment_id": [2, 3], "payment_method": ["クレジット", "決済"], "kind": ["card", "undetermined"],
             "reason": ["name クレジット (card)", "neither the name nor the payment module's file says what it is"]}),
        card_entries=e, cards_confirmed=c, cards_possible=p, counts=counts,
        count_table=count_evidence(counts, None, c, p, w), affected=empty,
        notes={"viewed_persons": "no attacker admin requests found"},
    )


def test_findings_dict_format():
    f = findings_dict(small_investigation())
    assert f["case"] == "t-1" and f["timezone"] == "Asia/Tokyo"
    assert f["phases"]["sqli_first"] == "2017-03-19T03:00:00+09:00"
    assert f["phases"]["card_form_tampered"] is None and f["phases_reason"]["card_form_tampered"]
    assert f["phase_evidence"]["backdoor_installed"][0]["line_no"] == 12
    assert f["attacker_ips"] == ["192.0.2.1", "203.0.113.9"]
    assert f["backdoor_paths"] == ["/user_data/a.php", "/user_data/z.php"]
    assert f["tampered_files"] == ["b.tpl.php"]
    assert f["windows"]["backdoor"] == ["2017-03-31T23:31:05+09:00", "2017-04-10T13:00:00+09:00"]
    assert f["windows"]["skimmer"] is None and "card_form_tampered" in f["windows_reason"]["skimmer"]
    assert f["counts"]["viewed_persons"] is None and f["counts_reason"]["viewed_persons"]
    assert f["counts"]["cards_possible_customer"] == 1 and f["counts"]["cards_total"] == 1
    assert [e["path"] for e in f["evidence"]] == ["logs/a", "logs/b"]
    assert f["cards"]["payment_methods"] == [2]
    assert [m["payment_id"] for m in f["cards"]["payment_methods_undetermined"]] == [3]
    assert f["query_log_untimed_statements"] == 0
    assert f["gaps"] == [{"evidence": "query_logs", "path": None, "reason": "no database query log in the case",
                          "affects": ["viewed_persons", "sqli_reach"]}]
    assert set(f["evidence"][0]) == {"path", "sha256", "records", "rejected"}
    json.dumps(f)  # serialisable as it is


# ---------------------------------------------------------------------------------------------
# the sample case, end to end


@pytest.fixture(scope="module")
def sample_case(tmp_path_factory):
    shipped = REPO / "sample_data" / "toshomart-2017" / "case.yml"
    if shipped.is_file():
        return shipped
    out = tmp_path_factory.mktemp("sample") / "toshomart-2017"
    r = subprocess.run([sys.executable, "-m", "forensics.cli", "sample", str(out)], capture_output=True, text=True,
                       cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    if r.returncode != 0:
        pytest.skip(f"sample generator not available: {r.stderr.strip().splitlines()[-1:] }")
    return out / "case.yml"


@pytest.fixture(scope="module")
def sample(sample_case):
    case_mod = pytest.importorskip("forensics.case")
    from forensics.findings import investigate

    case = case_mod.open_case(sample_case)
    inv = investigate(case)
    truth = json.loads((Path(sample_case).parent / "truth.json").read_text(encoding="utf-8"))
    return inv, findings_dict(inv), truth


def _t(s):
    return datetime.fromisoformat(s) if s else None


def test_sample_phases_within_a_minute(sample):
    _, f, truth = sample
    for name, want in truth["phases"].items():
        got = f["phases"].get(name)
        assert got is not None, f"{name}: {f['phases_reason'].get(name)}"
        assert abs(_t(got) - _t(want)) <= timedelta(seconds=60), name


def test_sample_ips_paths_windows(sample):
    _, f, truth = sample
    for key in ("attacker_ips", "backdoor_paths", "tampered_files", "skim_files"):
        if key in truth:
            assert f[key] == sorted(truth[key]), key
    for name, want in truth.get("windows", {}).items():
        got = f["windows"][name]
        assert got is not None, name
        for a, b in zip(got, want):
            assert abs(_t(a) - _t(b)) <= timedelta(seconds=60), name


def test_sample_counts(sample):
    _, f, truth = sample
    want = truth["counts"]
    got = {k: f["counts"].get(k) for k in want}
    assert got == want
    assert (want["viewed_persons"], want["cards_confirmed_customer"], want["cards_confirmed_test"],
            want["cards_possible_customer"], want["cards_total"]) == (55, 2, 3, 8, 13)


def test_sample_persons_and_cards(sample):
    inv, f, truth = sample
    got = set(inv.viewed.persons.filter(~pl.col("ambiguous_only"))["person_key"].to_list())
    want = ({f"customer:{c}" for c in truth["viewed_persons"]["customer_ids"]}
            | {f"guest:{e}" for e in truth["viewed_persons"]["guest_emails"]})
    assert got == want
    assert f["viewed"]["mode"] == "replay" and f["viewed"]["not_replayed"] == []
    conf = {r["order_id"]: r["is_test"] for r in inv.cards_confirmed.iter_rows(named=True)}
    assert conf == {c["order_id"]: c["test"] for c in truth["cards"]["confirmed"]}
    poss = {k.replace("customer:", "c:").replace("guest:", "g:") for k in inv.cards_possible["person_key"].to_list()}
    assert poss == set(truth["cards"]["possible_customer_persons"]) | set(truth["cards"]["possible_test_persons"])


def test_sample_no_full_card_number_in_findings(sample):
    from forensics.cards import scan_text_for_card_data

    _, f, _ = sample
    assert not scan_text_for_card_data(json.dumps(f, ensure_ascii=False))


def test_sample_whatif_is_fast_and_consistent(sample):
    import time

    from forensics.exposure.whatif import whatif

    inv, f, _ = sample
    base = whatif(inv)
    assert {k: base[k] for k in base if k in f["counts"]} == {k: f["counts"][k] for k in base if k in f["counts"]}
    b = inv.windows["backdoor"]
    t0 = time.perf_counter()
    r = whatif(inv, backdoor_start=b.start + timedelta(days=2))
    assert time.perf_counter() - t0 < 0.2
    assert r["cards_possible_customer"] <= base["cards_possible_customer"]


def test_candidate_skim_files_that_were_not_read_are_listed():
    from forensics.detectors.skim import SKIM_FILE_SCHEMA

    inv = small_investigation()
    inv.detections.skim_files_status = pl.DataFrame(
        [("html/a.gif", "decoded", "base64", 2, 5, None),
         ("html/b.gif", "not_decoded", None, 0, 0, "not in the server copy"),
         ("html/c.gif", "no_card_data", None, 0, 40, "no card number in any of 40 decodings")],
        schema=SKIM_FILE_SCHEMA, orient="row")
    f = findings_dict(inv)
    assert [(s["path"], s["status"]) for s in f["skim_files_not_decoded"]] == [
        ("html/b.gif", "not_decoded"), ("html/c.gif", "no_card_data")]
    assert "not in the server copy" in f["skim_files_not_decoded"][0]["reason"]


def test_untimed_query_log_statements_are_counted():
    from forensics.findings import _untimed_statements

    q = pl.LazyFrame({"ts": [None, jst("2017-04-01 10:00:00")]}, schema={"ts": pl.Datetime("us", "UTC")})
    case = SimpleNamespace(available={"query_logs"}, query_log=lambda: q)
    assert _untimed_statements(case) == 1
    assert _untimed_statements(SimpleNamespace(available=set())) == 0
