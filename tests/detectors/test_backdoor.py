"""Backdoor: upload, bodyfile creation, URL path, requests, content indicators."""

from __future__ import annotations

import polars as pl

from forensics.detectors import backdoor

from . import scenario as S
from .frames import ts


def test_uploads_joined_with_post():
    up = backdoor.uploads(S.APP, S.ACCESS, S.ADMIN)
    row = up.row(0, named=True)
    assert (row["upload_name"], row["server_path"], row["url_path"]) == ("x1.php", "html/user_data/x1.php", "/user_data/x1.php")
    assert row["req_line_no"] == 9 and row["ip"] == S.ATT


def test_created_scripts_since():
    cr = backdoor.created_scripts(S.FS, ts("2018-05-01 00:00:00"))
    assert cr["server_path"].to_list() == ["html/user_data/x1.php"]
    assert len(backdoor.created_scripts(S.FS)) == 2


def test_backdoors_row():
    bd = backdoor.backdoors(
        app_log=S.APP, access=S.ACCESS, fs_files=S.FS, admin_dir=S.ADMIN, since=ts("2018-05-02 02:00:00"),
        contents=pl.DataFrame({"path": ["html/user_data/x1.php"], "content": [S.SHELL_PHP]}),
    )
    assert bd.height == 1
    r = bd.row(0, named=True)
    assert r["url_path"] == "/user_data/x1.php"
    assert r["installed"] == ts("2018-05-03 03:02:00")
    assert (r["requests"], r["gets"], r["posts"], r["requesters"]) == (2, 1, 1, [S.SHELL])
    assert {"eval", "base64_decode", "system", "request_input"} <= set(r["indicators"])
    assert (r["upload_source"], r["upload_line_no"], r["fs_line_no"]) == ("logs/eccube/admin.log", 7, 1)


def test_backdoor_found_from_bodyfile_alone():
    bd = backdoor.backdoors(app_log=S.APP.head(0), access=S.ACCESS, fs_files=S.FS, admin_dir=S.ADMIN, since=ts("2018-05-02 00:00:00"))
    assert bd["url_path"].to_list() == ["/user_data/x1.php"]
    assert bd["installed"].to_list() == [ts("2018-05-03 03:02:00")]


def test_benign_php_has_no_indicators():
    out = backdoor.backdoor_indicators(pl.DataFrame({"path": ["a.php"], "content": [b"<?php echo 'hello'; ?>"]}))
    assert out["indicators"].to_list() == [[]]


def test_a_failed_upload_or_a_copy_is_no_upload():
    from .frames import app_log

    app = app_log([
        {"ts": "2018-05-03 03:01:22", "script": S.ADMIN + "contents/file_manager.php", "ip": S.ATT, "event": "upload_failed",
         "upload_name": "x1.php", "upload_dest": "/srv/shop/html/user_data/x1.php"},
        {"ts": "2018-05-03 03:01:40", "script": S.ADMIN + "products/product.php", "ip": S.ATT, "event": "download_copy",
         "upload_dest": "/srv/shop/data/download/temp/05030301_ab.zip"},
        {"ts": "2018-05-03 03:02:00", "script": S.ADMIN + "contents/file_manager.php", "ip": S.ATT, "event": "upload",
         "upload_name": "x1.php", "upload_dest": "/srv/shop/html/user_data/x1.php"},
    ])
    up = backdoor.uploads(app, None, S.ADMIN)
    assert up["ts"].to_list() == [ts("2018-05-03 03:02:00")]  # installed when the file was written
