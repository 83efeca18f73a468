"""Per-batch record accounting shared by the loaders."""

from __future__ import annotations

import polars as pl
import pytest

from forensics.loaders._common import batch_counts


def _records(sources: list[str | None], lines: list[int], keep: list[bool] | None = None) -> pl.DataFrame:
    df = pl.DataFrame({"source": sources, "_lines": lines}, schema={"source": pl.String, "_lines": pl.Int64})
    return df.with_columns(_keep=pl.Series(keep)) if keep is not None else df


def _by_source(counts: pl.DataFrame) -> dict:
    return {r["source"]: (r["records"], r["rejected"], r["rows"]) for r in counts.iter_rows(named=True)}


@pytest.mark.parametrize("sources", [["a"] * 4, ["a", "a", "b", "a"], ["b", "a", "a", "a"], [None, "a", "a", "a"]])
def test_batch_counts_per_source_whatever_the_batch_holds(sources):
    lines, keep = [1, 2, 1, 3], [True, False, True, True]
    rejects = pl.DataFrame({"source": ["a", "c"], "line_no": [9, 1]})
    got = batch_counts(_records(sources, lines, keep), rejects)
    expected: dict = {}
    for s, n, k in zip(sources, lines, keep, strict=True):
        rec, rej, rows = expected.get(s, (0, 0, 0))
        expected[s] = (rec + n, rej, rows + k)
    for s in ("a", "c"):
        rec, rej, rows = expected.get(s, (0, 0, 0))
        expected[s] = (rec, rej + 1, rows)
    summed = got.group_by("source").agg(pl.col("records", "rejected", "rows").sum())
    assert _by_source(summed) == expected
    assert got.schema == batch_counts(None, rejects).schema


def test_batch_counts_of_one_file_without_keep_counts_every_row():
    got = batch_counts(_records(["x"] * 3, [1, 1, 2]), pl.DataFrame(schema={"source": pl.String}))
    assert got.to_dicts() == [{"source": "x", "records": 4, "rejected": 0, "rows": 3}]
