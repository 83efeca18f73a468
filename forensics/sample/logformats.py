r"""Access-log formats the sample can be written in, each as its server writes it.

The simulation writes every request as an Apache ``combined`` line; an option (``log_common``,
``log_vhost_combined``, ``log_nginx``, ``log_w3c``) rewrites each line as that server would have
logged the same request. Nothing here reads the analysis: these writers know their own input
(the generator's lines never hold an escape, a space in a target, or a byte above 0x7E).

``common``
    Apache's Common Log Format ``%h %l %u %t "%r" %>s %b``: what RHEL's ``ssl.conf`` writes to
    ``logs/ssl_access_log`` (its ``TransferLog`` takes httpd.conf's default ``LogFormat``, common);
    documented in https://httpd.apache.org/docs/2.4/logs.html#common. No referer, no user agent.
``vhost_combined``
    Debian's ``other_vhosts_access.log`` (``/etc/apache2/apache2.conf``: ``LogFormat "%v:%p %h %l
    %u %t \"%r\" %>s %O \"%{Referer}i\" \"%{User-Agent}i\"" vhost_combined``). ``%O`` counts the
    bytes sent with the headers (mod_logio), never ``-``.
``nginx``
    nginx's predefined ``combined`` ``log_format`` (https://nginx.org/en/docs/http/ngx_http_log_module.html
    #log_format): ``$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent
    "$http_referer" "$http_user_agent"``; ``$body_bytes_sent`` is ``0`` for no body, and with the
    default ``escape=default`` a ``"``, a ``\`` and bytes outside 0x20-0x7E are written ``\xHH``.
``w3c``
    IIS's W3C extended log with its default field set (IIS Manager, Logging, W3C, Select Fields;
    https://learn.microsoft.com/en-us/iis/configuration/system.applicationhost/sites/site/logfile/):
    ``date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent)
    cs(Referer) sc-status sc-substatus sc-win32-status time-taken``, times in UTC whatever the
    server's zone, a space in a value written ``+``, ``-`` for an empty field, and a header block
    (``#Software``, ``#Version``, ``#Date``, ``#Fields``) at the top of every file. The default
    field set has no ``sc-bytes``: the sizes are not in this log. The files keep the sample's
    names (``access_log-YYYYMMDD.gz``) so the case file is the same; IIS itself names them
    ``u_exYYMMDD.log``.
"""

from __future__ import annotations

import re
import time

#: option name -> format name.
OPTION_FORMATS = {"log_common": "common", "log_vhost_combined": "vhost_combined", "log_nginx": "nginx",
                  "log_w3c": "w3c"}

#: The generator's own combined lines (as :meth:`forensics.sample.sim.Sim.access_line` writes them).
_LINE = re.compile(r'^(?P<ip>\S+) (?P<ident>\S+) (?P<user>\S+) \[(?P<t>[^\]]+)\] "(?P<method>\S+) (?P<target>\S+) '
                   r'(?P<proto>HTTP/[0-9.]+)" (?P<status>[0-9]{3}) (?P<size>[0-9]+|-) "(?P<ref>[^"\\]*)" '
                   r'"(?P<ua>[^"\\]*)"$')

#: The shop's host name and port, and the server's address (an RFC 1918 address of the host).
VHOST, PORT, SERVER_IP = "toshomart.com", 443, "10.0.10.21"
W3C_FIELDS = ("date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) "
              "cs(Referer) sc-status sc-substatus sc-win32-status time-taken")
#: Response header bytes that ``%O`` adds to the body, by status (what Apache 2.4 sends for the
#: shop's pages: a Set-Cookie on pages, a Location on redirects, none of them on a 304).
_HEADER_BYTES = {200: 312, 302: 398, 304: 181, 404: 224, 500: 231}


def _nginx_escape(value: str) -> str:
    return "".join(c if 0x20 <= ord(c) <= 0x7E and c not in '"\\' else
                   "".join(f"\\x{b:02X}" for b in c.encode("utf-8", "surrogateescape")) for c in value)


def _plus(value: str) -> str:
    return value.replace(" ", "+") or "-"


def _rewrite(fmt: str, line: str, t: int) -> str:
    m = _LINE.match(line)
    if m is None:
        raise ValueError(f"sample access line not in the generator's combined layout: {line[:120]!r}")
    g = m.groupdict()
    request = f'{g["method"]} {g["target"]} {g["proto"]}'
    if fmt == "common":
        return f'{g["ip"]} {g["ident"]} {g["user"]} [{g["t"]}] "{request}" {g["status"]} {g["size"]}'
    if fmt == "vhost_combined":
        body = 0 if g["size"] == "-" else int(g["size"])
        sent = body + _HEADER_BYTES.get(int(g["status"]), 240)
        return (f'{VHOST}:{PORT} {g["ip"]} {g["ident"]} {g["user"]} [{g["t"]}] "{request}" {g["status"]} {sent} '
                f'"{g["ref"]}" "{g["ua"]}"')
    if fmt == "nginx":
        size = "0" if g["size"] == "-" else g["size"]
        return (f'{g["ip"]} - {g["user"]} [{g["t"]}] "{_nginx_escape(request)}" {g["status"]} {size} '
                f'"{_nginx_escape(g["ref"])}" "{_nginx_escape(g["ua"])}"')
    if fmt == "w3c":
        stem, _, query = g["target"].partition("?")
        body = 0 if g["size"] == "-" else int(g["size"])
        taken = 15 + body // 1024  # milliseconds: a deterministic stand-in for the server's timing
        return " ".join((time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t)), SERVER_IP, g["method"], _plus(stem),
                         _plus(query), str(PORT), g["user"], g["ip"], _plus(g["ua"]), _plus(g["ref"]), g["status"],
                         "0", "0", str(taken)))
    raise ValueError(f"unknown access-log format {fmt!r}")


def rewrite(fmt: str, text: str, t: int) -> str:
    """``text`` (one or more generator combined lines, ``\\n``-separated, logged at epoch ``t``) in
    format ``fmt``."""
    return "\n".join(_rewrite(fmt, line, t) for line in text.split("\n"))


def header(fmt: str, start: int) -> str:
    """The lines a file of format ``fmt`` begins with (``start``: when the file was begun)."""
    if fmt != "w3c":
        return ""
    return ("#Software: Microsoft Internet Information Services 10.0\n#Version: 1.0\n"
            f"#Date: {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(start))}\n#Fields: {W3C_FIELDS}\n")


#: A request whose line the plant cuts short: the generator's combined line in full.
TRUNCATED_FULL = ('126.12.88.41 - - [24/Mar/2017:12:00:03 +0900] "GET /products/detail.php?product_id=7 HTTP/1.1" '
                  '200 15320 "https://toshomart.com/products/list.php?category_id=3" '
                  '"Mozilla/5.0 (Windows NT 6.1; Trident/7.0; rv:11.0) like Gecko"')


def truncated_plant(fmt: str, t: int) -> tuple[str, str]:
    """(what, line) of the planted truncated line in format ``fmt``: the same request cut short
    where that format can show it (inside the referer; inside the request line for ``common``,
    which has no referer; after ``cs-uri-query`` for ``w3c``, which then lacks fields)."""
    line = rewrite(fmt, TRUNCATED_FULL, t)
    if fmt == "common":
        return "truncated access-log line (cut inside the request line)", line[:line.index(" HTTP/1.1") + 4]
    if fmt == "w3c":
        return ("truncated access-log line (cut after cs-uri-query: too few fields)",
                line[:line.index("product_id=7") + len("product_id=7")])
    return ("truncated access-log line (cut inside the referer, no user agent)",
            line[:line.index("list.php?categ") + len("list.php?categ")])
