"""Tampered code files: changed during the incident, with skimmer code in them.

Candidates are code files (:data:`CODE_FILE_RX`: ``*.php``, compiled Smarty templates
``data/Smarty/templates_c/**/*.tpl.php``, module code, ``*.js``) whose bodyfile mtime or ctime
falls in the incident period (from ``since``, the first attack, on). Smarty recompiles templates
on its own whenever a source template changes, so a recent mtime alone proves nothing: a file is
**tampered** only when its content shows a skimmer, i.e. it reads card fields from the request
*and* writes data out (:data:`SKIMMER_INDICATORS`, rules ``card_field`` + ``write_out``).

``modified`` is the mtime, or the ctime when the mtime lies before the period but the ctime inside
(a back-dated mtime, ``touch -r``); ``writes_to`` is the skim path read from the code: the literal
given to ``fopen``/``file_put_contents``, resolved against ``HTML_REALDIR``/``DATA_REALDIR`` or an
``html/``/``user_data/`` segment, relative to ``server/``.
"""

from __future__ import annotations

import re

import polars as pl

from forensics.detectors._content import indicator_list, with_text
from forensics.detectors.layout import ServerLayout, server_path_expr
from forensics.platforms.eccube2 import ECCUBE2
from forensics.platforms.routing import Platform

__all__ = ["CODE_FILE_RX", "SKIMMER_INDICATORS", "changed_code_files", "tampered_files"]

#: Code files a skimmer can be planted in (path relative to server/).
CODE_FILE_RX = r"(?i)(?:\.php[3-7]?|\.phtml|\.inc|\.tpl|\.js)$"

_CARD_FIELDS = r"(?:card_?no\d*|card_?num(?:ber)?\d*|cardno|ccnum|cc_?number|cvv2?|cvc2?|security_?code|sec_?code|cvs|expire\w*|expiry\w*|exp_(?:month|year)|card_?name\d*|card_?holder\w*)"

#: (id, regex on file text, comment).
SKIMMER_INDICATORS: tuple[tuple[str, str, str], ...] = (
    ("card_field", r"(?i)\$_(?:POST|REQUEST|GET)\s*\[\s*['\"]" + _CARD_FIELDS + r"['\"]", "reads a card field from the request"),
    ("card_field_all", r"(?i)(?:json_encode|serialize|implode|http_build_query|print_r|var_export)\s*\(\s*\$_(?:POST|REQUEST)\b", "dumps the whole form"),
    ("write_out", r"(?i)\b(?:fopen|file_put_contents|fwrite|fputs|error_log)\s*\(", "writes data to a file"),
    ("send_out", r"(?i)\b(?:mail|curl_exec|fsockopen|file_get_contents\s*\(\s*['\"]https?:)\s*\(?", "sends data out"),
    ("encode", r"(?i)\b(?:base64_encode|str_rot13|gzdeflate|gzcompress|gzencode|bin2hex|openssl_encrypt)\s*\(", "encodes what it writes"),
    ("xor", r"\^\s*(?:\$\w+|chr\s*\(|0x[0-9a-fA-F]+|\d+|ord\s*\()", "XOR obfuscation"),
    ("image_disguise", r"(?i)['\"][^'\"]*\.(?:gif|png|jpe?g|ico|bmp|webp)['\"]", "writes to an image-named file"),
    ("eval", r"(?i)\b(?:eval|assert)\s*\(|base64_decode\s*\(", "hidden code"),
)


def changed_code_files(fs_files: pl.LazyFrame | pl.DataFrame, since=None, until=None, *, require_change: bool = True,
                       layout: ServerLayout | None = None) -> pl.DataFrame:
    """Code files whose mtime or ctime is in [since, until] (every code file listed when
    ``require_change`` is False: a case without file times, judged by content alone).

    Returns ``source, line_no, name, path`` (relative to server/), ``mtime, ctime, crtime, size, modified``.
    """
    lf = (
        fs_files.lazy()
        .with_columns(path=server_path_expr(pl.col("name"), layout))
        .filter(pl.col("path").is_not_null() & pl.col("path").str.contains(CODE_FILE_RX) & ~pl.col("mode").fill_null("").str.starts_with("d"))
    )

    def inside(c: str) -> pl.Expr:
        e = pl.col(c).is_not_null()
        if since is not None:
            e = e & (pl.col(c) >= since)
        if until is not None:
            e = e & (pl.col(c) <= until)
        return e

    if require_change:
        lf = lf.filter(inside("mtime") | inside("ctime"))
    lf = lf.with_columns(
        modified=pl.when(inside("mtime")).then(pl.col("mtime")).otherwise(pl.col("ctime"))
    )
    return lf.select("source", "line_no", "name", "path", "mtime", "ctime", "crtime", "size", "modified").sort("modified").collect()


def _writes_to(text: pl.Expr, layout: ServerLayout | None = None, platform: Platform = ECCUBE2) -> pl.Expr:
    """The skim path written by the code, relative to server/ (null when not read from the code).

    The first argument of ``fopen``/``file_put_contents``: its string literals joined, after the
    platform's path constant it starts from (``Platform.path_constants``: EC-CUBE's
    ``HTML_REALDIR``, ``USER_REALDIR``, ``DATA_REALDIR``); an absolute literal is a file-system
    name mapped through the case's layout; a relative one under the upload folder is below the
    document root."""
    layout = layout or ServerLayout()
    doc = layout.docroot_dir + "/" if layout.docroot_dir else ""
    bases = {"docroot": doc, "upload": doc + platform.upload_folder, "data": layout.data_dir + "/"}
    upload = re.escape(platform.upload_folder.rstrip("/")) if platform.upload_folder else None
    arg = text.str.extract(r"(?is)\b(?:fopen|file_put_contents)\s*\(\s*([^,;]{1,300}),", 1)
    lit = arg.str.extract_all(r"['\"]([^'\"]+)['\"]").list.eval(pl.element().str.strip_chars("'\"")).list.join("")
    # as file names are shown (evidence.safe_name): a backslash doubled, a byte that is not UTF-8
    # (raw in the code, or PHP's "\xNN") as \xNN
    lit = lit.str.replace_all("\\", "\\\\", literal=True).str.replace_all(r"\\\\x([89a-f][0-9a-f])", r"\x$1")
    rel = lit.str.replace_all(r"(?:^|/)\.\.?/", "/").str.replace_all("//+", "/").str.strip_prefix("/")
    out = pl.when(pl.lit(False)).then(pl.lit(None, pl.String))
    for constant, base in platform.path_constants.items():
        out = out.when(arg.str.contains(rf"\b{re.escape(constant)}\b")).then(pl.lit(bases[base]) + rel)
    out = out.when(lit.str.starts_with("/")).then(server_path_expr(lit.str.replace_all("//+", "/"), layout))
    if upload:
        out = out.when(rel.str.contains(rf"^(?:\.?/)?{upload}/")).then(pl.lit(doc) + rel.str.extract(rf"({upload}/.*)$", 1))
    return out.when(rel.str.len_chars() > 0).then(rel).otherwise(pl.lit(None, pl.String))


def tampered_files(
    fs_files: pl.LazyFrame | pl.DataFrame,
    contents: pl.DataFrame | None,
    *,
    since=None,
    until=None,
    require_change: bool = True,
    layout: ServerLayout | None = None,
    platform: Platform = ECCUBE2,
) -> pl.DataFrame:
    """Code files changed in the period with a skimmer in them (file names its code builds from
    the ``platform``'s path constants).

    ``contents``: {path (relative to server/), content} of the changed files (see
    :func:`changed_code_files`); a changed file whose content is absent cannot be judged and is
    returned with ``tampered`` null.

    Returns ``path, modified, mtime, ctime, source, line_no`` (bodyfile row), ``indicators,
    writes_to, tampered`` (bool) for every changed code file, tampered first.
    """
    changed = changed_code_files(fs_files, since, until, require_change=require_change, layout=layout)
    t = with_text(contents).select(
        "path",
        indicators=indicator_list(pl.col("text"), SKIMMER_INDICATORS),
        writes_to=_writes_to(pl.col("text"), layout, platform),
        has_text=pl.lit(True),
    )
    out = changed.join(t, on="path", how="left").with_columns(
        tampered=pl.when(pl.col("has_text").is_null())
        .then(pl.lit(None, pl.Boolean))
        .otherwise(
            (pl.col("indicators").list.contains("card_field") | pl.col("indicators").list.contains("card_field_all"))
            & (pl.col("indicators").list.contains("write_out") | pl.col("indicators").list.contains("send_out"))
        ),
        indicators=pl.col("indicators").fill_null(pl.lit([], pl.List(pl.String))),
    )
    out = out.with_columns(writes_to=pl.when(pl.col("tampered")).then(pl.col("writes_to")).otherwise(pl.lit(None, pl.String)))
    return out.select("path", "modified", "mtime", "ctime", "source", "line_no", "indicators", "writes_to", "tampered").sort(
        pl.col("tampered").fill_null(False).not_(), "modified", "path"
    )
