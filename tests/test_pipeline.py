"""run_case: manifest before analysis, papermill over the series, one-line failures, outputs checked."""

from __future__ import annotations

import json
import re
import os
import sys
import types
from pathlib import Path

import nbformat
import pytest

from forensics import pipeline
from forensics.workspace import Workspace, resolve_path

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_data" / "toshomart-2017" / "case.yml"


class FakeCase:
    def __init__(self, root: Path):
        self.id = "fake-case"
        self.root = root
        self.timezone = "UTC"
        self.evidence = {"access_logs": [root / "logs" / "access_log"], "server_files": [root / "server"]}

    def input_files(self) -> list[Path]:
        return sorted([self.root / "logs" / "access_log", *(self.root / "server").rglob("*.php")])

    def outside_case(self, path: Path) -> bool:
        return False

    def count_records(self):
        import polars as pl

        return pl.DataFrame(schema={"source": pl.String, "records": pl.Int64, "rejected": pl.Int64,
                                    "rows": pl.Int64, "evidence": pl.String})


@pytest.fixture
def fake_case(tmp_path, monkeypatch):
    root = tmp_path / "case"
    (root / "logs").mkdir(parents=True)
    (root / "server" / "html").mkdir(parents=True)
    (root / "logs" / "access_log").write_text("line\n")
    (root / "server" / "html" / "index.php").write_text("<?php\n")
    (root / "case.yml").write_text("id: fake-case\n")
    module = types.ModuleType("forensics.case")
    module.open_case = lambda path, **options: FakeCase(Path(path).parent)
    monkeypatch.setitem(sys.modules, "forensics.case", module)
    return root


def _notebook(path: Path, *cells: str) -> None:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('case_path: str = ""  # case.yml\nout_dir: str = ""  # output folder')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params] + [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


WRITE_OUTPUTS = """
from pathlib import Path
import json
out = Path(out_dir)
assert (out / "manifest.json").is_file(), "manifest must exist before analysis"
import os
assert os.environ.get("FORENSICS_PROGRESS") == "0", "batch kernels show no progress bars"
(out / "charts").mkdir(exist_ok=True)
(out / "charts" / "c.svg").write_text("<svg/>")
(out / "charts" / "c.png").write_bytes(b"png")
(out / "report.html").write_text("<html></html>")
(out / "timeline.jsonl").write_text("")
counts = {"viewed_persons": 55, "cards_confirmed_customer": 2, "cards_confirmed_test": 3,
          "cards_possible_customer": 8, "cards_possible_test": 0, "cards_total": 13}
(out / "findings.json").write_text(json.dumps({"case": "fake-case", "counts": counts}))
"""


@pytest.mark.slow
def test_run_case_with_a_tiny_series(fake_case, tmp_path):
    books = tmp_path / "books"
    books.mkdir()
    _notebook(books / "01_first.ipynb", "import os, pathlib\n"
              f"pathlib.Path({str(tmp_path / 'seen')!r}).write_text(os.environ['FORENSICS_TABLE_CACHE'])")
    _notebook(books / "02_second.ipynb", WRITE_OUTPUTS)
    said: list[str] = []
    result = pipeline.run_case(fake_case / "case.yml", tmp_path / "out", notebooks_dir=books, report=said.append)
    out = tmp_path / "out"
    # each stage said as it starts and ends, with the run's elapsed time
    steps = [re.sub(r"^\[ *[0-9]+\.[0-9] s\] ", "", line) for line in said]
    assert len(steps) == len(said), said
    assert [re.sub(r"in [0-9.]+ s$", "in N s", s) for s in steps] == [
        "stage 1/2 started: manifest (hashing the evidence, parsing the line logs into the table cache)",
        "stage 1/2 done in N s",
        "stage 2/2 started: 01_first, 02_second",  # they run side by side
        "stage 2/2 done in N s",
        "checking every output for card data",
    ]
    # the kernels shared one private table cache, outside the outputs, gone after the run
    cache = Path((tmp_path / "seen").read_text())
    assert cache.name.startswith("forensics-run-tables-") and not cache.is_relative_to(out) and not cache.exists()
    assert [p.name for p in result.notebooks] == ["01_first.ipynb", "02_second.ipynb"]
    assert (out / "notebooks" / "02_second.ipynb").is_file()
    manifest = json.loads((out / "manifest.json").read_text())
    assert {f["path"] for f in manifest["files"]} >= {"logs/access_log", "server/html/index.php"}
    assert not (out / pipeline.INCOMPLETE).exists()
    text = result.summary()
    assert "viewed persons: 55" in text
    assert "confirmed customer 2 + confirmed test 3, possible customer 8 + possible test 0, total 13" in text
    assert str(out / "report.html") in text


@pytest.mark.slow
def test_failure_names_notebook_and_cell_and_leaves_no_earlier_findings_beside_the_new_manifest(fake_case, tmp_path):
    books = tmp_path / "books"
    books.mkdir()
    _notebook(books / "01_boom.ipynb", "y = 2", "raise ValueError('bad\\nthing')")
    out = tmp_path / "out"
    (out / "charts").mkdir(parents=True)
    for name in ("findings.json", "report.html", "timeline.jsonl", "charts/c.svg"):  # an earlier run's answer
        (out / name).write_text("old")
    (out / "tables").mkdir()
    (out / "tables" / "kept.parquet").write_text("tables are keyed by content and stay")
    with pytest.raises(pipeline.PipelineError) as err:
        pipeline.run_case(fake_case / "case.yml", out, notebooks_dir=books)
    msg = str(err.value)
    assert "01_boom.ipynb" in msg and "cell 3 [raise ValueError" in msg and "ValueError: bad thing" in msg
    assert "\n" not in msg
    assert not any((out / n).exists() for n in ("findings.json", "report.html", "timeline.jsonl", "charts/c.svg"))
    assert "has not finished" in (out / pipeline.INCOMPLETE).read_text()
    assert (out / "manifest.json").is_file() and (out / "tables" / "kept.parquet").is_file()


def test_tables_are_reused_only_for_the_same_content_whatever_the_size_and_mtime(fake_case, tmp_path, monkeypatch):
    from forensics.case import open_case

    monkeypatch.delenv(pipeline.FRESH_MANIFEST_ENV, raising=False)
    case = open_case(fake_case / "case.yml")
    out = tmp_path / "out"
    first = pipeline.current_manifest(case, out)
    assert pipeline.current_manifest(case, out) == first  # unchanged evidence: the same manifest, not rewritten
    log = fake_case / "logs" / "access_log"
    st = log.stat()
    log.write_text("LINE\n")  # same size; then the old times put back
    os.utime(log, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (log.stat().st_size, log.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)
    second = pipeline.current_manifest(case, out)
    assert pipeline.case_key(case, second) != pipeline.case_key(case, first)
    assert json.loads((out / "manifest.json").read_text()) == second
    # a run's own kernels trust the manifest that run has just written
    (out / "manifest.json").write_text(json.dumps(first))
    monkeypatch.setenv(pipeline.FRESH_MANIFEST_ENV, str(out / "manifest.json"))
    assert pipeline.current_manifest(case, out) == first


def test_missing_outputs_are_listed(tmp_path):
    (tmp_path / "findings.json").write_text("{}")
    missing = pipeline.required_outputs(tmp_path)
    assert "report.html" in missing and "charts/*.svg" in missing and "findings.json" not in missing


def test_output_inside_case_folder_is_refused(fake_case):
    with pytest.raises(pipeline.PipelineError, match="inside the evidence"):
        pipeline.run_case(fake_case / "case.yml", fake_case / "out")


def test_output_overlapping_any_evidence_path_is_refused(fake_case, tmp_path, monkeypatch):
    # the parent of the case folder: the case would be inside the outputs
    with pytest.raises(pipeline.PipelineError, match="holds the evidence"):
        pipeline.run_case(fake_case / "case.yml", tmp_path)
    # evidence outside the case folder, outputs inside it
    outside = tmp_path / "evidence"
    (outside / "logs").mkdir(parents=True)
    (outside / "logs" / "access_log").write_text("line\n")
    stand_in = sys.modules["forensics.case"]  # the fixture's module, whatever imported the real one before
    monkeypatch.setattr(stand_in, "open_case", lambda path, **o: type("C", (), {
        "id": "fake-case", "root": fake_case, "evidence": {"access_logs": [outside / "logs" / "access_log"]}})())
    with pytest.raises(pipeline.PipelineError, match="inside the evidence"):
        pipeline.run_case(fake_case / "case.yml", outside / "logs" / "out")


def test_missing_case_file_is_one_line(tmp_path):
    with pytest.raises(pipeline.PipelineError, match="case file not found"):
        pipeline.run_case(tmp_path / "nope.yml")


def test_series_is_numbered_and_has_parameters_cells():
    books = pipeline.list_notebooks()
    assert [b.name[:3] for b in books] == ["01_", "02_", "03_", "04_", "05_", "06_"]
    for b in books:
        nb = nbformat.read(b, as_version=4)
        first = nb.cells[0]  # the series starts with its parameters (papermill, JupyterLab "Run All")
        assert first.cell_type == "code" and "parameters" in first.metadata.get("tags", []), b.name
        assert 'case_path: str = "../sample_data/toshomart-2017/case.yml"' in first.source, b.name
        assert 'out_dir: str = "../reports/toshomart-2017"' in first.source, b.name


def test_stages_group_independent_notebooks(tmp_path):
    books = [tmp_path / n for n in ("01_a.ipynb", "02_b.ipynb", "03_c.ipynb", "05_e.ipynb", "06_f.ipynb", "07_g.ipynb")]
    assert [[b.name[:2] for b in s] for s in pipeline.stages(books)] == [["01", "02"], ["03", "05"], ["06"], ["07"]]


def test_workspace_tables_roundtrip_and_key(tmp_path):
    import polars as pl

    ws = Workspace(tmp_path, key="k1")
    calls = []
    make = lambda: calls.append(1) or pl.DataFrame({"a": [1]})  # noqa: E731
    ws.table("t", make)
    ws.table("t", make)
    assert len(calls) == 1
    Workspace(tmp_path, key="k2").table("t", make)  # other evidence: recomputed
    assert len(calls) == 2


def test_resolve_path_relative_to_base(tmp_path):
    assert resolve_path("../a/b.yml", base=tmp_path / "notebooks") == (tmp_path / "a" / "b.yml").resolve()
    assert resolve_path("/x/y") == Path("/x/y")


@pytest.mark.slow
@pytest.mark.skipif(not SAMPLE.is_file(), reason="sample case not generated (make sample)")
def test_sample_case_end_to_end(tmp_path):
    result = pipeline.run_case(SAMPLE, tmp_path / "out")  # raises if any output holds card data
    assert pipeline.required_outputs(result.out_dir) == []
    c = result.findings["counts"]
    assert (c["viewed_persons"], c["cards_total"]) == (55, 13)


def test_caches_of_runs_that_are_gone_are_removed(tmp_path):
    import subprocess

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f"{pipeline.CACHE_PREFIX}{dead.pid}-abc"
    live = tmp_path / f"{pipeline.CACHE_PREFIX}{os.getpid()}-def"
    other = tmp_path / "forensics-run-tables-notapid"
    for d in (stale, live, other):
        d.mkdir()
        (d / "records.parquet").write_bytes(b"PAR1")
    assert pipeline.remove_stale_caches(tmp_path) == [stale]
    assert not stale.exists() and live.exists() and other.exists()


@pytest.mark.slow
@pytest.mark.skipif(not SAMPLE.is_file(), reason="sample case not generated (make sample)")
def test_sigterm_stops_kernels_and_removes_the_parsed_evidence(tmp_path):
    import signal
    import subprocess
    import tempfile
    import time

    import psutil

    proc = subprocess.Popen([sys.executable, "-m", "forensics.cli", "run", str(SAMPLE), "--out", str(tmp_path / "out")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    cache = Path(tempfile.gettempdir()) / f"{pipeline.CACHE_PREFIX}{proc.pid}-"
    deadline = time.monotonic() + 120
    kernels = []
    while time.monotonic() < deadline and not kernels:
        time.sleep(0.5)
        kernels = [c for c in psutil.Process(proc.pid).children(recursive=True) if pipeline._is_kernel(c)]
    assert kernels, "no kernel started"
    caches = list(cache.parent.glob(cache.name + "*"))
    assert caches and all((c.stat().st_mode & 0o077) == 0 for c in caches)
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=60)
    *stage_lines, last = err.splitlines()  # the stages it went through, then one line
    assert proc.returncode == 130 and "SIGTERM" in last
    assert stage_lines and all(re.match(r"\[ *[0-9]+\.[0-9] s\] stage [0-9]/[0-9] ", line) for line in stage_lines), err
    assert not list(cache.parent.glob(cache.name + "*"))
    time.sleep(1)
    assert not any(k.is_running() and k.status() != psutil.STATUS_ZOMBIE for k in kernels)


def test_a_second_run_into_the_same_output_folder_is_refused(fake_case, tmp_path):
    import fcntl

    out = tmp_path / "out"
    out.mkdir()
    with open(out / pipeline.RUN_LOCK, "a+b") as held:  # a run in progress holds the folder
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(pipeline.PipelineError, match="in use by another run") as err:
            pipeline.run_case(fake_case / "case.yml", out)
        assert "\n" not in str(err.value)


def test_a_kernel_that_dies_before_it_starts_is_started_again():
    from forensics.pipeline import KERNEL_START_FAILURE, start_kernel_retrying

    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError(KERNEL_START_FAILURE)
        return "ran"

    assert start_kernel_retrying(flaky) == "ran" and len(calls) == 3
    calls.clear()
    with pytest.raises(RuntimeError, match="kernel_info"):
        start_kernel_retrying(lambda: (_ for _ in ()).throw(RuntimeError(KERNEL_START_FAILURE)), attempts=2)

    def broken():
        calls.append(1)
        raise RuntimeError("cell failed")

    with pytest.raises(RuntimeError, match="cell failed"):
        start_kernel_retrying(broken)
    assert len(calls) == 1


@pytest.mark.slow
@pytest.mark.skipif(not SAMPLE.is_file(), reason="sample case not generated (make sample)")
def test_a_run_on_a_local_dask_cluster_writes_the_same_findings(tmp_path):
    import subprocess

    def run(out, *options):
        done = subprocess.run([sys.executable, "-m", "forensics.cli", "run", str(SAMPLE), "--out", str(out), *options],
                              capture_output=True, text=True, check=True)
        return done.stderr

    in_process = run(tmp_path / "here")
    on_cluster = run(tmp_path / "there", "--workers", "2")
    assert "dashboard" not in in_process
    assert "local Dask cluster of 2 worker processes; dashboard: http" in on_cluster
    # nothing in findings.json differs from run to run: the whole bytes are compared
    assert (tmp_path / "here" / "findings.json").read_bytes() == (tmp_path / "there" / "findings.json").read_bytes()
