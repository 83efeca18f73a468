"""和暦: every modern era, 元年, and the boundaries between eras."""

from __future__ import annotations

import datetime as dt

import pytest

from forensics.report.wareki import era_of, to_wareki, wareki_datetime


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        pytest.param(dt.date(2017, 4, 10), "平成29年4月10日", id="heisei-notice"),
        pytest.param(dt.date(2017, 3, 31), "平成29年3月31日", id="heisei-login"),
        pytest.param(dt.date(1989, 1, 7), "昭和64年1月7日", id="showa-last-day"),
        pytest.param(dt.date(1989, 1, 8), "平成元年1月8日", id="heisei-gannen"),
        pytest.param(dt.date(2019, 4, 30), "平成31年4月30日", id="heisei-last-day"),
        pytest.param(dt.date(2019, 5, 1), "令和元年5月1日", id="reiwa-gannen"),
        pytest.param(dt.date(2026, 11, 26), "令和8年11月26日", id="reiwa-today"),
        pytest.param(dt.date(1926, 12, 24), "大正15年12月24日", id="taisho-last-day"),
        pytest.param(dt.date(1926, 12, 25), "昭和元年12月25日", id="showa-gannen"),
        pytest.param(dt.date(1912, 7, 29), "明治45年7月29日", id="meiji-last-day"),
        pytest.param(dt.date(1912, 7, 30), "大正元年7月30日", id="taisho-gannen"),
        pytest.param(dt.date(1873, 1, 1), "明治6年1月1日", id="meiji-gregorian-adoption"),
    ],
)
def test_to_wareki(day, expected):
    assert to_wareki(day) == expected


def test_datetime_keeps_the_wall_clock():
    t = dt.datetime(2017, 3, 31, 23, 28, 4)
    assert wareki_datetime(t) == "平成29年3月31日 23時28分"
    assert wareki_datetime(t, seconds=True) == "平成29年3月31日 23時28分04秒"


def test_before_meiji_is_an_error():
    with pytest.raises(ValueError, match="before the Meiji era"):
        era_of(dt.date(1850, 1, 1))
