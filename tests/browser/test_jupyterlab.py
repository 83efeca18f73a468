"""The analyst's real client: every notebook run in JupyterLab in Chromium, offline.

For each notebook (in order, since later ones read the tables earlier ones saved): open it, run
all cells, and check that no cell raised, that every cell tagged ``chart`` shows a drawn chart
(an ``svg`` or ``canvas``), that every ``# NBVAL_CHECK_OUTPUT`` cell shows the committed answer,
and, for the cell tagged ``exposure-explorer``, that the widget rendered and moving its first
slider changes the counts shown. Nothing may be fetched from outside 127.0.0.1. Screenshots go to
``$FORENSICS_SCREENSHOTS`` (default ``reports/screenshots/``) for a human to look at.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest

from tests.browser.lab import CHROMIUM, CHROMIUM_FLAGS, ROOT, LabServer, browser_missing_reason
from tests.browser.lab import cell_outputs_text, run_all_cells

pytestmark = pytest.mark.browser

NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9]*.ipynb"))
SCREENSHOTS = Path(os.environ.get("FORENSICS_SCREENSHOTS", ROOT / "reports" / "screenshots"))


def _expected(name: str) -> list[tuple[int, set[str], str]]:
    """(cell index, tags, committed output text of NBVAL_CHECK_OUTPUT cells) per code cell."""
    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    rows = []
    for index, cell in enumerate(nb.cells):
        tags = set(cell.get("metadata", {}).get("tags", []))
        checked = ""
        if cell.cell_type == "code" and "NBVAL_CHECK_OUTPUT" in cell.source:
            parts = []
            for out in cell.get("outputs", []):
                if out.get("output_type") == "stream":
                    parts.append(out.get("text", ""))
                elif "data" in out and "text/plain" in out["data"]:
                    parts.append(out["data"]["text/plain"])
            checked = "".join(parts)
        rows.append((index, tags, checked))
    return rows


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    reason = browser_missing_reason()
    if reason:
        pytest.skip(reason)
    server = LabServer(tmp_path_factory.mktemp("lab")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_in_jupyterlab(lab, browser, name):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    outside = []
    page.on(
        "request",
        lambda r: outside.append(r.url)
        if not (r.url.startswith(lab.base) or r.url.startswith(("data:", "blob:", "about:")))
        else None,
    )
    try:
        page.goto(lab.notebook_url(name))
        run_all_cells(page)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        problems = []
        for index, tags, checked in _expected(name):
            cell = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell").nth(index)
            text = cell_outputs_text(page, index)
            if "Traceback (most recent call last)" in text or re.search(r"^\w+Error: ", text, re.M):
                problems.append(f"cell {index} raised: {text[:300]}")
            if "chart" in tags:
                if cell.locator(".jp-OutputArea-output svg, .jp-OutputArea-output canvas").count() == 0:
                    problems.append(f"cell {index} (chart) shows no drawn chart")
                else:  # the notebook panel scrolls inside the page: shoot each chart cell itself
                    cell.screenshot(path=str(SCREENSHOTS / f"{Path(name).stem}-cell{index:02d}-chart.png"))
            if checked and checked.strip() not in text:
                problems.append(f"cell {index} shows {text.strip()[:200]!r}, expected {checked.strip()[:200]!r}")
            if "exposure-explorer" in tags:
                problems += _exercise_explorer(page, cell, index)
        page.screenshot(path=str(SCREENSHOTS / f"{Path(name).stem}.png"), full_page=True)
        if outside:
            problems.append(f"fetched from outside 127.0.0.1: {sorted(set(outside))[:5]}")
        assert not problems, "\n".join(problems)
    finally:
        page.close()


def _exercise_explorer(page, cell, index: int) -> list[str]:
    """The explorer widget rendered, and moving its first slider changes the counts it shows."""
    sliders = cell.locator(".widget-slider .noUi-handle, .widget-slider input[type=range]")
    if sliders.count() == 0:
        return [f"cell {index} (exposure-explorer): no slider rendered"]
    counts = cell.locator(".forensics-counts")
    if counts.count() == 0:
        return [f"cell {index} (exposure-explorer): no counts shown (.forensics-counts)"]
    before = counts.first.inner_text()
    sliders.first.focus()
    for _ in range(40):
        page.keyboard.press("ArrowRight")
    page.wait_for_timeout(1500)
    after = counts.first.inner_text()
    cell.screenshot(path=str(SCREENSHOTS / "explorer-after-move.png"))
    if after == before:
        return [f"cell {index} (exposure-explorer): counts did not change when the slider moved"]
    return []
