"""Every rule table is a set of named records: unique ids, a description, a known status."""

from __future__ import annotations

import pytest

from forensics.detectors.sqli import SQLI_RULES
from forensics.platforms.eccube2 import PAYMENT_METHOD_RULES
from forensics.exposure.viewed import ITEM_RULES
from forensics.platforms import PLATFORMS
from forensics.rules import STATUSES, rule_table


@pytest.mark.parametrize("rules", [PAYMENT_METHOD_RULES, ITEM_RULES, *(p.admin_pages for p in PLATFORMS.values())],
                         ids=["payment", "items", *PLATFORMS])
def test_rule_tables_are_named_records(rules):
    table = rule_table(rules)
    assert table.height == len(rules) and table["id"].n_unique() == table.height
    assert set(table["status"]) <= set(STATUSES)


def test_sqli_rules_are_named_records_too():
    table = rule_table(SQLI_RULES)
    assert table.height == len(SQLI_RULES) and set(table["status"]) <= set(STATUSES)
    assert table.filter(table["false_positives"].list.len() > 0).height > 0  # the known ones are listed


def test_a_bad_rule_table_is_refused():
    from forensics.exposure.viewed import ItemRule

    with pytest.raises(ValueError, match="duplicate"):
        rule_table([ItemRule("a", "name", "x", "d"), ItemRule("a", "name", "y", "d")])
    with pytest.raises(ValueError, match="status"):
        rule_table([ItemRule("a", "name", "x", "d", status="maybe")])
