"""Tables as they stood at an earlier moment, and a locked-down DuckDB to replay SELECTs on them.

The database exports show rows as they stood at the end. The query log's INSERT / UPDATE / DELETE
statements tell how a row stood earlier (the counting rules). :class:`AsOfTables` combines both:

- a row whose INSERT was logged after the moment, or whose ``create_date`` is after it, is left out;
- a row deleted later is kept (from the export when soft-deleted, rebuilt from its logged INSERT
  when hard-deleted; flagged when its values are unknown);
- every column a later statement changed takes the value the last statement at or before the
  moment had set; where no statement before the moment tells it, the best evidence is used and
  the row is flagged (``*_flg`` set to non-zero later: 0 before; ``update_date``: the row's
  ``create_date``, its lower bound; anything else: the end value).

Moments are statement sequence numbers (``seq``: position in the query log ordered by time, then
the order the log was read in: files oldest first, then line), so statements in the same second
keep their logged order, also across a rotation.

:class:`SafeReplayer` executes one SELECT at a time in an in-memory DuckDB with file access and
extension loading disabled and the configuration locked. Nothing but a single SELECT runs.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import polars as pl

from forensics.errors import ReplayError

from forensics.exposure.sql import (
    UNKNOWN, RewriteError, first_keyword, norm_pk, parse_change, simple_insert_keys, to_duckdb,
)
from forensics.exposure.statements import conn_key_expr, data_change_expr, keyword_expr

__all__ = [
    "AsOfTables",
    "SafeReplayer",
    "ReplayError",
    "primary_keys",
    "statement_table",
    "to_local_naive",
]



def primary_keys(tables: Mapping[str, pl.DataFrame | pl.LazyFrame]) -> dict[str, str]:
    """Table -> primary-key column: ``<name without dtb_/mtb_ prefix>_id`` when present
    (dtb_customer -> customer_id), else the first ``*_id`` column."""
    out = {}
    for name, frame in tables.items():
        cols = frame.collect_schema().names() if isinstance(frame, pl.LazyFrame) else frame.columns
        stem = re.sub(r"^[a-z]+?_", "", name.lower())
        if f"{stem}_id" in cols:
            out[name.lower()] = f"{stem}_id"
        else:
            ids = [c for c in cols if c.endswith("_id")]
            if ids:
                out[name.lower()] = ids[0]
    return out


def statement_table(query_log: pl.LazyFrame | pl.DataFrame) -> pl.DataFrame:
    """The query log in replay order (time; an untimed statement at the place its bound gives), with
    ``seq`` (UInt32, 0..), ``conn_key`` (``conn_id#n``: the
    n-th connection that used the id, split at each ``Connect``) and ``keyword`` (first word of a
    Query/Execute argument, upper case)."""
    q = query_log.lazy() if isinstance(query_log, pl.DataFrame) else query_log
    # an untimed statement (head of a 5.6 file) sits just before the first time of its file
    df = q.with_columns(_order=pl.coalesce("ts", "ts_before")).sort(
        "_order", maintain_order=True).drop("_order").collect()
    df = df.with_row_index("seq")
    df = df.with_columns(
        (pl.col("command") == "Connect").cast(pl.Int32).cum_sum().over("conn_id").alias("conn_n"),
    ).with_columns(conn_key=conn_key_expr(), keyword=keyword_expr()).drop("conn_n")
    return df


def to_local_naive(df: pl.DataFrame, tz: str) -> pl.DataFrame:
    """Every tz-aware Datetime column as naive wall-clock time in ``tz`` (how MySQL held it)."""
    exprs = [
        pl.col(c).dt.convert_time_zone(tz).dt.replace_time_zone(None)
        for c, t in df.schema.items()
        if isinstance(t, pl.Datetime) and t.time_zone is not None
    ]
    return df.with_columns(exprs) if exprs else df


_DT_FORMATS = ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d",
               "%Y/%m/%d %H:%M:%S", "%Y%m%d%H%M%S")


def _cast(value: Any, dtype: pl.DataType, zone: ZoneInfo) -> tuple[Any, bool]:
    """A logged literal as a value of the export column's type: (value, ok)."""
    if value is None:
        return None, True
    if value is UNKNOWN:
        return None, False
    try:
        if isinstance(dtype, pl.Datetime):
            if isinstance(value, dt.datetime):
                t = value
            else:
                s = str(value).strip()
                for f in _DT_FORMATS:
                    try:
                        t = dt.datetime.strptime(s, f)
                        break
                    except ValueError:
                        continue
                else:
                    return None, False
            if t.tzinfo is None:
                t = t.replace(tzinfo=zone)
            if dtype.time_zone is None:
                return t.astimezone(zone).replace(tzinfo=None), True
            return t.astimezone(dt.timezone.utc), True
        if dtype.is_integer():
            return int(float(value)) if not isinstance(value, int) else value, True
        if dtype.is_float():
            return float(value), True
        if dtype == pl.Boolean:
            return bool(int(value)), True
        if isinstance(value, dt.datetime):
            return value.strftime("%Y-%m-%d %H:%M:%S"), True
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return str(value), True
    except (TypeError, ValueError):
        return None, False


@dataclass(slots=True)
class _Op:
    seq: int
    ts: dt.datetime
    op: str  # insert, update, delete
    values: dict[str, Any]
    source: str
    line_no: int


@dataclass
class AsOfTables:
    """End-state exports plus the logged changes; :meth:`at` gives a table as of a moment.

    Attributes
    ----------
    tables
        name (lower case) -> export DataFrame (``source``, ``line_no``, columns; dates UTC).
    pk_of
        name -> primary-key column.
    problems
        DataFrame of logged changes to exported tables that could not be applied:
        ``seq, ts, source, line_no, table, op, reason``.
    """

    tables: dict[str, pl.DataFrame]
    tz: str
    pk_of: dict[str, str] = field(default_factory=dict)
    ops: dict[str, dict[Any, list[_Op]]] = field(default_factory=dict)
    problems: pl.DataFrame | None = None
    log_start: dt.datetime | None = None
    _maxseq: dict[str, dict[Any, int]] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        tables: Mapping[str, pl.DataFrame | pl.LazyFrame],
        statements: pl.DataFrame | None,
        tz: str,
        *,
        log_start: dt.datetime | None = None,
    ) -> AsOfTables:
        """Parse the data changes in ``statements`` (from :func:`statement_table`, or the part of it
        holding the changes) for the tables. ``log_start``: the query log's first time (default:
        the first time of ``statements``)."""
        tabs = {
            k.lower(): (v.collect() if isinstance(v, pl.LazyFrame) else v) for k, v in tables.items()
        }
        self = cls(tabs, tz, primary_keys(tabs))
        zone = ZoneInfo(tz)
        probs: list[dict[str, Any]] = []
        self.log_start = log_start
        if statements is not None and statements.height:
            if log_start is None:
                self.log_start = statements["ts"].min()
            # cheap prefilter before the tokenizer: a data change naming an exported table
            cand = statements.filter(data_change_expr(self.pk_of)).select(
                "seq", "ts", "source", "line_no", "argument", inserts=pl.col("keyword").is_in(["INSERT", "REPLACE"]))
            # updates and deletes first: the columns they set are all of a logged INSERT's values
            # that :meth:`at` can ask for, unless the row is missing from the export (rebuilt from
            # its INSERT: every value kept). A shop's log inserts every order with all its columns
            # and later sets two or three: the rest is never held.
            touched: dict[tuple[str, Any], set[str]] = {}
            for r in cand.filter(~pl.col("inserts")).iter_rows(named=True):
                for table, pk, op in self._parsed(r, zone, probs):
                    touched.setdefault((table, pk), set()).update(op.values)
            present = {t: _export_keys(tabs[t], pk) for t, pk in self.pk_of.items() if t in tabs}
            # an INSERT of a row the export holds that no later change touched needs only its key
            # and moment: read at once over the simple ones, the tokenizer for the rest
            inserts = simple_insert_keys(cand.filter(pl.col("inserts")), self.pk_of)
            slow = []
            for i, (seq, ts, source, line_no, table, text) in enumerate(
                    inserts.select("seq", "ts", "source", "line_no", "_table", "_pk").iter_rows()):
                pk = norm_pk(text) if text is not None else None
                if pk is None or (pk, str(pk)) not in present.get(table, ()) or (table, pk) in touched:
                    slow.append(i)
                    continue
                self.ops.setdefault(table, {}).setdefault(pk, []).append(_Op(seq, ts, "insert", {}, source, line_no))
            for r in inserts[slow].iter_rows(named=True):
                for table, pk, op in self._parsed(r, zone, probs):
                    if (pk, str(pk)) in present.get(table, ()):
                        kept = touched.get((table, pk), ())
                        op.values = {c: v for c, v in op.values.items() if c in kept}
            for per in self.ops.values():
                for lst in per.values():
                    lst.sort(key=lambda o: o.seq)  # stable: a key's changes in replay order
        for t, per in self.ops.items():
            self._maxseq[t] = {pk: max(o.seq for o in lst) for pk, lst in per.items()}
        self.problems = pl.DataFrame(
            probs,
            schema={"seq": pl.UInt32, "ts": pl.Datetime("us", "UTC"), "source": pl.String,
                    "line_no": pl.Int64, "table": pl.String, "op": pl.String, "reason": pl.String},
        ).sort("seq", maintain_order=True)
        return self

    def _parsed(self, r: dict[str, Any], zone: ZoneInfo, probs: list[dict[str, Any]]):
        """The changes one logged statement ``r`` (``seq, ts, source, line_no, argument``) makes,
        added to :attr:`ops`: ``(table, pk, op)`` each; a change that cannot be applied (or only to
        the rows it names) goes to ``probs``."""
        now_local = r["ts"].astimezone(zone).replace(tzinfo=None) if r["ts"] else None
        ch = parse_change(r["argument"], self.pk_of, now_local=now_local)
        if ch is None:
            return
        if ch.error:
            applied = any(p is not None for p in ch.pks)
            probs.append({"seq": r["seq"], "ts": r["ts"], "source": r["source"], "line_no": r["line_no"],
                          "table": ch.table, "op": ch.op,
                          "reason": ch.error + (" (applied to the rows it names)" if applied else "")})
            if not applied:
                return
        per = self.ops.setdefault(ch.table, {})
        if ch.op == "insert":
            changes = [(pk, row) for pk, row in zip(ch.pks, ch.rows) if pk is not None]
        else:
            changes = [(pk, dict(ch.values)) for pk in ch.pks]
        for pk, values in changes:
            op = _Op(r["seq"], r["ts"], ch.op, values, r["source"], r["line_no"])
            per.setdefault(pk, []).append(op)
            yield ch.table, pk, op

    def at(self, table: str, seq: int, ts: dt.datetime, *, estimate: str = "low") -> tuple[pl.DataFrame, dict[Any, list[str]]]:
        """``table`` as it stood just before statement ``seq`` (logged at ``ts``).

        ``estimate`` chooses the stand-in for an ``update_date`` whose value before a later change
        the log does not tell: ``low`` = the row's ``create_date`` (its lower bound), ``high`` =
        the start of the query log (any later value would have been logged), capped at ``ts``.
        Replaying with both shows whether a page's rows depend on the unknown value.

        Returns (frame with the export's schema, flags: pk -> reasons the row's values are
        estimated). Rows are those that existed; values as set by the changes up to ``seq``.
        """
        table = table.lower()
        df = self.tables[table]
        pk = self.pk_of.get(table)
        zone = ZoneInfo(self.tz)
        has_create = "create_date" in df.columns and isinstance(df.schema["create_date"], pl.Datetime)
        flags: dict[Any, list[str]] = {}
        if pk is None:
            out = df.filter(pl.col("create_date").is_null() | (pl.col("create_date") <= ts)) if has_create else df
            return out, flags
        maxseq = self._maxseq.get(table, {})
        affected = [k for k, m in maxseq.items() if m >= seq]
        base = df
        # primary keys compared as text: the log's literals and the export's column may differ in type
        key_txt = pl.col(pk).cast(pl.String).str.strip_chars()
        aff_txt = pl.Series([str(k) for k in affected], dtype=pl.String).implode()
        if affected:
            base = df.filter(~key_txt.is_in(aff_txt).fill_null(False)) if df.height else df
        if has_create:
            base = base.filter(pl.col("create_date").is_null() | (pl.col("create_date") <= ts))
        if not affected:
            return base, flags
        # the export's rows of the affected keys stay a frame: each is patched column by column
        # with the values the changes before the moment set, so no row is copied into Python
        sub = df.filter(key_txt.is_in(aff_txt).fill_null(False)) if df.height else df.clear()
        end_row = {_norm_key(k): i for i, k in enumerate(sub.get_column(pk).to_list())}  # last row wins
        end_create = sub.get_column("create_date").to_list() if has_create else None
        schema = df.schema
        picked: list[int] = []  # row of ``sub``, in the order of ``affected``
        patches: list[dict[str, Any]] = []
        order: list[int] = []
        rebuilt: list[dict[str, Any]] = []  # rows absent from the export
        rebuilt_order: list[int] = []
        for i, key in enumerate(affected):
            ops = self.ops[table][key]
            before = [o for o in ops if o.seq < seq]
            after = [o for o in ops if o.seq >= seq]
            exists = None
            for o in before:
                if o.op == "insert":
                    exists = True
                elif o.op == "delete":
                    exists = False
            if exists is None:
                first_after = after[0].op if after else None
                if first_after == "insert":
                    continue  # created after the moment
                exists = True
                logged_insert = False
            else:
                logged_insert = True
            if not exists:
                continue
            why: list[str] = []
            rebuilt_from = None
            at_row = end_row.get(key)
            row = None  # the whole row, for a row absent from the export
            if at_row is None:
                ins = [o for o in before if o.op == "insert"]
                row = {c: None for c in schema.names()}
                if not ins:
                    why.append("row deleted later and absent from the export: values unknown")
                    row[pk] = key
                else:
                    why.append("row absent from the export: rebuilt from its logged INSERT")
                    row.update({"source": ins[-1].source, "line_no": ins[-1].line_no})
                    for c, v in ins[-1].values.items():
                        if c in schema:
                            row[c], ok = _cast(v, schema[c], zone)
                            if not ok:
                                why.append(f"{c}: logged value not a literal")
                    rebuilt_from = ins[-1].seq
                created = row.get("create_date")
            else:
                created = end_create[at_row] if end_create is not None else None
            if not logged_insert and has_create and created is not None and created > ts:
                continue
            touched = {c for o in after for c in (o.values if o.op != "insert" else {})}
            if rebuilt_from is not None:
                touched |= {c for o in before if o.seq > rebuilt_from for c in o.values}
            touched &= set(schema.names())
            patch: dict[str, Any] = {}
            for c in sorted(touched):
                known = [o for o in ops if o.seq < seq and c in o.values]
                if known:
                    v, ok = _cast(known[-1].values[c], schema[c], zone)
                    patch[c] = v
                    if not ok:
                        why.append(f"{c}: value set by line {known[-1].line_no} not a literal")
                    continue
                later = next(o for o in after if c in o.values)
                new, _ = _cast(later.values[c], schema[c], zone)
                if c.endswith(("_flg", "_flag")) and new not in (None, 0, "0"):
                    patch[c] = 0 if schema[c].is_integer() else "0"
                    why.append(f"{c}: before {later.source}:{later.line_no} assumed 0")
                elif c == "update_date" and "create_date" in schema:
                    lo = patch.get("create_date", created)
                    hi = min(ts, self.log_start) if self.log_start is not None else ts
                    if estimate == "high" and (lo is None or hi >= lo):
                        patch[c] = hi
                    else:
                        patch[c] = lo
                    why.append(f"update_date: before {later.source}:{later.line_no} unknown "
                               f"(between create_date and the log start)")
                else:
                    why.append(f"{c}: before {later.source}:{later.line_no} unknown, end value used")
            if why:
                flags[key] = why
            if row is None:
                picked.append(at_row)
                patches.append(patch)
                order.append(i)
            else:
                row.update(patch)
                rebuilt.append(row)
                rebuilt_order.append(i)
        parts = []
        if picked:
            kept = sub[picked]
            for c in sorted({c for p in patches for c in p}):
                has = pl.Series([c in p for p in patches], dtype=pl.Boolean)
                value = pl.Series([p.get(c) for p in patches], dtype=schema[c], strict=False)
                kept = kept.with_columns(pl.when(has).then(value).otherwise(pl.col(c)).alias(c))
            parts.append(kept.with_columns(_order=pl.Series(order, dtype=pl.Int64)))
        if rebuilt:
            parts.append(pl.DataFrame(rebuilt, schema=schema, strict=False, infer_schema_length=None)
                         .with_columns(_order=pl.Series(rebuilt_order, dtype=pl.Int64)))
        if parts:
            extra = pl.concat(parts, how="vertical").sort("_order").drop("_order")
            base = pl.concat([base, extra], how="vertical")
        return base, flags


def _export_keys(df: pl.DataFrame, pk: str) -> set[tuple[Any, str]]:
    """``(key, text)`` of each row of an export, as :meth:`AsOfTables.at` finds a logged key's row:
    by its text (trimmed), then its value (:func:`_norm_key`); a logged key ``k`` has a row when
    ``(k, str(k))`` is in the set."""
    if pk not in df.columns or not df.height:
        return set()
    values = df.get_column(pk)
    texts = values.cast(pl.String).str.strip_chars().to_list()
    return {(_norm_key(v), t) for v, t in zip(values.to_list(), texts, strict=True) if v is not None}


def _norm_key(v: Any) -> Any:
    if isinstance(v, str) and re.fullmatch(r"\s*-?\d+\s*", v):
        return int(v)
    return v


class SafeReplayer:
    """In-memory DuckDB that runs single SELECTs over registered frames, nothing else.

    File access, extension auto-loading/installing and community extensions are disabled, then
    the configuration is locked, so a replayed statement cannot read or write files.
    """

    def __init__(self) -> None:
        self.con = duckdb.connect(
            ":memory:",
            config={
                "enable_external_access": False,
                "autoload_known_extensions": False,
                "autoinstall_known_extensions": False,
                "allow_community_extensions": False,
                "lock_configuration": True,
            },
        )
        self._registered: set[str] = set()

    def register(self, name: str, df: pl.DataFrame) -> None:
        if name in self._registered:
            self.con.unregister(name)
        self.con.register(name, df.to_arrow())
        self._registered.add(name)

    def clear(self) -> None:
        for n in list(self._registered):
            self.con.unregister(n)
        self._registered.clear()

    def select(self, mysql_sql: str, *, now_local: dt.datetime | None = None) -> tuple[str, list[str], list[tuple]]:
        """Rewrite and run one SELECT: (duckdb sql, column names, rows). Raises ReplayError."""
        if first_keyword(mysql_sql) != "SELECT":
            raise ReplayError("not a SELECT: never executed")
        try:
            sql = to_duckdb(mysql_sql, now_local=now_local)
        except RewriteError as e:
            raise ReplayError(f"rewrite: {e}") from None
        try:
            stmts = self.con.extract_statements(sql)
        except duckdb.Error as e:
            raise ReplayError(f"parse: {str(e).splitlines()[0]}") from None
        if len(stmts) != 1 or stmts[0].type != duckdb.StatementType.SELECT:
            raise ReplayError("not a single SELECT: never executed")
        try:
            rel = self.con.sql(sql)
            cols = list(rel.columns)
            rows = rel.fetchall()
        except duckdb.Error as e:
            raise ReplayError(f"execute: {str(e).splitlines()[0]}") from None
        return sql, cols, rows

    def close(self) -> None:
        self.con.close()
