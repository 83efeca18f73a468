"""Recall and false positives of the SQL-injection detector on the corpus (``make eval``).

The measurement itself is :mod:`forensics.detectors.sqli_eval` (the notebook 02 table comes from
it too); this script prints all its tables and adds the sample case's own traffic to the benign
lines when the sample is present (its requests that are not in its ``truth.json``).

Usage::

    .venv/bin/python scripts/sqli_eval.py                 # the tables, the parts side by side
    .venv/bin/python scripts/sqli_eval.py --throughput [--against REV]  # lines/s, also of an older detector
    .venv/bin/python scripts/sqli_eval.py --misses heldout  # the missed attack targets of a part

Targets on the held-out part: recall >= 0.99 overall and >= 0.98 per technique, false-positive
rate <= 0.0001 on the public benign traffic (the sample's own traffic is reported beside it).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from forensics.detectors.sqli import detect_sqli  # noqa: E402
from forensics.detectors.sqli_eval import (  # noqa: E402
    PARTS,
    access_frame,
    attack_lines,
    below_per_tamper_setting,
    corpus_dir,
    evaluate,
    meets_targets,
    request_targets,
)
from forensics.detectors.sqli_eval import benign_lines as public_benign_lines  # noqa: E402

CORPUS = corpus_dir()
SAMPLE = ROOT / "sample_data" / "toshomart-2017" / "case.yml"


def benign_lines(corpus: Path = CORPUS, sample: Path | None = SAMPLE) -> pl.DataFrame:
    """Benign lines: ``target, origin, part``: the public traffic and, when ``sample`` exists, the
    sample case's requests that are not in its truth.json."""
    b = public_benign_lines(corpus)
    if sample is None or not sample.exists():
        return b
    from forensics.case import open_case

    case = open_case(sample)
    truth = json.loads((sample.parent / "truth.json").read_text(encoding="utf-8"))
    attacks = pl.DataFrame(
        [(r["source"], int(r["line_no"])) for r in truth["sqli"]["requests"]], schema=["source", "line_no"], orient="row"
    )
    s = (
        case.access_log().select("source", "line_no", "target_raw").collect()
        .join(attacks, on=["source", "line_no"], how="anti")
        .select(
            pl.col("target_raw").alias("target"), origin=pl.lit("sample-toshomart-2017"),
            part=pl.when(pl.col("line_no") % 2 == 0).then(pl.lit("tune")).otherwise(pl.lit("heldout")),
        )
    )
    return pl.concat([b, s])


def _print(tables: dict[str, pl.DataFrame]) -> None:
    with pl.Config(tbl_rows=100, tbl_cols=20, float_precision=4, tbl_hide_dataframe_shape=True, fmt_str_lengths=40):
        for name in ("overall", "technique", "technique_tamper", "dbms", "tamper", "benign"):
            print(f"\n## {name}")
            print(tables[name])
    for part in PARTS:
        missed = meets_targets(tables, part)
        print(f"\n{part}: " + ("every target met" if not missed else "; ".join(missed)))
        low = below_per_tamper_setting(tables, part)
        print(f"{part}, each technique with and without tamper scripts: " + ("every group >= 0.98" if not low else "below 0.98: " + "; ".join(low)))


def _detector_at(rev: str):
    """``detect_sqli`` of ``forensics/detectors/sqli.py`` as it was at git revision ``rev``."""
    import importlib.util
    import subprocess
    import tempfile

    src = subprocess.run(["git", "show", f"{rev}:forensics/detectors/sqli.py"], cwd=ROOT, check=True, capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / f"sqli_{rev}.py"
    path.write_text(src, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(f"sqli_{rev}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.detect_sqli


def throughput(corpus: Path = CORPUS, *, against: str | None = None, repeat: int = 5) -> None:
    """lines/s of detect_sqli over every corpus line (attack lines with their probes, benign
    lines, the sample case's requests), best of ``repeat``; with ``against`` the detector of that
    git revision is timed too, the two in turn (the machine's load hits both alike)."""
    targets = pl.concat([
        request_targets(corpus / "sqlmap_access.log.gz")["target"],
        benign_lines(corpus, SAMPLE)["target"],
    ])
    frame = access_frame(targets)
    detectors = {"now": detect_sqli} | ({against: _detector_at(against)} if against else {})
    best = dict.fromkeys(detectors, float("inf"))
    for _ in range(repeat):
        for name, detect in detectors.items():
            t0 = time.perf_counter()
            detect(frame).collect()
            best[name] = min(best[name], time.perf_counter() - t0)
    for name, secs in best.items():
        print(f"detect_sqli ({name}): {len(frame):,} lines in {secs:.3f} s (best of {repeat}): {len(frame) / secs:,.0f} lines/s")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--throughput", action="store_true", help="time detect_sqli on every corpus line")
    ap.add_argument("--against", metavar="REV", help="with --throughput: also time the detector of this git revision")
    ap.add_argument("--misses", choices=PARTS, help="print the missed attack targets and benign hits of a part")
    ap.add_argument("--corpus", type=Path, default=CORPUS, help="folder of the corpus files")
    ap.add_argument("--no-sample", action="store_true", help="leave the sample case's traffic out")
    args = ap.parse_args(argv)
    if args.throughput:
        throughput(args.corpus, against=args.against)
        return 0
    tables = evaluate(attack_lines(args.corpus), benign_lines(args.corpus, None if args.no_sample else SAMPLE))
    if args.misses:
        with pl.Config(tbl_rows=400, fmt_str_lengths=300, tbl_width_chars=400):
            print(tables["_attacks"].filter((pl.col("part") == args.misses) & ~pl.col("flagged")).select("technique", "dbms", "tamper", "target"))
            print(tables["_benign"].filter((pl.col("part") == args.misses) & pl.col("flagged")).select("origin", "target"))
        return 0
    _print(tables)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
