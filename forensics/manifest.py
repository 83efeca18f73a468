"""``manifest.json``: every input file with size and SHA-256, taken before analysis, and its accounting.

``write_manifest(case, path)`` hashes every input file first (opened read-only, no link
followed), then parses the evidence to add ``records`` and ``rejected`` per file, then writes::

    {"case": "toshomart-2017", "created": "2026-11-26T09:00:00+00:00",
     "files": [{"path": "logs/httpd/access_log", "size": 123, "sha256": "...",
                "records": 1000, "rejected": 2, "evidence": "access_logs", "format": "combined"}, ...]}

``path`` is relative to the case folder ("/" separated). ``records`` + ``rejected`` = lines the
file holds (data rows for a DB CSV; for a file under ``server/``: 1 + 0, or 0 + 1 when unreadable).
An access log also names the format it was read in (``combined``, ``common``, ``w3c``, ...: given
in the case file or detected from its first lines; ``unknown`` for a file no named format reads,
rejected as a whole), and a database export how its header was read
(``table_dump``, or ``eccube_admin_csv (csv_id 2: dtb_customer)`` for the shop's admin CSV download).
A symlink is listed with ``"symlink": true`` and the link text, never hashed through. A file
read from outside the case folder (the case file says ``evidence.allow_outside: true``) has its
absolute path and ``"outside_case": true``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from pathlib import Path

from forensics.cards import mask_json, register_digests
from forensics.evidence import open_readonly, rel_source


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open_readonly(path) as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    digest = h.hexdigest()
    register_digests([digest])
    return digest


def hash_inputs(case) -> list[dict]:
    """``{path, size, sha256}`` of every input file (symlinks: ``symlink``, ``target``)."""
    out = []
    for p in case.input_files():
        rel = rel_source(p, case.root)
        if p.is_symlink():
            out.append({"path": rel, "size": p.lstat().st_size, "sha256": None, "symlink": True, "target": os.readlink(p)})
            continue
        try:
            out.append({"path": rel, "size": os.stat(p).st_size, "sha256": sha256_file(p)})
        except OSError as exc:
            out.append({"path": rel, "size": None, "sha256": None, "error": exc.strerror or str(exc)})
        if case.outside_case(p):  # read where it is, as the case file allows
            out[-1]["outside_case"] = True
    return out


def build_manifest(case) -> dict:
    """The manifest as a dict: hashes first, then the record accounting."""
    created = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    files = hash_inputs(case)  # before any parsing
    formats = _access_log_formats(case) | _db_export_formats(case)
    counts = case.count_records()  # streamed: the tables are not kept for the whole run
    by_source = {r["source"]: r for r in counts.iter_rows(named=True)}
    for f in files:
        c = by_source.get(f["path"])
        if c is None and f["path"].startswith("server/"):
            c = None
        f["records"] = int(c["records"]) if c else 0
        f["rejected"] = int(c["rejected"]) if c else 0
        if c:
            f["evidence"] = c["evidence"]
    for f in files:  # the format each access log was read in
        if f["path"] in formats:
            f["format"] = formats[f["path"]]
    return {"case": case.id, "created": created, "timezone": case.timezone, "files": files}


def _access_log_formats(case) -> dict[str, str]:
    """source name -> the format each access-log file is read in (given or detected)."""
    from forensics.loaders.access_log import file_formats

    paths = case.evidence.get("access_logs") or []
    fmts = file_formats(paths, getattr(case, "access_log_format", None)) if paths else {}
    return {rel_source(p, case.root): f.name for p, f in fmts.items()}


def _db_export_formats(case) -> dict[str, str]:
    """source name -> how each database export's header is read (table dump or admin CSV download)."""
    from forensics.loaders.db_export import file_formats

    paths = case.evidence.get("db") or []
    fmts = file_formats(paths, encoding=getattr(case, "db_encoding", "auto") or "auto") if paths else {}
    return {rel_source(p, case.root): f for p, f in fmts.items()}


def write_manifest(case, path: str | os.PathLike) -> Path:
    """Write ``manifest.json`` at ``path`` (which must lie outside the case folder); returns it."""
    path = Path(path)
    root = Path(os.path.abspath(case.root))
    if Path(os.path.abspath(path)).is_relative_to(root):
        raise ValueError(f"manifest path {path} is inside the case folder; evidence stays read-only")
    manifest = build_manifest(case)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(mask_json(manifest), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return path
