"""MySQL statement text: a small tokenizer, the MySQL -> DuckDB rewrite for replaying SELECTs, and
a general parser for the data changes (INSERT / UPDATE / DELETE) the query log records.

Why not sqlglot: we only need tokens (strings with MySQL backslash escapes, backticks, hex
literals, comments) and the shapes EC-CUBE-like PHP issues with literal values; DuckDB itself is
the SQL engine and parser of record (``extract_statements`` confirms a statement is one SELECT).

Everything here is pure: text in, values out, no I/O.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from collections.abc import Mapping
from typing import Any

import polars as pl

from forensics.errors import RewriteError, TooLong

__all__ = [
    "CHANGE_KEYWORDS",
    "Token",
    "UNKNOWN",
    "Change",
    "tokenize",
    "first_keyword",
    "referenced_tables",
    "to_duckdb",
    "parse_change",
    "RewriteError",
]


class _Unknown:
    """A value the log does not tell (an expression, a subquery): never guessed silently."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()


@dataclass(frozen=True)
class Token:
    kind: str  # ws, comment, str, bt (backtick identifier), dq (double-quoted), hex, num, word, op
    text: str  # as written
    value: Any = None  # decoded value for str / dq / hex / num


_MYSQL_ESC = {"0": "\0", "'": "'", '"': '"', "b": "\b", "n": "\n", "r": "\r", "t": "\t",
              "Z": "\x1a", "\\": "\\"}

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<str>'(?:[^'\\]|\\.|'')*')                                            # MySQL string
  | (?P<dq>"(?:[^"\\]|\\.|"")*")                                             # "string" (no ANSI_QUOTES)
  | (?P<bt>`(?:[^`]|``)*`)                                                   # `identifier`
  | (?P<comment>--(?:[ \t][^\n]*)?(?:\n|$)|\#[^\n]*(?:\n|$)|/\*.*?(?:\*/|$))   # MySQL comments
  | (?P<hex>0x[0-9A-Fa-f]+\b|[Xx]'[0-9A-Fa-f]*')                            # hex literals
  | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<word>[A-Za-z_$][A-Za-z0-9_$]*(?:\.[A-Za-z_$][A-Za-z0-9_$]*|\.\*)*)   # a, t.col, t.*
  | (?P<op><=>|<>|!=|<=|>=|\|\||&&|[-+*/%=<>(),;.!~^&|@:?])
    """,
    re.VERBOSE | re.DOTALL,
)
_ESC_RE = re.compile(r"\\(.)", re.DOTALL)


def _unescape(m: re.Match) -> str:
    e = m.group(1)
    # \% and \_ keep their backslash (they are LIKE escapes in MySQL)
    return _MYSQL_ESC.get(e, ("\\" + e) if e in "%_" else e)


def _unquote(text: str) -> str:
    """Value of a quoted MySQL string: doubled quotes and backslash escapes undone, in one pass."""
    q = text[0]
    body = text[1:-1]
    if "\\" not in body and q + q not in body:
        return body
    return re.sub(r"\\(.)|" + re.escape(q + q), lambda m: _unescape(m) if m.group(1) is not None else q, body,
                  flags=re.DOTALL)


#: Longest statement tokenised (characters). Tokens take about 50 bytes of memory per character
#: of SQL, so a longer statement (only a bulk load or an attacker writes one) is reported as not
#: parsed instead of exhausting the memory.
MAX_PARSED_CHARS = 16 * 1024**2


def tokenize(sql: str) -> list[Token]:
    """Tokens of one MySQL statement; raises :class:`RewriteError` on text it cannot read
    (:class:`TooLong` over :data:`MAX_PARSED_CHARS`)."""
    if len(sql) > MAX_PARSED_CHARS:
        raise TooLong(f"statement of {len(sql):,} characters exceeds the parsing limit of {MAX_PARSED_CHARS:,}: not parsed")
    toks: list[Token] = []
    i, n = 0, len(sql)
    match = _TOKEN_RE.match
    while i < n:
        m = match(sql, i)
        if not m or m.end() == i:
            if sql[i] in "'\"`":
                raise RewriteError("unterminated quoted string")
            raise RewriteError(f"unreadable text at offset {i}: {sql[i:i + 20]!r}")
        kind = m.lastgroup
        text = m.group(0)
        value: Any = None
        if kind in ("str", "dq"):
            value = _unquote(text)
        elif kind == "bt":
            value = text[1:-1].replace("``", "`")
        elif kind == "hex":
            h = text[2:] if text[:2].lower() == "0x" else text[2:-1]
            if len(h) % 2:
                h = "0" + h
            value = bytes.fromhex(h).decode("utf-8", errors="replace")
        elif kind == "num":
            value = float(text) if any(ch in text for ch in ".eE") else int(text)
        toks.append(Token(kind, text, value))
        i = m.end()
    return toks


def _sig(toks: list[Token]) -> list[Token]:
    return [t for t in toks if t.kind not in ("ws", "comment")]


def first_keyword(sql: str) -> str:
    """Upper-cased first word of a statement (``SELECT``, ``UPDATE``...), "" when none."""
    try:
        toks = _sig(tokenize(sql))
    except RewriteError:
        m = re.match(r"\s*(?:/\*.{0,200}?\*/\s*)*\(?\s*([A-Za-z]+)", sql[:4096], re.S)
        return m.group(1).upper() if m else ""
    for t in toks:
        if t.kind == "op" and t.text == "(":
            continue
        return t.text.upper() if t.kind == "word" else ""
    return ""


def referenced_tables(sql: str, known: set[str] | None = None) -> set[str]:
    """Lower-cased table names a statement mentions: identifiers after FROM / JOIN / INTO /
    UPDATE, plus any identifier equal to a ``known`` table name."""
    try:
        toks = _sig(tokenize(sql))
    except RewriteError:
        return set()
    out: set[str] = set()
    known = {k.lower() for k in (known or set())}
    for k, t in enumerate(toks):
        if t.kind not in ("word", "bt"):
            continue
        name = (t.value if t.kind == "bt" else t.text).lower()
        parts = name.split(".")
        hits = [p for p in parts if p in known]
        out.update(hits)
        if not hits and k > 0 and toks[k - 1].kind == "word" and \
                toks[k - 1].text.upper() in ("FROM", "JOIN", "INTO", "UPDATE"):
            out.add(parts[-1])
    return out


# --------------------------------------------------------------------------------------------
# MySQL -> DuckDB rewrite for SELECTs
# --------------------------------------------------------------------------------------------

_NOW_WORDS = {"NOW", "SYSDATE", "CURRENT_TIMESTAMP", "LOCALTIME", "LOCALTIMESTAMP", "UTC_TIMESTAMP"}
_TODAY_WORDS = {"CURDATE", "CURRENT_DATE"}
_DROP_WORDS = {"SQL_CALC_FOUND_ROWS", "SQL_NO_CACHE", "SQL_CACHE", "HIGH_PRIORITY", "STRAIGHT_JOIN",
               "SQL_SMALL_RESULT", "SQL_BIG_RESULT", "SQL_BUFFER_RESULT"}


def _q(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def to_duckdb(sql: str, *, now_local: dt.datetime | None = None) -> str:
    """Rewrite one MySQL SELECT into DuckDB SQL.

    Backticks become double-quoted identifiers, MySQL strings (backslash escapes, double quotes)
    and hex literals become standard string literals, ``LIMIT a, b`` becomes ``LIMIT b OFFSET a``,
    ``NOW()`` and friends become the statement's own time (``now_local``, naive case-zone time, as
    MySQL would have evaluated it), comments and MySQL-only modifiers (``SQL_CALC_FOUND_ROWS``,
    ``FOR UPDATE``, ``LOCK IN SHARE MODE``) are dropped.

    Raises :class:`RewriteError` for anything that is not a single SELECT.
    """
    toks = _sig(tokenize(sql))
    while toks and toks[-1].kind == "op" and toks[-1].text == ";":
        toks.pop()
    if any(t.kind == "op" and t.text == ";" for t in toks):
        raise RewriteError("more than one statement")
    kw = [t.text.upper() for t in toks if t.kind == "word"][:1]
    if kw != ["SELECT"] or first_keyword(sql) != "SELECT":
        raise RewriteError(f"not a SELECT ({kw[0] if kw else 'empty'})")
    out: list[str] = []
    i = 0
    n = len(toks)
    while i < n:
        t = toks[i]
        up = t.text.upper() if t.kind == "word" else None
        if t.kind == "str" or t.kind == "dq" or t.kind == "hex":
            out.append(_q(t.value))
        elif t.kind == "bt":
            out.append('"' + t.value.replace('"', '""') + '"')
        elif up in _DROP_WORDS:
            pass
        elif up in _NOW_WORDS or up in _TODAY_WORDS:
            if now_local is None:
                raise RewriteError(f"{up} needs the statement time")
            if i + 2 < n and toks[i + 1].text == "(" and toks[i + 2].text == ")":
                i += 2
            if up in _TODAY_WORDS:
                out.append(f"DATE {_q(now_local.strftime('%Y-%m-%d'))}")
            else:
                out.append(f"TIMESTAMP {_q(now_local.strftime('%Y-%m-%d %H:%M:%S'))}")
        elif up == "LIMIT" and i + 3 < n and toks[i + 1].kind == "num" and toks[i + 2].text == "," \
                and toks[i + 3].kind == "num":
            out.append(f"LIMIT {toks[i + 3].text} OFFSET {toks[i + 1].text}")
            i += 3
        elif up == "FOR" and i + 1 < n and toks[i + 1].text.upper() == "UPDATE":
            i += 1
        elif up == "LOCK" and i + 3 < n and toks[i + 1].text.upper() == "IN":
            i += 3  # LOCK IN SHARE MODE
        else:
            out.append(t.text)
        i += 1
    return " ".join(out)


# --------------------------------------------------------------------------------------------
# Data changes
# --------------------------------------------------------------------------------------------


@dataclass
class Change:
    """One parsed data change: ``op`` insert / update / delete on ``table`` for rows ``pks``
    (primary-key values), setting ``values`` (column -> literal value, or :data:`UNKNOWN`)."""

    op: str
    table: str
    pks: list[Any] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)  # INSERT: one dict per VALUES tuple
    error: str | None = None  # why the change could not be applied (then pks may be empty)


def _split_top(toks: list[Token], sep: str = ",") -> list[list[Token]]:
    parts: list[list[Token]] = [[]]
    depth = 0
    for t in toks:
        if t.kind == "op" and t.text == "(":
            depth += 1
        elif t.kind == "op" and t.text == ")":
            depth -= 1
        if depth == 0 and ((t.kind == "op" and t.text == sep) or (t.kind == "word" and t.text.upper() == sep)):
            parts.append([])
        else:
            parts[-1].append(t)
    return parts


def _literal(toks: list[Token], now_local: dt.datetime | None) -> Any:
    """Value of a literal expression (string, number, NULL, NOW()...), else :data:`UNKNOWN`."""
    if len(toks) == 1:
        t = toks[0]
        if t.kind in ("str", "dq", "hex", "num"):
            return t.value
        if t.kind == "word":
            up = t.text.upper()
            if up == "NULL":
                return None
            if up in ("TRUE", "FALSE"):
                return int(up == "TRUE")
            if up in _NOW_WORDS and now_local is not None:
                return now_local
    if len(toks) == 2 and toks[0].text in "+-" and toks[1].kind == "num":
        return -toks[1].value if toks[0].text == "-" else toks[1].value
    if len(toks) == 3 and toks[0].kind == "word" and toks[0].text.upper() in _NOW_WORDS \
            and toks[1].text == "(" and toks[2].text == ")" and now_local is not None:
        return now_local
    return UNKNOWN


def _col(t: Token) -> str | None:
    if t.kind == "bt":
        return t.value.split(".")[-1].lower()
    if t.kind == "word":
        return t.text.split(".")[-1].lower()
    return None


def _where_pks(toks: list[Token], pk: str) -> list[Any] | None:
    """Primary-key values a WHERE names (``pk = N``, ``pk IN (...)``, ANDed with anything)."""
    for part in _split_top(toks, "AND"):
        part = [t for t in part if not (t.kind == "op" and t.text in "()")] if len(part) == 3 else part
        if len(part) >= 3 and _col(part[0]) == pk:
            if part[1].text == "=":
                v = _literal(part[2:], None)
                if v is not UNKNOWN and v is not None:
                    return [v]
            if part[1].kind == "word" and part[1].text.upper() == "IN" and part[2].text == "(":
                inner = part[3:-1] if part[-1].text == ")" else None
                if inner is not None:
                    vals = [_literal(p, None) for p in _split_top(inner)]
                    if all(v is not UNKNOWN and v is not None for v in vals):
                        return vals
    return None


def norm_pk(v: Any) -> Any:
    """A primary-key value as the changes are keyed by: digits (a string of them, a whole float)
    as an int, anything else as it is."""
    if isinstance(v, str) and re.fullmatch(r"-?\d+", v.strip()):
        return int(v)
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


_TARGET_RE = re.compile(
    r"\s*(?:/\*.{0,200}?\*/\s*)*(?:(?:INSERT|REPLACE)(?:\s+(?:LOW_PRIORITY|DELAYED|HIGH_PRIORITY|IGNORE))*(?:\s+INTO)?"
    r"|UPDATE(?:\s+(?:LOW_PRIORITY|IGNORE))*|DELETE(?:\s+(?:LOW_PRIORITY|QUICK|IGNORE))*\s+FROM)\s+"
    r"(?:`?\w{1,64}`?\.)?`?(\w{1,64})`?",
    re.I | re.S,
)


def _change_target(sql: str) -> str | None:
    """The table a data change names right after its keyword, read from the statement's head only
    (for a statement too long to tokenise)."""
    m = _TARGET_RE.match(sql[:4096])
    return m.group(1).lower() if m else None


#: First words of the statements that change data (what :func:`parse_change` reads).
CHANGE_KEYWORDS = ("INSERT", "REPLACE", "UPDATE", "DELETE")


# --- the shapes a shop's code writes, read without the tokenizer ---------------------------------
# ``UPDATE t SET c = v, ... WHERE pk = v`` and ``INSERT INTO t (c, ...) VALUES (v, ...)`` with
# plain identifiers and one literal per value are nearly every change a shop logs. They are read
# piece by piece with the tokenizer's own token expressions, each piece matched where the last
# ended; anything else (a comment, an expression, a second row, a modifier) leaves the statement
# to the tokenizer, which reads every statement the same way.

#: A literal value as one token (``NOW()`` as three): a quoted string, a number with an optional
#: sign, or a word :func:`_literal` gives a value.
_LITERAL_TEXT = (r"(?P<s>'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.|\"\")*\")"
                 r"|(?P<n>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
                 r"|(?P<w>NULL|TRUE|FALSE|" + "|".join(sorted(_NOW_WORDS)) + r")(?P<call>\s*\(\s*\))?")
#: An identifier as the tokenizer reads one word or backtick name (no ``$``, no qualifier).
_IDENT_TEXT = r"(?P<q>`?)(?P<id>[A-Za-z_][A-Za-z0-9_]*)(?P=q)"
#: After a literal: not the start of more of the same token (``1e``, ``NOW_X``, ``'a''``).
_END = r"(?![A-Za-z0-9_$.'\"`])"
_SIMPLE_HEAD = re.compile(
    r"\s*(?:(?P<update>UPDATE)|(?P<insert>INSERT|REPLACE)\s+INTO)\s+" + _IDENT_TEXT + r"\s*", re.I)
_SIMPLE_SET = re.compile(r"SET\s+", re.I)
_SIMPLE_ASSIGN = re.compile(_IDENT_TEXT + r"\s*=\s*(?:" + _LITERAL_TEXT + ")" + _END + r"\s*(?P<more>,\s*)?",
                            re.I | re.S)
_SIMPLE_WHERE = re.compile(r"WHERE\s+", re.I)
_SIMPLE_END = re.compile(r"[\s;]*\Z")
_SIMPLE_COLUMN = re.compile(_IDENT_TEXT + r"\s*(?P<more>,\s*)?")
_SIMPLE_OPEN = re.compile(r"\(\s*")
_SIMPLE_VALUES = re.compile(r"\)\s*VALUES?\s*\(\s*", re.I)
_SIMPLE_VALUE = re.compile(r"(?:" + _LITERAL_TEXT + ")" + _END + r"\s*(?P<more>,\s*)?", re.I | re.S)
#: Not a simple change: the tokenizer reads it.
_NOT_SIMPLE: Any = object()
#: Words the tokenizer's reading of a change looks for (where its SET list or WHERE ends, the
#: modifiers it skips before a table): a plain identifier spelled so is left to it.
_SIMPLE_RESERVED = frozenset({"WHERE", "ORDER", "LIMIT", "AND", "OR", "SET", "VALUES", "VALUE", "ON", "DUPLICATE",
                              "LOW_PRIORITY", "DELAYED", "HIGH_PRIORITY", "IGNORE", "INTO", "FROM", "QUICK"})


def _reserved(m: re.Match) -> bool:
    """Whether the identifier ``m`` matched is a plain word the tokenizer's reading treats as a keyword."""
    return not m["q"] and m["id"].upper() in _SIMPLE_RESERVED


def _literal_of(m: re.Match, now_local: dt.datetime | None) -> Any:
    """The value :func:`_literal` gives the literal matched by :data:`_LITERAL_TEXT`."""
    if m["s"] is not None:
        return _unquote(m["s"])
    if m["n"] is not None:
        text = m["n"]
        sign, text = (text[0], text[1:]) if text[0] in "+-" else ("", text)
        v = float(text) if any(ch in text for ch in ".eE") else int(text)
        return -v if sign == "-" else v
    up = m["w"].upper()
    if m["call"] is not None and up not in _NOW_WORDS:
        return _NOT_SIMPLE  # NULL(): not a literal
    if up == "NULL":
        return None
    if up in ("TRUE", "FALSE"):
        return int(up == "TRUE")
    return now_local if now_local is not None else UNKNOWN


def _simple_list(pattern: re.Pattern, sql: str, pos: int, read) -> tuple[list, int] | None:
    """Items of a comma-separated list matched one after the other from ``pos`` (``read(m)``
    each): (items, end), or None when something else is there."""
    items = []
    while True:
        m = pattern.match(sql, pos)
        if m is None:
            return None
        items.append(read(m))
        pos = m.end()
        if m["more"] is None:
            return items, pos


def _simple_change(sql: str, pk_of: Mapping[str, str], now_local: dt.datetime | None) -> Change | None:
    """:func:`parse_change` of a statement of the simple shapes, or :data:`_NOT_SIMPLE`. The whole
    statement is read before its table is looked at: only then is it sure the tokenizer reads it
    too (and gives None for a table not in ``pk_of``)."""
    head = _SIMPLE_HEAD.match(sql)
    if head is None or _reserved(head):
        return _NOT_SIMPLE
    table = head["id"].lower()
    pos = head.end()
    if head["update"] is not None:
        m = _SIMPLE_SET.match(sql, pos)
        got = m and _simple_list(_SIMPLE_ASSIGN, sql, m.end(),
                                 lambda a: (a["id"].lower(), _NOT_SIMPLE if _reserved(a) else _literal_of(a, now_local)))
        w = got and _SIMPLE_WHERE.match(sql, got[1])
        key = w and _SIMPLE_ASSIGN.match(sql, w.end())
        if not key or key["more"] is not None or not _SIMPLE_END.match(sql, key.end()):
            return _NOT_SIMPLE
        value = _NOT_SIMPLE if _reserved(key) else _literal_of(key, None)
        if any(v is _NOT_SIMPLE for _, v in got[0]) or value is _NOT_SIMPLE:
            return _NOT_SIMPLE
        if table not in pk_of:
            return None
        if key["id"].lower() != pk_of[table] or value is None or value is UNKNOWN:
            return _NOT_SIMPLE
        return Change("update", table, pks=[norm_pk(value)], values=dict(got[0]))
    m = _SIMPLE_OPEN.match(sql, pos)
    cols = m and _simple_list(_SIMPLE_COLUMN, sql, m.end(), lambda c: None if _reserved(c) else c["id"].lower())
    m = cols and _SIMPLE_VALUES.match(sql, cols[1])
    vals = m and _simple_list(_SIMPLE_VALUE, sql, m.end(), lambda v: _literal_of(v, now_local))
    if not vals or not sql.startswith(")", vals[1]) or not _SIMPLE_END.match(sql, vals[1] + 1):
        return _NOT_SIMPLE
    if len(cols[0]) != len(vals[0]) or None in cols[0] or any(v is _NOT_SIMPLE for v in vals[0]):
        return _NOT_SIMPLE
    if table not in pk_of:
        return None
    row = dict(zip(cols[0], vals[0], strict=True))
    key = row.get(pk_of[table], UNKNOWN)
    if key is UNKNOWN or key is None:
        return _NOT_SIMPLE
    return Change("insert", table, pks=[norm_pk(key)], rows=[row])


def parse_change(sql: str, pk_of: dict[str, str], *, now_local: dt.datetime | None = None) -> Change | None:
    """Parse an INSERT / REPLACE / UPDATE / DELETE on a table of ``pk_of`` (table -> pk column).

    Returns None for statements that are not data changes or touch other tables; a
    :class:`Change` with ``error`` set when the change cannot be applied row by row.
    """
    if len(sql) <= MAX_PARSED_CHARS:
        simple = _simple_change(sql, pk_of, now_local)
        if simple is not _NOT_SIMPLE:
            return simple
    return _tokenized_change(sql, pk_of, now_local=now_local)


def _tokenized_change(sql: str, pk_of: Mapping[str, str], *, now_local: dt.datetime | None = None) -> Change | None:
    """:func:`parse_change` by the tokenizer (every statement)."""
    try:
        toks = _sig(tokenize(sql))
    except RewriteError as e:
        kw = first_keyword(sql)
        if kw in CHANGE_KEYWORDS:
            tabs = ({t for t in (_change_target(sql),) if t} if isinstance(e, TooLong)
                    else referenced_tables(sql, set(pk_of))) & set(pk_of)
            if tabs:
                return Change(kw.lower(), sorted(tabs)[0], error=str(e))
        return None
    while toks and toks[-1].text == ";":
        toks.pop()
    if not toks or toks[0].kind != "word":
        return None
    kw = toks[0].text.upper()
    if kw not in CHANGE_KEYWORDS:
        return None
    i = 1
    while i < len(toks) and toks[i].kind == "word" and toks[i].text.upper() in (
            "LOW_PRIORITY", "DELAYED", "HIGH_PRIORITY", "IGNORE", "INTO", "FROM", "QUICK"):
        i += 1
    if i >= len(toks):
        return None
    table = _col(toks[i]) if toks[i].kind in ("word", "bt") else None
    if table is None:
        return None
    full = (toks[i].value if toks[i].kind == "bt" else toks[i].text).lower()
    table = full.split(".")[-1]
    if table not in pk_of:
        return None
    pk = pk_of[table]
    rest = toks[i + 1 :]
    op = "insert" if kw in ("INSERT", "REPLACE") else kw.lower()
    ch = Change(op, table)
    upper = [t.text.upper() if t.kind == "word" else None for t in rest]

    def assignments(ts: list[Token]) -> dict[str, Any] | None:
        vals: dict[str, Any] = {}
        for part in _split_top(ts):
            if len(part) < 3 or part[1].text != "=" or _col(part[0]) is None:
                return None
            vals[_col(part[0])] = _literal(part[2:], now_local)
        return vals

    if op == "insert":
        if rest and rest[0].text == "(":
            depth, j = 0, 0
            for j, t in enumerate(rest):
                depth += t.text == "(" if t.kind == "op" else 0
                depth -= t.text == ")" if t.kind == "op" else 0
                if depth == 0:
                    break
            cols = [_col(p[0]) if len(p) == 1 else None for p in _split_top(rest[1:j])]
            after = rest[j + 1 :]
            if not after or after[0].kind != "word" or after[0].text.upper() not in ("VALUES", "VALUE"):
                ch.error = "INSERT without a VALUES list (INSERT ... SELECT)"
                return ch
            body = after[1:]
            # cut ON DUPLICATE KEY UPDATE
            for k, t in enumerate(body):
                if t.kind == "word" and t.text.upper() == "ON" and k + 1 < len(body) and body[k + 1].text.upper() == "DUPLICATE":
                    body = body[:k]
                    ch.error = "INSERT ... ON DUPLICATE KEY UPDATE: effect depends on existing rows"
                    break
            for tup in _split_top(body):
                if not tup or tup[0].text != "(" or tup[-1].text != ")":
                    ch.error = "VALUES tuple not understood"
                    return ch
                vals = [_literal(p, now_local) for p in _split_top(tup[1:-1])]
                if len(vals) != len(cols) or None in cols:
                    ch.error = "column list and VALUES differ in length"
                    return ch
                ch.rows.append(dict(zip(cols, vals)))
        elif upper and upper[0] == "SET":
            vals = assignments(rest[1:])
            if vals is None:
                ch.error = "INSERT ... SET not understood"
                return ch
            ch.rows.append(vals)
        else:
            ch.error = "INSERT form not understood (no column list)"
            return ch
        for r in ch.rows:
            v = r.get(pk, UNKNOWN)
            if v is UNKNOWN or v is None:
                ch.error = f"INSERT does not give {pk} as a literal (auto-increment?)"
            ch.pks.append(norm_pk(v) if v is not UNKNOWN else None)
        return ch

    if op == "update":
        if "SET" not in upper:
            ch.error = "UPDATE without SET"
            return ch
        s = upper.index("SET")
        w = upper.index("WHERE") if "WHERE" in upper else None
        set_toks = rest[s + 1 : w]
        for k, u in enumerate(upper[s + 1 : w]):
            if u in ("ORDER", "LIMIT"):
                set_toks = rest[s + 1 : s + 1 + k]
                break
        vals = assignments(set_toks)
        if vals is None:
            ch.error = "SET list not understood"
            return ch
        ch.values = vals
        where = rest[w + 1 :] if w is not None else []
    else:  # delete
        w = upper.index("WHERE") if "WHERE" in upper else None
        where = rest[w + 1 :] if w is not None else []
    if w is None:
        ch.error = "no WHERE: every row changed"
        return ch
    for k, t in enumerate(where):
        if t.kind == "word" and t.text.upper() in ("ORDER", "LIMIT"):
            where = where[:k]
            break
    pks = _where_pks(where, pk)
    if pks is None:
        ch.error = f"WHERE does not name rows by {pk}"
        return ch
    ch.pks = [norm_pk(v) for v in pks]
    return ch


#: A single-row ``INSERT``/``REPLACE ... (columns) VALUES (...)`` whose column names are plain
#: identifiers: the table, the column list and the values' text.
_SIMPLE_INSERT = (
    r"(?is)^\s*(?:INSERT|REPLACE)(?:\s+(?:LOW_PRIORITY|DELAYED|HIGH_PRIORITY|IGNORE))*(?:\s+INTO)?\s+"
    r"(?:`?\w{1,64}`?\.)?`?(?P<_table>\w{1,64})`?\s*\((?P<_cols>[\s\w`,]+)\)\s*VALUES?\s*\((?P<_vals>.*)\)[\s;]*$"
)
#: A quoted string (either quote, backslash and doubled-quote escapes) of a VALUES list.
_QUOTED_VALUE = r"'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.|\"\")*\""
#: One value of a VALUES list: a quoted string, or text without a comma, quote or space at its ends.
_VALUE = _QUOTED_VALUE + r"|[^,'\"\s](?:[^,'\"]*[^,'\"\s])?"


def simple_insert_keys(statements: pl.DataFrame, pk_of: Mapping[str, str]) -> pl.DataFrame:
    """The primary key each simple logged INSERT gives, read over all of them at once (no
    tokenizer): ``statements`` (with ``argument``) with ``_table`` (lower case) and ``_pk`` (the
    key's text: its digits, or the text inside its quotes), both null where the statement is not
    a single-row INSERT into a table of ``pk_of`` with a column list naming its key, whose values
    split into as many as its columns with no parenthesis outside quotes, and whose key is
    digits or a quoted string without escapes. :func:`parse_change` reads the same key (with
    :func:`norm_pk`) from every statement this reads one from; the others need it. Read in
    slices of :data:`INSERT_SLICE_ROWS` statements: the values are split into lists, a slice at a
    time."""
    if statements.height > INSERT_SLICE_ROWS:
        return pl.concat([_simple_insert_keys(statements.slice(at, INSERT_SLICE_ROWS), pk_of)
                          for at in range(0, statements.height, INSERT_SLICE_ROWS)])
    return _simple_insert_keys(statements, pk_of)


#: Logged INSERTs whose values are split at once by :func:`simple_insert_keys`.
INSERT_SLICE_ROWS = 50_000


def _simple_insert_keys(statements: pl.DataFrame, pk_of: Mapping[str, str]) -> pl.DataFrame:
    pks = dict(pk_of)
    m = statements.select(m=pl.col("argument").str.extract_groups(_SIMPLE_INSERT)).unnest("m")
    cols = (m["_cols"].str.split(",").list.eval(pl.element().str.strip_chars(" \t\r\n`").str.to_lowercase())
            .alias("_cols"))
    vals = m["_vals"]
    bare = vals.str.replace_all(_QUOTED_VALUE, "''")  # the values' text outside quotes
    frame = pl.DataFrame({
        "_table": m["_table"].str.to_lowercase(), "_cols": cols,
        "_vals": vals.str.extract_all(_VALUE),
        "_ok": (bare.str.count_matches(",") == cols.list.len() - 1) & ~bare.str.contains(r"[()]"),
    })
    frame = frame.with_columns(_ok=pl.col("_ok").fill_null(False) & (pl.col("_vals").list.len() == pl.col("_cols").list.len()))
    out = pl.Series("_pk", [None] * frame.height, dtype=pl.String)
    for table, pk in pks.items():
        rows = frame.with_row_index("_i").filter(pl.col("_ok") & (pl.col("_table") == table))
        if not rows.height:
            continue
        at = rows.select("_i", _at=pl.col("_cols").list.eval((pl.element() == pk).arg_max()).list.first(),
                         _has=pl.col("_cols").list.contains(pk), _vals="_vals")
        text = at.select("_i", _pk=pl.when("_has").then(pl.col("_vals").list.get(pl.col("_at"), null_on_oob=True)))
        key = (pl.when(pl.col("_pk").str.contains(r"^\d+$")).then(pl.col("_pk"))
               .when(pl.col("_pk").str.contains(r"^'[^'\\]*'$|^\"[^\"\\]*\"$")).then(pl.col("_pk").str.slice(1, pl.col("_pk").str.len_chars() - 2)))
        text = text.with_columns(_pk=key)
        out = out.scatter(text["_i"], text["_pk"])
    found = out.is_not_null()
    return statements.with_columns(_table=pl.when(found).then(frame["_table"]), _pk=out)
