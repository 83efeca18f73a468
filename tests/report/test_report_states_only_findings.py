"""The report states only what was found: run end to end on a real access log of a site that was
not attacked, and on a log whose every line the loader rejects (a gap, named with its file and
reason, that the conclusions depending on it cite); the rendered text of both
languages holds no ``None``, no dangling date (``—以降``), and no sentence of a phase that was not
found, and says for each phase that it was not found, with the reason."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from forensics import pipeline

pytestmark = pytest.mark.slow

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "access_logs" / "elastic_apache_logs_head.log"
CASE_YML = """id: {id}
timezone: UTC
site: {{profile: eccube2}}
evidence:
  access_logs: [logs/access_log]
"""
FOUND_SENTENCES = {
    "ja": ["SQL インジェクション攻撃が確認された", "攻撃者が管理画面へログインした", "バックドアが設置された",
           "カード情報入力フォームが改ざんされた", "攻撃元を遮断した"],
    "en": ["SQL injection against the shop is seen from", "the attacker logged into the admin panel",
           "a backdoor was installed", "the card-entry form was tampered with", "The attacker was blocked on"],
}
NOT_FOUND = {"ja": ["SQL インジェクション攻撃は確認されなかった", "管理画面へのログインは確認されなかった",
                    "バックドアの設置は確認されなかった", "遮断の日時は記録されていない"],
             "en": ["No SQL injection was found", "No attacker login to the admin panel was found",
                    "No backdoor installation was found", "No containment time is recorded"]}


def _case(tmp_path: Path, name: str, lines: list[str]) -> Path:
    root = tmp_path / name
    (root / "logs").mkdir(parents=True)
    (root / "logs" / "access_log").write_text("".join(ln + "\n" for ln in lines), encoding="utf-8")
    (root / "case.yml").write_text(CASE_YML.format(id=name), encoding="utf-8")
    return root / "case.yml"


def _texts(report: Path) -> dict[str, str]:
    page = report.read_text(encoding="utf-8")
    out = {}
    for lang in ("ja", "en"):
        m = re.search(rf'<div class="{lang}" lang="{lang}">(.*?)</div></main>' if lang == "en"
                      else rf'<div class="{lang}" lang="{lang}">(.*?)<div class="en"', page, re.S)
        assert m, lang
        out[lang] = html.unescape(re.sub(r"<[^>]+>", " ", re.sub(r"<svg.*?</svg>", "", m.group(1), flags=re.S)))
    return out


def _check(out: Path) -> dict[str, str]:
    texts = _texts(out / "report.html")
    for lang, text in texts.items():
        assert "None" not in text and "—以降" not in text and "nan" not in text.split(), lang
        for sentence in FOUND_SENTENCES[lang]:
            assert sentence not in text, (lang, sentence)
        for sentence in NOT_FOUND[lang]:
            assert sentence in text, (lang, sentence)
    for p in out.rglob("*"):
        if p.suffix in {".json", ".jsonl", ".html", ".csv"}:
            assert not re.search(r"\bNone\b", p.read_text(encoding="utf-8")), p
    return texts


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("not-found")
    real = FIXTURE.read_text(encoding="utf-8").splitlines()
    # an Apache error log given as the access log (a real mix-up): no line is an access-log record
    errors = [f"[Sun May 17 10:05:{i:02d}.{i:06d} 2015] [core:error] [pid {4000 + i}] [client 83.149.9.216:{50000 + i}] "
              f"AH00126: Invalid URI in request GET /x{i} HTTP/1.1" for i in range(12)]
    quiet = pipeline.run_case(_case(tmp, "quiet-site", real), tmp / "out-quiet", timeline="all")
    rejected = pipeline.run_case(_case(tmp, "all-rejected", errors), tmp / "out-rejected")
    return quiet, rejected


def test_a_site_without_attack_is_reported_as_such(runs):
    quiet, _ = runs
    texts = _check(quiet.out_dir)
    assert "確定できない" in texts["ja"] and "not established" in texts["en"]
    f = json.loads((quiet.out_dir / "findings.json").read_text(encoding="utf-8"))
    assert f["attacker_ips"] == [] and f["phases"]["sqli_first"] is None and f["phases_reason"]["sqli_first"]
    # nothing was found, yet every request is in the full timeline, in the case's zone
    events = [json.loads(ln) for ln in (quiet.out_dir / pipeline.FULL_TIMELINE).read_text().splitlines()]
    assert len(events) == 20 and {e["tags"][0] for e in events} == {"access_log"}
    assert sorted(e["line_no"] for e in events) == list(range(1, 21))
    assert all(e["datetime"].endswith("+00:00") and e["message"] for e in events)


def test_a_log_whose_every_line_is_rejected_is_reported_as_a_gap(runs):
    _, rejected = runs
    texts = _check(rejected.out_dir)
    f = json.loads((rejected.out_dir / "findings.json").read_text(encoding="utf-8"))
    ev = {e["path"]: e for e in f["evidence"]}
    assert ev["logs/access_log"]["records"] == 0 and ev["logs/access_log"]["rejected"] == 12
    gaps = {g["path"]: g for g in f["gaps"]}
    assert gaps["logs/access_log"]["evidence"] == "access_logs" and "12" in gaps["logs/access_log"]["reason"]
    assert "sqli_first" in gaps["logs/access_log"]["affects"]
    for lang in ("ja", "en"):
        assert "logs/access_log" in texts[lang]
    assert "logs/access_log" in f["phases_reason"]["sqli_first"]
