r"""The Sleuth Kit bodyfile 3.x -> a file table (:data:`FS_FILES`) and a timeline (:data:`FS_TIMELINE`).

Line layout (``fls -m`` / ``ils -m``)::

    MD5|name|inode|mode_as_string|UID|GID|size|atime|mtime|ctime|crtime

Times are epoch seconds (UTC; a fraction is accepted); ``0`` means "not recorded" and gives
null. A name may itself contain ``|``: the first field and the last nine are taken from the ends.

TSK writes more than the path into the name field (``tsk_fs_name_print_mac_md5``): an NTFS
alternate stream as ``:stream``, then `` ($FILE_NAME)`` for an NTFS $FILE_NAME entry, `` -> TARGET``
for a symbolic link and `` (deleted)`` / `` (deleted-realloc)`` for an unallocated name; newer
versions escape ``|`` and ``\`` in names as ``\|`` and ``\\``. Those labels become columns
(``deleted``, ``realloc``, ``fn_attr``, ``link_target``) and the escapes are undone, so ``name`` is
the path itself: a deleted web shell still maps to its URL.
The timeline has one row per recorded timestamp, plaso style (``timestamp_desc``):

======  ===========================
mtime   Content Modification Time
atime   Last Access Time
ctime   Metadata Modification Time
crtime  Creation Time
======  ===========================
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import polars as pl

from forensics.evidence import DEFAULT_MAX_DECOMPRESSED, line_excerpt
from forensics.loaders._common import Loaded, load_line_files, shift_skew
from forensics.schemas import FS_FILES, FS_TIMELINE, REJECTS

_T = r"(-?\d+(?:\.\d+)?)"
BODY = (
    r"^(?P<md5>[^|]*)"  # MD5 (0 when not computed)
    r"\|(?P<name>.*)"  # name: may contain "|"
    r"\|(?P<inode>[^|]*)"  # inode (e.g. 1234-128-1)
    r"\|(?P<mode>[^|]*)"  # mode as string (r/rrwxr-xr-x)
    r"\|(?P<uid>-?\d+)\|(?P<gid>-?\d+)"
    r"\|(?P<size>\d+)"
    rf"\|(?P<atime>{_T[1:-1]})\|(?P<mtime>{_T[1:-1]})\|(?P<ctime>{_T[1:-1]})\|(?P<crtime>{_T[1:-1]})$"
)

#: timestamp column -> plaso's timestamp_desc
TIMESTAMP_DESC = {
    "mtime": "Content Modification Time",
    "atime": "Last Access Time",
    "ctime": "Metadata Modification Time",
    "crtime": "Creation Time",
}


def _epoch(col: str, skew_seconds: float) -> pl.Expr:
    sec = pl.col(col).cast(pl.Float64, strict=False)
    us = (sec * 1_000_000).round().cast(pl.Int64)
    ts = pl.when(sec != 0).then(us).cast(pl.Datetime("us", "UTC"))
    return shift_skew(ts, skew_seconds)


#: Epoch seconds a time may take (0001-01-01 .. 9999-12-31 UTC): beyond, no datetime can hold it.
EPOCH_RANGE = (-62_135_596_800, 253_402_300_799)


def _numbers_ok() -> pl.Expr:
    """uid, gid and size fit in 64 bits and every time is a representable instant."""
    ints = [pl.col(c).cast(pl.Int64, strict=False).is_not_null() for c in ("uid", "gid", "size")]
    times = [pl.col(c).cast(pl.Float64, strict=False).is_between(*EPOCH_RANGE) for c in TIMESTAMP_DESC]
    return pl.all_horizontal(*ints, *times)


_DELETED = r" \(deleted(-realloc)?\)$"


def _name_fields(name: pl.Expr, mode: pl.Expr) -> pl.Expr:
    """TSK's name field -> struct ``{name, deleted, realloc, fn_attr, link_target}`` (see the
    module docstring); labels are taken off the end in the reverse order TSK appends them."""
    deleted = name.str.contains(_DELETED)
    realloc = name.str.ends_with(" (deleted-realloc)")
    rest = name.str.replace(_DELETED, "")
    is_link = mode.str.starts_with("l")
    link = pl.when(is_link).then(rest.str.extract(r"(?s) -> (.*)$", 1))
    rest = pl.when(is_link & link.is_not_null()).then(rest.str.replace(r"(?s) -> .*$", "")).otherwise(rest)
    fn_attr = rest.str.ends_with(" ($FILE_NAME)")
    rest = rest.str.strip_suffix(" ($FILE_NAME)").str.replace_all(r"\\([|\\])", "${1}")
    return pl.struct(name=rest, deleted=deleted, realloc=realloc, fn_attr=fn_attr, link_target=link).alias("_n")


def parse_body_lines(lines: pl.DataFrame, *, skew_seconds: float = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    df = lines.with_columns(m=pl.when(~pl.col("invalid_utf8")).then(pl.col("line")).str.extract_groups(BODY)).unnest("m")
    matched = pl.col("size").is_not_null()
    ok = matched & _numbers_ok()
    rejects = df.filter(~ok).select(
        "source", "line_no",
        reason=pl.when(pl.col("invalid_utf8")).then(pl.lit("invalid UTF-8 (bytes shown as \\xNN)"))
        .when(pl.col("line") == "").then(pl.lit("empty line"))
        .when(matched).then(pl.lit("number out of range (uid, gid or size over 64 bits, or a time outside years 1-9999)"))
        .otherwise(pl.lit("not a bodyfile 3.x line (11 |-separated fields, numeric uid/gid/size/times)")),
        excerpt=line_excerpt(),
    ).cast(REJECTS)
    df = df.filter(ok).with_columns(_name_fields(pl.col("name"), pl.col("mode"))).drop("name").unnest("_n")
    df = df.with_columns(
        *(_epoch(c, skew_seconds).alias(c) for c in TIMESTAMP_DESC),
        uid=pl.col("uid").cast(pl.Int64),
        gid=pl.col("gid").cast(pl.Int64),
        size=pl.col("size").cast(pl.Int64, strict=False),
        _lines=pl.lit(1, pl.Int64),
    )
    return df.select(*FS_FILES.names(), "_lines").cast({**FS_FILES, "_lines": pl.Int64}), rejects


def read_bodyfiles(
    paths: Iterable[str | Path],
    *,
    case_root: str | Path | None = None,
    skew_seconds: float = 0,
    max_decompressed: int = DEFAULT_MAX_DECOMPRESSED,
    show_progress: bool | None = None,
) -> Loaded:
    """Read bodyfiles eagerly: ``records`` (FS_FILES: ``source``, ``line_no``, ``md5``, ``name``,
    ``inode``, ``mode``, ``uid``, ``gid``, ``size``, ``atime``, ``mtime``, ``ctime``, ``crtime``),
    ``rejects`` and per-file ``counts``."""
    return load_line_files(
        [Path(p) for p in paths],
        lambda b: parse_body_lines(b, skew_seconds=skew_seconds),
        schema=FS_FILES,
        case_root=Path(case_root) if case_root is not None else None,
        desc="bodyfile",
        max_decompressed=max_decompressed,
        show_progress=show_progress,
    )


def fs_timeline_from_files(files: pl.LazyFrame | pl.DataFrame) -> pl.LazyFrame:
    """FS_FILES -> FS_TIMELINE: one row per recorded timestamp, ordered by ``ts``.

    Columns: ``ts``, ``source``, ``line_no``, ``timestamp_desc``, ``name``, ``inode``, ``size``, ``mode``.
    """
    lf = files.lazy()
    parts = [
        lf.filter(pl.col(col).is_not_null()).select(
            ts=pl.col(col), source="source", line_no="line_no", timestamp_desc=pl.lit(desc),
            name="name", deleted="deleted", inode="inode", size="size", mode="mode",
        )
        for col, desc in TIMESTAMP_DESC.items()
    ]
    return pl.concat(parts).sort("ts", "source", "line_no", maintain_order=True).cast(FS_TIMELINE)


def scan_bodyfiles(paths: Iterable[str | Path], *, case_root: str | Path | None = None, **options) -> pl.LazyFrame:
    """Bodyfiles as a LazyFrame of :data:`~forensics.schemas.FS_FILES` (one row per file).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "bodyfile.txt").write_text(
    ...     "0|/html/user_data/a.php|1234-128-1|r/rrw-r--r--|48|48|120|0|1490970660|1490970660|0\\n")
    >>> scan_bodyfiles([d / "bodyfile.txt"], case_root=d).select("name", "size", "mtime", "atime").collect()
    shape: (1, 4)
    ┌───────────────────────┬──────┬─────────────────────────┬───────────────────┐
    │ name                  ┆ size ┆ mtime                   ┆ atime             │
    │ ---                   ┆ ---  ┆ ---                     ┆ ---               │
    │ str                   ┆ i64  ┆ datetime[μs, UTC]       ┆ datetime[μs, UTC] │
    ╞═══════════════════════╪══════╪═════════════════════════╪═══════════════════╡
    │ /html/user_data/a.php ┆ 120  ┆ 2017-03-31 14:31:00 UTC ┆ null              │
    └───────────────────────┴──────┴─────────────────────────┴───────────────────┘
    """
    paths = [Path(p) for p in paths]
    return pl.defer(lambda: read_bodyfiles(paths, case_root=case_root, **options).records, schema=FS_FILES)


def scan_fs_timeline(paths: Iterable[str | Path], *, case_root: str | Path | None = None, **options) -> pl.LazyFrame:
    """Bodyfiles as a plaso-style timeline, LazyFrame of :data:`~forensics.schemas.FS_TIMELINE`."""
    return fs_timeline_from_files(scan_bodyfiles(paths, case_root=case_root, **options))
