"""Every EC-CUBE app-log message the generator writes: template, log file, and the source that writes it.

EC-CUBE 2.13.5 writes its logs with ``GC_Utils::gfPrintLog`` (``data/class/util/GC_Utils.php``)::

    YYYY/MM/DD HH:MM:SS [SCRIPT_NAME] MESSAGE from REMOTE_ADDR

into ``data/logs/site.log`` (shop pages), ``admin.log`` (admin pages) or the file the caller names
(``customer.log`` for member logins; file names from ``data/mtb_constants_init.php``:
``LOG_REALFILE``, ``ADMIN_LOG_REALFILE``, ``CUSTOMER_LOG_REALFILE``, ``ERROR_LOG_REALFILE``).
Under ``DEBUG_MODE`` (``USE_VERBOSE_LOG``) each record goes on with the session and a backtrace.

The generator writes a message only through :func:`render`, with a key of :data:`TEMPLATES`; the
sample tests match every line of a generated case against this table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Template:
    text: str      # str.format template of the MESSAGE part
    log: str       # the log file it goes to
    source: str    # the EC-CUBE 2.13.5 file (and function) that writes it


TEMPLATES: dict[str, Template] = {
    # an SQL error: SC_Query::execute -> traceError (SQL, placeholders var_export'ed, the MDB2 error
    # and its user info: data/module/MDB2.php raiseError with mysql_error()'s text) -> error ->
    # trigger_error(E_USER_ERROR) -> SC_Helper_HandleError::handle_warning, always verbose
    "sql_error": Template(
        "Fatal error(E_USER_ERROR): DB処理でエラーが発生しました。\nSQL: [{sql}]\nPlaceHolder: [array (\n)]\n"
        "MDB2 Error: syntax error\n_doQuery: [Error message: Could not execute statement]\n"
        "[Last executed query: {sql}]\n[Native code: 1064]\n[Native message: {native}]\n"
        " on [{data_dir}/class/SC_Query.php(1095)]",
        "error.log", "data/class/helper/SC_Helper_HandleError.php handle_warning"),
    # admin login succeeded: lfSetLoginData. The sid is SC_Session::GetSID() of a session object
    # built before the certificate is set, so on a fresh login it is empty.
    "admin_login": Template("login: user={login_id}({member_id}) auth={auth} lastlogin={lastlogin} sid={sid}",
                            "admin.log", "data/class/pages/admin/LC_Page_Admin_Index.php lfSetLoginData"),
    # admin login failed (the ID passed the format check, the password did not match): lfSetIncorrectData
    "admin_login_failed": Template("{login_id} password incorrect.", "admin.log",
                                   "data/class/pages/admin/LC_Page_Admin_Index.php lfSetIncorrectData"),
    # every authenticated admin page (SC_Helper_Session::adminAuthorization builds an SC_Session)
    "admin_access": Template("access : user={login_id} auth={auth} sid={sid}", "admin.log",
                             "data/class/SC_Session.php __construct"),
    # an SC_Session built without a certificate: on a login, before lfSetLoginSession sets it
    "admin_access_error": Template("access error.", "admin.log", "data/class/SC_Session.php __construct"),
    "admin_logout": Template("logout : user={login_id} auth={auth} sid={sid}", "admin.log",
                             "data/class/SC_Session.php logout"),
    # the file manager (contents/file_manager.php mode=upload): makeTempFile($keyname, false), no rename
    "upload": Template("{name} -> {dir}{file}", "admin.log", "data/class/SC_UploadFile.php makeTempFile"),
    "upload_failed": Template("File Upload Error!: {name} -> {dir}{file}", "admin.log",
                              "data/class/SC_UploadFile.php makeTempFile"),
    # a shop member logs in (login_check.php, the login form of shopping/index.php, or entry/index.php
    # right after registering, as CUSTOMER_CONFIRM_MAIL is false): SC_Customer::startSession; the host
    # is REMOTE_HOST if set, else REMOTE_ADDR
    "member_login": Template("access : user={customer_id}\tip={host}", "customer.log",
                             "data/class/SC_Customer.php startSession"),
    # a member logs out or withdraws (mypage/refusal.php): SC_Customer::EndSession
    "member_logout": Template("logout : user={customer_id}\tip={host}", "customer.log",
                              "data/class/SC_Customer.php EndSession"),
    # every order at shopping/confirm.php, card-module orders included (completeOrder(ORDER_PENDING))
    "order_complete": Template("order complete. order_id={order_id}", "site.log",
                               "data/class/helper/SC_Helper_Purchase.php completeOrder"),
}


def render(key: str, **values) -> str:
    """The MESSAGE of template ``key`` with ``values`` filled in."""
    return TEMPLATES[key].text.format(**values)


def template_regex(key: str) -> re.Pattern:
    """A regex matching any message rendered from template ``key`` (every field: any text without newline)."""
    parts = re.split(r"(\{[a-z_]+\})", TEMPLATES[key].text)
    rx = "".join("[^\n]*?" if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile(f"^{rx}$")


def match_template(message: str, log: str) -> str | None:
    """The key of the template of ``log`` that ``message`` matches (most specific first), else None."""
    for key in sorted(TEMPLATES, key=lambda k: -len(TEMPLATES[k].text.replace("{", "").replace("}", ""))):
        if TEMPLATES[key].log == log and template_regex(key).match(message):
            return key
    return None


# ------------------------------------------------------------------------------------------------
# DEBUG_MODE (USE_VERBOSE_LOG): gfPrintLog goes on with the session and toStringBacktrace's frames,
# innermost first, ``FILE(LINE): Class::function`` (line numbers of EC-CUBE 2.13.5). customer.log
# lines are never verbose: SC_Customer passes $verbose = false.

_GC = ("data/class/util/GC_Utils.php", 200, "GC_Utils::getDebugBacktrace")


def _page_chain(script: str, cls: str, action_line: int, process_line: int) -> list[tuple[str, int, str]]:
    return [(f"data/class/pages/{cls[1]}", action_line, f"{cls[0]}->action"),
            (f"html{script}", process_line, f"{cls[0]}->process")]


def _admin_require(script: str) -> list[tuple[str, int, str]]:
    """adminAuthorization runs while the page's require.php loads (data/require_base.php)."""
    nested = script.count("/") > 2
    out = [("data/require_base.php", 51, "SC_Helper_Session->adminAuthorization"),
           ("html/admin/require.php", 32, "require_once")]
    return out + [(f"html{script}", 24 if nested else 23, "require_once")]


_INDEX = ("LC_Page_Admin_Index", "admin/LC_Page_Admin_Index.php")
_LOGOUT = ("LC_Page_Admin_Logout", "admin/LC_Page_Admin_Logout.php")

#: template key -> its frames below gfPrintLog's own (caller first), by script
BACKTRACES = {
    "admin_access": lambda script: (
        [("data/class/SC_Session.php", 61, "GC_Utils::gfPrintLog"),
         ("data/class/pages/admin/LC_Page_Admin_Logout.php", 75, "SC_Session->__construct"),
         ("data/class/pages/admin/LC_Page_Admin_Logout.php", 62, "LC_Page_Admin_Logout->lfDoLogout")]
        + _page_chain(script, _LOGOUT, 52, 28)
        if script.endswith("/logout.php") else
        [("data/class/SC_Session.php", 61, "GC_Utils::gfPrintLog"),
         ("data/class/helper/SC_Helper_Session.php", 252, "SC_Session->__construct")] + _admin_require(script)),
    "admin_access_error": lambda script: [
        ("data/class/SC_Session.php", 64, "GC_Utils::gfPrintLog"),
        ("data/class/pages/admin/LC_Page_Admin_Index.php", 191, "SC_Session->__construct"),
        ("data/class/pages/admin/LC_Page_Admin_Index.php", 171, "LC_Page_Admin_Index->lfSetLoginSession"),
        ("data/class/pages/admin/LC_Page_Admin_Index.php", 75, "LC_Page_Admin_Index->lfDoLogin")]
        + _page_chain(script, _INDEX, 54, 28),
    "admin_login": lambda script: [
        ("data/class/pages/admin/LC_Page_Admin_Index.php", 223, "GC_Utils::gfPrintLog"),
        ("data/class/pages/admin/LC_Page_Admin_Index.php", 173, "LC_Page_Admin_Index->lfSetLoginData"),
        ("data/class/pages/admin/LC_Page_Admin_Index.php", 75, "LC_Page_Admin_Index->lfDoLogin")]
        + _page_chain(script, _INDEX, 54, 28),
    "admin_login_failed": lambda script: [
        ("data/class/pages/admin/LC_Page_Admin_Index.php", 244, "GC_Utils::gfPrintLog"),
        ("data/class/pages/admin/LC_Page_Admin_Index.php", 123, "LC_Page_Admin_Index->lfSetIncorrectData"),
        ("data/class/pages/admin/LC_Page_Admin_Index.php", 73, "LC_Page_Admin_Index->lfCheckError")]
        + _page_chain(script, _INDEX, 54, 28),
    "admin_logout": lambda script: [
        ("data/class/SC_Session.php", 150, "GC_Utils::gfPrintLog"),
        ("data/class/pages/admin/LC_Page_Admin_Logout.php", 76, "SC_Session->logout"),
        ("data/class/pages/admin/LC_Page_Admin_Logout.php", 62, "LC_Page_Admin_Logout->lfDoLogout")]
        + _page_chain(script, _LOGOUT, 52, 28),
    "upload": lambda script: [
        ("data/class/SC_UploadFile.php", 134, "GC_Utils::gfPrintLog"),
        ("data/class/pages/admin/contents/LC_Page_Admin_Contents_FileManager.php", 171, "SC_UploadFile->makeTempFile")]
        + _page_chain(script, ("LC_Page_Admin_Contents_FileManager", "admin/contents/LC_Page_Admin_Contents_FileManager.php"), 57, 29),
    "upload_failed": lambda script: [
        ("data/class/SC_UploadFile.php", 137, "GC_Utils::gfPrintLog"),
        ("data/class/pages/admin/contents/LC_Page_Admin_Contents_FileManager.php", 171, "SC_UploadFile->makeTempFile")]
        + _page_chain(script, ("LC_Page_Admin_Contents_FileManager", "admin/contents/LC_Page_Admin_Contents_FileManager.php"), 57, 29),
    "sql_error": lambda script: [
        ("data/class/helper/SC_Helper_HandleError.php", 100, "GC_Utils::gfPrintLog"),
        ("data/class/SC_Query.php", 1095, "SC_Helper_HandleError::handle_warning"),
        ("data/class/SC_Query.php", 1095, "trigger_error"),
        ("data/class/SC_Query.php", 1056, "SC_Query->error"),
        ("data/class/SC_Query.php", 704, "SC_Query->execute"),
        ("data/class/SC_Query.php", 157, "SC_Query->getOne"),
        ("data/class/SC_Product.php", 108, "SC_Query->count"),
        ("data/class/pages/products/LC_Page_Products_List.php", 356, "SC_Product->findProductCount"),
        ("data/class/pages/products/LC_Page_Products_List.php", 137, "LC_Page_Products_List->lfGetProductAllNum")]
        + _page_chain(script, ("LC_Page_Products_List", "products/LC_Page_Products_List.php"), 83, 29),
    "order_complete": lambda script: [
        ("data/class/helper/SC_Helper_Purchase.php", 103, "GC_Utils::gfPrintLog"),
        ("data/class/pages/shopping/LC_Page_Shopping_Confirm.php", 164, "SC_Helper_Purchase->completeOrder")]
        + _page_chain(script, ("LC_Page_Shopping_Confirm", "shopping/LC_Page_Shopping_Confirm.php"), 63, 29),
}


def verbose_lines(key: str, script: str, docroot: str, *, admin: tuple | None = None, customer_id="") -> list[str]:
    """The lines gfPrintLog adds under DEBUG_MODE: ``login_id = ID(AUTH)[SID]`` on an admin page
    (``admin`` = (login_id, authority, session_id()), empty where the session holds none yet),
    ``customer_id = N`` on a shop page (empty for a guest), then the backtrace."""
    out = []
    if admin is not None:
        login_id, auth, sid = admin
        out.append(f"login_id = {login_id}({auth})[{sid}]")
    else:
        out.append(f"customer_id = {customer_id}")
    frames = [_GC] + BACKTRACES[key](script)
    out += [f"{docroot}/{f}({n}): {fn}" for f, n, fn in frames]
    return out
