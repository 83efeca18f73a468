"""Server-files inventory: magic types, extension mismatch, symlinks listed and never followed."""

from __future__ import annotations

import hashlib
import os

import pytest

from forensics.loaders.server_files import detect_type, read_server_files, server_file_bytes
from forensics.schemas import SERVER_FILES


@pytest.mark.parametrize(
    "content, kind",
    [
        pytest.param(b"GIF89a\x01\x00", "gif", id="gif89a"),
        pytest.param(b"GIF87a\x01\x00", "gif", id="gif87a"),
        pytest.param(b"\x89PNG\r\n\x1a\n...", "png", id="png"),
        pytest.param(b"\xff\xd8\xff\xe0JFIF", "jpeg", id="jpeg"),
        pytest.param(b"<?php echo 1;", "php", id="php"),
        pytest.param(b"\n  <?PHP echo 1;", "php", id="php-after-whitespace"),
        pytest.param(b"\x1f\x8b\x08\x00", "gzip", id="gzip"),
        pytest.param(b"\x7fELF\x02\x01", "elf", id="elf"),
        pytest.param(b"PK\x03\x04", "zip", id="zip"),
        pytest.param("テキスト".encode(), "text", id="text-utf8"),
        pytest.param("テキスト".encode("cp932"), "text", id="text-cp932"),
        pytest.param(b"\x00\x01\x02\xff", "binary", id="binary"),
        pytest.param(b"", "empty", id="empty"),
    ],
)
def test_detect_type(content, kind):
    assert detect_type(content) == kind


def make_tree(root):
    (root / "server/html/user_data").mkdir(parents=True)
    (root / "server/html/user_data/logo.gif").write_bytes(b"GIF89a\x00")
    (root / "server/html/user_data/skim.gif").write_bytes(b"4111111111111111,12/20")
    (root / "server/html/user_data/up.php").write_bytes(b"<?php system($_GET['c']);")
    (root / "server/html/README").write_bytes(b"text")
    (root / "outside").mkdir()
    (root / "outside/secret.txt").write_bytes(b"not evidence")
    os.symlink(root / "outside/secret.txt", root / "server/html/link.txt")
    os.symlink(root / "outside", root / "server/html/linkdir")


def test_inventory(tmp_path):
    make_tree(tmp_path)
    loaded = read_server_files(tmp_path / "server", case_root=tmp_path)
    df = loaded.records.sort("path")
    assert df.schema == SERVER_FILES
    rows = {r["path"]: r for r in df.iter_rows(named=True)}
    assert set(rows) == {"html/README", "html/link.txt", "html/linkdir", "html/user_data/logo.gif",
                         "html/user_data/skim.gif", "html/user_data/up.php"}
    assert rows["html/user_data/logo.gif"]["type_mismatch"] is False
    assert (rows["html/user_data/skim.gif"]["magic_type"], rows["html/user_data/skim.gif"]["type_mismatch"]) == ("text", True)
    assert rows["html/user_data/up.php"]["magic_type"] == "php"
    assert rows["html/README"]["extension"] == ""
    assert rows["html/user_data/up.php"]["sha256"] == hashlib.sha256(b"<?php system($_GET['c']);").hexdigest()
    assert rows["html/user_data/up.php"]["source"] == "server/html/user_data/up.php"
    for link in ("html/link.txt", "html/linkdir"):
        assert rows[link]["is_symlink"] and rows[link]["sha256"] is None and rows[link]["magic_type"] == "symlink"
    assert loaded.counts["records"].sum() == 6 and loaded.counts["rejected"].sum() == 0


def test_server_file_bytes_never_follows_links(tmp_path):
    make_tree(tmp_path)
    root = tmp_path / "server"
    df = server_file_bytes(root, ["html/user_data/up.php", "html/link.txt", "html/linkdir/secret.txt", "../outside/secret.txt",
                                  "html/missing"], max_bytes=5)
    assert df["content"].to_list() == [b"<?php", None, None, None, None]


def test_missing_root_is_empty():
    assert read_server_files(None).records.schema == SERVER_FILES


def test_non_utf8_and_newline_names(tmp_path):
    root = tmp_path / "server"
    root.mkdir()
    os.makedirs(os.fsencode(root) + b"/d", exist_ok=True)
    with open(os.fsencode(root) + b"/d/bad\xff\xfe.gif", "wb") as f:
        f.write(b"<?php x")
    (root / "d/new\nline.php").write_bytes(b"<?php y")
    df = read_server_files(root, case_root=tmp_path).records.sort("path")
    assert df["path"].to_list() == ["d/bad\\xff\\xfe.gif", "d/new\nline.php"]
    assert df["source"][0] == "server/d/bad\\xff\\xfe.gif" and df["type_mismatch"].to_list() == [True, False]
    got = server_file_bytes(root, df["path"].to_list())
    assert got["content"].to_list() == [b"<?php x", b"<?php y"]
