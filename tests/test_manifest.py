"""manifest.json: hashes before analysis, record accounting, evidence untouched."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from forensics.case import open_case
from forensics.manifest import write_manifest

from tests.test_case import case_dir  # noqa: F401  (fixture)


def snapshot(root):
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            data = open(p, "rb").read() if os.path.isfile(p) and not os.path.islink(p) else b""
            out[os.path.relpath(p, root)] = (st.st_size, st.st_mtime_ns, hashlib.sha256(data).hexdigest())
    return out


def test_manifest_and_read_only(case_dir, tmp_path_factory):  # noqa: F811
    os.symlink("/etc/passwd", case_dir / "server/html/passwd")
    before = snapshot(case_dir)
    case = open_case(case_dir / "case.yml")
    out = tmp_path_factory.mktemp("out") / "manifest.json"
    assert write_manifest(case, out) == out
    for method in ("access_log", "app_log", "query_log", "fs_timeline", "server_files", "rejects"):
        getattr(case, method)().collect()
    assert snapshot(case_dir) == before  # nothing modified, nothing created

    m = json.loads(out.read_text())
    assert m["case"] == "test-case" and m["created"]
    files = {f["path"]: f for f in m["files"]}
    assert set(files) == {"logs/httpd/access_log", "logs/eccube/admin.log", "logs/mysql/general.log", "fs/bodyfile.txt",
                          "server/html/x.php", "server/html/passwd", "db/dtb_customer.csv"}
    acc = files["logs/httpd/access_log"]
    data = (case_dir / "logs/httpd/access_log").read_bytes()
    assert acc["sha256"] == hashlib.sha256(data).hexdigest() and acc["size"] == len(data)
    assert (acc["records"], acc["rejected"]) == (1, 1)
    assert files["server/html/passwd"]["symlink"] and files["server/html/passwd"]["sha256"] is None
    assert files["db/dtb_customer.csv"]["records"] == 1


def test_manifest_refuses_case_folder(case_dir):  # noqa: F811
    case = open_case(case_dir / "case.yml")
    with pytest.raises(ValueError, match="inside the case folder"):
        write_manifest(case, case_dir / "manifest.json")
