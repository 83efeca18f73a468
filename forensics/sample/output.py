"""Writers for each evidence format: rotation, gzip (fixed header), line numbering, planted rejects.

All files are written as bytes; text is UTF-8 with ``surrogateescape`` so a planted line of binary
garbage survives as the raw bytes it stands for.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Callable
from pathlib import Path

from . import world as W

ENC = ("utf-8", "surrogateescape")
MYSQL_HEADER = ("/usr/sbin/mysqld, Version: 5.6.35-log (MySQL Community Server (GPL)). started with:\n"
                "Tcp port: 3306  Unix socket: /var/lib/mysql/mysql.sock\n"
                "Time                 Id Command    Argument\n")
MYSQL57_HEADER = ("/usr/sbin/mysqld, Version: 5.7.17-log (MySQL Community Server (GPL)). started with:\n"
                  "Tcp port: 3306  Unix socket: /var/lib/mysql/mysql.sock\n"
                  "Time                 Id Command    Argument\n")
CHUNK = 1 << 20


def gzip_bytes_writer(path: Path, level: int):
    """A gzip stream with mtime 0 and the decompressed name in its header (reproducible bytes)."""
    raw = open(path, "wb")
    return raw, gzip.GzipFile(filename=path.name[:-3], mode="wb", fileobj=raw, compresslevel=level, mtime=0)


class RotatingText:
    """Time-rotated text file family: ``<base>-YYYYMMDD[.gz]`` for each rotation, then ``<base>``.

    ``header``: the lines every file begins with, or a function of the file's index giving them."""

    def __init__(self, folder: Path, base: str, rotations: list[tuple[int, str]], *, gz_level: int,
                 header: str | Callable[[int], str] = "", rel: str) -> None:
        self.folder, self.base, self.rot, self.gz_level, self.header, self.rel = folder, base, rotations, gz_level, header, rel
        self.idx = 0
        self.buf: list[str] = []
        self.buf_len = 0
        self.line_no = 0
        self._open()

    @property
    def name(self) -> str:
        if self.idx < len(self.rot):
            return f"{self.base}-{self.rot[self.idx][1]}.gz"
        return self.base

    @property
    def rel_name(self) -> str:
        return f"{self.rel}/{self.name}"

    def _open(self) -> None:
        path = self.folder / self.name
        if path.suffix == ".gz":
            self._raw, self._fh = gzip_bytes_writer(path, self.gz_level)
        else:
            self._raw, self._fh = None, open(path, "wb")
        self.limit = self.rot[self.idx][0] if self.idx < len(self.rot) else 1 << 62
        self.line_no = 0
        self.new_file = True
        header = self.header(self.idx) if callable(self.header) else self.header  # a file's own header
        if header:
            self.write_raw(header)
            self.line_no = header.count("\n")

    def roll(self, t: int) -> None:
        while t >= self.limit:
            self.flush()
            self._fh.close()
            if self._raw:
                self._raw.close()
            self.idx += 1
            self._open()

    def write_raw(self, text: str) -> None:
        self.buf.append(text)
        self.buf_len += len(text)
        if self.buf_len > CHUNK:
            self.flush()

    def flush(self) -> None:
        if self.buf:
            self._fh.write("".join(self.buf).encode(*ENC))
            self.buf, self.buf_len = [], 0

    def close(self) -> None:
        self.flush()
        self._fh.close()
        if self._raw:
            self._raw.close()


class QueryLog:
    """MySQL 5.6 general query log: ``YYMMDD H:MM:SS\\t%5d Command\\tArgument``; the time only when it
    changes (else two tabs); one connection per PHP request."""

    def __init__(self, out: RotatingText, clock: W.Clock, first_cid: int = 1127, *, layout: str = "5.6") -> None:
        self.out, self.clock, self.cid, self.last = out, clock, first_cid, -1
        self.lines = 0
        self.layout = layout      # "5.7": every line stamped ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (UTC)
        self._usec = 0

    def _lines(self, cid: int, block) -> list[tuple[str, str]]:
        sid, new, sqls, sess = block
        sess_q = sess.replace("\\", "\\\\").replace("'", "\\'").replace('"', '\\"')
        out = [("Connect", "eccube@localhost on eccube_db"),
               ("Query", f"SELECT sess_data FROM dtb_session WHERE sess_id = '{sid}'")]
        out += [("Query", s) for s in sqls]
        if new:
            out.append(("Query", "INSERT INTO dtb_session (sess_id, sess_data, create_date, update_date) "
                                 f"VALUES ('{sid}', '{sess_q}', NOW(), NOW())"))
        else:
            out.append(("Query", f"UPDATE dtb_session SET sess_data = '{sess_q}', update_date = NOW() "
                                 f"WHERE sess_id = '{sid}'"))
        out.append(("Quit", ""))
        return out

    def write(self, t: int, block) -> None:
        o = self.out
        o.roll(t)
        if o.new_file:
            self.last, o.new_file = -1, False
        if isinstance(block, list):           # two requests in the same second: interleaved
            per = []
            for b in block:
                per.append((self.cid, self._lines(self.cid, b)))
                self.cid += 1
            merged = []
            for i in range(max(len(x[1]) for x in per)):
                for cid, ls in per:
                    if i < len(ls):
                        merged.append((cid, ls[i]))
        else:
            merged = [(self.cid, x) for x in self._lines(self.cid, block)]
            self.cid += 1
        parts = []
        if self.layout == "5.7":
            if t != self.last:
                self.last, self._usec = t, 0
            stamp = self.clock.mysql57(t)
            for cid, (cmd, arg) in merged:
                self._usec = min(self._usec + 173, 999_999)
                parts.append(f"{stamp}.{self._usec:06d}Z\t{cid:5d} {cmd}\t{arg}\n")
            o.write_raw("".join(parts))
            return
        if t != self.last:
            first = self.clock.mysql(t) + "\t"
            self.last = t
        else:
            first = "\t\t"
        for cid, (cmd, arg) in merged:
            parts.append(f"{first}{cid:5d} {cmd}\t{arg}\n")
            first = "\t\t"
        text = "".join(parts)
        o.write_raw(text)


def split_by_size(lines: list[str], max_bytes: int) -> list[list[str]]:
    """EC-CUBE's size rotation: before writing, a log larger than max_bytes is moved to .1 (.1 -> .2 ...)."""
    gens: list[list[str]] = [[]]
    size = 0
    for ln in lines:
        if size > max_bytes:
            gens.append([])
            size = 0
        gens[-1].append(ln)
        size += len(ln.encode(*ENC)) + 1
    return gens


def write_app_log(folder: Path, base: str, lines: list[str], max_bytes: int) -> list[tuple[str, list[str]]]:
    """Write ``base``, ``base.1`` (newest rotated) ... Returns [(file name, lines)] oldest first."""
    gens = split_by_size(lines, max_bytes)
    out = []
    for i, g in enumerate(gens):
        k = len(gens) - 1 - i
        name = base if k == 0 else f"{base}.{k}"
        (folder / name).write_bytes(("\n".join(g) + "\n").encode(*ENC))
        out.append((name, g))
    return out


def write_csv(path: Path, cols: list[str], rows: list[list]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for r in rows:
        w.writerow(["" if v is None else v for v in r])
    path.write_bytes(buf.getvalue().encode("utf-8"))
