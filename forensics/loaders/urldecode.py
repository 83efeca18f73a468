"""Vectorised percent-decoding (polars has no URL decoder).

Two implementations with the same result for every string (nulls stay null):

- :func:`percent_decode` (and :func:`percent_decode_series` on a Series): the one to use, a
  compiled kernel (numba, no GIL held) over the Arrow buffers of the column, one pass, no Python
  per row;
- :func:`percent_decode_table`: the definition, one ``str.replace_many`` (Aho-Corasick) pass over
  a table of about 63,000 patterns. Polars builds that automaton on every call (about 30 ms),
  which dominated loading access logs (one call per batch of new distinct requests); the tests
  hold the native decoder to it.

The table maps every ``%XX`` escape of an ASCII byte, and every percent-encoded *valid* two- and
three-byte UTF-8 sequence (the whole Basic Multilingual Plane, Japanese included), to its
character, matching hex digits case-insensitively; at a ``%``, the longest sequence that fits
wins. So:

- ``%E6%9D%B1`` becomes ``東``; ``%20`` a space; ``+`` a space in queries only (``plus_is_space``);
- ``%25`` becomes a literal ``%`` and the pass runs once: ``%2541`` becomes ``%41`` (double
  encoding stays visible);
- an invalid sequence (``%FF``, a lone ``%E6%9D``, ``%2``, overlong forms, surrogates) matches no
  pattern and is kept as it is.

Four-byte sequences (emoji, rare kanji; ``%F0``..``%F4``) would need a million patterns; rows
holding one (``%[fF][0-4]``) and only ASCII characters take a second route: every ``%XX`` (any
byte) decoded, ``+`` a space with ``plus_is_space``, and the result kept only when the whole of it
is valid UTF-8 (the table route writes the value as hex, checks it with :data:`UTF8_HEX` and
decodes it with ``str.decode("hex")``); a row that is not valid UTF-8 that way keeps the result of
the first pass.

Decoding never makes a value longer (``%XX`` -> one byte, ``+`` -> one space), so the kernel writes
into a buffer of the input's size. It is compiled on first use and cached next to this file.
The table route's pattern table is built once per process (about 0.1 s) and polars builds its
automaton once per call on a whole column, so if that route is ever used, decode eagerly, batch by
batch, not in the streaming engine.
"""

from __future__ import annotations

import functools

import numpy as np
import polars as pl
import pyarrow as pa

from forensics.loaders.native import inline, native, utf8_length


def _pct(data: bytes, upper: bool = True) -> str:
    return "".join(f"%{b:02X}" for b in data)


@functools.cache
def _table(plus_is_space: bool) -> tuple[pl.Series, pl.Series]:
    pats: list[str] = []
    reps: list[str] = []
    # Longest first: replace_many(leftmost=True) prefers the earlier pattern at a position.
    for lo, hi in ((0x800, 0xD800), (0xE000, 0x10000), (0x80, 0x800)):
        for cp in range(lo, hi):
            ch = chr(cp)
            pats.append(_pct(ch.encode("utf-8")))
            reps.append(ch)
    for b in range(0x80):
        pats.append(f"%{b:02X}")
        reps.append(chr(b))
    if plus_is_space:
        pats.append("+")
        reps.append(" ")
    return pl.Series(pats, dtype=pl.String), pl.Series(reps, dtype=pl.String)


@functools.cache
def _hex_table() -> tuple[list[str], list[str]]:
    pats: list[str] = []
    reps: list[str] = []
    for b in range(0x100):
        hx = f"{b:02x}"
        for v in sorted({f"%{h}{l}" for h in {hx[0], hx[0].upper()} for l in {hx[1], hx[1].upper()}}):
            pats.append(v)
            reps.append(hx)
    for c in range(0x80):
        pats.append(chr(c))
        reps.append(f"{c:02x}")
    return pats, reps


_C = "[89ab][0-9a-f]"
#: A run of valid UTF-8, written as lower-case hex.
UTF8_HEX = (
    "^(?:[0-7][0-9a-f]"
    f"|c[2-9a-f]{_C}|d[0-9a-f]{_C}"
    f"|e0[ab][0-9a-f]{_C}|e[1-9a-cef]{_C}{_C}|ed[89][0-9a-f]{_C}"
    f"|f0[9ab][0-9a-f]{_C}{_C}|f[1-3]{_C}{_C}{_C}|f48[0-9a-f]{_C}{_C}"
    ")*$"
)


def percent_decode_table(expr: pl.Expr, *, plus_is_space: bool = False) -> pl.Expr:
    """Percent-decode a String expression once (rules in the module docstring): the definition,
    by a table of patterns (an automaton built per call; use :func:`percent_decode`).

    Examples
    --------
    >>> import polars as pl
    >>> df = pl.DataFrame({"q": ["a%20b", "%E6%9D%B1", "%2541", "%FFx", "a+b", "%F0%9F%98%80"]})
    >>> df.select(percent_decode_table(pl.col("q"), plus_is_space=True))["q"].to_list()
    ['a b', '東', '%41', '%FFx', 'a b', '😀']
    """
    pats, reps = _table(plus_is_space)
    first = expr.str.replace_many(pl.lit(pats).implode(), pl.lit(reps).implode(), leftmost=True, ascii_case_insensitive=True)
    four = expr.str.contains("%[fF][0-4]")
    src = pl.when(four).then(expr)
    four = four & ~src.str.contains(r"[^\x00-\x7f]").fill_null(True)
    if plus_is_space:
        src = src.str.replace_all("+", "%20", literal=True)
    hpats, hreps = _hex_table()
    hexed = src.str.replace_many(hpats, hreps, leftmost=True)
    ok = hexed.str.contains(UTF8_HEX)
    second = pl.when(ok).then(hexed).str.decode("hex").cast(pl.String)
    return pl.when(four & ok).then(second).otherwise(first)


# ---- the native decoder -----------------------------------------------------------------------

_PERCENT = 0x25
_PLUS = 0x2B
_SPACE = 0x20


@inline
def _hex_digit(c):
    """Value of the ASCII hex digit ``c`` (either case), or -1."""
    c = np.int64(c)
    if 0x30 <= c <= 0x39:
        return c - 0x30
    c |= 0x20
    if 0x61 <= c <= 0x66:
        return c - 0x57
    return -1


@inline
def _escape_at(data, i, end):
    """The byte ``%XX`` at ``data[i]`` stands for (hex digits of either case), or -1."""
    if i + 2 >= end or data[i] != _PERCENT:
        return -1
    h = _hex_digit(data[i + 1])
    lo = _hex_digit(data[i + 2])
    if h < 0 or lo < 0:
        return -1
    return h * 16 + lo


@inline
def _first_pass(data, s, e, out, o, plus):
    """The table's pass over ``data[s:e]`` into ``out[o:]``: at each ``%``, a valid three-byte
    sequence, else a valid two-byte one, else an ASCII escape, else the ``%`` itself.

    Returns the output's end, and whether the value takes the second route too: only ASCII, and a
    ``%[fF][0-4]`` (never inside an escape decoded here, so always at a ``%`` this loop visits).
    """
    i = s
    ascii_only = True
    four = False
    while i < e:
        c = data[i]
        if c == _PERCENT:
            b1 = _escape_at(data, i, e)
            if 0xE0 <= b1 <= 0xEF:
                b2 = _escape_at(data, i + 3, e)
                lo = 0xA0 if b1 == 0xE0 else 0x80
                hi = 0x9F if b1 == 0xED else 0xBF
                if lo <= b2 <= hi:
                    b3 = _escape_at(data, i + 6, e)
                    if 0x80 <= b3 <= 0xBF:
                        out[o] = b1
                        out[o + 1] = b2
                        out[o + 2] = b3
                        o += 3
                        i += 9
                        continue
            elif 0xC2 <= b1 <= 0xDF:
                b2 = _escape_at(data, i + 3, e)
                if 0x80 <= b2 <= 0xBF:
                    out[o] = b1
                    out[o + 1] = b2
                    o += 2
                    i += 6
                    continue
            elif 0 <= b1 < 0x80:
                out[o] = b1
                o += 1
                i += 3
                continue
            elif 0xF0 <= b1 <= 0xF4:
                four = True
            out[o] = c
        elif c == _PLUS and plus:
            out[o] = _SPACE
        else:
            out[o] = c
            if c >= 0x80:
                ascii_only = False
        o += 1
        i += 1
    return o, four and ascii_only


@inline
def _all_escapes(data, s, e, out, o, plus):
    """Every ``%XX`` (any byte) of ``data[s:e]`` decoded into ``out[o:]``. Returns the end."""
    i = s
    while i < e:
        c = data[i]
        b = _escape_at(data, i, e) if c == _PERCENT else -1
        if b >= 0:
            out[o] = b
            i += 3
        else:
            out[o] = _SPACE if c == _PLUS and plus else c
            i += 1
        o += 1
    return o


@inline
def _valid_utf8(buf, s, e):
    """Whether ``buf[s:e]`` is valid UTF-8 for Python's decoder (no overlong forms, surrogates or
    code points above U+10FFFF)."""
    i = s
    while i < e:
        if buf[i] < 0x80:
            i += 1
            continue
        k = utf8_length(buf, i, e)
        if k == 0:
            return False
        i += k
    return True


@native
def _decode(offsets, data, out_offsets, out, plus):
    """Decode the ``offsets.size - 1`` values ``data[offsets[r]:offsets[r + 1]]`` into ``out``
    (at least as large as the values' bytes), their offsets into ``out_offsets`` (the same size
    as ``offsets``). Returns the bytes written."""
    o = 0
    out_offsets[0] = 0
    for r in range(offsets.size - 1):
        s = offsets[r]
        e = offsets[r + 1]
        start = o
        o, second = _first_pass(data, s, e, out, start, plus)
        if second:
            end = _all_escapes(data, s, e, out, start, plus)
            if _valid_utf8(out, start, end):
                o = end
            else:  # the first pass's result again (the second route wrote over it)
                o, second = _first_pass(data, s, e, out, start, plus)
        out_offsets[r + 1] = o
    return o


def _decode_arrow(arr: pa.Array, plus_is_space: bool) -> pa.Array:
    """The native decoder over an Arrow string array (any offset): a ``large_string`` array."""
    if arr.type != pa.large_string():
        arr = arr.cast(pa.large_string())
    n, base = len(arr), arr.offset
    if n == 0:
        return arr
    validity, offsets_buffer, data_buffer = arr.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64, count=base + n + 1)[base:]
    data = np.frombuffer(data_buffer if data_buffer is not None else b"\0", dtype=np.uint8)
    offsets.setflags(write=False)  # read-only either way: one compiled signature
    data.setflags(write=False)
    out_offsets = np.zeros(base + n + 1, dtype=np.int64)  # the first ``base`` are not read
    out = np.empty(max(int(offsets[-1] - offsets[0]), 1), dtype=np.uint8)  # never longer
    size = _decode(offsets, data, out_offsets[base:], out, plus_is_space)
    buffers = [validity, pa.py_buffer(out_offsets), pa.py_buffer(out[:size])]
    return pa.Array.from_buffers(pa.large_string(), n, buffers, null_count=arr.null_count, offset=base)


def percent_decode_series(s: pl.Series, plus_is_space: bool = False) -> pl.Series:
    """Percent-decode a String Series once, natively (rules in the module docstring; the same
    result as :func:`percent_decode_table`). Nulls stay null; the name is kept.

    Examples
    --------
    >>> import polars as pl
    >>> s = pl.Series("q", ["a%20b", "%e6%9d%b1", "%2541", "%FFx", "a+b", "%F0%9F%98%80", None])
    >>> percent_decode_series(s, plus_is_space=True).to_list()
    ['a b', '東', '%41', '%FFx', 'a b', '😀', None]
    """
    if s.dtype == pl.Null:
        return s.cast(pl.String)
    if s.dtype != pl.String:
        raise TypeError(f"percent_decode needs a String column, not {s.dtype}")
    arr = s.to_arrow()
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return pl.Series(s.name, _decode_arrow(arr, plus_is_space))


def percent_decode(expr: pl.Expr, *, plus_is_space: bool = False) -> pl.Expr:
    """Percent-decode a String expression once (rules in the module docstring), natively: the same
    result as :func:`percent_decode_table` without building its automaton.

    Examples
    --------
    >>> import polars as pl
    >>> df = pl.DataFrame({"q": ["a%20b", "%E6%9D%B1", "%2541", "%FFx", "a+b", "%F0%9F%98%80"]})
    >>> df.select(percent_decode(pl.col("q"), plus_is_space=True))["q"].to_list()
    ['a b', '東', '%41', '%FFx', 'a b', '😀']
    """
    return expr.map_batches(functools.partial(percent_decode_series, plus_is_space=plus_is_space), return_dtype=pl.String,
                            is_elementwise=True)
