"""Where the shop lives on the server: document root inference and the path mappings."""

from __future__ import annotations

import polars as pl

from forensics.detectors import backdoor
from forensics.detectors.layout import ServerLayout, config_defines, infer_layout, server_path_expr, url_path_expr

from .frames import access, ts

SUBFOLDER = "/var/www/html/eccube"  # EC-CUBE installed under a folder of the web server's own html/


def _map(layout: ServerLayout, name: str) -> tuple[str | None, str | None]:
    df = pl.DataFrame({"name": [name]}).with_columns(sp=server_path_expr(pl.col("name"), layout))
    df = df.with_columns(url=url_path_expr(pl.col("sp"), layout))
    return df["sp"][0], df["url"][0]


def test_subfolder_install_voted_from_the_server_copy():
    names = pl.Series([f"{SUBFOLDER}/html/user_data/packages/default/img/logo.gif", f"{SUBFOLDER}/html/index.php",
                       f"{SUBFOLDER}/data/class/SC_Query.php", "/var/www/html/index.html"])
    copy = pl.Series(["html/user_data/packages/default/img/logo.gif", "html/index.php", "data/class/SC_Query.php"])
    layout = infer_layout(fs_names=names, server_paths=copy)
    assert layout.docroot_fs == f"{SUBFOLDER}/html" and layout.data_fs == f"{SUBFOLDER}/data"
    assert "server copy" in layout.how["document_root"]
    # the first html/ of the path is the web server's, the last one EC-CUBE's
    assert _map(layout, f"{SUBFOLDER}/html/user_data/x.php") == ("html/user_data/x.php", "/user_data/x.php")
    assert _map(layout, f"{SUBFOLDER}/data/Smarty/templates_c/a.tpl.php") == ("data/Smarty/templates_c/a.tpl.php", None)


def test_public_html_and_case_setting():
    copy = pl.Series(["public_html/define.php", "public_html/user_data/a.css"])
    layout = infer_layout(document_root="/home/shop/public_html/", server_paths=copy)
    assert layout.docroot_dir == "public_html" and layout.docroot_fs == "/home/shop/public_html"
    assert layout.how["document_root"] == "site.document_root in case.yml"
    assert _map(layout, "/home/shop/public_html/user_data/x.php") == ("public_html/user_data/x.php", "/user_data/x.php")


def test_upload_destinations_and_last_html_folder():
    up = infer_layout(upload_dests=pl.Series(["/srv/shop/www/user_data/include/x.php"]))
    assert up.docroot_fs == "/srv/shop/www"
    last = infer_layout(fs_names=pl.Series([f"{SUBFOLDER}/html/user_data/x.php", f"{SUBFOLDER}/html/index.php"]))
    assert last.docroot_fs == f"{SUBFOLDER}/html"
    none = infer_layout()
    assert none.docroot_fs is None and _map(none, f"{SUBFOLDER}/html/user_data/x.php")[0] == "html/user_data/x.php"


def test_url_root_from_config():
    text = "<?php\ndefine('HTTP_URL', 'http://shop.example/shop/');\ndefine('ROOT_URLPATH', '/shop/');\ndefine('ADMIN_DIR', 'kanri/');\n"
    assert config_defines(text)["ADMIN_DIR"] == "kanri/"
    layout = infer_layout(document_root="/srv/www", config_text=text)
    assert _map(layout, "/srv/www/user_data/x.php") == ("html/user_data/x.php", "/shop/user_data/x.php")


def test_deleted_webshell_under_a_subfolder_install_is_a_backdoor():
    name = f"{SUBFOLDER}/html/user_data/x.php"
    fs = pl.DataFrame({
        "source": ["fs/bodyfile.txt"], "line_no": [7], "md5": ["0"], "name": [name], "deleted": [True],
        "realloc": [False], "fn_attr": [False], "link_target": [None], "inode": ["9"], "mode": ["r/rrw-r--r--"],
        "uid": [48], "gid": [48], "size": [120], "atime": [None], "mtime": [ts("2017-03-31 14:31:07")],
        "ctime": [ts("2017-03-31 14:31:07")], "crtime": [ts("2017-03-31 14:31:07")]},
        schema_overrides={"atime": pl.Datetime("us", "UTC"), "link_target": pl.String})
    layout = infer_layout(fs_names=fs["name"], server_paths=pl.Series(["html/index.php", "html/user_data/a/b.css"]))
    acc = access([{"ts": "2017-04-01 01:00:00", "client_ip": "192.0.2.233", "target": "/user_data/x.php", "method": "POST"}])
    app = pl.DataFrame(schema={"ts": pl.Datetime("us", "UTC"), "source": pl.String, "line_no": pl.Int64, "ip": pl.String,
                               "event": pl.String, "upload_name": pl.String, "upload_dest": pl.String, "sid": pl.String})
    out = backdoor.backdoors(app_log=app, access=acc, fs_files=fs, since=ts("2017-03-19 00:00:00"), layout=layout)
    row = out.row(0, named=True)
    assert row["url_path"] == "/user_data/x.php" and row["server_path"] == "html/user_data/x.php"
    assert row["requests"] == 1 and row["requesters"] == ["192.0.2.233"]


def test_a_name_outside_the_known_document_root_falls_back_to_its_last_html_folder():
    layout = infer_layout(document_root="/var/www/eccube/html", server_paths=pl.Series(["html/index.php"]))
    assert _map(layout, "/var/www/html/user_data/x.php") == ("html/user_data/x.php", "/user_data/x.php")
    assert _map(layout, "/var/www/eccube/data/Smarty/templates_c/a.tpl.php")[0] == "data/Smarty/templates_c/a.tpl.php"
