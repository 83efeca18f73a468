"""Reproducibility (byte-identical output), isolation from the analysis code, and the CLI."""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

import pytest

import forensics.sample
from forensics.cli import main

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "sample_data" / "toshomart-2017"


def _digests(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_regenerated_case_is_byte_identical_to_the_shipped_one(generated_case):
    if not (SHIPPED / "case.yml").is_file():
        pytest.skip("sample_data/toshomart-2017 not generated yet")
    assert _digests(generated_case) == _digests(SHIPPED)


def test_same_seed_same_bytes_other_seed_other_bytes(generated_case, tmp_path):
    again = forensics.sample.write_sample_case(tmp_path / "again")
    assert _digests(again) == _digests(generated_case)
    other = forensics.sample.write_sample_case(tmp_path / "other", seed=7)
    assert _digests(other)["logs/httpd/access_log"] != _digests(generated_case)["logs/httpd/access_log"]


def test_shipped_case_is_small(generated_case):
    assert sum(p.stat().st_size for p in generated_case.rglob("*") if p.is_file()) < 25 * 1024 * 1024


def test_generator_imports_nothing_else_from_forensics():
    pkg = Path(forensics.sample.__file__).parent
    for src in sorted(pkg.glob("*.py")):
        tree = ast.parse(src.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                assert not any(a.name == "forensics" or a.name.startswith("forensics.") for a in node.names), src
            elif isinstance(node, ast.ImportFrom):
                mod = node.module or ""
                if node.level == 0:
                    assert not (mod == "forensics" or mod.startswith("forensics.")), (src, mod)
                else:
                    assert node.level == 1, (src, mod)   # only siblings inside forensics/sample


def test_cli_writes_a_case(tmp_path, capsys):
    assert main(["sample", str(tmp_path / "x"), "--seed", "20170331"]) == 0
    assert (tmp_path / "x" / "truth.json").is_file() and (tmp_path / "x" / "case.yml").is_file()
    assert "sample case written" in capsys.readouterr().out


def test_refuses_to_write_into_a_foreign_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError):
        forensics.sample.write_sample_case(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_options_same_bytes_and_default_untouched(generated_case, tmp_path):
    # every option, the access logs in one of the log_* formats (they exclude one another)
    every = sorted(o for o in forensics.sample.OPTIONS if not o.startswith("log_")) + ["log_w3c"]
    one = forensics.sample.write_sample_case(tmp_path / "one", options=every)
    two = forensics.sample.write_sample_case(tmp_path / "two", options=list(reversed(every)))
    assert _digests(one) == _digests(two)
    # an option adds to the case; without options the case is the default one
    assert _digests(one)["logs/httpd/access_log"] != _digests(generated_case)["logs/httpd/access_log"]


def test_cli_passes_options(tmp_path, capsys):
    assert main(["sample", str(tmp_path / "x"), "--option", "failed_upload", "--option", "brute_force"]) == 0
    truth = (tmp_path / "x" / "truth.json").read_text(encoding="utf-8")
    assert '"brute_force",\n      "failed_upload"' in truth
    assert main(["sample", str(tmp_path / "y"), "--option", "nosuch"]) == 2
    assert "unknown sample option" in capsys.readouterr().err
