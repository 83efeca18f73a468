"""Shared helpers: file contents as text, server-relative paths, indicator rules on content."""

from __future__ import annotations

import polars as pl


def with_text(contents: pl.DataFrame | None, *, column: str = "content") -> pl.DataFrame:
    """``contents`` ({path, content: Binary|String}) with a ``text`` String column.

    Binary content is decoded UTF-8 with invalid bytes replaced (one Python call per *file*, the
    handful of candidate files, never per log row). ``None`` gives an empty frame.
    """
    if contents is None or contents.is_empty():
        return pl.DataFrame(schema={"path": pl.String, "text": pl.String})
    col = contents[column]
    if col.dtype == pl.Binary:
        text = pl.Series("text", [None if b is None else bytes(b).decode("utf-8", "replace") for b in col], pl.String)
    else:
        text = col.cast(pl.String).alias("text")
    return contents.select("path").with_columns(text)


def indicator_list(text: pl.Expr, rules) -> pl.Expr:
    """List of rule ids (``rules``: (id, regex, comment)) whose regex matches ``text``."""
    return pl.concat_list(
        [pl.when(text.str.contains(rx)).then(pl.lit(rid)).otherwise(pl.lit(None, pl.String)) for rid, rx, _c in rules]
    ).list.drop_nulls()


def server_path_expr(name: pl.Expr) -> pl.Expr:
    """Path relative to the case's ``server/`` folder from an absolute file-system name.

    The server copy holds the document root ``html/`` and ``data/``: the path from the last
    ``/html/`` or ``/data/`` segment on (``/var/www/shop/html/user_data/x.php`` ->
    ``html/user_data/x.php``); null when neither is in the name.
    """
    return (
        pl.when(name.str.contains(r"(?:^|/)html/"))
        .then(name.str.extract(r"(?:^|/)(html/.*)$", 1))
        .otherwise(name.str.extract(r"(?:^|/)(data/.*)$", 1))
    )


def url_path_expr(server_path: pl.Expr) -> pl.Expr:
    """URL path of a server path under the document root (``html/`` maps to ``/``); else null."""
    return pl.when(server_path.str.starts_with("html/")).then(
        pl.lit("/") + server_path.str.strip_prefix("html/")
    ).otherwise(pl.lit(None, pl.String))
