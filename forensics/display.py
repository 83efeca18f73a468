"""Charts that render offline everywhere a notebook is read.

Altair's default renderer loads vega from a CDN (blank in an air-gapped lab), and the
``mimetype`` renderer emits Vega-Lite 6, which JupyterLab 4's built-in renderer (v5 only) does
not draw. Forensic workstations are often offline, so every chart is rendered to SVG in the
kernel with vl-convert, using the Japanese font this package installs, and sent as:

- ``text/html``: the ``<svg>`` inline (JupyterLab shows it in trusted outputs: those just run);
- ``image/svg+xml``: the same picture, which JupyterLab shows when the output is untrusted
  (a notebook executed by papermill and opened later);
- ``text/plain``: a one-line description for terminals and diffs.
"""

from __future__ import annotations

import base64
import html
import io
import re
from functools import cache
from pathlib import Path

import altair as alt

#: Family name of the CJK font shipped by matplotlib-fontja (IPAexGothic).
CJK_FONT = "IPAexGothic"
RENDERER_NAME = "forensics-offline"


@cache
def cjk_font_dir() -> Path:
    """Folder holding ``ipaexg.ttf`` from the installed ``matplotlib_fontja`` package."""
    import matplotlib_fontja

    folder = Path(matplotlib_fontja.__file__).parent / "fonts"
    if not (folder / "ipaexg.ttf").is_file():
        raise FileNotFoundError(f"IPAexGothic font missing from {folder}")
    return folder


@cache
def register_cjk_font() -> str:
    """Make vl-convert render Japanese with IPAexGothic; returns the family name. Idempotent."""
    import vl_convert as vlc

    vlc.register_font_directory(str(cjk_font_dir()))
    return CJK_FONT


def spec_to_svg(spec: dict) -> str:
    """Render a Vega-Lite spec (dict) to SVG text with the CJK font available."""
    import vl_convert as vlc

    register_cjk_font()
    return vlc.vegalite_to_svg(spec)


_SVG_TEXT = re.compile(r"<text[^>]*>([^<]*)</text>")


def svg_text(svg: str) -> str:
    """Every character drawn as text in an SVG (entities resolved)."""
    return html.unescape("".join(_SVG_TEXT.findall(svg)))


@cache
def _font_subset_b64(chars: str) -> str:
    from fontTools import subset
    from fontTools.ttLib import TTFont

    options = subset.Options()
    options.name_IDs = ["*"]
    font = TTFont(str(cjk_font_dir() / "ipaexg.ttf"), recalcTimestamp=False)  # same bytes every run
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=chars)
    subsetter.subset(font)
    buffer = io.BytesIO()
    font.save(buffer)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def font_face_css(text: str) -> str:
    """``@font-face`` rule embedding IPAexGothic, cut down to the glyphs of ``text``.

    Browsers on an analyst's machine (or CI's Chromium) may have no Japanese font; embedding
    the few glyphs a chart uses keeps it legible offline at a cost of a few tens of KB.
    """
    chars = "".join(sorted(set(text) | set(" 0123456789")))
    return (
        f"@font-face{{font-family:'{CJK_FONT}';"
        f"src:url(data:font/ttf;base64,{_font_subset_b64(chars)}) format('truetype');}}"
    )


def _offline_renderer(spec: dict, **metadata) -> dict[str, str]:
    svg = spec_to_svg(spec)
    title = spec.get("title")
    if isinstance(title, dict):
        title = title.get("text")
    if isinstance(title, list):
        title = " ".join(map(str, title))
    label = f"<altair chart: {title}>" if title else "<altair chart>"
    return {
        "text/html": (
            f"<style>{font_face_css(svg_text(svg))}</style>"
            f'<div class="forensics-chart" title="{html.escape(str(title or ""))}">{svg}</div>'
        ),
        "image/svg+xml": svg,
        "text/plain": label,
    }


def enable_offline_charts() -> str:
    """Switch altair to the offline SVG renderer for this kernel; returns the renderer name.

    Examples
    --------
    >>> from forensics.display import enable_offline_charts
    >>> enable_offline_charts()
    'forensics-offline'
    """
    alt.renderers.register(RENDERER_NAME, _offline_renderer)
    alt.renderers.enable(RENDERER_NAME)
    alt.theme.register("forensics", enable=True)(_theme)
    return RENDERER_NAME


def inert_frame(df):
    """``df`` as a notebook shows it: card numbers masked (:func:`forensics.cards.mask_frame`) and
    control characters (ANSI escapes, NUL, C1, bidi overrides) in its text columns shown as
    ``\\xNN``, so what a notebook displays of attacker text cannot drive a terminal or reorder what
    the analyst reads. Values are unchanged in the tables themselves."""
    import polars as pl

    from forensics.cards import mask_frame
    from forensics.evidence import escape_text

    df = mask_frame(df)
    cols = [c for c, t in df.schema.items() if t == pl.String]
    return df.with_columns(escape_text(pl.col(c), backslash=False) for c in cols) if cols else df


def enable_inert_frames() -> bool:
    """Display polars DataFrames through :func:`inert_frame` in this IPython kernel (HTML and
    plain text); returns False outside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return False
    ip = get_ipython()
    if ip is None:
        return False
    import polars as pl

    formatters = ip.display_formatter.formatters
    formatters["text/html"].for_type(pl.DataFrame, lambda df: inert_frame(df)._repr_html_())
    formatters["text/plain"].for_type(pl.DataFrame, lambda df, p, cycle: p.text(repr(inert_frame(df))))
    return True


def _theme() -> alt.theme.ThemeConfig:
    font = CJK_FONT
    return alt.theme.ThemeConfig(
        {"config": {"font": font, "title": {"font": font}, "axis": {"labelFont": font, "titleFont": font},
                    "legend": {"labelFont": font, "titleFont": font}}}
    )


