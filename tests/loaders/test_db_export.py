"""Database-export loader: UTF-8 / CP932, typed columns, case-zone dates, record accounting, and the
shop's admin CSV downloads recognised by their header labels."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from forensics.loaders.db_export import file_formats, read_db_export, read_db_exports, recognise_header, scan_db_exports

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


def test_a_column_no_row_fills_is_a_text_column_of_nulls(write):
    text = "order_id,fax01,note,update_date\n1,,,\n2,,x,\n3,,,\n"
    df = read_db_export(write("dtb_order.csv", text), encoding="utf-8").records
    assert df.schema["fax01"] == pl.String and df["fax01"].to_list() == [None, None, None]
    assert df["note"].to_list() == [None, "x", None]
    assert df.schema["update_date"] == pl.Datetime("us", "UTC") and df["update_date"].null_count() == 3
    # filters and joins see it as any other column of nulls
    assert df.filter(pl.col("fax01").is_null()).height == 3 and df.filter(pl.col("note") == "x")["fax01"].to_list() == [None]


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


# --- the shop's admin CSV downloads ------------------------------------------------------------
# Labels below are copied from EC-CUBE 2.13.5's dtb_csv rows (html/install/sql/insert_data.sql).

def php_csv(rows: list[list]) -> bytes:
    """Rows as EC-CUBE writes a CSV download (SC_Helper_CSV): PHP ``fputcsv`` quoting (a field with
    a comma, quote, backslash, space, tab or line break is quoted, ``"`` doubled), CRLF at the end of
    each record (a line break inside a field stays LF), CP932."""
    def field(v) -> str:
        v = "" if v is None else str(v)
        return '"' + v.replace('"', '""') + '"' if re.search(r'[,"\\\s]', v) else v

    return "".join(",".join(field(v) for v in r) + "\r\n" for r in rows).encode("cp932")


CUSTOMER_LABELS = ["E-MAIL", "会員ID", "登録日", "お名前(姓)", "お名前(名)", "都道府県", "住所1", "TEL1", "備考",
                   "更新日", "最終購入日"]
CUSTOMER_ROWS = [
    ["taro@example.jp", 7, "2017-04-01 09:00:00", "東商", "太郎", "東京都", "中央区日本橋1-2-3, 東洋ビル", "03",
     'line one\nline "two"', "2017-04-02 10:30:00", ""],
    ["ＨＡＮＡＫＯ@example.jp", 12, "2017-03-05 23:59:59", "髙橋", "ﾊﾅｺ①", "大阪府", "北区", "06", "", "2017-03-05 23:59:59",
     "2017-03-20 12:00:00"],
]


def test_customer_download_is_loaded_as_dtb_customer(write):
    path = write("db/customer_170410_130501.csv", php_csv([CUSTOMER_LABELS, *CUSTOMER_ROWS, [1, 2, 3]]))
    loaded = read_db_exports([path], case_root=path.parent.parent, timezone="Asia/Tokyo")["dtb_customer"]
    df = loaded.records
    assert df.columns == ["source", "line_no", "email", "customer_id", "create_date", "name01", "name02", "pref_name",
                          "addr01", "tel01", "note", "update_date", "last_buy_date", "del_flg"]
    assert df["del_flg"].to_list() == [0, 0]  # the member list's CSV selects live members only (del_flg = 0)
    assert df["source"].to_list() == ["db/customer_170410_130501.csv"] * 2
    assert df["line_no"].to_list() == [2, 4]  # the first record's note spans two lines
    assert df["customer_id"].to_list() == [7, 12] and df.schema["tel01"] == pl.String
    assert df["name01"].to_list() == ["東商", "髙橋"] and df["name02"][1] == "ﾊﾅｺ①"  # CP932, not plain Shift_JIS
    assert df["addr01"][0] == "中央区日本橋1-2-3, 東洋ビル" and df["note"][0] == 'line one\nline "two"'
    assert df["create_date"].to_list() == [dt.datetime(2017, 4, 1, 0, 0, tzinfo=UTC),
                                           dt.datetime(2017, 3, 5, 14, 59, 59, tzinfo=UTC)]
    assert df["last_buy_date"].to_list() == [None, dt.datetime(2017, 3, 20, 3, 0, tzinfo=UTC)]
    assert df["pref_name"].to_list() == ["東京都", "大阪府"]  # the prefecture's name, not dtb_customer.pref (its id)
    c = loaded.counts.row(0, named=True)
    assert (c["records"], c["rejected"]) == (2, 1) and c["records"] + c["rejected"] == 3
    assert "3 fields where the header has 11" in loaded.rejects["reason"][0]


def test_order_download_is_loaded_as_dtb_order(write):
    labels = ["注文日時", "注文番号", "会員ID", "メールアドレス", "お名前(姓)", "お名前(名)", "お名前(フリガナ名)",
              "支払い方法", "対応状況", "都道府県", "要望等", "お支払い合計", "発送完了日時"]
    rows = [["2017-04-08 21:20:05", 1001, 0, "guest@example.jp", "佐藤", "一郎", "イチロウ", "クレジットカード決済", 1,
             "北海道", "不在時は\r\n宅配ボックスへ, お願いします", 3240, ""],
            ["2017-04-09 08:00:00", 1002, 7, "taro@example.jp", "東商", "太郎", "タロウ", "代金引換", 5, "東京都", "",
             5400, "2017-04-09 15:00:00"]]
    path = write("downloads/order_170410_130733.csv", php_csv([labels, *rows]))
    tables = read_db_exports([path], case_root=path.parent, encoding="cp932", timezone="Asia/Tokyo")
    assert list(tables) == ["dtb_order"]
    loaded = tables["dtb_order"]
    df = loaded.records
    assert df.columns[2:] == ["create_date", "order_id", "customer_id", "order_email", "order_name01", "order_name02",
                              "order_kana02", "payment_method", "status", "order_pref_name", "message",
                              "payment_total", "commit_date", "del_flg"]
    assert df["order_id"].to_list() == [1001, 1002] and df["status"].to_list() == [1, 5]
    assert df["create_date"][0] == dt.datetime(2017, 4, 8, 12, 20, 5, tzinfo=UTC)
    assert df["commit_date"].to_list() == [None, dt.datetime(2017, 4, 9, 6, 0, tzinfo=UTC)]
    assert df["message"][0] == "不在時は\r\n宅配ボックスへ, お願いします"
    assert loaded.rejects.height == 0 and loaded.counts["records"].to_list() == [2]
    assert file_formats([path]) == {path: "eccube_admin_csv (csv_id 3: dtb_order)"}


@pytest.mark.parametrize("labels, table, note", [
    pytest.param(["会員ID", "お名前(姓)", "お名前(名)"], None, "csv_id 2 and csv_id 3 score alike", id="tie-member-order"),
    pytest.param(["会員ID", "E-MAIL", "x1", "x2", "x3"], None, "2 of 5 header names are labels of csv_id 2",
                 id="too-few-known"),
    pytest.param(["E-MAIL", "memo"], None, "", id="one-label-is-no-evidence"),
    pytest.param(["会員ID", "お名前(姓)", "E-MAIL", "登録日", "plugin_column"], "dtb_customer", "", id="most-known"),
    pytest.param(["会員ID", "お名前(姓)", "E-MAIL", "plugin_column"], None, "3 of 4 header names", id="too-many-unknown"),
    pytest.param(["注文番号", "会員ID", "お名前(姓)", "電話番号1"], "dtb_order", "", id="shared-labels-outvoted"),
    pytest.param(["注文番号", "会員ID", "お名前(姓)", "ＴＥＬ１"], None, "score alike", id="member-and-order-labels-tie"),
    pytest.param(["ｅ-ｍａｉｌ", " 会員ID ", "登録日"], "dtb_customer", "", id="full-width-and-spaces"),
])
def test_recognition_weighs_every_download(labels, table, note):
    m = recognise_header(labels)
    assert m.table == table and note in m.note
    if table is None:
        assert m.columns == tuple(labels) and m.describe().startswith("table_dump")


def test_unrecognised_header_keeps_the_file_name_and_says_why(write, tmp_path):
    path = write("db/customer_170410_130501.csv", php_csv([["会員ID", "お名前(姓)"], [7, "東商"]]))
    tables = read_db_exports([path], case_root=tmp_path)
    assert list(tables) == ["customer_170410_130501"] and tables["customer_170410_130501"].records.columns[2:] == [
        "会員ID", "お名前(姓)"]
    assert file_formats([path])[path] == "table_dump (csv_id 2 and csv_id 3 score alike (1 each))"


def test_table_dump_loads_as_before_beside_a_download_of_its_table(write, tmp_path):
    dump = write("db/dtb_customer.csv", CSV.encode("utf-8"))
    old = write("db/customer_170401_090000.csv", php_csv([CUSTOMER_LABELS, CUSTOMER_ROWS[1]]))
    new = write("db/customer_170410_130501.csv", php_csv([CUSTOMER_LABELS, *CUSTOMER_ROWS]))
    tables = read_db_exports([new, old, dump], case_root=tmp_path, timezone="Asia/Tokyo")
    assert sorted(tables) == ["customer_170401_090000", "customer_170410_130501", "dtb_customer"]
    assert_frame_equal(tables["dtb_customer"].records,
                       read_db_export(dump, case_root=tmp_path, timezone="Asia/Tokyo").records)
    assert tables["dtb_customer"].records.columns[2:] == CSV.splitlines()[0].split(",")
    assert file_formats([dump])[dump] == "table_dump"
    # without the dump, the newest download (last in EC-CUBE's name order) is the table
    tables = read_db_exports([new, old], case_root=tmp_path, timezone="Asia/Tokyo")
    assert sorted(tables) == ["customer_170401_090000", "dtb_customer"]
    assert tables["dtb_customer"].records["source"][0] == "db/customer_170410_130501.csv"


def test_mapping_holds_every_dtb_csv_row_of_the_source():
    from collections import Counter

    from forensics.platforms.eccube2_csv import ADMIN_CSV_COLUMNS, ADMIN_CSV_OUTPUTS

    assert Counter(c.csv_id for c in ADMIN_CSV_COLUMNS) == {1: 71, 2: 30, 3: 43, 4: 9, 5: 6}
    assert [c.no for c in ADMIN_CSV_COLUMNS] == list(range(1, 160))
    assert {i: o.table for i, o in ADMIN_CSV_OUTPUTS.items()} == {
        1: "dtb_products", 2: "dtb_customer", 3: "dtb_order", 4: "dtb_review", 5: "dtb_category"}
    by = {(c.csv_id, c.disp_name): c for c in ADMIN_CSV_COLUMNS}
    assert (by[2, "E-MAIL"].name, by[2, "登録日"].name, by[3, "注文番号"].name) == ("email", "create_date", "order_id")
    assert by[2, "都道府県"].derived and by[2, "都道府県"].col.endswith(" as pref")
    assert by[4, "投稿日"].name == "create_date" and not by[4, "投稿日"].derived
    assert {c.status for c in ADMIN_CSV_COLUMNS if c.csv_id == 2 and c.disp_name in ("ZIP CODE", "国")} == {0}
    for csv_id in ADMIN_CSV_OUTPUTS:  # labels and loaded names are unique within each download
        cols = [c for c in ADMIN_CSV_COLUMNS if c.csv_id == csv_id]
        assert len({c.disp_name for c in cols}) == len({c.name for c in cols}) == len(cols)


# --- the counting code on admin CSV downloads of the sample case's rows ---------------------------

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "toshomart-2017"


def _read_dump(dump: Path) -> tuple[list[str], list[list[str]]]:
    with dump.open(encoding="utf-8", newline="") as f:
        header, *body = [r for r in csv.reader(f) if r]
    return header, body


def live_rows(dump: Path) -> bytes:
    """The dump without its deleted rows (``del_flg`` 1): the rows an admin CSV download holds."""
    header, body = _read_dump(dump)
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\n").writerows([header, *(r for r in body if r[header.index("del_flg")] == "0")])
    return out.getvalue().encode("utf-8")


def admin_csv_of_dump(dump: Path, csv_id: int) -> bytes:
    """What the member or order list's CSV download of a dump's table holds: its live rows (the
    page selects ``del_flg = 0``), every column the download writes by default (status 1) that the
    dump has, in reverse rank order; the lookups (prefecture name...) left out, as a shop may
    switch them off."""
    from forensics.platforms.eccube2_csv import ADMIN_CSV_COLUMNS

    header, body = _read_dump(dump)
    cols = [c for c in ADMIN_CSV_COLUMNS if c.csv_id == csv_id and c.status == 1 and not c.derived and c.name in header]
    idx = [header.index(c.name) for c in reversed(cols)]
    live = (r for r in body if r[header.index("del_flg")] == "0")
    return php_csv([[c.disp_name for c in reversed(cols)], *([r[i] for i in idx] for r in live)])


@pytest.fixture(scope="module")
def sample_cases(tmp_path_factory) -> dict[str, Path]:
    """case.yml of three copies of the sample case: as shipped ("dumps"); with dtb_customer.csv and
    dtb_order.csv cut to their live rows ("live_dumps"); with those two replaced by the admin CSV
    downloads of the same rows ("downloads"). Each also without its query log ("<kind>_noql")."""
    import shutil

    src = SAMPLE
    if not (src / "case.yml").is_file():
        from forensics.sample import write_sample_case

        src = write_sample_case(tmp_path_factory.mktemp("sample") / "toshomart-2017")
    out = {}
    for kind in ("dumps", "live_dumps", "downloads"):
        root = tmp_path_factory.mktemp(kind) / "case"
        shutil.copytree(src, root)
        for table, csv_id, name in (("dtb_customer", 2, "customer_170415_090000.csv"),
                                    ("dtb_order", 3, "order_170415_090010.csv")):
            dump = root / "db" / f"{table}.csv"
            if kind == "live_dumps":
                dump.write_bytes(live_rows(dump))
            elif kind == "downloads":
                (root / "db" / name).write_bytes(admin_csv_of_dump(dump, csv_id))
                dump.unlink()
        yml = (root / "case.yml").read_text(encoding="utf-8")
        yml = re.sub(r"encoding: [\w-]+", "encoding: auto", yml)  # the downloads are CP932, the rest UTF-8
        (root / "case.yml").write_text(yml, encoding="utf-8")
        (root / "noql.yml").write_text(re.sub(r"(?m)^\s*query_logs:.*\n", "", yml), encoding="utf-8")
        out[kind], out[f"{kind}_noql"] = root / "case.yml", root / "noql.yml"
    return out


def _investigate(yml: Path):
    from forensics.case import open_case
    from forensics.findings import findings_dict, investigate

    inv = investigate(open_case(yml))
    return inv, findings_dict(inv)["counts"]


CARD_COUNTS = ("cards_confirmed_customer", "cards_confirmed_test", "cards_possible_customer", "cards_possible_test",
               "cards_total")


def test_sample_downloads_load_as_the_tables(sample_cases):
    from forensics.case import open_case

    case = open_case(sample_cases["downloads"])
    names = {p.name for p in case.evidence["db"]}
    assert {"customer_170415_090000.csv", "order_170415_090010.csv"} <= names and "dtb_customer.csv" not in names
    live = open_case(sample_cases["live_dumps"]).db_tables()
    tables = case.db_tables()
    assert sorted(tables) == sorted(live)
    for t in ("dtb_customer", "dtb_order"):
        got, want = tables[t].collect(), live[t].collect()
        assert set(got.columns) < set(want.columns) and (got["del_flg"] == 0).all()  # del_flg: the page's WHERE
        assert_frame_equal(got.drop("source", "line_no"), want.select(got.columns).drop("source", "line_no"))
    counts = case.record_counts().filter(pl.col("evidence") == "db")
    assert (counts["rejected"] == 0).all()
    assert file_formats(case.evidence["db"])[case.root / "db" / "order_170415_090010.csv"] == \
        "eccube_admin_csv (csv_id 3: dtb_order)"


def test_sample_counts_are_the_same_on_downloads_of_the_same_rows(sample_cases):
    """Without the query log (the bound: every person the attacker's pages could show) the tables
    are all that counts: downloads of the same rows give the same persons and card entries."""
    inv_d, dumps = _investigate(sample_cases["live_dumps_noql"])
    inv_a, admin = _investigate(sample_cases["downloads_noql"])
    assert dumps["viewed_persons"] is None and dumps["viewed_persons_upper"] > 0 and dumps["cards_total"] == 13
    keys = ("viewed_persons", "viewed_persons_upper", *CARD_COUNTS)
    assert {k: admin.get(k) for k in keys} == {k: dumps.get(k) for k in keys}
    assert inv_a.viewed.upper["person_key"].to_list() == inv_d.viewed.upper["person_key"].to_list()


def test_sample_counts_with_query_log_on_downloads(sample_cases):
    """The downloads lack columns some pages' SELECTs read (``order_pref``...): those requests
    cannot be replayed, so the viewed count becomes a bound; the persons the replay does find are
    among the 55 the shipped dumps give, and the bound holds all 55. The card counts need no
    replay and stay the same."""
    inv_d, dumps = _investigate(sample_cases["dumps"])
    inv_a, admin = _investigate(sample_cases["downloads"])
    assert {k: admin[k] for k in CARD_COUNTS} == {k: dumps[k] for k in CARD_COUNTS}
    assert dumps["viewed_persons"] == 55
    assert admin["viewed_persons"] is None and admin["viewed_mode"] == "partial"
    assert "could not be replayed" in admin["viewed_persons_reason"]
    found, bound = set(inv_a.viewed.persons["person_key"]), set(inv_a.viewed.upper["person_key"])
    assert found and found <= set(inv_d.viewed.persons["person_key"]) <= bound


def test_header_names_that_polars_reads_as_patterns_or_provenance_are_columns_of_their_own(tmp_path):
    p = tmp_path / "dtb_x.csv"
    p.write_text("*,^a.*$,source,line_no,b_date\n1,x,y,5,2017-04-01 09:00:00\n,,z,,\n", encoding="utf-8")
    loaded = read_db_export(p, case_root=tmp_path, encoding="utf-8", timezone="Asia/Tokyo")
    assert loaded.rejects.height == 0
    assert loaded.records.columns == ["source", "line_no", "*", "^a.*$", "source_3", "line_no_4", "b_date"]
    assert loaded.records["source"].to_list() == ["dtb_x.csv"] * 2 and loaded.records["line_no"].to_list() == [2, 3]
    assert loaded.records["*"].to_list() == [1, None]  # typed as integers, empty is null
    assert loaded.records["^a.*$"].to_list() == ["x", None]
    assert loaded.records["b_date"].to_list() == [dt.datetime(2017, 4, 1, 0, 0, tzinfo=UTC), None]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet='ab,"\r\n\udc80あ', max_size=40))
def test_lines_split_as_a_file_opened_without_newline_translation(text):
    from forensics.loaders.db_export import _lines

    assert list(_lines(text)) == io.StringIO(text, newline="").readlines()
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    old = csv.reader(io.StringIO(text, newline=""), strict=False)
    new = csv.reader(_lines(text), strict=False)
    assert _records(old) == _records(new)


def _records(reader) -> list:
    out = []
    while True:
        try:
            out.append(("row", next(reader), reader.line_num))
        except StopIteration:
            return out
        except csv.Error as exc:
            out.append(("error", str(exc), reader.line_num))
