"""The benchmark cases: ``forensics sample --scale N`` generated once per generator version.

A case is kept in ``bench_data/sample-scale<N>-<key>/`` (git-ignored) where ``key`` is a digest of
the generator's code (``forensics/sample/*.py``) and the seed: when the generator changes, the
next benchmark generates its data anew (and removes the cases of older generator versions of that
scale), so a figure is always measured on data the current generator writes.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEED = 20170331


def generator_key(seed: int = SEED) -> str:
    """Digest of the generator's source files and the seed (12 hex digits)."""
    h = hashlib.sha256(f"seed={seed}\n".encode())
    for p in sorted((ROOT / "forensics" / "sample").glob("*.py")):
        h.update(p.name.encode() + b"\0" + p.read_bytes())
    return h.hexdigest()[:12]


def sample_case(scale: int, folder: Path | None = None, *, seed: int = SEED) -> tuple[Path, bool]:
    """The case folder of ``scale`` for the current generator; (path, generated now)."""
    folder = folder or ROOT / "bench_data"
    case = folder / f"sample-scale{scale}-{generator_key(seed)}"
    if (case / "case.yml").is_file():
        return case, False
    for old in folder.glob(f"sample-scale{scale}-*"):
        if old != case:
            shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(folder / f"sample-scale{scale}", ignore_errors=True)  # a case of no known version
    exe = ROOT / ".venv" / "bin" / "forensics"
    # the generator's messages go to stderr: a caller's stdout may be a result it prints as JSON
    subprocess.run([str(exe) if exe.exists() else "forensics", "sample", str(case), "--scale", str(scale),
                    "--seed", str(seed)], check=True, cwd=ROOT, stdout=sys.stderr)
    return case, True
