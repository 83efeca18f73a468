"""Database-export loader: UTF-8 / CP932, typed columns, case-zone dates, record accounting."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from forensics.loaders.db_export import read_db_export, read_db_exports, scan_db_exports

UTC = dt.timezone.utc
CSV = ("customer_id,name01,tel01,zip01,email,point,create_date,del_flg\n"
       "1,東,090,100,a@example.com,10,2017-04-01 09:00:00,0\n"
       '2,"商, マート",03,0012,b@example.com,,2017/04/02 10:30:00,1\n')


@pytest.mark.parametrize("encoding, declared", [
    pytest.param("utf-8", "utf-8", id="utf8"),
    pytest.param("utf-8", "auto", id="utf8-auto"),
    pytest.param("utf-8-sig", "auto", id="utf8-bom"),
    pytest.param("cp932", "cp932", id="cp932"),
    pytest.param("cp932", "auto", id="cp932-auto"),
    pytest.param("cp932", "shift_jis", id="shift-jis-alias"),
])
def test_encodings_and_types(write, encoding, declared):
    path = write("dtb_customer.csv", CSV.encode(encoding))
    loaded = read_db_export(path, case_root=path.parent, encoding=declared, timezone="Asia/Tokyo")
    df = loaded.records
    assert loaded.rejects.height == 0
    assert df.columns[:2] == ["source", "line_no"] and df["line_no"].to_list() == [2, 3]
    assert df["name01"].to_list() == ["東", "商, マート"]
    assert df.schema["customer_id"] == pl.Int64 and df.schema["point"] == pl.Int64
    assert df.schema["tel01"] == pl.String and df.schema["zip01"] == pl.String  # leading zeros kept
    assert df["create_date"].to_list() == [dt.datetime(2017, 4, 1, 0, 0, tzinfo=UTC), dt.datetime(2017, 4, 2, 1, 30, tzinfo=UTC)]
    assert df["point"].to_list() == [10, None]


def test_multiline_field_and_line_numbers(write):
    text = 'order_id,note\n1,"line one\nline two"\n2,x\n\n3,y\n'
    loaded = read_db_export(write("dtb_order.csv", text), encoding="utf-8")
    assert loaded.records["line_no"].to_list() == [2, 4, 6]
    assert loaded.records["note"][0] == "line one\nline two"


@pytest.mark.parametrize(
    "bad, reason",
    [
        pytest.param(b"3,too,many,fields", "fields where the header has", id="ragged-long"),
        pytest.param(b"3", "fields where the header has", id="ragged-short"),
        pytest.param(b"3,\xff\xfe", "not valid utf-8", id="invalid-utf8"),
        pytest.param(b"3,a\x00b", None, id="nul-byte-kept"),
    ],
)
def test_rejects(write, bad, reason):
    data = b"order_id,note\n1,a\n" + bad + b"\n2,b\n"
    loaded = read_db_export(write("dtb_order.csv", data), encoding="utf-8")
    c = loaded.counts.row(0, named=True)
    assert c["records"] + c["rejected"] == 3
    if reason:
        assert loaded.rejects["line_no"].to_list() == [3] and reason in loaded.rejects["reason"][0]
        assert loaded.records["order_id"].to_list() == [1, 2]


def test_all_tables(write, tmp_path):
    a = write("db/dtb_customer.csv", "customer_id\n1\n")
    b = write("db/dtb_payment.csv", "payment_id,payment_method\n5,クレジットカード\n")
    tables = scan_db_exports([a, b], case_root=tmp_path, encoding="utf-8")
    assert sorted(tables) == ["dtb_customer", "dtb_payment"]
    assert tables["dtb_payment"].collect()["source"].to_list() == ["db/dtb_payment.csv"]
    assert set(read_db_exports([a], encoding="auto")) == {"dtb_customer"}


def test_symlinked_export_not_followed(write, tmp_path):
    import os

    target = write("outside/x.csv", "a\n1\n")
    os.symlink(target, tmp_path / "dtb_customer.csv")
    loaded = read_db_export(tmp_path / "dtb_customer.csv", case_root=tmp_path)
    assert loaded.records.height == 0 and "symlink" in loaded.rejects["reason"][0]


def test_a_field_larger_than_128_kib_is_one_field(tmp_path):
    from forensics.loaders.db_export import read_db_export

    big = "x" * (200 * 1024) + "\nline,2,3"  # a long note with a newline and commas inside quotes
    (tmp_path / "dtb_customer.csv").write_text(
        f'customer_id,note,email\n1,"{big}",a@example.jp\n2,short,b@example.jp\n', encoding="utf-8")
    res = read_db_export(tmp_path / "dtb_customer.csv", case_root=tmp_path)
    assert res.records["customer_id"].cast(str).to_list() == ["1", "2"] and res.rejects.height == 0
    assert res.counts["records"].to_list() == [2]
