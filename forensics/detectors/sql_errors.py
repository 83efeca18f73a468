"""SQL errors the shop logged, and the requests that caused them.

A statement the database refuses is proof from the database side that a request's text reached
it: an injection that breaks the application's SQL makes the database answer with a syntax error,
and the shop writes the refused statement to its error log (the app-log loader's ``sql_error``
records: ``sql``, ``db_error``). Each error is tied back to the request that caused it:

- **candidates**: requests from the error's IP to the error's page (``script``; a folder request
  ``/x/`` is ``/x/index.php``) received at most ``ERROR_DELAY_SECONDS`` before the error was
  logged (a web server logs when a request arrived, the shop when its query failed, both to the
  second);
- **weighing**: a candidate whose own parameter text (a value of four or more characters,
  decoded and normalised as the SQLi rules see it) appears in the logged statement or its
  placeholders scores highest ("payload in statement"); then a request the SQLi rules flagged;
  then the nearer in time;
- **decision**: the best candidate when it alone has the best score; when several share it the
  error says how many and names none (the evidence cannot decide between them).

Everything is vectorised: errors are spread over the seconds they may belong to and joined to the
requests on (IP, page, second).
"""

from __future__ import annotations

import polars as pl

from forensics.cards import mask_pans_expr
from forensics.detectors.sqli import DECODE_ROUNDS, QUERY_LOG_EXCLUDED_RULES, SQLI_RULES, _targets, _with_rule_hits, normalise_expr

__all__ = ["ERROR_DELAY_SECONDS", "SQL_ERRORS", "TIED_SQL_ERRORS", "sql_errors", "tie_sql_errors", "sqli_database_side"]

#: Seconds between a request's arrival (access log) and the SQL error it caused (app log) that
#: are still one request: the query runs while the page is built.
ERROR_DELAY_SECONDS = 3
#: Shortest parameter value that proves a request's text reached a statement (shorter ones, such
#: as ``1``, appear in any statement).
MIN_PAYLOAD_CHARS = 4
#: Characters of the statement kept for display.
STATEMENT_CHARS = 500

SQL_ERRORS = pl.Schema({
    "ts": pl.Datetime("us", "UTC"), "source": pl.String, "line_no": pl.Int64, "ip": pl.String,
    "page": pl.String, "sid": pl.String, "customer_id": pl.Int64, "statement": pl.String,
    "db_error": pl.String, "injected": pl.Boolean, "rule_ids": pl.List(pl.String),
    "techniques": pl.List(pl.String), "tables": pl.List(pl.String), "columns": pl.List(pl.String),
})

TIED_SQL_ERRORS = pl.Schema({
    **SQL_ERRORS,
    "req_source": pl.String, "req_line_no": pl.Int64, "req_ts": pl.Datetime("us", "UTC"),
    "req_target": pl.String, "req_flagged": pl.Boolean, "tie": pl.String, "candidates": pl.Int64,
})


def _match_text(expr: pl.Expr, *, rounds: int = 0) -> pl.Expr:
    """Text as the SQLi rules see it (``rounds`` of percent-decoding), without the backslashes
    quoting adds (``3\\'`` is ``3'``)."""
    return normalise_expr(expr, rounds=rounds).str.replace_all("\\", "", literal=True)


def sql_errors(app_log: pl.LazyFrame | pl.DataFrame) -> pl.DataFrame:
    """The SQL errors of the app logs, each with what the SQLi rules see in it.

    Returns :data:`SQL_ERRORS`: ``ts, source, line_no, ip, page`` (the script that ran the
    query), ``sid`` / ``customer_id`` (the session of a verbose record), ``statement`` (first
    :data:`STATEMENT_CHARS` characters, card-number-shaped digit runs masked), ``db_error``,
    ``injected`` (an SQLi rule fires on the statement), ``rule_ids``, ``techniques``, ``tables``,
    ``columns`` (named by the statement), sorted by ``ts``.
    """
    lf = app_log.lazy().filter(pl.col("event") == "sql_error")
    rules = tuple(r for r in SQLI_RULES if r.id not in QUERY_LOG_EXCLUDED_RULES)
    tables, columns = _targets(pl.col("payload"))
    out = (
        _with_rule_hits(lf.with_columns(payload=_match_text(pl.col("sql"))), "payload", rules)
        .with_columns(tables=tables, columns=columns, injected=pl.col("rule_ids").list.len() > 0)
        .select(
            "ts", "source", "line_no", "ip", pl.col("script").alias("page"), "sid", "customer_id",
            mask_pans_expr(pl.col("sql").str.slice(0, STATEMENT_CHARS)).alias("statement"),
            mask_pans_expr(pl.col("db_error")).alias("db_error"),
            "injected", "rule_ids", "techniques", "tables", "columns",
        )
        .sort("ts", "source", "line_no")
        .collect()
    )
    return out.cast(dict(SQL_ERRORS))


def _page_of(path: pl.Expr) -> pl.Expr:
    """The script a request path runs: a folder request runs its ``index.php``."""
    return pl.when(path.str.ends_with("/")).then(path + "index.php").otherwise(path)


def tie_sql_errors(
    errors: pl.DataFrame,
    app_log: pl.LazyFrame | pl.DataFrame,
    access: pl.LazyFrame | pl.DataFrame,
    sqli: pl.LazyFrame | pl.DataFrame | None = None,
    *,
    delay_seconds: int = ERROR_DELAY_SECONDS,
) -> pl.DataFrame:
    """Each SQL error with the request that caused it, where the evidence decides.

    ``errors`` is :func:`sql_errors`; ``app_log`` gives each error's whole message (placeholders
    included), ``access`` the requests (``ts, source, line_no, client_ip, path, target_raw``),
    ``sqli`` the flagged requests (:func:`forensics.detectors.sqli.detect_sqli`).

    Returns :data:`TIED_SQL_ERRORS`: the error's columns, then ``req_source, req_line_no, req_ts,
    req_target`` (masked) of the chosen request (null when none or undecided), ``req_flagged``
    (the SQLi rules flag it), ``tie`` ("payload in statement", "same IP, page and time", or null)
    and ``candidates`` (requests from that IP to that page in the time allowed).
    """
    empty = pl.DataFrame(schema=TIED_SQL_ERRORS)
    if errors.is_empty():
        return empty
    whole = (
        app_log.lazy().filter(pl.col("event") == "sql_error")
        .select("source", "line_no", _match_text(pl.col("message")).alias("_text"))
    )
    e = errors.lazy().join(whole, on=["source", "line_no"], how="left").with_columns(
        _sec=pl.datetime_ranges(
            pl.col("ts").dt.truncate("1s") - pl.duration(seconds=delay_seconds), pl.col("ts").dt.truncate("1s"),
            interval="1s",
        )
    ).explode("_sec")
    ips = errors.get_column("ip").drop_nulls().unique().to_list()
    req = (
        access.lazy()
        .filter(pl.col("client_ip").is_in(ips))
        .select(
            pl.col("ts").alias("req_ts"), pl.col("source").alias("req_source"), pl.col("line_no").alias("req_line_no"),
            pl.col("client_ip").alias("ip"), _page_of(pl.col("path")).alias("page"),
            pl.col("target_raw").alias("req_target"), pl.col("ts").dt.truncate("1s").alias("_sec"),
        )
    )
    cand = e.join(req, on=["ip", "page", "_sec"], how="inner")
    if sqli is not None:
        flagged = sqli.lazy().select(
            pl.col("source").alias("req_source"), pl.col("line_no").alias("req_line_no"), _flag=pl.lit(True)
        ).unique()
        cand = cand.join(flagged, on=["req_source", "req_line_no"], how="left")
    else:
        cand = cand.with_columns(_flag=pl.lit(None, pl.Boolean))
    # the request's own parameter values, decoded as the rules decode them
    values = (
        pl.col("req_target").str.extract(r"\?(.*)$", 1).fill_null("").str.split("&")
        .list.eval(_match_text(pl.element().str.replace(r"^[^=]*=", ""), rounds=DECODE_ROUNDS))
        .list.eval(pl.element().filter(pl.element().str.len_chars() >= MIN_PAYLOAD_CHARS))
    )
    # row-wise "any value is a substring of the error's text": explode the values, test, regroup
    # (collected once: a join's row order is not fixed, and the index must be the same in both uses)
    keyed = cand.with_columns(_values=values).collect().with_row_index("_cand").lazy()
    hits = (
        keyed.select("_cand", "_text", "_values").explode("_values").drop_nulls("_values")
        .filter(pl.col("_text").str.contains(pl.col("_values"), literal=True))
        .select("_cand").unique().with_columns(_payload=pl.lit(True))
    )
    scored = (
        keyed.join(hits, on="_cand", how="left")
        .with_columns(
            _score=pl.col("_payload").fill_null(False).cast(pl.Int8) * 2 + pl.col("_flag").fill_null(False).cast(pl.Int8),
            _gap=(pl.col("ts") - pl.col("req_ts")).abs(),
        )
        .with_columns(candidates=pl.len().over("source", "line_no").cast(pl.Int64))
    )
    best = scored.filter(
        (pl.col("_score") == pl.col("_score").max().over("source", "line_no"))
    ).filter(pl.col("_gap") == pl.col("_gap").min().over("source", "line_no"))
    decided = (
        best.with_columns(_n=pl.len().over("source", "line_no"))
        .filter(pl.col("_n") == 1)
        .select(
            "source", "line_no", "req_source", "req_line_no", "req_ts",
            mask_pans_expr(pl.col("req_target")).alias("req_target"),
            pl.col("_flag").fill_null(False).alias("req_flagged"),
            pl.when(pl.col("_payload").fill_null(False)).then(pl.lit("payload in statement"))
            .otherwise(pl.lit("same IP, page and time")).alias("tie"),
        )
    )
    counts = scored.group_by("source", "line_no").agg(pl.col("candidates").first())
    out = (
        errors.lazy()
        .join(decided, on=["source", "line_no"], how="left")
        .join(counts, on=["source", "line_no"], how="left")
        .with_columns(pl.col("candidates").fill_null(0))
        .select(list(TIED_SQL_ERRORS.names()))
        .sort("ts", "source", "line_no")
        .collect()
    )
    return out.cast(dict(TIED_SQL_ERRORS))


def sqli_database_side(
    sqli: pl.DataFrame, reach: pl.DataFrame | None, errors: pl.DataFrame | None
) -> pl.DataFrame:
    """Per IP that sent SQL injection, what reached the database.

    ``sqli``: flagged requests; ``reach``: :func:`forensics.detectors.sqli.sqli_query_reach`
    (query-log statements carrying injected text, each tied to the request whose text it
    carries); ``errors``: :func:`tie_sql_errors`.

    Returns ``ip, requests`` (flagged), ``reached_db`` (flagged requests with a statement in the
    query log or an SQL error tied to them), ``statements`` (query-log statements tied to its
    requests), ``sql_errors`` (errors tied to its requests, flagged or not), ``tables``,
    ``columns`` (named by those statements and errors), ``how_tied`` (each way its statements and
    errors were tied, with how many: "query log: injected text found in the statement, same
    second (14)"), sorted by ``ip``. Statements tied to no request are in ``reach`` only.
    """
    schema = {"ip": pl.String, "requests": pl.Int64, "reached_db": pl.Int64, "statements": pl.Int64,
              "sql_errors": pl.Int64, "tables": pl.List(pl.String), "columns": pl.List(pl.String),
              "how_tied": pl.List(pl.String)}
    parts = []
    if reach is not None and not reach.is_empty() and "client_ip" in reach.columns:
        parts.append(reach.filter(pl.col("client_ip").is_not_null()).select(
            pl.col("client_ip").alias("ip"), "req_source", "req_line_no", "tables", "columns",
            _stmt=pl.lit(1, pl.Int64), _err=pl.lit(0, pl.Int64),
            _how=pl.lit("query log: ") + (pl.col("tie") if "tie" in reach.columns else pl.lit("nearest in time"))))
    if errors is not None and not errors.is_empty():
        parts.append(errors.filter(pl.col("req_source").is_not_null()).select(
            "ip", "req_source", "req_line_no", "tables", "columns", _stmt=pl.lit(0, pl.Int64), _err=pl.lit(1, pl.Int64),
            _how=pl.lit("error log: ") + pl.col("tie")))
    flagged = sqli.select(pl.col("client_ip").alias("ip"), pl.col("source").alias("req_source"),
                          pl.col("line_no").alias("req_line_no"))
    per_ip = flagged.group_by("ip").agg(requests=pl.len().cast(pl.Int64))
    if parts:
        db = pl.concat(parts, how="vertical_relaxed")
        reached = (
            db.join(flagged, on=["ip", "req_source", "req_line_no"], how="semi")
            .group_by("ip").agg(reached_db=pl.struct("req_source", "req_line_no").n_unique().cast(pl.Int64))
        )
        how = (
            db.group_by("ip", "_how").agg(_n=pl.len())
            .sort("ip", "_n", "_how", descending=[False, True, False])
            .group_by("ip", maintain_order=True)
            .agg(how_tied=pl.format("{} ({})", "_how", "_n"))
        )
        read = db.group_by("ip").agg(
            statements=pl.col("_stmt").sum(), sql_errors=pl.col("_err").sum(),
            tables=pl.col("tables").list.explode(keep_nulls=False, empty_as_null=False).drop_nulls().unique().sort(),
            columns=pl.col("columns").list.explode(keep_nulls=False, empty_as_null=False).drop_nulls().unique().sort(),
        ).join(how, on="ip", how="left")
        per_ip = per_ip.join(read, on="ip", how="full", coalesce=True).join(reached, on="ip", how="left")
    out = per_ip.with_columns(
        [pl.col(c).fill_null(0) if c in per_ip.columns else pl.lit(0, pl.Int64).alias(c)
         for c in ("requests", "reached_db", "statements", "sql_errors")]
    )
    for c in ("tables", "columns", "how_tied"):
        if c not in out.columns:
            out = out.with_columns(pl.lit([], pl.List(pl.String)).alias(c))
        out = out.with_columns(pl.col(c).fill_null([]))
    return out.select(list(schema)).cast(schema).sort("ip")
