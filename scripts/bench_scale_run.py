"""Time ``forensics run`` end to end on the sample case at scale 100 (and more): wall time and peak memory.

    .venv/bin/python scripts/bench_scale_run.py                      # scale 100, in process
    .venv/bin/python scripts/bench_scale_run.py --runs 100 300 100:2   # also scale 300; scale 100 on 2 Dask workers

The case is ``bench_data/sample-scale<N>-<key>`` (``key``: the generator's version and seed,
:mod:`benchcases`), generated with ``forensics sample`` when absent, so a changed generator is
always benchmarked on its own data (``bench_data/`` is git-ignored); ``--case DIR`` names another.
``forensics run`` runs as a child process; its process tree (the CLI, papermill's kernels, Dask's
workers and their helpers) is sampled every ``--interval`` seconds with psutil, and the peak of
the *sum* of the tree's resident set sizes is reported, together with the largest single process
(``ru_maxrss`` of the children, which the kernel keeps exactly, so a peak between two samples is
not missed for the largest process), and each stage's seconds and peak (from the stage lines
``forensics run`` prints). Several runs are measured one after the other, each by a process of
its own, then shown side by side with the targets. Output: ``key: value`` lines and, with
``--json``, each run as one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _tree(proc: psutil.Process) -> tuple[int, float]:
    """The process tree's summed RSS, and its CPU seconds so far (each live process's own and
    those of its children that ended and were waited for)."""
    rss, cpu = 0, 0.0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0, 0.0
    for p in procs:
        try:
            rss += p.memory_info().rss
            t = p.cpu_times()
            cpu += t.user + t.system + t.children_user + t.children_system
        except psutil.Error:
            pass
    return rss, cpu


STAGE_LINE = re.compile(r"^\[ *[0-9.]+ s\] stage ([0-9]+/[0-9]+) (started: (.*)|done in ([0-9.]+) s)$")


def _stages(text: str, peaks: dict[str, int], cpu: dict[str, float]) -> list[dict]:
    """The run's stage lines (``forensics run`` prints each stage's start and end) as ``{stage,
    what, seconds, cpu_s, peak_rss_tree_mib}`` (CPU: the tree's, sampled, from the stage's start
    to the next one's)."""
    out: dict[str, dict] = {}
    for line in text.splitlines():
        m = STAGE_LINE.match(line.strip())
        if m and m[3] is not None:
            out[m[1]] = {"stage": m[1], "what": m[3], "seconds": None, "cpu_s": round(cpu.get(m[1], 0.0), 1),
                         "peak_rss_tree_mib": round(peaks.get(m[1], 0) / 2**20)}
        elif m and m[1] in out:
            out[m[1]]["seconds"] = float(m[4])
    return list(out.values())


def run_measured(cmd: list[str], *, interval: float, log: Path) -> dict:
    """Run ``cmd``, sampling its process tree's RSS; returns wall time, peak RSS (in all and per
    stage: the stage is the last one the run's output said had started), exit code."""
    peak = {"tree": 0}
    stage_peaks: dict[str, int] = {}
    stage_cpu: dict[str, float] = {}
    start = time.monotonic()
    with log.open("wb") as out:
        child = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
        proc = psutil.Process(child.pid)
        done = threading.Event()

        def sample() -> None:
            stage, cpu_before = "0/0", 0.0
            with log.open("rb") as said:
                while not done.is_set():
                    rss, cpu = _tree(proc)
                    for line in said.read().decode("utf-8", "replace").splitlines():
                        m = STAGE_LINE.match(line.strip())
                        if m and m[3] is not None:
                            stage, cpu_before = m[1], cpu
                    peak["tree"] = max(peak["tree"], rss)
                    stage_peaks[stage] = max(stage_peaks.get(stage, 0), rss)
                    stage_cpu[stage] = max(stage_cpu.get(stage, 0.0), cpu - cpu_before)
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
        "stages": _stages(log.read_text(encoding="utf-8", errors="replace"), stage_peaks, stage_cpu),
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


def measure(scale: int, workers: int | None, *, case: Path | None = None, out: Path | None = None,
            interval: float = 0.2) -> dict:
    """``forensics run`` on the scale-``scale`` case (generated if absent), in process or with
    ``--workers``: the result's ``key: value`` fields."""
    if case is None:
        from benchcases import generator_key

        case = REPO / "bench_data" / f"sample-scale{scale}-{generator_key()}"
    case = case.resolve()
    suffix = f"-workers{workers}" if workers else ""
    if out is None:
        # a cold run: the investigation's tables saved in an earlier run's folder are reused when
        # the code and evidence are the same, and would leave most of stage 2 out of the time
        out = REPO / "bench_data" / f"report-scale{scale}{suffix}"
        shutil.rmtree(out, ignore_errors=True)
    out = out.resolve()
    forensics = str(BIN / "forensics")
    result: dict = {"case": str(case), "scale": scale, "workers": workers or "in-process", "cpus": os.cpu_count(),
                    "machine": platform.machine()}
    if not (case / "case.yml").is_file():
        from benchcases import sample_case

        t = time.monotonic()
        if case.name.startswith(f"sample-scale{scale}-"):
            sample_case(scale, case.parent)
        else:
            subprocess.run([forensics, "sample", str(case), "--scale", str(scale)], check=True, cwd=REPO,
                           stdout=sys.stderr)  # stdout holds the result (JSON with --json)
        result["sample_s"] = round(time.monotonic() - t, 1)
    result["input_bytes"] = sum(p.stat().st_size for p in case.rglob("*") if p.is_file() and not p.is_symlink())
    out.mkdir(parents=True, exist_ok=True)
    cmd = [forensics, "run", str(case / "case.yml"), "--out", str(out), *(["--workers", str(workers)] if workers else [])]
    result["command"] = " ".join(cmd)
    result.update(run_measured(cmd, interval=interval, log=out.parent / f"{out.name}.log"))
    result["log"] = str(out.parent / f"{out.name}.log")
    result.update(compare_with_truth(case, out))
    return result


#: Targets: scale 100 end to end within these seconds and MiB (peak of the process tree); scale
#: 300 within the same peak (+10 %) and this many times scale 100's seconds.
TARGET_S, TARGET_MIB, TARGET_PEAK_GROWTH, TARGET_TIME_RATIO = 120, 3 * 1024, 1.10, 3.2


def _print(result: dict) -> None:
    for k, v in result.items():
        if k == "stages":
            for st in v:
                print(f"stage {st['stage']}: {st['seconds']} s, {st['cpu_s']} CPU-s, peak {st['peak_rss_tree_mib']} MiB "
                      f"({st['what']})")
        else:
            print(f"{k}: {v}")


def _table(results: list[dict]) -> None:
    """The runs side by side, and the targets."""
    print("\nruns side by side:")
    print(f"{'scale':>5}  {'engine':<12} {'wall s':>7} {'CPU s':>7} {'peak tree MiB':>13} {'largest MiB':>11}  matches_truth")
    for r in results:
        engine = r["workers"] if r["workers"] == "in-process" else f"{r['workers']} workers"
        print(f"{r['scale']:>5}  {engine:<12} {r['wall_s']:>7} {r['children_cpu_s']:>7} "
              f"{r['peak_rss_tree_mib']:>13} {r['max_rss_single_process_mib']:>11}  {r.get('matches_truth')}")
    base = next((r for r in results if r["scale"] == 100 and r["workers"] == "in-process"), None)
    big = next((r for r in results if r["scale"] == 300 and r["workers"] == "in-process"), None)
    if base is not None:
        ok = base["wall_s"] <= TARGET_S and base["peak_rss_tree_mib"] <= TARGET_MIB
        print(f"target scale 100: <= {TARGET_S} s and <= {TARGET_MIB} MiB: {'MET' if ok else 'NOT MET'}")
    if base is not None and big is not None:
        growth = big["peak_rss_tree_mib"] / base["peak_rss_tree_mib"]
        ratio = big["wall_s"] / base["wall_s"]
        ok = growth <= TARGET_PEAK_GROWTH and ratio <= TARGET_TIME_RATIO
        print(f"target scale 300: peak x{growth:.2f} of scale 100 (<= x{TARGET_PEAK_GROWTH}), time x{ratio:.2f} "
              f"(<= x{TARGET_TIME_RATIO}): {'MET' if ok else 'NOT MET'}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", nargs="+", default=["100"], metavar="SCALE[:WORKERS]",
                    help="runs, one after the other: 100 (in process), 100:2 (on a local Dask cluster of 2 workers)")
    ap.add_argument("--case", type=Path, default=None, help="case folder (one run only; default bench_data/sample-scale<N>-<key>)")
    ap.add_argument("--out", type=Path, default=None, help="report folder (one run only; default bench_data/report-scale<N>)")
    ap.add_argument("--interval", type=float, default=0.2, help="RSS sampling period, seconds")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if (args.case or args.out) and len(args.runs) != 1:
        ap.error("--case and --out name one run")
    results = []
    for spec in args.runs:
        scale, _, workers = spec.partition(":")
        if len(args.runs) == 1:
            result = measure(int(scale), int(workers) if workers else None, case=args.case, out=args.out,
                             interval=args.interval)
        else:  # each run measured by a process of its own: the children's CPU time and largest RSS are per run
            proc = subprocess.run([sys.executable, __file__, "--runs", spec, "--json", "--interval", str(args.interval)],
                                  capture_output=True, text=True, cwd=REPO)
            if not proc.stdout.strip():
                print(proc.stderr[-2000:], file=sys.stderr)
                return 1
            result = json.loads(proc.stdout)
        results.append(result)
        if args.json:
            print(json.dumps(result, indent=1))
        else:
            _print(result)
            print(flush=True)
    if not args.json:
        _table(results)
    ok = all(r["exit_code"] == 0 and r.get("matches_truth") in ("yes", "no truth.json") for r in results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
