"""Skim files: candidates and layout-agnostic decoding; numbers masked, never returned whole."""

from __future__ import annotations

import base64
import gzip
import json

import polars as pl
import pytest

from forensics import cards
from forensics.detectors import skim

from . import scenario as S
from .frames import server_files, ts


def test_candidates():
    sf = server_files(
        [
            {"path": S.SKIM, "magic_type": "text", "type_mismatch": True},
            {"path": "html/user_data/packages/default/img/logo.gif", "magic_type": "gif"},
            {"path": "html/robots.txt", "magic_type": "text"},
        ]
    )
    out = skim.skim_candidates(sf, ["html/user_data/other.png"])
    assert out["path"].to_list() == ["html/user_data/other.png", S.SKIM]
    assert out["reason"].to_list() == ["written_by_skimmer", "type_mismatch"]


def _records(data: bytes) -> pl.DataFrame:
    return skim.skim_records(pl.DataFrame({"path": ["f.gif"], "content": [data]}), tz="Asia/Tokyo")


P1, P2 = S.pan("4"), S.pan("35")
PLAIN = f"2018-05-05 15:00:00|{P1}|TARO YAMADA|04/21|123\n2018-05-05 16:00:00|{P2}|HANAKO SATO|11/20|456\n".encode()
JSONL = (json.dumps({"t": 1525503600, "card_no": P1, "card_name": "TARO YAMADA", "expire": "0421", "cvv": "123"}) + "\n").encode()


def xor(data: bytes, k: int) -> bytes:
    return bytes(b ^ k for b in data)


@pytest.mark.parametrize(
    "data,encoding",
    [
        pytest.param(PLAIN, "plain", id="plain"),
        pytest.param(base64.b64encode(PLAIN), "base64", id="base64-whole"),
        pytest.param(b"\n".join(base64.b64encode(line) for line in PLAIN.splitlines()), "lines>base64", id="base64-lines"),
        pytest.param(gzip.compress(PLAIN), "gzip", id="gzip"),
        pytest.param(xor(PLAIN, 0x5A), "xor(0x5a)", id="xor"),
        pytest.param(base64.b64encode(xor(PLAIN, 0x77)), "base64>xor(0x77)", id="base64-then-xor"),
        pytest.param(b"GIF89a\x01\x00\x01\x00\x80\x00\x00\n" + b"\n".join(base64.b64encode(xor(l, 0x33)) for l in PLAIN.splitlines()), "lines>base64>xor(0x33)", id="gif-header-lines-b64-xor"),
        pytest.param(base64.b64encode(gzip.compress(PLAIN)), "base64>gzip", id="base64-gzip"),
    ],
)
def test_decodings(data, encoding):
    out = _records(data)
    assert out["card_masked"].to_list() == [cards.mask_pan(P1), cards.mask_pan(P2)]
    assert out["encoding"].unique().to_list() == [encoding]
    assert out["expiry"].to_list() == ["04/21", "11/20"]
    assert out["holder"].to_list() == ["TARO YAMADA", "HANAKO SATO"]
    assert out["entered"].to_list() == [ts("2018-05-05 06:00:00"), ts("2018-05-05 07:00:00")]
    assert out["card_key"].to_list() == [cards.card_key(P1), cards.card_key(P2)]
    assert out["has_security_code"].to_list() == [True, True]


def test_tab_separated_record():
    out = _records(f"2017-04-09 11:20:05\t{P1}\t04/21\t123\tTARO YAMADA\n".encode())
    r = out.row(0, named=True)
    assert (r["expiry"], r["holder"], r["has_security_code"]) == ("04/21", "TARO YAMADA", True)
    assert r["entered"] == ts("2017-04-09 02:20:05")


def test_labelled_json_record():
    out = _records(JSONL)
    r = out.row(0, named=True)
    assert (r["expiry"], r["holder"], r["has_security_code"]) == ("04/21", "TARO YAMADA", True)
    assert r["entered"] == ts("2018-05-05 07:00:00")


def test_no_full_number_or_code_in_output():
    out = _records(JSONL + PLAIN)
    text = repr(out.to_dicts()) + str(out)
    for secret in (P1, P2):
        assert secret not in text
    assert cards.scan_text_for_card_data(text) == []


def test_real_image_gives_nothing():
    assert _records(b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,").is_empty()
    assert skim.skim_records(None).schema == skim.SKIM_RECORD_SCHEMA
