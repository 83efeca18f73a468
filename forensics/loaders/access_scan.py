r"""Native scan of access-log lines, driven by the compiled format: one compiled pass over a block.

The access-log loader's fast route. A format's pieces (:class:`forensics.loaders.logformat.Field`
and :class:`~forensics.loaders.logformat.Literal`) become a small program (:func:`program_of`);
:func:`scan_format` runs it over the bytes of whole lines (compiled by numba, no GIL held, so the
loader's worker threads run it side by side) and, for every line it can vouch for, writes:

- each field, and the trailing text (``rest``), as an Arrow string *view* into the block itself:
  no byte is copied, a view being 16 bytes (length, then the string inline when it is at most 12
  bytes long, else its first 4 bytes and its offset in the block);
- ``local`` (microseconds since 1970, naive) and ``utc_offset_min`` of the line's time field
  (Apache ``%t`` / nginx ``$time_local``, or nginx ``$time_iso8601``);
- ``_escaped``: the line holds an escape that reading a quoted field undoes (``\"`` or ``\\``;
  nginx's ``\x22`` stays as logged, so a line of those needs no undoing);
- ``_client_colon``: the ``client_ip`` field holds a ``:`` (an IPv6 or IPv4-mapped address,
  which may be spelled otherwise: only these need canonicalising).

The format's regex stays the definition. The program reads each field the way that regex's
highest-priority path does (a run of its character class as long as it goes, a quoted field up to
the first quote not escaped by a backslash, the first alternative that fits), so when the program
reads a whole line, the regex reads it the same way: a line is vouched for exactly then, and also
only when its date and time exist (day within its month, leap years, ``HH:MM:SS`` at most
``23:59:59``, year 1000 - 9999). Every other line is left to the regex by the caller, with its
text given as a view too (a ``\r`` before the newline removed, as
:func:`forensics.evidence.split_lines` does). A block holding invalid UTF-8 anywhere is not
scanned at all (None): the caller splits it the exact way, which marks and escapes the bad lines.

A value regex the program has no instruction for (``%r`` outside quotes, say) makes the format
regex-only (:func:`program_of` returns None).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa

from forensics.loaders.logformat import COMBINED, ISO_TIME, QUOTED, TIME, AccessFormat, Field, Literal
from forensics.loaders.native import inline, native, utf8_length
from forensics.schemas import ACCESS_LOG

OK = 0
#: Some line holds invalid UTF-8: nothing was scanned.
INVALID_UTF8 = 1
#: The block did not hold the number of lines it was said to (a caller's bug): nothing to trust.
LINE_COUNT = 2


# "Jan" .. "Dec" as 24-bit integers (first byte highest)
_MONTHS = np.array([(ord(m[0]) << 16) | (ord(m[1]) << 8) | ord(m[2]) for m in
                    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")], dtype=np.int64)
_MONTH_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


_LOW32 = np.uint64(0xFFFFFFFF)
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)


@inline
def _load8(buf, words, s):
    """The eight bytes from ``s`` as a little-endian uint64 (zeros past the buffer's end)."""
    j = s >> 3
    sh = np.uint64(8 * (s & 7))
    if j + 1 < words.size:
        x = words[j] >> sh
        if sh != 0:
            x |= words[j + 1] << (np.uint64(64) - sh)
        return x
    x = np.uint64(0)
    for k in range(min(8, buf.size - s)):
        x |= np.uint64(buf[s + k]) << np.uint64(8 * k)
    return x


@inline
def _first_bytes(k):
    """Mask keeping the first ``k`` bytes of a uint64 (none when ``k <= 0``, all when ``k >= 8``)."""
    if k <= 0:
        return np.uint64(0)
    if k >= 8:
        return _ALL
    return (np.uint64(1) << np.uint64(8 * k)) - np.uint64(1)


@inline
def _view(out, row, buf, words, s, e, data_buffer):
    """Write the Arrow string view of ``buf[s:e]`` into ``out[row]`` (two uint64, little-endian:
    the int32 length, then the string inline when it is at most 12 bytes long, else its first 4
    bytes, the int32 index of its data buffer and its int32 offset there)."""
    n = e - s
    x = _load8(buf, words, s)
    if n <= 12:
        x &= _first_bytes(n)
        y = _load8(buf, words, s + 8) & _first_bytes(n - 8) if n > 8 else np.uint64(0)
        out[row, 0] = np.uint64(n) | (x << np.uint64(32))
        out[row, 1] = (x >> np.uint64(32)) | (y << np.uint64(32))
    else:
        out[row, 0] = np.uint64(n) | ((x & _LOW32) << np.uint64(32))
        out[row, 1] = (np.uint64(s) << np.uint64(32)) | np.uint64(data_buffer)


@inline
def _digits(buf, s, e):
    """The value of the ASCII digits ``buf[s:e]``, or -1 when one is not a digit."""
    v = 0
    for i in range(s, e):
        d = np.int64(buf[i]) - 48
        if d < 0 or d > 9:
            return -1
        v = v * 10 + d
    return v


@inline
def _days_from_civil(y, m, d):
    """Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm)."""
    y = y - (1 if m <= 2 else 0)
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    mp = m + 9 if m <= 2 else m - 3
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


_ONE = np.uint64(1)
_ONES = np.uint64(0x0101010101010101)
_HIGHS = np.uint64(0x8080808080808080)
_NEWLINES = np.uint64(0x0A0A0A0A0A0A0A0A)
_BYTE_INDEX = np.uint64(0x0001020304050607)  # (2**(8k) * this) >> 56 == k


@inline
def _zero_bytes(v):
    # high bit set in the lowest zero byte of v (exact), maybe in some above it (harmless)
    return (v - _ONES) & ~v & _HIGHS



# ---- the program ------------------------------------------------------------------------------
# One instruction per piece: a literal to match, or a field read as its value regex's
# highest-priority path would read it.
LITERAL = 0
TOKEN = 1  # [^ ]+
TOKEN0 = 2  # [^ ]*
HOST = 3  # [^ :]+
DIGITS = 4  # [0-9]+
SIZE = 5  # [0-9]+|-
STATUS = 6  # [0-9]{3}
METHOD = 7  # [A-Za-z_-]+
LOWER = 8  # [a-z]+
SECONDS = 9  # [0-9]+(?:\.[0-9]+)?|-
QUOTE = 10  # inside double quotes: [^"\\]*(?:\\.[^"\\]*)*
CLF_TIME = 11  # 10/Oct/2000:13:55:36 -0700
ISO = 12  # 2000-10-10T13:55:36-07:00 or ...Z

#: Value regex -> the instruction that reads it.
INSTRUCTIONS = {
    r"[^ ]+": TOKEN, r"[^ ]*": TOKEN0, r"[^ :]+": HOST, r"[0-9]+": DIGITS, r"[0-9]+|-": SIZE,
    r"[0-9]{3}": STATUS, r"[A-Za-z_-]+": METHOD, r"[a-z]+": LOWER, r"[0-9]+(?:\.[0-9]+)?|-": SECONDS,
    QUOTED: QUOTE, TIME: CLF_TIME, ISO_TIME: ISO,
}


@dataclass(frozen=True)
class Program:
    """A format as instructions: ``ops[i]`` reads piece ``i`` (``args[i]``: the field's slot, or the
    literal's index in ``literal_at``); ``slots``: the fields' names, in slot order; ``time_slot``:
    the field whose time is typed (``t_iso`` if the format has one, else ``t``); ``client_slot``:
    ``client_ip``'s slot (-1: the format has none); ``number_of[slot]``: the slot's place among the
    fields read as integers (:data:`INTEGER_FIELDS`; -1: kept as text), whose names are
    ``numbers``."""

    slots: tuple[str, ...]
    ops: np.ndarray
    args: np.ndarray
    literals: np.ndarray
    literal_at: np.ndarray
    literal_words: np.ndarray  # each literal's first eight bytes as a little-endian uint64
    time_slot: int
    client_slot: int
    number_of: np.ndarray
    numbers: tuple[str, ...]


#: Fields the access table holds as integers, with the table's types: read as numbers by the scan
#: (no text kept), cast from their text by the regex route; digits beyond the type's range, or
#: ``-``, are null either way.
INTEGER_FIELDS = {name: ACCESS_LOG[name] for name in ("status", "bytes", "bytes_sent", "bytes_received")}


@functools.lru_cache(maxsize=64)  # once per format, not per batch
def program_of(fmt: AccessFormat) -> Program | None:
    """The program reading ``fmt``'s lines, or None (its lines then all take the regex) when a
    field has a value regex no instruction reads, a quoted field is not the only one inside its
    quotes (``"%m %U%q %H"``: the regex backtracks to split it), or the format has no time field."""
    if not fmt.pieces:
        return None
    ops, args, slots, literal_bytes, literal_at = [], [], [], [], [0]
    for k, piece in enumerate(fmt.pieces):
        if isinstance(piece, Field):
            op = INSTRUCTIONS.get(piece.value)
            follower = fmt.pieces[k + 1] if k + 1 < len(fmt.pieces) else None
            if op is None or (op == QUOTE and not (isinstance(follower, Literal) and follower.text.startswith('"'))):
                return None  # a quoted field that does not end the quotes: only the regex's backtracking reads it
            ops.append(op)
            args.append(len(slots))
            slots.append(piece.name)
        else:
            ops.append(LITERAL)
            args.append(len(literal_at) - 1)
            literal_bytes.append(piece.text.encode())
            literal_at.append(literal_at[-1] + len(literal_bytes[-1]))
    time_name = "t_iso" if "t_iso" in slots else "t"
    if time_name not in slots:
        return None
    words = [int.from_bytes(b[:8].ljust(8, b"\0"), "little") for b in literal_bytes]
    op_of = {slot: op for op, slot in zip(ops, args) if op != LITERAL}
    numbers = tuple(name for k, name in enumerate(slots) if name in INTEGER_FIELDS and op_of[k] in (STATUS, SIZE, DIGITS))
    number_of = np.array([numbers.index(name) if name in numbers else -1 for name in slots], dtype=np.int64)
    return Program(tuple(slots), np.array(ops, dtype=np.int64), np.array(args, dtype=np.int64),
                   np.frombuffer(b"".join(literal_bytes) or b"\0", dtype=np.uint8).copy(),
                   np.array(literal_at, dtype=np.int64), np.array(words or [0], dtype=np.uint64), slots.index(time_name),
                   slots.index("client_ip") if "client_ip" in slots else -1, number_of, numbers)


@inline
def _is_digit(b):
    return 48 <= b <= 57


_SPACES = np.uint64(0x2020202020202020)
_COLONS = np.uint64(0x3A3A3A3A3A3A3A3A)
_QUOTES = np.uint64(0x2222222222222222)
_BACKSLASHES = np.uint64(0x5C5C5C5C5C5C5C5C)


_LOW7 = np.uint64(0x7F7F7F7F7F7F7F7F)


@inline
def _exact_zero_bytes(v):
    # high bit set in exactly the zero bytes of v
    return ~(((v & _LOW7) + _LOW7) | v | _LOW7)


@inline
def _find(buf, words, c, e, one, two):
    """The first position from ``c`` (before ``e``) of a byte ``one`` or ``two`` (each repeated
    in the eight bytes of a uint64), or ``e``: a word of eight aligned bytes at a time."""
    if c >= e:
        return e
    j = c >> 3
    skip = np.uint64(8 * (c & 7))  # bytes of the first word before c
    nwords = words.size
    while 8 * j < e:
        if j < nwords:
            w = words[j]
        else:  # the last, partial word of the buffer, padded with zero bytes
            w = np.uint64(0)
            for k in range(8 * j, buf.size):
                w |= np.uint64(buf[k]) << np.uint64(8 * (k - 8 * j))
        m = _exact_zero_bytes(w ^ one) | _exact_zero_bytes(w ^ two)
        m = (m >> skip) << skip
        skip = np.uint64(0)
        if m != 0:
            low = m & (~m + _ONE)
            i = 8 * j + np.int64(((low >> np.uint64(7)) * _BYTE_INDEX) >> np.uint64(56))
            return i if i < e else e
        j += 1
    return e


@inline
def _run(buf, c, e, op):
    """End of the longest run from ``c`` of the characters ``op`` (``DIGITS``, ``METHOD`` or
    ``LOWER``) reads, before ``e`` (the token runs are found by :func:`_find`)."""
    while c < e:
        b = buf[c]
        if op == DIGITS:
            if not _is_digit(b):
                break
        elif op == METHOD:
            if not (65 <= b <= 90 or 97 <= b <= 122 or b == 95 or b == 45):
                break
        else:  # LOWER
            if not 97 <= b <= 122:
                break
        c += 1
    return c


@inline
def _integer(buf, s, e):
    """The value of the ASCII digits ``buf[s:e]``, or -1: no digits (``-``), or beyond int64."""
    if e <= s:
        return -1
    v = 0
    for i in range(s, e):
        d = np.int64(buf[i]) - 48
        if d < 0 or d > 9 or v > (9223372036854775807 - d) // 10:
            return -1
        v = v * 10 + d
    return v


#: Where ``clock`` keeps the last time field it read in full (``clock[0:2]``'s): a flag that it
#: holds one, the field's 26 bytes as four words (the last two bytes alone), the local time at its
#: day's start, and the local time itself.
_LAST_TIME = 4
_LOW16 = np.uint64(0xFFFF)


@inline
def _clf_time(buf, words, t, e, months, month_days, out, k):
    """``dd/Mon/yyyy:HH:MM:SS +zzzz`` at ``t``: its local time and offset into ``out``, or False
    (no such time, or not this shape); ``out[k]``, ``out[k + 1]``.

    Lines of a log come in time order, many in one second, most in one day: the time field of
    ``out[0:2]`` is compared with the last one read in full (kept in ``out[4:11]``), as four words.
    The same 26 bytes give the same time; the same day and offset only need ``HH:MM:SS`` read
    (the bytes that differ); anything else is read in full. What is vouched for is what the full
    reading vouches for: the unchanged bytes passed it before."""
    if t + 26 > e:
        return False
    if k == 0:
        last = _LAST_TIME
        w0 = np.int64(_load8(buf, words, t))
        w1 = np.int64(_load8(buf, words, t + 8))
        w2 = np.int64(_load8(buf, words, t + 16))
        w3 = np.int64(_load8(buf, words, t + 24) & _LOW16)
        if out[last] == 1 and w0 == out[last + 1] and w3 == out[last + 4] and (w1 & 0xFFFFFFFF) == (out[last + 2] & 0xFFFFFFFF) \
                and (w2 >> 32) == (out[last + 3] >> 32):  # the same day (bytes 0 - 11) and offset (20 - 25)
            if w1 == out[last + 2] and w2 == out[last + 3]:
                out[0] = out[last + 6]
                out[1] = out[last + 7]
                return True
            hh = _digits(buf, t + 12, t + 14)
            mi = _digits(buf, t + 15, t + 17)
            ss = _digits(buf, t + 18, t + 20)
            if not (buf[t + 14] == 58 and buf[t + 17] == 58 and 0 <= hh <= 23 and 0 <= mi <= 59 and 0 <= ss <= 59):
                return False
            out[0] = out[last + 5] + (hh * 3600 + mi * 60 + ss) * 1_000_000
            out[1] = out[last + 7]
            out[last + 2] = w1
            out[last + 3] = w2
            out[last + 6] = out[0]
            return True
    if not (buf[t + 2] == 47 and buf[t + 6] == 47 and buf[t + 11] == 58 and buf[t + 14] == 58
            and buf[t + 17] == 58 and buf[t + 20] == 32 and (buf[t + 21] == 43 or buf[t + 21] == 45)):
        return False
    code = (np.int64(buf[t + 3]) << 16) | (np.int64(buf[t + 4]) << 8) | np.int64(buf[t + 5])
    month = 0
    for j in range(12):
        if months[j] == code:
            month = j + 1
    zh = _digits(buf, t + 22, t + 24)
    zm = _digits(buf, t + 24, t + 26)
    if month == 0 or zh < 0 or zm < 0:
        return False
    m = zh * 60 + zm
    if not _civil(buf, _digits(buf, t + 7, t + 11), month, _digits(buf, t, t + 2), t + 12, -m if buf[t + 21] == 45 else m,
                  month_days, out, k):
        return False
    if k == 0:
        last = _LAST_TIME
        out[last] = 1
        out[last + 1] = w0
        out[last + 2] = w1
        out[last + 3] = w2
        out[last + 4] = w3
        out[last + 5] = out[0] - (_digits(buf, t + 12, t + 14) * 3600 + _digits(buf, t + 15, t + 17) * 60
                                  + _digits(buf, t + 18, t + 20)) * 1_000_000
        out[last + 6] = out[0]
        out[last + 7] = out[1]
    return True


@inline
def _iso_time(buf, t, e, month_days, out, k):
    """``yyyy-mm-ddTHH:MM:SS`` then ``+HH:MM``, ``-HH:MM`` or ``Z`` at ``t``: its end (the local
    time and offset into ``out``), or -1."""
    if t + 20 > e or not (buf[t + 4] == 45 and buf[t + 7] == 45 and buf[t + 10] == 84 and buf[t + 13] == 58
                          and buf[t + 16] == 58):
        return -1
    z = t + 19
    if z + 6 <= e and (buf[z] == 43 or buf[z] == 45) and buf[z + 3] == 58:
        zh = _digits(buf, z + 1, z + 3)
        zm = _digits(buf, z + 4, z + 6)
        if zh < 0 or zm < 0:
            return -1
        m = zh * 60 + zm
        offset, end = (-m if buf[z] == 45 else m), z + 6
    elif buf[z] == 90:
        offset, end = 0, z + 1
    else:
        return -1
    if not _civil(buf, _digits(buf, t, t + 4), _digits(buf, t + 5, t + 7), _digits(buf, t + 8, t + 10), t + 11, offset,
                  month_days, out, k):
        return -1
    return end


@inline
def _civil(buf, year, month, day, hms, offset, month_days, out, k):
    """Check a date and the ``HH:MM:SS`` at ``hms``; write microseconds since 1970 (naive) and the
    offset into ``out``."""
    hh = _digits(buf, hms, hms + 2)
    mi = _digits(buf, hms + 3, hms + 5)
    ss = _digits(buf, hms + 6, hms + 8)
    if not (1 <= month <= 12 and year >= 1000 and 0 <= hh <= 23 and 0 <= mi <= 59 and 0 <= ss <= 59 and day >= 1):
        return False
    dim = month_days[month - 1]
    if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        dim = 29
    if day > dim:
        return False
    out[k] = (_days_from_civil(year, month, day) * 86400 + hh * 3600 + mi * 60 + ss) * 1_000_000
    out[k + 1] = offset
    return True


@inline
def _line(buf, words, data_buffer, row, p, stop, q, nq, escapes, ops, args, literals, literal_at, literal_words, time_slot, client_slot, views, line_view,
          local, offset, fast, flags, bounds, clock, months, month_days, number_of, numbers, has_number):
    """Read the line ``buf[p:stop]`` (``stop``: its newline) with the program and write its
    fields, or leave it to the regex (its text in ``line_view``). ``q[:nq]``: the positions of the
    line's double quotes that no backslash escapes (all of them when ``nq <= q.size``),
    ``escapes``: it holds an escape that changes a value (``\\"`` or ``\\\\``; ``\\x22`` does not).
    ``flags[row]``: bit 0, the line holds such an escape; bit 1, the field in ``client_slot``
    holds a colon."""
    e = stop - 1 if stop > p and buf[stop - 1] == 13 else stop  # a "\r" before the newline is not the line's
    c = p
    ok = True
    esc = escapes
    known = nq <= q.size  # a quoted field ends at the next quote of q
    qi = 0
    clock[0] = 0
    clock[1] = 0
    for i in range(ops.size):
        op = ops[i]
        if op == LITERAL:
            a = literal_at[args[i]]
            n = literal_at[args[i] + 1] - a
            if c + n > e or (_load8(buf, words, c) & _first_bytes(n)) != literal_words[args[i]]:
                ok = False
                break
            for j in range(8, n):  # a literal longer than eight bytes
                if buf[c + j] != literals[a + j]:
                    ok = False
                    break
            if not ok:
                break
            c += n
            continue
        s = c
        if op == QUOTE and known and (c == p or buf[c - 1] != 92):  # one opening after a backslash is searched
            while qi < nq and q[qi] < c:
                qi += 1
            c = q[qi] if qi < nq else e
        elif op == QUOTE:
            while True:
                c = _find(buf, words, c, e, _QUOTES, _BACKSLASHES)
                if c >= e or buf[c] == 34:
                    break
                if c + 1 < e and (buf[c + 1] == 34 or buf[c + 1] == 92):
                    esc = True  # an escape the value's reading undoes
                c += 2  # a backslash: it and the byte after it are the value's
                if c > e:  # a backslash escapes nothing: the regex's reading differs
                    ok = False
                    break
        elif op == STATUS:
            ok = c + 3 <= e and _is_digit(buf[c]) and _is_digit(buf[c + 1]) and _is_digit(buf[c + 2])
            c += 3
        elif op == SIZE or op == SECONDS:
            c = _run(buf, c, e, DIGITS)
            if c == s:
                if c < e and buf[c] == 45:
                    c += 1
                else:
                    ok = False
            elif op == SECONDS and c + 1 < e and buf[c] == 46 and _is_digit(buf[c + 1]):
                c = _run(buf, c + 1, e, DIGITS)
        elif op == CLF_TIME:  # the time field's reading in clock[0:2], another one's in clock[2:4]
            ok = _clf_time(buf, words, c, e, months, month_days, clock, 0 if args[i] == time_slot else 2)
            c += 26
        elif op == ISO:
            c = _iso_time(buf, c, e, month_days, clock, 0 if args[i] == time_slot else 2)
            ok = c >= 0
        elif op == TOKEN or op == TOKEN0:
            c = _find(buf, words, c, e, _SPACES, _SPACES)
            ok = op == TOKEN0 or c > s
        elif op == HOST:
            c = _find(buf, words, c, e, _SPACES, _COLONS)
            ok = c > s
        else:
            c = _run(buf, c, e, op)
            ok = c > s
        if not ok:
            break
        bounds[args[i], 0] = s
        bounds[args[i], 1] = c
    nslots = bounds.shape[0]
    if ok:
        fast[row] = 1
        bits = 1 if esc else 0
        if client_slot >= 0 and _find(buf, words, bounds[client_slot, 0], bounds[client_slot, 1], _COLONS,
                                      _COLONS) < bounds[client_slot, 1]:
            bits |= 2
        flags[row] = bits
        local[row] = clock[0]
        offset[row] = clock[1]
        for f in range(nslots):
            k = number_of[f]
            if k >= 0:  # an integer (-1: "-", or too large)
                v = _integer(buf, bounds[f, 0], bounds[f, 1])
                numbers[k, row] = max(v, 0)
                has_number[k, row] = 1 if v >= 0 else 0
            elif f != time_slot:  # the time is kept typed (local, offset), not as text
                _view(views[f], row, buf, words, bounds[f, 0], bounds[f, 1], data_buffer)
        _view(views[nslots], row, buf, words, c, e, data_buffer)  # rest
        line_view[row, 0] = 0  # null (an empty view)
        line_view[row, 1] = 0
    else:
        fast[row] = 0
        flags[row] = 0
        local[row] = 0
        offset[row] = 0
        for f in range(nslots + 1):  # empty views
            views[f, row, 0] = 0
            views[f, row, 1] = 0
        for k in range(numbers.shape[0]):
            numbers[k, row] = 0
            has_number[k, row] = 0
        _view(line_view, row, buf, words, p, e, data_buffer)


@native
def _scan(buf, words, data_buffer, start, end, n, row0, q, ops, args, literals, literal_at, literal_words, time_slot, client_slot, views, line_view,
          local, offset, fast, flags, bounds, clock, months, month_days, number_of, numbers, has_number):
    """One pass over ``buf[start:end]``, eight bytes at a time: the quotes, backslashes, newlines
    and bytes >= 0x80 of a word are flagged together (SWAR), visited lowest first (a flagged byte
    is checked, the flags above a true one may be false); each line is read at its newline
    (:func:`_line`) with the positions of its quotes (in ``q``; a quote after an odd run of
    backslashes is escaped, part of a value, and not one of them), each multi-byte character
    checked as UTF-8."""
    row = 0
    p = start  # the current line's first byte
    nq = 0
    last_backslash = -2  # where the current run of backslashes ends
    odd = False  # the run is of odd length (so it escapes the byte after it)
    escapes = False
    utf8_to = start  # continuation bytes of a checked UTF-8 sequence end before this
    nwords = words.size
    for j in range(start >> 3, (end + 7) >> 3):
        if j < nwords:
            w = words[j]
        else:  # the last, partial word of the buffer, padded with zero bytes
            w = np.uint64(0)
            for k in range(8 * j, min(end, buf.size)):
                w |= np.uint64(buf[k]) << np.uint64(8 * (k - 8 * j))
        m = _zero_bytes(w ^ _QUOTES) | _zero_bytes(w ^ _NEWLINES) | _zero_bytes(w ^ _BACKSLASHES) | (w & _HIGHS)
        while m != 0:
            low = m & (~m + _ONE)
            m ^= low
            i = 8 * j + np.int64(((low >> np.uint64(7)) * _BYTE_INDEX) >> np.uint64(56))
            if i < start or i >= end:
                continue
            c = buf[i]
            if c == 34:
                if last_backslash == i - 1 and odd:
                    escapes = True  # an escaped quote, inside a value
                else:
                    if nq < q.size:
                        q[nq] = i
                    nq += 1
            elif c == 92:
                if last_backslash == i - 1:
                    odd = not odd
                    escapes |= not odd  # a doubled backslash
                else:
                    odd = True
                last_backslash = i
            elif c == 10:
                if row >= n:
                    return LINE_COUNT
                _line(buf, words, data_buffer, row0 + row, p, i, q, nq, escapes, ops, args, literals, literal_at, literal_words, time_slot, client_slot, views,
                      line_view, local, offset, fast, flags, bounds, clock, months, month_days, number_of, numbers, has_number)
                row += 1
                p = i + 1
                nq = 0
                last_backslash = -2
                odd = False
                escapes = False
            elif c >= 128 and i >= utf8_to:
                k = utf8_length(buf, i, end)
                if k == 0:
                    return INVALID_UTF8
                utf8_to = i + k
    if row != n or p != end:
        return LINE_COUNT
    return OK


def _pooled(shape: tuple[int, ...], dtype) -> np.ndarray:
    """An uninitialised array in memory of Arrow's pool. The views of one batch are tens of MB:
    taken from the operating system afresh (``np.empty``), every page of them was zeroed by the
    kernel before the scan wrote it, about a tenth of a load's CPU time; the pool hands back the
    memory of the batches already released instead."""
    count = int(np.prod(shape))
    return np.frombuffer(pa.allocate_buffer(max(count * np.dtype(dtype).itemsize, 1)), dtype=dtype,
                         count=count).reshape(shape)


def _integers(values: np.ndarray, known: np.ndarray) -> pl.Series:
    """Int64 ``values``, null where ``known`` is 0."""
    validity = pa.py_buffer(np.packbits(known.view(np.bool_), bitorder="little"))
    return pl.Series(pa.Array.from_buffers(pa.int64(), len(values), [validity, pa.py_buffer(values)]))


def _strings(views: np.ndarray, buffers: list[pa.Buffer], valid: np.ndarray | None = None) -> pl.Series:
    validity = None if valid is None else pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pl.Series(pa.Array.from_buffers(pa.string_view(), len(views), [validity, pa.py_buffer(views), *buffers]))


#: Quotes of a line remembered by the scan's pass (a line with more reads its quoted fields by
#: searching).
_QUOTES_KNOWN = 32


def scan_format(program: Program, blocks: Sequence[tuple[bytes, int, int, int]],
                kernel=None) -> tuple[pl.DataFrame, pl.Series, pl.Series] | None:
    """Scan blocks of whole lines, ``(data, start, end, n)``: the ``n`` lines ``data[start:end]``,
    each ending with ``\\n``, into one set of columns (one chunk, the blocks' lines in order).
    ``kernel``: the compiled pass that runs ``program`` (:func:`_scan`, which interprets it, unless
    given one specialised to it: :mod:`forensics.loaders.scan_kernels`).

    Returns
    -------
    (fields, fast, line) or None
        ``fields``: one row per line: a String column per field of the format (``program.slots``,
        the text the format's regex group holds), but the time field (``program.time_slot``, kept
        typed as ``local`` and ``utc_offset_min``) and the integers (``program.numbers``, typed as
        :data:`INTEGER_FIELDS` says), and ``rest`` (views into the blocks' bytes),
        ``local`` (Datetime[us], naive), ``utc_offset_min`` (Int16), ``_escaped`` (Boolean: the
        line holds a ``\"`` or ``\\`` escape), ``_client_colon`` (Boolean: ``client_ip`` holds a
        ``:``); filled where ``fast`` (Boolean) is true, empty or zero
        elsewhere. ``line``: the text of every line the program did not read (null where it did),
        for the regex. None when a block holds invalid UTF-8 (or one is too large for 32-bit view
        offsets): split those the exact way.
    """
    total = sum(n for _, _, _, n in blocks)
    nslots = len(program.slots)
    views = _pooled((nslots + 1, total, 2), np.uint64)
    line_view = _pooled((total, 2), np.uint64)
    local = np.empty(total, dtype=np.int64)
    offset = np.empty(total, dtype=np.int16)
    fast = np.empty(total, dtype=np.uint8)
    flags = np.empty(total, dtype=np.uint8)
    numbers = np.empty((len(program.numbers), total), dtype=np.int64)
    has_number = np.empty((len(program.numbers), total), dtype=np.uint8)
    bounds = np.zeros((nslots, 2), dtype=np.int64)
    clock = np.zeros(_LAST_TIME + 8, dtype=np.int64)  # two times read, the last one kept
    q = np.zeros(_QUOTES_KNOWN, dtype=np.int64)
    buffers: dict[int, tuple[int, bytes]] = {}  # id(data) -> (index, data): blocks cut from one buffer share it
    row = 0
    for data, start, end, n in blocks:
        if end > 2**31 - 1:
            return None
        b, _ = buffers.setdefault(id(data), (len(buffers), data))
        buf = np.frombuffer(data, dtype=np.uint8)
        words = np.frombuffer(data, dtype=np.uint64, count=len(data) // 8)  # words[j]: bytes 8j .. 8j+7
        code = (kernel or _scan)(buf, words, b, start, end, n, row, q, program.ops, program.args, program.literals, program.literal_at, program.literal_words,
                     program.time_slot, program.client_slot, views, line_view, local, offset, fast, flags, bounds, clock, _MONTHS, _MONTH_DAYS,
                     program.number_of, numbers, has_number)
        if code == INVALID_UTF8:
            return None
        if code != OK:
            raise ValueError(f"access-log block: expected {n} whole lines in bytes {start}-{end}")
        row += n
    data_buffers = [pa.py_buffer(data) for _, data in buffers.values()]
    fast_mask = fast.view(np.bool_)
    fields = pl.DataFrame(
        [_strings(views[k], data_buffers).alias(name) if k >= len(program.slots) or program.number_of[k] < 0
         else _integers(numbers[program.number_of[k]], has_number[program.number_of[k]]).cast(INTEGER_FIELDS[name]).alias(name)
         for k, name in enumerate((*program.slots, "rest")) if k != program.time_slot]
        + [
            pl.Series("local", local).cast(pl.Datetime("us")),
            pl.Series("utc_offset_min", offset),
            pl.Series("_escaped", (flags & 1).view(np.bool_)),
            pl.Series("_client_colon", (flags & 2).astype(np.bool_)),
        ]
    )
    return fields, pl.Series("fast", fast_mask), _strings(line_view, data_buffers, ~fast_mask).alias("line")


#: The program of Apache's ``combined`` (the commonest format).
COMBINED_PROGRAM = program_of(COMBINED)


def warm_up(program: Program | None = None, kernel=None) -> float:
    """Compile the scanner (or load it from numba's on-disk cache) now rather than on the first
    log; returns the seconds it took. ``make install`` calls it, so analysts never wait for it.
    ``program`` and ``kernel``: as :func:`scan_format` takes them (default: the interpreter)."""
    import time

    t0 = time.perf_counter()
    line = b'192.0.2.1 - - [01/Jan/2017:00:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-"\n'
    scan_format(program or COMBINED_PROGRAM, [(line, 0, len(line), 1)], kernel)
    return time.perf_counter() - t0
