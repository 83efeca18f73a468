"""Attacker text is parsed in linear time: adversarial inputs of a megabyte against every parser
of card data (masking, the output scan, the skim reader's number and field parsing) finish well
inside a budget that a quadratic parser would blow by orders of magnitude."""

from __future__ import annotations

import time

import polars as pl
import pytest

from forensics import cards
from forensics.detectors import skim

pytestmark = pytest.mark.slow

MB = 1 << 20
#: Patterns that make backtracking or pairwise parsers blow up, each about 1 MB.
ADVERSARIAL = {
    "separated digits": "4 " * (MB // 2),
    "digit groups": "4444 " * (MB // 5),
    "long digit run": "4" * MB,
    "label without value": "exp" + "_month" * (MB // 6),
    "name-like key": "name" + "_" * MB,
    "labels": "card_no=" * (MB // 8),
    "expiry-like": ("12/20 " + "AB " * 3) * (MB // 15),
    "security-code labels": "cvv=" * (MB // 4),
}
BUDGET_S = 120  # linear parsing takes seconds to tens of seconds here; quadratic would take hours


@pytest.mark.parametrize("name", list(ADVERSARIAL))
def test_masking_and_scanning_are_linear(name):
    text = ADVERSARIAL[name]
    started = time.monotonic()
    cards.mask_text(text)
    cards.scan_text_for_card_data(text)
    cards.find_pans(text)
    assert time.monotonic() - started < BUDGET_S, name


@pytest.mark.parametrize("name", list(ADVERSARIAL))
def test_skim_field_parsing_is_linear(name):
    text = ADVERSARIAL[name]
    pan = "4" + "1" * 14
    pan += cards.luhn_check_digit(pan)
    started = time.monotonic()
    numbers = [(0, 16)]
    items = skim._items(pan + text, numbers, skim.ZoneInfo("UTC"))
    skim._assign(numbers, items)
    assert time.monotonic() - started < BUDGET_S, name


def test_a_megabyte_line_in_a_skim_candidate_is_read_within_the_budget():
    data = ("exp" + "_month" * (MB // 12) + "\n" + "4444 " * (MB // 10)).encode()
    started = time.monotonic()
    out = skim.decode_skim_files(pl.DataFrame({"path": ["x.gif"], "content": [data]}))
    assert time.monotonic() - started < 4 * BUDGET_S
    assert out.files["status"].to_list() in (["no_card_data"], ["decoded"])
