import numpy as np
import pytest
from hypothesis import given, strategies as st

from forensics.newlines import count_newlines, nth_newline


@given(st.binary(max_size=300), st.data())
def test_count_and_nth_agree_with_python(data, draw):
    start = draw.draw(st.integers(0, len(data)))
    end = draw.draw(st.integers(start, len(data)))
    piece = data[start:end]
    assert count_newlines(data, start, end) == piece.count(b"\n")
    k = draw.draw(st.integers(0, piece.count(b"\n") + 1))
    offsets = [i for i, b in enumerate(piece) if b == 10]
    expected = start + offsets[k - 1] if 1 <= k <= len(offsets) else -1
    assert nth_newline(data, k, start, end) == expected


def test_buffers_other_than_bytes():
    arr = np.frombuffer(b"x\ny\n\nz", dtype=np.uint8)
    assert count_newlines(memoryview(arr)) == 3
    assert count_newlines(bytearray(b"\n\n"), 1) == 1
    assert nth_newline(b"ab\ncd\n", 2) == 5


@pytest.mark.parametrize("start, end", [(3, 3), (5, 2)])
def test_empty_range(start, end):
    assert count_newlines(b"a\nb\nc\n", start, end) == 0
    assert nth_newline(b"a\nb\nc\n", 1, start, end) == -1
