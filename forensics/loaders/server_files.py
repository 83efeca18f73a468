"""Inventory of the recovered server files (``server/`` in the case) -> :data:`SERVER_FILES`.

Nothing is executed and no link is followed: the folder is walked with ``lstat``; a symlink is
listed (``is_symlink``, its own size, no hash, ``magic_type`` "symlink") and never read through,
and each file is opened with ``O_NOFOLLOW``. The type comes from the content's first bytes
(magic numbers), compared with what the extension claims (``type_mismatch``): a ``.gif`` whose
content is PHP is the classic disguise.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable
from pathlib import Path

import polars as pl

from forensics.cards import register_digests
from forensics.evidence import escape_py, open_readonly, rel_source, safe_name, unsafe_name
from forensics.loaders._common import COUNTS, Loaded
from forensics.schemas import REJECTS, SERVER_FILES

#: (magic_type, prefix) checked in order on the first bytes.
MAGIC: list[tuple[str, bytes]] = [
    ("gif", b"GIF87a"),
    ("gif", b"GIF89a"),
    ("png", b"\x89PNG\r\n\x1a\n"),
    ("jpeg", b"\xff\xd8\xff"),
    ("gzip", b"\x1f\x8b"),
    ("elf", b"\x7fELF"),
    ("zip", b"PK\x03\x04"),
    ("zip", b"PK\x05\x06"),
    ("pdf", b"%PDF-"),
    ("bmp", b"BM"),
    ("webp", b"RIFF"),
    ("ico", b"\x00\x00\x01\x00"),
]

#: extension -> content types it may hold; extensions not listed are never flagged.
EXPECTED: dict[str, set[str]] = {
    "gif": {"gif"}, "png": {"png"}, "jpg": {"jpeg"}, "jpeg": {"jpeg"}, "bmp": {"bmp"}, "ico": {"ico", "png"},
    "webp": {"webp"}, "pdf": {"pdf"}, "zip": {"zip"}, "jar": {"zip"}, "gz": {"gzip"}, "tgz": {"gzip"},
    "php": {"php", "text", "empty"}, "inc": {"php", "text", "empty"},
    "txt": {"text", "empty"}, "csv": {"text", "empty"}, "log": {"text", "empty"}, "css": {"text", "empty"},
    "js": {"text", "empty"}, "html": {"text", "empty"}, "htm": {"text", "empty"}, "tpl": {"text", "empty"},
    "xml": {"text", "empty"}, "json": {"text", "empty"}, "md": {"text", "empty"}, "sql": {"text", "empty"},
    "svg": {"text", "empty"}, "so": {"elf"},
}

HEAD_BYTES = 8192


def detect_type(head: bytes) -> str:
    """Content type from the first bytes: gif, png, jpeg, gzip, elf, zip, pdf, php, text, binary, empty."""
    if not head:
        return "empty"
    for name, prefix in MAGIC:
        if head.startswith(prefix):
            return name
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped[:5].lower() == b"<?php" or stripped[:3] == b"<?=":
        return "php"
    if b"\x00" in head:
        return "binary"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the end of the sample
            try:
                head.decode("cp932")
            except UnicodeDecodeError:
                return "binary"
    return "text"


def _extension(name: str) -> str:
    base = name.rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[-1].lower() if "." in base.lstrip(".") else ""


def _walk(root: Path):
    """(path, lstat) of every entry under ``root``, never descending through a symlink."""
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            yield Path(folder), exc
            continue
        for e in entries:
            st = e.stat(follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                stack.append(Path(e.path))
            else:
                yield Path(e.path), st


def read_server_files(root: str | Path | None, *, case_root: str | Path | None = None) -> Loaded:
    """Inventory eagerly: ``records`` (SERVER_FILES: ``source``, ``path``, ``size``, ``sha256``,
    ``magic_type``, ``extension``, ``type_mismatch``, ``is_symlink``), ``rejects`` (unreadable
    entries, ``line_no`` null) and ``counts`` (one row per file: records 1 or rejected 1)."""
    if root is None or not Path(root).is_dir():
        return Loaded(pl.DataFrame(schema=SERVER_FILES))
    root = Path(root)
    case_root = Path(case_root) if case_root is not None else None
    rows, rejects = [], []
    for path, st in _walk(root):
        rel = safe_name(path.relative_to(root).as_posix())
        source = rel_source(path, case_root)
        if isinstance(st, OSError):
            rejects.append((source, None, f"unreadable folder: {st.strerror}", ""))
            continue
        ext = _extension(rel)
        if stat.S_ISLNK(st.st_mode):
            rows.append((source, rel, st.st_size, None, "symlink", ext, False, True))
            continue
        if not stat.S_ISREG(st.st_mode):
            rows.append((source, rel, st.st_size, None, "special", ext, False, False))
            continue
        try:
            h = hashlib.sha256()
            with open_readonly(path) as f:
                head = f.read(HEAD_BYTES)
                h.update(head)
                while chunk := f.read(1 << 20):
                    h.update(chunk)
        except OSError as exc:
            rejects.append((source, None, f"unreadable file: {exc.strerror or exc}", escape_py(rel)))
            continue
        kind = detect_type(head)
        mismatch = ext in EXPECTED and kind not in EXPECTED[ext]
        digest = h.hexdigest()
        register_digests([digest])
        rows.append((source, rel, st.st_size, digest, kind, ext, mismatch, False))
    records = pl.DataFrame(rows, schema=SERVER_FILES, orient="row")
    rej = pl.DataFrame(rejects, schema=REJECTS, orient="row")
    counts = pl.concat(
        [
            records.select("source", records=pl.lit(1, pl.Int64), rejected=pl.lit(0, pl.Int64), rows=pl.lit(1, pl.Int64)),
            rej.select("source", records=pl.lit(0, pl.Int64), rejected=pl.lit(1, pl.Int64), rows=pl.lit(0, pl.Int64)),
        ]
    ).cast(COUNTS)
    return Loaded(records, rej, counts)


def scan_server_files(root: str | Path | None, *, case_root: str | Path | None = None) -> pl.LazyFrame:
    """The server-files inventory as a LazyFrame of :data:`~forensics.schemas.SERVER_FILES`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> (d / "server/html/user_data").mkdir(parents=True)
    >>> _ = (d / "server/html/user_data/logo.gif").write_bytes(b"<?php eval($_POST['x']);")
    >>> scan_server_files(d / "server", case_root=d).select(
    ...     "path", "magic_type", "extension", "type_mismatch").collect()
    shape: (1, 4)
    ┌─────────────────────────┬────────────┬───────────┬───────────────┐
    │ path                    ┆ magic_type ┆ extension ┆ type_mismatch │
    │ ---                     ┆ ---        ┆ ---       ┆ ---           │
    │ str                     ┆ str        ┆ str       ┆ bool          │
    ╞═════════════════════════╪════════════╪═══════════╪═══════════════╡
    │ html/user_data/logo.gif ┆ php        ┆ gif       ┆ true          │
    └─────────────────────────┴────────────┴───────────┴───────────────┘
    """
    return pl.defer(lambda: read_server_files(root, case_root=case_root).records, schema=SERVER_FILES)


def server_file_bytes(root: str | Path, paths: Iterable[str], *, max_bytes: int = 16 * 1024**2) -> pl.DataFrame:
    """Contents of server files for detectors: DataFrame ``{path: String, content: Binary}``.

    ``paths`` are relative to ``root`` (the ``path`` column of the inventory). A path that leaves
    ``root``, passes through a symlink, or is not a regular file gives ``content`` null; at most
    ``max_bytes`` are read from each file.
    """
    root = Path(root)
    real_root = os.path.realpath(root)
    out_paths, contents = [], []
    for rel in paths:
        content = None
        candidate = os.path.normpath(os.path.join(root, unsafe_name(rel)))
        # realpath differs from the lexical path when any component is a symlink
        if (
            not os.path.isabs(rel)
            and os.path.realpath(candidate) == os.path.join(real_root, os.path.relpath(candidate, root))
            and os.path.realpath(candidate).startswith(real_root + os.sep)
        ):
            try:
                with open_readonly(candidate) as f:
                    content = f.read(max_bytes)
            except OSError:
                content = None
        out_paths.append(rel)
        contents.append(content)
    return pl.DataFrame({"path": out_paths, "content": contents}, schema={"path": pl.String, "content": pl.Binary})
