"""Altair chart builders for the investigation report, and their SVG/PNG export.

Every builder aggregates in polars first and hands altair a small frame (tens of rows, never the
raw logs), returns the chart and never displays it. Labels are bilingual ("閲覧 / viewed").

Times are drawn as wall-clock times of the case zone: each instant is converted to the zone,
written without offset plus ``Z`` and placed on a UTC time scale, so the axis shows the case's
local time whatever the time zone of the machine that renders it (vl-convert, a browser).

:func:`save_chart` writes a chart as SVG and PNG with vl-convert, with the IPAexGothic font from
``matplotlib_fontja`` registered and set as the chart font, so Japanese renders on a fresh machine.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

import altair as alt
import polars as pl

from forensics import vocabulary
from forensics.display import CJK_FONT, register_cjk_font

__all__ = [
    "PHASE_LABELS",
    "WINDOW_LABELS",
    "CARD_CATEGORY_LABELS",
    "attack_timeline_chart",
    "requests_per_day",
    "requests_per_day_chart",
    "exposure_windows_chart",
    "exposure_counts_chart",
    "payment_failure_chart",
    "chart_spec",
    "save_chart",
    "tidy_svg",
]

#: findings.json phase keys -> bilingual label, in the order of the attack (forensics.vocabulary).
PHASE_LABELS: dict[str, str] = {k: t.label() for k, t in vocabulary.PHASES.items()}

#: findings.json window keys -> bilingual label (forensics.vocabulary).
WINDOW_LABELS: dict[str, str] = {k: t.label() for k, t in vocabulary.WINDOWS.items()}

#: Card entry categories drawn by :func:`exposure_windows_chart`.
CARD_CATEGORY_LABELS: dict[str, str] = {
    "confirmed": "確定 / confirmed",
    "possible": "可能性 / possible",
    "test": "テスト / test",
    "outside": "対象外 / not exposed",
}
_CARD_COLOURS = {"confirmed": "#c0392b", "possible": "#e67e22", "test": "#7f8c8d", "outside": "#3498db"}

_WIDTH = 640


# -- time helpers -------------------------------------------------------------------------------
def _to_instant(value) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if not isinstance(value, dt.datetime):
        raise TypeError(f"expected a datetime or ISO string, got {type(value).__name__}")
    if value.tzinfo is None:  # naive instants in this package are UTC (schemas.UTC_TS)
        value = value.replace(tzinfo=dt.timezone.utc)
    return value


def _wall(value, tz: str) -> str | None:
    """Instant -> wall-clock time in ``tz`` as ``YYYY-MM-DDTHH:MM:SSZ`` for a UTC scale."""
    t = _to_instant(value)
    if t is None:
        return None
    return t.astimezone(ZoneInfo(tz)).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def _wall_expr(col: str, tz: str) -> pl.Expr:
    """Polars: UTC datetime column -> wall-clock string in ``tz`` (see :func:`_wall`)."""
    c = pl.col(col)
    return c.dt.convert_time_zone(tz).dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _day_expr(col: str, tz: str) -> pl.Expr:
    return pl.col(col).dt.convert_time_zone(tz).dt.date()


def _frame(data: pl.DataFrame | pl.LazyFrame, cols: Sequence[str]) -> pl.DataFrame:
    lf = data.lazy() if isinstance(data, pl.DataFrame) else data
    df = lf.select(cols).collect()
    for name, dtype in df.schema.items():
        if isinstance(dtype, pl.Datetime) and dtype.time_zone is None:
            df = df.with_columns(pl.col(name).dt.replace_time_zone("UTC"))
    return df


def _time_axis(field: str, tz: str, title: str | None = None) -> alt.X:
    return alt.X(
        f"{field}:T",
        scale=alt.Scale(type="utc"),
        axis=alt.Axis(format="%m/%d", labelAngle=0),
        title=title or f"日時 / time ({tz})",
    )


def _empty(title: str, note: str = "データなし / no data") -> alt.Chart:
    return (
        alt.Chart(pl.DataFrame({"note": [note]}))
        .mark_text(size=14)
        .encode(text="note:N")
        .properties(title=title, width=_WIDTH, height=60)
    )


# -- builders -----------------------------------------------------------------------------------
def attack_timeline_chart(
    phases: Mapping[str, object],
    *,
    tz: str,
    windows: Mapping[str, Sequence[object] | None] | None = None,
) -> alt.LayerChart | alt.Chart:
    """The attack's phases on one time axis, with the exposure windows as bands behind them.

    ``phases`` is the ``phases`` object of findings.json (name -> ISO string, datetime or None);
    ``windows`` optionally its ``windows`` object (name -> [start, end]). Phases that the
    evidence could not establish (None) are left out.
    """
    title = "攻撃の経過 / attack timeline"
    order = list(PHASE_LABELS) + [k for k in phases if k not in PHASE_LABELS]
    rows = [
        {"phase": PHASE_LABELS.get(k, k), "t": _wall(phases[k], tz), "row": i}
        for i, k in enumerate(order)
        if phases.get(k) is not None
    ]
    if not rows:
        return _empty(title)
    points = pl.DataFrame(rows)
    x = _time_axis("t", tz)
    y = alt.Y("phase:N", sort=[r["phase"] for r in rows], title=None, axis=alt.Axis(labelLimit=360))
    base = alt.Chart(points)
    marks = base.mark_point(filled=True, size=120, color="#c0392b").encode(
        x=x, y=y, tooltip=["phase:N", alt.Tooltip("t:T", format="%Y-%m-%d %H:%M")]
    )
    labels = base.mark_text(align="left", dx=8, fontSize=10).encode(
        x=x, y=y, text=alt.Text("t:T", format="%m/%d %H:%M")
    )
    layers: list = []
    band_rows = [
        {"window": WINDOW_LABELS.get(k, k), "start": _wall(v[0], tz), "end": _wall(v[1], tz)}
        for k, v in (windows or {}).items()
        if v and v[0] is not None and v[1] is not None
    ]
    if band_rows:
        bands = (
            alt.Chart(pl.DataFrame(band_rows))
            .mark_rect(opacity=0.15)
            .encode(
                x=alt.X("start:T", scale=alt.Scale(type="utc")),
                x2="end:T",
                color=alt.Color("window:N", title="期間 / window", legend=alt.Legend(orient="bottom")),
            )
        )
        layers.append(bands)
    layers += [marks, labels]
    return alt.layer(*layers).properties(title=title, width=_WIDTH, height=40 + 30 * len(rows))


def requests_per_day(access: pl.DataFrame | pl.LazyFrame, *, tz: str) -> pl.DataFrame:
    """Requests per day in the case zone: ``day`` (Date), ``requests``; needs ``ts`` (UTC)."""
    return (
        _frame(access, ["ts"])
        .group_by(day=_day_expr("ts", tz))
        .agg(requests=pl.len())
        .sort("day")
    )


def requests_per_day_chart(
    access: pl.DataFrame | pl.LazyFrame,
    sqli: pl.DataFrame | pl.LazyFrame | None = None,
    *,
    tz: str,
    top_ips: int = 8,
) -> alt.VConcatChart | alt.Chart:
    """Requests per day (all traffic), above SQL injection attempts per day by attacker IP.

    ``access`` needs ``ts`` (UTC) and may be the whole access log (it is counted per day in
    polars), or is already :func:`requests_per_day` (``day, requests``); ``sqli`` needs ``ts`` and ``client_ip`` (the requests detect_sqli flagged). IPs
    beyond the ``top_ips`` busiest are drawn together as "その他 / other". Without ``sqli``
    only the traffic panel is drawn (the evidence-intake overview).
    """
    lf = access.lazy() if isinstance(access, pl.DataFrame) else access
    per_day = lf.collect() if {"day", "requests"} <= set(lf.collect_schema().names()) else requests_per_day(lf, tz=tz)
    days = per_day.select("day", "requests").sort("day").with_columns(
        day=pl.col("day").dt.strftime("%Y-%m-%dT00:00:00Z"))
    if sqli is None:
        sqli = pl.DataFrame(schema={"ts": pl.Datetime("us", "UTC"), "client_ip": pl.String})
        only_traffic = True
    else:
        only_traffic = False
    s = _frame(sqli, ["ts", "client_ip"])
    busiest = s.group_by("client_ip").agg(n=pl.len()).sort(["n", "client_ip"], descending=[True, False])
    keep = busiest.head(top_ips)["client_ip"].to_list()
    per_ip = (
        s.with_columns(
            ip=pl.when(pl.col("client_ip").is_in(keep)).then(pl.col("client_ip")).otherwise(pl.lit("その他 / other"))
        )
        .group_by(day=_day_expr("ts", tz), ip="ip")
        .agg(attempts=pl.len())
        .sort(["day", "ip"])
        .with_columns(day=pl.col("day").dt.strftime("%Y-%m-%dT00:00:00Z"))
    )
    x = alt.X("day:T", scale=alt.Scale(type="utc"), axis=alt.Axis(format="%m/%d", labelAngle=0),
              title=f"日付 / day ({tz})")
    top = (
        alt.Chart(days)
        .mark_bar(color="#95a5a6")
        .encode(x=x, y=alt.Y("requests:Q", title="リクエスト数 / requests"), tooltip=["day:T", "requests:Q"])
        .properties(title="全リクエスト（日別）/ all requests per day", width=_WIDTH, height=160)
    )
    if only_traffic:
        return top
    if per_ip.is_empty():
        bottom = _empty("SQLインジェクション試行（日別・IP別）/ SQL injection attempts per day by IP",
                        "検知なし / none detected")
    else:
        bottom = (
            alt.Chart(per_ip)
            .mark_bar()
            .encode(
                x=x,
                y=alt.Y("attempts:Q", title="試行数 / attempts", stack=True),
                color=alt.Color("ip:N", title="攻撃元IP / attacker IP", legend=alt.Legend(orient="bottom", labelLimit=0)),  # IPs in full (IPv6)
                tooltip=["day:T", "ip:N", "attempts:Q"],
            )
            .properties(title="SQLインジェクション試行（日別・IP別）/ SQL injection attempts per day by IP",
                        width=_WIDTH, height=160)
        )
    return alt.vconcat(top, bottom).resolve_scale(x="shared")


def exposure_windows_chart(
    windows: Mapping[str, Sequence[object] | None],
    card_entries: pl.DataFrame | pl.LazyFrame,
    *,
    tz: str,
    focus: bool = True,
) -> alt.LayerChart | alt.Chart:
    """Exposure windows as bands, each card entry a point coloured confirmed/possible/test.

    With ``focus`` (default) only the entries from a little before the first window to a little
    after the last are drawn.

    ``windows``: findings.json ``windows`` (name -> [start, end] or None). ``card_entries``
    needs ``ts`` (when the card was entered, UTC) and ``category`` (one of
    :data:`CARD_CATEGORY_LABELS`: confirmed, possible, test, outside); an optional ``label``
    column (e.g. the masked card or order id) goes to the tooltip.
    """
    title = "露出期間とカード入力 / exposure windows and card entries"
    band_rows = [
        {"window": WINDOW_LABELS.get(k, k), "start": _wall(v[0], tz), "end": _wall(v[1], tz)}
        for k, v in windows.items()
        if v and v[0] is not None and v[1] is not None
    ]
    lf = card_entries.lazy() if isinstance(card_entries, pl.DataFrame) else card_entries
    cols = ["ts", "category"] + (["label"] if "label" in lf.collect_schema().names() else [])
    entries = _frame(lf, cols).filter(pl.col("ts").is_not_null())
    if "label" not in entries.columns:
        entries = entries.with_columns(label=pl.lit(""))
    if band_rows and focus:
        # Draw the entries around the windows only: months of ordinary orders would squeeze the
        # windows into a sliver. Entries outside this range are outside every window anyway.
        edges = [_to_instant(v) for k, pair in windows.items() if pair for v in pair if v is not None]
        lo, hi = min(edges), max(edges)
        pad = max(dt.timedelta(days=3), (hi - lo) / 4)
        entries = entries.filter(pl.col("ts").is_between(lo - pad, hi + pad))
    entries = (
        entries.sort("ts")
        .with_columns(
            t=_wall_expr("ts", tz),
            kind=pl.col("category").replace_strict(CARD_CATEGORY_LABELS, default=pl.col("category")),
            lane=pl.lit("カード入力 / card entries"),
        )
        .select("t", "kind", "label", "lane")
    )
    if not band_rows and entries.is_empty():
        return _empty(title)
    layers = []
    if band_rows:
        bands = pl.DataFrame(band_rows)
        layers.append(
            alt.Chart(bands)
            .mark_bar(opacity=0.35, height=14)
            .encode(
                x=alt.X("start:T", scale=alt.Scale(type="utc"), axis=alt.Axis(format="%m/%d", labelAngle=0),
                        title=f"日時 / time ({tz})"),
                x2="end:T",
                y=alt.Y("window:N", title=None),
                color=alt.value("#8e44ad"),
                tooltip=["window:N", "start:T", "end:T"],
            )
        )
    if not entries.is_empty():
        kinds = [k for k in CARD_CATEGORY_LABELS if CARD_CATEGORY_LABELS[k] in set(entries["kind"])]
        layers.append(
            alt.Chart(entries)
            .mark_point(filled=True, size=70)
            .encode(
                x=_time_axis("t", tz),
                y=alt.Y("lane:N", title=None),
                color=alt.Color(
                    "kind:N",
                    title="カード / card",
                    scale=alt.Scale(domain=[CARD_CATEGORY_LABELS[k] for k in kinds],
                                    range=[_CARD_COLOURS[k] for k in kinds]),
                    legend=alt.Legend(orient="bottom"),
                ),
                shape=alt.Shape("kind:N", legend=None),
                tooltip=["t:T", "kind:N", "label:N"],
            )
        )
    return alt.layer(*layers).properties(title=title, width=_WIDTH, height=40 + 30 * (len(band_rows) + 1))


def _count_rows(counts: Mapping[str, object]) -> list[dict]:
    viewed = counts.get("viewed_persons")
    viewed_label = vocabulary.label(vocabulary.COUNTS, "viewed_persons")
    if viewed is None and counts.get("viewed_persons_upper") is not None:
        viewed, viewed_label = counts["viewed_persons_upper"], vocabulary.label(vocabulary.COUNTS, "viewed_persons_upper")
    cards = ("cards_confirmed_customer", "cards_confirmed_test", "cards_possible_customer", "cards_possible_test")
    spec = [("閲覧 / viewed", viewed_label, viewed)] + [
        ("カード漏えい / card leak", vocabulary.label(vocabulary.COUNTS, k), counts.get(k)) for k in cards]
    return [{"group": g, "item": i, "n": int(n)} for g, i, n in spec if n is not None]


def exposure_counts_chart(counts: Mapping[str, object]) -> alt.LayerChart | alt.Chart:
    """Viewed persons vs possibly leaked cards by category (findings.json ``counts``)."""
    title = "件数 / counts: 閲覧 / viewed vs カード漏えい（可能性含む）/ cards possibly leaked"
    rows = _count_rows(counts)
    if not rows:
        return _empty(title)
    data = pl.DataFrame(rows)
    order = data["item"].to_list()
    base = alt.Chart(data).encode(
        y=alt.Y("item:N", sort=order, title=None),
        x=alt.X("n:Q", title="件数 / count"),
    )
    bars = base.mark_bar().encode(
        color=alt.Color("group:N", title=None, scale=alt.Scale(range=["#2c3e50", "#c0392b"]),
                        legend=alt.Legend(orient="bottom")),
        tooltip=["item:N", "n:Q"],
    )
    text = base.mark_text(align="left", dx=4).encode(text="n:Q")
    return alt.layer(bars, text).properties(title=title, width=_WIDTH - 200, height=30 * len(rows))


def payment_failure_chart(
    payments: pl.DataFrame | pl.LazyFrame,
    *,
    tz: str,
    change_point: object | None = None,
) -> alt.LayerChart | alt.Chart:
    """Daily card-payment failure rate, with the change point (e.g. the form tampering) as a rule.

    ``payments`` needs ``ts`` (card entry time, UTC) and ``failed`` (Boolean: the payment did
    not complete). ``change_point``: instant (datetime or ISO) or None.
    """
    title = "カード決済失敗率（日別）/ card payment failure rate per day"
    daily = (
        _frame(payments, ["ts", "failed"])
        .group_by(day=_day_expr("ts", tz))
        .agg(entries=pl.len(), failed=pl.col("failed").cast(pl.Int64).sum())
        .sort("day")
        .with_columns(rate=pl.col("failed") / pl.col("entries"), day=pl.col("day").dt.strftime("%Y-%m-%dT00:00:00Z"))
    )
    if daily.is_empty():
        return _empty(title)
    x = alt.X("day:T", scale=alt.Scale(type="utc"), axis=alt.Axis(format="%m/%d", labelAngle=0),
              title=f"日付 / day ({tz})")
    line = (
        alt.Chart(daily)
        .mark_line(point=True, color="#c0392b")
        .encode(x=x, y=alt.Y("rate:Q", title="失敗率 / failure rate", axis=alt.Axis(format="%"),
                             scale=alt.Scale(domain=[0, 1])),
                tooltip=["day:T", "entries:Q", "failed:Q", alt.Tooltip("rate:Q", format=".0%")])
    )
    layers = [line]
    cp = _wall(change_point, tz)
    if cp is not None:
        marker = pl.DataFrame({"t": [cp], "label": ["変化点 / change point"]})
        rule = alt.Chart(marker).encode(x=alt.X("t:T", scale=alt.Scale(type="utc")))
        layers += [
            rule.mark_rule(strokeDash=[4, 3], color="#2c3e50"),
            rule.mark_text(align="left", dx=4, y=8, fontSize=10).encode(text="label:N"),
        ]
    return alt.layer(*layers).properties(title=title, width=_WIDTH, height=180)


# -- export -------------------------------------------------------------------------------------
def chart_spec(chart: alt.TopLevelMixin) -> dict:
    """The chart's Vega-Lite spec with IPAexGothic set as the font of every text element."""
    spec = chart.to_dict()
    config = spec.setdefault("config", {})
    config["font"] = CJK_FONT
    for part in ("title", "axis", "legend", "header"):
        section = config.setdefault(part, {})
        if part == "title":
            section.setdefault("font", CJK_FONT)
            section.setdefault("subtitleFont", CJK_FONT)
        else:
            section.setdefault("labelFont", CJK_FONT)
            section.setdefault("titleFont", CJK_FONT)
    config.setdefault("text", {}).setdefault("font", CJK_FONT)
    return spec


# Coordinates: two decimals are sub-pixel. In aria labels (which carry data values such as IP
# addresses) only four or more decimals are cut: never part of an IPv4 address, whose octets
# have at most three digits. Text nodes (the visible labels) are never touched.
_LONG_DECIMAL = re.compile(r"(\d+\.\d{2})\d+")
_LONGER_DECIMAL = re.compile(r"(\d+\.\d{2})\d{2,}")
_TAG = re.compile(r"<[^>]*>")
_ATTR = re.compile(r'(\s[\w:-]+=")([^"]*)(")')


def _tidy_attr(attr: re.Match) -> str:
    digits = _LONGER_DECIMAL if attr.group(1).lstrip().startswith("aria-") else _LONG_DECIMAL
    return attr.group(1) + digits.sub(r"\1", attr.group(2)) + attr.group(3)


def tidy_svg(svg: str) -> str:
    """Round coordinates to 2 decimals (sub-pixel). Vega writes up to 17 significant digits, and
    such digit runs can pass a Luhn check by chance, tripping card-number scanners on our outputs.
    Label text is left exactly as it is."""
    return _TAG.sub(lambda tag: _ATTR.sub(_tidy_attr, tag.group(0)), svg)


def save_chart(chart: alt.TopLevelMixin, stem: str, out_dir: str | Path, *, scale: float = 2.0) -> tuple[Path, Path]:
    """Write ``chart`` to ``out_dir/stem.svg`` and ``out_dir/stem.png``; returns both paths.

    Rendering is offline (vl-convert, no CDN) with IPAexGothic registered from
    ``matplotlib_fontja`` and set as the chart font, so Japanese labels are drawn on a machine
    with no Japanese font installed.
    """
    import vl_convert as vlc

    register_cjk_font()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    spec = chart_spec(chart)
    svg_path, png_path = out / f"{stem}.svg", out / f"{stem}.png"
    svg_path.write_text(tidy_svg(vlc.vegalite_to_svg(spec)), encoding="utf-8")
    png_path.write_bytes(vlc.vegalite_to_png(spec, scale=scale))
    return svg_path, png_path
