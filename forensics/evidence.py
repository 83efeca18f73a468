"""Evidence I/O: read-only opening, bounded gzip, line splitting with line numbers, rejects.

Everything here works per file (Python) and per line (vectorised polars): no Python loop runs over
the lines of a log. The rules every loader relies on:

- Inputs are opened read-only (``O_RDONLY``, plus ``O_NOATIME`` where the OS allows it, so reading
  does not even touch the access time); nothing is ever written next to them. The raw line reader
  maps a plain file read only, window by window, through that descriptor
  (:mod:`forensics.filemap`), instead of copying it.
- A file is gzip when its first two bytes are ``1f 8b``, whatever its name. Decompression is bounded
  (:data:`DEFAULT_MAX_DECOMPRESSED` bytes per file, configurable): a truncated or corrupt stream, or
  one that exceeds the bound or decompresses over :data:`MAX_RATIO`:1 past :data:`BOMB_MIN_BYTES`
  (a decompression bomb), keeps the lines decompressed so far; the
  incomplete last line is rejected and one more reject row (``line_no`` = last line + 1) stands for
  the unreadable rest, with the reason.
- Lines are split on ``\\n``; one trailing ``\\r`` is removed; a final line without a newline counts;
  ``line_no`` is 1-based in the decompressed file.
- A line that is not valid UTF-8 is carried with its invalid bytes shown as ``\\xNN`` escapes and
  the flag ``invalid_utf8``; loaders reject it (never guess an encoding for log text).
- A line longer than :data:`MAX_LINE_BYTES` is one reject (its size and first characters), never
  held in memory whole: the reader skips to its end, so memory stays bounded whatever one line holds.

So for every file: ``records + rejected == lines`` where ``lines`` counts the decompressed lines, plus
one for an unreadable gzip tail.
"""

from __future__ import annotations

import os
import re
import stat
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from forensics import filemap
from forensics.newlines import count_newlines, nth_newline

#: Upper bound on the decompressed size of one gzip evidence file (bytes); beyond it the rest of
#: the file is rejected with a reason instead of filling the memory.
DEFAULT_MAX_DECOMPRESSED = 8 * 1024**3

#: A gzip file that has produced more than :data:`BOMB_MIN_BYTES` and over :data:`MAX_RATIO` times
#: the compressed bytes read so far is a decompression bomb: the rest is rejected with a reason.
#: Deflate cannot exceed about 1032:1; real logs compress 5-50:1 (the scale-100 sample: 13:1), one
#: log line repeated about 290:1: only crafted input gets over the bound, and a few kB of it would
#: otherwise fill the memory up to :data:`DEFAULT_MAX_DECOMPRESSED` (8 GB in one "line" of zeros).
MAX_RATIO = 200
BOMB_MIN_BYTES = 64 * 1024**2


def _bomb_problem(out_bytes: int, in_bytes: int) -> str | None:
    """The reject reason when ``out_bytes`` decompressed from ``in_bytes`` look like a bomb."""
    if out_bytes > BOMB_MIN_BYTES and out_bytes > MAX_RATIO * max(in_bytes, 1):
        return (
            f"decompression ratio over {MAX_RATIO}:1 ({out_bytes} bytes from {in_bytes} compressed; possible "
            f"decompression bomb): rest not read"
        )
    return None


#: Longest line a reader hands to a parser (bytes). A longer line is one reject with its size;
#: its bytes are skipped as they stream by. Real log lines are kilobytes (Apache caps a request
#: line at 8 KiB by default); 64 MiB leaves room for any statement a web application sends.
MAX_LINE_BYTES = 64 * 1024**2

#: Characters of a line kept in a reject's excerpt.
EXCERPT_CHARS = 160

_CHUNK = 1 << 20

#: Schema of :func:`read_lines`.
LINES = pl.Schema({"line_no": pl.Int64, "line": pl.String, "invalid_utf8": pl.Boolean})


@dataclass(frozen=True)
class RawEvidence:
    """The decompressed bytes of one evidence file and what went wrong reading it, if anything."""

    data: bytes
    compressed: bool
    #: Why the rest of the file could not be read (truncated/corrupt gzip, size bound); None if whole.
    tail_problem: str | None = None


def open_readonly(path: str | os.PathLike):
    """Open ``path`` for binary reading only, without following a final symlink.

    ``O_NOATIME`` is tried first so that reading evidence leaves its access time alone; it needs
    ownership of the file, so it falls back to a plain read-only open.
    """
    # O_NONBLOCK: opening a FIFO must not wait for a writer (it is then refused as not a regular file)
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)
    noatime = getattr(os, "O_NOATIME", 0)
    try:
        fd = os.open(path, flags | noatime)
    except PermissionError:
        fd = os.open(path, flags)
    except OSError:
        if not noatime:
            raise
        fd = os.open(path, flags)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise IsADirectoryError(f"not a regular file: {path}")
    return os.fdopen(fd, "rb", buffering=0)


def is_gzip(path: str | os.PathLike) -> bool:
    with open_readonly(path) as f:
        return f.read(2) == b"\x1f\x8b"


def read_evidence(path: str | os.PathLike, *, max_decompressed: int = DEFAULT_MAX_DECOMPRESSED) -> RawEvidence:
    """Read one evidence file whole, gunzipping it (bounded) when its content is gzip.

    The same bounded decompression as the streaming readers (:func:`_blocks`): a truncated or
    corrupt stream keeps what decompressed, and ``tail_problem`` says why the rest is missing.
    """
    parts: list[bytes] = []
    problem = None
    for block, problem in _blocks(path, max_decompressed, 1 << 26):
        parts.append(block)
    return RawEvidence(b"".join(parts), compressed=is_gzip(path), tail_problem=problem)


def _split_fast(data: bytes) -> pl.DataFrame | None:
    """Lines through polars' multi-threaded CSV reader (one String column), or None.

    The separator is the unit separator ``\\x1f`` and quoting is off, so a line is one field; a
    byte the reader would treat specially makes it fail or change the line, and then the caller
    splits the slow, exact way: invalid UTF-8 and ``\\x1f`` raise; an empty line comes back as
    null (made ""); anything else the reader might drop or alter (a BOM, ``\\r``) breaks the check
    that the lines' bytes plus one newline each add up to the input's size exactly.
    """
    try:
        lines = pl.read_csv(
            data, has_header=False, separator="\x1f", quote_char=None, schema={"line": pl.String},
            empty_string_is_null=False, raise_if_empty=False,
        )
    except (pl.exceptions.PolarsError, ValueError):
        return None
    newlines = lines.height - (0 if data.endswith(b"\n") else 1)
    size = lines.select(pl.col("line").str.len_bytes().sum()).item() or 0
    if size + newlines != len(data):
        return None
    return lines.select(
        line_no=pl.int_range(1, pl.len() + 1, dtype=pl.Int64),
        line=pl.col("line").fill_null(""),
        invalid_utf8=pl.lit(False),
    )


def split_lines(data: bytes) -> pl.DataFrame:
    """Split decompressed bytes into ``{line_no, line, invalid_utf8}`` (see :data:`LINES`).

    Valid UTF-8 without ``\\r`` goes through polars' CSV reader (:func:`_split_fast`); otherwise the
    file is split in two aligned ways (raw bytes, and text with invalid bytes as ``\\xNN``) and a
    line is invalid where they differ.
    """
    if not data:
        return pl.DataFrame(schema=LINES)
    if b"\r" not in data:
        fast = _split_fast(data)
        if fast is not None:
            return fast
    body = data[:-1] if data.endswith(b"\n") else data
    text = body.decode("utf-8", "backslashreplace")
    frame = pl.DataFrame({"line": pl.Series([text]).str.split("\n").explode()})
    try:
        data.decode("utf-8")
        valid = True
    except UnicodeDecodeError:
        valid = False
    if valid:
        invalid = pl.lit(False)
    else:
        raw = pl.Series("raw", body.split(b"\n"), dtype=pl.Binary)
        # the text of an invalid line: backslashes doubled, so a \xNN escape is unambiguous
        esc = body.replace(b"\\", b"\\\\").decode("utf-8", "backslashreplace")
        frame = frame.with_columns(raw, esc=pl.Series([esc]).str.split("\n").explode())
        bad = pl.col("line").cast(pl.Binary) != pl.col("raw")
        frame = frame.with_columns(invalid=bad).with_columns(
            line=pl.when(pl.col("invalid")).then(pl.col("esc")).otherwise(pl.col("line"))
        )
        invalid = pl.col("invalid")
    return frame.with_columns(
        line=pl.col("line").str.strip_suffix("\r"),
        line_no=pl.int_range(1, pl.len() + 1, dtype=pl.Int64),
        invalid_utf8=invalid,
    ).select(LINES.names())


_TAIL = pl.Schema({"line_no": pl.Int64, "reason": pl.String, "excerpt": pl.String})

#: Decompressed bytes handed to the line splitter at a time (cut at a newline). 16 MiB rather than
#: 64: blocks under glibc's largest mmap threshold (32 MiB) reuse freed heap memory instead of
#: page-faulting a fresh mapping each time (iter_lines: about 20 % less CPU on the sample's gzip).
DEFAULT_CHUNK_BYTES = 16 * 1024**2


def _blocks(path, limit: int, chunk: int):
    """Yield ``(bytes, problem)``: decompressed blocks of about ``chunk`` bytes; ``problem`` (set on
    the last block only) says why the rest of the file could not be read.

    Gzip goes through pyarrow's streaming decompressor (C++, no GIL, about twice Python's zlib
    here); it raises on any damage (truncation, corruption, bad CRC, trailing bytes), and then
    Python's zlib takes over from the start, skipping what was already handed out, to keep every
    byte before the damage and name the problem precisely.
    """
    with open_readonly(path) as f:
        head = f.read(2)
        if head != b"\x1f\x8b":
            block = head + f.read(chunk)
            while True:
                nxt = f.read(chunk)
                if not nxt:
                    yield block, None
                    return
                yield block, None
                block = nxt
        given = 0
        try:
            import pyarrow as pa

            f.seek(0)
            stream = pa.CompressedInputStream(pa.PythonFile(f, mode="r"), "gzip")
            prev = None
            while True:
                block = stream.read(min(chunk, limit + 1 - given))
                if prev is not None:
                    yield prev, None
                    given += len(prev)
                    prev = None
                if not block:
                    yield b"", None
                    return
                if given + len(block) > limit:
                    yield block[: limit - given], (
                        f"decompressed size exceeds the limit of {limit} bytes (possible decompression bomb): rest not read"
                    )
                    return
                if bomb := _bomb_problem(given + len(block), f.tell()):
                    yield block[: max(BOMB_MIN_BYTES - given, 0)], bomb
                    return
                prev = block
        except (ImportError, OSError, ValueError):
            pass
        f.seek(0)
        yield from _zlib_blocks(f, limit, chunk, skip=given)


def _zlib_blocks(f, limit: int, chunk: int, skip: int = 0):
    """Python zlib gunzip in blocks (multi-member, zero padding tolerated), after ``skip`` bytes."""
    d = zlib.decompressobj(wbits=31)
    fed = False
    total = 0
    out: list[bytes] = []
    outn = 0
    problem = None
    consumed = 0
    while problem is None:
        data = f.read(_CHUNK)
        consumed += len(data)
        if not data:
            break
        while data:
            fed = True
            try:
                piece = d.decompress(data, min(max(chunk, 1 << 20), limit + 1 - total))
            except zlib.error as exc:
                problem = f"corrupt gzip data after {total} decompressed bytes ({exc})"
                break
            start = total
            total += len(piece)
            if total > limit:
                piece = piece[: len(piece) - (total - limit)]
                problem = f"decompressed size exceeds the limit of {limit} bytes (possible decompression bomb): rest not read"
            elif bomb := _bomb_problem(total, consumed):
                piece = piece[: max(BOMB_MIN_BYTES - start, 0)]
                problem = bomb
            if start < skip:  # already handed out by the fast path
                piece = piece[skip - start :]
            out.append(piece)
            outn += len(piece)
            if problem:
                break
            if outn >= chunk:
                yield b"".join(out), None
                out, outn = [], 0
            if d.eof:
                data = d.unused_data
                d = zlib.decompressobj(wbits=31)
                fed = False
                if len(data) < 512 and data.strip(b"\x00") == b"":
                    data = b""  # zero padding after the last member, as some tools write
            else:
                data = d.unconsumed_tail
    if problem is None and fed and not d.eof:
        problem = f"gzip stream truncated after {total} decompressed bytes: rest of file unreadable"
    yield b"".join(out), problem


def _block_lines(carry: bytes, block: bytes) -> tuple[pl.DataFrame, bytes] | None:
    """The whole lines of ``carry + block`` and the new carry, without copying the block.

    ``block`` is read as it is (:func:`_split_fast`): its first row is the end of the line begun in
    ``carry`` (that one line is split on its own) and its last row, when the block does not end
    with a newline, the start of the next carry. None when the fast split cannot vouch for the
    block (``\\r``, invalid UTF-8, a multi-byte character cut at the block's edge...): the caller
    then splits the joined bytes as usual.
    """
    first = block.find(b"\n")
    cut = block.rfind(b"\n")
    if first < 0 or cut == first or b"\r" in block:
        return None
    lines = _split_fast(block)
    if lines is None:
        return None
    end = lines.height - (0 if cut == len(block) - 1 else 1)
    head = split_lines(carry + block[: first + 1]) if carry else lines.head(1)
    body = lines.slice(1, end - 1).with_columns(pl.col("line_no") + (head.height - 1))
    return pl.concat([head, body], how="vertical", rechunk=False), block[cut + 1 :]


class _LongLine:
    """Skips a line over ``limit`` bytes as its blocks stream by, remembering its size and head."""

    def __init__(self, limit: int):
        self.limit = limit
        self.size = 0
        self.head = b""

    @property
    def active(self) -> bool:
        return self.size > 0

    def start(self, carry: bytes) -> None:
        self.size, self.head = len(carry), carry[: EXCERPT_CHARS * 4]

    def feed(self, block: bytes) -> bytes | None:
        """The rest of ``block`` after the long line ends (None: it goes on past the block)."""
        nl = block.find(b"\n")
        if nl < 0:
            self.size += len(block)
            return None
        self.size += nl
        return block[nl + 1 :]

    def reject(self, line_no: int, ended: bool = True) -> pl.DataFrame:
        """One tail-reject row for the skipped line; resets."""
        text = self.head.decode("utf-8", "backslashreplace")
        size = f"{self.size:,} bytes" if ended else f"{self.size:,} bytes (the last, without newline)"
        row = (line_no, f"line of {size} exceeds the limit of {self.limit:,} bytes: not parsed", escape_py(text))
        self.size, self.head = 0, b""
        return pl.DataFrame([row], schema=_TAIL, orient="row")


def _damaged_end(data: bytes, base: int, problem: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The last piece of a damaged stream (``base`` lines handed out before it): its whole lines
    kept, then as tail rejects the cut line (escaped excerpt) and one row for the unreadable rest."""
    cut = data.rfind(b"\n")
    part, rest = (data[: cut + 1], data[cut + 1 :]) if cut >= 0 else (b"", data)
    lines = split_lines(part).with_columns(pl.col("line_no") + base)
    base += lines.height
    rows = []
    if rest:
        base += 1
        text = split_lines(rest)["line"][0]
        rows.append((base, f"incomplete last line: {problem}", escape_py(text)))
    rows.append((base + 1, problem, ""))
    return lines, pl.DataFrame(rows, schema=_TAIL, orient="row")


def iter_lines(
    path: str | os.PathLike,
    *,
    max_decompressed: int = DEFAULT_MAX_DECOMPRESSED,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    max_line_bytes: int = MAX_LINE_BYTES,
):
    """Stream one evidence file as ``(lines, tail_rejects)`` pieces of about ``chunk_bytes``.

    ``lines`` as :data:`LINES` with ``line_no`` counted across pieces; ``tail_rejects`` (REJECTS
    without ``source``) is empty except on the last piece of a truncated, corrupt or over-large
    gzip: the incomplete last line, then one row for the unreadable rest. Memory stays bounded by
    ``chunk_bytes`` (plus the longest line), whatever the file's size.
    """
    carry = b""
    base = 0
    empty_tail = pl.DataFrame(schema=_TAIL)
    long = _LongLine(max(max_line_bytes, chunk_bytes))
    for block, problem in _blocks(path, max_decompressed, chunk_bytes):
        if carry and problem is None and len(carry) + max(block.find(b"\n"), 0) > long.limit:
            long.start(carry)  # the line begun in carry ends (or goes on) past the limit
            carry = b""
        if long.active:
            rest = long.feed(block)
            if rest is None and problem is None:
                continue
            base += 1
            yield pl.DataFrame(schema=LINES), long.reject(base, ended=rest is not None)
            block = rest or b""
            if problem is None and not block:
                continue
        if problem is None and (whole := _block_lines(carry, block)) is not None:
            lines, carry = whole
            if base:
                lines = lines.with_columns(pl.col("line_no") + base)
            base += lines.height
            yield lines, empty_tail
            continue
        data = carry + block if carry else block
        if problem is None:
            cut = data.rfind(b"\n")
            if cut < 0:
                carry = data
                if len(carry) > long.limit:
                    long.start(carry)
                    carry = b""
                continue
            part, carry = data[: cut + 1], data[cut + 1 :]
            lines = split_lines(part)
            if base:
                lines = lines.with_columns(pl.col("line_no") + base)
            base += lines.height
            yield lines, empty_tail
            continue
        yield _damaged_end(data, base, problem)
        return
    if long.active:
        yield pl.DataFrame(schema=LINES), long.reject(base + 1, ended=False)
    elif carry:  # a final line without newline
        lines = split_lines(carry).with_columns(pl.col("line_no") + base)
        yield lines, empty_tail


@dataclass(frozen=True)
class RawLines:
    """Whole lines of one file, not split yet: ``data[start:end]`` holds ``n`` lines, each ending
    with ``\\n``, the first numbered ``line_no``. ``data`` is a decompressed block shared by the
    pieces cut from it (no copy); a loader splits it itself (:func:`split_lines` being the exact
    way)."""

    data: bytes
    start: int
    end: int
    n: int
    line_no: int

    def bytes(self) -> bytes:
        if isinstance(self.data, bytes) and self.start == 0 and self.end == len(self.data):
            return self.data
        return bytes(memoryview(self.data)[self.start : self.end])

    def lines(self) -> pl.DataFrame:
        """:data:`LINES` of this piece, numbered in the file."""
        return split_lines(self.bytes()).with_columns(pl.col("line_no") + (self.line_no - 1))

    def cut(self, k: int) -> tuple["RawLines", "RawLines"]:
        """The first ``k`` lines (``0 < k < n``) and the rest, still sharing ``data``: cut
        after the ``k``-th newline, found by one compiled pass that stops there."""
        at = nth_newline(self.data, k, self.start, self.end) + 1
        if at <= 0:
            raise ValueError(f"cut at line {k} of a piece of {self.n} lines")
        return (RawLines(self.data, self.start, at, k, self.line_no),
                RawLines(self.data, at, self.end, self.n - k, self.line_no + k))


def iter_raw_lines(
    path: str | os.PathLike,
    *,
    max_decompressed: int = DEFAULT_MAX_DECOMPRESSED,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    max_line_bytes: int = MAX_LINE_BYTES,
):
    """Like :func:`iter_lines`, but whole lines come as :class:`RawLines` (not split) where it can.

    Yields ``(piece, tail_rejects)``; ``piece`` is a :class:`RawLines` or a :data:`LINES` frame (the
    damaged end of a gzip, a final line without newline): the same lines, numbers and tail
    rejects as :func:`iter_lines` gives. The reading thread only decompresses, counts newlines and
    cuts at the last one; splitting is left to whoever parses the piece (in worker threads).

    A plain file is not copied: its pieces are windows of it mapped read only
    (:func:`forensics.filemap.map_window`), each unmapped once nothing holds it.
    """
    limit = max(max_line_bytes, chunk_bytes)
    if filemap.available():
        with open_readonly(path) as f:
            if f.read(2) != b"\x1f\x8b":
                yield from _mapped_raw_lines(f.fileno(), os.fstat(f.fileno()).st_size, chunk_bytes, limit)
                return
    carry = b""
    base = 0  # lines handed out so far
    empty_tail = pl.DataFrame(schema=_TAIL)
    long = _LongLine(max(max_line_bytes, chunk_bytes))
    for block, problem in _blocks(path, max_decompressed, chunk_bytes):
        if carry and problem is None and len(carry) + max(block.find(b"\n"), 0) > long.limit:
            long.start(carry)  # the line begun in carry ends (or goes on) past the limit
            carry = b""
        if long.active:
            rest = long.feed(block)
            if rest is None and problem is None:
                continue
            base += 1
            yield pl.DataFrame(schema=LINES), long.reject(base, ended=rest is not None)
            block = rest or b""
            if problem is None and not block:
                continue
        if problem is None:
            first = block.find(b"\n")
            if first < 0:
                carry = carry + block if carry else block
                if len(carry) > long.limit:
                    long.start(carry)
                    carry = b""
                continue
            cut = block.rfind(b"\n")
            if carry:
                head = carry + block[: first + 1]
                yield RawLines(head, 0, len(head), 1, base + 1), empty_tail
                base += 1
                start = first + 1
            else:
                start = 0
            if cut + 1 > start:
                n = count_newlines(block, start, cut + 1)
                yield RawLines(block, start, cut + 1, n, base + 1), empty_tail
                base += n
            carry = block[cut + 1 :]
            continue
        yield _damaged_end(carry + block if carry else block, base, problem)
        return
    if long.active:
        yield pl.DataFrame(schema=LINES), long.reject(base + 1, ended=False)
    elif carry:  # a final line without newline
        yield split_lines(carry).with_columns(pl.col("line_no") + base), empty_tail


def _mapped_raw_lines(fd: int, size: int, chunk: int, limit: int):
    """:func:`iter_raw_lines` of a plain file of ``size`` bytes open as ``fd``: whole lines in
    mapped windows of about ``chunk`` bytes (read into ``bytes`` where a window cannot be mapped);
    a line longer than a window read on its own, or rejected past ``limit`` bytes."""
    empty_tail = pl.DataFrame(schema=_TAIL)
    pos = 0  # the first byte not handed out yet
    base = 0  # lines handed out so far
    while pos < size:
        lo = pos - pos % filemap.GRANULARITY
        hi = min(pos + chunk, size)
        window = filemap.map_window(fd, lo, hi - lo)
        if window is None:
            window = os.pread(fd, hi - lo, lo)
            hi = lo + len(window)  # a file that shrank: what is left of it
            if hi <= pos:
                return
        arr = np.frombuffer(window, dtype=np.uint8)
        start = pos - lo
        cut = _last_newline(arr, start)
        if cut >= 0:
            n = count_newlines(window, start, cut + 1)
            yield RawLines(window, start, cut + 1, n, base + 1), empty_tail
            base += n
            pos = lo + cut + 1
        elif hi == size:  # a final line without newline (shorter than a window, so under the limit)
            yield split_lines(bytes(memoryview(window)[start:])).with_columns(pl.col("line_no") + base), empty_tail
            return
        else:  # a line longer than a window
            end = _next_newline(fd, hi, size)
            length = (end if end >= 0 else size) - pos
            base += 1
            if length > limit:
                long = _LongLine(limit)
                long.start(os.pread(fd, EXCERPT_CHARS * 4, pos))
                long.size = length
                yield pl.DataFrame(schema=LINES), long.reject(base, ended=end >= 0)
            elif end >= 0:
                line = os.pread(fd, length + 1, pos)
                yield RawLines(line, 0, len(line), 1, base), empty_tail
            else:
                yield split_lines(os.pread(fd, length, pos)).with_columns(pl.col("line_no") + (base - 1)), empty_tail
            pos += length + 1


def _last_newline(arr: np.ndarray, start: int) -> int:
    """Index of the last ``\n`` of ``arr[start:]`` (looked for in its last 64 KiB first), or -1."""
    for lo in (max(start, arr.size - 65536), start):
        hits = np.flatnonzero(arr[lo:] == 10)
        if hits.size:
            return lo + int(hits[-1])
    return -1


def _next_newline(fd: int, at: int, size: int) -> int:
    """Offset of the first ``\n`` from ``at`` in the file open as ``fd``, or -1."""
    while at < size:
        block = os.pread(fd, min(_CHUNK, size - at), at)
        if not block:
            return -1
        nl = block.find(b"\n")
        if nl >= 0:
            return at + nl
        at += len(block)
    return -1


def head_lines(path: str | os.PathLike, n: int, *, max_bytes: int = 1 << 16) -> list[str]:
    """The first ``n`` non-empty whole lines of a file (decompressed), read from its first
    ``max_bytes`` only; lines that are not valid UTF-8 are left out."""
    for block, _problem in _blocks(path, DEFAULT_MAX_DECOMPRESSED, max_bytes):
        cut = block.rfind(b"\n")
        lines = split_lines(block[: cut + 1] if cut >= 0 else block)
        return lines.filter(~pl.col("invalid_utf8") & (pl.col("line") != "")).head(n)["line"].to_list()
    return []


def read_lines(path: str | os.PathLike, *, max_decompressed: int = DEFAULT_MAX_DECOMPRESSED) -> tuple[pl.DataFrame, pl.DataFrame]:
    """All lines of one evidence file and its tail rejects (see :func:`iter_lines`)."""
    parts = list(iter_lines(path, max_decompressed=max_decompressed))
    if not parts:
        return pl.DataFrame(schema=LINES), pl.DataFrame(schema=_TAIL)
    return pl.concat([p[0] for p in parts]), pl.concat([p[1] for p in parts])


# --- escaping -------------------------------------------------------------------------------

def _escape_map() -> dict[str, str]:
    m = {"\\": "\\\\"}
    for c in list(range(0x00, 0x20)) + [0x7F] + list(range(0x80, 0xA0)):
        m[chr(c)] = f"\\x{c:02x}"
    m.update({"\t": "\\t", "\n": "\\n", "\r": "\\r"})
    # bidirectional overrides and isolates could reorder what an analyst reads
    for c in list(range(0x202A, 0x202F)) + list(range(0x2066, 0x206A)) + [0x200E, 0x200F, 0xFEFF]:
        m[chr(c)] = f"\\u{c:04x}"
    return m


_ESCAPES = _escape_map()


_ESCAPES_NO_BS = {k: v for k, v in _ESCAPES.items() if k != "\\"}


def escape_text(expr: pl.Expr, *, backslash: bool = True) -> pl.Expr:
    """Escape control, C1 and bidi characters (and backslash) so attacker text stays inert."""
    return expr.str.replace_many(_ESCAPES if backslash else _ESCAPES_NO_BS)


def escape_excerpt(expr: pl.Expr, n: int = EXCERPT_CHARS, *, backslash: bool = True) -> pl.Expr:
    """A short escaped excerpt: the first ``n`` characters, escaped, ``…`` marking a cut."""
    cut = expr.str.slice(0, n)
    esc = escape_text(cut, backslash=backslash)
    return pl.when(expr.str.len_chars() > n).then(esc + "…").otherwise(esc)


def line_excerpt(line: str = "line", invalid: str = "invalid_utf8") -> pl.Expr:
    """Excerpt of a :data:`LINES` row: an invalid-UTF-8 line already has its backslashes doubled."""
    return (
        pl.when(pl.col(invalid))
        .then(escape_excerpt(pl.col(line), backslash=False))
        .otherwise(escape_excerpt(pl.col(line)))
    )


def escape_py(text: str, n: int = EXCERPT_CHARS) -> str:
    """Python counterpart of :func:`escape_excerpt` for per-file messages."""
    return escape_str(text[:n]) + ("…" if len(text) > n else "")


def escape_str(text: str, *, backslash: bool = True, keep: str = "") -> str:
    r"""Python counterpart of :func:`escape_text` (the same characters, the same escapes); the
    characters in ``keep`` pass unchanged (HTML keeps tab and line feed: they are only white space
    there).

    >>> print(escape_str("a\x1b[31m\u202eb\nc\\d", backslash=False, keep="\n"))
    a\x1b[31m\u202eb
    c\d
    """
    table = _ESCAPES if backslash else _ESCAPES_NO_BS
    return "".join(ch if ch in keep else table.get(ch, ch) for ch in text)


def safe_name(name: str) -> str:
    """A file name as text, unambiguously: bytes that are not UTF-8 (surrogate-escaped by the OS
    layer) as ``\\xNN`` and a backslash of the name doubled, so a name holding the byte 0xff
    (``\\xff``) and one holding the four characters backslash, x, f, f (``\\\\xff``) stay apart.

    >>> safe_name(os.fsdecode(b"a\\xff.gif")), safe_name("a\\\\xff.gif")
    ('a\\\\xff.gif', 'a\\\\\\\\xff.gif')
    """
    return name.replace("\\", "\\\\").encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


_SAFE_ESCAPE = re.compile(r"\\\\|\\x([89a-f][0-9a-f])")


def unsafe_name(text: str) -> str:
    """Inverse of :func:`safe_name` for looking a listed name up on disk."""
    return _SAFE_ESCAPE.sub(lambda m: chr(0xDC00 + int(m.group(1), 16)) if m.group(1) else "\\", text)


def rel_source(path: Path, case_root: Path | None) -> str:
    """Path relative to the case folder, "/" separated (absolute when outside it or no root);
    non-UTF-8 bytes of a name shown as ``\\xNN``."""
    path = Path(path)
    if case_root is not None:
        try:
            rel = Path(os.path.relpath(path, case_root)).as_posix() if _inside(path, case_root) else path.as_posix()
            return safe_name(rel)
        except ValueError:
            pass
    return safe_name(path.as_posix())


def _inside(path: Path, root: Path) -> bool:
    try:
        Path(os.path.abspath(path)).relative_to(os.path.abspath(root))
        return True
    except ValueError:
        return False


