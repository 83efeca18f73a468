"""The database exports and the query log's INSERTs carry EC-CUBE 2.13.5's real columns, in order."""

from __future__ import annotations

import csv
import gzip
import re

import pytest

from forensics.sample import schema as S


def test_create_table_statements_parse():
    assert len(S.columns("dtb_customer")) == 41
    assert len(S.columns("dtb_order")) == 57
    assert S.columns("dtb_customer")[-2:] == ["mobile_phone_id", "mailmaga_flg"]
    assert S.columns("dtb_order")[-1] == "memo10"
    for table, sql in S.CREATE_TABLE.items():
        assert sql.startswith(f"CREATE TABLE {table} (\n")
        assert "PRIMARY KEY" not in S.columns(table) and len(set(S.columns(table))) == len(S.columns(table))


@pytest.mark.parametrize("table", sorted(S.CREATE_TABLE))
def test_export_header_is_the_real_column_list(generated_case, table):
    with (generated_case / "db" / f"{table}.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == S.columns(table)
    assert len(rows) > 1 and all(len(r) == len(rows[0]) for r in rows)


def test_query_log_inserts_use_the_real_columns(generated_case):
    seen = set()
    rx = re.compile(r"INSERT INTO (dtb_customer|dtb_order|dtb_order_detail) \(([^)]*)\) VALUES")
    for path in sorted((generated_case / "logs/mysql").iterdir()):
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        for m in rx.finditer(raw.decode("utf-8", "surrogateescape")):
            assert m.group(2).split(", ") == S.columns(m.group(1)), m.group(1)
            seen.add(m.group(1))
    assert seen == {"dtb_customer", "dtb_order", "dtb_order_detail"}
