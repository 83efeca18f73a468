"""report.html: self-contained, bilingual, escaped, no full card number, PPC items present."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from forensics.report import render_report, write_report

HERE = Path(__file__).parent
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
PPC_ITEMS = ["概要", "漏えい等が発生し、又は発生したおそれがある個人データの項目", "本人の数", "原因",
             "二次被害又はそのおそれの有無及びその内容", "本人への対応の実施状況", "公表の実施状況",
             "再発防止のための措置", "その他参考となる事項"]


@pytest.fixture
def findings():
    return json.loads((HERE / "findings_sample.json").read_text(encoding="utf-8"))


@pytest.fixture
def page(findings):
    svg = ('<svg xmlns="http://www.w3.org/2000/svg" width="100" height="20">'
           '<text x="0" y="15" font-family="IPAexGothic">東商マート</text></svg>')
    return render_report(findings, charts={"attack_timeline": svg}, generated=dt.date(2026, 11, 26))


def test_both_languages_and_wareki(page):
    assert 'lang="ja"' in page and 'lang="en"' in page
    assert "1. 概要" in page and "1. Summary" in page
    assert "平成29年4月10日 13時00分" in page  # containment in 和暦
    assert "2017-04-10 13:00:00 JST" in page
    assert "令和8年11月26日" in page


def test_all_ppc_items_and_todo_markers(page):
    for item in PPC_ITEMS:
        assert item in page, item
    assert "要記入 / to be completed by the analyst" in page


def test_counts_with_definitions(page):
    for n in ("55", "13"):
        assert f"<strong>{n}</strong>" in page
    assert "クエリログのSELECT" in page and "replaying" in page


def test_attacker_text_is_escaped(page):
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>" not in page


def test_no_full_card_number(page):
    assert "4111111111111111" not in page
    assert "411111******1111" in page


def test_offline_no_external_reference(page):
    assert not re.search(r"(?:src|href)\s*=\s*[\"']?(?:https?:)?//", page, re.I)
    assert "@import" not in page and "<link" not in page
    assert "<script" not in page.lower()
    assert "@font-face" in page  # Japanese glyphs embedded


def test_chart_svg_inlined(page):
    assert "<svg" in page


def test_unsafe_svg_refused(findings):
    with pytest.raises(ValueError, match="refusing"):
        render_report(findings, charts={"attack_timeline": '<svg><image href="https://example.com/a.png"/></svg>'})
    for markup in ('<svg><rect onclick="x()"/></svg>', "<svg><script>x()</script></svg>",
                   "<svg><foreignObject><p/></foreignObject></svg>"):
        with pytest.raises(ValueError, match="refusing"):
            render_report(findings, charts={"attack_timeline": markup})


def test_attacker_text_in_a_chart_label_is_shown_not_refused(findings):
    label = "198.18.0.1.onmouseover=1 src=http://x &lt;script&gt;"
    page = render_report(findings, charts={"attack_timeline": f'<svg><g><text x="1">{label}</text></g></svg>'})
    assert label in page and "<script>" not in page


def test_unknown_values_are_said_to_be_unknown(findings):
    findings["phases"]["card_form_tampered"] = None
    findings["counts"]["viewed_persons"] = None
    findings["counts"]["viewed_persons_upper"] = 70
    page = render_report(findings)
    assert "証拠から確定できず" in page and "not established from the evidence" in page
    assert "上限は 70 人" in page


def test_write_report_reads_the_chart_folder(findings, tmp_path):
    (tmp_path / "charts").mkdir()
    (tmp_path / "charts" / "exposure_counts.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"></svg>')
    path = write_report(findings, tmp_path)
    assert path == tmp_path / "report.html"
    assert "<svg" in path.read_text(encoding="utf-8")


def _non_white_pixels(png: bytes) -> int:
    """Count non-white pixels of an 8-bit RGB/RGBA PNG (what Chromium writes)."""
    pos, idat, width, height, ctype = 8, b"", 0, 0, 0
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        data = png[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, _depth, ctype = struct.unpack(">IIBB", data[:10])
        elif kind == b"IDAT":
            idat += data
        pos += 12 + length
    bpp = {2: 3, 6: 4}[ctype]
    raw, stride = zlib.decompress(idat), width * bpp
    prev, count = bytearray(stride), 0
    for y in range(height):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        count += sum(1 for x in range(0, stride, bpp) if line[x:x + 3] != b"\xff\xff\xff")
        prev = line
    return count


@pytest.mark.browser
def test_page_renders_in_headless_chromium(findings, tmp_path):
    if CHROMIUM is None:
        pytest.skip("chromium not installed (CI installs Debian's chromium in .ci/run)")
    path = write_report(findings, tmp_path / "out")
    shot = tmp_path / "shot.png"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
           f"--screenshot={shot}", "--window-size=1200,2000", path.resolve().as_uri()]
    subprocess.run(cmd, check=False, capture_output=True, timeout=120)
    if not shot.exists():
        pytest.skip("chromium could not take a screenshot here (sandbox/display restrictions)")
    assert _non_white_pixels(shot.read_bytes()) > 20_000


def test_null_values_show_the_reason(findings):
    findings["phases"]["card_form_tampered"] = None
    findings["phases_reason"] = {"card_form_tampered": "no server files in the case"}
    page = render_report(findings)
    assert "no server files in the case" in page


def test_confirmed_cards_are_listed_masked(findings):
    findings["cards"] = {"confirmed": [{"card": "411111******1111", "order_id": 7, "first_entered":
                                        "2017-04-09T11:21:04+09:00", "test": True}]}
    page = render_report(findings)
    assert "411111******1111" in page and "テスト" in page and "test" in page


def test_candidate_skim_files_not_read_are_named_with_the_reason(findings):
    findings["skim_files_not_decoded"] = [{"path": "html/user_data/x.gif", "status": "not_decoded",
                                           "reason": "not in the server copy"}]
    page = render_report(findings)
    assert page.count("html/user_data/x.gif") == 2 and page.count("not in the server copy") == 2  # ja and en


def test_untimed_query_log_statements_are_said_to_be_untimed(findings):
    findings["query_log_untimed_statements"] = 3
    page = render_report(findings)
    assert "3 件の文" in page and "3 query-log statements stand before the first time line" in page
    findings["query_log_untimed_statements"] = 0
    assert "query-log statements stand before" not in render_report(findings)
