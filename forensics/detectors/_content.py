"""Shared helpers: file contents as text, server-relative paths, indicator rules on content."""

from __future__ import annotations

import polars as pl


def with_text(contents: pl.DataFrame | None, *, column: str = "content") -> pl.DataFrame:
    """``contents`` ({path, content: Binary|String}) with a ``text`` String column.

    Binary content is decoded UTF-8 with each invalid byte as ``\\xNN`` (as file names show it,
    :func:`forensics.evidence.safe_name`: a skim path named in the code with a raw byte still
    matches the file), one Python call per *file* (the handful of candidate files, never per
    log row). ``None`` gives an empty frame.
    """
    if contents is None or contents.is_empty():
        return pl.DataFrame(schema={"path": pl.String, "text": pl.String})
    col = contents[column]
    if col.dtype == pl.Binary:
        text = pl.Series("text", [None if b is None else bytes(b).decode("utf-8", "backslashreplace") for b in col],
                         pl.String)
    else:
        text = col.cast(pl.String).alias("text")
    return contents.select("path").with_columns(text)


def indicator_list(text: pl.Expr, rules) -> pl.Expr:
    """List of rule ids (``rules``: (id, regex, comment)) whose regex matches ``text``."""
    return pl.concat_list(
        [pl.when(text.str.contains(rx)).then(pl.lit(rid)).otherwise(pl.lit(None, pl.String)) for rid, rx, _c in rules]
    ).list.drop_nulls()
