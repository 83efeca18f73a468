import polars as pl
from polars.testing import assert_frame_equal

from forensics.frames import detached


def _text_bytes(series: pl.Series) -> int:
    """Bytes of the buffers behind a string column (views and the text they point into)."""
    arrow = series.to_arrow(compat_level=pl.CompatLevel.newest())
    chunks = arrow.chunks if hasattr(arrow, "chunks") else [arrow]
    return sum(b.size for c in chunks for b in c.buffers() if b is not None)


def _table(n: int = 50_000) -> pl.DataFrame:
    return pl.DataFrame({
        "argument": [f"SELECT * FROM dtb_customer WHERE customer_id = {i} /* {'x' * 80} */" for i in range(n)],
        "conn_id": list(range(n)),
        "source": ["logs/mysql/general.log-20170319.gz"] * n,
    })


def test_a_cut_keeps_the_whole_text_and_detached_keeps_only_its_rows():
    table = _table()
    cut = table[[0, 17, 49_999]]
    assert _text_bytes(cut["argument"]) > 1_000_000  # the cut still holds the table's text
    alone = detached(cut)
    assert _text_bytes(alone["argument"]) < 2_000
    assert _text_bytes(alone["source"]) < 2_000
    assert_frame_equal(alone, cut)


def test_nulls_empty_strings_and_frames_without_strings_are_kept_as_they_are():
    frame = pl.DataFrame({"s": ["a", None, "", "long enough to need a buffer of its own"], "n": [1, 2, 3, 4]})
    assert_frame_equal(detached(frame), frame)
    numbers = pl.DataFrame({"n": [1, 2]})
    assert detached(numbers) is numbers


def test_a_lazy_frame_gets_the_copy_in_its_query(tmp_path):
    _table().write_parquet(tmp_path / "log.parquet")
    # rows picked by their place in the scan (as the query-log replay picks them)
    scan = pl.scan_parquet(tmp_path / "log.parquet").with_row_index("_row").filter(pl.col("_row") % 10_000 == 0)
    assert _text_bytes(scan.collect(engine="streaming")["argument"]) > 1_000_000
    lazy = detached(scan)
    assert isinstance(lazy, pl.LazyFrame)
    got = lazy.collect(engine="streaming")
    assert_frame_equal(got, scan.collect(engine="streaming"))
    assert _text_bytes(got["argument"]) < 2_000
