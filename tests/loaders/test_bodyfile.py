"""TSK bodyfile loader: file table, plaso-style timeline, names with "|", rejects."""

from __future__ import annotations

import datetime as dt

import pytest

from forensics.loaders.bodyfile import read_bodyfiles, scan_fs_timeline
from forensics.schemas import FS_FILES, FS_TIMELINE

UTC = dt.timezone.utc


def load(write, text):
    path = write("bodyfile.txt", text)
    return path, read_bodyfiles([path], case_root=path.parent, show_progress=False)


@pytest.mark.parametrize(
    "text, expect",
    [
        pytest.param("0|/html/a.php|1234-128-1|r/rrw-r--r--|48|48|120|1490970600|1490970660|1490970660|1490970000\n",
                     {"name": "/html/a.php", "md5": "0", "uid": 48, "size": 120,
                      "mtime": dt.datetime(2017, 3, 31, 14, 31, tzinfo=UTC)}, id="tsk3"),
        pytest.param("d41d8cd98f00b204e9800998ecf8427e|/a|b.php|77|r/rrw-r--r--|0|0|0|0|1490970660|0|0\n",
                     {"name": "/a|b.php", "md5": "d41d8cd98f00b204e9800998ecf8427e", "atime": None, "crtime": None},
                     id="name-with-pipe"),
        pytest.param("0|/x|1|r/r---------|0|0|5|0|1490970660.5|0|0\n",
                     {"mtime": dt.datetime(2017, 3, 31, 14, 31, 0, 500000, tzinfo=UTC)}, id="fractional-seconds"),
        pytest.param("0|/x (deleted)|1|r/r---------|0|0|5|0|1490970660|0|0\n", {"name": "/x", "deleted": True, "realloc": False},
                     id="deleted"),
        pytest.param("0|/x (deleted-realloc)|1|r/r---------|0|0|5|0|1490970660|0|0\n",
                     {"name": "/x", "deleted": True, "realloc": True}, id="deleted-realloc"),
        pytest.param("0|/a\\|b\\\\c|1|r/r---------|0|0|5|0|1490970660|0|0\n", {"name": "/a|b\\c", "deleted": False},
                     id="escaped-pipe-and-backslash"),
        pytest.param("0|C:/Windows/x.exe ($FILE_NAME)|1-48-2|r/rrwxrwxrwx|0|0|5|0|1490970660|0|0\n",
                     {"name": "C:/Windows/x.exe", "fn_attr": True}, id="ntfs-file-name-attribute"),
        pytest.param("0|/var/www/html/shell -> /etc/passwd|1|l/lrwxrwxrwx|0|0|11|0|1490970660|0|0\n",
                     {"name": "/var/www/html/shell", "link_target": "/etc/passwd"}, id="symlink-target"),
        pytest.param("0|/a -> b.txt|1|r/rrw-r--r--|0|0|11|0|1490970660|0|0\n",
                     {"name": "/a -> b.txt", "link_target": None}, id="arrow-in-a-regular-file-name"),
    ],
)
def test_variants(write, text, expect):
    _, loaded = load(write, text)
    assert loaded.rejects.height == 0
    row = loaded.records.row(0, named=True)
    for k, v in expect.items():
        assert row[k] == v, k
    assert loaded.records.schema == FS_FILES


def test_timeline_one_row_per_timestamp(write):
    path, _ = load(write, "0|/html/a.php|1|r/rrw-r--r--|48|48|120|1490970600|1490970660|1490970670|0\n")
    tl = scan_fs_timeline([path], case_root=path.parent).collect()
    assert tl.schema == FS_TIMELINE
    assert tl["timestamp_desc"].to_list() == ["Last Access Time", "Content Modification Time", "Metadata Modification Time"]
    assert tl["ts"].is_sorted()


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param("0|/var/www/eccube/html/upload/temp_image|1049999|d/drwxr-xr-x|48", id="five-fields"),
        pytest.param("0|/x|1|r/r|a|b|c|d|e|f|g", id="non-numeric"),
        pytest.param(b"0|/\xff|1|r/r|0|0|1|0|0|0|0", id="invalid-utf8"),
        pytest.param("", id="empty-line"),
    ],
)
def test_rejects(write, bad):
    good = b"0|/ok|1|r/r|0|0|1|0|1490970660|0|0\n"
    bad = bad.encode() if isinstance(bad, str) else bad
    _, loaded = load(write, good + bad + b"\n" + good)
    c = loaded.counts.row(0, named=True)
    assert (c["records"], c["rejected"]) == (2, 1) and loaded.rejects["line_no"][0] == 2
