"""Chart builders return charts built from small aggregated data; export renders Japanese glyphs."""

from __future__ import annotations

import datetime as dt
import io
import struct
import zlib

import altair as alt
import polars as pl
import pytest

from forensics import charts

TZ = "Asia/Tokyo"
UTC = dt.timezone.utc


def _t(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s).astimezone(UTC)


@pytest.fixture
def phases():
    return {
        "sqli_first": "2017-03-19T10:02:11+09:00",
        "attacker_admin_login": "2017-03-31T23:28:04+09:00",
        "backdoor_installed": "2017-03-31T23:31:40+09:00",
        "card_form_tampered": "2017-04-08T21:14:09+09:00",
        "containment": "2017-04-10T13:00:00+09:00",
    }


@pytest.fixture
def windows():
    return {
        "admin_access": ["2017-03-31T23:28:04+09:00", "2017-04-10T11:00:00+09:00"],
        "backdoor": ["2017-03-31T23:31:40+09:00", "2017-04-10T13:00:00+09:00"],
        "skimmer": ["2017-04-08T21:14:09+09:00", "2017-04-10T13:00:00+09:00"],
    }


@pytest.fixture
def access():
    start = _t("2017-03-18T00:00:00+09:00")
    ts = [start + dt.timedelta(hours=7 * i) for i in range(100)]
    return pl.DataFrame({"ts": ts, "client_ip": ["192.0.2.1"] * 100}).with_columns(
        pl.col("ts").dt.cast_time_unit("us")
    )


@pytest.fixture
def sqli():
    ts = [_t("2017-03-19T10:00:00+09:00") + dt.timedelta(hours=5 * i) for i in range(30)]
    ips = ["203.0.113.7" if i % 3 else "203.0.113.99" for i in range(30)]
    return pl.DataFrame({"ts": ts, "client_ip": ips})


@pytest.fixture
def card_entries():
    return pl.DataFrame(
        {
            "ts": [_t(s) for s in ["2017-03-25T10:00:00+09:00", "2017-04-02T10:00:00+09:00",
                                   "2017-04-09T10:00:00+09:00", "2017-04-09T12:00:00+09:00"]],
            "category": ["outside", "possible", "confirmed", "test"],
            "label": ["order 1", "order 2", "order 3", "order 4"],
        }
    )


@pytest.fixture
def payments():
    ts = [_t("2017-04-05T10:00:00+09:00") + dt.timedelta(hours=12 * i) for i in range(12)]
    return pl.DataFrame({"ts": ts, "failed": [i >= 8 for i in range(12)]})


COUNTS = {
    "viewed_persons": 55,
    "cards_confirmed_customer": 2,
    "cards_confirmed_test": 3,
    "cards_possible_customer": 8,
    "cards_possible_test": 0,
    "cards_total": 13,
}


@pytest.fixture
def all_charts(phases, windows, access, sqli, card_entries, payments):
    return {
        "attack_timeline": charts.attack_timeline_chart(phases, tz=TZ, windows=windows),
        "requests_per_day": charts.requests_per_day_chart(access, sqli, tz=TZ),
        "exposure_windows": charts.exposure_windows_chart(windows, card_entries, tz=TZ),
        "exposure_counts": charts.exposure_counts_chart(COUNTS),
        "payment_failure": charts.payment_failure_chart(
            payments, tz=TZ, change_point=phases["card_form_tampered"]),
    }


def _datasets(chart) -> dict:
    return chart.to_dict().get("datasets", {})


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_each_chart_renders_to_svg_and_png(all_charts, tmp_path):
    for stem, chart in all_charts.items():
        svg, png = charts.save_chart(chart, stem, tmp_path)
        text = svg.read_text(encoding="utf-8")
        assert text.lstrip().startswith("<svg"), stem
        assert "IPAexGothic" in text, stem
        w, h = _png_size(png.read_bytes())
        assert w > 200 and h > 50, stem


def test_charts_pass_small_aggregated_data(all_charts):
    for stem, chart in all_charts.items():
        rows = sum(len(v) for v in _datasets(chart).values())
        assert rows <= 60, stem  # the 100 raw access rows are never handed to altair


def test_timeline_labels_are_bilingual_and_in_case_zone(phases):
    spec = charts.attack_timeline_chart(phases, tz=TZ).to_dict()
    rows = next(iter(spec["datasets"].values()))
    assert rows[1] == {"phase": "管理画面ログイン / admin login", "t": "2017-03-31T23:28:04Z", "row": 1}


def test_timeline_skips_unknown_phases(phases):
    phases = dict(phases, card_form_tampered=None)
    rows = next(iter(charts.attack_timeline_chart(phases, tz=TZ).to_dict()["datasets"].values()))
    assert len(rows) == 4


def test_requests_per_day_counts_per_local_day(access, sqli):
    spec = charts.requests_per_day_chart(access, sqli, tz=TZ).to_dict()
    datasets = list(spec["datasets"].values())
    total_requests = sum(r["requests"] for r in datasets[0])
    assert total_requests == 100
    assert sum(r["attempts"] for r in datasets[1]) == 30
    assert {r["ip"] for r in datasets[1]} == {"203.0.113.7", "203.0.113.99"}


def test_attacker_ip_legend_is_never_cut_short(access, sqli):
    spec = charts.requests_per_day_chart(access, sqli, tz=TZ).to_dict()
    legends = [
        layer["encoding"]["color"]["legend"]
        for layer in spec.get("vconcat", spec.get("layer", []))
        if "color" in layer.get("encoding", {})
    ]
    assert legends and all(legend.get("labelLimit") == 0 for legend in legends)


def test_counts_chart_uses_upper_bound_when_viewed_is_unknown():
    spec = charts.exposure_counts_chart(dict(COUNTS, viewed_persons=None, viewed_persons_upper=70)).to_dict()
    rows = next(iter(spec["datasets"].values()))
    assert rows[0]["n"] == 70 and "上限" in rows[0]["item"]


def test_payment_failure_rate(payments):
    spec = charts.payment_failure_chart(payments, tz=TZ).to_dict()
    rows = next(iter(spec["datasets"].values()))
    assert [r["failed"] for r in rows] == [0, 0, 0, 0, 2, 2]


def test_empty_inputs_give_a_no_data_chart(tmp_path):
    empty = pl.DataFrame(schema={"ts": pl.Datetime("us", "UTC"), "client_ip": pl.String})
    chart = charts.requests_per_day_chart(empty, empty, tz=TZ)
    charts.save_chart(chart, "empty", tmp_path)
    charts.save_chart(charts.attack_timeline_chart({}, tz=TZ), "empty2", tmp_path)


def test_chart_spec_sets_the_cjk_font(all_charts):
    spec = charts.chart_spec(all_charts["exposure_counts"])
    assert spec["config"]["font"] == "IPAexGothic"


# -- Japanese glyphs are drawn, not boxes -------------------------------------------------------
def _pixels(png: bytes) -> bytes:
    """Decoded raw scanlines of a PNG (enough to compare two renderings)."""
    out, pos = io.BytesIO(), 8
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        if kind == b"IDAT":
            out.write(png[pos + 8:pos + 8 + length])
        pos += 12 + length
    return zlib.decompress(out.getvalue())


def _title_png(title: str, tmp_path, stem: str) -> bytes:
    chart = alt.Chart(pl.DataFrame({"x": [1]})).mark_point().encode(x="x:Q").properties(
        title=alt.TitleParams(title, fontSize=28), width=200, height=40)
    return _pixels(charts.save_chart(chart, stem, tmp_path)[1].read_bytes())


def test_japanese_renders_as_glyphs_not_tofu(tmp_path):
    japanese = _title_png("東商マート", tmp_path, "ja")
    other_japanese = _title_png("西商マーク", tmp_path, "ja2")
    tofu = _title_png("\ue000\ue001\ue002\ue003\ue004", tmp_path, "pua")  # no glyphs: boxes or nothing
    assert japanese != tofu
    # With a missing font every character becomes the same box, so two different Japanese
    # strings would render identically; with the font they differ.
    assert japanese != other_japanese


def test_requests_per_day_without_sqli_is_the_traffic_panel(access, tmp_path):
    chart = charts.requests_per_day_chart(access, tz=TZ)
    assert "vconcat" not in chart.to_dict()
    charts.save_chart(chart, "traffic", tmp_path)


def test_requests_per_day_accepts_the_daily_table(access, sqli):
    daily = charts.requests_per_day(access, tz=TZ)
    assert daily["requests"].sum() == 100 and daily.columns == ["day", "requests"]
    a = charts.requests_per_day_chart(daily, sqli, tz=TZ).to_dict()
    b = charts.requests_per_day_chart(access, sqli, tz=TZ).to_dict()
    assert list(a["datasets"].values()) == list(b["datasets"].values())


def test_attacker_text_is_escaped_in_svg(access, tmp_path):
    hostile = pl.DataFrame({"ts": [_t("2017-03-19T10:00:00+09:00")], "client_ip": ['<script>alert("x")</script>']})
    svg, _png = charts.save_chart(charts.requests_per_day_chart(access, hostile, tz=TZ), "hostile", tmp_path)
    text = svg.read_text(encoding="utf-8")
    assert "<script" not in text
    assert "&lt;script&gt;" in text


def test_tidy_svg_rounds_coordinates_but_never_label_text():
    svg = (
        '<svg><path d="M70.39710205585564,12.5L3.14159,2"/>'
        '<g aria-label="ip: 203.0.113.77; attempts: 612"><text x="1.23456">192.0.2.146</text></g></svg>'
    )
    tidy = charts.tidy_svg(svg)
    assert 'd="M70.39,12.5L3.14,2"' in tidy
    assert 'x="1.23"' in tidy
    assert ">192.0.2.146</text>" in tidy
    assert "ip: 203.0.113.77;" in tidy
