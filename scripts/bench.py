"""Access-log loader benchmark (``make bench``): lines/s, ratio to a ``pl.scan_csv`` baseline, peak RSS.

Data: ``forensics sample --scale 100`` written into ``bench_data/`` (git-ignored) when the sample
generator is available; otherwise synthetic combined lines written by this script (``--synthetic``
forces that). The baseline reads the same files' lines with ``pl.scan_csv`` as a single column, no
parsing (gzip files are read through polars' own decompression). The loader parses, percent-decodes
and types every line (``iter_access_logs``: files streamed in bounded pieces, batches parsed in two
worker threads, each batch's table handed to the consumer and dropped), so peak memory does not grow
with the number or size of the log files.

Targets: >= 1.2 M lines/s, <= 4x the baseline's time.

Then one row per access-log format, side by side: the first :data:`FORMAT_LINES` lines of the same
data written in each named format (``common`` as RHEL's ``ssl_access_log``, ``vhost_combined`` as
Debian's ``other_vhosts_access.log``, nginx's ``combined`` with ``\x22`` escapes in some user
agents), a custom nginx ``log_format`` with ISO times and request times, ``combined`` read by
its regex alone (``native=False``: the generated-regex path), and an Apache ``LogFormat`` with
several fields inside one pair of quotes (which only the regex reads). Each file is
detected or given its format, loaded, and compared with ``scan_csv`` of the same file (the faster
of its reads in this process and in a fresh process, since the loads before it slow it down here). Targets:
>= 1.5 M lines/s and <= 4x for the named formats; >= 0.4 M lines/s for the others. Last, the scan
pass alone on the named formats' files, interpreted and by each format's own kernel.
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

import numpy as np
import polars as pl
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from forensics.loaders import access_scan, scan_kernels  # noqa: E402
from forensics.loaders.access_log import file_formats, iter_access_logs  # noqa: E402
from forensics.loaders.access_log import warm_up  # noqa: E402
from forensics.loaders.logformat import compile_format  # noqa: E402

TARGET_LPS = 1_200_000
TARGET_RATIO = 4.0

#: Lines of each per-format file.
FORMAT_LINES = 2_000_000
NAMED_TARGET_LPS = 1_500_000
OTHER_TARGET_LPS = 400_000
_COMBINED = r'^(\S+) (\S+) (\S+) \[([^\]]+)\] "((?:[^"\\]|\\.)*)" (\d{3}) (\S+) "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)"$'
#: format name -> (definition given to the loader, or None to detect it; the line as written from
#: combined's groups 1 - 9: host, ident, user, time, request, status, size, referer, user agent).
FORMAT_WRITERS = {
    "combined": (None, "${1} ${2} ${3} [${4}] \"${5}\" ${6} ${7} \"${8}\" \"${9}\""),
    "common": (None, "${1} ${2} ${3} [${4}] \"${5}\" ${6} ${7}"),
    "vhost_combined": (None, "toshomart.com:443 ${1} ${2} ${3} [${4}] \"${5}\" ${6} ${7} \"${8}\" \"${9}\""),
    "nginx": ("nginx", "${1} - ${3} [${4}] \"${5}\" ${6} ${7} \"${8}\" \"${9}\""),
    "nginx custom (ISO time, request time)": (
        '$remote_addr - $remote_user [$time_iso8601] "$request" $status $body_bytes_sent "$http_referer" '
        '"$http_user_agent" $request_time',
        "${1} - ${3} [${4}] \"${5}\" ${6} ${7} \"${8}\" \"${9}\" 0.012"),
    "combined, by its regex alone": ("combined", "${1} ${2} ${3} [${4}] \"${5}\" ${6} ${7} \"${8}\" \"${9}\""),
    "apache \"%m %U%q %H\" (regex)": (
        '%h %l %u %t "%m %U%q %H" %>s %b "%{Referer}i" "%{User-Agent}i"',
        "${1} ${2} ${3} [${4}] \"${5}\" ${6} ${7} \"${8}\" \"${9}\""),
}
NAMED = ("combined", "common", "vhost_combined", "nginx")
#: The user agent quoted inside the nginx file's lines, as nginx's default escaping writes a quote
#: (``\x22``; nginx writes a backslash as ``\x5C``, so a doubled backslash never appears).
NGINX_QUOTED_UA = r"(KHTML, like \x22Gecko\x22)"


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


def fresh_baseline(path: Path, runs: int = 2) -> float:
    """``scan_csv`` of ``path`` as :func:`baseline` reads it, timed in a process of its own that
    does nothing else first (best of ``runs``): in this process, after the loads, the same read
    takes up to three times as long, which would flatter the loader's ratio."""
    code = (
        "import sys, time\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from bench import baseline\n"
        "best = float('inf')\n"
        f"for _ in range({runs}):\n"
        "    t0 = time.perf_counter()\n"
        "    baseline([sys.argv[1]])\n"
        "    best = min(best, time.perf_counter() - t0)\n"
        "print(best)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def format_files(folder: Path, paths: list[Path], lines: int) -> dict[str, tuple[str | None, Path]]:
    """The first ``lines`` lines of ``paths`` written once in each format of :data:`FORMAT_WRITERS`
    (plain files in ``folder``; rewritten when the line count or a writer changes)."""
    out = {}
    folder.mkdir(parents=True, exist_ok=True)
    stamp = folder / "written"  # what the files hold: rewritten when a writer or the line count changes
    key = repr((lines, FORMAT_WRITERS, NGINX_QUOTED_UA))
    fresh = not stamp.exists() or stamp.read_text() != key
    source = None
    for k, (name, (definition, template)) in enumerate(FORMAT_WRITERS.items()):
        p = folder / f"format-{k}.log"
        if fresh or not p.exists():
            if source is None:
                frames, got = [], 0
                for path in paths:
                    frame = pl.read_csv(path, has_header=False, separator="\x1f", quote_char=None, encoding="utf8-lossy",
                                        schema={"line": pl.String}, n_rows=lines - got)
                    frames.append(frame)
                    got += frame.height
                    if got >= lines:
                        break
                source = pl.concat(frames).filter(pl.col("line").str.contains(_COMBINED))
            line = pl.col("line").str.replace(_COMBINED, template)
            if name == "nginx":  # nginx writes 0 for no body, \x22 for a quote
                line = (line.str.replace(r'" (\d{3}) - "', r'" $1 0 "')
                        .str.replace("(KHTML, like Gecko)", NGINX_QUOTED_UA, literal=True))
            if name.startswith("nginx custom"):
                line = line.str.replace(
                    r"\[(\d\d)/(\w{3})/(\d{4}):(\d\d:\d\d:\d\d) ([+-]\d\d)(\d\d)\]", "[${3}-${2}-${1}T${4}${5}:${6}]")
                for number, month in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                                                "Nov", "Dec"), start=1):
                    line = line.str.replace(f"-{month}-", f"-{number:02d}-", literal=True)
            p.write_text(source.select(line.str.join("\n")).item() + "\n")
        out[name] = (definition, p)
    stamp.write_text(key)
    return out


def _load(p: Path, definition: str | None, native: bool = True) -> tuple[float, int, int]:
    t0 = time.perf_counter()
    lines = records = 0
    for batch in iter_access_logs([p], format=definition, show_progress=False, native=native):
        records += batch.records.height
        lines += int(batch.counts["records"].sum() + batch.counts["rejected"].sum())
    return time.perf_counter() - t0, lines, records


def format_rows(files: dict[str, tuple[str | None, Path]]) -> bool:
    """Load each per-format file against its baseline (best of three runs each, after one warm-up
    load; the baseline is the faster of its reads in this process and in a fresh one,
    :func:`fresh_baseline`); print the table; True when every target holds."""
    print(f"\nper format ({FORMAT_LINES:,} lines each, the same requests written in each format; best of 3 runs; "
          "scan_csv: the faster of this process and a fresh one):")
    print(f"{'format':42} {'detected':22} {'loader s':>9} {'M lines/s':>10} {'scan_csv s':>11} {'ratio':>6}  target")
    _load(next(iter(files.values()))[1], None)
    ok_all = True
    for name, (definition, p) in files.items():
        t_base = min(min(_timed(baseline, [p]) for _ in range(3)), fresh_baseline(p, runs=3))
        detected = file_formats([p], definition)[p].name + (" (given)" if definition else "")
        runs = [_load(p, definition, native="regex alone" not in name) for _ in range(3)]
        t_load, lines, records = min(runs)
        lps, ratio = lines / t_load, t_load / t_base
        named = name in NAMED
        ok = lps >= NAMED_TARGET_LPS and ratio <= TARGET_RATIO if named else lps >= OTHER_TARGET_LPS
        ok = ok and records == lines
        ok_all &= ok
        target = (f">= {NAMED_TARGET_LPS / 1e6:.1f} M/s, <= {TARGET_RATIO:.0f}x" if named
                  else f">= {OTHER_TARGET_LPS / 1e6:.1f} M/s")
        print(f"{name:42} {detected:22} {t_load:9.2f} {lps / 1e6:10.2f} {t_base:11.2f} {ratio:5.2f}x  {target}: "
              f"{'MET' if ok else 'NOT MET'}{'' if records == lines else f' ({lines - records:,} rejected)'}")
    return ok_all


def scan_rows(files: dict[str, tuple[str | None, Path]], batch_lines: int = 400_000) -> None:
    """The scan pass alone on each named format's file (its bytes in memory, scanned in blocks of
    the loader's batch size, one after the other in one thread): the interpreter
    (``access_scan._scan``) and the format's own kernel, ns per line, best of three."""
    print(f"\nscan pass alone (the file's bytes in memory, blocks of {batch_lines:,} lines, one thread; "
          "ns per line, best of 3):")
    print(f"{'format':42} {'interpreter':>12} {'own kernel':>11}")
    for name in NAMED:
        definition, p = files[name]
        program = access_scan.program_of(compile_format(definition or name))
        data = p.read_bytes()
        ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10) + 1  # each line's end
        cuts = [0, *ends[batch_lines - 1::batch_lines].tolist()]
        if cuts[-1] != ends[-1]:
            cuts.append(int(ends[-1]))
        counts = np.diff(np.searchsorted(ends, cuts, side="right")).tolist()
        blocks = [(data, a, b, n) for a, b, n in zip(cuts[:-1], cuts[1:], counts, strict=True)]
        kernel = scan_kernels.kernel_of(program)
        ns = [min(_timed(_scan_all, program, blocks, k) for _ in range(3)) / len(ends) * 1e9
              for k in (access_scan._scan, kernel)]
        print(f"{name:42} {ns[0]:12.0f} {ns[1]:11.0f}")


def _scan_all(program, blocks, kernel) -> None:
    for block in blocks:
        access_scan.scan_format(program, [block], kernel)


def _timed(fn, *args) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


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

    # the scanner and decoder are compiled once per install (numba's on-disk cache); not part of the load's time
    print(f"log scanner and percent decoder compiled or loaded from their cache in {warm_up():.2f} s")
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
    if not args.synthetic:
        files = format_files(folder / f"formats-{paths[0].parent.parent.parent.name}", paths, FORMAT_LINES)
        format_rows(files)
        scan_rows(files)
    return 0


if __name__ == "__main__":
    sys.exit(main())
