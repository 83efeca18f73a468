"""Session fixtures: ``forensics run`` once per case, the runs started together at first use.

Three runs go in parallel (as real ``forensics`` processes, so exit codes and printed lines are
what an analyst sees): the hostile case twice (reproducibility) and a copy of the sample case.
Each case folder is snapshotted (every entry's type, size, mode, mtime, SHA-256 or link text)
before the runs, so tests can check nothing under it changed or appeared.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.hardening.hostile_case import HostileCase, build_hostile_case

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "sample_data" / "toshomart-2017"


def snapshot(root: Path) -> dict[bytes, tuple]:
    """Every entry under ``root`` (no link followed): type, size, mode, mtime, content hash or link text."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(os.fsencode(root), followlinks=False):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                what = os.readlink(p)
            elif stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    what = hashlib.file_digest(f, "sha256").hexdigest()
            else:
                what = None
            out[os.path.relpath(p, os.fsencode(root))] = (stat.S_IFMT(st.st_mode), st.st_size, st.st_mode, st.st_mtime_ns, what)
    return out


@dataclass
class Run:
    case_yml: Path
    out: Path
    proc: subprocess.Popen
    started: float = field(default_factory=time.monotonic)
    code: int | None = None
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0

    def wait(self, timeout: float = 900) -> Run:
        if self.code is None:
            out, err = self.proc.communicate(timeout=timeout)
            self.code, self.stdout, self.stderr = self.proc.returncode, out, err
            self.seconds = time.monotonic() - self.started
        return self


def start_run(case_yml: Path, out: Path) -> Run:
    cmd = [sys.executable, "-m", "forensics.cli", "run", str(case_yml), "--out", str(out)]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            errors="backslashreplace", env={**os.environ, "PYTHONUNBUFFERED": "1"})
    return Run(case_yml, out, proc)


@dataclass
class Runs:
    hostile: HostileCase
    hostile_before: dict
    sample_root: Path
    sample_before: dict
    hostile_a: Run
    hostile_b: Run
    sample: Run


@pytest.fixture(scope="session")
def runs(tmp_path_factory) -> Runs:
    base = tmp_path_factory.mktemp("hardening-e2e")
    hostile = build_hostile_case(base / "hostile" / "case")
    sample_root = base / "sample" / "case"
    shutil.copytree(SAMPLE, sample_root, symlinks=True)
    before_h, before_s = snapshot(hostile.root), snapshot(sample_root)
    started = [
        start_run(hostile.case_yml, base / "out-hostile-a"),
        start_run(hostile.case_yml, base / "out-hostile-b"),
        start_run(sample_root / "case.yml", base / "out-sample"),
    ]
    try:
        a, b, s = (r.wait() for r in started)
    finally:
        for r in started:
            if r.proc.poll() is None:
                r.proc.kill()
    return Runs(hostile, before_h, sample_root, before_s, a, b, s)


def output_files(out: Path) -> list[Path]:
    return sorted(p for p in out.rglob("*") if p.is_file())
