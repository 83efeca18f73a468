"""IP addresses compared as addresses: spellings, v4/v6, networks."""

from __future__ import annotations

import polars as pl
import pytest

from forensics.ipaddr import IpSet, canonical_ip, canonical_ip_series, parse_network


@pytest.mark.parametrize(
    "text, want",
    [
        ("2001:0db8:0:0::1", "2001:db8::1"),
        ("2001:DB8::1", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("192.0.2.7", "192.0.2.7"),
        ("-", "-"),
        ("crawl-66-249-66-1.googlebot.com", "crawl-66-249-66-1.googlebot.com"),
    ],
)
def test_canonical_spelling(text, want):
    assert canonical_ip(text) == want


def test_series_maps_each_distinct_value():
    s = pl.Series(["2001:0db8::0001", "192.0.2.1", None, "2001:db8::1"])
    assert canonical_ip_series(s).to_list() == ["2001:db8::1", "192.0.2.1", None, "2001:db8::1"]


def test_networks_and_addresses():
    s = IpSet(["203.0.113.0/24", "2001:0db8:0:0::1", "2001:db8:ff::/48"])
    assert "203.0.113.45" in s and "203.0.114.1" not in s
    assert "2001:db8::1" in s and "2001:DB8:0000::0001" in s
    assert "2001:db8:ff:1::9" in s and "2001:db8:fe::1" not in s
    assert "::ffff:203.0.113.9" in s  # an IPv4 client of a dual-stack socket
    assert "not-an-ip" not in s and "-" not in s


def test_expr_on_a_column():
    df = pl.DataFrame({"ip": ["203.0.113.45", "192.0.2.1", "2001:db8::1"]})
    s = IpSet(["203.0.113.0/24", "2001:0db8::1"])
    assert df.filter(s.expr(df, "ip"))["ip"].to_list() == ["203.0.113.45", "2001:db8::1"]


@pytest.mark.parametrize("bad", ["203.0.113.0/33", "example.com", "1.2.3", ""])
def test_parse_network_refuses(bad):
    with pytest.raises(ValueError):
        parse_network(bad)
