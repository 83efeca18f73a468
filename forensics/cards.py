"""Card data: Luhn, finding card numbers in text, masking, keyed hashing, and the output scan.

No output contains a full card number or a security code: card numbers appear as first 6 + last 4
at most. Everything here is built so that a full number exists only inside the function that
reads it.

What counts as a card number. A run of decimal digits (ASCII or any other Unicode digits, such as
full-width ``４１１１``) in which single separators may stand between digits (space, ``-``, ``.``, ``+``, ``_``,
tab, the ideographic space, dashes, full-width ``－`` and ``．``), whatever stands next to the run
(``x4111...``, ``card_4111...``); an escaped character counts as a separator
(``4111%201111...``, ``4111\\t1111...``, ``\\x20``, ``\\u3000``): 13 to 19 digits that pass the Luhn check and whose length fits
the brand the first digits announce (:func:`plausible_iin`). Two ways to look at a run:

- :func:`find_pans` parses it (reading a skim file): the whole run when its digits are one card
  number, or groups of it split at separators that form one (``4111 1111 1111 1111`` is one
  number; ``1491703205 4111111111111111`` is an epoch time and a number). Digits glued to more
  digits are not read as a card number there.
- :func:`mask_text` and :func:`scan_text_for_card_data` (anything leaving the toolkit) take every
  13..19-digit window of a run that is a plausible, Luhn-valid number, glued digits included, and
  mask its middle digits. Over-masking is the safe side; the two share one detector, so the output
  scan flags exactly what the masking would have changed.

Our own SHA-256 digests (of the evidence files, taken for the manifest) are hex and may hold a
digit window that looks like a card number by chance: :func:`register_digests` lists them, and
masking and scanning leave a registered digest whole (and its first 16 or more hex digits, as a
table shows a digest cut short). Nothing an attacker writes can become one.
The same holds for the 32-hex-digit model ids the widget library writes into a notebook's
metadata (the folder scan registers the ids a notebook declares there).

:func:`card_key` is an HMAC-SHA256 of the digits under a secret key, used to tell whether two
records hold the same card without keeping the number (a plain hash of 6 + 4 known digits and
10**5..10**9 unknown ones is reversed by brute force). Key: :func:`run_key` (random, one per
process) or :func:`derive_key` (from a secret the analyst holds, for comparisons across runs).
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import re
import secrets
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "CVV_RE",
    "CardHit",
    "card_key",
    "derive_key",
    "find_pans",
    "luhn_check_digit",
    "luhn_valid",
    "mask_pan",
    "mask_frame",
    "mask_json",
    "mask_pans_expr",
    "mask_text",
    "plausible_iin",
    "register_digests",
    "register_manifest_digests",
    "run_key",
    "scan_for_card_data",
    "scan_text_for_card_data",
]

_RUN_KEY = secrets.token_bytes(32)

#: Characters that may stand between two digits of one card number (``+`` is a space in a form
#: submission, ``_`` and tab as people and scripts write them).
SEPARATORS = " -.+_\t\u3000\u2010\u2011\u2012\u2013\u2014\u2212\uff0d\uff0e"
#: An escaped character between digits is a separator too: a percent-encoded byte
#: (``4111%201111...`` in a URL) and the escapes of shown text and JSON (``\t``, ``\xNN``, ``\uNNNN``).
_ESCAPE = r"%[0-9A-Fa-f]{2}|\\(?:[tnr\\]|x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4})"
_SEP = "(?:[" + re.escape(SEPARATORS) + "]|" + _ESCAPE + ")"
#: A digit run: digits with single separators between them, at least 13 digits.
RUN_RE = re.compile(rf"\d(?:{_SEP}?\d){{12,}}")
#: The same for polars (Rust regex; ``\d`` is Unicode there too).
RUN_RX = (r"\d(?:(?:[ \-.+_\t\x{3000}\x{2010}-\x{2014}\x{2212}\x{ff0d}\x{ff0e}]|" + _ESCAPE + r")?\d){12,}")
#: The digits of a run, never those spelling an escape.
_RUN_DIGIT = re.compile(_ESCAPE + r"|(\d)")

#: A security code given with a label (form field names, JSON keys, the Japanese label).
#: Bounded repetitions: linear time on any input.
CVV_RE = re.compile(
    r"(?i)(?:cvv2?|cvc2?|csc|security[_ -]?code|card[_ -]?cvv|sec[_ -]?code|"
    r"\u30bb\u30ad\u30e5\u30ea\u30c6\u30a3\u30b3\u30fc\u30c9)"  # セキュリティコード
    r"[\"'\]]{0,3}\s{0,3}(?:=>|[:=])\s{0,3}[\"']?(\d{3,4})(?!\d)"
)

#: A security-code label, for polars prefilters (no look-around in Rust regex).
_CVV_LABEL_RX = r"(?i)cvv|cvc|csc|sec(?:urity)?[_ -]?code|\x{30bb}\x{30ad}\x{30e5}"

#: Bytes read per file by the folder scanner (larger files are read up to this size).
MAX_SCAN_BYTES = 64 * 1024 * 1024

_DIGESTS: set[str] = set()
_SORTED_DIGESTS: list[str] = []
_HEX_TOKEN = re.compile(r"(?<![0-9a-fA-F])[0-9a-fA-F]{32}(?:[0-9a-fA-F]{32})?(?![0-9a-fA-F])")
#: A hex token that may be a registered digest cut short for display (a table cell shows
#: ``482e55dd3a7d5633487782214647…``): at least this many hex digits of its start.
MIN_DIGEST_PREFIX = 16
_HEX_PREFIX = re.compile(rf"(?<![0-9a-fA-F])[0-9a-fA-F]{{{MIN_DIGEST_PREFIX},64}}(?![0-9a-fA-F])")


def register_digests(digests: Iterable[str | None]) -> None:
    """Declare hex tokens the toolkit made itself: SHA-256 digests (64 hex digits) and widget model
    ids (32); masking and scanning keep them whole."""
    _DIGESTS.update(d.lower() for d in digests if d and len(d) in (32, 64) and _HEX_TOKEN.fullmatch(d))


def _registered_prefix(token: str) -> bool:
    """Whether ``token`` is a registered digest or its start (a digest cut short for display)."""
    import bisect

    if len(_SORTED_DIGESTS) != len(_DIGESTS):  # registered since the last look
        _SORTED_DIGESTS[:] = sorted(_DIGESTS)
    token = token.lower()
    i = bisect.bisect_left(_SORTED_DIGESTS, token)
    return i < len(_SORTED_DIGESTS) and _SORTED_DIGESTS[i].startswith(token)


def register_manifest_digests(path: str | Path) -> None:
    """Declare the SHA-256 digests a written ``manifest.json`` lists (of the evidence files and the
    case file) as ours, so masking and the output scan keep them whole (a digest may hold a run of
    digits that passes for a card number). A missing or unreadable manifest declares nothing."""
    try:
        listed = json.loads(Path(path).read_text(encoding="utf-8"))
        files = listed.get("files") or []
    except (OSError, ValueError, AttributeError):
        return
    register_digests(f.get("sha256") for f in files if isinstance(f, dict))
    register_digests([listed.get("case_yml_sha256")])


def luhn_valid(digits: str) -> bool:
    """True when ``digits`` (only 0-9) passes the Luhn check."""
    if not digits.isascii() or not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def luhn_check_digit(partial: str) -> str:
    """The check digit that makes ``partial + digit`` Luhn-valid (build test numbers at runtime)."""
    for d in "0123456789":
        if luhn_valid(partial + d):
            return d
    raise ValueError("not digits")


def plausible_iin(digits: str) -> bool:
    """The length fits the brand the first digits announce (keeps e.g. 14-digit timestamps out)."""
    n, d1, d2 = len(digits), digits[0], digits[:2]
    if d1 == "4":
        return n in (13, 16, 19)
    if d1 in "56":
        return 16 <= n <= 19
    if d1 == "2":
        return n == 16 and 2221 <= int(digits[:4]) <= 2720
    if d2 in ("34", "37"):
        return n == 15
    if d2 in ("30", "36", "38", "39"):
        return 14 <= n <= 19
    if d2 == "35":
        return 16 <= n <= 19
    return False


def _is_card(digits: str) -> bool:
    return 13 <= len(digits) <= 19 and plausible_iin(digits) and luhn_valid(digits)


def _ascii_digits(text: str) -> str:
    """The digits of ``text`` as ASCII (full-width and other Unicode digits by their value)."""
    return "".join(str(unicodedata.digit(c)) for c in text if c.isdecimal())


def mask_pan(digits: str) -> str:
    """First 6 + last 4, the middle as ``*``: ``411111******1111``. Short input is fully masked."""
    digits = _ascii_digits(digits)
    if len(digits) < 13:
        return "*" * len(digits)
    return digits[:6] + "*" * (len(digits) - 10) + digits[-4:]


def run_key() -> bytes:
    """This process's random HMAC key (32 bytes): hashes match within one run only."""
    return _RUN_KEY


def derive_key(case_id: str, secret: bytes | str) -> bytes:
    """A key stable across runs for one case: HMAC-SHA256(secret, "card-key:" + case_id)."""
    if isinstance(secret, str):
        secret = secret.encode("utf-8")
    return hmac.new(secret, b"card-key:" + case_id.encode("utf-8"), hashlib.sha256).digest()


def card_key(digits: str, key: bytes | None = None) -> str:
    """Keyed hash of a card number (separators ignored): ``hk:`` + 24 hex chars of HMAC-SHA256."""
    digits = _ascii_digits(digits)
    mac = hmac.new(key if key is not None else _RUN_KEY, digits.encode("ascii"), hashlib.sha256)
    return "hk:" + mac.hexdigest()[:24]


# --- runs ---------------------------------------------------------------------------------------

def _protected(text: str) -> list[tuple[int, int]]:
    """Spans of registered digests in ``text``."""
    if not _DIGESTS:
        return []
    return [m.span() for m in _HEX_PREFIX.finditer(text) if _registered_prefix(m.group(0))]


def _runs(text: str):
    """``(start, end, [(digit position in text, ascii digit), ...])`` of each digit run outside a
    registered digest."""
    keep = _protected(text)
    for m in RUN_RE.finditer(text):
        s, e = m.span()
        if any(a <= s and e <= b for a, b in keep):
            continue
        yield s, e, [(s + d.start(1), str(unicodedata.digit(d.group(1))))
                     for d in _RUN_DIGIT.finditer(m.group(0)) if d.group(1)]


def _groups(run: list[tuple[int, str]]) -> list[list[tuple[int, str]]]:
    """A run split where separators stand (digits next to each other stay in one group)."""
    out: list[list[tuple[int, str]]] = []
    for pos, d in run:
        if out and out[-1][-1][0] == pos - 1:
            out[-1].append((pos, d))
        else:
            out.append([(pos, d)])
    return out


#: Groups of 4..8 digits making 13..19 digits: at most 4 of them (bounds the work per run).
MAX_GROUPS = 4


def _parsed_numbers(run: list[tuple[int, str]]) -> list[list[tuple[int, str]]]:
    """Card numbers a run is made of, read the strict way: one group of 13..19 digits, or
    consecutive groups of 4..8 digits (4-4-4-4, 4-6-5, 8-8, ...) that together make one; longest
    first, left to right, never overlapping."""
    groups = _groups(run)
    out = []
    i = 0
    while i < len(groups):
        best = None
        for j in range(min(len(groups), i + MAX_GROUPS), i, -1):  # a number has at most 4 groups
            part = groups[i:j]
            if j - i > 1 and not all(4 <= len(g) <= 8 for g in part):
                continue
            digits = [d for g in part for d in g]
            if _is_card("".join(d for _p, d in digits)):
                best = (j, digits)
                break
        if best is None:
            i += 1
        else:
            i, digits = best
            out.append(digits)
    return out


def _windows(run: list[tuple[int, str]]) -> list[list[tuple[int, str]]]:
    """Every 13..19-digit window of a run that is a plausible, Luhn-valid card number."""
    digits = "".join(d for _p, d in run)
    out = []
    for s in range(len(digits) - 12):
        if digits[s] not in "23456":
            continue
        for n in range(13, min(19, len(digits) - s) + 1):
            if _is_card(digits[s:s + n]):
                out.append(run[s:s + n])
    return out


def find_pans(text: str, key: bytes | None = None) -> list[tuple[int, int, str, str]]:
    """Card numbers in ``text``, read strictly (see the module docstring): ``(start, end, masked,
    card_key)`` per number, in text order; the digits themselves are not kept."""
    out = []
    for _s, _e, run in _runs(text):
        for number in _parsed_numbers(run):
            digits = "".join(d for _p, d in number)
            out.append((number[0][0], number[-1][0] + 1, mask_pan(digits), card_key(digits, key)))
            del digits
    return out


def _masked_positions(text: str) -> tuple[set[int], list[tuple[int, str]]]:
    """Positions of digits to mask (the middle of every card-number window) and, per window, its
    first position and masked form."""
    hide: set[int] = set()
    found = []
    for _s, _e, run in _runs(text):
        for w in _windows(run):
            hide.update(p for p, _d in w[6:-4])
            found.append((w[0][0], mask_pan("".join(d for _p, d in w))))
    return hide, found


def mask_text(text: str) -> str:
    """``text`` with every card-number window's middle digits as ``*`` (first 6 + last 4 kept) and
    every labelled security code as ``***``."""
    if not isinstance(text, str) or not text:
        return text
    hide, _ = _masked_positions(text) if RUN_RE.search(text) else (set(), [])
    if hide:
        chars = list(text)
        for p in hide:
            chars[p] = "*"
        text = "".join(chars)
    if CVV_RE.search(text):
        text = CVV_RE.sub(lambda m: m.group(0)[: m.start(1) - m.start(0)] + "*" * len(m.group(1)), text)
    return text


def mask_pans_expr(expr):
    """Polars expression: :func:`mask_text` applied to a String column (only values holding a
    13-digit run are handed to Python)."""
    import polars as pl

    def mask_series(s: pl.Series) -> pl.Series:
        hit = s.str.contains(RUN_RX).fill_null(False) | s.str.contains(_CVV_LABEL_RX).fill_null(False)
        idx = hit.arg_true()
        if idx.len() == 0:
            return s
        return s.scatter(idx, pl.Series([mask_text(v) for v in s.gather(idx).to_list()], dtype=pl.String))

    return expr.map_batches(mask_series, return_dtype=pl.String, is_elementwise=True)  # streams batch by batch


def mask_json(obj):
    """A JSON-like value (dicts, lists, strings, numbers) with :func:`mask_text` applied to every
    string, keys included: what a writer of findings, manifests and saved objects calls last."""
    if isinstance(obj, str):
        return mask_text(obj)
    if isinstance(obj, dict):
        return {mask_json(k) if isinstance(k, str) else k: mask_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [mask_json(v) for v in obj]
    return obj


def mask_frame(frame):
    """A polars DataFrame with :func:`mask_text` applied to every text value: String columns and
    lists of strings (what a writer of tables calls last). An integer column that holds a card
    number (a 13-19-digit value) becomes a String column with it masked; other integers stay."""
    import polars as pl

    exprs = []
    for name, dtype in frame.schema.items():
        if dtype == pl.String:
            exprs.append(mask_pans_expr(pl.col(name)).alias(name))
        elif dtype == pl.List(pl.String):
            exprs.append(pl.col(name).list.eval(mask_pans_expr(pl.element())).alias(name))
        elif dtype in (pl.Int64, pl.UInt64) and frame.height:
            col = frame[name]
            if col.null_count() < col.len() and col.cast(pl.Float64).abs().max() >= 1e12:
                text = col.cast(pl.String)
                masked = text.to_frame().select(mask_pans_expr(pl.col(name))).to_series()
                if not masked.equals(text):
                    exprs.append(pl.lit(masked).alias(name))
    return frame.with_columns(exprs) if exprs else frame


# --- scanning outputs ---------------------------------------------------------------------------

@dataclass(frozen=True)
class CardHit:
    """One finding of card data in a file. ``masked`` is first 6 + last 4 (or ``***`` for a code)."""

    path: str
    line_no: int
    kind: str  # "pan" or "security_code"
    masked: str
    card_key: str | None = field(default=None)


def scan_text_for_card_data(text: str, *, path: str = "<text>", key: bytes | None = None) -> list[CardHit]:
    """Card numbers (every window :func:`mask_text` would mask) and labelled security codes in
    ``text`` (line numbers 1-based)."""
    hits: list[CardHit] = []
    line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def line_of(pos: int) -> int:
        lo, hi = 0, len(line_starts)
        while lo + 1 < hi:
            mid = (lo + hi) // 2
            if line_starts[mid] <= pos:
                lo = mid
            else:
                hi = mid
        return lo + 1

    if RUN_RE.search(text):
        seen = set()
        for start, masked in _masked_positions(text)[1]:
            if (start, masked) not in seen:
                seen.add((start, masked))
                hits.append(CardHit(path, line_of(start), "pan", masked, None))
    for m in CVV_RE.finditer(text):
        hits.append(CardHit(path, line_of(m.start()), "security_code", "*" * len(m.group(1)), None))
    hits.sort(key=lambda h: (h.line_no, h.kind))
    return hits


def _read_text(p: Path) -> str:
    with p.open("rb") as fh:
        data = fh.read(MAX_SCAN_BYTES)
    if data[:2] == b"\x1f\x8b":
        try:
            with gzip.open(p, "rb") as gz:
                data = gz.read(MAX_SCAN_BYTES)
        except (OSError, EOFError):
            pass
    # latin-1 never fails and keeps every ASCII digit where it was; UTF-8 text is tried first
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


#: A value worth a closer look: a 13-digit run or a security-code label (polars regex).
_CANDIDATE_RX = RUN_RX + "|" + _CVV_LABEL_RX


def _parquet_hits(p: Path, rel: str, key: bytes | None) -> list[CardHit] | None:
    """Card data in the values of a Parquet table (``line_no`` = row number; path ``file[column]``).

    A Parquet file is binary and mostly compressed: its raw bytes would hide a number stored in a
    compressed page and show digit runs that are only encoded integers. Every text, integer and
    (UTF-8) binary value is scanned instead, nested lists and structs included. None when the
    file cannot be read as Parquet (then it is scanned as bytes).
    """
    import polars as pl

    try:
        df = pl.read_parquet(p)
    except Exception:  # noqa: BLE001 - not Parquet after all, or damaged: scan the bytes
        return None

    hits: list[CardHit] = []
    for name, dtype in df.schema.items():
        if isinstance(dtype, (pl.List, pl.Array, pl.Struct)):
            text = pl.struct(pl.col(name)).struct.json_encode()  # nested values as JSON text
        elif dtype == pl.String or dtype.is_integer() or isinstance(dtype, (pl.Categorical, pl.Enum, pl.Binary)):
            text = pl.col(name).cast(pl.String, strict=False)
        else:
            continue  # floats, dates, booleans hold no card number
        col = df.select(text.alias("v")).with_row_index("row", offset=1)
        for row, value in col.filter(pl.col("v").str.contains(_CANDIDATE_RX)).iter_rows():
            hits.extend(CardHit(f"{rel}[{name}]", row, h.kind, h.masked, h.card_key)
                        for h in scan_text_for_card_data(value, key=key))
    return hits


def scan_for_card_data(path: str | Path, *, key: bytes | None = None) -> list[CardHit]:
    """Scan a file or every file under a folder for full card numbers and security codes.

    Symlinks are not followed; gzip files are read decompressed; Parquet tables value by value
    (hits name ``file[column]`` and the row). Returns hits sorted by path and line; each hit
    holds the masked number, never the number itself.
    """
    root = Path(path)
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())
    hits: list[CardHit] = []
    for p in files:
        rel = p.name if p == root else p.relative_to(root).as_posix()
        try:
            if p.suffix.lower() == ".parquet" or _is_parquet(p):
                found = _parquet_hits(p, rel, key)
                if found is not None:
                    hits.extend(found)
                    continue
            text = _read_text(p)
        except OSError:
            continue
        if p.suffix.lower() == ".ipynb":
            register_digests(_widget_ids(text))
        hits.extend(scan_text_for_card_data(text, path=rel, key=key))
    return hits


def _widget_ids(notebook_text: str) -> list[str]:
    """Model ids of the widget state a notebook stores in its metadata (none when it is not JSON)."""
    try:
        meta = json.loads(notebook_text).get("metadata") or {}
        state = (meta.get("widgets") or {}).get("application/vnd.jupyter.widget-state+json") or {}
        return [k for k in (state.get("state") or {}) if isinstance(k, str)]
    except (ValueError, AttributeError):
        return []


def _is_parquet(p: Path) -> bool:
    with p.open("rb") as fh:
        return fh.read(4) == b"PAR1"
