"""Backdoors: files uploaded through the admin file manager or created under the document root,
and every request to them.

Evidence combined:

- app log ``upload`` lines ``ORIGNAME -> DIR/FILE`` from ``{admin_dir}contents/file_manager.php``
  and the matching access-log POSTs (same IP, nearest time);
- bodyfile entries of script files (:data:`SCRIPT_EXTENSIONS`) under ``html/user_data/`` created
  (crtime, else ctime) from ``since`` on (the first attack), matched to an upload by file name and
  time;
- requests to the resulting URL paths (``html/`` is served at ``/``);
- content indicators in the recovered file (:data:`BACKDOOR_INDICATORS`).
"""

from __future__ import annotations

import polars as pl

from forensics.cards import mask_pans_expr

from forensics.detectors._content import indicator_list, with_text
from forensics.detectors.layout import ServerLayout, server_path_expr, url_path_expr
from forensics.platforms.eccube2 import ECCUBE2
from forensics.platforms.routing import Platform, norm_admin_dir, page_expr

__all__ = [
    "BACKDOOR_INDICATORS",
    "SCRIPT_EXTENSIONS",
    "uploads",
    "created_scripts",
    "backdoors",
    "backdoor_requests",
    "backdoor_indicators",
]

#: Extensions the web server executes as PHP (typical Apache/PHP handler configurations).
SCRIPT_EXTENSIONS = ("php", "php3", "php4", "php5", "php7", "phtml", "pht", "phar", "inc")

#: (id, regex on file text, comment): what makes a PHP file a web shell.
BACKDOOR_INDICATORS: tuple[tuple[str, str, str], ...] = (
    ("eval", r"\beval\s*\(", "runs a string as PHP"),
    ("assert", r"\bassert\s*\(\s*\$", "assert() with a variable runs it as PHP (PHP < 8)"),
    ("preg_replace_e", r"preg_replace\s*\(\s*['\"]([/#~|!@%]).*[/#~|!@%][a-df-z]*e[a-z]*['\"]\s*,", "/e modifier evaluates the replacement"),
    ("create_function", r"\bcreate_function\s*\(", "builds a function from a string"),
    ("base64_decode", r"\bbase64_decode\s*\(", "decodes hidden code or commands"),
    ("gzinflate", r"\bgz(?:inflate|uncompress|decode)\s*\(", "compressed hidden code"),
    ("str_rot13", r"\bstr_rot13\s*\(", "rot13-hidden code"),
    ("shell_exec", r"\bshell_exec\s*\(|`\s*\$", "runs an OS command"),
    ("system", r"\bsystem\s*\(", "runs an OS command"),
    ("passthru", r"\bpassthru\s*\(", "runs an OS command"),
    ("exec", r"(?:^|[^_a-z])(?:exec|popen|proc_open|pcntl_exec)\s*\(", "runs an OS command"),
    ("request_input", r"\$_(?:POST|REQUEST|COOKIE|GET|SERVER\s*\[\s*['\"]HTTP_)", "takes input from the request"),
    ("file_write", r"\b(?:file_put_contents|fwrite|fputs|move_uploaded_file)\s*\(", "writes files"),
    ("dynamic_call", r"\$\w+\s*\(\s*\$_(?:POST|REQUEST|GET|COOKIE)", "calls a function named by the request"),
)

_EXT_RX = r"\.(?:" + "|".join(SCRIPT_EXTENSIONS) + r")$"


def uploads(
    app_log: pl.LazyFrame | pl.DataFrame,
    access: pl.LazyFrame | pl.DataFrame | None = None,
    admin_dir: str = "/admin/",
    *,
    tolerance: str = "5s",
    layout: ServerLayout | None = None,
    platform: Platform = ECCUBE2,
) -> pl.DataFrame:
    """File-manager uploads (the platform's ``file_manager`` admin page).

    Returns ``ts, source, line_no`` (app-log line), ``ip, upload_name, upload_dest, server_path,
    url_path, sid, req_source, req_line_no, req_status`` (the access-log POST, when found).
    Without app-log lines, the access-log POSTs alone are returned (names null).
    """
    admin_dir = norm_admin_dir(admin_dir)
    file_manager = page_expr(platform.admin_pages, pl.col("path"), pl.lit(None, pl.String), admin_dir) == "file_manager"
    app = (
        app_log.lazy()
        .filter(pl.col("event") == "upload")  # a failed upload wrote nothing; a copy is no upload
        .select(
            "ts", "source", "line_no", "ip", "upload_dest", "sid",
            # some EC-CUBE builds log "upload: NAME -> DEST"; the label is not part of the name
            upload_name=pl.col("upload_name").str.replace(r"^upload\s*:\s*", ""),
            server_path=server_path_expr(pl.col("upload_dest"), layout),
        )
        .with_columns(url_path=url_path_expr(pl.col("server_path"), layout))
        .sort("ts")
        .collect()
    )
    empty_req = pl.DataFrame(
        schema={"ts": pl.Datetime("us", "UTC"), "client_ip": pl.String, "req_source": pl.String, "req_line_no": pl.Int64, "req_status": pl.Int16}
    )
    posts = empty_req
    if access is not None:
        posts = (
            access.lazy()
            .filter((pl.col("method") == "POST") & file_manager)
            .select("ts", "client_ip", pl.col("source").alias("req_source"), pl.col("line_no").alias("req_line_no"), pl.col("status").alias("req_status"))
            .sort("ts")
            .collect()
        )
    if app.is_empty():
        return posts.select(
            "ts", pl.col("req_source").alias("source"), pl.col("req_line_no").alias("line_no"), pl.col("client_ip").alias("ip"),
            upload_name=pl.lit(None, pl.String), upload_dest=pl.lit(None, pl.String), server_path=pl.lit(None, pl.String),
            url_path=pl.lit(None, pl.String), sid=pl.lit(None, pl.String),
            req_source="req_source", req_line_no="req_line_no", req_status="req_status",
        )
    return app.join_asof(
        posts.rename({"client_ip": "ip"}).with_columns(req_ts=pl.col("ts")),
        on="ts", by="ip", strategy="nearest", tolerance=tolerance, check_sortedness=False,
    ).drop("req_ts")


def created_scripts(fs_files: pl.LazyFrame | pl.DataFrame, since=None, *, layout: ServerLayout | None = None,
                    upload_folder: str = ECCUBE2.upload_folder) -> pl.DataFrame:
    """Script files under the document root's ``upload_folder`` (``Platform.upload_folder``:
    EC-CUBE's ``html/user_data/``) created (crtime, else ctime) from ``since`` on.

    Returns ``source, line_no, name, server_path, url_path, created, mtime, ctime, crtime, size,
    deleted`` (a deleted name is still a file that existed).
    """
    layout = layout or ServerLayout()
    user_data = (layout.docroot_dir + "/" if layout.docroot_dir else "") + upload_folder
    lf = (
        fs_files.lazy()
        .with_columns(server_path=server_path_expr(pl.col("name"), layout))
        .filter(
            pl.col("server_path").str.starts_with(user_data)
            & pl.col("server_path").str.to_lowercase().str.contains(_EXT_RX)
            & ~pl.col("mode").fill_null("").str.starts_with("d")
        )
        .with_columns(created=pl.coalesce("crtime", "ctime"), url_path=url_path_expr(pl.col("server_path"), layout))
    )
    if since is not None:
        lf = lf.filter(pl.col("created") >= since)
    return lf.select("source", "line_no", "name", "server_path", "url_path", "created", "mtime", "ctime", "crtime", "size",
                     "deleted").sort("created").collect()


def backdoor_indicators(contents: pl.DataFrame | None) -> pl.DataFrame:
    """``path, indicators`` (rule ids of :data:`BACKDOOR_INDICATORS`) per file in ``contents``
    ({path, content}); the text itself is not returned."""
    t = with_text(contents)
    return t.select("path", indicators=indicator_list(pl.col("text"), BACKDOOR_INDICATORS))


def backdoor_requests(access: pl.LazyFrame | pl.DataFrame, url_paths) -> pl.DataFrame:
    """Every request to one of ``url_paths``: provenance, ``client_ip, method, path, status, bytes, user_agent``."""
    return (
        access.lazy()
        .filter(pl.col("path").is_in(sorted(set(url_paths))))
        .with_columns(user_agent=mask_pans_expr(pl.col("user_agent")))
        .select("ts", "source", "line_no", "client_ip", "method", "path", "status", "bytes", "user_agent")
        .sort("ts", "source", "line_no")
        .collect()
    )


def backdoors(
    *,
    app_log: pl.LazyFrame | pl.DataFrame,
    access: pl.LazyFrame | pl.DataFrame,
    fs_files: pl.LazyFrame | pl.DataFrame,
    admin_dir: str = "/admin/",
    since=None,
    contents: pl.DataFrame | None = None,
    layout: ServerLayout | None = None,
    platform: Platform = ECCUBE2,
) -> pl.DataFrame:
    """Backdoors, one row per URL path.

    A backdoor is a script file (:data:`SCRIPT_EXTENSIONS`) under ``html/user_data/`` that was
    uploaded through the file manager or created from ``since`` on (``since`` None: uploads only). Content indicators come from
    ``contents`` ({path (relative to server/), content}) when the recovered file is given.

    Returns ``url_path, server_path, installed`` (upload time, else creation time, UTC),
    ``uploaded_by, upload_name, upload_source, upload_line_no, fs_source, fs_line_no, created,
    indicators, requests, gets, posts, requesters, first_request, last_request``.
    """
    up = uploads(app_log, access, admin_dir, layout=layout, platform=platform)
    up = up.filter(pl.col("server_path").is_not_null() & pl.col("server_path").str.to_lowercase().str.contains(_EXT_RX))
    cr = created_scripts(fs_files, since, layout=layout, upload_folder=platform.upload_folder)
    if since is None:
        # without an attack start, a script file merely existing is no finding: only uploads count
        cr = cr.filter(pl.col("server_path").is_in(up["server_path"].to_list()))
    paths = sorted(set(up["server_path"].to_list()) | set(cr["server_path"].to_list()))
    rows = pl.DataFrame({"server_path": paths}, schema={"server_path": pl.String})
    up_first = up.sort("ts").group_by("server_path").agg(
        upload_ts=pl.col("ts").first(), uploaded_by=pl.col("ip").first(), upload_name=pl.col("upload_name").first(),
        upload_source=pl.col("source").first(), upload_line_no=pl.col("line_no").first(),
    )
    cr_first = cr.sort("created").group_by("server_path").agg(
        created=pl.col("created").first(), fs_source=pl.col("source").first(), fs_line_no=pl.col("line_no").first(),
    )
    out = (
        rows.join(up_first, on="server_path", how="left")
        .join(cr_first, on="server_path", how="left")
        .with_columns(url_path=url_path_expr(pl.col("server_path"), layout))
    )
    # a creation long before or after its upload is a different file version: keep the upload time
    out = out.with_columns(installed=pl.coalesce("upload_ts", "created"))
    ind = backdoor_indicators(contents)
    out = out.join(ind.rename({"path": "server_path"}), on="server_path", how="left").with_columns(
        indicators=pl.col("indicators").fill_null(pl.lit([], pl.List(pl.String)))
    )
    req = backdoor_requests(access, [p for p in out["url_path"].to_list() if p])
    agg = req.group_by(pl.col("path").alias("url_path")).agg(
        requests=pl.len(),
        gets=(pl.col("method") == "GET").sum(),
        posts=(pl.col("method") == "POST").sum(),
        requesters=pl.col("client_ip").unique().sort(),
        first_request=pl.col("ts").min(),
        last_request=pl.col("ts").max(),
    )
    out = out.join(agg, on="url_path", how="left").with_columns(
        requests=pl.col("requests").fill_null(0).cast(pl.Int64),
        gets=pl.col("gets").fill_null(0).cast(pl.Int64),
        posts=pl.col("posts").fill_null(0).cast(pl.Int64),
        requesters=pl.col("requesters").fill_null(pl.lit([], pl.List(pl.String))),
    )
    return out.select(
        "url_path", "server_path", "installed", "uploaded_by", "upload_name", "upload_source", "upload_line_no",
        "fs_source", "fs_line_no", "created", "indicators", "requests", "gets", "posts", "requesters",
        "first_request", "last_request",
    ).sort("installed", "url_path")
