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
    # a shop member logs in (login_check.php, or entry/index.php right after registering, as
    # CUSTOMER_CONFIRM_MAIL is false): SC_Customer::startSession; REMOTE_HOST if set, else REMOTE_ADDR
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
