"""Skim files in any layer order: every record's fields come back intact.

Records are written the ways a skimmer writes them (delimited, labelled key=value, JSON; one or
many records per line) and then encoded by a random stack of up to three layers (base64, hex,
gzip, XOR with a one-byte key, reversed), either the whole file or line by line. URL-encoding,
UTF-16 and longer XOR keys are checked on their own and under base64.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import json
import urllib.parse

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forensics import cards
from forensics.detectors import skim

UTC = dt.timezone.utc
JST = dt.timezone(dt.timedelta(hours=9))
NAMES = ["TARO", "HANAKO", "KEN", "YUMI", "SATO", "SUZUKI", "TANAKA", "ITO"]


def _pan(prefix: str, length: int, body: int) -> str:
    digits = (prefix + str(body).zfill(length))[: length - 1]
    return digits + cards.luhn_check_digit(digits)


@st.composite
def records(draw):
    n = draw(st.integers(1, 5))
    out = []
    t = dt.datetime(2017, 4, 9, 11, 0, 0)
    for _ in range(n):
        brand = draw(st.sampled_from([("4", 16), ("51", 16), ("37", 15), ("35", 16), ("62", 19)]))
        t += dt.timedelta(minutes=draw(st.integers(1, 5000)))  # a skimmer appends: entered in order
        out.append({
            "pan": _pan(*brand, draw(st.integers(10**6, 10**12))),
            "exp": f"{draw(st.integers(1, 12)):02d}/{draw(st.integers(18, 29))}",
            "cvv": str(draw(st.integers(100, 9999)) if draw(st.booleans()) else draw(st.integers(100, 999))),
            "holder": f"{draw(st.sampled_from(NAMES))} {draw(st.sampled_from(NAMES))}",
            "time": t,
        })
    return out


def _render(recs, layout, order, sep, per_line) -> list[str]:
    def one(r):
        vals = {"time": r["time"].strftime("%Y-%m-%d %H:%M:%S"), "pan": r["pan"], "exp": r["exp"], "cvv": r["cvv"],
                "holder": r["holder"]}
        if layout == "delimited":
            return sep.join(vals[k] for k in order)
        if layout == "labelled":
            names = {"time": "time", "pan": "card_no", "exp": "expire", "cvv": "cvv", "holder": "card_name"}
            return "&".join(f"{names[k]}={vals[k]}" for k in order)
        names = {"time": "created", "pan": "number", "exp": "expiry", "cvv": "security_code", "holder": "holder"}
        return json.dumps({names[k]: vals[k] for k in order})
    lines = [one(r) for r in recs]
    return lines if per_line else [" ;; ".join(lines)]


def _xor(data: bytes, key: bytes) -> bytes:
    return bytes(b ^ key[i % len(key)] for i, b in enumerate(data))


ENCODERS = {
    "base64": base64.b64encode,
    "hex": lambda b: b.hex().encode(),
    "url": lambda b: urllib.parse.quote_from_bytes(b, safe="").encode(),
    "gzip": lambda b: gzip.compress(b, mtime=0),
    "reverse": lambda b: b[::-1],
}
TEXT_SAFE = {"base64", "hex"}  # output that can stand on a line of its own


@st.composite
def stacks(draw):
    names = draw(st.lists(st.sampled_from(["base64", "hex", "gzip", "xor1", "reverse"]), max_size=3, unique=True))
    keys = {n: bytes(draw(st.integers(1, 255)) for _ in range(int(n[-1]))) for n in names if n.startswith("xor")}
    return names, keys


def _encode(data: bytes, stack, keys) -> bytes:
    for layer in stack:
        if layer == "url":
            data = urllib.parse.quote_from_bytes(data, safe="").encode()
        elif layer == "utf16":
            data = data.decode("utf-8").encode("utf-16-le")
        elif layer.startswith("xor"):
            data = _xor(data, keys[layer])
        else:
            data = ENCODERS[layer](data)
    return data


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(recs=records(), layout=st.sampled_from(["delimited", "labelled", "json"]),
       order=st.permutations(["time", "pan", "exp", "cvv", "holder"]), sep=st.sampled_from(["\t", "|", ",", ";"]),
       per_line=st.booleans(), encode_lines=st.booleans(), stack=stacks())
def test_every_record_comes_back_intact(recs, layout, order, sep, per_line, encode_lines, stack):
    layers, keys = stack
    lines = _render(recs, layout, order, sep, per_line)
    if encode_lines and (not layers or layers[-1] in TEXT_SAFE):
        data = b"\n".join(_encode(ln.encode(), layers, keys) for ln in lines) + b"\n"
    else:
        data = _encode(("\n".join(lines) + "\n").encode(), layers, keys)
    out = skim.skim_records(pl.DataFrame({"path": ["x.gif"], "content": [data]}), tz="Asia/Tokyo")
    assert out["card_key"].to_list() == [cards.card_key(r["pan"]) for r in recs], (layers, out["encoding"].to_list())
    assert out["card_masked"].to_list() == [cards.mask_pan(r["pan"]) for r in recs]
    assert out["expiry"].to_list() == [r["exp"] for r in recs]
    assert out["holder"].to_list() == [r["holder"] for r in recs]
    assert out["entered"].to_list() == [r["time"].replace(tzinfo=JST).astimezone(UTC) for r in recs]
    assert out["has_security_code"].to_list() == [True] * len(recs)


PLAIN = [
    {"pan": _pan("4", 16, 7303311), "exp": "04/21", "cvv": "123", "holder": "TARO YAMADA",
     "time": dt.datetime(2017, 4, 9, 11, 20, 5)},
    {"pan": _pan("35", 16, 99887766), "exp": "11/20", "cvv": "4567", "holder": "HANAKO SATO",
     "time": dt.datetime(2017, 4, 9, 20, 47, 22)},
]


@pytest.mark.parametrize("layers, key", [
    (["url"], None), (["utf16"], None), (["xor2"], b"\x5a\xa5"), (["xor3"], b"\x13\x37\x42"),
    (["xor4"], b"\xde\xad\xbe\xef"), (["utf16", "xor1"], b"\x07"), (["xor2", "base64"], b"\x01\x02"),
    (["url", "xor1"], b"\x71"), (["hex", "xor2"], b"\x01\x02"), (["gzip", "xor2"], b"\x21\x42"),
])
def test_more_encodings(layers, key):
    keys = {n: key for n in layers if n.startswith("xor")}
    data = _encode(("\n".join(_render(PLAIN, "delimited", ["time", "pan", "exp", "cvv", "holder"], "\t", True))
                    + "\n").encode(), layers, keys)
    out = skim.skim_records(pl.DataFrame({"path": ["x.gif"], "content": [data]}), tz="Asia/Tokyo")
    assert out["card_key"].to_list() == [cards.card_key(r["pan"]) for r in PLAIN], out["encoding"].to_list()
    assert out["expiry"].to_list() == ["04/21", "11/20"] and out["holder"].to_list() == ["TARO YAMADA", "HANAKO SATO"]
