"""Read-only mapped windows of a file: the bytes, no open file held, unmapped when released."""

from __future__ import annotations

import gc
import os

import pyarrow as pa
import pytest

from forensics import filemap
from forensics.evidence import open_readonly

pytestmark = pytest.mark.skipif(not filemap.available(), reason="no C library mmap on this system")


def _mapped_paths() -> list[str]:
    with open("/proc/self/maps") as f:
        return [line.split(None, 5)[-1].strip() for line in f if len(line.split(None, 5)) == 6]


def test_a_window_holds_the_file_bytes_after_its_descriptor_is_closed(tmp_path):
    data = os.urandom(3 * filemap.GRANULARITY + 123)
    path = tmp_path / "a.log"
    path.write_bytes(data)
    with open_readonly(path) as f:
        whole = filemap.map_window(f.fileno(), 0, len(data))
        second = filemap.map_window(f.fileno(), filemap.GRANULARITY, len(data) - filemap.GRANULARITY)
    assert isinstance(whole, pa.Buffer) and not whole.is_mutable
    assert whole.to_pybytes() == data
    assert second.to_pybytes() == data[filemap.GRANULARITY:]
    assert bytes(memoryview(second)[5:10]) == data[filemap.GRANULARITY + 5 : filemap.GRANULARITY + 10]


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="needs /proc")
def test_a_window_is_unmapped_once_nothing_holds_it(tmp_path):
    path = tmp_path / "held.log"
    path.write_bytes(b"x" * 10_000)
    with open_readonly(path) as f:
        window = filemap.map_window(f.fileno(), 0, 10_000)
    piece = window.slice(100, 50)  # a slice keeps the mapping alive
    del window
    gc.collect()
    assert str(path) in _mapped_paths()
    assert piece.to_pybytes() == b"x" * 50
    del piece
    gc.collect()
    assert str(path) not in _mapped_paths()


def test_an_offset_off_the_granularity_is_refused(tmp_path):
    path = tmp_path / "a.log"
    path.write_bytes(b"x" * 100)
    with open_readonly(path) as f, pytest.raises(ValueError, match="multiple"):
        filemap.map_window(f.fileno(), 7, 10)
