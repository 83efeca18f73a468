"""The SQLi detector on the committed corpus: real sqlmap traffic and public benign traffic.

The held-out part (sqlmap runs the rules were not tuned on, benign lines of odd line number) and
the validation part (other runs, made later) must keep recall >= 0.99 overall and >= 0.98 per
technique, and a false-positive rate <= 0.0001 on the public benign traffic
(``forensics.detectors.sqli_eval``; ``make eval`` prints its tables).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import polars as pl
import pytest

from forensics.detectors import sqli_eval

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "sqli_eval.py"


@pytest.fixture(scope="module")
def tables() -> dict[str, pl.DataFrame]:
    if not (sqli_eval.corpus_dir() / "sqlmap_access.log.gz").exists():
        pytest.skip("corpus not present")
    # the sample case's own traffic is measured by test_sample_case
    return sqli_eval.evaluate()


def test_corpus_covers_every_technique_and_both_parts(tables):
    att = tables["_attacks"]
    assert set(att["part"].unique()) == {"tune", "heldout", "validation"}
    by = att.group_by("technique", "part").len()
    for tech in ("boolean", "error", "union", "stacked", "time", "inline"):
        for part in ("tune", "heldout", "validation"):
            assert by.filter((pl.col("technique") == tech) & (pl.col("part") == part))["len"].sum() > 0, (tech, part)
    # no sqlmap run has lines in both parts
    assert att.group_by("run_id").agg(pl.col("part").n_unique())["part"].max() == 1
    assert tables["_benign"].height > 40_000


@pytest.mark.parametrize("part", ["heldout", "validation"])
def test_measured_targets(tables, part):
    assert sqli_eval.meets_targets(tables, part) == []
    assert sqli_eval.below_per_tamper_setting(tables, part) == []


def test_tune_targets(tables):
    assert sqli_eval.meets_targets(tables, "tune") == []


def test_measured_table_puts_the_parts_side_by_side(tables):
    t = sqli_eval.measured_table(tables)
    assert t.columns == ["measure", "tune", "heldout", "validation"]
    measures = t["measure"].to_list()
    assert measures[0] == "recall, every technique" and measures[-2:] == ["false-positive rate, public benign", "precision"]
    for tech in ("boolean", "error", "union", "stacked", "time", "inline"):
        assert f"recall, {tech}" in measures
    # the overall recall row is the evaluation's own figure, with its counts
    o = tables["overall"].filter(pl.col("part") == "heldout").row(0, named=True)
    assert t.row(0, named=True)["heldout"] == f"{o['recall']:.4f} ({o['hit']:,}/{o['n']:,})"


def test_measured_text_says_when_the_corpus_is_missing(tmp_path):
    text = sqli_eval.measured_text(tmp_path / "sqli_corpus")
    assert text.startswith("corpus not present")


def test_make_eval_prints_the_tables_and_verdicts(tables, capsys):
    spec = importlib.util.spec_from_file_location("sqli_eval_script", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.main(["--no-sample"]) == 0
    out = capsys.readouterr().out
    assert "## technique" in out and "heldout: every target met" in out
