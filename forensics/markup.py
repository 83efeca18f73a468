"""A tiny HTML element builder that escapes everything it is not given as markup.

Every string is ``html.escape``d unless it is a :class:`Markup` produced by the builder itself, so
attacker-controlled text (URLs, file names, IPs, user agents) can never become markup; control
characters and bidi overrides show as ``\\xNN`` / ``\\uNNNN``; any Luhn-valid 13..19 digit run is
masked to first 6 + last 4 (:func:`forensics.cards.mask_text`). Used by the report and the widgets.
"""

from __future__ import annotations

import html

from forensics.cards import mask_text
from forensics.evidence import escape_str

__all__ = ["Markup", "el", "esc"]


class Markup(str):
    """Text that is already safe HTML (only the builder makes these)."""


def _show_controls(text: str) -> str:
    """Control characters (ANSI escapes, NUL, C1) and bidi overrides in attacker text shown as
    ``\\xNN`` / ``\\uNNNN`` (:func:`forensics.evidence.escape_str`) rather than passed to the page,
    where they would be invisible or reorder text; tab and line feed are white space there."""
    return escape_str(text, backslash=False, keep="\t\n")


def esc(value: object) -> Markup:
    """Escape anything that is not :class:`Markup`; None becomes an empty string."""
    if isinstance(value, Markup):
        return value
    if value is None:
        return Markup("")
    return Markup(html.escape(_show_controls(mask_text(str(value))), quote=True))


def el(tag: str, *children: object, **attrs: object) -> Markup:
    """``<tag attrs>children</tag>``; ``cls=`` for ``class``; children escaped unless Markup."""
    parts = []
    for key, value in attrs.items():
        if value is None or value is False:
            continue
        name = "class" if key == "cls" else key.rstrip("_").replace("_", "-")
        parts.append(f" {name}" if value is True else f' {name}="{esc(value)}"')
    body = "".join(esc(c) if not isinstance(c, (list, tuple)) else "".join(esc(x) for x in c) for c in children)
    if tag in {"br", "hr", "input", "meta"}:
        return Markup(f"<{tag}{''.join(parts)}>")
    return Markup(f"<{tag}{''.join(parts)}>{body}</{tag}>")
