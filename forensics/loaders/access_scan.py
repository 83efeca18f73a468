r"""Native scan of Apache ``combined`` lines: one compiled pass over a block's bytes.

The access-log loader's fast route. :func:`scan_combined` walks the bytes of whole lines once
(compiled by numba, no GIL held, so the loader's worker threads run it side by side) and, for
every line it can vouch for, writes the typed columns straight away:

- the seven text fields (``client_ip``, ``ident``, ``remote_user``, ``request``, ``referer``,
  ``user_agent``, ``extra``) as Arrow string *views* into the block itself: no byte is copied,
  a view being 16 bytes (length, then the string inline when it is at most 12 bytes long, else
  its first 4 bytes and its offset in the block);
- ``local`` (microseconds since 1970, naive ``%t``), ``utc_offset_min``, ``status`` and ``bytes``.

A line is vouched for exactly when :data:`forensics.loaders.access_log.COMBINED` would match it
with these very pieces (the regex's parse being unique):

- exactly six ``"`` and no backslash inside the request, referer or user agent (no escape to
  undo);
- before the first quote ``%h %l %u [dd/Mon/yyyy:HH:MM:SS +zzzz]``: three non-empty tokens
  without spaces, one space between pieces, month names case-sensitive, ASCII digits, and a
  space before the quote;
- `` NNN size `` between the request and the referer (size digits, at most 18 of them, or ``-``),
  one space between the referer and the user agent; anything after the user agent is ``extra``;
- a date and time that exist (day within its month, leap years, ``HH:MM:SS`` at most
  ``23:59:59``, year 1000 - 9999).

Every other line is left to the exact route (the regex) by the caller, with its text given as a
view too (a ``\r`` before the newline removed, as :func:`forensics.evidence.split_lines` does).
A block holding invalid UTF-8 anywhere is not scanned at all (status :data:`INVALID_UTF8`): the
caller splits it the exact way, which marks and escapes the bad lines.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
import pyarrow as pa
from numba import njit

#: The text fields, in the order of :func:`scan_combined`'s ``views`` rows.
TEXT_FIELDS = ("client_ip", "ident", "remote_user", "request", "referer", "user_agent", "extra")

OK = 0
#: Some line holds invalid UTF-8: nothing was scanned.
INVALID_UTF8 = 1
#: The block did not hold the number of lines it was said to (a caller's bug): nothing to trust.
LINE_COUNT = 2

#: Compiled once and cached next to this file; no GIL, so worker threads scan side by side.
#: Without the reference-counting runtime (``_nrt=False``): the kernels allocate nothing, and
#: counting references on every array passed from function to function (atomic operations)
#: tripled the scan's cost.
_native = njit(nogil=True, cache=True, _nrt=False)

_NULL_BYTES = np.int64(-1)  # "-" size, before it becomes a null

# "Jan" .. "Dec" as 24-bit integers (first byte highest)
_MONTHS = np.array([(ord(m[0]) << 16) | (ord(m[1]) << 8) | ord(m[2]) for m in
                    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")], dtype=np.int64)
_MONTH_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


_LOW32 = np.uint64(0xFFFFFFFF)
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)


@_native
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


@_native
def _first_bytes(k):
    """Mask keeping the first ``k`` bytes of a uint64 (none when ``k <= 0``, all when ``k >= 8``)."""
    if k <= 0:
        return np.uint64(0)
    if k >= 8:
        return _ALL
    return (np.uint64(1) << np.uint64(8 * k)) - np.uint64(1)


@_native
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


@_native
def _digits(buf, s, e):
    """The value of the ASCII digits ``buf[s:e]``, or -1 when one is not a digit."""
    v = 0
    for i in range(s, e):
        d = np.int64(buf[i]) - 48
        if d < 0 or d > 9:
            return -1
        v = v * 10 + d
    return v


@_native
def _days_from_civil(y, m, d):
    """Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm)."""
    y = y - (1 if m <= 2 else 0)
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    mp = m + 9 if m <= 2 else m - 3
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


@_native
def _utf8_length(buf, i, end):
    """Length of the valid UTF-8 sequence starting with the byte >= 0x80 at ``i``, or 0 (no
    overlong forms, surrogates or code points above U+10FFFF: what Python's and polars' decoders
    accept)."""
    c = buf[i]
    if 0xC2 <= c <= 0xDF:
        k, lo, hi = 1, 0x80, 0xBF
    elif c == 0xE0:
        k, lo, hi = 2, 0xA0, 0xBF
    elif c == 0xED:
        k, lo, hi = 2, 0x80, 0x9F
    elif 0xE1 <= c <= 0xEF:
        k, lo, hi = 2, 0x80, 0xBF
    elif c == 0xF0:
        k, lo, hi = 3, 0x90, 0xBF
    elif c == 0xF4:
        k, lo, hi = 3, 0x80, 0x8F
    elif 0xF1 <= c <= 0xF3:
        k, lo, hi = 3, 0x80, 0xBF
    else:
        return 0
    if i + k >= end:
        return 0
    b = buf[i + 1]
    if b < lo or b > hi:
        return 0
    for j in range(2, k + 1):
        b = buf[i + j]
        if b < 0x80 or b > 0xBF:
            return 0
    return k + 1


@_native
def _line(buf, words, data_buffer, row, p, stop, nq, bs, q, views, line_view, local, offset, status, size, fast, months, month_days):
    """Vouch for the line ``buf[p:stop]`` (``stop``: its newline) and write its columns, or
    leave it to the exact route (its text in ``line_view``)."""
    e = stop - 1 if stop > p and buf[stop - 1] == 13 else stop  # a "\r" before the newline is not the line's
    ok = nq == 6 and not bs
    t = 0
    s1 = p
    s2 = p
    s3 = p
    if ok:
        # head: three tokens, then "[dd/Mon/yyyy:HH:MM:SS +zzzz] " up to the first quote
        t = q[0] - 29  # "["
        s3 = t - 1
        s1 = p
        while s1 < s3 and buf[s1] != 32:
            s1 += 1
        s2 = s1 + 1
        while s2 < s3 and buf[s2] != 32:
            s2 += 1
        k = s2 + 1
        while k < s3 and buf[k] != 32:
            k += 1
        ok = (t > p and s1 > p and s2 > s1 + 1 and s3 > s2 + 1 and k == s3 and buf[s3] == 32
              and buf[t] == 91 and buf[t + 3] == 47 and buf[t + 7] == 47 and buf[t + 12] == 58
              and buf[t + 15] == 58 and buf[t + 18] == 58 and buf[t + 21] == 32
              and (buf[t + 22] == 43 or buf[t + 22] == 45) and buf[t + 27] == 93 and buf[t + 28] == 32)
    day = month = year = hh = mi = ss = zh = zm = st = sz = 0
    if ok:
        day = _digits(buf, t + 1, t + 3)
        code = (np.int64(buf[t + 4]) << 16) | (np.int64(buf[t + 5]) << 8) | np.int64(buf[t + 6])
        for k in range(12):
            if months[k] == code:
                month = k + 1
        year = _digits(buf, t + 8, t + 12)
        hh = _digits(buf, t + 13, t + 15)
        mi = _digits(buf, t + 16, t + 18)
        ss = _digits(buf, t + 19, t + 21)
        zh = _digits(buf, t + 23, t + 25)
        zm = _digits(buf, t + 25, t + 27)
        ok = (month > 0 and year >= 1000 and 0 <= hh <= 23 and 0 <= mi <= 59 and 0 <= ss <= 59
              and zh >= 0 and zm >= 0 and day >= 1)
        if ok:
            dim = month_days[month - 1]
            if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
                dim = 29
            ok = day <= dim
    if ok:
        # " NNN size " between request and referer (size: 1 - 18 digits or "-"); " " between
        # referer and user agent
        a = q[1] + 1
        b = q[2]
        st = _digits(buf, a + 1, a + 4)
        ok = (7 <= b - a <= 24 and buf[a] == 32 and buf[a + 4] == 32 and buf[b - 1] == 32 and st >= 0
              and q[4] == q[3] + 2 and buf[q[3] + 1] == 32)
        if ok:
            if b - a == 7 and buf[a + 5] == 45:
                sz = _NULL_BYTES
            else:
                sz = _digits(buf, a + 5, b - 1)
                ok = sz >= 0
    if ok:
        fast[row] = 1
        local[row] = (_days_from_civil(year, month, day) * 86400 + hh * 3600 + mi * 60 + ss) * 1_000_000
        m = zh * 60 + zm
        offset[row] = -m if buf[t + 22] == 45 else m
        status[row] = st
        size[row] = sz
        _view(views[0], row, buf, words, p, s1, data_buffer)
        _view(views[1], row, buf, words, s1 + 1, s2, data_buffer)
        _view(views[2], row, buf, words, s2 + 1, s3, data_buffer)
        _view(views[3], row, buf, words, q[0] + 1, q[1], data_buffer)
        _view(views[4], row, buf, words, q[2] + 1, q[3], data_buffer)
        _view(views[5], row, buf, words, q[4] + 1, q[5], data_buffer)
        _view(views[6], row, buf, words, q[5] + 1, e, data_buffer)
        _view(line_view, row, buf, words, p, p, data_buffer)
    else:
        fast[row] = 0
        local[row] = 0
        offset[row] = 0
        status[row] = 0
        size[row] = 0
        for f in range(7):
            _view(views[f], row, buf, words, p, p, data_buffer)
        _view(line_view, row, buf, words, p, e, data_buffer)


_ONE = np.uint64(1)
_ONES = np.uint64(0x0101010101010101)
_HIGHS = np.uint64(0x8080808080808080)
_QUOTES = np.uint64(0x2222222222222222)
_NEWLINES = np.uint64(0x0A0A0A0A0A0A0A0A)
_BACKSLASHES = np.uint64(0x5C5C5C5C5C5C5C5C)
_BYTE_INDEX = np.uint64(0x0001020304050607)  # (2**(8k) * this) >> 56 == k


@_native
def _zero_bytes(v):
    # high bit set in the lowest zero byte of v (exact), maybe in some above it (harmless)
    return (v - _ONES) & ~v & _HIGHS


@_native
def _scan(buf, words, data_buffer, start, end, n, row0, views, line_view, local, offset, status, size, fast, q, months, month_days):
    """One pass over ``buf[start:end]``, eight bytes at a time: the quotes, backslashes, newlines
    and bytes >= 0x80 of a word are flagged together (SWAR), visited lowest first (a flagged byte
    is checked, the flags above a true one may be false), and each line is finished at its
    newline (:func:`_line`)."""
    row = 0
    p = start  # the current line's first byte
    nq = 0
    bs = False
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
                if nq < 6:
                    q[nq] = i
                nq += 1
            elif c == 92:
                if nq == 1 or nq == 3 or nq == 5:
                    bs = True
            elif c == 10:
                if row >= n:
                    return LINE_COUNT
                _line(buf, words, data_buffer, row0 + row, p, i, nq, bs, q, views, line_view, local, offset, status, size, fast, months, month_days)
                row += 1
                p = i + 1
                nq = 0
                bs = False
            elif c >= 128 and i >= utf8_to:
                k = _utf8_length(buf, i, end)
                if k == 0:
                    return INVALID_UTF8
                utf8_to = i + k
    if row != n or p != end:
        return LINE_COUNT
    return OK


def _strings(views: np.ndarray, buffers: list[pa.Buffer], valid: np.ndarray | None = None) -> pl.Series:
    validity = None if valid is None else pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pl.Series(pa.Array.from_buffers(pa.string_view(), len(views), [validity, pa.py_buffer(views), *buffers]))


def scan_combined(blocks: Sequence[tuple[bytes, int, int, int]]) -> tuple[pl.DataFrame, pl.Series, pl.Series] | None:
    """Scan blocks of whole lines, ``(data, start, end, n)``: the ``n`` lines ``data[start:end]``,
    each ending with ``\\n``, into one set of columns (one chunk, the blocks' lines in order).

    Returns
    -------
    (fields, fast, line) or None
        ``fields``: one row per line, ``client_ip, ident, remote_user, request, referer,
        user_agent, extra`` (String, views into the blocks' bytes), ``local`` (Datetime[us],
        naive), ``utc_offset_min`` (Int16), ``status`` (Int16), ``bytes`` (Int64, null for ``-``);
        filled where ``fast`` (Boolean) is true, empty or zero elsewhere. ``line``: the text of
        every line ``fast`` refused (null where it vouched), for the exact route. None when a
        block holds invalid UTF-8 (or one is too large for 32-bit view offsets): split those the
        exact way.
    """
    total = sum(n for _, _, _, n in blocks)
    views = np.empty((len(TEXT_FIELDS), total, 2), dtype=np.uint64)
    line_view = np.empty((total, 2), dtype=np.uint64)
    local = np.empty(total, dtype=np.int64)
    offset = np.empty(total, dtype=np.int16)
    status = np.empty(total, dtype=np.int16)
    size = np.empty(total, dtype=np.int64)
    fast = np.empty(total, dtype=np.uint8)
    q = np.zeros(6, dtype=np.int64)
    buffers: dict[int, tuple[int, bytes]] = {}  # id(data) -> (index, data): blocks cut from one buffer share it
    row = 0
    for data, start, end, n in blocks:
        if end > 2**31 - 1:
            return None
        b, _ = buffers.setdefault(id(data), (len(buffers), data))
        buf = np.frombuffer(data, dtype=np.uint8)
        words = np.frombuffer(data, dtype=np.uint64, count=len(data) // 8)  # words[j]: bytes 8j .. 8j+7
        code = _scan(buf, words, b, start, end, n, row, views, line_view, local, offset, status, size, fast, q,
                     _MONTHS, _MONTH_DAYS)
        if code == INVALID_UTF8:
            return None
        if code != OK:
            raise ValueError(f"access-log block: expected {n} whole lines in bytes {start}-{end}")
        row += n
    data_buffers = [pa.py_buffer(data) for _, data in buffers.values()]
    fast_mask = fast.view(np.bool_)
    fields = pl.DataFrame(
        [_strings(views[k], data_buffers).alias(name) for k, name in enumerate(TEXT_FIELDS)]
        + [
            pl.Series("local", local).cast(pl.Datetime("us")),
            pl.Series("utc_offset_min", offset),
            pl.Series("status", status),
            pl.Series("bytes", size),
        ]
    ).with_columns(bytes=pl.when(pl.col("bytes") != _NULL_BYTES).then(pl.col("bytes")))
    return fields, pl.Series("fast", fast_mask), _strings(line_view, data_buffers, ~fast_mask).alias("line")


def warm_up() -> float:
    """Compile the scanner (or load it from numba's on-disk cache) now rather than on the first
    log; returns the seconds it took. ``make install`` calls it, so analysts never wait for it."""
    import time

    t0 = time.perf_counter()
    line = b'192.0.2.1 - - [01/Jan/2017:00:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-"\n'
    scan_combined([(line, 0, len(line), 1)])
    return time.perf_counter() - t0
