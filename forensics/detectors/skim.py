"""Skim files: where the skimmer stored the card data, and the card records in them.

Candidates (:func:`skim_candidates`): files of the server copy whose content does not match the
image extension they carry (inventory ``type_mismatch``), and the paths the tampered code writes
to (``writes_to``).

Decoding (:func:`skim_records`) does not assume a layout: a breadth-first search over layers
(:data:`LAYERS`: split into lines, base64, gzip/zlib, single-byte XOR with the key found by trying
all 256 keys on the byte histogram), shallowest first, up to :data:`MAX_DEPTH` layers, stops at the
first decoding in which card numbers (pattern + Luhn) appear. Each record gets its card masked
(first 6 + last 4) and keyed-hashed at once (:mod:`forensics.cards`); expiry, holder name and
timestamp are read next to it where present. The full number and the security code never leave
:func:`_records_from_chunks`: not in a returned frame, a repr, a log line or an exception text.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import re
import zlib
from collections import Counter
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import polars as pl

from forensics import cards

__all__ = ["IMAGE_EXTENSIONS", "LAYERS", "MAX_DEPTH", "SKIM_RECORD_SCHEMA", "skim_candidates", "skim_records"]

IMAGE_EXTENSIONS = ("gif", "png", "jpg", "jpeg", "ico", "bmp", "webp", "svg")
LAYERS = ("lines", "base64", "gzip", "xor")
MAX_DEPTH = 4
MAX_FILE_BYTES = 32 * 1024 * 1024

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

_PRINTABLE = frozenset(list(range(0x20, 0x7F)) + [9, 10, 13])
_B64_RX = re.compile(rb"^[A-Za-z0-9+/_-]+={0,2}$")


def skim_candidates(server_files: pl.LazyFrame | pl.DataFrame, writes_to=()) -> pl.DataFrame:
    """``path, reason`` ("type_mismatch", "written_by_skimmer"), ``magic_type, extension, size``."""
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


# --- layers ------------------------------------------------------------------------------------


def _lines(chunks: list[bytes]) -> list[bytes] | None:
    out = [ln.strip() for c in chunks for ln in c.splitlines() if ln.strip()]
    return out if len(out) > len(chunks) else None


def _b64(chunks: list[bytes]) -> list[bytes] | None:
    out = []
    for c in chunks:
        s = b"".join(c.split())
        if len(s) < 8 or not _B64_RX.match(s):
            continue  # header lines, blanks: skipped, the rest may still decode
        try:
            out.append(base64.b64decode(s + b"=" * (-len(s) % 4), altchars=b"-_" if (b"-" in s or b"_" in s) else None))
        except (binascii.Error, ValueError):
            continue
    return out or None


def _gzip(chunks: list[bytes]) -> list[bytes] | None:
    out = []
    for c in chunks:
        try:
            if c[:2] == b"\x1f\x8b":
                out.append(gzip.decompress(c)[:MAX_FILE_BYTES])
            elif c[:1] == b"\x78":
                out.append(zlib.decompress(c)[:MAX_FILE_BYTES])
            else:
                return None
        except (OSError, EOFError, zlib.error):
            return None
    return out or None


#: byte weights for scoring an XOR key: card records are mostly digits, letters and separators
_WEIGHT = [0.0] * 256
for _b in range(0x20, 0x7F):
    _WEIGHT[_b] = 0.5
for _b in b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz":
    _WEIGHT[_b] = 2.0
for _b in b" \t\r\n,|:;-/=&\"'{}_.":
    _WEIGHT[_b] = 1.0
XOR_CANDIDATES = 4
XOR_ALL_KEYS_MAX = 1024 * 1024


def _xor_keys(chunks: list[bytes], limit: int | None = XOR_CANDIDATES) -> list[int]:
    """The best single-byte XOR keys (all 255 tried on the byte histogram), best first.

    A key qualifies when at least 85 % of the bytes become printable and it scores better than
    the data as it is; the best ``limit`` keys are returned (all when ``limit`` is None).
    """
    hist = Counter()
    for c in chunks:
        hist.update(c)
    total = sum(hist.values())
    if not total:
        return []
    items = list(hist.items())
    scored = []
    for k in range(1, 256):  # every key, scored on the histogram rather than the data
        printable = sum(n for b, n in items if (b ^ k) in _PRINTABLE)
        if printable < 0.85 * total:
            continue
        score = sum(n * _WEIGHT[b ^ k] for b, n in items)
        scored.append((score, k))
    scored.sort(reverse=True)
    return [k for _s, k in (scored if limit is None else scored[:limit])]


_XOR_TABLES = [bytes(b ^ k for b in range(256)) for k in range(256)]


def _decodings(data: bytes):
    """Yield (layers, chunks) breadth-first, the raw data first.

    XOR: every key that leaves the data printable is tried (a card pattern is then looked for),
    but only the :data:`XOR_CANDIDATES` best-scoring keys are decoded further (base64, gzip
    after XOR), which bounds the search. Large inputs (over :data:`XOR_ALL_KEYS_MAX` bytes) try
    only those best keys.
    """
    frontier = [((), [data], True)]
    seen = set()
    for depth in range(MAX_DEPTH + 1):
        nxt = []
        for layers, chunks, expand in frontier:
            yield layers, chunks
            if depth == MAX_DEPTH or not expand:
                continue
            for layer in LAYERS:
                if layers and layers[-1].startswith(layer) and layer != "base64":
                    continue
                if layer == "xor":
                    if any(x.startswith("xor") for x in layers):
                        continue
                    size = sum(len(c) for c in chunks)
                    keys = _xor_keys(chunks, limit=None if size <= XOR_ALL_KEYS_MAX else XOR_CANDIDATES)
                    for rank, k in enumerate(keys):
                        nxt.append((layers + (f"xor(0x{k:02x})",), [c.translate(_XOR_TABLES[k]) for c in chunks], rank < XOR_CANDIDATES))
                    continue
                out = {"lines": _lines, "base64": _b64, "gzip": _gzip}[layer](chunks)
                if not out:
                    continue
                sig = hash(tuple(out[:50]))
                if sig in seen:
                    continue
                seen.add(sig)
                nxt.append((layers + (layer,), out, True))
        frontier = nxt


# --- records -----------------------------------------------------------------------------------

_EXP_LABELLED = re.compile(r"(?i)exp(?:ire|iry|iration)?(?:_?date)?[\"'\]]?\s*(?:=>|[:=])\s*[\"']?([0-9]{1,2}\s*[/-]\s*[0-9]{2,4}|[0-9]{4,6})")
_EXP_MONTH = re.compile(r"(?i)exp\w*?(?:month|_mm|_m)\w*[\"'\]]?\s*(?:=>|[:=])\s*[\"']?([0-9]{1,2})")
_EXP_YEAR = re.compile(r"(?i)exp\w*?(?:year|_yy|_y)\w*[\"'\]]?\s*(?:=>|[:=])\s*[\"']?([0-9]{2,4})")
_EXP_BARE = re.compile(r"(?<![0-9/.:-])(0[1-9]|1[0-2])\s*/\s*([0-9]{2}|20[0-9]{2})(?![0-9/.:])")
_HOLDER_LABELLED = re.compile(r"(?i)(?:holder|card_?name|cardholder|name)\w*[\"'\]]?\s*(?:=>|[:=])\s*[\"']?([^\"'&|\t,;\n\r}]{2,60})")
_HOLDER_BARE = re.compile(r"(?<![A-Za-z])([A-Z]{2,20}(?: [A-Z]{1,20}){1,3})(?![A-Za-z])")
_TS_ISO = re.compile(r"(20[0-9]{2})[-/](\d{2})[-/](\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})?")
_TS_EPOCH = re.compile(r"(?<![0-9])(1[0-9]{9})(?![0-9])")


def _expiry(rec: str) -> str | None:
    m = _EXP_LABELLED.search(rec)
    if m:
        v = re.sub(r"\s", "", m.group(1))
        if "/" in v or "-" in v:
            mm, yy = re.split(r"[/-]", v)
            return f"{int(mm):02d}/{yy[-2:]}"
        if len(v) == 4:  # MMYY
            return f"{v[:2]}/{v[2:]}"
        if len(v) == 6:  # YYYYMM or MMYYYY
            return f"{v[4:]}/{v[2:4]}" if v.startswith("20") else f"{v[:2]}/{v[4:]}"
    mm, yy = _EXP_MONTH.search(rec), _EXP_YEAR.search(rec)
    if mm and yy:
        return f"{int(mm.group(1)):02d}/{yy.group(1)[-2:]}"
    m = _EXP_BARE.search(rec)
    if m:
        return f"{m.group(1)}/{m.group(2)[-2:]}"
    return None


def _holder(rec: str) -> str | None:
    m = _HOLDER_LABELLED.search(rec)
    if m:
        return m.group(1).strip()
    m = _HOLDER_BARE.search(rec)
    return m.group(1) if m else None


def _entered(rec: str, tz: ZoneInfo) -> datetime | None:
    m = _TS_ISO.search(rec)
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
        from datetime import timedelta

        return (naive - sign * timedelta(hours=int(off[:2]), minutes=int(off[2:]))).replace(tzinfo=timezone.utc)
    m = _TS_EPOCH.search(rec)
    if m:
        return datetime.fromtimestamp(int(m.group(1)), timezone.utc)
    return None


def _records_from_chunks(path: str, layers, chunks: list[bytes], tz: ZoneInfo, key: bytes | None) -> list[dict]:
    """Card records in decoded chunks; the only place full numbers exist (masked at once)."""
    rows: list[dict] = []
    texts = []
    for c in chunks:
        try:
            texts.append(c.decode("utf-8"))
        except UnicodeDecodeError:
            texts.append(c.decode("latin-1"))
    # a record is a chunk, or a line of a chunk
    records = [ln for t in texts for ln in (t.splitlines() or [t]) if ln.strip()]
    for rec in records:
        pans = cards.find_pans(rec, key)
        if not pans:
            continue
        # the text around each number, with the number itself cut out, is what fields are read from
        rest = rec
        for start, end, _m, _k in sorted(pans, reverse=True):
            rest = rest[:start] + " " + rest[end:]
        # labelled (cvv=123), or a bare 3-4 digit field of a delimited record (not a year)
        has_code = bool(cards.CVV_RE.search(rest)) or any(
            re.fullmatch(r"[0-9]{3}|(?!20)[0-9]{4}", f.strip()) for f in re.split(r"[\t|,;]", rest)
        )
        for _start, _end, masked, ck in pans:
            rows.append(
                {
                    "skim_file": path,
                    "record_no": len(rows) + 1,
                    "card_masked": masked,
                    "card_key": ck,
                    "expiry": _expiry(rest),
                    "holder": _holder(rest),
                    "entered": _entered(rest, tz),
                    "has_security_code": has_code,
                    "encoding": ">".join(layers) or "plain",
                }
            )
        del rest
    del texts, records
    return rows


def skim_records(contents: pl.DataFrame | None, *, tz: str = "UTC", key: bytes | None = None) -> pl.DataFrame:
    """Card records in candidate skim files.

    Parameters
    ----------
    contents : {path (relative to server/), content: Binary} of the candidates.
    tz : IANA zone for naive timestamps in the records (the case zone).
    key : HMAC key for ``card_key`` (default: this run's random key, :func:`forensics.cards.run_key`).

    Returns
    -------
    DataFrame of :data:`SKIM_RECORD_SCHEMA`: ``skim_file, record_no, card_masked, card_key, expiry,
    holder, entered, has_security_code, encoding``.
    """
    zone = ZoneInfo(tz)
    rows: list[dict] = []
    if contents is not None:
        for path, content in contents.select("path", "content").iter_rows():
            if content is None:
                continue
            data = bytes(content)[:MAX_FILE_BYTES]
            for layers, chunks in _decodings(data):
                found = _records_from_chunks(path, layers, chunks, zone, key)
                if found:
                    rows.extend(found)
                    break
    return pl.DataFrame(rows, schema=SKIM_RECORD_SCHEMA, orient="row") if rows else pl.DataFrame(schema=SKIM_RECORD_SCHEMA)
