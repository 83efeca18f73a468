"""Small named fixtures for the loaders: files written into tmp_path, read back."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest


@pytest.fixture
def write(tmp_path: Path):
    """write(name, text_or_bytes, gz=False) -> Path under tmp_path (the "case folder")."""

    def _write(name: str, content: str | bytes, gz: bool = False) -> Path:
        data = content.encode("utf-8") if isinstance(content, str) else content
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip.compress(data) if gz else data)
        return path

    return _write
