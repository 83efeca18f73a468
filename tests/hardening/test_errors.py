"""Wrong case.yml, missing, unreadable or empty evidence: one line naming the problem and the path,
a non-zero exit code, no traceback unless ``--debug``.

Tests run as root, so "unreadable" is simulated: a folder or a FIFO where a file is expected, a
symbolic link (never read through), and a monkeypatched open that raises PermissionError.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from forensics import cli
from forensics.case import CaseError

REPO = Path(__file__).resolve().parents[2]

GOOD_LOG = '203.0.113.9 - - [01/Apr/2017:10:00:00 +0900] "GET / HTTP/1.1" 200 1 "-" "x"\n'


def _case(root: Path, yml: str | None = None, *, access: bytes | None = GOOD_LOG.encode()) -> Path:
    (root / "logs").mkdir(parents=True, exist_ok=True)
    if access is not None:
        (root / "logs" / "access_log").write_bytes(access)
    path = root / "case.yml"
    path.write_text(yml if yml is not None else "id: err-case\ntimezone: Asia/Tokyo\nevidence:\n  access_logs: logs/access_log\n")
    return path


def _run_main(capsys, path: Path, tmp_path: Path, *extra: str) -> tuple[int, str, str]:
    code = cli.main([*extra, "run", str(path), "--out", str(tmp_path.parent / f"{tmp_path.name}-out")])
    out, err = capsys.readouterr()
    return code, out, err


CASES = [
    pytest.param("id: x\ntimezone: Asia/Tokyo\ncolour: red\n", ["unknown key 'colour'"], id="unknown-key"),
    pytest.param("id: x\ntimezone: Asia/Tokyo\nfacts:\n  containmnet: 2017-04-10\n", ["facts.containmnet"], id="unknown-nested-key"),
    pytest.param("id: x\ntimezone: Mars/Olympus\n", ["'timezone'", "Mars/Olympus"], id="bad-zone"),
    pytest.param("id: x\ntimezone: Asia/Tokyo\nfacts:\n  containment: yesterday at noon\n", ["facts.containment", "yesterday"], id="bad-time"),
    pytest.param("id: Bad_ID\ntimezone: Asia/Tokyo\n", ["'id'", "Bad_ID"], id="bad-id"),
    pytest.param("timezone: Asia/Tokyo\n", ["'id'", "missing"], id="missing-id"),
    pytest.param("id: x\ntimezone: Asia/Tokyo\nevidence:\n  fs_timeline: fs/bodyfile.txt\n", ["evidence.fs_timeline", "fs/bodyfile.txt", "does not exist"], id="missing-file"),
    pytest.param("id: x\ntimezone: [Asia/Tokyo\n", ["not valid YAML", "case.yml"], id="bad-yaml"),
]


@pytest.mark.parametrize("yml, needles", CASES)
def test_case_yml_problems_are_one_line(yml, needles, tmp_path, capsys):
    path = _case(tmp_path, yml)
    code, out, err = _run_main(capsys, path, tmp_path)
    assert code != 0 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("forensics: "), err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert "Traceback" not in err


def test_missing_case_file(tmp_path, capsys):
    code, out, err = _run_main(capsys, tmp_path / "nope" / "case.yml", tmp_path)
    assert code != 0 and len(err.strip().splitlines()) == 1 and "nope/case.yml" in err and "not found" in err


def _expect_one_line(capsys, path, tmp_path, *needles):
    code, out, err = _run_main(capsys, path, tmp_path)
    lines = err.strip().splitlines()
    assert code != 0 and len(lines) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def test_folder_where_a_file_is_expected(tmp_path, capsys):
    path = _case(tmp_path, access=None)
    (tmp_path / "logs" / "access_log").mkdir()
    _expect_one_line(capsys, path, tmp_path, "evidence.access_logs", "logs/access_log", "folder")


def test_folder_matched_by_a_glob_is_not_a_file(tmp_path):
    from forensics.case import open_case

    path = _case(tmp_path, "id: x\ntimezone: Asia/Tokyo\nevidence:\n  access_logs: [logs/access_log*]\n")
    (tmp_path / "logs" / "access_log.d").mkdir()  # folders a glob matches are not evidence files
    assert [p.name for p in open_case(path).evidence["access_logs"]] == ["access_log"]


def test_fifo_is_refused_without_hanging(tmp_path, capsys):
    path = _case(tmp_path, access=None)
    os.mkfifo(tmp_path / "logs" / "access_log")
    _expect_one_line(capsys, path, tmp_path, "evidence.access_logs", "logs/access_log", "not a regular file")


def test_symlinked_log_is_never_read_through(tmp_path, capsys):
    outside = tmp_path.parent / f"{tmp_path.name}-outside.log"
    outside.write_text(GOOD_LOG)
    path = _case(tmp_path, "id: x\ntimezone: Asia/Tokyo\nevidence:\n  access_logs: [logs/access_log*]\n")
    os.symlink(outside, tmp_path / "logs" / "access_log.1")
    _expect_one_line(capsys, path, tmp_path, "evidence.access_logs", "logs/access_log.1", "symbolic link")


def test_permission_denied(tmp_path, capsys, monkeypatch):
    import forensics.evidence as evidence

    real = evidence.open_readonly

    def deny(p, *a, **k):
        if str(p).endswith("access_log"):
            raise PermissionError(13, "Permission denied", str(p))
        return real(p, *a, **k)

    monkeypatch.setattr(evidence, "open_readonly", deny)
    path = _case(tmp_path)
    _expect_one_line(capsys, path, tmp_path, "evidence.access_logs", "logs/access_log", "Permission denied")


def test_empty_log_is_named(tmp_path, capsys):
    path = _case(tmp_path, access=b"")
    _expect_one_line(capsys, path, tmp_path, "evidence.access_logs", "logs/access_log", "empty")


def test_one_empty_file_in_a_rotated_set_is_fine(tmp_path):
    """logrotate leaves an empty current log after a quiet night: that is no error."""
    from forensics.case import open_case

    path = _case(tmp_path, "id: x\ntimezone: Asia/Tokyo\nevidence:\n  access_logs: [logs/access_log*]\n")
    (tmp_path / "logs" / "access_log.1").write_text(GOOD_LOG)
    (tmp_path / "logs" / "access_log").write_bytes(b"")
    case = open_case(path)
    counts = {r["source"]: (r["records"], r["rejected"]) for r in case.record_counts().iter_rows(named=True)}
    assert counts == {"logs/access_log.1": (1, 0), "logs/access_log": (0, 0)}


def test_debug_shows_the_traceback(tmp_path):
    path = _case(tmp_path, "id: Bad_ID\ntimezone: Asia/Tokyo\n")
    with pytest.raises(CaseError):
        cli.main(["--debug", "run", str(path), "--out", str(tmp_path / "out")])


def test_real_exit_code_and_stderr(tmp_path):
    """Through a real process: exit status 2, one stderr line, nothing on stdout."""
    path = _case(tmp_path, "id: x\ntimezone: Asia/Tokyo\nevidence:\n  db: {dir: db/}\n")
    proc = subprocess.run([sys.executable, "-m", "forensics.cli", "run", str(path), "--out", str(tmp_path / "out")],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "evidence.db" in lines[0] and "db/" in lines[0], proc.stderr
    debug = subprocess.run([sys.executable, "-m", "forensics.cli", "--debug", "run", str(path)],
                           cwd=REPO, capture_output=True, text=True, timeout=120)
    assert debug.returncode != 0 and "Traceback" in debug.stderr


@pytest.mark.parametrize("yml", [
    'id: x\ntimezone: Asia/Tokyo\n"\\e[2J\\e[31mevil": 1\n',
    'id: x\ntimezone: Asia/Tokyo\nevidence:\n  fs_timeline: "fs/\\e]0;pwned\\abody.txt"\n',  # OSC: set window title
    'id: x\ntimezone: "Asia/\\e[31mTokyo"\n',
], ids=["key", "path", "zone"])
def test_error_line_holds_no_escape_sequence(yml, tmp_path, capsys):
    """An ANSI escape in case.yml (a key, a path, a value) is shown as \\x1b, never sent raw."""
    path = _case(tmp_path, yml)
    code, out, err = _run_main(capsys, path, tmp_path)
    assert code != 0 and len(err.strip().splitlines()) == 1
    assert "\x1b" not in err and "\\x1b" in err, err


def test_fifo_and_links_inside_server_are_listed_never_opened(tmp_path):
    """server/ is walked, not trusted: a FIFO is listed as special (never opened, so no hang), a
    link is listed with its target and never hashed through."""
    from forensics.case import open_case
    from forensics.manifest import build_manifest

    outside = tmp_path.parent / f"{tmp_path.name}-outside.txt"
    outside.write_text("outside")
    server = tmp_path / "server" / "html"
    server.mkdir(parents=True)
    os.mkfifo(server / "pipe.php")
    os.symlink(outside, server / "link.php")
    (server / "index.php").write_text("<?php echo 1;")
    path = _case(tmp_path, "id: x\ntimezone: Asia/Tokyo\nevidence:\n  access_logs: logs/access_log\n  server_files: server/\n")
    case = open_case(path)
    inv = {r["path"]: r for r in case.server_files().collect().iter_rows(named=True)}
    assert inv["html/pipe.php"]["magic_type"] == "special" and inv["html/pipe.php"]["sha256"] is None
    assert inv["html/link.php"]["is_symlink"] and inv["html/link.php"]["sha256"] is None
    files = {f["path"]: f for f in build_manifest(case)["files"]}
    assert files["server/html/link.php"]["target"] == str(outside) and files["server/html/link.php"]["sha256"] is None
    assert files["server/html/pipe.php"]["sha256"] is None
    assert files["server/html/index.php"]["sha256"]
