"""Vectorised percent-decoding (polars has no URL decoder).

Decoding is one ``str.replace_many`` (Aho-Corasick) pass, no Python per row. Its pattern table
maps every ``%XX`` escape of an ASCII byte, and every percent-encoded *valid* two- and three-byte
UTF-8 sequence (the whole Basic Multilingual Plane, Japanese included), to its character, matching
hex digits case-insensitively. So:

- ``%E6%9D%B1`` becomes ``東``; ``%20`` a space; ``+`` a space in queries only;
- ``%25`` becomes a literal ``%`` and the pass runs once: ``%2541`` becomes ``%41`` (double
  encoding stays visible);
- an invalid sequence (``%FF``, a lone ``%E6%9D``, ``%2``, overlong forms, surrogates) matches no
  pattern and is kept as it is.

Four-byte sequences (emoji, rare kanji; ``%F0``..``%F4``) would need a million patterns; rows
holding one take a second route: the whole value written as hex (``%XX`` -> ``XX``, other ASCII
characters -> their code), checked with a UTF-8 regex and decoded with ``str.decode("hex")``; a row
that is not valid UTF-8 that way keeps the result of the first pass.

The pattern table is built once per process (about 0.1 s) and polars builds its automaton once per
call on a whole column, so decode eagerly, batch by batch, not in the streaming engine.
"""

from __future__ import annotations

import functools

import polars as pl


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


def percent_decode(expr: pl.Expr, *, plus_is_space: bool = False) -> pl.Expr:
    """Percent-decode a String expression once (rules in the module docstring).

    Examples
    --------
    >>> import polars as pl
    >>> df = pl.DataFrame({"q": ["a%20b", "%E6%9D%B1", "%2541", "%FFx", "a+b", "%F0%9F%98%80"]})
    >>> df.select(percent_decode(pl.col("q"), plus_is_space=True))["q"].to_list()
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
