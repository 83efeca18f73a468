"""``forensics run`` on the hostile case (and the sample case): inert, masked, contained, repeatable.

The runs happen once per session (``runs`` fixture in conftest.py). What is checked:

- the hostile case completes (exit 0: it holds every evidence type), the printed lines hold no
  ESC or other control character;
- report.html: no ``<script>`` or ``javascript:`` from evidence outside the page's own markup
  (the hostile strings appear only escaped), no raw control character;
- notebooks: the hostile strings never appear unescaped in HTML outputs;
- the CSV export neutralises cells starting with ``= + - @``;
- the file outside the case (reached by symlinks from server/) is never read: its text is in no
  output and it is not hashed through the link;
- the decompression bomb is a reject with its reason, not a failure;
- no output of either case holds a full card number (pipeline.card_data_in_outputs);
- two runs give the same findings, tables, timeline and manifest hashes; notebooks differ only in
  execution metadata; the case folders are untouched.
"""

from __future__ import annotations

import csv
import html
import json
import re
from pathlib import Path

import nbformat
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from forensics.pipeline import card_data_in_outputs
from forensics.timeline import write_timeline_csv
from tests.hardening.conftest import output_files, snapshot
from tests.hardening.hostile_case import AT_FORMULA, FORMULA, IMG_XSS, JS_URL, OUTSIDE_TEXT, PAN_FORMS, SCRIPT

pytestmark = pytest.mark.slow

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def test_hostile_case_completes_with_clean_terminal_output(runs):
    r = runs.hostile_a
    assert r.code == 0, r.stderr
    assert r.stdout.strip() and "report:" in r.stdout
    for line in (r.stdout + r.stderr).splitlines():
        assert not CONTROL.search(line), repr(line)


def test_report_shows_hostile_strings_only_escaped(runs):
    page = (runs.hostile_a.out / "report.html").read_text(encoding="utf-8")
    assert SCRIPT not in page and IMG_XSS not in page
    # every <script> element of the page is the page's own: none carries evidence text
    for m in re.finditer(r"<script\b[^>]*>(.*?)</script>", page, flags=re.S | re.I):
        assert "alert" not in m[1] and "pwn" not in m[1]
    assert not re.search(r"""(?:href|src|action)\s*=\s*["']?\s*javascript:""", page, flags=re.I)
    assert f'href="{JS_URL}' not in page and f"href='{JS_URL}" not in page
    assert not re.search(r"<img\b[^>]*onerror", page, flags=re.I)
    assert not CONTROL.search(page)
    # the attacker's strings are there, escaped (the analyst must see them)
    assert html.escape(SCRIPT, quote=True) in page or html.escape(SCRIPT, quote=False) in page


def _html_outputs(nb_path: Path):
    nb = nbformat.read(nb_path, as_version=4)
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            for mime, data in (o.get("data") or {}).items():
                text = data if isinstance(data, str) else "".join(data) if isinstance(data, list) else ""
                yield mime, text
            if isinstance(o.get("text"), str):
                yield "stream", o["text"]


def test_notebooks_show_hostile_strings_only_escaped(runs):
    books = sorted((runs.hostile_a.out / "notebooks").glob("*.ipynb"))
    assert len(books) >= 6
    for nb in books:
        for mime, text in _html_outputs(nb):
            if mime in ("text/html", "image/svg+xml"):
                assert SCRIPT not in text and IMG_XSS not in text, (nb.name, mime)
                assert not re.search(r"""(?:href|src)\s*=\s*["']?\s*javascript:""", text, flags=re.I), nb.name
            assert "\x1b" not in text, (nb.name, mime)


def test_csv_export_neutralises_formulas(runs, tmp_path):
    """The hostile run's timeline, plus rows whose message and source start with a formula."""
    frame = pl.read_parquet(runs.hostile_a.out / "tables" / "inv_timeline.parquet")
    assert frame.height
    planted = [FORMULA, AT_FORMULA, "+1+1", "-2+3", "\tx", "\r=1"]
    extra = pl.concat([frame.head(1).with_columns(message=pl.lit(m), source=pl.lit(m)) for m in planted])
    path = write_timeline_csv(pl.concat([frame, extra]), tmp_path / "timeline.csv", "Asia/Tokyo")
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert len(rows) == frame.height + len(planted) + 1
    for row in rows[1:]:
        for cell in row:
            assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r"), row
    cells = {cell for row in rows for cell in row}
    assert {"'" + FORMULA, "'" + AT_FORMULA} <= cells


def test_outside_file_is_never_read(runs):
    outside = runs.hostile.outside_secret
    for out in (runs.hostile_a.out, runs.hostile_b.out):
        for p in output_files(out):
            assert OUTSIDE_TEXT.encode() not in p.read_bytes(), p
    manifest = json.loads((runs.hostile_a.out / "manifest.json").read_text(encoding="utf-8"))
    import hashlib

    digest = hashlib.sha256(outside.read_bytes()).hexdigest()
    links = [f for f in manifest["files"] if f.get("symlink")]
    assert {Path(f["path"]).name for f in links} >= {"escape.txt", "escape.gif", "linkdir"}
    assert all(f["sha256"] is None for f in links)
    assert all(f["sha256"] != digest for f in manifest["files"])
    assert not any("secret.php" in f["path"] for f in manifest["files"])  # never walked into linkdir/


def test_bomb_is_a_reject_not_a_failure(runs):
    manifest = json.loads((runs.hostile_a.out / "manifest.json").read_text(encoding="utf-8"))
    bomb = next(f for f in manifest["files"] if f["path"].endswith(runs.hostile.bomb_path.name))
    assert bomb["records"] == 0 and bomb["rejected"] >= 1
    rejects = pl.read_parquet(runs.hostile_a.out / "tables" / "rejects.parquet") if (
        runs.hostile_a.out / "tables" / "rejects.parquet").is_file() else None
    if rejects is not None:
        reasons = rejects.filter(pl.col("source").str.ends_with(runs.hostile.bomb_path.name))["reason"].to_list()
        assert any("decompression bomb" in r for r in reasons), reasons
    findings = json.loads((runs.hostile_a.out / "findings.json").read_text(encoding="utf-8"))
    ev = {e["path"]: e for e in findings["evidence"]}
    assert ev[f"logs/httpd/{runs.hostile.bomb_path.name}"]["rejected"] >= 1


def test_every_hostile_line_is_accounted_for(runs):
    findings = json.loads((runs.hostile_a.out / "findings.json").read_text(encoding="utf-8"))
    ev = {e["path"]: e for e in findings["evidence"]}
    access = ev["logs/httpd/access_log"]
    lines = (runs.hostile.root / "logs/httpd/access_log").read_bytes().count(b"\n")
    assert access["records"] + access["rejected"] == lines
    body = ev["fs/bodyfile.txt"]
    assert body["records"] + body["rejected"] == (runs.hostile.root / "fs/bodyfile.txt").read_bytes().count(b"\n")


@pytest.mark.parametrize("which", ["sample", "hostile_a"])
def test_no_card_number_in_any_output(runs, which):
    run = getattr(runs, which)
    assert run.code == 0, run.stderr
    hits = card_data_in_outputs(run.out)
    assert not hits, [(h.path, h.line_no, h.kind, h.masked) for h in hits[:10]]
    for p in output_files(run.out):
        data = p.read_bytes()
        for form in PAN_FORMS:
            assert form.encode() not in data, (p, form)  # the planted number, whatever the format
    if which == "hostile_a":  # the traps were there and reached the outputs masked
        pan = PAN_FORMS[0]
        masked = pan[:6] + "*" * (len(pan) - 10) + pan[-4:]
        assert masked in (run.out / "timeline.jsonl").read_text(encoding="utf-8")
        findings = (run.out / "findings.json").read_text(encoding="utf-8")
        assert f"/user_data/x{masked}.php" in findings  # the backdoor named with a card number


def test_sample_case_gives_the_published_answer(runs):
    assert runs.sample.code == 0, runs.sample.stderr
    counts = json.loads((runs.sample.out / "findings.json").read_text(encoding="utf-8"))["counts"]
    truth = json.loads((runs.sample_root / "truth.json").read_text(encoding="utf-8"))
    assert counts["viewed_persons"] == 55
    assert counts["cards_total"] == 13
    assert truth  # the copy is the sample case


# --- nothing changes under the case; the same answer twice ----------------------------------

def test_case_folders_untouched(runs):
    assert snapshot(runs.hostile.root) == runs.hostile_before
    assert snapshot(runs.sample_root) == runs.sample_before


def _strip_volatile(manifest: dict) -> dict:
    return {k: v for k, v in manifest.items() if k not in ("created",)}


def test_two_runs_same_findings_timeline_manifest(runs):
    a, b = runs.hostile_a.out, runs.hostile_b.out
    assert runs.hostile_b.code == 0, runs.hostile_b.stderr
    assert (a / "findings.json").read_bytes() == (b / "findings.json").read_bytes()
    assert (a / "timeline.jsonl").read_bytes() == (b / "timeline.jsonl").read_bytes()
    assert (a / "report.html").read_bytes() == (b / "report.html").read_bytes()
    charts = sorted(p.name for p in (a / "charts").iterdir())
    assert charts and charts == sorted(p.name for p in (b / "charts").iterdir())
    for name in charts:
        assert (a / "charts" / name).read_bytes() == (b / "charts" / name).read_bytes(), name
    ma = json.loads((a / "manifest.json").read_text(encoding="utf-8"))
    mb = json.loads((b / "manifest.json").read_text(encoding="utf-8"))
    assert _strip_volatile(ma) == _strip_volatile(mb)
    # evidence hashes taken before the run still hold after it
    import hashlib

    for f in ma["files"]:
        p = runs.hostile.root / f["path"] if "\\x" not in f["path"] else None
        if p is not None and f["sha256"] and p.is_file() and not p.is_symlink():
            assert hashlib.sha256(p.read_bytes()).hexdigest() == f["sha256"], f["path"]


#: Columns that hold a keyed hash under the per-process key (cards.run_key): equal within one
#: kernel, different between runs by design (they must mean nothing outside the run).
RUN_KEYED = re.compile(r"(^|_)(card_key|key)$")


def test_two_runs_same_tables(runs):
    a, b = runs.hostile_a.out / "tables", runs.hostile_b.out / "tables"
    names_a = sorted(p.name for p in a.glob("*.parquet"))
    assert names_a == sorted(p.name for p in b.glob("*.parquet")) and names_a
    for name in names_a:
        fa, fb = pl.read_parquet(a / name), pl.read_parquet(b / name)
        keyed = [c for c in fa.columns if RUN_KEYED.search(c)]
        try:
            assert_frame_equal(fa.drop(keyed), fb.drop(keyed), check_exact=True)
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from None


def _notebook_content(path: Path) -> list:
    nb = nbformat.read(path, as_version=4)
    cells = []
    for c in nb.cells:
        outs = []
        for o in c.get("outputs", []):
            o = dict(o)
            o.pop("execution_count", None)
            o.pop("metadata", None)
            outs.append(o)
        cells.append((c.cell_type, c.source, outs))
    return cells


def _paths_neutral(value, a: Path, b: Path):
    """Outputs as text with the output folder and ipywidgets' per-run model ids (random UUIDs,
    execution metadata like the timestamps) neutralised."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    text = re.sub(r'"model_id": "[0-9a-f]{32}"', '"model_id": "ID"', text)
    return text.replace(str(a), "OUT").replace(str(b), "OUT")


def test_two_runs_notebooks_differ_only_in_execution_metadata(runs):
    a, b = runs.hostile_a.out, runs.hostile_b.out
    for nb in sorted((a / "notebooks").glob("*.ipynb")):
        ca, cb = _notebook_content(nb), _notebook_content(b / "notebooks" / nb.name)
        assert _paths_neutral(ca, a, b) == _paths_neutral(cb, a, b), nb.name
