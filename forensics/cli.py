"""The ``forensics`` command line: a thin layer over the library.

- ``forensics run CASE_YML [--out DIR] [--timeline all] [--workers N | --scheduler ADDRESS]``: run
  the notebook pipeline on a case; each stage's start and end, with the elapsed time, go to stderr.
  ``--workers N`` parses the line logs file by file on a local Dask cluster of N worker processes,
  ``--scheduler tcp://host:8786`` (or ``DASK_SCHEDULER_ADDRESS``) on an existing cluster whose
  workers see the case and the temporary folder at the same paths (:mod:`forensics.engine`).
  SIGTERM or Ctrl-C stops it cleanly: its kernels are stopped and its private table cache (parsed
  evidence) removed; it exits 130.
- ``forensics sample DIR [--scale N] [--seed S] [--option NAME ...]``: write the synthetic reference case.

Errors print one line ``forensics: <reason>`` and exit non-zero; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path

from forensics.errors import RunInterrupted


def _cmd_run(args: argparse.Namespace) -> int:
    from forensics.pipeline import run_case

    with _terminal_stderr() as terminal:
        result = run_case(Path(args.case_yml), out_dir=Path(args.out) if args.out else None, timeline=args.timeline,
                          cell_timeout=max(1, int(args.cell_minutes * 60)),
                          report=lambda line: print(line, file=terminal, flush=True),  # each stage, elapsed time
                          scheduler=args.scheduler, workers=args.workers)
    print(result.summary())
    return 0


@contextlib.contextmanager
def _terminal_stderr():
    """The terminal's stderr as it is now: a run sends file descriptor 2 to its kernels' log while
    notebooks run, and the stage lines must still reach the analyst."""
    try:
        fd = os.dup(sys.stderr.fileno())
    except (AttributeError, OSError, ValueError):  # not a real file (a test's capture)
        yield sys.stderr
        return
    with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as terminal:
        yield terminal


def _cmd_sample(args: argparse.Namespace) -> int:
    from forensics.sample import write_sample_case

    path = write_sample_case(Path(args.dir), scale=args.scale, seed=args.seed, options=args.option or ())
    print(f"sample case written: {path}")
    return 0


#: sub-command name -> (handler, help); a registry rather than an if/elif chain.
COMMANDS = {
    "run": (_cmd_run, "run the investigation notebooks on a case and write the report"),
    "sample": (_cmd_sample, "write the synthetic reference case (evidence, case.yml, truth.json)"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="forensics", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help=COMMANDS["run"][1])
    run.add_argument("case_yml", help="path to the case's case.yml")
    run.add_argument("--out", help="output folder (default reports/<case id>/)")
    run.add_argument("--cell-minutes", type=float, default=30,
                     help="minutes one notebook cell may run before the run fails (default 30)")
    run.add_argument("--timeline", choices=("findings", "all"), default="findings",
                     help="'all' also writes timeline_all.jsonl: every event of every source (for Timesketch)")
    cluster = run.add_mutually_exclusive_group()
    cluster.add_argument("--workers", type=_positive_int, metavar="N",
                         help="parse the line logs on a local Dask cluster of N worker processes (closed at the end)")
    cluster.add_argument("--scheduler", metavar="ADDRESS",
                         help="parse the line logs on the Dask cluster of this scheduler (tcp://host:8786; default "
                              "$DASK_SCHEDULER_ADDRESS); its workers must see the case and the temporary folder "
                              "at the same paths")
    sample = sub.add_parser("sample", help=COMMANDS["sample"][1])
    sample.add_argument("dir", help="folder to write the case into")
    sample.add_argument("--scale", type=int, default=1, help="multiplies background traffic and customers")
    sample.add_argument("--seed", type=int, default=20170331, help="random seed (deterministic output)")
    sample.add_argument("--option", action="append", metavar="NAME",
                        help="add a real EC-CUBE behaviour (repeatable): brute_force, utc_server, backup_download, "
                             "failed_upload, debug_mode, subfolder, csv_sql_export")
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def _inert(text: str) -> str:
    """Control characters (an ANSI escape in a file name or a case.yml key) and bidi overrides
    shown as ``\\xNN`` / ``\\uNNNN`` (:func:`forensics.evidence.escape_str`): an error line must not
    drive the analyst's terminal."""
    from forensics.evidence import escape_str

    return escape_str(text, backslash=False)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = COMMANDS[args.command][0]
    try:
        return handler(args)
    except RunInterrupted as exc:
        print(f"forensics: {exc}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("forensics: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one line for the analyst; the traceback only on request
        if args.debug:
            raise
        reason = _inert(" ".join(str(exc).split())) or type(exc).__name__
        print(f"forensics: {reason}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
