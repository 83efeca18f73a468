"""Where the investigation spends its time and memory: seconds and peak RSS of each step.

    .venv/bin/python scripts/profile_investigation.py CASE_YML [--cache DIR]

Opens the case with a table cache (``--cache``: a folder kept between runs, so the line logs are
parsed once; default a temporary folder), then runs :func:`forensics.findings.investigate` with
its steps timed: every detector and exposure step named in :data:`STEPS` is wrapped where the
investigation calls it, and the process's RSS is sampled every 0.05 s and charged to the step
running at that moment (a step's peak is its own, not its callers'). One line per step as it
ends, then the steps by peak. With ``--lines``, also the package's source lines where the
process spent most wall time and where its RSS was highest (the innermost ``forensics`` frame of
the main thread at each sample). A step that returns a lazy frame (``detect_sqli``) shows almost no
time: its work is charged to the step that collects it. A diagnostic for the scaling work: it changes no result.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import sys
import tempfile
import threading
import time

import psutil

#: (module, function) pairs timed, as the investigation reaches them.
STEPS = (
    ("forensics.detectors.sqli", "detect_sqli"),
    ("forensics.detectors.sqli", "sqli_query_reach"),
    ("forensics.detectors.admin", "admin_logins"),
    ("forensics.detectors.admin", "attacker_admin_requests"),
    ("forensics.findings", "detect_all"),
    ("forensics.findings", "viewed_records"),
    ("forensics.exposure.viewed", "statement_order"),
    ("forensics.exposure.viewed", "connections"),
    ("forensics.exposure.viewed", "statements_of"),
    ("forensics.findings", "card_entries"),
    ("forensics.findings", "confirmed_cards"),
)


class StepClock:
    """The step running now and each step's peak RSS, sampled in a background thread."""

    def __init__(self, interval: float = 0.05, *, lines: bool = False):
        self.step = "start"
        self.peaks: dict[str, int] = {}
        #: "file:line function" -> [samples, peak RSS]
        self.lines: dict[str, list[int]] = {}
        self._proc = psutil.Process()
        self.interval = interval
        self._main = threading.get_ident() if lines else None
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        while True:
            rss = self._proc.memory_info().rss
            self.peaks[self.step] = max(self.peaks.get(self.step, 0), rss)
            if self._main is not None:
                frame = sys._current_frames().get(self._main)
                while frame is not None and "/forensics/" not in frame.f_code.co_filename:
                    frame = frame.f_back
                if frame is not None:
                    where = f"{frame.f_code.co_filename.rsplit('/forensics/', 1)[-1]}:{frame.f_lineno} {frame.f_code.co_name}"
                    seen = self.lines.setdefault(where, [0, 0])
                    seen[0] += 1
                    seen[1] = max(seen[1], rss)
            time.sleep(self.interval)

    def wrap(self, module_name: str, name: str) -> None:
        module = importlib.import_module(module_name)
        original = getattr(module, name)
        label = f"{module_name.rsplit('.', 1)[-1]}.{name}"

        @functools.wraps(original)
        def timed(*args, **kwargs):
            outer, self.step = self.step, label
            t = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                print(f"  {label:40s} {time.perf_counter() - t:7.1f} s  peak {self.peaks.get(label, 0) / 2**30:5.2f} GiB",
                      flush=True)
                self.step = outer

        setattr(module, name, timed)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("case_yml")
    ap.add_argument("--cache", default=None, help="table cache folder kept between runs (default: a temporary one)")
    ap.add_argument("--lines", action="store_true", help="also the source lines by wall time and by peak RSS")
    args = ap.parse_args(argv)
    clock = StepClock(lines=args.lines)
    for module_name, name in STEPS:
        clock.wrap(module_name, name)
    from forensics import findings
    from forensics.case import open_case

    with tempfile.TemporaryDirectory(prefix="profile-tables-") as tmp:
        clock.step = "parse (table cache)"
        t = time.perf_counter()
        case = open_case(args.case_yml, table_cache=args.cache or tmp)
        case.record_counts()
        print(f"  {'parse (table cache)':40s} {time.perf_counter() - t:7.1f} s", flush=True)
        clock.step = "investigate (outside the steps)"
        t = time.perf_counter()
        findings.investigate(case)
        print(f"investigate: {time.perf_counter() - t:.1f} s, process peak {max(clock.peaks.values()) / 2**30:.2f} GiB")
    for step, peak in sorted(clock.peaks.items(), key=lambda kv: -kv[1]):
        print(f"  peak {peak / 2**30:5.2f} GiB  {step}")
    if args.lines:
        print("source lines by wall time:")
        for where, (n, peak) in sorted(clock.lines.items(), key=lambda kv: -kv[1][0])[:25]:
            print(f"  {n * clock.interval:7.1f} s  peak {peak / 2**30:5.2f} GiB  {where}")
        print("source lines by peak RSS:")
        for where, (n, peak) in sorted(clock.lines.items(), key=lambda kv: -kv[1][1])[:25]:
            print(f"  {n * clock.interval:7.1f} s  peak {peak / 2**30:5.2f} GiB  {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
