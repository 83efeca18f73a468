"""Every table the toolkit produces, declared once.

Loaders return ``pl.LazyFrame`` objects whose schema is exactly one of these; detectors and the
exposure calculators consume them by these names. Every evidence row carries ``ts`` (UTC instant),
``source`` (evidence path relative to the case folder) and ``line_no`` (1-based, in the
decompressed file), so any finding can be traced back to the line that proves it.
"""

from __future__ import annotations

import polars as pl

UTC_TS = pl.Datetime("us", "UTC")

#: Provenance columns carried by every evidence row.
PROVENANCE = {
    "ts": UTC_TS,
    "source": pl.String,
    "line_no": pl.Int64,
}

#: A record that could not be parsed. ``excerpt`` is short, control characters escaped.
REJECTS = pl.Schema(
    {
        "source": pl.String,
        "line_no": pl.Int64,
        "reason": pl.String,
        "excerpt": pl.String,
    }
)

QUERY_PARAM = pl.Struct({"key": pl.String, "value": pl.String})

#: Apache ``combined`` access log (``%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"``).
ACCESS_LOG = pl.Schema(
    {
        **PROVENANCE,
        "client_ip": pl.String,
        "ident": pl.String,
        "remote_user": pl.String,
        "utc_offset_min": pl.Int16,  # the line's own %t offset, minutes east of UTC
        "request_raw": pl.String,  # "%r" as logged (escapes undone)
        "method": pl.String,
        "target_raw": pl.String,  # request-target as logged, not decoded
        "path_raw": pl.String,
        "query_raw": pl.String,  # without the "?"; null when there is none
        "protocol": pl.String,
        "path": pl.String,  # percent-decoded once; invalid sequences kept as they are
        "query": pl.String,  # percent-decoded once, "+" as space
        "query_params": pl.List(QUERY_PARAM),  # decoded key/value pairs in order
        "status": pl.Int16,
        "bytes": pl.Int64,  # null for "-"
        "referer": pl.String,
        "user_agent": pl.String,
        "extra": pl.String,  # trailing fields beyond combined, null when none
        # fields some formats write (null when the file's format lacks them)
        "vhost": pl.String,  # %v / %V, nginx $host / $server_name
        "port": pl.Int32,  # %p, nginx $server_port
        "duration_us": pl.Int64,  # %D (or %T, nginx $request_time, in microseconds)
        "forwarded_for": pl.String,  # the X-Forwarded-For chain as the proxy wrote it
        "bytes_sent": pl.Int64,  # %O, nginx $bytes_sent: the response as sent, headers included
        "bytes_received": pl.Int64,  # %I, nginx $request_length, W3C cs-bytes: the request, headers included
    }
)

#: EC-CUBE ``admin.log`` / ``site.log``: ``YYYY/MM/DD HH:MM:SS [SCRIPT_NAME] MESSAGE from REMOTE_ADDR``.
APP_LOG = pl.Schema(
    {
        **PROVENANCE,
        "log": pl.String,  # "admin" or "site" (from the file name)
        "script": pl.String,  # SCRIPT_NAME, e.g. /admin/index.php
        "message": pl.String,
        "ip": pl.String,
        # kind of message: login, login_failed, access, logout, member_login, member_logout, upload,
        # upload_failed, download_copy, unpack, order_complete, sql_error, other
        "event": pl.String,
        "login_id": pl.String,  # login / login_failed / access
        "member_id": pl.Int64,  # login: user=ID(N)
        "authority": pl.Int32,
        "sid": pl.String,  # admin session id
        "last_login": pl.String,
        "upload_name": pl.String,  # upload, upload_failed: ORIGNAME; unpack: the archive
        "upload_dest": pl.String,  # upload, upload_failed, download_copy: DIR/FILE as logged; unpack: the folder
        "order_id": pl.Int64,  # order complete
        "customer_id": pl.Int64,  # member_login / member_logout; a verbose record on a shop page
        "backtrace": pl.String,  # verbose record: FILE(LINE): Class->function lines
        "sql": pl.String,  # sql_error: the statement the database refused (as logged; may be cut short)
        "db_error": pl.String,  # sql_error: the database's own message (MDB2 native message, else its error)
    }
)

#: MySQL general query log, 5.6 and 5.7+ layouts; one row per statement (multi-line joined).
QUERY_LOG = pl.Schema(
    {
        **PROVENANCE,  # line_no: the statement's first line; ts null: see ts_before
        "ts_before": UTC_TS,  # an untimed 5.6 statement at the head of its file lies before this instant
        "line_count": pl.Int32,  # physical lines the statement spans
        "conn_id": pl.Int64,
        "command": pl.String,  # Connect, Query, Quit, Init DB, Prepare, Execute, ...
        "argument": pl.String,
        "layout": pl.String,  # "mysql5.6" or "mysql5.7"
    }
)

#: The Sleuth Kit bodyfile 3.x, one row per file: ``MD5|name|inode|mode|UID|GID|size|atime|mtime|ctime|crtime``.
FS_FILES = pl.Schema(
    {
        "source": pl.String,
        "line_no": pl.Int64,
        "md5": pl.String,
        "name": pl.String,  # the path, TSK's escapes undone and its labels moved to the columns below
        "deleted": pl.Boolean,  # " (deleted)" / " (deleted-realloc)": the name is unallocated
        "realloc": pl.Boolean,  # " (deleted-realloc)": its inode now belongs to another file
        "fn_attr": pl.Boolean,  # " ($FILE_NAME)": NTFS $FILE_NAME times, not $STANDARD_INFORMATION
        "link_target": pl.String,  # " -> TARGET" of a symbolic link
        "inode": pl.String,
        "mode": pl.String,
        "uid": pl.Int64,
        "gid": pl.Int64,
        "size": pl.Int64,
        "atime": UTC_TS,  # null where the bodyfile holds 0
        "mtime": UTC_TS,
        "ctime": UTC_TS,
        "crtime": UTC_TS,
    }
)

#: The bodyfile as a timeline, plaso style: one row per (file, timestamp kind).
FS_TIMELINE = pl.Schema(
    {
        **PROVENANCE,
        "timestamp_desc": pl.String,  # Content Modification Time, Last Access Time, Metadata Modification Time, Creation Time
        "name": pl.String,
        "deleted": pl.Boolean,
        "inode": pl.String,
        "size": pl.Int64,
        "mode": pl.String,
    }
)

#: Inventory of the recovered server files (``server/`` in the case), read without executing anything.
SERVER_FILES = pl.Schema(
    {
        "source": pl.String,  # relative to the case folder
        "path": pl.String,  # relative to server/, "/" separated
        "size": pl.Int64,
        "sha256": pl.String,
        "magic_type": pl.String,  # from content: gif, png, jpeg, php, gzip, text, binary, empty, ...
        "extension": pl.String,  # lower-cased, without the dot; "" when none
        "type_mismatch": pl.Boolean,  # content does not match what the extension claims
        "is_symlink": pl.Boolean,  # a link is listed, never followed
    }
)

#: Attacker IPs (the counting rules), one row per IP with the reasons it is in the set.
ATTACKER_IPS = pl.Schema(
    {
        "ip": pl.String,
        "reasons": pl.List(pl.String),  # sqli, backdoor_request, new_ip_admin_login
        "first_seen": UTC_TS,
        "last_seen": UTC_TS,
    }
)

#: The super-timeline (plaso / Timesketch fields) before JSONL export.
TIMELINE = pl.Schema(
    {
        "ts": UTC_TS,
        "timestamp_desc": pl.String,
        "source": pl.String,
        "line_no": pl.Int64,
        "message": pl.String,
        "tags": pl.List(pl.String),
    }
)
