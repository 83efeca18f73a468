"""Card helpers: Luhn, masking, keyed hash, folder scanner. Test numbers are built at runtime."""

from __future__ import annotations

import gzip

import pytest

from forensics import cards


def make_pan(prefix: str, length: int = 16) -> str:
    """A Luhn-valid number built at runtime (no literal card numbers in the tests)."""
    body = prefix + "0" * (length - 1 - len(prefix))
    body = body[: length - 1 - 3] + "739"
    return body + cards.luhn_check_digit(body)


PUBLIC_VISA_TEST = "4111111111111111"  # the well-known public test number


def test_luhn_public_test_number():
    assert cards.luhn_valid(PUBLIC_VISA_TEST)
    assert not cards.luhn_valid(PUBLIC_VISA_TEST[:-1] + "2")
    assert not cards.luhn_valid("41111x")


@pytest.mark.parametrize("prefix,length", [("4", 16), ("51", 16), ("37", 15), ("35", 16), ("62", 19)])
def test_check_digit_makes_valid(prefix, length):
    pan = make_pan(prefix, length)
    assert len(pan) == length and cards.luhn_valid(pan)


def test_mask_first6_last4():
    pan = make_pan("4", 16)
    masked = cards.mask_pan(pan)
    assert masked == pan[:6] + "******" + pan[-4:]
    assert cards.mask_pan(pan[:4] + " " + pan[4:8] + " " + pan[8:12] + " " + pan[12:]) == masked
    assert cards.mask_pan("123") == "***"


def test_keyed_hash_stable_in_run_and_key_dependent():
    pan = make_pan("5", 16)
    assert cards.card_key(pan) == cards.card_key(pan[:8] + "-" + pan[8:])
    assert cards.card_key(pan).startswith("hk:")
    assert pan not in cards.card_key(pan)
    k1 = cards.derive_key("case-a", "secret")
    k2 = cards.derive_key("case-b", "secret")
    assert cards.card_key(pan, k1) != cards.card_key(pan, k2)
    assert cards.card_key(pan, k1) == cards.card_key(pan, cards.derive_key("case-a", b"secret"))


@pytest.mark.parametrize(
    "fmt",
    [
        pytest.param("{p}", id="plain"),
        pytest.param("{g4}", id="spaces"),
        pytest.param("{d4}", id="dashes"),
        pytest.param("card_no={p}&x=1", id="form-field"),
        pytest.param('{{"number": "{g4}"}}', id="json"),
    ],
)
def test_find_pans_shapes(fmt):
    pan = make_pan("4", 16)
    g4 = " ".join(pan[i : i + 4] for i in range(0, 16, 4))
    d4 = "-".join(pan[i : i + 4] for i in range(0, 16, 4))
    text = fmt.format(p=pan, g4=g4, d4=d4)
    hits = cards.find_pans(text)
    assert [h[2] for h in hits] == [cards.mask_pan(pan)]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("order 20170408211400123", id="long-digit-run"),
        pytest.param("tel 0312345678", id="phone"),
        pytest.param("ts 1491653640", id="epoch"),
        pytest.param("411111******1111", id="masked"),
        pytest.param("4111 11 11 1111 1111", id="odd-groups"),
        pytest.param("sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", id="hex-digest"),
        pytest.param("ts 20170408211400", id="compact-timestamp-14"),
        pytest.param("ts 2017040821140012", id="timestamp-16-not-2series"),
    ],
)
def test_find_pans_ignores_non_cards(text):
    assert cards.find_pans(text) == []


def test_find_pans_rejects_luhn_invalid():
    pan = make_pan("4", 16)
    bad = pan[:-1] + str((int(pan[-1]) + 1) % 10)
    assert cards.find_pans(bad) == []


def test_scan_folder(tmp_path):
    pan = make_pan("4", 16)
    (tmp_path / "a.txt").write_text(f"line1\nname=X card={pan}\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.json").write_text('{"cvv": "123", "security_code": 4567}\n')
    with gzip.open(tmp_path / "sub" / "c.log.gz", "wt") as fh:
        fh.write("\n\n" + pan[:4] + "-" + pan[4:8] + "-" + pan[8:12] + "-" + pan[12:] + "\n")
    (tmp_path / "clean.txt").write_text("nothing 411111******1111 here\n")
    hits = cards.scan_for_card_data(tmp_path)
    got = [(h.path, h.line_no, h.kind) for h in hits]
    assert got == [
        ("a.txt", 2, "pan"),
        ("sub/b.json", 1, "security_code"),
        ("sub/b.json", 1, "security_code"),
        ("sub/c.log.gz", 3, "pan"),
    ]
    for h in hits:
        assert pan not in repr(h)
        assert "123" not in repr(h) or h.kind == "pan"


def test_scan_reads_parquet_tables_value_by_value(tmp_path):
    """Card data in Parquet values is found in text, integer, list and struct columns, and named
    by column and row; encoded integers are not mistaken for card numbers."""
    import polars as pl

    pan = make_pan("4", 16)
    pl.DataFrame({
        "note": ["nothing", f"card={pan} given"],
        "number": [1, int(pan)],
        "params": [[{"key": "a", "value": "b"}], [{"key": "card", "value": pan}]],
        "tags": [["x"], ["cvv: 123"]],
    }).write_parquet(tmp_path / "t.parquet", compression="zstd")
    hits = cards.scan_for_card_data(tmp_path)
    got = sorted((h.path, h.line_no, h.kind) for h in hits)
    assert got == [("t.parquet[note]", 2, "pan"), ("t.parquet[number]", 2, "pan"),
                   ("t.parquet[params]", 2, "pan"), ("t.parquet[tags]", 2, "security_code")]
    assert all(pan not in repr(h) for h in hits)
    # integers whose stored bytes happen to be ASCII digits: a Luhn-valid run in the raw file
    # (seen at scale 100 in a table of connection ids), yet no value holds a card number
    lookalike = "4532015112830366"
    ids = [int.from_bytes(lookalike[i:i + 4].encode(), "little") for i in range(0, 16, 4)]
    pl.DataFrame({"id": pl.Series(ids, dtype=pl.Int32)}).write_parquet(tmp_path / "ids.parquet", compression="uncompressed")
    assert cards.scan_text_for_card_data((tmp_path / "ids.parquet").read_bytes().decode("latin-1"))  # bytes: a false hit
    assert cards.scan_for_card_data(tmp_path / "ids.parquet") == []


def test_scan_single_file(tmp_path):
    f = tmp_path / "x.html"
    f.write_text("<td>" + make_pan("35", 16) + "</td>")
    assert [h.kind for h in cards.scan_for_card_data(f)] == ["pan"]


@pytest.mark.parametrize("fmt", ["ab{p}cd", "x{p}.php", "card_{p}", "x={p};", "{p}_x", "\u3042{p}\u3044"])
def test_any_neighbour(fmt):
    """A number glued to letters or ``_`` is still a number (a file named ``x<PAN>.php``)."""
    pan = make_pan("4", 16)
    assert [h[2] for h in cards.find_pans(fmt.format(p=pan))] == [cards.mask_pan(pan)]
    assert cards.mask_text(fmt.format(p=pan)) == fmt.format(p=cards.mask_pan(pan))


@pytest.mark.parametrize(
    "shape",
    [
        pytest.param(lambda p: " ".join(p[i:i + 4] for i in range(0, 16, 4)), id="spaces-4"),
        pytest.param(lambda p: p[:8] + " " + p[8:], id="groups-8-8"),
        pytest.param(lambda p: ".".join(p[i:i + 4] for i in range(0, 16, 4)), id="dots"),
        pytest.param(lambda p: "\u3000".join(p[i:i + 4] for i in range(0, 16, 4)), id="ideographic-space"),
        pytest.param(lambda p: p.translate(str.maketrans("0123456789", "\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19")),
                     id="full-width-digits"),
        pytest.param(lambda p: "-".join(p[i:i + 4] for i in range(0, 16, 4)), id="dashes"),
    ],
)
def test_every_separator_and_digit_form_is_masked(shape):
    pan = make_pan("5", 16)
    text = "holder X " + shape(pan) + " exp 12/20"
    masked = cards.mask_text(text)
    assert cards.scan_text_for_card_data(masked) == []
    assert len(cards.scan_text_for_card_data(text)) >= 1
    assert pan not in "".join(c for c in cards.mask_text(text) if c.isascii())


def test_digits_glued_to_more_digits_are_masked_but_not_parsed():
    pan = make_pan("4", 16)
    text = "20170409" + pan  # a compact date in front: not one card number when reading a skim file
    assert cards.find_pans(text) == []
    assert pan not in cards.mask_text(text) and cards.scan_text_for_card_data(text)


def test_registered_digests_stay_whole():
    pan = make_pan("4", 16)
    digest = ("ab" + pan + "cd" * 30)[:64]
    assert cards.mask_text(digest) != digest
    cards.register_digests([digest])
    assert cards.mask_text(f"sha256 {digest}") == f"sha256 {digest}"
    assert cards.scan_text_for_card_data(digest) == []
    assert pan not in cards.mask_text("ef" + pan + "cd")  # the same digits outside a digest
    shown = digest[:30] + "…"  # a table cell shows the digest cut short
    assert cards.mask_text(shown) == shown and cards.scan_text_for_card_data(shown) == []
    assert pan not in cards.mask_text("ab" + pan + "ce…")  # looks like its start, but is not


def test_labelled_security_codes_are_masked():
    assert cards.mask_text('{"cvv": "123", "x": 1}') == '{"cvv": "***", "x": 1}'
    assert cards.mask_text("security_code=4567&a=1") == "security_code=****&a=1"


def test_timestamps_are_not_cards_even_when_luhn_valid():
    # a YYYYMMDDhhmmss run that happens to pass Luhn
    base = "2017040821140"
    ts14 = base + cards.luhn_check_digit(base)
    assert cards.luhn_valid(ts14)
    assert cards.find_pans("at " + ts14) == []


@pytest.mark.parametrize(
    "text,masked",
    [
        pytest.param("q={p}&x=1", "q={m}&x=1", id="plain"),
        pytest.param("{g}", "{gm}", id="grouped"),  # separators stay where they were
        pytest.param("id=12345678901234", "id=12345678901234", id="starts-with-1"),
        pytest.param("a{p}b", "a{m}b", id="inside-token"),
    ],
)
def test_mask_pans_expr(text, masked):
    import polars as pl

    pan = make_pan("4", 16)
    g = " ".join(pan[i : i + 4] for i in range(0, 16, 4))
    frame = pl.DataFrame({"t": [text.format(p=pan, g=g)]})
    got = frame.select(cards.mask_pans_expr(pl.col("t")))["t"][0]
    m = cards.mask_pan(pan)
    gm = " ".join(m[i : i + 4] for i in range(0, 16, 4))
    assert got == masked.format(p=pan, m=m, gm=gm)


def test_widget_model_ids_of_a_notebook_are_not_card_numbers(tmp_path):
    import json

    pan = "4" + "1" * 14
    pan += cards.luhn_check_digit(pan)
    model_id = "ab" + pan + "cdefabcdefabcd"
    nb = {"cells": [{"cell_type": "code", "source": "", "outputs": [
        {"data": {"application/vnd.jupyter.widget-view+json": {"model_id": model_id}}}]}],
          "metadata": {"widgets": {"application/vnd.jupyter.widget-state+json": {"state": {model_id: {}}}}}}
    (tmp_path / "a.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    assert cards.scan_for_card_data(tmp_path) == []
    nb["cells"][0]["source"] = f"ref {model_id[:-2]}99"  # the same digits outside an id the notebook declares
    (tmp_path / "a.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    assert [h.kind for h in cards.scan_for_card_data(tmp_path)] == ["pan"]


def test_writers_mask_every_text_value():
    import polars as pl

    pan = "4" + "9" * 14
    pan += cards.luhn_check_digit(pan)
    df = pl.DataFrame({"path": [f"html/user_data/x{pan}.php"], "tags": [[f"card_{pan}"]], "n": [int(pan)], "id": [7]})
    out = cards.mask_frame(df)
    assert pan not in str(out.to_dicts()) and out["id"].to_list() == [7] and out["path"][0].startswith("html/user_data/x499999")
    obj = cards.mask_json({"files": [{f"k{pan}": [f"{pan[:8]} {pan[8:]}"]}], "count": 3})
    assert pan[:8] + " " + pan[8:] not in str(obj) and obj["count"] == 3


def test_a_number_grouped_eight_and_eight_is_read():
    pan = "4" + "9" * 14
    pan += cards.luhn_check_digit(pan)
    found = cards.find_pans(f"{pan[:8]} {pan[8:]}|TARO YAMADA|04/21")
    assert [m for _s, _e, m, _k in found] == [cards.mask_pan(pan)]


@pytest.mark.parametrize("sep", ["+", "_", "\t", "%20", "%2D", "\\t", "\\x20", "\\u3000", "\\\\"])
def test_escaped_and_form_encoded_separators_still_hide_a_number(sep):
    pan = make_pan("4", 16)
    text = "card_no=" + sep.join(pan[i:i + 4] for i in range(0, 16, 4)) + "&x=1"
    masked = cards.mask_text(text)
    assert masked.startswith("card_no=" + pan[:4]) and masked.endswith(pan[-4:] + "&x=1")
    assert "*" * 2 in masked and pan not in masked.replace(sep, "")
    assert [h.kind for h in cards.scan_text_for_card_data(text)] == ["pan"]
    assert cards.scan_text_for_card_data(masked) == []
