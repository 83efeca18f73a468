"""The shipped sample case loads with zero rejects except the lines the generator planted.

Uses ``sample_data/toshomart-2017`` when it is there, else generates the case into a temp folder.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import polars as pl
import pytest

from forensics.case import open_case

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "sample_data" / "toshomart-2017" / "case.yml"


@pytest.fixture(scope="module")
def sample_yml(tmp_path_factory) -> Path:
    if SHIPPED.is_file():
        return SHIPPED
    try:
        from forensics.sample import write_sample_case
    except ImportError as exc:  # pragma: no cover
        pytest.skip(f"sample generator not available: {exc}")
    folder = tmp_path_factory.mktemp("sample") / "toshomart-2017"
    write_sample_case(folder)
    return folder / "case.yml"


def _lines(path: Path) -> int:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return data.count(b"\n") + (0 if not data or data.endswith(b"\n") else 1)


def test_only_planted_rejects(sample_yml):
    case = open_case(sample_yml)
    truth = json.loads((sample_yml.parent / "truth.json").read_text(encoding="utf-8"))
    planted = {(p["file"], p["line_no"]) for p in truth.get("planted_rejects", [])}
    rejects = case.rejects().collect()
    got = {(r["source"], r["line_no"]) for r in rejects.iter_rows(named=True)}
    assert got == planted, rejects.to_dicts()
    assert rejects["reason"].str.len_chars().min() > 5


def test_every_line_accounted_for(sample_yml):
    case = open_case(sample_yml)
    counts = case.record_counts()
    for row in counts.filter(pl.col("evidence").is_in(["access_logs", "app_logs", "query_logs", "fs_timeline"])).iter_rows(named=True):
        assert row["records"] + row["rejected"] == _lines(case.root / row["source"]), row
    assert case.available >= {"access_logs", "app_logs", "query_logs", "fs_timeline", "server_files", "db"}
    assert case.access_log().select(pl.col("ts").null_count()).collect().item() == 0
