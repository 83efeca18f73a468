"""Charts render offline: inline SVG, no CDN, Japanese font registered."""

from __future__ import annotations

import altair as alt
import polars as pl
import pytest

from forensics import display


@pytest.fixture
def offline_renderer():
    previous = alt.renderers.active
    display.enable_offline_charts()
    yield
    alt.renderers.enable(previous)


def _chart():
    frame = pl.DataFrame({"n": [3, 5], "label": ["閲覧 / viewed", "漏えい / leaked"]})
    return alt.Chart(frame).mark_bar().encode(x="n:Q", y="label:N").properties(title="東商マート")


def test_bundle_is_inline_svg_without_any_remote_script(offline_renderer):
    bundle = _chart()._repr_mimebundle_()
    bundle = bundle[0] if isinstance(bundle, tuple) else bundle
    assert set(bundle) == {"text/html", "image/svg+xml", "text/plain"}
    assert "<svg" in bundle["text/html"]
    assert bundle["image/svg+xml"].lstrip().startswith("<svg")
    for mime in ("text/html", "image/svg+xml"):
        assert "<script" not in bundle[mime]
        assert "cdn." not in bundle[mime]
    assert bundle["text/plain"] == "<altair chart: 東商マート>"


def test_charts_use_the_bundled_cjk_font(offline_renderer):
    svg = display.spec_to_svg(_chart().to_dict())
    assert display.CJK_FONT in svg
    assert (display.cjk_font_dir() / "ipaexg.ttf").stat().st_size > 1_000_000


def test_inline_output_embeds_the_glyphs_it_draws(offline_renderer):
    bundle = _chart()._repr_mimebundle_()
    bundle = bundle[0] if isinstance(bundle, tuple) else bundle
    assert "@font-face" in bundle["text/html"]
    assert "東商マート" in display.svg_text(bundle["image/svg+xml"])


def test_font_subset_holds_only_the_requested_glyphs():
    from base64 import b64decode
    from io import BytesIO

    from fontTools.ttLib import TTFont

    css = display.font_face_css("東商")
    data = b64decode(css.split("base64,")[1].split(")")[0])
    cmap = TTFont(BytesIO(data)).getBestCmap()
    assert ord("東") in cmap and ord("商") in cmap
    assert ord("漏") not in cmap
