"""Exposure explorer: edges and IP filter go through the what-if function; static summary for papermill."""

from __future__ import annotations

import datetime as dt

import pytest

from forensics import widgets

UTC = dt.timezone.utc
BASE = {
    "backdoor_start": dt.datetime(2017, 3, 31, 14, 31, 40, tzinfo=UTC),
    "skimmer_start": dt.datetime(2017, 4, 8, 12, 14, 9, tzinfo=UTC),
    "containment": dt.datetime(2017, 4, 10, 4, 0, tzinfo=UTC),
}
COUNTS = {"viewed_persons": 55, "cards_confirmed_customer": 2, "cards_confirmed_test": 3,
          "cards_possible_customer": 8, "cards_possible_test": 0, "cards_total": 13}


class FakeWhatIf:
    """Possible cards shrink by one per day the backdoor start moves later; IP filter halves views."""

    def __init__(self):
        self.calls = []

    def __call__(self, *, backdoor_start=None, skimmer_start=None, containment=None, attacker_ips=None):
        self.calls.append(dict(backdoor_start=backdoor_start, skimmer_start=skimmer_start,
                               containment=containment, attacker_ips=attacker_ips))
        days = ((backdoor_start or BASE["backdoor_start"]) - BASE["backdoor_start"]).days
        possible = max(0, 8 - days)
        return dict(COUNTS, viewed_persons=55 if attacker_ips is None else 27,
                    cards_possible_customer=possible, cards_total=5 + possible)


@pytest.fixture
def explorer():
    return widgets.ExposureExplorer(FakeWhatIf(), base_edges=BASE, attacker_ips=["203.0.113.99", "203.0.113.7"],
                                    base_counts=COUNTS, tz="Asia/Tokyo")


def test_initial_counts_are_the_findings(explorer):
    assert explorer.counts == COUNTS
    assert explorer.compute.calls[0]["attacker_ips"] is None  # all IPs selected = no filter
    assert explorer.table()["what_if"].to_list() == [55, 2, 3, 8, 0, 13]


def test_moving_an_edge_recomputes(explorer):
    counts = explorer.update(backdoor_start=BASE["backdoor_start"] + dt.timedelta(days=3))
    assert counts["cards_possible_customer"] == 5 and counts["cards_total"] == 10
    t = explorer.table()
    assert t.filter(t["item"].str.contains("total"))["findings"].item() == 13


def test_ip_filter(explorer):
    assert explorer.update(attacker_ips=["203.0.113.7"])["viewed_persons"] == 27
    assert "ips=203.0.113.7" in explorer.describe()


def test_initial_values_from_parameters():
    f = FakeWhatIf()
    start = widgets.parse_edge("2017-04-02T23:31:40", "Asia/Tokyo")  # naive: case zone
    e = widgets.ExposureExplorer(f, base_edges=BASE, attacker_ips=["203.0.113.7"], base_counts=COUNTS,
                                 tz="Asia/Tokyo", initial={"backdoor_start": start, "containment": None})
    assert e.edges["backdoor_start"] == dt.datetime(2017, 4, 2, 14, 31, 40, tzinfo=UTC)
    assert e.edges["containment"] == BASE["containment"]
    assert e.counts["cards_possible_customer"] == 6
    assert "backdoor_start=04-02 23:31" in e.describe()


def test_parse_edge_blank_is_none():
    assert widgets.parse_edge("", "Asia/Tokyo") is None
    assert widgets.parse_edge(None, "Asia/Tokyo") is None
    assert widgets.parse_edge("2017-04-10T13:00:00+09:00", "UTC") == BASE["containment"]


def test_widget_sliders_drive_the_counts(explorer):
    box = explorer.widget
    sliders = [c for c in box.children if c.__class__.__name__ == "SelectionSlider"]
    assert len(sliders) == 3
    backdoor = sliders[0]
    later = [v for _label, v in backdoor.options if v > BASE["backdoor_start"] + dt.timedelta(days=2)][0]
    backdoor.value = later
    assert explorer.counts["cards_possible_customer"] == 6
    picker = next(c for c in box.children if c.__class__.__name__ == "SelectMultiple")
    picker.value = ("203.0.113.7",)
    assert explorer.counts["viewed_persons"] == 27


def test_edge_options_contain_the_exact_edges():
    opts = widgets.edge_options(BASE.values())
    for v in BASE.values():
        assert v in opts
    assert opts == sorted(opts)


def test_static_summary_is_html_with_counts(explorer):
    html = explorer.static_summary("caption <x>")._repr_html_()
    assert "<table>" in html and "55" in html and "13" in html
    assert "caption &lt;x&gt;" in html
    assert 'class="forensics-counts"' in html


def test_chart_is_an_altair_chart(explorer):
    spec = explorer.chart().to_dict()
    assert "what-if" in str(spec["title"])


def test_unknown_ips_are_ignored_and_said():
    e = widgets.ExposureExplorer(FakeWhatIf(), base_edges=BASE, attacker_ips=["203.0.113.7", "203.0.113.99"],
                                 base_counts=COUNTS, tz="Asia/Tokyo", initial_ips=["203.0.113.7", "10.0.0.1"])
    assert e.selected_ips == ["203.0.113.7"]
    assert "ignored: 10.0.0.1" in e.describe()
    assert len(e.widget.children) == 6
