"""Database exports -> one frame per table: table dumps (``dtb_*.csv`` with a header of EC-CUBE
column names) and the shop's own admin CSV downloads.

An admin CSV download (``customer_170401_231502.csv`` from the member list, the order list...)
has the Japanese ``dtb_csv.disp_name`` labels as its header (``会員ID``, ``お名前(姓)``, ``E-MAIL``,
``登録日``...). A file is one when its header row is made of one download's labels
(:func:`recognise_header`: the shop may have switched columns off or reordered them); it is then
loaded as the table that download exports (``dtb_customer``, ``dtb_order``...) with the labels
renamed to the table's column names (:data:`forensics.platforms.eccube2_csv.ADMIN_CSV_COLUMNS`),
whatever the file is called; a column the download's page selects by but writes no label for
is added with that value (``del_flg`` 0: the member and order lists leave deleted rows out). Any
other file is a table dump named after its file.

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
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from forensics.evidence import _blocks, escape_py, read_evidence, rel_source
from forensics.loaders._common import COUNTS, Loaded, local_to_utc
from forensics.platforms.eccube2_csv import ADMIN_CSV_COLUMNS, ADMIN_CSV_OUTPUTS, AdminCsvColumn
from forensics.schemas import REJECTS

_INT = r"^(?:0|-?[1-9]\d{0,17})$"
#: A byte the file's encoding could not decode (``surrogateescape`` keeps it as U+DC80 - U+DCFF).
_UNDECODED = re.compile("[\udc80-\udcff]")
#: Records gathered as Python rows before they become a frame's chunk: the rows' strings are
#: several times the size of the columns they become.
_CHUNK_ROWS = 20_000
#: Columns kept as text even when every value looks like an integer (phone, postcode, codes, card data...).
_TEXT_NAMES = r"(?i)(tel|fax|zip|postal|code|memo|card|password|secret|salt|name|kana|addr|mail|note|birth|token|sid)"
_DATE_FORMATS = ["%Y-%m-%d %H:%M:%S%.f", "%Y/%m/%d %H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y/%m/%d"]


def table_name(path: Path) -> str:
    """The table a table dump holds, by its file name (``dtb_customer.csv`` -> ``dtb_customer``)."""
    return re.sub(r"\.csv(\.gz)?$", "", Path(path).name, flags=re.I)


# --- recognising an admin CSV download by its header -------------------------------------------

#: Format names (the manifest's ``format`` of a database export).
TABLE_DUMP = "table_dump"
ADMIN_CSV = "eccube_admin_csv"

#: Share of a header's labels that must be labels of the chosen download ("most headers known";
#: the rest may be columns a plugin added).
MIN_COVERAGE = 0.8
#: Labels that must match at least: a lone label (``FAX1``) says too little.
MIN_MATCHED = 2


def _norm_label(label: str) -> str:
    # NFKC: full-width letters and brackets as written by hand or re-saved by a spreadsheet
    return unicodedata.normalize("NFKC", label).strip().casefold()


_LABELS: dict[int, dict[str, AdminCsvColumn]] = {}
for _c in ADMIN_CSV_COLUMNS:
    _LABELS.setdefault(_c.csv_id, {})[_norm_label(_c.disp_name)] = _c
#: In how many downloads each label occurs (``会員ID``: member and order lists): a label shared
#: by k downloads is 1/k of a vote for each.
_SHARED = Counter(label for labels in _LABELS.values() for label in labels)


@dataclass(frozen=True)
class HeaderMatch:
    """How a header row was recognised.

    ``format``: :data:`ADMIN_CSV` or :data:`TABLE_DUMP`; ``csv_id`` and ``table``: the download
    and the table its rows are (None for a table dump); ``columns``: the column names the header
    is loaded as; ``matched``: header labels of the download; ``score``: their weight;
    ``note``: why a header with admin-CSV labels was not taken for one (else empty).
    """

    format: str
    columns: tuple[str, ...]
    csv_id: int | None = None
    table: str | None = None
    matched: int = 0
    score: float = 0.0
    note: str = ""

    def describe(self) -> str:
        """``eccube_admin_csv (csv_id 2: dtb_customer)``, ``table_dump``, or ``table_dump`` with the note."""
        if self.format == ADMIN_CSV:
            return f"{ADMIN_CSV} (csv_id {self.csv_id}: {self.table})"
        return f"{TABLE_DUMP} ({self.note})" if self.note else TABLE_DUMP


def recognise_header(header: Sequence[str]) -> HeaderMatch:
    """Which admin CSV download (``csv_id``) a header row is, if any.

    Every download whose labels occur in the header is a candidate. A label counts 1/k for each
    of the k downloads that have it (``E-MAIL`` is the member list's alone; ``会員ID`` is shared by
    the member and order lists), and a candidate scores the sum over the header's labels it has.
    The best-scoring candidate is taken when its labels make up at least :data:`MIN_COVERAGE` of
    the header's non-empty names and number at least :data:`MIN_MATCHED`, and no other candidate
    scores as much; otherwise the file stays a table dump, and ``note`` says why when labels
    matched. Names the chosen download does not have are kept as they are.

    Examples
    --------
    >>> m = recognise_header(["登録日", "E-MAIL", "会員ID", "お名前(姓)"])
    >>> m.describe(), m.columns
    ('eccube_admin_csv (csv_id 2: dtb_customer)', ('create_date', 'email', 'customer_id', 'name01'))
    >>> recognise_header(["会員ID", "お名前(姓)"]).note
    'csv_id 2 and csv_id 3 score alike (1 each)'
    >>> recognise_header(["customer_id", "email"]).describe()
    'table_dump'
    """
    names = tuple(header)
    labels = {_norm_label(h) for h in names} - {""}
    candidates = []
    for csv_id, known in _LABELS.items():
        hits = labels & known.keys()
        if hits:
            candidates.append((sum(1 / _SHARED[h] for h in hits), len(hits), csv_id))
    if not candidates:
        return HeaderMatch(TABLE_DUMP, names)
    candidates.sort(key=lambda c: (-c[0], c[2]))
    score, matched, csv_id = candidates[0]
    note = ""
    if len(candidates) > 1 and abs(candidates[1][0] - score) < 1e-9:
        note = f"csv_id {csv_id} and csv_id {candidates[1][2]} score alike ({score:g} each)"
    elif matched < MIN_MATCHED or matched < MIN_COVERAGE * len(labels):
        note = f"{matched} of {len(labels)} header names are labels of csv_id {csv_id}"
    if note:
        return HeaderMatch(TABLE_DUMP, names, matched=matched, score=score,
                           note=note if matched >= MIN_MATCHED else "")
    known = _LABELS[csv_id]
    columns = tuple(known[_norm_label(h)].name if _norm_label(h) in known else h for h in names)
    return HeaderMatch(ADMIN_CSV, columns, csv_id, ADMIN_CSV_OUTPUTS[csv_id].table, matched, score)


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


#: A line as ``io.StringIO(text, newline="")`` gives it: up to and with its ``\r\n``, ``\r`` or ``\n``.
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def _lines(text: str) -> Iterable[str]:
    """The lines of ``text`` one at a time, as the csv module reads a file opened with
    ``newline=""`` (a copy of the whole text, as ``io.StringIO`` makes, takes four bytes a
    character)."""
    return (m.group(0) for m in _LINE.finditer(text))


def read_db_export(path: str | Path, *, case_root: str | Path | None = None, encoding: str = "auto", timezone: str = "UTC") -> Loaded:
    """One export eagerly: ``records`` (``source``, ``line_no``, columns), ``rejects``, ``counts``."""
    return _read_db_export(Path(path), case_root=case_root, encoding=encoding, timezone=timezone)[0]


def _read_db_export(path: Path, *, case_root: str | Path | None, encoding: str, timezone: str) -> tuple[Loaded, HeaderMatch]:
    source = rel_source(path, Path(case_root) if case_root is not None else None)
    try:
        raw = read_evidence(path)
    except OSError as exc:  # a symlink (never followed), no permission
        reason = "symlink: not followed (evidence is read without following links)" if path.is_symlink() else f"cannot open: {exc.strerror or exc}"
        rej = pl.DataFrame([(source, None, reason, "")], schema=REJECTS, orient="row")
        empty = pl.DataFrame(schema={"source": pl.String, "line_no": pl.Int64})
        return Loaded(empty, rej, pl.DataFrame([(source, 0, 1, 0)], schema=COUNTS, orient="row")), HeaderMatch(TABLE_DUMP, ())
    text, enc = _decode(raw.data, encoding)
    tail_problem = raw.tail_problem
    del raw  # the text holds it all now
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))  # no field limit below the file's own size
    reader = csv.reader(_lines(text), strict=False)
    rejects: list[tuple] = []
    if tail_problem:
        rejects.append((source, None, tail_problem, ""))
    try:
        header = next(reader)
    except StopIteration:
        header = []
    except csv.Error as exc:
        header = []
        rejects.append((source, 1, f"unreadable CSV header: {exc}", ""))
    bad_header = any(_UNDECODED.search(h) for h in header)
    names = [
        h.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace").strip() or f"column_{i + 1}"
        for i, h in enumerate(header)
    ]
    match = recognise_header(names) if not bad_header else HeaderMatch(TABLE_DUMP, tuple(names))
    names = list(match.columns)
    seen: dict[str, int] = {"source": -1, "line_no": -1}  # the provenance columns keep their names
    for i, n in enumerate(names):  # duplicate header names stay distinguishable
        if n in seen:
            names[i] = f"{n}_{i + 1}"
        seen[n] = i
    schema = {"source": pl.String, "line_no": pl.Int64, **{n: pl.String for n in names}}
    chunks: list[pl.DataFrame] = []
    rows: list[list[str]] = []
    line_nos: list[int] = []

    def chunk() -> None:
        chunks.append(pl.DataFrame(
            {"source": [source] * len(rows), "line_no": line_nos, **{n: [r[i] for r in rows] for i, n in enumerate(names)}},
            schema=schema))
        rows.clear()
        line_nos.clear()

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
        if _UNDECODED.search(joined):
            rejects.append((source, start, f"bytes not valid {enc}", escape_py(joined.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace"))))
        elif len(row) != len(names):
            rejects.append((source, start, f"{len(row)} fields where the header has {len(names)}", escape_py(joined)))
        else:
            rows.append(row)
            line_nos.append(start)
            if len(rows) >= _CHUNK_ROWS:
                chunk()
        start = reader.line_num + 1
    if bad_header:
        rejects.append((source, 1, f"header not valid {enc}: invalid bytes in column names shown as \\xNN", ""))
    chunk()
    frame = pl.concat(chunks, rechunk=True)
    # a column by its place, never ``pl.col(name)``: a header names it, and "*" or "^...$" there
    # would select other columns
    at = {n: pl.nth(k) for k, n in enumerate(frame.columns)}
    frame = frame.with_columns(at[n].replace("", None) for n in names) if names else frame
    typed = []
    for n in names:
        col = at[n]
        if n.endswith("_date"):
            typed.append(_parse_dates(col, timezone).alias(n))
    frame = frame.with_columns(typed) if typed else frame
    ints = [n for n in names if not n.endswith("_date") and not re.search(_TEXT_NAMES, n) and frame[n].null_count() < frame.height
            and frame[n].alias("v").drop_nulls().str.contains(_INT).all()]  # (a Series' methods select it by name)
    if ints:
        frame = frame.with_columns(at[n].cast(pl.Int64) for n in ints)
    # a column no row fills (common: a shop leaves most optional columns empty) as a column of
    # nulls, which holds no per-row text slot (16 bytes a row otherwise)
    empty = [n for n in names if frame[n].dtype == pl.String and frame[n].null_count() == frame.height]
    if empty:
        frame = frame.with_columns(pl.repeat(None, frame.height, dtype=pl.String, eager=True).alias(n) for n in empty)
    if match.csv_id is not None:  # what the download's page selected by, though no label writes it
        implied = [(c, v) for c, v in ADMIN_CSV_OUTPUTS[match.csv_id].implied if c not in frame.columns]
        frame = frame.with_columns(pl.lit(v, pl.Int64).alias(c) for c, v in implied) if implied else frame
    rej = pl.DataFrame(rejects, schema=REJECTS, orient="row")
    counts = pl.DataFrame([(source, frame.height, rej.height, frame.height)], schema=COUNTS, orient="row")
    return Loaded(frame, rej, counts), match


def read_db_exports(paths: Iterable[str | Path], *, case_root: str | Path | None = None, encoding: str = "auto",
                    timezone: str = "UTC") -> dict[str, Loaded]:
    """Every export, by table name (``dtb_customer`` -> Loaded).

    A table dump is named after its file. An admin CSV download takes the name of the table it
    exports unless a table dump of that table is there too (the dump, with every column, is the
    table), or a download of the same table comes later in name order (EC-CUBE's
    ``<kind>_<yymmdd>_<HHMMSS>.csv`` names sort oldest first, so the newest download is the
    table); such a download keeps its file's name, and stays loaded and accounted for.
    """
    out: dict[str, Loaded] = {}
    downloads = []
    for p in sorted(map(Path, paths)):
        loaded, match = _read_db_export(p, case_root=case_root, encoding=encoding, timezone=timezone)
        if match.table is None:
            out[table_name(p)] = loaded
        else:
            downloads.append((p, loaded, match.table))
    for p, loaded, table in reversed(downloads):
        key = table if table not in out else table_name(p)
        if key in out:
            key = rel_source(p, Path(case_root) if case_root is not None else None)
        out[key] = loaded
    return out


def file_formats(paths: Iterable[str | Path], *, encoding: str = "auto") -> dict[Path, str]:
    """The format each export is read in (:meth:`HeaderMatch.describe`), from its header row only:
    ``eccube_admin_csv (csv_id 2: dtb_customer)``, ``table_dump``, or ``table_dump (why not an
    admin CSV)``. A file that cannot be read is left out."""
    return {p: m.describe() for p, m in header_matches(paths, encoding=encoding).items()}


def admin_csv_files(paths: Iterable[str | Path]) -> list[Path]:
    """The files whose header holds admin CSV labels (at least :data:`MIN_MATCHED`), recognised
    or not (a file not recognised is then read as a table dump, and its format says why), read
    as UTF-8 or CP932 whatever encoding the case declares: a download whose bytes the declared
    encoding cannot read is loaded, and its rejects say so, rather than left out."""
    return [p for p, m in header_matches(paths, encoding="auto").items() if m.matched >= MIN_MATCHED]


def header_matches(paths: Iterable[str | Path], *, encoding: str = "auto") -> dict[Path, HeaderMatch]:
    """:func:`recognise_header` of each file's header row (its first 64 KiB are read); a file that
    cannot be read is left out."""
    out = {}
    for p in map(Path, paths):
        blocks = _blocks(p, 1 << 20, 1 << 16)
        try:
            head = next(blocks, (b"", None))[0]
        except OSError:
            continue
        finally:
            blocks.close()  # the file is closed now, not when the generator is collected
        if b"\n" in head:  # whole lines only: a character cut at the block's end would change the decoding
            head = head[: head.rindex(b"\n") + 1]
        text, _enc = _decode(head, encoding)
        try:
            header = next(csv.reader(_lines(text), strict=False), [])
        except csv.Error:
            header = []
        if any(_UNDECODED.search(h) for h in header):
            out[p] = HeaderMatch(TABLE_DUMP, tuple(header))
            continue
        out[p] = recognise_header([h.strip() for h in header])
    return out


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
