"""Database exports (``dtb_*.csv`` with a header, EC-CUBE column names) -> one frame per table.

Each frame: ``source``, ``line_no`` (the record's first physical line; the header is line 1),
then the CSV's columns: ``*_date`` columns parsed as naive times in the case zone and stored as
UTC (``Datetime(us, UTC)``); columns whose every value is a plain integer (no leading zero, so
phone numbers and postcodes stay text; so do columns named like tel, fax, zip, code, memo,
card, name, addr, mail, note, birth) as ``Int64``; the rest ``String``; empty fields null.

Encoding: ``utf-8``, ``cp932`` (``shift_jis`` is read as cp932, its superset) or ``auto``
(UTF-8 when the file decodes as UTF-8, else CP932); a UTF-8 BOM is dropped. A record whose
bytes do not decode, or whose field count differs from the header, is rejected with a reason;
``counts``: ``records`` + ``rejected`` = data records in the file (blank lines are no records;
a header that does not decode adds one reject at line 1, its columns named with ``\\xNN`` escapes).

Parsing uses Python's C ``csv`` module per file (quoted fields may hold newlines and commas); the
typing is vectorised.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from pathlib import Path

import polars as pl

from forensics.evidence import escape_py, read_evidence, rel_source
from forensics.loaders._common import COUNTS, Loaded, local_to_utc
from forensics.schemas import REJECTS

_INT = r"^(?:0|-?[1-9]\d{0,17})$"
#: Columns kept as text even when every value looks like an integer (phone, postcode, codes, card data...).
_TEXT_NAMES = r"(?i)(tel|fax|zip|postal|code|memo|card|password|secret|salt|name|kana|addr|mail|note|birth|token|sid)"
_DATE_FORMATS = ["%Y-%m-%d %H:%M:%S%.f", "%Y/%m/%d %H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y/%m/%d"]


def table_name(path: Path) -> str:
    return re.sub(r"\.csv(\.gz)?$", "", Path(path).name, flags=re.I)


def _decode(data: bytes, encoding: str) -> tuple[str, str]:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
        encoding = "utf-8" if encoding == "auto" else encoding
    enc = {"shift_jis": "cp932", "sjis": "cp932", "shift-jis": "cp932", "utf8": "utf-8"}.get(encoding.lower(), encoding.lower())
    if enc == "auto":
        try:
            return data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            enc = "cp932"
    return data.decode(enc, "surrogateescape"), enc


def _parse_dates(col: pl.Expr, timezone: str) -> pl.Expr:
    naive = pl.coalesce([col.str.to_datetime(f, time_unit="us", strict=False) for f in _DATE_FORMATS])
    return local_to_utc(naive, timezone)


def read_db_export(path: str | Path, *, case_root: str | Path | None = None, encoding: str = "auto", timezone: str = "UTC") -> Loaded:
    """One ``dtb_*.csv`` eagerly: ``records`` (``source``, ``line_no``, columns), ``rejects``, ``counts``."""
    path = Path(path)
    source = rel_source(path, Path(case_root) if case_root is not None else None)
    try:
        raw = read_evidence(path)
    except OSError as exc:  # a symlink (never followed), no permission
        reason = "symlink: not followed (evidence is read without following links)" if path.is_symlink() else f"cannot open: {exc.strerror or exc}"
        rej = pl.DataFrame([(source, None, reason, "")], schema=REJECTS, orient="row")
        empty = pl.DataFrame(schema={"source": pl.String, "line_no": pl.Int64})
        return Loaded(empty, rej, pl.DataFrame([(source, 0, 1, 0)], schema=COUNTS, orient="row"))
    text, enc = _decode(raw.data, encoding)
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))  # no field limit below the file's own size
    reader = csv.reader(io.StringIO(text, newline=""), strict=False)
    rejects: list[tuple] = []
    if raw.tail_problem:
        rejects.append((source, None, raw.tail_problem, ""))
    try:
        header = next(reader)
    except StopIteration:
        header = []
    except csv.Error as exc:
        header = []
        rejects.append((source, 1, f"unreadable CSV header: {exc}", ""))
    bad_header = any("\udc80" <= ch <= "\udcff" for h in header for ch in h)
    names = [
        h.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace").strip() or f"column_{i + 1}"
        for i, h in enumerate(header)
    ]
    seen: dict[str, int] = {}
    for i, n in enumerate(names):  # duplicate header names stay distinguishable
        if n in seen:
            names[i] = f"{n}_{i + 1}"
        seen[n] = i
    rows: list[list[str]] = []
    line_nos: list[int] = []
    start = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            rejects.append((source, start, f"malformed CSV record: {exc}", ""))
            start = reader.line_num + 1
            continue
        if not row:  # a blank line: not a record
            start = reader.line_num + 1
            continue
        joined = ",".join(row)
        if any("\udc80" <= ch <= "\udcff" for ch in joined):
            rejects.append((source, start, f"bytes not valid {enc}", escape_py(joined.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace"))))
        elif len(row) != len(names):
            rejects.append((source, start, f"{len(row)} fields where the header has {len(names)}", escape_py(joined)))
        else:
            rows.append(row)
            line_nos.append(start)
        start = reader.line_num + 1
    if bad_header:
        rejects.append((source, 1, f"header not valid {enc}: invalid bytes in column names shown as \\xNN", ""))
    frame = pl.DataFrame(
        {"source": [source] * len(rows), "line_no": line_nos, **{n: [r[i] for r in rows] for i, n in enumerate(names)}},
        schema={"source": pl.String, "line_no": pl.Int64, **{n: pl.String for n in names}},
    )
    frame = frame.with_columns(pl.col(n).replace("", None) for n in names) if names else frame
    typed = []
    for n in names:
        col = pl.col(n)
        if n.endswith("_date"):
            typed.append(_parse_dates(col, timezone).alias(n))
    frame = frame.with_columns(typed) if typed else frame
    ints = [n for n in names if not n.endswith("_date") and not re.search(_TEXT_NAMES, n) and frame[n].null_count() < frame.height
            and frame[n].drop_nulls().str.contains(_INT).all()]
    if ints:
        frame = frame.with_columns(pl.col(n).cast(pl.Int64) for n in ints)
    rej = pl.DataFrame(rejects, schema=REJECTS, orient="row")
    counts = pl.DataFrame([(source, frame.height, rej.height, frame.height)], schema=COUNTS, orient="row")
    return Loaded(frame, rej, counts)


def read_db_exports(paths: Iterable[str | Path], *, case_root: str | Path | None = None, encoding: str = "auto",
                    timezone: str = "UTC") -> dict[str, Loaded]:
    """Every export, by table name (``dtb_customer`` -> Loaded)."""
    return {table_name(p): read_db_export(p, case_root=case_root, encoding=encoding, timezone=timezone) for p in sorted(map(Path, paths))}


def scan_db_exports(paths: Iterable[str | Path], *, case_root: str | Path | None = None, **options) -> dict[str, pl.LazyFrame]:
    """Database exports as LazyFrames by table name (``source``, ``line_no``, the CSV's columns).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "dtb_customer.csv").write_bytes(
    ...     "customer_id,name01,tel01,create_date\\n7,東,090,2017-04-01 09:00:00\\n".encode("cp932"))
    >>> scan_db_exports([d / "dtb_customer.csv"], case_root=d, timezone="Asia/Tokyo")["dtb_customer"].collect()
    shape: (1, 6)
    ┌──────────────────┬─────────┬─────────────┬────────┬───────┬─────────────────────────┐
    │ source           ┆ line_no ┆ customer_id ┆ name01 ┆ tel01 ┆ create_date             │
    │ ---              ┆ ---     ┆ ---         ┆ ---    ┆ ---   ┆ ---                     │
    │ str              ┆ i64     ┆ i64         ┆ str    ┆ str   ┆ datetime[μs, UTC]       │
    ╞══════════════════╪═════════╪═════════════╪════════╪═══════╪═════════════════════════╡
    │ dtb_customer.csv ┆ 2       ┆ 7           ┆ 東     ┆ 090   ┆ 2017-04-01 00:00:00 UTC │
    └──────────────────┴─────────┴─────────────┴────────┴───────┴─────────────────────────┘
    """
    return {name: loaded.records.lazy() for name, loaded in read_db_exports(paths, case_root=case_root, **options).items()}
