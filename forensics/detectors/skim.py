"""Skim files: where the skimmer stored the card data, and the card records in them.

Candidates (:func:`skim_candidates`): files of the server copy whose content does not match the
image extension they carry (inventory ``type_mismatch``), and the paths the tampered code writes
to (``writes_to``), whether or not the copy holds them.

Decoding (:func:`decode_skim_files`) assumes no layout. It searches the decodings of a file,
shallowest first, over the layers of :data:`LAYERS` (split into lines, base64, hex, URL-encoding,
gzip/zlib, XOR with a key of 1..4 bytes found from the byte histogram, reversed bytes, UTF-16),
up to :data:`MAX_DEPTH` layers and a budget of :data:`MAX_NODES` decodings per file. Every
decoding in which card numbers appear is read, and the most consistent one wins: the most
record content (each number, and each expiry, holder, time and security code found with it),
then the most records, then the most printable text, then the fewest layers; decodings up to two layers
deeper than the first one with a record of fields are compared too (a partly decoded file may already show
numbers), deeper ones are not searched. So a file of one
encoded record per line is read line by line even when joining its lines also decodes.

Reading records does not assume a layout either. A number's fields are found by type (a labelled
``exp=``/``holder=``/``cvv=`` value, or a bare ``MM/YY``, an upper-case name, a time, a 3-4 digit
field) and given to the numbers by their consistent place: when a field of some type first
appears before the first number, each such field belongs to the number after it; otherwise to
the number before it. Several records on one line, or one record over several lines, come out
one record per number, each with its own fields.

Every pattern applied to file contents runs in linear time (bounded repetitions, no nested
quantifiers); a number is masked (first 6 + last 4) and keyed-hashed at once (:mod:`forensics.cards`):
the full number and the security code never leave :func:`_card_records`.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import re
import urllib.parse
import zlib
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from itertools import product
from zoneinfo import ZoneInfo

import polars as pl

from forensics import cards

__all__ = [
    "IMAGE_EXTENSIONS",
    "LAYERS",
    "MAX_DEPTH",
    "SKIM_FILE_SCHEMA",
    "SKIM_RECORD_SCHEMA",
    "SkimDecoding",
    "decode_skim_files",
    "skim_candidates",
    "skim_records",
]

IMAGE_EXTENSIONS = ("gif", "png", "jpg", "jpeg", "ico", "bmp", "webp", "svg")
LAYERS = ("lines", "base64", "hex", "url", "gzip", "xor", "reverse", "utf16")
MAX_DEPTH = 5
#: Decodings examined per file, and bytes the layers may produce per file (a bound on the work
#: whatever the file holds).
MAX_NODES = 3000
MAX_WORK_BYTES = 512 * 1024 * 1024
MAX_FILE_BYTES = 32 * 1024 * 1024
#: Characters around a number that fields are read from (a record is never longer).
FIELD_WINDOW = 2048

SKIM_RECORD_SCHEMA = pl.Schema(
    {
        "skim_file": pl.String,  # relative to server/
        "record_no": pl.Int64,  # 1-based, order in the decoded file
        "card_masked": pl.String,  # first 6 + last 4
        "card_key": pl.String,  # keyed hash (forensics.cards.card_key)
        "expiry": pl.String,  # MM/YY as found, null when absent
        "holder": pl.String,
        "entered": pl.Datetime("us", "UTC"),
        "has_security_code": pl.Boolean,
        "encoding": pl.String,  # layers applied, e.g. "lines>base64>xor(0x5a)"
    }
)

#: One row per candidate file: what decoding it took, or why it could not be decoded.
SKIM_FILE_SCHEMA = pl.Schema(
    {
        "skim_file": pl.String,
        "status": pl.String,  # decoded / no_card_data / not_decoded
        "encoding": pl.String,
        "records": pl.Int64,
        "decodings_tried": pl.Int64,
        "reason": pl.String,
    }
)


def skim_candidates(server_files: pl.LazyFrame | pl.DataFrame, writes_to=()) -> pl.DataFrame:
    """``path, reason`` ("type_mismatch", "written_by_skimmer"), ``magic_type, extension, size``
    (null when the server copy does not hold the file)."""
    sf = server_files.lazy().collect()
    mism = sf.filter(pl.col("type_mismatch") & pl.col("extension").is_in(list(IMAGE_EXTENSIONS)) & ~pl.col("is_symlink")).select(
        "path", reason=pl.lit("type_mismatch"), magic_type="magic_type", extension="extension", size="size"
    )
    targets = sorted({w for w in writes_to if w})
    wt = pl.DataFrame({"path": targets}, schema={"path": pl.String}).join(
        sf.select("path", "magic_type", "extension", "size"), on="path", how="left"
    ).select("path", reason=pl.lit("written_by_skimmer"), magic_type="magic_type", extension="extension", size="size")
    return (
        pl.concat([mism, wt])
        .group_by("path")
        .agg(reason=pl.col("reason").unique().sort().str.join(","), magic_type=pl.col("magic_type").first(),
             extension=pl.col("extension").first(), size=pl.col("size").first())
        .sort("path")
    )


# --- layers -------------------------------------------------------------------------------------
# Each layer takes the chunks of a decoding and returns the decodings it leads to as
# ``(label, chunks, expand)``; ``expand`` False: look for cards in it but decode it no further.

_PRINTABLE = frozenset(list(range(0x20, 0x7F)) + [9, 10, 13])
_B64_STD = re.compile(rb"[A-Za-z0-9+/]{8,}={0,2}")
_B64_URL = re.compile(rb"[A-Za-z0-9_-]{8,}={0,2}")
_HEX = re.compile(rb"(?:[0-9A-Fa-f]{2}){13,}")
_PCT = re.compile(rb"%[0-9A-Fa-f]{2}")
_WS = re.compile(rb"\s+")


def _printable_ratio(chunks: list[bytes]) -> float:
    total = sum(len(c) for c in chunks)
    if not total:
        return 0.0
    hist = Counter()
    for c in chunks:
        hist.update(c)
    return sum(n for b, n in hist.items() if b in _PRINTABLE or b >= 0x80) / total


def _lines(chunks):
    out = [ln.strip() for c in chunks for ln in c.splitlines() if ln.strip()]
    return [("lines", out, True)] if len(out) > len(chunks) else []


def _unwrapped(c: bytes) -> bytes | None:
    """A chunk's text without its line breaks when it is one encoded string: one line, or lines
    wrapped at one width (MIME, PEM and ``hexdump -p`` wrap so; only the last line is shorter).
    Lines of differing widths are separate strings, each decoded on its own after the ``lines``
    layer: joined, their decodings would run into one another."""
    lines = [ln.strip() for ln in c.splitlines() if ln.strip()]
    if len(lines) > 1:
        width = len(lines[0])
        if any(len(ln) != width for ln in lines[:-1]) or len(lines[-1]) > width:
            return None
    return _WS.sub(b"", c)


def _base64(chunks):
    out = []
    for c in chunks:
        s = _unwrapped(c)
        if s is None:
            continue
        rx = _B64_STD if _B64_STD.fullmatch(s) else _B64_URL if _B64_URL.fullmatch(s) else None
        if rx is None or len(s.rstrip(b"=")) % 4 == 1:
            continue  # header lines, blanks: skipped, the rest may still decode
        try:
            out.append(base64.b64decode(s + b"=" * (-len(s) % 4), altchars=b"-_" if rx is _B64_URL else None))
        except (binascii.Error, ValueError):
            continue
    return [("base64", out, True)] if out else []


def _hex(chunks):
    out = []
    for c in chunks:
        s = _unwrapped(c)
        if s is not None and _HEX.fullmatch(s):
            out.append(bytes.fromhex(s.decode("ascii")))
    return [("hex", out, True)] if out else []


def _url(chunks):
    if not any(_PCT.search(c) for c in chunks):
        return []
    return [("url", [urllib.parse.unquote_to_bytes(c) for c in chunks], True)]


def _inflate(c: bytes) -> bytes | None:
    wbits = 31 if c[:2] == b"\x1f\x8b" else 15 if len(c) > 1 and c[0] == 0x78 and (c[0] << 8 | c[1]) % 31 == 0 else None
    if wbits is None:
        return None
    d = zlib.decompressobj(wbits)
    try:
        out = d.decompress(c, MAX_FILE_BYTES)
    except zlib.error:
        return None
    return out


def _gzip(chunks):
    out = [_inflate(c) for c in chunks]
    return [("gzip", out, True)] if out and all(o is not None for o in out) else []


#: How likely each byte is in a skimmer's records, by class (digits lead: card numbers, dates,
#: codes; then separators, letters of names and labels): an XOR key is scored by the
#: log-likelihood of what it decodes to, so a key that turns digits into letters loses.
def _log_probs() -> list[float]:
    import math

    p = [0.002] * 256  # control and high bytes
    classes = [
        (b"0123456789", 0.34),
        (b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", 0.12),
        (b"abcdefghijklmnopqrstuvwxyz", 0.16),
        (b" \t", 0.10),
        (b"-:/|,;.=&_\"'{}", 0.16),
        (b"\r\n", 0.02),
        (b"\x00", 0.03),  # the high bytes of ASCII text in UTF-16
    ]
    for chars, share in classes:
        for b in chars:
            p[b] = share / len(chars)
    other = [b for b in range(0x20, 0x7F) if p[b] == 0.002]
    for b in other:
        p[b] = 0.04 / len(other)
    return [math.log(x) for x in p]


_LOGP = _log_probs()
XOR_EXPANDED = 4  # best-scoring keys per key length decoded further
XOR_FITTING = 16  # keys that fit an alphabet, per key length, decoded further (none when more fit)
XOR_KEY_LENGTHS = (1, 2, 3, 4)
_XOR_TABLES = [bytes(b ^ k for b in range(256)) for k in range(256)]


#: Bytes a key may turn the data into: printable text, and NUL (text in UTF-16).
_KEY_TEXT = _PRINTABLE | {0}


def _key_scores(hist: Counter, limit: int, first: int = 1) -> list[tuple[float, int]]:
    """Key bytes (from ``first``) that leave at least 85 % of the bytes printable, best first."""
    total = sum(hist.values())
    if not total:
        return []
    items = list(hist.items())
    scored = []
    for k in range(first, 256):
        printable = sum(n for b, n in items if (b ^ k) in _KEY_TEXT)
        if printable >= 0.85 * total:
            scored.append((sum(n * _LOGP[b ^ k] for b, n in items), k))
    scored.sort(reverse=True)
    return scored[:limit]


def _xor_with(chunks: list[bytes], key: tuple[int, ...]) -> list[bytes]:
    if len(key) == 1:
        return [c.translate(_XOR_TABLES[key[0]]) for c in chunks]
    out = []
    for c in chunks:
        parts = [c[i::len(key)].translate(_XOR_TABLES[k]) for i, k in enumerate(key)]
        buf = bytearray(len(c))
        for i, p in enumerate(parts):
            buf[i::len(key)] = p
        out.append(bytes(buf))
    return out


#: Alphabets a layer below an XOR may be written in: a key byte under which every byte it
#: covers falls into one of them is worth decoding further, whatever its score as text.
_ALPHABETS = (
    frozenset(b"0123456789abcdefABCDEF"),
    frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_"),
    frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789%-._~+"),  # URL-encoded
)


def _fitting_keys(hist: Counter, alphabet: frozenset, first: int = 1) -> list[int]:
    """Key bytes (from ``first``) under which every byte of ``hist`` falls into ``alphabet``."""
    present = list(hist)
    return [k for k in range(first, 256) if all((b ^ k) in alphabet for b in present)]


def _product_size(lists) -> int:
    size = 1
    for x in lists:
        size *= len(x)
    return size


def _xor(chunks):
    """Repeating-key XOR, the key restarting at each chunk: each key byte is scored on the
    histogram of the bytes it covers; the best few keys of each length, and the keys that turn
    the data into a hex or base64 alphabet, are decoded further; for one-byte keys every key
    that leaves the data printable is at least looked at."""
    found = []
    first = chunks[0] if chunks else b""
    for magic in (b"\x1f\x8b", b"\x78\x9c", b"\x78\xda", b"\x78\x01"):
        # compressed data is not printable: the key that turns the start of every chunk into a
        # known magic number (one byte, or two) is tried as well
        if len(first) < 2:
            break
        key = (first[0] ^ magic[0], first[1] ^ magic[1])
        key = key[:1] if key[0] == key[1] else key
        out = _xor_with(chunks, key)
        if all(o[:2] == magic for o in out):
            found.append(("xor(0x" + "".join(f"{k:02x}" for k in key) + ")", out, True))
    tried = set()
    for n in XOR_KEY_LENGTHS:
        hists = []
        for i in range(n):
            hist = Counter()
            for c in chunks:
                hist.update(c[i::n])
            hists.append(hist)
        first = 1 if n == 1 else 0  # a byte of a longer key may be 0 (two XORs stacked make one)
        scored = [[k for _s, k in _key_scores(h, 255 if n == 1 else 2, first)] for h in hists]
        keys: list[tuple[tuple[int, ...], bool]] = []
        # the commonest byte of text is a space, or NUL in UTF-16: the keys that make it so
        common = [[b ^ t for b, _n in h.most_common(1) for t in (0x00, 0x20) if b ^ t or first == 0] for h in hists]
        if all(common):
            keys += [(ks, True) for ks in product(*common)]
        for alphabet in _ALPHABETS:
            fitting = [_fitting_keys(h, alphabet, first) for h in hists]
            if all(fitting) and _product_size(fitting) <= XOR_FITTING:
                keys += [(ks, True) for ks in product(*fitting)]
        if all(scored):
            keys += [(ks, rank < XOR_EXPANDED) for rank, ks in enumerate(product(*scored))]
        for key, expand in keys:
            if (n > 1 and len(set(key)) == 1) or not any(key) or key in tried:
                continue  # a one-byte key spelled longer, or tried already
            tried.add(key)
            label = "xor(0x" + "".join(f"{k:02x}" for k in key) + ")"
            found.append((label, _xor_with(chunks, key), expand))
    return found


def _reverse(chunks):
    return [("reverse", [c[::-1] for c in chunks], True)]


def _utf16(chunks):
    out = []
    for c in chunks:
        if len(c) < 4:
            return []
        le = c[1::2].count(0) / (len(c) // 2)
        be = c[0::2].count(0) / (len(c) // 2)
        enc = "utf-16-le" if le >= 0.4 and le >= be else "utf-16-be" if be >= 0.4 else None
        if enc is None:
            return []
        out.append(c[: len(c) // 2 * 2].decode(enc, "replace").encode("utf-8"))
    return [("utf16", out, True)]


_LAYER_FUNCS = {"lines": _lines, "base64": _base64, "hex": _hex, "url": _url, "gzip": _gzip, "xor": _xor,
                "reverse": _reverse, "utf16": _utf16}
#: Layers never applied twice in a row (the second would undo or repeat the first) or twice at all.
_ONCE = {"lines", "xor", "utf16"}


def _decodings(data: bytes):
    """Yield ``(layers, chunks)`` breadth-first, the raw data first, within the budget."""
    frontier = [((), [data], True)]
    seen = {hash((data,))}
    nodes = 0
    work = 0
    for depth in range(MAX_DEPTH + 1):
        nxt = []
        for layers, chunks, expand in frontier:
            nodes += 1
            if nodes > MAX_NODES:
                return
            yield layers, chunks
            if depth == MAX_DEPTH or not expand or work > MAX_WORK_BYTES:
                continue
            names = [x.split("(")[0] for x in layers]
            for layer in LAYERS:
                if names and names[-1] == layer and layer not in ("base64", "gzip"):
                    continue
                if layer in _ONCE and layer in names:
                    continue
                for label, out, more in _LAYER_FUNCS[layer](chunks):
                    sig = hash(tuple(out[:64])) ^ hash(len(out)) ^ hash(sum(len(c) for c in out))
                    if sig in seen:
                        continue
                    seen.add(sig)
                    work += sum(len(c) for c in out)
                    nxt.append((layers + (label,), out, more))
        frontier = nxt


# --- records ------------------------------------------------------------------------------------
# Every pattern below has bounded repetitions: finditer over a text of n characters costs O(n).

_TS_ISO = re.compile(r"(20[0-9]{2})[-/](\d{2})[-/](\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})?")
_TS_EPOCH = re.compile(r"(?<![0-9])(1[0-9]{9})(?![0-9])")
_EXP_BARE = re.compile(r"(?<![0-9/.:-])(0[1-9]|1[0-2])\s{0,2}/\s{0,2}([0-9]{2}|20[0-9]{2})(?![0-9/.:])")
_HOLDER_BARE = re.compile(r"(?<![A-Za-z])([A-Z]{2,20}(?: [A-Z]{1,20}){1,3})(?![A-Za-z])")
_KEY = re.compile(r"(\w{1,40})[\"'\]]{0,2}\s{0,3}(?:=>|[:=])\s{0,3}[\"']?")
_VALUE = re.compile(r"[^\"'&|\t,;\n\r}{]{1,80}")
_FIELD = re.compile(r"[^\t|,;\n\r]{1,200}")
_CODE = re.compile(r"\s{0,3}(\d{3,4})\s{0,3}")


def _entered(value: str, tz: ZoneInfo) -> datetime | None:
    m = _TS_ISO.search(value)
    if m:
        y, mo, d, h, mi, s, off = m.groups()
        try:
            naive = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s))
        except ValueError:
            return None
        if off is None:
            return naive.replace(tzinfo=tz).astimezone(timezone.utc)
        if off == "Z":
            return naive.replace(tzinfo=timezone.utc)
        sign = 1 if off[0] == "+" else -1
        off = off[1:].replace(":", "")
        return (naive - sign * timedelta(hours=int(off[:2]), minutes=int(off[2:]))).replace(tzinfo=timezone.utc)
    m = _TS_EPOCH.search(value)
    if m:
        return datetime.fromtimestamp(int(m.group(1)), timezone.utc)
    return None


def _expiry_value(v: str) -> str | None:
    v = re.sub(r"\s", "", v)[:16]
    m = re.fullmatch(r"(\d{1,2})[/-](\d{2}|\d{4})", v)
    if m and 1 <= int(m.group(1)) <= 12:
        return f"{int(m.group(1)):02d}/{m.group(2)[-2:]}"
    m = re.fullmatch(r"(\d{4})[/-](\d{1,2})", v)  # YYYY/MM
    if m and 1 <= int(m.group(2)) <= 12:
        return f"{int(m.group(2)):02d}/{m.group(1)[-2:]}"
    if re.fullmatch(r"\d{4}", v) and 1 <= int(v[:2]) <= 12:  # MMYY
        return f"{v[:2]}/{v[2:]}"
    if re.fullmatch(r"\d{6}", v):  # YYYYMM or MMYYYY
        mm, yy = (v[4:], v[2:4]) if v.startswith("20") else (v[:2], v[4:])
        if 1 <= int(mm) <= 12:
            return f"{mm}/{yy}"
    return None


def _key_kind(key: str) -> str | None:
    """What a label names: expiry, exp_month, exp_year, holder, time, code (or None)."""
    k = key.lower()
    if re.search(r"cvv|cvc|csc|secur|seccode|sec_code|code$", k):
        return "code"
    if "exp" in k or "limit" in k or "有効期限" in k:
        if "month" in k or k.endswith(("_mm", "_m", "mm")):
            return "exp_month"
        if "year" in k or k.endswith(("_yy", "_y", "yy")):
            return "exp_year"
        return "expiry"
    if "holder" in k or "card_name" in k or "cardname" in k or "owner" in k or "名義" in k or re.fullmatch(r"name\d*", k):
        return "holder"
    if "time" in k or "date" in k or k in ("t", "ts", "at", "created"):
        return "time"
    return None


def _items(text: str, numbers: list[tuple[int, int]], tz: ZoneInfo) -> list[tuple[int, str, object, bool]]:
    """Fields in ``text``: ``(position, kind, value, labelled)``; kinds expiry, holder, entered,
    code. Positions inside a card number are skipped."""
    def inside(pos: int) -> bool:
        i = bisect.bisect_right(starts, pos) - 1
        return i >= 0 and pos < numbers[i][1]

    starts = [s for s, _e in numbers]
    out: list[tuple[int, str, object, bool]] = []
    months: list[tuple[int, str]] = []
    years: list[tuple[int, str]] = []
    for m in _KEY.finditer(text):
        kind = _key_kind(m.group(1))
        if kind is None or inside(m.start()):
            continue
        v = _VALUE.match(text, m.end())
        if v is None:
            continue
        value = v.group(0).strip()
        if kind == "expiry" and (e := _expiry_value(value)):
            out.append((m.start(), "expiry", e, True))
        elif kind == "exp_month" and re.fullmatch(r"\d{1,2}", value):
            months.append((m.start(), value))
        elif kind == "exp_year" and re.fullmatch(r"\d{2}|\d{4}", value):
            years.append((m.start(), value))
        elif kind == "holder" and 2 <= len(value) <= 60 and not value.isdigit():
            out.append((m.start(), "holder", value, True))
        elif kind == "time" and (t := _entered(value, tz)):
            out.append((m.start(), "entered", t, True))
        elif kind == "code" and re.fullmatch(r"\d{3,4}", value):
            out.append((m.start(), "code", True, True))
    for (pm, mm), (_py, yy) in zip(months, years):
        if 1 <= int(mm) <= 12:
            out.append((pm, "expiry", f"{int(mm):02d}/{yy[-2:]}", True))
    for m in _EXP_BARE.finditer(text):
        if not inside(m.start()):
            out.append((m.start(), "expiry", f"{m.group(1)}/{m.group(2)[-2:]}", False))
    for m in _HOLDER_BARE.finditer(text):
        if not inside(m.start()):
            out.append((m.start(), "holder", m.group(1), False))
    for m in _TS_ISO.finditer(text):
        if not inside(m.start()) and (t := _entered(m.group(0), tz)):
            out.append((m.start(), "entered", t, False))
    for m in _TS_EPOCH.finditer(text):
        if not inside(m.start()):
            out.append((m.start(), "entered", datetime.fromtimestamp(int(m.group(1)), timezone.utc), False))
    previous = ""
    for m in _FIELD.finditer(text):  # a bare 3-4 digit field of a delimited record
        c = _CODE.fullmatch(m.group(0))
        # not the year of an expiry written as two fields (a month 1-12 just before it)
        split_year = previous.isdigit() and len(previous) <= 2 and 1 <= int(previous) <= 12
        if c and not (len(c.group(1)) == 4 and split_year) and not inside(m.start()):
            out.append((m.start(), "code", True, False))
        previous = m.group(0).strip()
    return out


def _assign(numbers: list[tuple[int, int]], items) -> list[dict[str, object]]:
    """Each number's fields: per kind, items before the first number belong to the number after
    them, otherwise to the number before; labelled items win over bare ones, then the nearest."""
    fields: list[dict[str, tuple]] = [{} for _ in numbers]
    starts = [s for s, _e in numbers]
    by_kind: dict[str, list] = {}
    for it in items:
        by_kind.setdefault(it[1], []).append(it)
    for kind, its in by_kind.items():
        its.sort(key=lambda x: x[0])
        before = its[0][0] < starts[0]
        for pos, _k, value, labelled in its:
            if before:
                j = bisect.bisect_right(starts, pos)
                if j >= len(numbers):
                    continue
                dist = starts[j] - pos
            else:
                j = bisect.bisect_right(starts, pos) - 1
                if j < 0:
                    continue
                dist = pos - numbers[j][1]
            if dist > FIELD_WINDOW:
                continue
            rank = (not labelled, dist)
            if kind not in fields[j] or rank < fields[j][kind][0]:
                fields[j][kind] = (rank, value)
    return [{k: v[1] for k, v in f.items()} for f in fields]


def _texts(chunks: list[bytes]) -> list[str]:
    out = []
    for c in chunks:
        try:
            out.append(c.decode("utf-8"))
        except UnicodeDecodeError:
            out.append(c.decode("latin-1"))
    return out


def _label(layers) -> str:
    """The layers that decoded the file; a last split into lines only reads it line by line."""
    layers = layers[:-1] if layers and layers[-1] == "lines" else layers
    return ">".join(layers) or "plain"


def _card_records(path: str, layers, chunks: list[bytes], tz: ZoneInfo, key: bytes | None) -> list[dict]:
    """Card records of one decoding; the only place full numbers exist (masked at once)."""
    rows: list[dict] = []
    for text in _texts(chunks):
        if not cards.RUN_RE.search(text):
            continue
        pans = cards.find_pans(text, key)
        if not pans:
            continue
        numbers = [(s, e) for s, e, _m, _k in pans]
        fields = _assign(numbers, _items(text, numbers, tz))
        for (_s, _e, masked, ck), f in zip(pans, fields):
            rows.append({
                "skim_file": path, "record_no": len(rows) + 1, "card_masked": masked, "card_key": ck,
                "expiry": f.get("expiry"), "holder": f.get("holder"), "entered": f.get("entered"),
                "has_security_code": bool(f.get("code")), "encoding": _label(layers),
            })
        del text
    return rows


def _fields(r: dict) -> int:
    """How many of a record's fields were found besides its number."""
    return sum(1 for k in ("expiry", "holder", "entered") if r[k] is not None) + r["has_security_code"]


def _score(rows: list[dict], chunks: list[bytes], depth: int) -> tuple:
    """Record content, records, printable share, then records in the order they were entered (a
    skimmer appends), then the finer split (a file of one encoded
    record per line may also decode as one joined string, records run together and, under a
    reversal, in reverse order: decoded line by line, each record keeps its own bounds), then
    the fewest layers."""
    complete = sum(_fields(r) for r in rows)
    times = [r["entered"] for r in rows if r["entered"] is not None]
    in_order = sum(a <= b for a, b in zip(times, times[1:]))
    return (complete + len(rows), len(rows), round(_printable_ratio(chunks), 2), in_order, len(chunks), -depth)


@dataclass(frozen=True)
class SkimDecoding:
    """Card records of the candidate files and, per file, how it was decoded or why not."""

    records: pl.DataFrame  # SKIM_RECORD_SCHEMA
    files: pl.DataFrame  # SKIM_FILE_SCHEMA


def decode_skim_files(contents: pl.DataFrame | None, *, tz: str = "UTC", key: bytes | None = None,
                      expected=()) -> SkimDecoding:
    """Decode candidate skim files (see the module docstring).

    ``contents``: {path (relative to server/), content: Binary}; ``expected``: paths that should be
    decoded (the tampered code writes to them): one absent from ``contents`` or empty there is
    listed as not decoded, with the reason.
    """
    zone = ZoneInfo(tz)
    rows: list[dict] = []
    status: list[dict] = []
    given = set()
    if contents is not None:
        for path, content in contents.select("path", "content").iter_rows():
            given.add(path)
            if content is None:
                status.append({"skim_file": path, "status": "not_decoded", "encoding": None, "records": 0,
                               "decodings_tried": 0, "reason": "the server copy does not hold this file (or it is a link)"})
                continue
            data = bytes(content)[:MAX_FILE_BYTES]
            best, best_score, tried, found_at = None, None, 0, None
            for layers, chunks in _decodings(data):
                if found_at is not None and len(layers) > found_at + 2:
                    break  # two layers deeper than the first decoding with cards are compared, no more
                tried += 1
                found = _card_records(path, layers, chunks, zone, key)
                if found:
                    if found_at is None and any(_fields(r) >= 2 for r in found):
                        found_at = len(layers)  # a record with fields, not a stray digit run
                    sc = _score(found, chunks, len(layers))
                    if best_score is None or sc > best_score:
                        best, best_score = found, sc
            if best:
                rows.extend(best)
                status.append({"skim_file": path, "status": "decoded", "encoding": best[0]["encoding"],
                               "records": len(best), "decodings_tried": tried, "reason": None})
            else:
                status.append({"skim_file": path, "status": "no_card_data", "encoding": None, "records": 0,
                               "decodings_tried": tried,
                               "reason": f"no card number in any of {tried} decodings (up to {MAX_DEPTH} layers of "
                                         f"{', '.join(LAYERS)})"})
    for path in sorted(set(expected) - given):
        status.append({"skim_file": path, "status": "not_decoded", "encoding": None, "records": 0,
                       "decodings_tried": 0, "reason": "not in the server copy"})
    recs = pl.DataFrame(rows, schema=SKIM_RECORD_SCHEMA, orient="row") if rows else pl.DataFrame(schema=SKIM_RECORD_SCHEMA)
    files = pl.DataFrame(status, schema=SKIM_FILE_SCHEMA, orient="row") if status else pl.DataFrame(schema=SKIM_FILE_SCHEMA)
    return SkimDecoding(recs, files.sort("skim_file"))


def skim_records(contents: pl.DataFrame | None, *, tz: str = "UTC", key: bytes | None = None) -> pl.DataFrame:
    """Card records in candidate skim files (:func:`decode_skim_files`), a DataFrame of
    :data:`SKIM_RECORD_SCHEMA`: ``skim_file, record_no, card_masked, card_key, expiry, holder,
    entered, has_security_code, encoding``."""
    return decode_skim_files(contents, tz=tz, key=key).records
