"""Access-log loader benchmark (``make bench``): lines/s, ratio to a ``pl.scan_csv`` baseline, peak RSS.

Data: ``forensics sample --scale 100`` written into ``bench_data/`` (git-ignored) when the sample
generator is available; otherwise synthetic combined lines written by this script (``--synthetic``
forces that). The baseline reads the same files' lines with ``pl.scan_csv`` as a single column, no
parsing (gzip files are read through polars' own decompression). The loader parses, percent-decodes
and types every line (``iter_access_logs``: files streamed in bounded pieces, batches parsed in two
worker threads, each batch's table handed to the consumer and dropped), so peak memory does not grow
with the number or size of the log files.

Targets: >= 1.2 M lines/s, <= 4x the baseline's time.
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import polars as pl
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from forensics.loaders.access_log import iter_access_logs  # noqa: E402
from forensics.loaders.access_scan import warm_up  # noqa: E402

TARGET_LPS = 1_200_000
TARGET_RATIO = 4.0


class PeakRSS:
    """Samples this process's RSS every 10 ms in a thread."""

    def __init__(self):
        self.proc = psutil.Process()
        self.peak = self.proc.memory_info().rss
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.01)

    def __enter__(self):
        self.peak = self.proc.memory_info().rss
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)


def write_synthetic(folder: Path, lines: int, files: int, seed: int = 7) -> list[Path]:
    """Combined lines like a shop's traffic: Japanese search queries, SQLi probes, IPv6, gzip."""
    rnd = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = ["/", "/products/list.php", "/products/detail.php", "/cart/index.php", "/shopping/index.php",
             "/user_data/packages/default/css/style.css", "/admin/index.php", "/shopping/load_payment_module.php"]
    queries = ["", "?product_id=12", "?name=%E3%82%B3%E3%83%BC%E3%83%92%E3%83%BC&category_id=3",
               "?category_id=1+UNION+SELECT+1,2,3--", "?mode=search&name=%E6%9D%B1%E5%95%86", "?id=1%27%20OR%20%271%27=%271"]
    uas = ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/57.0 Safari/537.36",
           "Mozilla/5.0 (iPhone; CPU iPhone OS 10_2 like Mac OS X) AppleWebKit/602.1 Mobile/14C92", "sqlmap/1.1#stable (http://sqlmap.org)"]
    per = lines // files
    out = []
    for i in range(files):
        name = f"access_log-201703{i + 1:02d}" + (".gz" if i % 2 else "")
        rows = []
        for _ in range(per):
            ip = f"2001:db8::{rnd.randrange(1, 9999):x}" if rnd.random() < 0.1 else f"198.51.{rnd.randrange(256)}.{rnd.randrange(256)}"
            rows.append(
                f'{ip} - - [{i + 1:02d}/Mar/2017:{rnd.randrange(24):02d}:{rnd.randrange(60):02d}:{rnd.randrange(60):02d} +0900] '
                f'"{rnd.choice(["GET", "GET", "POST"])} {rnd.choice(paths)}{rnd.choice(queries)} HTTP/1.1" '
                f'{rnd.choice([200, 200, 302, 404])} {rnd.choice(["-", str(rnd.randrange(100000))])} '
                f'"https://toshomart.com/" "{rnd.choice(uas)}"\n'
            )
        data = "".join(rows).encode()
        p = folder / name
        p.write_bytes(gzip.compress(data, 1) if name.endswith(".gz") else data)
        out.append(p)
    return out


def sample_logs(folder: Path, scale: int) -> list[Path] | None:
    """Access logs of ``forensics sample --scale N`` (generated once per generator version into
    ``folder``: :mod:`benchcases`)."""
    from benchcases import sample_case

    try:
        case, _new = sample_case(scale, folder)
    except (OSError, subprocess.SubprocessError) as exc:
        print(f"bench: sample generator unavailable ({type(exc).__name__}); using synthetic lines", file=sys.stderr)
        return None
    from forensics.case import open_case

    return open_case(case / "case.yml").evidence.get("access_logs") or None


def baseline(paths: list[Path]) -> int:
    n = 0
    for p in paths:
        lf = pl.scan_csv(p, has_header=False, separator="\x1f", quote_char=None, schema={"line": pl.String},
                         truncate_ragged_lines=True, encoding="utf8-lossy")
        n += lf.select(pl.len()).collect().item() if False else lf.collect().height
    return n


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=int, default=100)
    ap.add_argument("--synthetic", action="store_true", help="use synthetic lines, not the sample generator")
    ap.add_argument("--lines", type=int, default=2_000_000, help="synthetic lines")
    ap.add_argument("--files", type=int, default=8, help="synthetic files")
    ap.add_argument("--data", default=str(ROOT / "bench_data"))
    args = ap.parse_args(argv)

    folder = Path(args.data)
    paths = None if args.synthetic else sample_logs(folder, args.scale)
    label = f"forensics sample --scale {args.scale}"
    if paths is None:
        syn = folder / f"synthetic-{args.lines}-{args.files}"
        paths = sorted(syn.glob("access_log-*")) if syn.exists() else []
        if len(paths) != args.files:
            shutil.rmtree(syn, ignore_errors=True)
            paths = write_synthetic(syn, args.lines, args.files)
        label = f"synthetic combined lines ({args.files} files, half gzip)"

    size = sum(p.stat().st_size for p in paths)
    print(f"data: {label}: {len(paths)} files, {size / 1e6:.1f} MB on disk, polars {pl.__version__}, "
          f"{os.cpu_count()} CPUs")

    # the scanner is compiled once per install (numba's on-disk cache); not part of the load's time
    print(f"log scanner compiled or loaded from its cache in {warm_up():.2f} s")
    load0 = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    n_base = baseline(paths)
    t_base, c_base = time.perf_counter() - t0, time.process_time() - c0

    with PeakRSS() as rss:
        rss0 = rss.peak
        t0, c0 = time.perf_counter(), time.process_time()
        records = rejected = lines = 0
        for batch in iter_access_logs(paths, show_progress=False):
            # a consumer would aggregate or write Parquet here; the bench only counts
            records += batch.records.height
            rejected += batch.rejects.height
            lines += int(batch.counts["records"].sum() + batch.counts["rejected"].sum())
        t_load, c_load = time.perf_counter() - t0, time.process_time() - c0
    lps = lines / t_load
    ratio = t_load / t_base
    print(f"baseline  pl.scan_csv, one column, no parsing:    {n_base:,} lines in {t_base:.2f} s ({n_base / t_base / 1e6:.2f} M lines/s)")
    print(f"loader    iter_access_logs (parse, decode, type): {lines:,} lines in {t_load:.2f} s ({lps / 1e6:.2f} M lines/s), "
          f"{records:,} records, {rejected:,} rejected")
    print(f"ratio to baseline: {ratio:.2f}x   peak RSS: {rss.peak / 2**20:.0f} MiB (+{(rss.peak - rss0) / 2**20:.0f} MiB during load)")
    # CPU seconds (all threads) say what the work costs when other jobs share the cores
    print(f"CPU: baseline {c_base:.1f} s, loader {c_load:.1f} s ({c_load / max(lines, 1) * 1e6:.2f} us/line); "
          f"load average {load0:.1f} before, {os.getloadavg()[0]:.1f} after, {os.cpu_count()} CPUs")
    ok = lps >= TARGET_LPS and ratio <= TARGET_RATIO
    print(f"targets: >= {TARGET_LPS / 1e6:.1f} M lines/s and <= {TARGET_RATIO:.0f}x baseline: {'MET' if ok else 'NOT MET'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
