"""Interval algebra and the three exposure windows."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from forensics.exposure.windows import Interval, IntervalSet, exposure_windows
from tests.exposure.world import jst


def iv(a, b):
    return Interval(jst(a), jst(b))


def test_interval_is_closed_and_tz_aware():
    i = iv("2017-04-01 00:00:00", "2017-04-10 13:00:00")
    assert jst("2017-04-01 00:00:00") in i and jst("2017-04-10 13:00:00") in i
    assert jst("2017-04-10 13:00:01") not in i
    with pytest.raises(ValueError):
        Interval(dt.datetime(2017, 4, 1), dt.datetime(2017, 4, 2))  # naive
    with pytest.raises(ValueError):
        iv("2017-04-02 00:00:00", "2017-04-01 00:00:00")


def test_union_intersection_difference():
    a = iv("2017-04-01 00:00:00", "2017-04-05 00:00:00")
    b = iv("2017-04-03 00:00:00", "2017-04-08 00:00:00")
    c = iv("2017-04-09 00:00:00", "2017-04-10 00:00:00")
    assert (a | b) == IntervalSet([iv("2017-04-01 00:00:00", "2017-04-08 00:00:00")])
    assert len(a | c) == 2
    assert (a & b) == IntervalSet([iv("2017-04-03 00:00:00", "2017-04-05 00:00:00")])
    assert not (a & c)
    d = (a | b) - iv("2017-04-04 00:00:00", "2017-04-06 00:00:00")
    assert len(d) == 2
    assert jst("2017-04-04 00:00:00") not in d and jst("2017-04-03 23:59:59") in d
    assert jst("2017-04-06 00:00:00") not in d and jst("2017-04-06 00:00:01") in d
    assert (d | c).duration < (a | b | c).duration


def test_contains_expr_over_a_timestamp_column():
    s = iv("2017-04-01 00:00:00", "2017-04-02 00:00:00") | iv("2017-04-05 00:00:00", "2017-04-06 00:00:00")
    df = pl.DataFrame({"ts": [jst("2017-03-31 23:59:59"), jst("2017-04-01 00:00:00"), jst("2017-04-03 00:00:00"),
                              jst("2017-04-06 00:00:00"), None]}, schema={"ts": pl.Datetime("us", "UTC")})
    assert df.select(s.contains_expr("ts"))["ts"].to_list() == [False, True, False, True, None]
    assert df.select(IntervalSet().contains_expr("ts"))["ts"].to_list()[:4] == [False] * 4


def test_three_windows_with_their_evidence():
    phases = {"attacker_admin_login": jst("2017-03-31 23:28:10"), "backdoor_installed": jst("2017-03-31 23:31:05"),
              "card_form_tampered": jst("2017-04-08 21:14:00"), "containment": jst("2017-04-10 13:00:00")}
    w = exposure_windows(phases, last_admin_request=jst("2017-04-10 12:00:00"),
                         evidence={"backdoor_installed": {"source": "logs/eccube/admin.log", "line_no": 7}})
    assert w["backdoor"].interval == iv("2017-03-31 23:31:05", "2017-04-10 13:00:00")
    assert w["backdoor"].opened_by["line_no"] == 7 and w["backdoor"].closed_by["edge"] == "containment"
    assert w["skimmer"].start == jst("2017-04-08 21:14:00")
    assert w["admin_access"].to_iso("Asia/Tokyo") == ["2017-03-31T23:28:10+09:00", "2017-04-10T12:00:00+09:00"]
    w2 = exposure_windows({**phases, "card_form_tampered": None})
    assert w2["skimmer"].interval is None and "card_form_tampered" in w2["skimmer"].reason
    assert w2["admin_access"].interval is None


from hypothesis import given, settings
from hypothesis import strategies as st

_T0 = jst("2017-04-01 00:00:00")
_secs = st.integers(min_value=0, max_value=100)


@st.composite
def _iv(draw):
    a, b = sorted((draw(_secs), draw(_secs)))
    return Interval(_T0 + dt.timedelta(seconds=a), _T0 + dt.timedelta(seconds=b))


@settings(max_examples=200, deadline=None)
@given(st.lists(_iv(), max_size=4), st.lists(_iv(), max_size=4), _secs)
def test_set_algebra_agrees_with_membership(xs, ys, s):
    a, b = IntervalSet(xs), IntervalSet(ys)
    t = _T0 + dt.timedelta(seconds=s)
    assert (t in (a | b)) == (t in a or t in b)
    assert (t in (a & b)) == (t in a and t in b)
    assert (t in (a - b)) == (t in a and t not in b)
    df = pl.DataFrame({"ts": [t]}, schema={"ts": pl.Datetime("us", "UTC")})
    assert df.select((a - b).contains_expr("ts")).item() == (t in (a - b))
