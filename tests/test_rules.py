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


def test_sqli_rules_have_unique_ids_and_descriptions():
    ids = [r[0] for r in SQLI_RULES] if isinstance(SQLI_RULES[0], tuple) else [r.id for r in SQLI_RULES]
    assert len(set(ids)) == len(ids)


def test_a_bad_rule_table_is_refused():
    from forensics.exposure.viewed import ItemRule

    with pytest.raises(ValueError, match="duplicate"):
        rule_table([ItemRule("a", "name", "x", "d"), ItemRule("a", "name", "y", "d")])
    with pytest.raises(ValueError, match="status"):
        rule_table([ItemRule("a", "name", "x", "d", status="maybe")])
