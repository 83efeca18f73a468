"""Card data: Luhn, masking, keyed hashing and a card-number scanner for folders.

CONTRACT section 7: no output contains a full card number or a security code. Everything here
is built so that a full number exists only inside the function that reads it:

- :func:`mask_pan` keeps first 6 + last 4 (PCI DSS display rule), e.g. ``411111******1111``.
- :func:`card_key` is an HMAC-SHA256 of the digits under a secret key, used to tell whether two
  records hold the same card (matching skim records to orders, counting distinct cards) without
  keeping the number. A plain SHA-256 would not do: with first 6 + last 4 public, only 10**5..10**9
  middle digits remain and an unkeyed hash is reversed by brute force in seconds.

Key choice (documented for the report):

- default: :func:`run_key`, 32 random bytes drawn once per Python process (``secrets``). Hashes
  match within one run (one report) and mean nothing outside it; nothing to store or leak.
- :func:`derive_key(case_id, secret)`: when hashes must match across runs (e.g. comparing two
  reports of the same case), derive the key from a secret the analyst holds (HKDF-like, HMAC of
  the case id under the secret). The secret is never written to any output.

:func:`scan_for_card_data` walks any folder (a report, a case, notebook outputs) and lists
full card numbers (13..19 digits, optional space/dash separators, a length that fits the brand the
first digits announce, Luhn-valid, not part of a longer alphanumeric token)
and security-code-labelled fields; hits carry only the masked number and a keyed hash.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "CardHit",
    "card_key",
    "derive_key",
    "find_pans",
    "luhn_check_digit",
    "luhn_valid",
    "mask_pan",
    "mask_pans_expr",
    "run_key",
    "scan_for_card_data",
    "scan_text_for_card_data",
]

_RUN_KEY = secrets.token_bytes(32)

#: Candidate card number: 13..19 digits, optionally grouped with one kind of separator
#: (space or dash), not part of a longer digit run. First digit 2..6 (Mastercard 2-series,
#: Amex/Diners/JCB 3, Visa 4, Mastercard 5, Discover/UnionPay 6).
#: Letters or digits right before/after mean the run is part of a longer token (a SHA-256 hex
#: digest, base64 text, an identifier), not a card number on its own.
PAN_RE = re.compile(r"(?<![0-9A-Za-z])[2-6](?:[0-9]|[ -](?=[0-9])){12,24}(?![0-9A-Za-z])")

#: A security code given with a label (form field names, JSON keys, Japanese label).
CVV_RE = re.compile(
    r"(?i)(?:cvv2?|cvc2?|csc|security[_ -]?code|card[_ -]?cvv|sec[_ -]?code|"
    r"\u30bb\u30ad\u30e5\u30ea\u30c6\u30a3\u30b3\u30fc\u30c9)"  # セキュリティコード
    r"[\"'\]\s]*(?:=>|[:=])\s*[\"']?([0-9]{3,4})(?![0-9])"
)

#: Bytes read per file by the folder scanner (larger files are read up to this size).
MAX_SCAN_BYTES = 64 * 1024 * 1024


def luhn_valid(digits: str) -> bool:
    """True when ``digits`` (only 0-9) passes the Luhn check."""
    if not digits.isdigit():
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
    raise ValueError("not digits")  # unreachable for digit strings


def mask_pan(digits: str) -> str:
    """First 6 + last 4, the middle as ``*``: ``411111******1111``. Short input is fully masked."""
    digits = re.sub(r"[^0-9]", "", digits)
    if len(digits) < 13:
        return "*" * len(digits)
    return digits[:6] + "*" * (len(digits) - 10) + digits[-4:]


#: (regex, replacement) applied in order by :func:`mask_pans_expr`: plain runs, 4-4-4-4 and
#: 4-6-5 groupings. Rust regex: no look-around, so word boundaries stand in for the scanner's
#: alphanumeric boundaries.
_MASK_RULES: tuple[tuple[str, str], ...] = (
    (r"\b([2-6][0-9]{5})[0-9]{3,9}([0-9]{4})\b", "${1}******${2}"),
    (r"\b([2-6][0-9]{3})([ -])([0-9]{2})[0-9]{2}[ -][0-9]{4}[ -]([0-9]{4})\b", "${1}${3}******${4}"),
    (r"\b(3[0-9]{3})[ -]([0-9]{2})[0-9]{4}[ -][0-9]([0-9]{4})\b", "${1}${2}*****${3}"),
)


def mask_pans_expr(expr):
    """Polars expression: ``expr`` (text) with every card-number-shaped digit run masked to
    first 6 + last 4. For display of attacker-controlled text (URLs, payloads, user agents): it
    masks any 13..19-digit run starting with 2..6, Luhn-valid or not, which is the safe side."""
    for rx, repl in _MASK_RULES:
        expr = expr.str.replace_all(rx, repl)
    return expr


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
    digits = re.sub(r"[^0-9]", "", digits)
    mac = hmac.new(key if key is not None else _RUN_KEY, digits.encode("ascii"), hashlib.sha256)
    return "hk:" + mac.hexdigest()[:24]


@dataclass(frozen=True)
class _Pan:
    start: int
    end: int
    masked: str
    key: str
    # the digits themselves are never stored in the result objects


def _valid_candidate(text: str) -> str | None:
    seps = {c for c in text if not c.isdigit()}
    if len(seps) > 1:
        return None
    digits = text.replace(" ", "").replace("-", "")
    if not 13 <= len(digits) <= 19:
        return None
    if seps:
        # grouped numbers: groups of 4 (Visa/MC), 4-6-5 / 4-6-4 (Amex, Diners); no empty groups
        groups = [len(g) for g in re.split(r"[ -]", text)]
        if min(groups) < 4 or max(groups) > 6:
            return None
    if not _plausible_iin(digits):
        return None
    return digits if luhn_valid(digits) else None


def _plausible_iin(digits: str) -> bool:
    """Length fits the brand the first digits announce (keeps e.g. 14-digit timestamps out)."""
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


def find_pans(text: str, key: bytes | None = None) -> list[tuple[int, int, str, str]]:
    """Full card numbers in ``text``: ``(start, end, masked, card_key)`` per hit, no digits kept."""
    out = []
    for m in PAN_RE.finditer(text):
        cand = m.group(0).rstrip(" -")
        digits = _valid_candidate(cand)
        if digits is None:
            continue
        out.append((m.start(), m.start() + len(cand), mask_pan(digits), card_key(digits, key)))
        del digits
    return out


@dataclass(frozen=True)
class CardHit:
    """One finding of card data in a file. ``masked`` is first 6 + last 4 (or ``***`` for a code)."""

    path: str
    line_no: int
    kind: str  # "pan" or "security_code"
    masked: str
    card_key: str | None = field(default=None)


#: The scanner (not the masking) skips digit runs right after "<digit>.": the fraction of a decimal
#: number, such as the coordinates of a chart in an SVG or a notebook (70.39710205585564).
_DECIMAL_FRACTION = re.compile(r"[0-9]\.")


def scan_text_for_card_data(text: str, *, path: str = "<text>", key: bytes | None = None) -> list[CardHit]:
    """Card numbers and labelled security codes in ``text`` (line numbers 1-based)."""
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

    for start, _end, masked, ck in find_pans(text, key):
        if _DECIMAL_FRACTION.match(text, max(start - 2, 0)) and start >= 2:
            continue  # digits after "<digit>." are a fraction (SVG coordinates), not a card number
        hits.append(CardHit(path, line_of(start), "pan", masked, ck))
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


#: A value worth a closer look: a run of 13+ digits (separators allowed) or a security-code label.
_CANDIDATE_RX = r"(?i)[0-9](?:[0-9]|[ -][0-9]){12,}|cvv|cvc|csc|sec(?:urity)?[_ -]?code|\x{30bb}\x{30ad}\x{30e5}"


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
    holds the masked number and a keyed hash, never the number itself.
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
        hits.extend(scan_text_for_card_data(text, path=rel, key=key))
    return hits


def _is_parquet(p: Path) -> bool:
    with p.open("rb") as fh:
        return fh.read(4) == b"PAR1"
