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
``status``, ``bytes``, ``referer``, ``user_agent``), every other one goes to ``extra`` as
``name=value`` (``vhost=shop.example port=443 duration_us=1200``). A quoted directive reads a quoted
field (``\"`` and ``\\`` escapes inside). Every piece of the regex is decided by the next
character, so the parse of a line is unique and linear in its length.

:func:`detect_format` tells a file's format from its first lines: the named formats are tried in
the order of :data:`NAMED_FORMATS` and the one matching the most lines wins (a tie goes to the
earlier one); ``combined`` allows trailing fields, the others must match whole lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from forensics.errors import FormatError

#: Inside a quoted field: no quote or backslash, except escape pairs.
QUOTED = r'[^"\\]*(?:\\.[^"\\]*)*'
_TIME = r"[0-9][0-9]/[A-Za-z]{3}/[0-9]{4}:[0-9][0-9]:[0-9][0-9]:[0-9][0-9] [+-][0-9]{4}"

#: Directive -> (field name, regex of its value when not quoted). Field names that are columns of
#: the access table keep that name; the others go to ``extra``.
DIRECTIVES: dict[str, tuple[str, str]] = {
    "h": ("client_ip", r"[^ ]+"),
    "a": ("client_ip", r"[^ ]+"),
    "l": ("ident", r"[^ ]+"),
    "u": ("remote_user", r"[^ ]+"),
    "t": ("t", r"\[" + _TIME + r"\]"),
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

#: Fields the access table has a column for (the rest go to ``extra``).
TABLE_FIELDS = ("client_ip", "ident", "remote_user", "t", "request", "status", "bytes", "referer", "user_agent")

NAMED_FORMATS: dict[str, str] = {
    "combined": '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"',
    "vhost_combined": '%v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i"',
    "common": '%h %l %u %t "%r" %>s %b',
}
#: nginx's default log_format writes what Apache's combined writes.
ALIASES = {"nginx": "combined"}

_TOKEN = re.compile(r"%(?:!?[0-9,]*)?(?:\{([^}]*)\})?([<>]?[a-zA-Z%])")


@dataclass(frozen=True)
class AccessFormat:
    """A compiled access-log format: ``regex`` (anchored, one named group per field, then
    ``rest`` for trailing text) and the ``fields`` it yields, in order."""

    name: str
    definition: str
    regex: str
    fields: tuple[str, ...]

    @property
    def extra_fields(self) -> tuple[str, ...]:
        return tuple(f for f in self.fields if f not in TABLE_FIELDS)


def compile_format(definition: str, name: str | None = None) -> AccessFormat:
    """Compile a named format or an Apache ``LogFormat`` string."""
    key = ALIASES.get(definition, definition)
    if key in NAMED_FORMATS:
        name, definition = name or key, NAMED_FORMATS[key]
    parts: list[str] = []
    fields: list[str] = []
    pos = 0
    for m in _TOKEN.finditer(definition):
        parts.append(re.escape(definition[pos:m.start()]))
        pos = m.end()
        arg, letter = m.group(1), m.group(2)
        if letter == "%":
            parts.append("%")
            continue
        directive = f"{{{arg}}}{letter}" if arg is not None else letter
        if directive not in DIRECTIVES and arg is not None and letter == "i":
            field_name, value = "header_" + re.sub(r"[^A-Za-z0-9]+", "_", arg).lower(), r"[^ ]+"
        elif directive in DIRECTIVES:
            field_name, value = DIRECTIVES[directive]
        else:
            raise FormatError(f"access-log format {definition!r}: directive %{directive} is not supported")
        if field_name in fields:
            field_name = f"{field_name}_{fields.count(field_name) + 1}"
        in_quotes = definition[:m.start()].count('"') % 2 == 1
        if field_name == "t":
            parts.append(r"\[(?P<t>" + _TIME + r")\]")
        else:
            parts.append(f"(?P<{field_name}>{QUOTED if in_quotes else value})")
        fields.append(field_name)
    parts.append(re.escape(definition[pos:]))
    regex = "^" + "".join(parts) + "(?P<rest>.*)$"
    return AccessFormat(name or "custom", definition, regex, tuple(fields))


COMBINED = compile_format("combined")


def detect_format(lines: list[str]) -> AccessFormat | None:
    """The named format most of ``lines`` match (None: none matches any line)."""
    best, best_n = None, 0
    for name in NAMED_FORMATS:
        fmt = compile_format(name)
        rx = re.compile(fmt.regex if name == "combined" else fmt.regex.replace("(?P<rest>.*)$", "$"))
        n = sum(1 for line in lines if rx.match(line))
        if n > best_n:
            best, best_n = fmt, n
    return best
