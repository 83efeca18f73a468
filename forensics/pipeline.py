"""Run the investigation notebooks on a case with papermill (``forensics run``).

:func:`run_case` validates the case, writes ``OUT/manifest.json`` before any analysis, executes
``notebooks/NN_*.ipynb`` in order into ``OUT/notebooks/`` (each notebook reads the tables the
previous ones left in ``OUT/tables/``), and checks that every output of a run exists.
A failing notebook stops the run with one line naming the notebook and the cell.

Used as (a whole run: about a minute on the sample case)::

    result = run_case(Path("sample_data/toshomart-2017/case.yml"))
    print(result.summary())
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from forensics.cards import register_manifest_digests, scan_for_card_data
from forensics.engine import open_engine
from forensics.errors import PipelineError, RunInterrupted

__all__ = [
    "NOTEBOOKS_DIR",
    "PipelineError",
    "RunResult",
    "card_data_in_outputs",
    "case_key",
    "current_manifest",
    "ensure_manifest",
    "list_notebooks",
    "required_outputs",
    "run_case",
]

#: Seconds one notebook cell may run: a cell stuck on hostile evidence ends the run in minutes.
CELL_TIMEOUT = 30 * 60

#: The numbered notebook series shipped with the package (repository folder ``notebooks/``).
NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"


#: A kernel that dies before it answers ``kernel_info`` never ran a cell: the TCP ports its
#: launcher chose were taken before it bound them (another process on the machine got there
#: first). Starting it again is safe; other failures are not retried.
KERNEL_START_FAILURE = "Kernel died before replying to kernel_info"
KERNEL_START_ATTEMPTS = 3


def start_kernel_retrying(run, attempts: int = KERNEL_START_ATTEMPTS):
    """``run()``, again (up to ``attempts`` times in all) while it fails only because its kernel
    died before it started (:data:`KERNEL_START_FAILURE`); any other error is raised at once."""
    for attempt in range(1, attempts + 1):
        try:
            return run()
        except RuntimeError as exc:
            if KERNEL_START_FAILURE not in str(exc) or attempt == attempts:
                raise
            time.sleep(0.5 * attempt)


@dataclass
class RunResult:
    """What ``forensics run`` produced: paths and the headline numbers of findings.json."""

    case_id: str
    out_dir: Path
    findings: dict
    notebooks: list[Path] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def report_path(self) -> Path:
        return self.out_dir / "report.html"

    @property
    def findings_path(self) -> Path:
        return self.out_dir / "findings.json"

    def summary(self) -> str:
        """Headline counts and where the report is, a few lines of plain text."""
        c = self.findings.get("counts") or {}

        def n(key: str) -> str:
            v = c.get(key)
            return "unknown" if v is None else str(v)

        viewed = n("viewed_persons")
        if c.get("viewed_persons") is None and c.get("viewed_persons_upper") is not None:
            viewed = f"unknown (at most {c['viewed_persons_upper']})"
        lines = [
            f"case {self.case_id}: {len(self.notebooks)} notebooks in {self.seconds:.1f} s",
            f"viewed persons: {viewed}",
            "cards: confirmed customer {} + confirmed test {}, possible customer {} + possible test {}, total {}".format(
                n("cards_confirmed_customer"), n("cards_confirmed_test"), n("cards_possible_customer"),
                n("cards_possible_test"), n("cards_total")),
            f"report: {self.report_path}",
        ]
        return "\n".join(lines)


def list_notebooks(folder: Path | None = None) -> list[Path]:
    """The series ``NN_name.ipynb`` in order."""
    folder = folder or NOTEBOOKS_DIR
    books = sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb") if p.is_file())
    if not books:
        raise PipelineError(f"no notebooks NN_*.ipynb in {folder}")
    return books


#: Set by a run for the kernels it starts: the path of the manifest that run has just written
#: (its digests are current; a notebook opened by hand checks them against the evidence instead).
FRESH_MANIFEST_ENV = "FORENSICS_FRESH_MANIFEST"


def case_key(case, manifest: dict) -> str:
    """Identity of a case's evidence for reusing tables: ``case.yml``'s content and every input
    file's path and SHA-256 (from ``manifest``). Reuse hangs on content, never on sizes or times:
    a file changed in place with its size and mtime kept gives another key."""
    h = hashlib.sha256()
    yml = Path(case.root) / "case.yml"
    if yml.is_file():
        h.update(yml.read_bytes())
    for f in sorted(manifest.get("files", []), key=lambda f: f["path"]):
        h.update(f"{f['path']}\0{f.get('sha256')}\0{f.get('target')}\n".encode("utf-8", "surrogateescape"))
    return h.hexdigest()[:32]


def ensure_manifest(case, out_dir: Path, *, overwrite: bool = False) -> Path:
    """``out_dir/manifest.json`` (every input file, size, SHA-256, accounting), written when it is
    missing or ``overwrite``."""
    from forensics.manifest import write_manifest

    out_dir = Path(out_dir)
    path = out_dir / "manifest.json"
    if overwrite or not path.is_file():
        out_dir.mkdir(parents=True, exist_ok=True)
        write_manifest(case, path)
    return path


def current_manifest(case, out_dir: Path) -> dict:
    """The manifest of ``out_dir`` as it must stand for the evidence now.

    Trusted as it is when the running ``forensics run`` wrote it (:data:`FRESH_MANIFEST_ENV`);
    otherwise every input is hashed again and a missing manifest, or one whose digests differ
    from the evidence on disk, is written anew (before any table is reused)."""
    from forensics.cards import mask_json
    from forensics.manifest import hash_inputs

    path = Path(out_dir) / "manifest.json"
    if path.is_file() and os.environ.get(FRESH_MANIFEST_ENV) == str(path):
        return json.loads(path.read_text(encoding="utf-8"))
    if path.is_file():
        old = json.loads(path.read_text(encoding="utf-8"))
        now = mask_json(hash_inputs(case))
        same = [(f["path"], f.get("sha256")) for f in now] == [(f["path"], f.get("sha256")) for f in old.get("files", [])]
        if same:
            return old
    ensure_manifest(case, out_dir, overwrite=True)
    return json.loads(path.read_text(encoding="utf-8"))


def required_outputs(out_dir: Path) -> list[str]:
    """Outputs of the command line that are missing from ``out_dir`` (empty when complete)."""
    out = Path(out_dir)
    missing = [n for n in ("findings.json", "report.html", "manifest.json", "timeline.jsonl") if not (out / n).is_file()]
    for pattern in ("notebooks/*.ipynb", "charts/*.svg", "charts/*.png"):
        if not any(out.glob(pattern)):
            missing.append(pattern)
    return missing


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def run_case(case_yml: str | os.PathLike, out_dir: str | os.PathLike | None = None, *,
             notebooks_dir: str | os.PathLike | None = None, kernel_name: str = "python3",
             cell_timeout: int = CELL_TIMEOUT, timeline: str = "findings",
             report: Callable[[str], None] | None = None, scheduler: str | None = None,
             workers: int | None = None) -> RunResult:
    """Execute the notebook series on ``case_yml``; outputs go to ``out_dir`` (default ``reports/<id>/``).

    ``timeline``: "findings" (``timeline.jsonl``: the attacker's events, the detections, the file
    system in the incident period, the windows) or "all" (also :data:`FULL_TIMELINE`: every event
    of every source).

    Raises :class:`PipelineError` (one-line message) when a notebook fails or an output is missing;
    ``open_case`` raises its own clear error for a bad case.yml.

    The access and query logs are parsed once, while the manifest's record counts are taken,
    into a private table cache (:mod:`forensics.tablecache`, a temporary folder of mode 0700
    outside ``out_dir``: it holds parsed evidence) that every kernel of the run scans lazily
    (``FORENSICS_TABLE_CACHE``); it is deleted when the run ends. ``cell_timeout``: seconds a
    single cell may run (:data:`CELL_TIMEOUT`; a scale case's investigation cell takes minutes),
    after which the run fails naming the notebook and its kernel is stopped.

    ``report`` (if given) receives one line as each stage starts and ends, with the run's elapsed
    time: the manifest (hashing, and parsing the line logs into the table cache), then each group
    of notebooks that run together (``[  41.2 s] stage 2/4 started: 01_evidence_intake,
    02_sql_injection``, ``[ 130.5 s] stage 2/4 done in 89.3 s``), then the card-data check.

    ``scheduler`` (a Dask scheduler address; default ``$DASK_SCHEDULER_ADDRESS``) or ``workers``
    (a ``LocalCluster`` of that many worker processes, closed at the end): the line logs are
    parsed into the table cache file by file as tasks on that cluster (:mod:`forensics.engine`;
    the workers must see the case and the cache folder at the same paths), and a line with the
    Dask dashboard link goes to ``report`` (stderr when ``report`` is None). With neither, the
    logs are parsed in this process.
    """
    import shutil
    import tempfile

    remove_stale_caches()
    before = _kernel_pids()  # kernels this process already had (a notebook's own) are left alone
    cache = tempfile.mkdtemp(prefix=f"{CACHE_PREFIX}{os.getpid()}-")  # 0700: the analyst's account only
    clock = StageClock(report)
    try:
        with _stopped_by_signals(), open_engine(scheduler, workers, report=clock if report is not None else
                                                lambda line: print(line, file=sys.stderr, flush=True)) as engine:
            return _run_case(case_yml, out_dir, notebooks_dir=notebooks_dir, kernel_name=kernel_name,
                             cell_timeout=cell_timeout, table_cache=Path(cache), timeline=timeline,
                             report=clock, engine=engine)
    finally:
        _stop_kernels(keep=before)
        shutil.rmtree(cache, ignore_errors=True)


#: Name prefix of a run's private table cache in the temporary folder, followed by the pid of
#: the process that owns it.
CACHE_PREFIX = "forensics-run-tables-"


def remove_stale_caches(folder: str | os.PathLike | None = None) -> list[Path]:
    """Remove the table caches of runs whose process is gone (killed with SIGKILL, or the machine
    stopped): they hold parsed evidence. Returns the folders removed."""
    import shutil
    import tempfile

    removed = []
    for d in Path(folder or tempfile.gettempdir()).glob(f"{CACHE_PREFIX}*"):
        pid = d.name[len(CACHE_PREFIX):].split("-", 1)[0]
        if not pid.isdigit() or not d.is_dir() or d.is_symlink() or d.stat().st_uid != os.getuid():
            continue
        try:
            os.kill(int(pid), 0)
            continue  # its run is still going
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        shutil.rmtree(d, ignore_errors=True)
        removed.append(d)
    return removed


@contextmanager
def _stopped_by_signals():
    """SIGTERM and SIGINT end the run through the normal way out (kernels stopped, cache removed)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, _frame):
        raise RunInterrupted(f"run stopped by {signal.Signals(signum).name}; kernels stopped, parsed evidence removed")

    saved = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, h in saved.items():
            signal.signal(s, h)


def _kernel_pids() -> set[int]:
    import psutil

    try:
        return {c.pid for c in psutil.Process().children(recursive=True) if _is_kernel(c)}
    except psutil.Error:
        return set()


def _stop_kernels(keep: set[int] = frozenset()) -> None:
    """Terminate the kernels the run started that are still running (a run never leaves one
    behind); ``keep``: kernels that were there before the run."""
    import psutil

    try:
        children = psutil.Process().children(recursive=True)
    except psutil.Error:
        return
    kernels = [c for c in children if c.pid not in keep and _is_kernel(c)]
    for k in kernels:
        with contextlib.suppress(psutil.Error):
            k.terminate()
    _gone, alive = psutil.wait_procs(kernels, timeout=5)
    for k in alive:
        with contextlib.suppress(psutil.Error):
            k.kill()


def _is_kernel(proc) -> bool:
    try:
        return "ipykernel_launcher" in " ".join(proc.cmdline())
    except Exception:  # noqa: BLE001 - gone or not ours to read
        return False


class StageClock:
    """Sends ``[elapsed] message`` lines to ``report`` (nothing when it is None); elapsed from
    the clock's creation, the start of the run."""

    def __init__(self, report: Callable[[str], None] | None):
        self.report = report
        self.started = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def __call__(self, message: str) -> None:
        if self.report is not None:
            self.report(f"[{self.elapsed():7.1f} s] {message}")


def _run_case(case_yml, out_dir, *, notebooks_dir, kernel_name: str, cell_timeout: int, table_cache: Path,
              timeline: str = "findings", report: StageClock, engine=None) -> RunResult:
    started = time.monotonic()
    case_yml = Path(case_yml).expanduser().resolve()
    if not case_yml.is_file():
        raise PipelineError(f"case file not found: {case_yml}")
    from forensics.case import open_case

    case = open_case(case_yml, table_cache=table_cache)
    if engine is not None:
        case.use_engine(engine)
    out = Path(out_dir) if out_dir is not None else Path("reports") / case.id
    out = out.expanduser().resolve()
    _check_out_apart_from_evidence(out, case)
    out.mkdir(parents=True, exist_ok=True)
    with _output_lock(out):
        return _run_in(case, case_yml, out, started, notebooks_dir=notebooks_dir, kernel_name=kernel_name,
                       cell_timeout=cell_timeout, table_cache=table_cache, timeline=timeline, report=report)


#: Lock file of a run in its output folder: one run at a time writes into a folder.
RUN_LOCK = ".forensics-run.lock"


@contextmanager
def _output_lock(out: Path):
    """Hold the output folder for this run; a second run into it is refused at once."""
    import fcntl

    with open(out / RUN_LOCK, "a+b") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PipelineError(f"output folder {out} is in use by another run; wait for it or choose another folder") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _run_in(case, case_yml: Path, out: Path, started: float, *, notebooks_dir, kernel_name: str, cell_timeout: int,
            table_cache: Path, timeline: str, report: StageClock) -> RunResult:
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    from forensics.tablecache import ENV_VAR

    _begin_outputs(out)
    books = list_notebooks(Path(notebooks_dir) if notebooks_dir else None)
    series = stages(books)
    total = len(series) + 1
    report(f"stage 1/{total} started: manifest (hashing the evidence, parsing the line logs into the table cache)")
    manifest = ensure_manifest(case, out, overwrite=True)  # before any analysis
    report(f"stage 1/{total} done in {report.elapsed():.1f} s")

    executed_dir = out / "notebooks"
    executed_dir.mkdir(exist_ok=True)
    params = {"case_path": str(case_yml), "out_dir": str(out)}

    def execute(nb: Path) -> Path:
        target = executed_dir / nb.name
        try:
            start_kernel_retrying(lambda: pm.execute_notebook(
                str(nb), str(target), parameters=params, kernel_name=kernel_name, cwd=str(nb.parent),
                progress_bar=False, log_output=False, execution_timeout=cell_timeout,
            ))
        except PapermillExecutionError as exc:
            raise PipelineError(
                f"notebook {nb.name} failed in cell {_source_cell_number(nb, exc.cell_index)} "
                f"[{_one_line(exc.source)[:60]}]: {exc.ename}: {_one_line(exc.evalue)[:300]} (executed copy: {target})"
            ) from None
        except Exception as exc:  # kernel died, timeout, missing kernel
            raise PipelineError(f"notebook {nb.name} could not run: {type(exc).__name__}: {_one_line(exc)[:300]}") from None
        return target

    executed: list[Path] = []
    with _kernel_stderr_to(out / "notebooks" / "kernels.log"), \
            _batch_environment({ENV_VAR: str(table_cache), FRESH_MANIFEST_ENV: str(manifest)}):
        for number, stage in enumerate(series, start=2):
            begun = report.elapsed()
            report(f"stage {number}/{total} started: {', '.join(nb.stem for nb in stage)}")
            if len(stage) == 1:
                executed.append(execute(stage[0]))
            else:
                with ThreadPoolExecutor(max_workers=len(stage)) as pool:
                    futures = [pool.submit(execute, nb) for nb in stage]
                    for fut in futures:  # in notebook order: the first failure is reported
                        executed.append(fut.result())
            report(f"stage {number}/{total} done in {report.elapsed() - begun:.1f} s")

    missing = required_outputs(out)
    if missing:
        raise PipelineError(f"run finished but outputs are missing from {out}: {', '.join(missing)}")
    findings = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    if timeline == "all":
        write_all_events(case, out / FULL_TIMELINE)
    report("checking every output for card data")
    _check_no_card_data(out)  # raises: an output holding card data fails the run
    (out / INCOMPLETE).unlink()
    return RunResult(case_id=case.id, out_dir=out, findings=findings, notebooks=executed,
                     seconds=time.monotonic() - started)


#: ``--timeline all``: every event of every source, for Timesketch.
FULL_TIMELINE = "timeline_all.jsonl"

#: Written in the output folder when a run starts and removed when it has succeeded: a folder
#: holding it has the outputs of a run that was stopped or failed.
INCOMPLETE = "RUN-INCOMPLETE.txt"

#: Outputs of an earlier run removed when a run starts (so a stopped run never leaves old
#: findings beside a new manifest); the tables stay, reused only for the same evidence digests.
_RUN_OUTPUTS = ("findings.json", "report.html", "timeline.jsonl", FULL_TIMELINE, "charts/*.svg", "charts/*.png",
                "notebooks/*.ipynb")


def _begin_outputs(out: Path) -> None:
    """Mark the run as under way and remove the previous run's outputs."""
    started = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    (out / INCOMPLETE).write_text(
        f"A run into this folder started at {started} and has not finished: the outputs here are partial "
        "or missing. This file is removed when a run succeeds.\n", encoding="utf-8")
    for pattern in _RUN_OUTPUTS:
        for p in out.glob(pattern):
            if p.is_file() and not p.is_symlink():
                p.unlink()


def _check_out_apart_from_evidence(out: Path, case) -> None:
    """Refuse an output folder that overlaps the case folder or any evidence path, either way (the
    outputs inside the evidence or the folder of an evidence file, or the evidence inside the
    folder the outputs are written to)."""
    places = [Path(case.root)]
    for paths in case.evidence.values():
        for p in paths:
            places.append(Path(p) if Path(p).is_dir() else Path(p).parent)
    for place in places:
        place = Path(os.path.abspath(place))
        real = place.resolve()
        for p in {place, real}:
            if out == p or out.is_relative_to(p):
                raise PipelineError(f"output folder {out} is inside the evidence ({p}); evidence must stay read-only")
            if p.is_relative_to(out):
                raise PipelineError(f"output folder {out} holds the evidence ({p}); choose a folder apart from the case")


def _source_cell_number(notebook: Path, executed_index: int) -> int:
    """1-based number of the failing cell in the source notebook (papermill inserts one cell,
    "injected-parameters", after the cell tagged ``parameters``)."""
    import nbformat

    try:
        cells = nbformat.read(notebook, as_version=4).cells
    except Exception:  # pragma: no cover - the notebook ran, so it reads
        return executed_index + 1
    tagged = [i for i, c in enumerate(cells) if "parameters" in c.get("metadata", {}).get("tags", [])]
    if tagged and executed_index > tagged[0]:
        executed_index -= 1
    return executed_index + 1


#: Notebooks that may run together (same stage) because none reads what another writes:
#: 01 (intake) and 02 (the investigation) are independent; 03, 04 and 05 only read 02's tables;
#: 06 reads everything. A notebook not listed runs alone, in number order after the listed ones.
STAGES: tuple[tuple[str, ...], ...] = (("01", "02"), ("03", "04", "05"), ("06",))


def stages(books: list[Path]) -> list[list[Path]]:
    """Group the series into stages that run one after the other (see :data:`STAGES`)."""
    by_prefix = {b.name[:2]: b for b in books}
    out: list[list[Path]] = []
    seen: set[Path] = set()
    for group in STAGES:
        members = [by_prefix[p] for p in group if p in by_prefix]
        if members:
            out.append(members)
            seen.update(members)
    out += [[b] for b in books if b not in seen]
    return out


#: Environment the kernels inherit during a batch run: no progress bars (their presence depends
#: on timing, so executed notebooks would differ from run to run; nobody watches them).
BATCH_ENV = {"FORENSICS_PROGRESS": "0", "TQDM_DISABLE": "1"}


@contextmanager
def _batch_environment(extra: dict[str, str] | None = None):
    """Set :data:`BATCH_ENV` (and ``extra``) for the kernels started inside (they inherit os.environ)."""
    env = {**BATCH_ENV, **(extra or {})}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextmanager
def _kernel_stderr_to(log: Path):
    """Send the kernels' own stderr (inherited file descriptor 2: start-up warnings) to ``log``
    so the analyst's terminal shows only our one-line summary or error."""
    import sys

    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (pytest capture, notebook)
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    with open(log, "ab") as f:
        os.dup2(f.fileno(), fd)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, fd)
            os.close(saved)


def write_all_events(case, path: Path) -> Path:
    """Every event of the case's access logs, app logs, query logs and bodyfile, streamed to one
    JSON-lines file (``forensics.timeline.write_full_timeline``) from the run's table cache."""
    from forensics.timeline import write_full_timeline

    have = set(getattr(case, "available", set()))
    sources = {"access_logs": case.access_log, "app_logs": case.app_log, "query_logs": case.query_log,
               "fs_timeline": case.fs_timeline}
    return write_full_timeline({k: f() for k, f in sources.items() if k in have}, path, case.timezone)


def card_data_in_outputs(out: Path) -> list:
    """Full card numbers and security codes in the files of an output folder (``CardHit`` list,
    masked): the same detector the masking uses, so it flags exactly what masking should have
    changed. The SHA-256 digests the folder's manifest lists are ours (of the evidence files) and
    are left whole."""
    out = Path(out)
    register_manifest_digests(out / "manifest.json")
    return scan_for_card_data(out)


def _check_no_card_data(out: Path) -> None:
    """Fail the run when any output file holds card data (:func:`card_data_in_outputs`)."""
    hits = card_data_in_outputs(out)
    if hits:
        h = hits[0]
        more = f" (and {len(hits) - 1} more)" if len(hits) > 1 else ""
        raise PipelineError(f"card data in output {out / h.path}, line {h.line_no}: {h.kind} {h.masked}{more}; "
                            "the outputs must not be shared as they are")
