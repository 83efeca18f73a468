"""Time ``forensics run`` end to end on the scale-100 sample case: wall time and peak memory.

    .venv/bin/python scripts/bench_scale_run.py                 # bench_data/sample-scale100-<key>
    .venv/bin/python scripts/bench_scale_run.py --scale 10

The case is ``bench_data/sample-scale<N>-<key>`` (``key``: the generator's version and seed,
:mod:`benchcases`), generated with ``forensics sample`` when absent, so a changed generator is
always benchmarked on its own data (``bench_data/`` is git-ignored); ``--case DIR`` names another. ``forensics run`` runs as a child process; its process tree
(the CLI, papermill's kernels and their helpers) is sampled every ``--interval`` seconds with
psutil, and the peak of the *sum* of the tree's resident set sizes is reported, together with
the largest single process (``ru_maxrss`` of the children, which the kernel keeps exactly, so a
peak between two samples is not missed for the largest process), and each stage's seconds and
peak (from the stage lines ``forensics run`` prints). Output: a few ``key: value``
lines and, with ``--json``, the same as one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _tree_rss(proc: psutil.Process) -> int:
    total = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


STAGE_LINE = re.compile(r"^\[ *[0-9.]+ s\] stage ([0-9]+/[0-9]+) (started: (.*)|done in ([0-9.]+) s)$")


def _stages(text: str, peaks: dict[str, int]) -> list[dict]:
    """The run's stage lines (``forensics run`` prints each stage's start and end) as ``{stage,
    what, seconds, peak_rss_tree_mib}``."""
    out: dict[str, dict] = {}
    for line in text.splitlines():
        m = STAGE_LINE.match(line.strip())
        if m and m[3] is not None:
            out[m[1]] = {"stage": m[1], "what": m[3], "seconds": None,
                         "peak_rss_tree_mib": round(peaks.get(m[1], 0) / 2**20)}
        elif m and m[1] in out:
            out[m[1]]["seconds"] = float(m[4])
    return list(out.values())


def run_measured(cmd: list[str], *, interval: float, log: Path) -> dict:
    """Run ``cmd``, sampling its process tree's RSS; returns wall time, peak RSS (in all and per
    stage: the stage is the last one the run's output said had started), exit code."""
    peak = {"tree": 0}
    stage_peaks: dict[str, int] = {}
    start = time.monotonic()
    with log.open("wb") as out:
        child = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
        proc = psutil.Process(child.pid)
        done = threading.Event()

        def sample() -> None:
            stage = "0/0"
            with log.open("rb") as said:
                while not done.is_set():
                    for line in said.read().decode("utf-8", "replace").splitlines():
                        m = STAGE_LINE.match(line.strip())
                        if m and m[3] is not None:
                            stage = m[1]
                    rss = _tree_rss(proc)
                    peak["tree"] = max(peak["tree"], rss)
                    stage_peaks[stage] = max(stage_peaks.get(stage, 0), rss)
                    done.wait(interval)

        t = threading.Thread(target=sample, daemon=True)
        t.start()
        code = child.wait()
        done.set()
        t.join()
    wall = time.monotonic() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "exit_code": code,
        "wall_s": round(wall, 1),
        "peak_rss_tree_mib": round(peak["tree"] / 2**20),
        "max_rss_single_process_mib": round(usage.ru_maxrss / 1024),  # Linux: KiB
        "children_cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
        "stages": _stages(log.read_text(encoding="utf-8", errors="replace"), stage_peaks),
    }


COUNT_KEYS = ("viewed_persons", "cards_confirmed_customer", "cards_confirmed_test", "cards_possible_customer",
              "cards_possible_test", "cards_total")


def compare_with_truth(case: Path, out: Path) -> dict:
    """The run's counts next to the generator's ``truth.json`` (a run that finishes with a wrong
    answer is no result): ``counts`` as ``a + b + ...`` and ``matches_truth`` (yes / no / no truth)."""
    try:
        found = json.loads((out / "findings.json").read_text(encoding="utf-8")).get("counts") or {}
    except (OSError, ValueError):
        return {"matches_truth": "no findings.json"}
    got = {k: found.get(k) for k in COUNT_KEYS}
    res = {"counts": " ".join(f"{k}={v}" for k, v in got.items())}
    truth_path = case / "truth.json"
    if not truth_path.is_file():
        return {**res, "matches_truth": "no truth.json"}
    truth = json.loads(truth_path.read_text(encoding="utf-8"))
    want = truth.get("counts", truth)
    res["matches_truth"] = "yes" if all(want.get(k) == got[k] for k in COUNT_KEYS if k in want) else "NO"
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=int, default=100)
    ap.add_argument("--case", type=Path, default=None, help="case folder (default bench_data/sample-scale<N>)")
    ap.add_argument("--out", type=Path, default=None, help="report folder (default bench_data/report-scale<N>)")
    ap.add_argument("--interval", type=float, default=0.2, help="RSS sampling period, seconds")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.case is None:
        from benchcases import generator_key

        args.case = REPO / "bench_data" / f"sample-scale{args.scale}-{generator_key()}"
    case = args.case.resolve()
    out = (args.out or REPO / "bench_data" / f"report-scale{args.scale}").resolve()
    forensics = str(BIN / "forensics")
    result: dict = {"case": str(case), "scale": args.scale, "cpus": os.cpu_count(), "machine": platform.machine()}
    if not (case / "case.yml").is_file():
        from benchcases import sample_case

        t = time.monotonic()
        if case.name.startswith(f"sample-scale{args.scale}-"):
            sample_case(args.scale, case.parent)
        else:
            subprocess.run([forensics, "sample", str(case), "--scale", str(args.scale)], check=True, cwd=REPO)
        result["sample_s"] = round(time.monotonic() - t, 1)
    result["input_bytes"] = sum(p.stat().st_size for p in case.rglob("*") if p.is_file() and not p.is_symlink())
    out.mkdir(parents=True, exist_ok=True)
    cmd = [forensics, "run", str(case / "case.yml"), "--out", str(out)]
    result["command"] = " ".join(cmd)
    result.update(run_measured(cmd, interval=args.interval, log=out.parent / f"{out.name}.log"))
    result["log"] = str(out.parent / f"{out.name}.log")
    result.update(compare_with_truth(case, out))
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        for k, v in result.items():
            if k == "stages":
                for st in v:
                    print(f"stage {st['stage']}: {st['seconds']} s, peak {st['peak_rss_tree_mib']} MiB ({st['what']})")
            else:
                print(f"{k}: {v}")
    return 0 if result["exit_code"] == 0 and result.get("matches_truth") in ("yes", "no truth.json") else 1


if __name__ == "__main__":
    sys.exit(main())
