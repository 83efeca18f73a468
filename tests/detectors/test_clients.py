"""The client behind the shop's proxies: the nearest forwarded-for hop that is not a proxy."""

from __future__ import annotations

import polars as pl

from forensics.detectors.clients import resolve_clients

PROXIES = ["10.0.0.0/24", "2001:db8:ffff::1"]


def frame(rows):
    return pl.DataFrame(rows, schema={"client_ip": pl.String, "forwarded_for": pl.String}, orient="row")


def test_the_client_is_the_nearest_hop_the_proxies_did_not_add():
    got = resolve_clients(frame([
        ("10.0.0.5", "6.6.6.6, 192.0.2.146, 10.0.0.9"),   # 6.6.6.6 written by the client: no proof
        ("2001:db8:ffff:0::1", "2001:DB8:5C1:7:0:0:0:1F"),  # spelled otherwise: the same addresses
        ("10.0.0.5", "10.0.0.7, 10.0.0.9"),                 # only proxies: the connecting address stays
        ("10.0.0.5", None),
        ("10.0.0.5", "not-an-address, 192.0.2.9"),
    ]), PROXIES)
    assert got["client_ip"].to_list() == ["192.0.2.146", "2001:db8:5c1:7::1f", "10.0.0.5", "10.0.0.5", "192.0.2.9"]
    assert got["peer_ip"].to_list()[0] == "10.0.0.5"


def test_a_chain_from_a_client_that_is_not_a_proxy_is_not_believed():
    got = resolve_clients(frame([("198.51.100.7", "192.0.2.146")]), PROXIES)
    assert got["client_ip"].to_list() == ["198.51.100.7"]


def test_without_proxies_nothing_changes():
    f = frame([("10.0.0.5", "192.0.2.146")])
    assert resolve_clients(f, [])["client_ip"].to_list() == ["10.0.0.5"]


def test_a_lazy_frame_stays_lazy_and_resolves_the_same():
    f = frame([("10.0.0.5", "6.6.6.6, 192.0.2.146, 10.0.0.9"), ("198.51.100.7", "192.0.2.1"), ("10.0.0.5", None)])
    lazy = resolve_clients(f.lazy(), PROXIES)
    assert isinstance(lazy, pl.LazyFrame)
    assert lazy.collect().equals(resolve_clients(f, PROXIES))
