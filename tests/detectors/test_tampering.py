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
