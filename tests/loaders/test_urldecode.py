"""The native percent-decoder against its definition, the table route (``percent_decode_table``)."""

from __future__ import annotations

import random

import polars as pl
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forensics.loaders.urldecode import _decode_arrow, percent_decode, percent_decode_series, percent_decode_table


def table(values: list[str | None], plus_is_space: bool) -> list[str | None]:
    df = pl.DataFrame({"v": values}, schema={"v": pl.String})
    return df.select(percent_decode_table(pl.col("v"), plus_is_space=plus_is_space))["v"].to_list()


def native(values: list[str | None], plus_is_space: bool) -> list[str | None]:
    s = pl.Series("v", values, dtype=pl.String)
    by_series = percent_decode_series(s, plus_is_space=plus_is_space)
    assert by_series.name == "v" and by_series.dtype == pl.String
    by_expr = s.to_frame().select(percent_decode(pl.col("v"), plus_is_space=plus_is_space))["v"]
    assert by_expr.to_list() == by_series.to_list()
    return by_series.to_list()


def same(values: list[str | None]) -> None:
    for plus in (False, True):
        assert native(values, plus) == table(values, plus), f"plus_is_space={plus}"


# ---- examples -----------------------------------------------------------------------------------

EXAMPLES = [
    # (value, decoded, decoded with plus_is_space)
    ("a%20b", "a b", "a b"),
    ("%E6%9D%B1", "東", "東"),
    ("%e6%9D%b1x", "東x", "東x"),
    ("%2541", "%41", "%41"),
    ("%FFx", "%FFx", "%FFx"),
    ("a+b", "a+b", "a b"),
    ("%F0%9F%98%80", "😀", "😀"),
    ("%f0%9f%98%80+", "😀+", "😀 "),
    ("%E6%9D", "%E6%9D", "%E6%9D"),  # a lone lead
    ("%2", "%2", "%2"),
    ("%", "%", "%"),
    ("%%41", "%A", "%A"),
    ("%C0%80", "%C0%80", "%C0%80"),  # overlong
    ("%E0%80%80", "%E0%80%80", "%E0%80%80"),  # overlong
    ("%ED%A0%80", "%ED%A0%80", "%ED%A0%80"),  # a surrogate
    ("%F4%90%80%80", "%F4%90%80%80", "%F4%90%80%80"),  # above U+10FFFF
    ("%F0%80%80%80", "%F0%80%80%80", "%F0%80%80%80"),  # overlong four bytes
    ("%F0%9F%98%80%ff", "%F0%9F%98%80%ff", "%F0%9F%98%80%ff"),  # invalid: the first pass, no emoji
    ("%F0%9F%98%80%C3%A9", "😀é", "😀é"),
    ("%F0%9F%98%80é", "%F0%9F%98%80é", "%F0%9F%98%80é"),  # not only ASCII: no second route
    ("%F0%9F%98%80%2541", "😀%41", "😀%41"),
    ("%F0%9F%98%80%ZZ%2", "😀%ZZ%2", "😀%ZZ%2"),
    ("%41%F0", "A%F0", "A%F0"),
    ("%00a", "\x00a", "\x00a"),
    ("%C3%A9%c3%a9", "éé", "éé"),
    ("東%E6%9D%B1+", "東東+", "東東 "),
    ("", "", ""),
    (None, None, None),
]


@pytest.mark.parametrize("plus", [False, True])
def test_examples(plus):
    values = [v for v, _, _ in EXAMPLES]
    expected = [p if plus else d for _, d, p in EXAMPLES]
    assert native(values, plus) == expected
    assert table(values, plus) == expected


def test_empty_all_null_and_sliced():
    assert percent_decode_series(pl.Series("q", [], dtype=pl.String)).to_list() == []
    assert percent_decode_series(pl.Series("q", [None, None], dtype=pl.String)).to_list() == [None, None]
    assert percent_decode_series(pl.Series("q", [None, None])).dtype == pl.String  # dtype Null
    assert percent_decode_series(pl.Series("q", ["", "", None])).to_list() == ["", "", None]
    # an Arrow array with an offset, and the other string types
    arr = pa.array(["zz%41", "a+%41", None, "%F0%9F%98%80+", "%"], pa.large_string()).slice(1, 3)
    assert arr.offset == 1
    assert _decode_arrow(arr, True).to_pylist() == ["a A", None, "😀 "]
    for t in (pa.string(), pa.string_view()):
        assert _decode_arrow(arr.cast(t), False).to_pylist() == ["a+A", None, "😀+"]
    # several chunks
    s = pl.concat([pl.Series("q", ["%41", None]), pl.Series("q", ["%E6%9D%B1"])], rechunk=False)
    assert s.n_chunks() == 2
    assert percent_decode_series(s).to_list() == ["A", None, "東"]


def test_in_expressions():
    df = pl.DataFrame({"q": ["%2541", None, "a+b"], "t": [True, True, False]})
    got = df.select(pl.when(pl.col("t")).then(percent_decode(percent_decode(pl.col("q")))).otherwise(pl.col("q")))
    assert got["q"].to_list() == ["A", None, "a+b"]
    lazy = df.lazy().with_columns(d=percent_decode(pl.col("q"), plus_is_space=True)).collect(engine="streaming")
    assert lazy["d"].to_list() == ["%41", None, "a b"]


# ---- the native decoder is the table's result, for every string --------------------------------


def _encode(data: bytes, upper: list[bool]) -> str:
    hexed = data.hex()
    return "".join(("%" if k % 2 == 0 else "") + (c.upper() if up else c)
                   for k, (c, up) in enumerate(zip(hexed, upper + [False] * len(hexed))))


def _encodings(cp: int) -> list[bytes]:
    """UTF-8 of ``cp`` (surrogates too), and its overlong forms."""
    out = [chr(cp).encode("utf-8", "surrogatepass")]
    if cp < 0x80:
        out.append(bytes([0xC0 | cp >> 6, 0x80 | cp & 0x3F]))
    if cp < 0x800:
        out.append(bytes([0xE0, 0x80 | cp >> 6, 0x80 | cp & 0x3F]))
    if cp < 0x10000:
        out.append(bytes([0xF0, 0x80 | cp >> 12, 0x80 | cp >> 6 & 0x3F, 0x80 | cp & 0x3F]))
    return out


@st.composite
def escapes(draw) -> str:
    kind = draw(st.integers(0, 5))
    if kind == 0:  # any one byte
        data = bytes([draw(st.integers(0, 255))])
    elif kind == 1:  # a code point near the edges of the encodings, or above U+10FFFF
        edges = [0x7F, 0x80, 0x7FF, 0x800, 0xD7FF, 0xD800, 0xDFFF, 0xE000, 0xFFFF, 0x10000, 0x10FFFF]
        cp = draw(st.sampled_from(edges) | st.integers(0, 0x10FFFF))
        forms = _encodings(cp)
        data = draw(st.sampled_from(forms))
        if draw(st.booleans()) and cp > 0xFFFF:  # above U+10FFFF: F4 90.., F5..F7
            data = bytes([draw(st.sampled_from([0xF4, 0xF5, 0xF7])), draw(st.integers(0x80, 0xBF)), *data[2:]])
    elif kind == 2:  # any code point
        data = draw(st.sampled_from(_encodings(draw(st.integers(0, 0x10FFFF)))))
    elif kind == 3:  # a lead byte and random bytes after it
        lead = draw(st.sampled_from([0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xED, 0xEF, 0xF0, 0xF1, 0xF4, 0xF5]))
        data = bytes([lead, *draw(st.lists(st.integers(0x70, 0xC5), max_size=3))])
    elif kind == 4:  # an encoded percent sign and what follows it
        data = b"%"
    else:
        data = "😀".encode()
    text = _encode(data, draw(st.lists(st.booleans(), min_size=2 * len(data), max_size=2 * len(data))))
    if draw(st.integers(0, 4)) == 0:  # truncated
        text = text[: draw(st.integers(0, max(len(text) - 1, 0)))]
    return text


CHARS = st.sampled_from(list("%%%++0123456789abcdefABCDEFgGxX/=&? ") + ["é", "東", "😀", "\x00", "\x7f"])
PIECES = st.one_of(CHARS, escapes(), st.text(max_size=3))
VALUES = st.one_of(st.none(), st.lists(PIECES, max_size=12).map("".join))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(VALUES, min_size=1, max_size=40))
def test_native_is_the_table(values):
    same(values)


def _random_value(rng: random.Random) -> str:
    pieces = []
    for _ in range(rng.randint(0, 10)):
        k = rng.random()
        if k < 0.5:
            cp = rng.choice([rng.randint(0, 0x7F), rng.randint(0x80, 0x7FF), rng.randint(0x800, 0xFFFF),
                             rng.randint(0x10000, 0x10FFFF), rng.randint(0xD800, 0xDFFF)])
            data = rng.choice(_encodings(cp))
            if rng.random() < 0.1:
                data = bytes([rng.randint(0xF4, 0xF7), rng.randint(0x80, 0xBF), *data[2:]])
            text = _encode(data, [rng.random() < 0.5 for _ in range(2 * len(data))])
            if rng.random() < 0.15:
                text = text[: rng.randint(0, len(text))]
            pieces.append(text)
        elif k < 0.6:
            pieces.append(f"%{rng.randint(0, 255):02{rng.choice('xX')}}")
        else:
            pieces.append(rng.choice("%%++0aAfF4xg/= é東😀"))
    return "".join(pieces)


def test_native_is_the_table_in_bulk():
    rng = random.Random(20240611)
    values = [None if rng.random() < 0.02 else _random_value(rng) for _ in range(30_000)]
    same(values)


def test_native_is_the_table_on_every_two_byte_pair():
    # every %XX%YY, and the three- and four-byte leads with edge bytes after them
    rng = random.Random(7)
    pairs = [_encode(bytes([a, b]), [rng.random() < 0.5 for _ in range(4)]) for a in range(256) for b in range(256)]
    edges = [0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xFF]
    longer = [_encode(bytes([a, b, c, *d]), [rng.random() < 0.5 for _ in range(8)])
              for a in range(0xE0, 0x100) for b in edges for c in edges for d in ((), (0x80,), (0xBF,))]
    same(pairs + longer + [v + "é" for v in longer[::7]])
