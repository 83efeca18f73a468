r"""Access-log formats as data: an Apache ``LogFormat`` string compiled into one anchored regex.

A format is a value (:class:`AccessFormat`) compiled from its definition, never code per format.
The named formats are Apache's stock ones::

    combined        %h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"
    common          %h %l %u %t "%r" %>s %b
    vhost_combined  %v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i"

nginx's default ``combined`` ``log_format`` writes the same fields in the same places (it escapes a
quote as ``\x22``), so ``combined`` reads it. Directives understood (mod_log_config): ``%h %a %l %u
%t %r %s %>s %b %B %O %I %D %T %v %V %p %U %q %m %H`` and ``%{Header}i``; the fields the access
table has a column for go there (``client_ip``, ``ident``, ``remote_user``, ``request``,
``status``, ``bytes``, ``referer``, ``user_agent``, and the typed ``vhost``, ``port``,
``duration_us``, ``forwarded_for``, ``bytes_sent``, ``bytes_received``), every other one goes to
``extra`` as ``name=value`` (``header_x_request_id=abc``). A quoted directive reads a quoted
field (``\"`` and ``\\`` escapes inside). Every piece of the regex is decided by the next
character, so the parse of a line is unique and linear in its length.

:func:`detect_format` tells a file's format from its first lines: the named formats are tried in
the order of :data:`NAMED_FORMATS` and the one matching the most lines wins (a tie goes to the
earlier one); ``combined`` allows trailing fields, the others must match whole lines.

The W3C extended log format (IIS, CloudFront) is not a line pattern: its ``#Fields:`` directives
name the fields of the lines after them, and may change within a file. :data:`W3C` names that
format; :func:`w3c_fields` reads a ``#Fields:`` directive, and the access-log loader finds each
file's directives before parsing its lines. A head with a ``#Fields:``, ``#Version:`` or IIS
``#Software:`` directive is detected as ``w3c``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from forensics.errors import FormatError

#: Inside a quoted field: no quote or backslash, except escape pairs.
QUOTED = r'[^"\\]*(?:\\.[^"\\]*)*'
#: Apache ``%t`` inside its brackets, nginx ``$time_local``: ``10/Oct/2000:13:55:36 -0700``.
TIME = r"[0-9][0-9]/[A-Za-z]{3}/[0-9]{4}:[0-9][0-9]:[0-9][0-9]:[0-9][0-9] [+-][0-9]{4}"
#: nginx ``$time_iso8601``: ``2000-10-10T13:55:36-07:00``.
ISO_TIME = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:[+-][0-9]{2}:[0-9]{2}|Z)"

#: Directive -> (field name, regex of its value when not quoted). Field names that are columns of
#: the access table keep that name; the others go to ``extra``.
DIRECTIVES: dict[str, tuple[str, str]] = {
    "h": ("client_ip", r"[^ ]+"),
    "a": ("client_ip", r"[^ ]+"),
    "l": ("ident", r"[^ ]+"),
    "u": ("remote_user", r"[^ ]+"),
    "t": ("t", r"\[" + TIME + r"\]"),
    "r": ("request", r"[^ ]+ [^ ]+ [^ ]+"),
    "s": ("status", r"[0-9]{3}"),
    ">s": ("status", r"[0-9]{3}"),
    "b": ("bytes", r"[0-9]+|-"),
    "B": ("bytes", r"[0-9]+"),
    "O": ("bytes_sent", r"[0-9]+|-"),
    "I": ("bytes_received", r"[0-9]+|-"),
    "D": ("duration_us", r"[0-9]+"),
    "T": ("duration_s", r"[0-9]+"),
    "v": ("vhost", r"[^ :]+"),
    "V": ("vhost", r"[^ :]+"),
    "p": ("port", r"[0-9]+"),
    "U": ("url_path", r"[^ ]+"),
    "q": ("query_string", r"[^ ]*"),
    "m": ("method", r"[A-Za-z_-]+"),
    "H": ("protocol", r"[^ ]+"),
    "{Referer}i": ("referer", r"[^ ]+"),
    "{User-Agent}i": ("user_agent", r"[^ ]+"),
    "{X-Forwarded-For}i": ("forwarded_for", r"[^ ]+"),
}

#: Fields the access table has a column for (the rest go to ``extra``); a time in seconds becomes
#: ``duration_us``, an ISO time ``t``.
TABLE_FIELDS = ("client_ip", "ident", "remote_user", "t", "t_iso", "request", "status", "bytes", "referer", "user_agent",
                "vhost", "port", "duration_us", "duration_s", "forwarded_for", "bytes_sent", "bytes_received")

#: nginx variable -> (field name, regex of its value when not quoted) (ngx_http_log_module and
#: ngx_http_core_module variables); ``$http_NAME`` is the request header NAME, any other variable
#: its own field.
NGINX_VARIABLES: dict[str, tuple[str, str]] = {
    "remote_addr": ("client_ip", r"[^ ]+"),
    "binary_remote_addr": ("client_ip", r"[^ ]+"),
    "remote_user": ("remote_user", r"[^ ]+"),
    "time_local": ("t", TIME),
    "time_iso8601": ("t_iso", ISO_TIME),
    "request": ("request", r"[^ ]+ [^ ]+ [^ ]+"),
    "status": ("status", r"[0-9]{3}"),
    "body_bytes_sent": ("bytes", r"[0-9]+|-"),
    "bytes_sent": ("bytes_sent", r"[0-9]+|-"),
    "request_length": ("bytes_received", r"[0-9]+|-"),
    "request_time": ("duration_s", r"[0-9]+(?:\.[0-9]+)?|-"),
    "upstream_response_time": ("upstream_time", r"[^ ]+"),
    "host": ("vhost", r"[^ ]+"),
    "server_name": ("vhost", r"[^ ]+"),
    "server_port": ("port", r"[0-9]+"),
    "request_method": ("method", r"[A-Za-z_-]+"),
    "request_uri": ("url", r"[^ ]+"),
    "server_protocol": ("protocol", r"[^ ]+"),
    "scheme": ("scheme", r"[a-z]+"),
    "http_referer": ("referer", r"[^ ]+"),
    "http_user_agent": ("user_agent", r"[^ ]+"),
    "http_x_forwarded_for": ("forwarded_for", r"[^ ]+"),
}
_NGINX_TOKEN = re.compile(r"\$(?:\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))")
_NGINX_ESCAPE = re.compile(r"^\s*escape=(default|json|none)\s+")

NAMED_FORMATS: dict[str, str] = {
    "combined": '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"',
    "vhost_combined": '%v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i"',
    "common": '%h %l %u %t "%r" %>s %b',
}
#: nginx's default log_format writes what Apache's combined writes.
ALIASES = {"nginx": "combined"}

_TOKEN = re.compile(r"%(?:!?[0-9,]*)?(?:\{([^}]*)\})?([<>]?[a-zA-Z%])")

#: The named format of W3C extended logs (IIS, CloudFront, others): no line pattern, the fields of
#: each line are named by the last ``#Fields:`` directive before it.
W3C_NAME = "w3c"
#: Every name a case file may give as ``evidence.access_logs.format``.
FORMAT_NAMES = (*NAMED_FORMATS, *ALIASES, W3C_NAME)


@dataclass(frozen=True)
class Literal:
    """Text a format writes as it is between fields."""

    text: str


@dataclass(frozen=True)
class Field:
    """A field of a format: its name, the regex of its value, and whether it sits inside double
    quotes (then its value is :data:`QUOTED`, or, for one of several fields inside one pair of
    quotes, :data:`QUOTED` stopping at the text after it)."""

    name: str
    value: str
    quoted: bool


@dataclass(frozen=True)
class AccessFormat:
    """A compiled access-log format: ``regex`` (anchored, one named group per field, then
    ``rest`` for trailing text), the ``fields`` it yields, in order, and its ``pieces`` (the
    same regex as a sequence of :class:`Literal` and :class:`Field`, for a native scanner)."""

    name: str
    definition: str
    regex: str
    fields: tuple[str, ...]
    pieces: tuple[Literal | Field, ...] = field(default=(), compare=False)

    @property
    def extra_fields(self) -> tuple[str, ...]:
        return tuple(f for f in self.fields if f not in TABLE_FIELDS)


def _assemble(body: str, tokens: re.Pattern, read) -> tuple[str, tuple[str, ...], tuple[Literal | Field, ...]]:
    """The anchored regex, the field names and the pieces of a format string: text between
    tokens is literal; ``read(match)`` says what a token is: a ``str`` of literal text (``%%``),
    or ``(field name, value regex)``, or ``(field name, value regex, (before, after))`` for a
    value always written between those two texts (Apache's ``[%t]``). A field inside double
    quotes reads a quoted field; a name used twice gets ``_2``, ``_3``..."""
    pieces: list[Literal | Field] = []
    names: list[str] = []

    def literal(text: str) -> None:
        if not text:
            return
        if pieces and isinstance(pieces[-1], Literal):
            pieces[-1] = Literal(pieces[-1].text + text)
        else:
            pieces.append(Literal(text))

    pos = 0
    for m in tokens.finditer(body):
        literal(body[pos:m.start()])
        pos = m.end()
        token = read(m)
        if isinstance(token, str):
            literal(token)
            continue
        field_name, value, *wrap = token
        if field_name in names:
            field_name = f"{field_name}_{names.count(field_name) + 1}"
        in_quotes = not wrap and body[:m.start()].count('"') % 2 == 1
        before, after = wrap[0] if wrap else ("", "")
        literal(before)
        pieces.append(Field(field_name, QUOTED if in_quotes else value, in_quotes))
        literal(after)
        names.append(field_name)
    literal(body[pos:])
    for k, piece in enumerate(pieces[:-1]):
        after = pieces[k + 1]
        if isinstance(piece, Field) and piece.quoted and isinstance(after, Literal) and after.text[0] != '"':
            # one of several fields inside one pair of quotes ("%m %U%q %H"): it ends at the text
            # after it, so the parse stays decided by the next character
            stop = re.escape(after.text[0])
            pieces[k] = Field(piece.name, rf'[^"\\{stop}]*(?:\\.[^"\\{stop}]*)*', True)
    regex = "".join(_piece_regex(p) for p in pieces)
    return "^" + regex + "(?P<rest>.*)$", tuple(names), tuple(pieces)


def quoted_sections(fmt: AccessFormat) -> tuple[str, dict[str, str]] | None:
    """``fmt.regex`` in two steps, for a format with several fields inside one pair of quotes
    (``"%m %U%q %H"``): an outer regex where each such pair's text is one group (``_q0``,
    ``_q1``, ...: :data:`QUOTED`), and for each the anchored regex of its fields, or None when the
    format has no such pair.

    Splitting a quoted text into its fields needs a backtracking engine's choices; done over the
    whole line that holds every group of the line back, done over the quoted text alone it is
    fast. They read the same: every field inside the quotes stops at an unescaped ``"``, so the
    pair's text ends at its first one either way, and the choices inside it are the same
    (literals inside the quotes with a backslash, which could pair differently, are not split)."""
    pieces = list(fmt.pieces)
    out: list[str] = []
    inner: dict[str, str] = {}
    k = 0
    while k < len(pieces):
        piece = pieces[k]
        if isinstance(piece, Field) and piece.quoted:
            end = k
            while end < len(pieces) and (isinstance(pieces[end], Field) and pieces[end].quoted
                                         or isinstance(pieces[end], Literal) and not pieces[end].text.startswith('"')):
                end += 1
            run = pieces[k:end]
            # closed by a literal that starts with the closing quote (not by a field the quotes
            # do not hold, such as a bracketed time)
            closed = end < len(pieces) and isinstance(pieces[end], Literal)
            if closed and sum(isinstance(p, Field) for p in run) > 1 and not any(
                    isinstance(p, Literal) and ("\\" in p.text or '"' in p.text) for p in run):
                name = f"_q{len(inner)}"
                inner[name] = "^" + "".join(_piece_regex(p) for p in run) + "$"
                out.append(f"(?P<{name}>{QUOTED})")
                k = end
                continue
        out.append(_piece_regex(piece))
        k += 1
    return ("^" + "".join(out) + "(?P<rest>.*)$", inner) if inner else None


def _piece_regex(p: Literal | Field) -> str:
    return re.escape(p.text) if isinstance(p, Literal) else f"(?P<{p.name}>{p.value})"


def _nginx_token(m: re.Match) -> tuple[str, str]:
    var = m.group(1) or m.group(2)
    if var in NGINX_VARIABLES:
        return NGINX_VARIABLES[var]
    if var.startswith("http_"):
        return "header_" + var[5:], r"[^ ]+"
    return var, r"[^ ]+"


def compile_nginx_format(definition: str, name: str | None = None) -> AccessFormat:
    """Compile an nginx ``log_format`` string (``$variable`` tokens; an ``escape=default|json|none``
    prefix as nginx takes it: every escape reads inside a quoted field, ``\\x22`` and ``\\"``
    alike)."""
    regex, fields, pieces = _assemble(_NGINX_ESCAPE.sub("", definition), _NGINX_TOKEN, _nginx_token)
    if not fields:
        raise FormatError(f"nginx log_format {definition!r}: no $variable in it")
    return AccessFormat(name or "custom nginx", definition, regex, fields, pieces)


def compile_format(definition: str, name: str | None = None) -> AccessFormat:
    """Compile a named format, an Apache ``LogFormat`` string (as ``httpd.conf`` writes it between
    its quotes, ``\\"`` for a quote, or with plain quotes), or an nginx ``log_format`` string (told
    by its ``$variable`` tokens and the absence of ``%`` directives)."""
    key = ALIASES.get(definition, definition)
    if key == W3C_NAME:
        return W3C
    if key in NAMED_FORMATS:
        name, definition = name or key, NAMED_FORMATS[key]
    elif "$" in definition and not _TOKEN.search(definition):
        return compile_nginx_format(definition, name)
    # copied from httpd.conf as it stands there: its config reader makes \" a quote
    definition = definition.replace('\\"', '"')

    def read(m: re.Match):
        arg, letter = m.group(1), m.group(2)
        if letter == "%":
            return "%"
        directive = f"{{{arg}}}{letter}" if arg is not None else letter
        if directive in DIRECTIVES:
            field_name, value = DIRECTIVES[directive]
            return ("t", TIME, ("[", "]")) if field_name == "t" else (field_name, value)
        if arg is not None and letter == "i":
            return "header_" + re.sub(r"[^A-Za-z0-9]+", "_", arg).lower(), r"[^ ]+"
        raise FormatError(f"access-log format {definition!r}: directive %{directive} is not supported")

    regex, fields, pieces = _assemble(definition, _TOKEN, read)
    return AccessFormat(name or "custom", definition, regex, fields, pieces)


COMBINED = compile_format("combined")
W3C = AccessFormat(W3C_NAME, "W3C extended log format (fields named by #Fields: directives)", "", ())

#: A head line that only a W3C extended log starts with (https://www.w3.org/TR/WD-logfile.html:
#: directives ``#Version``, ``#Fields``, ``#Software``, ``#Date``...).
_W3C_HEAD = re.compile(r"^#(?:Fields:|Version:|Software: Microsoft Internet Information Services)")


def w3c_fields(directive: str) -> tuple[str, ...]:
    """The field identifiers a ``#Fields:`` directive line names, in order (separated by any run
    of spaces or tabs).

    >>> w3c_fields("#Fields: date time c-ip cs-method cs-uri-stem sc-status ")
    ('date', 'time', 'c-ip', 'cs-method', 'cs-uri-stem', 'sc-status')
    """
    return tuple(directive.removeprefix("#Fields:").split())


def detect_format(lines: list[str]) -> AccessFormat | None:
    """The named format most of ``lines`` match (None: none matches any line); :data:`W3C` when a
    line is a W3C directive (``#Fields:``, ``#Version:``, IIS ``#Software:``)."""
    if any(_W3C_HEAD.match(line) for line in lines):
        return W3C
    best, best_n = None, 0
    for name in NAMED_FORMATS:
        fmt = compile_format(name)
        rx = re.compile(fmt.regex if name == "combined" else fmt.regex.replace("(?P<rest>.*)$", "$"))
        n = sum(1 for line in lines if rx.match(line))
        if n > best_n:
            best, best_n = fmt, n
    return best
