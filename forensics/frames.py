"""Frames cut out of large tables, made to stand on their own.

Polars keeps a string column as views into the buffers its text was read or built into. A filter,
gather or slice keeps the views, so a few rows cut out of a large table keep the whole table's
text alive: at ``forensics sample --scale 100``, the half a million statements the query-log replay
reads in full, filtered out of a scan of 19 million, held 1.3 GB of the log's text. A step that
keeps such a cut for long gives it to :func:`detached` first; a cut collected from a scan is
detached in the query itself, so each piece the scan reads is let go as soon as it is filtered.
"""

from __future__ import annotations

from typing import TypeVar

import polars as pl

Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)

__all__ = ["detached"]


def detached(frame: Frame) -> Frame:
    """``frame`` with its string columns copied into buffers of their own (the same values,
    schema and row order), so the buffers they were cut from can be freed. A LazyFrame gets the
    copy as a step of its query (put it after the filter: only the rows kept are copied).

    Examples
    --------
    >>> big = pl.DataFrame({"text": [f"{i:06d} " + "x" * 100 for i in range(10_000)]})
    >>> detached(big[[0, 5_000]])["text"].str.slice(0, 6).to_list()
    ['000000', '005000']
    """
    schema = frame.collect_schema() if isinstance(frame, pl.LazyFrame) else frame.schema
    strings = [name for name, dtype in schema.items() if dtype == pl.String]
    if not strings:
        return frame
    # concatenation writes every value anew: the copy holds only the rows' own text
    return frame.with_columns(pl.col(name) + pl.lit("") for name in strings)
