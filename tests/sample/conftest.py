"""Fixtures for the sample generator tests: one scale-1 case generated per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from forensics.sample import write_sample_case


@pytest.fixture(scope="session")
def generated_case(tmp_path_factory) -> Path:
    """A fresh scale-1 case with the default seed (about a second to write)."""
    return write_sample_case(tmp_path_factory.mktemp("sample") / "toshomart-2017")
