"""The notebook steps (forensics.session.Run) over saved tables: no recomputation, deterministic text."""

from __future__ import annotations

import datetime as dt
import json
import types
from pathlib import Path

import polars as pl
import pytest

from forensics.session import Run
from forensics.workspace import Workspace

HERE = Path(__file__).parent
UTC = dt.timezone.utc
TS = pl.Datetime("us", "UTC")


@pytest.fixture
def run(tmp_path):
    findings = json.loads((HERE / "report" / "findings_sample.json").read_text(encoding="utf-8"))
    case = types.SimpleNamespace(id="toshomart-2017", timezone="Asia/Tokyo", title="東商マート 不正アクセス調査")
    ws = Workspace(tmp_path / "out", key="k")
    ws.save_json("findings", findings)
    t = lambda s: dt.datetime.fromisoformat(s).astimezone(UTC)  # noqa: E731
    ws.save_table("whatif_entries", pl.DataFrame({
        "order_id": [10, 11, 12, 13], "person_key": ["c:2", "c:3", "c:4", "c:1"],
        "entered": [t("2017-03-25T10:00:00+09:00"), t("2017-04-02T10:00:00+09:00"),
                    t("2017-04-09T10:00:00+09:00"), t("2017-04-09T11:00:00+09:00")],
        "is_test": [False, False, False, True]}, schema_overrides={"entered": TS}))
    ws.save_table("whatif_confirmed", pl.DataFrame({
        "card_key": ["hk:a", "hk:b", "hk:c"], "first_entered": [t("2017-04-09T10:00:00+09:00"),
                                                               t("2017-04-09T11:00:00+09:00"),
                                                               t("2017-04-09T12:00:00+09:00")],
        "order_id": [12, 13, None], "person_key": ["c:4", "c:1", None], "is_test": [False, True, False]},
        schema_overrides={"first_entered": TS, "order_id": pl.Int64}))
    ws.save_table("whatif_views", pl.DataFrame({
        "person_key": ["c:2", "c:3"], "ts": [t("2017-04-02T10:00:00+09:00")] * 2, "client_ip": ["203.0.113.7"] * 2,
        "ambiguous": [False, False], "session_ip": [None, None]}, schema_overrides={"ts": TS, "session_ip": pl.String}))
    ws.save_json("whatif_base", {"backdoor_start": "2017-03-31T14:31:40+00:00", "skimmer_start": "2017-04-08T12:14:09+00:00",
                                 "containment": "2017-04-10T04:00:00+00:00", "attacker_ips": ["203.0.113.7"],
                                 "viewed_mode": "replay", "viewed_upper": None})
    return Run(case=case, ws=ws)


def test_phases_text_is_in_the_case_zone(run):
    assert run.phases_text(["sqli_first", "containment"]) == (
        "sqli_first            2017-03-19T10:02:11+09:00\n"
        "containment           2017-04-10T13:00:00+09:00")


def test_counts_text(run):
    text = run.counts_text()
    assert "viewed_persons: 55" in text
    assert text.endswith("cards: 2 + 3 + 8 + 0 = 13")


def test_card_entries_by_category(run):
    cats = run.card_entries_by_category()
    assert cats["category"].to_list() == ["outside", "possible", "confirmed", "test", "confirmed"]


def test_explorer_uses_the_saved_whatif_tables(run):
    e = run.explorer()
    assert e.counts["viewed_persons"] == 2
    assert e.counts["cards_possible_customer"] == 1  # order 11 inside the backdoor window
    later = e.update(backdoor_start=dt.datetime(2017, 4, 5, tzinfo=UTC))
    assert later["cards_possible_customer"] == 0


def test_windows_table(run):
    w = run.windows_table()
    assert w.filter(pl.col("window") == "backdoor")["start"].item() == "2017-03-31T23:31:40+09:00"


def test_charts_from_saved_tables(run, tmp_path):
    from forensics.charts import save_chart

    save_chart(run.exposure_windows_chart(), "w", tmp_path)
    save_chart(run.exposure_counts_chart(), "c", tmp_path)
    save_chart(run.attack_timeline_chart(), "t", tmp_path)


def test_notebook_charts_hold_no_long_digit_runs():
    import re

    import altair as alt

    from forensics.session import enable_tidy_offline_charts

    previous = alt.renderers.active
    try:
        enable_tidy_offline_charts()
        chart = alt.Chart(pl.DataFrame({"x": [1 / 3, 2 / 7], "y": [1 / 7, 5 / 9]})).mark_point().encode(x="x:Q", y="y:Q")
        bundle = chart._repr_mimebundle_()
        bundle = bundle[0] if isinstance(bundle, tuple) else bundle
        assert "<svg" in bundle["image/svg+xml"]
        assert not re.search(r"\d\.\d{3,}", bundle["image/svg+xml"])
    finally:
        alt.renderers.enable(previous)


def test_database_side_text_says_how_statements_were_tied(run):
    from forensics.detectors.sqli import NOT_TIED

    same = "injected text found in the statement, same second"
    run.ws.save_table("inv_sqli_database_side", pl.DataFrame({
        "ip": ["192.0.2.146"], "requests": [209], "reached_db": [202], "statements": [202], "sql_errors": [0],
        "tables": [["dtb_member"]], "columns": [["password"]], "how_tied": [[f"query log: {same} (202)"]]}))
    run.ws.save_table("inv_sqli_reach", pl.DataFrame({
        "ts": [dt.datetime(2017, 3, 31, 13, 49, 7, tzinfo=UTC)] * 2, "client_ip": ["192.0.2.146", None],
        "tie": [same, NOT_TIED], "candidates": [1, 0], "req_source": ["access_log", None], "req_line_no": [20289, None],
        "tables": [["dtb_member"], []], "columns": [["password"], []], "statement": ["SELECT ...", "SELECT ..."],
        "source": ["general.log"] * 2, "line_no": [1, 2]}, schema_overrides={"ts": TS}))
    assert run.sqli_database_side_text() == (
        "192.0.2.146: 209 flagged requests, 202 reached the database (202 query-log statements, 0 SQL errors); "
        f"tied: query log: {same} (202)\n"
        f"query-log statements with injected SQL tied to no request: 1 ({NOT_TIED})")
    shown = run.sqli_statements()
    assert shown["tie"].to_list() == [same, NOT_TIED]
    assert str(shown["ts"].dtype.time_zone) == "Asia/Tokyo"
