"""Where the shop lives on the server: document root, data folder, URL root, and the mappings
between the three ways a file is named in the evidence.

A file appears as a file-system name (bodyfile ``/var/www/html/eccube/html/user_data/x.php``, an
app-log upload destination), as a path in the case's copy of the server (``server/html/user_data/x.php``:
findings name it ``html/user_data/x.php``), and as a URL path (``/user_data/x.php``). EC-CUBE may be
installed under any folder (``/var/www/html/eccube/html/``, ``/home/shop/public_html/``), so the
file-system prefix of the document root is established from the case, in this order:

1. ``site.document_root`` in case.yml;
2. the case's own files: bodyfile names and upload destinations that end with a path of the
   server copy (``.../html/user_data/packages/x.gif`` and ``server/html/user_data/packages/x.gif``):
   every such pair votes for the prefix in front of it, and the prefix with most distinct files wins;
3. EC-CUBE's own layout: an upload destination under ``.../user_data/`` (the file manager writes
   only below the document root's ``user_data/``);
4. the last ``html/`` or ``public_html/`` folder of the names of the shop's code files.

The data folder (``data/``) is found the same way from ``data/...`` paths of the server copy,
else taken as the document root's sibling (EC-CUBE's default). The URL root is ``ROOT_URLPATH`` of
``data/config/config.php`` in the server copy, else ``/``. :attr:`ServerLayout.how` says which rule
gave each value, so the report can say what was inferred.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import polars as pl

from forensics.platforms.eccube2 import ECCUBE2

__all__ = ["ServerLayout", "config_defines", "infer_layout", "server_path_expr", "url_path_expr"]

#: Folder names a document root copy may have in ``server/`` (EC-CUBE ships ``html/``).
DOCROOT_DIRS = ("html", "public_html", "htdocs", "www")
#: Files every EC-CUBE 2 document root holds.
DOCROOT_MARKERS = ECCUBE2.docroot_markers


@dataclass(frozen=True)
class ServerLayout:
    """How file-system names, server-copy paths and URL paths of one shop map onto each other."""

    docroot_dir: str = "html"  # folder of server/ holding the document root ("" : server/ itself)
    data_dir: str = "data"
    docroot_fs: str | None = None  # file-system path of the document root, no trailing "/"
    data_fs: str | None = None
    url_root: str = "/"
    how: dict[str, str] = field(default_factory=dict)

def _prefix(folder: str) -> str:
    return f"{folder}/" if folder else ""


def server_path_expr(name: pl.Expr, layout: ServerLayout | None = None) -> pl.Expr:
    """File-system name -> path relative to the case's ``server/`` folder (null when the file is in
    neither the document root nor the data folder). A name outside the known document root (a
    log that spells the server path another way) falls back to its last ``html/`` or
    ``public_html/`` folder, as when the document root is not known."""
    layout = layout or ServerLayout()
    doc, data = _prefix(layout.docroot_dir), _prefix(layout.data_dir)
    expr = pl.lit(None, pl.String)
    if not layout.data_fs:  # the last data/ folder
        expr = pl.when(name.str.contains(r"(?:^|/)data/")).then(
            pl.lit(data) + name.str.extract(r"^(?:.*/)?data/(.*)$", 1)).otherwise(expr)
    # the last html/ (or public_html/) folder of the name
    tail = name.str.extract(r"^(?:.*/)?(?:html|public_html)/(.*)$", 1)
    expr = pl.when(tail.is_not_null()).then(pl.lit(doc) + tail).otherwise(expr)
    if layout.data_fs:
        expr = pl.when(name.str.starts_with(layout.data_fs + "/")).then(
            pl.lit(data) + name.str.strip_prefix(layout.data_fs + "/")).otherwise(expr)
    if layout.docroot_fs:
        expr = pl.when(name.str.starts_with(layout.docroot_fs + "/")).then(
            pl.lit(doc) + name.str.strip_prefix(layout.docroot_fs + "/")).otherwise(expr)
    return expr


def url_path_expr(server_path: pl.Expr, layout: ServerLayout | None = None) -> pl.Expr:
    """Server-copy path -> URL path (the document root is served at ``url_root``); else null."""
    layout = layout or ServerLayout()
    doc = _prefix(layout.docroot_dir)
    root = "/" + layout.url_root.strip("/") + "/" if layout.url_root.strip("/") else "/"
    inside = server_path.str.starts_with(doc) if doc else ~server_path.str.starts_with(_prefix(layout.data_dir))
    return pl.when(inside).then(pl.lit(root) + server_path.str.strip_prefix(doc)).otherwise(pl.lit(None, pl.String))


_DEFINE = re.compile(r"""define\(\s*['"]([A-Z_]{1,40})['"]\s*,\s*['"]([^'"\n]{0,300})['"]\s*\)""")


def config_defines(text: str | None) -> dict[str, str]:
    """String constants defined in a PHP config file (``define('ROOT_URLPATH', '/shop/');``)."""
    if not text:
        return {}
    return {m.group(1): m.group(2) for m in _DEFINE.finditer(text[:1 << 20])}


def _docroot_dir(server_paths: list[str], upload_folder: str, markers: tuple[str, ...]) -> tuple[str, str]:
    """Which folder of server/ is the document root copy, and why."""
    tops: dict[str, set[str]] = {}
    for p in server_paths:
        head, _, rest = p.partition("/")
        tops.setdefault(head if rest else "", set()).add(rest or head)
    for d in DOCROOT_DIRS:
        if d in tops and (set(markers) & tops[d] or (upload_folder and any(r.startswith(upload_folder) for r in tops[d]))):
            return d, f"server/{d}/ holds the shop's document root files"
    if "" in tops and set(markers) & tops[""]:
        return "", "server/ itself holds the document root files"
    for d in DOCROOT_DIRS:
        if d in tops:
            return d, f"server/{d}/ is the only document-root folder of the copy"
    return "html", "EC-CUBE's layout (no document root in the server copy)"


def _vote(names: pl.Series, server_paths: list[str], folder: str) -> tuple[str | None, int]:
    """The file-system prefix under which most files of ``server/<folder>/`` appear in ``names``
    (matched by their path below the folder; only paths of two or more parts, whose file name is
    rare in the copy, take part), and how many distinct files vote for it."""
    pre = _prefix(folder)
    rests = [p[len(pre):] for p in server_paths if p.startswith(pre) and p[len(pre):].count("/") >= 1]
    if not rests or names.is_empty():
        return None, 0
    copy = pl.DataFrame({"rest": rests}).with_columns(base=pl.col("rest").str.extract(r"([^/]+)$", 1))
    copy = copy.filter(pl.col("base").count().over("base") <= 3)
    fs = pl.DataFrame({"name": names.drop_nulls().unique()}).with_columns(base=pl.col("name").str.extract(r"([^/]+)$", 1))
    hits = (
        fs.join(copy, on="base")
        .filter(pl.col("name").str.ends_with(pl.lit("/") + pl.col("rest")))
        .with_columns(prefix=pl.col("name").str.head(pl.col("name").str.len_chars() - pl.col("rest").str.len_chars() - 1))
        .group_by("prefix").agg(files=pl.col("rest").n_unique())
        .sort(["files", "prefix"], descending=[True, False])
    )
    if hits.is_empty():
        return None, 0
    return hits["prefix"][0], int(hits["files"][0])


def infer_layout(
    *,
    document_root: str | None = None,
    fs_names: pl.Series | None = None,
    upload_dests: pl.Series | None = None,
    server_paths: pl.Series | None = None,
    config_text: str | None = None,
    upload_folder: str = ECCUBE2.upload_folder,
    docroot_markers: tuple[str, ...] = DOCROOT_MARKERS,
) -> ServerLayout:
    """The :class:`ServerLayout` of a case (rules in the module docstring).

    ``fs_names``: bodyfile names; ``upload_dests``: absolute upload destinations of the app log;
    ``server_paths``: the server-copy inventory's paths; ``config_text``: ``data/config/config.php``;
    ``upload_folder`` / ``docroot_markers``: the platform's (``Platform.upload_folder``,
    ``Platform.docroot_markers``).
    """
    how: dict[str, str] = {}
    paths = server_paths.drop_nulls().to_list() if server_paths is not None else []
    doc_dir, how["server_copy_document_root"] = _docroot_dir(paths, upload_folder, docroot_markers)
    names = pl.concat([s for s in (fs_names, upload_dests) if s is not None]).cast(pl.String) \
        if (fs_names is not None or upload_dests is not None) else pl.Series([], dtype=pl.String)
    docroot = document_root.rstrip("/") if document_root else None
    if docroot:
        how["document_root"] = "site.document_root in case.yml"
    else:
        docroot, n = _vote(names, paths, doc_dir)
        if docroot is not None:
            how["document_root"] = f"{n} file(s) of the server copy found under it in the file-system names"
    if not docroot and upload_dests is not None and upload_folder:
        dest = upload_dests.drop_nulls().str.extract(rf"^(/.*?)/{re.escape(upload_folder)}", 1).drop_nulls()
        if len(dest):
            docroot = dest.mode().sort()[0]
            how["document_root"] = f"upload destinations (the file manager writes below the document root's {upload_folder})"
    if not docroot and len(names):
        tails = names.str.extract(r"^(.*/(?:html|public_html))/", 1).drop_nulls()
        if len(tails):
            docroot = tails.mode().sort()[0]
            how["document_root"] = "the last html/ or public_html/ folder of the file-system names"
    if not docroot:
        how["document_root"] = "not established (no file-system names): paths mapped by their last html/ folder"
    data_fs, n = _vote(names, paths, "data")
    if data_fs is not None:
        how["data_dir"] = f"{n} file(s) of the server copy's data/ found under it in the file-system names"
    elif docroot:
        data_fs = docroot.rsplit("/", 1)[0] + "/data"
        how["data_dir"] = "EC-CUBE's default: data/ beside the document root"
    defines = config_defines(config_text)
    url_root = defines.get("ROOT_URLPATH") or "/"
    how["url_root"] = ("ROOT_URLPATH in data/config/config.php" if "ROOT_URLPATH" in defines
                       else "/ (no ROOT_URLPATH in the server copy)")
    return ServerLayout(docroot_dir=doc_dir, data_dir="data", docroot_fs=docroot, data_fs=data_fs,
                        url_root=url_root, how=how)
