"""Small named frames of the input schemas, built by hand for detector tests."""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import unquote_plus

import polars as pl

from forensics import schemas

UTC = timezone.utc


def ts(s: str) -> datetime:
    """'2017-03-31 14:28:00' (UTC) -> aware datetime."""
    return datetime.fromisoformat(s).replace(tzinfo=UTC)


def access(rows: list[dict]) -> pl.DataFrame:
    """ACCESS_LOG frame; each row needs at least ts, client_ip, method, target; rest defaulted."""
    out = []
    for i, r in enumerate(rows, start=1):
        target = r["target"]
        path_raw, _, query_raw = target.partition("?")
        out.append(
            {
                "ts": ts(r["ts"]) if isinstance(r["ts"], str) else r["ts"],
                "source": r.get("source", "logs/httpd/access_log"),
                "line_no": r.get("line_no", i),
                "client_ip": r["client_ip"],
                "ident": "-",
                "remote_user": "-",
                "utc_offset_min": 540,
                "request_raw": f'{r.get("method", "GET")} {target} HTTP/1.1',
                "method": r.get("method", "GET"),
                "target_raw": target,
                "path_raw": path_raw,
                "query_raw": query_raw if "?" in target else None,
                "protocol": "HTTP/1.1",
                "path": unquote_plus(path_raw),
                "query": unquote_plus(query_raw) if "?" in target else None,
                "query_params": [],
                "status": r.get("status", 200),
                "bytes": r.get("bytes", 1000),
                "referer": r.get("referer", "-"),
                "user_agent": r.get("user_agent", "Mozilla/5.0"),
                "extra": None,
            }
        )
    return pl.DataFrame(out, schema=schemas.ACCESS_LOG)


def app_log(rows: list[dict]) -> pl.DataFrame:
    """APP_LOG frame; rows give ts, script, event, ip and the event's fields."""
    out = []
    for i, r in enumerate(rows, start=1):
        d = {k: None for k in schemas.APP_LOG.names()}
        d.update({"source": "logs/eccube/admin.log", "line_no": i, "log": "admin", "message": r.get("message", "")})
        d.update(r)
        d["ts"] = ts(r["ts"])
        out.append(d)
    return pl.DataFrame(out, schema=schemas.APP_LOG)


def query_log(rows: list[dict]) -> pl.DataFrame:
    out = []
    for i, r in enumerate(rows, start=1):
        out.append(
            {
                "ts": ts(r["ts"]),
                "source": "logs/mysql/general.log",
                "line_no": r.get("line_no", i),
                "line_count": 1,
                "conn_id": r.get("conn_id", 1),
                "command": r.get("command", "Query"),
                "argument": r["argument"],
                "layout": "mysql5.6",
            }
        )
    return pl.DataFrame(out, schema=schemas.QUERY_LOG)


def fs_files(rows: list[dict]) -> pl.DataFrame:
    out = []
    for i, r in enumerate(rows, start=1):
        d = {
            "source": "fs/bodyfile.txt",
            "line_no": i,
            "md5": "0",
            "name": r["name"],
            "inode": str(1000 + i),
            "mode": r.get("mode", "r/rrw-r--r--"),
            "uid": 48,
            "gid": 48,
            "size": r.get("size", 100),
        }
        for k in ("atime", "mtime", "ctime", "crtime"):
            d[k] = ts(r[k]) if r.get(k) else None
        out.append(d)
    return pl.DataFrame(out, schema=schemas.FS_FILES)


def server_files(rows: list[dict]) -> pl.DataFrame:
    out = []
    for r in rows:
        ext = r["path"].rsplit(".", 1)[-1].lower() if "." in r["path"].rsplit("/", 1)[-1] else ""
        out.append(
            {
                "source": "server/" + r["path"],
                "path": r["path"],
                "size": r.get("size", 10),
                "sha256": "0" * 64,
                "magic_type": r.get("magic_type", "text"),
                "extension": ext,
                "type_mismatch": r.get("type_mismatch", False),
                "is_symlink": False,
            }
        )
    return pl.DataFrame(out, schema=schemas.SERVER_FILES)
