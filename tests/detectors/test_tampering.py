"""Tampered files: changed in the period AND skimmer code; legit recompiles are not tampered."""

from __future__ import annotations

import polars as pl

from forensics.detectors import tampering

from . import scenario as S
from .frames import fs_files, ts

TOP = "data/Smarty/templates_c/default/%%CD^CDE^CDEF0123%%top.tpl.php"


def contents() -> pl.DataFrame:
    return pl.DataFrame({"path": [S.TEMPLATE, TOP], "content": [S.SKIMMER_PHP, S.LEGIT_TPL]})


def test_tampered_template_and_writes_to():
    out = tampering.tampered_files(S.FS, contents(), since=ts("2018-05-02 00:00:00"))
    t = out.filter(pl.col("tampered").fill_null(False))
    assert t["path"].to_list() == [S.TEMPLATE]
    assert t["writes_to"].to_list() == [S.SKIM]
    assert t["modified"].to_list() == [ts("2018-05-04 12:14:00")]
    assert {"card_field", "write_out", "xor", "encode", "image_disguise"} <= set(t["indicators"][0])
    assert out.filter(pl.col("path") == TOP)["tampered"].to_list() == [False]


def test_unchanged_files_ignored():
    out = tampering.tampered_files(S.FS, contents(), since=ts("2018-05-05 00:00:00"))
    assert out.is_empty()


def test_backdated_mtime_uses_ctime():
    fs = fs_files([{"name": "/s/" + S.TEMPLATE, "mtime": "2016-01-01 00:00:00", "ctime": "2018-05-04 12:14:00"}])
    out = tampering.tampered_files(fs, contents(), since=ts("2018-05-01 00:00:00"))
    assert out["modified"].to_list() == [ts("2018-05-04 12:14:00")] and out["tampered"].to_list() == [True]


def test_writes_to_variants():
    cases = {
        b"<?php $f=fopen(dirname(__FILE__).'/../../../html/user_data/a/b.png','a'); fwrite($f,$_POST['card_no']);": "html/user_data/a/b.png",
        b"<?php file_put_contents('/var/www/x/html/upload/c.jpg', $_REQUEST['cvv'], FILE_APPEND);": "html/upload/c.jpg",
        b"<?php file_put_contents(DATA_REALDIR . 'cache/z.gif', $_POST['card_number']);": "data/cache/z.gif",
    }
    fs = fs_files([{"name": f"/s/html/t{i}.php", "mtime": "2018-05-04 00:00:00", "ctime": "2018-05-04 00:00:00"} for i in range(3)])
    c = pl.DataFrame({"path": [f"html/t{i}.php" for i in range(3)], "content": list(cases)})
    out = tampering.tampered_files(fs, c).sort("path")
    assert out["writes_to"].to_list() == list(cases.values())
    assert out["tampered"].to_list() == [True, True, True]


def test_without_file_times_content_decides():
    fs = fs_files([{"name": "/" + S.TEMPLATE}, {"name": "/" + TOP}])
    out = tampering.tampered_files(fs, contents(), require_change=False)
    assert out.filter(pl.col("tampered"))["path"].to_list() == [S.TEMPLATE]
    assert out["modified"].to_list() == [None, None]


def test_a_skim_file_named_with_a_raw_byte_is_found_read_and_decoded(tmp_path):
    """Names are bytes: the path the tampered code names with a byte that is not UTF-8 is the very
    file on disk, read and decoded (not hidden behind a replacement character)."""
    import base64
    import os

    from forensics.detectors.skim import decode_skim_files
    from forensics.loaders import read_server_files, server_file_bytes

    raw_skim = S.SKIM.replace("spin.gif", "sp\x9fin.gif").encode("latin-1")
    code = S.SKIMMER_PHP.replace(b"spin.gif", b"sp\x9fin.gif")
    record = "|".join(["2018-05-04 12:40:00", "4111111111111111", "TARO", "12/20", "123"]).encode()
    line = base64.b64encode(bytes(b ^ 0x33 for b in record)) + b"\n"
    server = tmp_path / "server"
    skim = os.fsencode(str(server)) + b"/" + raw_skim
    os.makedirs(os.path.dirname(skim))
    with open(skim, "wb") as f:
        f.write(line)
    (server / "html" / "user_data" / "packages" / "default" / "img" / "sp\\x9fin.gif").write_bytes(b"GIF89a decoy")
    listed = read_server_files(server).records["path"].to_list()
    assert len(set(listed)) == 2  # the byte 0x9f and the text "\x9f" are two names

    t = tampering.tampered_files(S.FS, pl.DataFrame({"path": [S.TEMPLATE], "content": [code]}),
                                 since=ts("2018-05-02 00:00:00"))
    target = t.filter(pl.col("tampered"))["writes_to"].to_list()
    assert len(target) == 1 and target[0] in listed
    contents = server_file_bytes(server, target)
    assert contents["content"].to_list() == [line]
    decoded = decode_skim_files(contents, expected=target)
    assert decoded.records["card_masked"].to_list() == ["411111******1111"]
