"""Exposure explorer: move the window edges, filter attacker IPs, see the counts change.

The explorer calls a what-if function (``forensics.exposure.whatif.whatif`` bound to an
investigation's precomputed tables) with ``backdoor_start``, ``skimmer_start``, ``containment``
and ``attacker_ips`` and shows the counts against the findings' own, as a table and a chart.

In JupyterLab the sliders and the IP picker update it live. A notebook executed by papermill has
no frontend to draw widgets, so :meth:`ExposureExplorer.show` also displays a static summary
(counts table and chart for the initial values, which come from the notebook's parameters):
the executed notebook shows results when opened without a kernel.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo

import polars as pl

from forensics import vocabulary
from forensics.charts import exposure_counts_chart

__all__ = ["COUNT_LABELS", "ExposureExplorer", "edge_options", "parse_edge", "counts_table"]

#: counts keys in display order -> bilingual label (forensics.vocabulary).
COUNT_LABELS: dict[str, str] = {k: t.label() for k, t in vocabulary.COUNTS.items()}
EDGES = tuple(vocabulary.EDGES)
EDGE_LABELS = {k: t.label() for k, t in vocabulary.EDGES.items()}


def parse_edge(value: str | dt.datetime | None, tz: str) -> dt.datetime | None:
    """A parameter value -> UTC datetime: "" or None -> None; naive text is in the case zone."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    t = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if t.tzinfo is None:
        t = t.replace(tzinfo=ZoneInfo(tz))
    return t.astimezone(dt.timezone.utc)


def edge_options(values: Iterable[dt.datetime | None], *, step: dt.timedelta = dt.timedelta(hours=1),
                 pad: dt.timedelta = dt.timedelta(days=3)) -> list[dt.datetime]:
    """Slider positions: every ``step`` from ``pad`` before the earliest to after the latest value,
    plus the values themselves (so the findings' own edges are exact positions)."""
    vals = sorted({v.astimezone(dt.timezone.utc) for v in values if v is not None})
    if not vals:
        return []
    start = (vals[0] - pad).replace(minute=0, second=0, microsecond=0)
    end = vals[-1] + pad
    out, t = set(vals), start
    while t <= end:
        out.add(t)
        t += step
    return sorted(out)


def counts_table(base: Mapping[str, object], whatif: Mapping[str, object] | None = None) -> pl.DataFrame:
    """``item, findings, what_if`` for every count key present in either mapping."""
    whatif = whatif if whatif is not None else base
    keys = [k for k in COUNT_LABELS if k in base or k in whatif]
    keys = [k for k in keys if not (k == "viewed_persons_upper" and base.get(k) is None and whatif.get(k) is None)]
    return pl.DataFrame(
        {
            "item": [COUNT_LABELS[k] for k in keys],
            "findings": [base.get(k) for k in keys],
            "what_if": [whatif.get(k) for k in keys],
        },
        schema={"item": pl.String, "findings": pl.Int64, "what_if": pl.Int64},
    )


def _font_style() -> str:
    """``<style>`` embedding the glyphs of the explorer's labels and tables (IPAexGothic subset):
    a browser without a Japanese font would draw them as boxes. JupyterLab applies output styles
    page-wide, so the slider labels (class ``forensics-explorer``) use it too."""
    from forensics.display import CJK_FONT, font_face_css

    text = "".join(COUNT_LABELS.values()) + "".join(EDGE_LABELS.values()) + \
        "項目調査結果仮定静的な写し初期値攻撃元リセット—（）／："
    sel = ".forensics-counts, .forensics-counts *, .forensics-explorer .widget-label, .forensics-explorer button"
    return f"<style>{font_face_css(text)} {sel} {{font-family: '{CJK_FONT}', sans-serif;}}</style>"


class ExposureExplorer:
    """Sliders for the window edges and a picker for attacker IPs over a what-if function.

    Parameters
    ----------
    compute
        ``compute(*, backdoor_start, skimmer_start, containment, attacker_ips) -> counts`` (UTC
        datetimes or None = the findings' own edge; ``attacker_ips`` None = all).
    base_edges
        The findings' edges: ``{"backdoor_start": dt, "skimmer_start": dt, "containment": dt}``.
    attacker_ips
        Every attacker IP (the picker's choices).
    base_counts
        The findings' counts (the reference column).
    tz
        Case time zone for labels.
    initial
        Initial edges (e.g. from notebook parameters); missing ones are the base edges.
    initial_ips
        Initially selected IPs (None = all).
    """

    def __init__(self, compute: Callable[..., Mapping[str, object]], *, base_edges: Mapping[str, dt.datetime | None],
                 attacker_ips: Sequence[str], base_counts: Mapping[str, object], tz: str,
                 initial: Mapping[str, dt.datetime | None] | None = None,
                 initial_ips: Sequence[str] | None = None) -> None:
        self.compute = compute
        self.tz = tz
        self.base_edges = {k: base_edges.get(k) for k in EDGES}
        self.attacker_ips = sorted(attacker_ips)
        self.base_counts = dict(base_counts)
        init = dict(self.base_edges)
        init.update({k: v for k, v in (initial or {}).items() if v is not None})
        self.edges = init
        # The what-if can only narrow the attacker set: IPs that are not attacker IPs are ignored.
        self.ignored_ips = sorted(set(initial_ips or ()) - set(self.attacker_ips))
        chosen = sorted(set(initial_ips or ()) & set(self.attacker_ips))
        self.selected_ips = chosen if initial_ips else list(self.attacker_ips)
        self.counts = self._run()
        self._widget = None

    # -- computation ------------------------------------------------------------------------
    def _run(self) -> dict:
        ips = None if set(self.selected_ips) == set(self.attacker_ips) else list(self.selected_ips)
        return dict(self.compute(attacker_ips=ips, **self.edges))

    def update(self, *, attacker_ips: Sequence[str] | None = None, **edges: dt.datetime | None) -> dict:
        """Set edges (UTC datetimes) and/or the IP selection; returns the new counts."""
        for k, v in edges.items():
            if k not in EDGES:
                raise TypeError(f"unknown edge {k!r}; expected one of {EDGES}")
            self.edges[k] = v
        if attacker_ips is not None:
            self.selected_ips = sorted(attacker_ips)
        self.counts = self._run()
        return self.counts

    def table(self) -> pl.DataFrame:
        return counts_table(self.base_counts, self.counts)

    def chart(self):
        title_counts = dict(self.counts)
        return exposure_counts_chart(title_counts).properties(
            title="仮定の件数 / what-if counts: " + self.describe())

    def _fmt(self, t: dt.datetime | None) -> str:
        return "—" if t is None else t.astimezone(ZoneInfo(self.tz)).strftime("%m-%d %H:%M")

    def describe(self) -> str:
        """One line: the edges and IPs in use (deterministic text)."""
        ips = "all" if set(self.selected_ips) == set(self.attacker_ips) else ",".join(self.selected_ips) or "none"
        text = " ".join(f"{k}={self._fmt(self.edges[k])}" for k in EDGES) + f" ips={ips}"
        if self.ignored_ips:
            text += " (not attacker IPs, ignored: " + ",".join(self.ignored_ips) + ")"
        return text

    # -- display ----------------------------------------------------------------------------
    def static_summary(self, caption: str | None = None):
        """Counts table (HTML) as a plain output, for notebooks read without a kernel."""
        from IPython.display import HTML

        from forensics.markup import el

        head = el("tr", el("th", "項目 / item"), el("th", "調査結果 / findings"), el("th", "仮定 / what-if"))
        rows = [el("tr", el("td", r["item"]), el("td", "—" if r["findings"] is None else r["findings"]),
                   el("td", "—" if r["what_if"] is None else r["what_if"])) for r in self.table().iter_rows(named=True)]
        body = el("div", el("p", el("strong", caption) if caption else "", " ", self.describe()),
                  el("table", head, rows), cls="forensics-counts")
        return HTML(_font_style() + body)

    @property
    def widget(self):
        """The interactive ipywidgets box (built on first use)."""
        if self._widget is None:
            self._widget = self._build()
        return self._widget

    def _build(self):
        import ipywidgets as w
        from IPython.display import display

        options = edge_options(list(self.base_edges.values()) + list(self.edges.values()))
        sliders = {}
        for k in EDGES:
            if self.edges[k] is None or not options:
                continue
            sliders[k] = w.SelectionSlider(
                options=[(self._fmt(t), t) for t in options], value=self.edges[k],
                description=EDGE_LABELS[k], continuous_update=True,
                style={"description_width": "220px"}, layout=w.Layout(width="720px"))
        picker = w.SelectMultiple(options=self.attacker_ips, value=tuple(self.selected_ips),
                                  description="攻撃元IP / attacker IPs", rows=min(6, max(2, len(self.attacker_ips))),
                                  style={"description_width": "220px"}, layout=w.Layout(width="520px"))
        reset = w.Button(description="リセット / reset")
        out = w.Output()

        def redraw(*_):
            # The counts are milliseconds (precomputed what-if tables); the chart is redrawn too.
            self.update(attacker_ips=list(picker.value), **{k: s.value for k, s in sliders.items()})
            out.clear_output(wait=True)
            with out:
                display(self.static_summary())
                display(self.chart())

        def on_reset(_):
            for k, s in sliders.items():
                s.value = self.base_edges[k]
            picker.value = tuple(self.attacker_ips)

        for s in sliders.values():
            s.observe(redraw, names="value")
        picker.observe(redraw, names="value")
        reset.on_click(on_reset)
        redraw()
        box = w.VBox([*sliders.values(), picker, reset, out])
        box.add_class("forensics-explorer")
        return box

    def show(self) -> None:
        """Display the widget and the static summary (the latter is what papermill keeps)."""
        from IPython.display import display

        display(self.widget)
        display(self.static_summary("静的な写し（初期値）/ static copy at the initial values:"))
        display(self.chart())
