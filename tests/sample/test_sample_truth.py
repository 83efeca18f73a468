"""truth.json: the reference numbers, derived from the simulation (not typed in), and visible in
the evidence where an analyst would look for them."""

from __future__ import annotations

import base64
import gzip
import json
import re
from pathlib import Path

import pytest

import forensics.sample.story as story_mod
from forensics.sample import simulate
from forensics.sample.truth import (CardEntry, Markers, SkimRecord, View, card_counts, counts_dict,
                                    viewed_persons)

MARKERS = Markers(customer_ids=(1,), emails=("*@toyoshoji.example",), card_numbers=("4111111111111111",))


@pytest.fixture(scope="module")
def truth(generated_case):
    return json.loads((generated_case / "truth.json").read_text(encoding="utf-8"))


def _text(path: Path) -> str:
    raw = path.read_bytes()
    return (gzip.decompress(raw) if path.suffix == ".gz" else raw).decode("utf-8", "surrogateescape")


def test_counts_are_the_notice(truth):
    assert truth["counts"] == {"viewed_persons": 55, "cards_confirmed_customer": 2, "cards_confirmed_test": 3,
                               "cards_possible_customer": 8, "cards_possible_test": 0, "cards_total": 13}
    assert len(truth["viewed_persons"]["customer_ids"]) + len(truth["viewed_persons"]["guest_emails"]) == 55


def test_phases_windows_and_ips(truth):
    p = truth["phases"]
    assert p["sqli_first"].startswith("2017-03-19T")
    assert p["attacker_admin_login"].startswith("2017-03-31T23:28:")
    assert p["backdoor_installed"].startswith("2017-03-31T23:31:")
    assert p["card_form_tampered"].startswith("2017-04-08T21:14:")
    assert p["containment"] == "2017-04-10T13:00:00+09:00"
    assert all(v.endswith("+09:00") for v in p.values())
    w = truth["windows"]
    assert w["backdoor"] == [p["backdoor_installed"], p["containment"]]
    assert w["skimmer"] == [p["card_form_tampered"], p["containment"]]
    assert w["admin_access"][0] == p["attacker_admin_login"]
    assert "2017-04-01" <= w["admin_access"][1][:10] <= "2017-04-10" and w["admin_access"][1] < p["containment"]
    ips = truth["attacker_ips"]
    assert ips == sorted(ips) and len(ips) >= 4 and any(":" in ip for ip in ips)
    assert "198.51.100.10" not in ips and "203.0.113.45" not in ips
    assert len(truth["backdoor_only_ips"]) == 1 and truth["backdoor_only_ips"][0] not in truth["sqli"]["count_by_ip"]
    assert len(truth["sqli"]["count_by_ip"]) >= 3


def test_sqli_locations_point_at_attack_lines(generated_case, truth):
    cache: dict[str, list[str]] = {}
    for r in truth["sqli"]["requests"]:
        if r["source"] not in cache:
            cache[r["source"]] = _text(generated_case / r["source"]).split("\n")
        lines = cache[r["source"]]
        line = lines[r["line_no"] - 1]
        assert line.startswith(r["ip"] + " ") and "/products/list.php?category_id=" in line
    assert truth["sqli"]["total"] == len(truth["sqli"]["requests"]) > 1000


def test_evidence_shows_the_phases(generated_case, truth):
    admin = "".join(_text(p) for p in sorted((generated_case / "logs/eccube").glob("admin.log*")))
    login = truth["phases"]["attacker_admin_login"]
    stamp = login[:10].replace("-", "/") + " " + login[11:19]
    assert re.search(re.escape(stamp) + r" \[/admin/index\.php\] login: user=admin\(1\) .* from 192\.0\.2\.146", admin)
    assert "] bloc_b.php -> /var/www/eccube/html/user_data/include/bloc_b.php from 192.0.2.146" in admin
    body = (generated_case / "fs/bodyfile.txt").read_text()
    tampered = truth["tampered_files"][0]
    row = next(l for l in body.splitlines() if l.split("|")[1:2] == [f"/var/www/eccube/{tampered}"])
    from datetime import datetime
    mtime = int(row.split("|")[8])
    assert datetime.fromtimestamp(mtime).astimezone().isoformat() is not None
    assert mtime == int(datetime.fromisoformat(truth["phases"]["card_form_tampered"]).timestamp())
    access = _text(generated_case / "logs/httpd/access_log")
    after = [l for l in access.splitlines() if l.split(" ")[0] in truth["attacker_ips"]]
    assert after and all('" 403 ' in l for l in after)


def test_skim_file_decodes_to_the_confirmed_cards(generated_case, truth):
    raw = (generated_case / "server" / truth["skim_files"][0]).read_bytes()
    recs = [bytes(b ^ 0x5A for b in base64.b64decode(x)).decode().split("\t") for x in raw.decode().split()]
    numbers = {r[1] for r in recs}
    assert len(recs) == 6 and len(numbers) == 5
    assert "4111111111111111" in numbers
    masks = {n[:6] + "******" + n[-4:] for n in numbers}
    assert masks == {c["card_masked"] for c in truth["cards"]["confirmed"]}
    assert "4111111111111111" not in json.dumps(truth)


def test_query_log_holds_each_attacker_page(generated_case, truth):
    text = "".join(_text(p) for p in sorted((generated_case / "logs/mysql").glob("general.log*")))
    for v in truth["attacker_views"]:
        assert f"SELECT sess_data FROM dtb_session WHERE sess_id = '{v['sid']}'" in text


# ---- the numbers come from the simulation --------------------------------------------------------
def test_counting_functions_on_a_hand_built_state():
    views = [View(10, "a", "s1", "customer_list", ("c:1", "c:2", "c:3"), True),
             View(11, "a", "s1", "order_list", ("c:2", "g:x@example.jp"), True),
             View(12, "staff", "s2", "customer_list", ("c:9",), False)]
    assert viewed_persons(views) == {"c:1", "c:2", "c:3", "g:x@example.jp"}
    entries = [CardEntry(1, 50, 5, "a@example.jp"), CardEntry(2, 150, 5, "a@example.jp"),
               CardEntry(3, 160, 6, "b@example.jp"), CardEntry(4, 170, 0, "t@toyoshoji.example"),
               CardEntry(5, 180, 1, "test@toyoshoji.example"), CardEntry(6, 190, 7, "c@example.jp"),
               CardEntry(7, 400, 8, "d@example.jp")]
    skims = [SkimRecord(191, "4999999999999999", 6), SkimRecord(192, "4999999999999999", 6),
             SkimRecord(181, "4111111111111111", 5)]
    c = card_counts(entries, skims, MARKERS, (100, 300))
    assert c.confirmed_customer == {"4999999999999999"} and c.confirmed_test == {"4111111111111111"}
    assert c.possible_customer == {"c:5", "c:6"} and c.possible_test == {"g:t@toyoshoji.example"}
    assert counts_dict(viewed_persons(views), c)["cards_total"] == 5


def test_viewed_count_follows_the_attack_script(monkeypatch):
    """Change how far the attacker browses and the count follows: it is computed, not typed in."""
    monkeypatch.setattr(story_mod, "TARGET_VIEWED", 48)
    sim, story = simulate()
    assert len(viewed_persons(sim.views)) == 48
    assert viewed_persons(sim.views) == story.viewed


@pytest.mark.parametrize("scale", [2, 3])
def test_counts_hold_at_other_scales(scale):
    sim, story = simulate(scale=scale)
    assert len(viewed_persons(sim.views)) == 55
    cards = card_counts(sim.card_entries, story.skims, MARKERS, (story.backdoor_t, story_mod.W.CONTAINMENT))
    assert (len(cards.confirmed_customer), len(cards.confirmed_test), len(cards.possible_customer),
            len(cards.possible_test)) == (2, 3, 8, 0)
