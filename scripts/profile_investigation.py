"""Where the investigation spends its time and memory: seconds and peak RSS of each step.

    .venv/bin/python scripts/profile_investigation.py CASE_YML [--cache DIR]

Opens the case with a table cache (``--cache``: a folder kept between runs, so the line logs are
parsed once; default a temporary folder), then runs :func:`forensics.findings.investigate` with
its steps timed: every detector and exposure step named in :data:`STEPS` is wrapped where the
investigation calls it, and the process's RSS is sampled every 0.05 s and charged to the step
running at that moment (a step's peak is its own, not its callers'). One line per step as it
ends, then the steps by peak. A step that returns a lazy frame (``detect_sqli``) shows almost no
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

    def __init__(self, interval: float = 0.05):
        self.step = "start"
        self.peaks: dict[str, int] = {}
        self._proc = psutil.Process()
        self._interval = interval
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        while True:
            rss = self._proc.memory_info().rss
            self.peaks[self.step] = max(self.peaks.get(self.step, 0), rss)
            time.sleep(self._interval)

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
    args = ap.parse_args(argv)
    clock = StepClock()
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
