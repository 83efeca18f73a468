"""Japanese era dates (和暦): 明治, 大正, 昭和, 平成, 令和, with 元年 for an era's first year.

>>> import datetime as dt
>>> to_wareki(dt.date(2017, 4, 10))
'平成29年4月10日'
>>> to_wareki(dt.date(2019, 5, 1))
'令和元年5月1日'
>>> to_wareki(dt.date(1989, 1, 7)), to_wareki(dt.date(1989, 1, 8))
('昭和64年1月7日', '平成元年1月8日')

Eras start on the day of the accession (改元日) in the Gregorian calendar. Japan adopted the
Gregorian calendar on 明治6年1月1日 (1873-01-01); earlier dates are given in the Gregorian
calendar with the Meiji year counted from 1868 (明治元年), which is what most software does.
Dates before 明治 (1868-01-25 Gregorian, the start of 明治元年 by the retroactive rule) raise
``ValueError``.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

__all__ = ["ERAS", "Era", "era_of", "to_wareki", "wareki_datetime"]


class Era(NamedTuple):
    name: str
    start: dt.date  # first day of the era (Gregorian)
    romaji: str


#: Modern eras, newest first.
ERAS: tuple[Era, ...] = (
    Era("令和", dt.date(2019, 5, 1), "Reiwa"),
    Era("平成", dt.date(1989, 1, 8), "Heisei"),
    Era("昭和", dt.date(1926, 12, 25), "Showa"),
    Era("大正", dt.date(1912, 7, 30), "Taisho"),
    # 明治 was proclaimed 1868-10-23 and applied retroactively from the start of that lunar year
    # (1868-01-25 Gregorian); counting years from 1868 is the conventional rendering.
    Era("明治", dt.date(1868, 1, 25), "Meiji"),
)


def era_of(day: dt.date) -> tuple[Era, int]:
    """The era holding ``day`` and the year within it (1 = 元年)."""
    if isinstance(day, dt.datetime):
        day = day.date()
    for era in ERAS:
        if day >= era.start:
            return era, day.year - era.start.year + 1
    raise ValueError(f"{day.isoformat()} is before the Meiji era; no 和暦 rendering")


def _year(n: int) -> str:
    return "元年" if n == 1 else f"{n}年"


def to_wareki(day: dt.date) -> str:
    """``平成29年4月10日`` for 2017-04-10 (元年 for an era's first year).

    A datetime is taken as it is (convert it to the case zone first).
    """
    if isinstance(day, dt.datetime):
        day = day.date()
    era, year = era_of(day)
    return f"{era.name}{_year(year)}{day.month}月{day.day}日"


def wareki_datetime(t: dt.datetime, *, seconds: bool = False) -> str:
    """``平成29年3月31日 23時28分`` (the wall clock of ``t`` as given)."""
    s = f"{to_wareki(t)} {t.hour}時{t.minute:02d}分"
    return s + (f"{t.second:02d}秒" if seconds else "")
