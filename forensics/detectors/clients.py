"""The address a request came from, when the shop sits behind proxies (a CDN, a load balancer).

A web server behind a proxy logs the proxy as the connecting address (``client_ip``); the proxy
passes the address it saw in ``X-Forwarded-For``, appending to the chain it received. The case
names its proxies (``site.proxies``: addresses or networks); for a request whose connecting
address is one of them, the client is the rightmost address of its chain that is not a proxy
(the nearest hop the shop's own proxies did not add: anything left of it was written by the
client and proves nothing). Without proxies, or without a chain, ``client_ip`` stays as logged.
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from forensics.ipaddr import IpSet, canonical_ip_series

__all__ = ["resolve_clients"]


def resolve_clients(access: pl.LazyFrame | pl.DataFrame, proxies: Iterable[str]) -> pl.LazyFrame | pl.DataFrame:
    """``access`` with ``client_ip`` the client behind the case's proxies and ``peer_ip`` the
    connecting address as logged; needs ``client_ip`` and ``forwarded_for``. A LazyFrame stays
    lazy: only the distinct connecting addresses and forwarded-for hops are read here, and the
    rest is one expression per row.

    >>> a = pl.DataFrame({"client_ip": ["10.0.0.5", "10.0.0.5", "198.51.100.7"],
    ...                   "forwarded_for": ["6.6.6.6, 192.0.2.146, 10.0.0.9", None, "192.0.2.1"]})
    >>> resolve_clients(a, ["10.0.0.0/24"])["client_ip"].to_list()
    ['192.0.2.146', '10.0.0.5', '198.51.100.7']
    """
    lf = access.lazy()
    out = lf.with_columns(peer_ip=pl.col("client_ip"))
    proxy_set = IpSet(proxies)
    if proxy_set and "forwarded_for" in lf.collect_schema().names():
        via = proxy_set.expr(lf, "client_ip") & pl.col("forwarded_for").is_not_null()
        chain = pl.col("forwarded_for").str.split(",").list.eval(pl.element().str.strip_chars())
        hops = lf.filter(via).select(chain.alias("hop")).explode("hop").unique().collect()["hop"]
        spelled = canonical_ip_series(hops)
        canonical = dict(zip(hops.to_list(), spelled.to_list()))
        # each hop in its canonical spelling; the hops the proxies added are dropped
        added_by_proxy = sorted({h for h in canonical.values() if h is not None and h in proxy_set})
        nearest = chain.list.eval(
            pl.element().replace_strict(canonical, default=None, return_dtype=pl.String)
            .filter(_kept_hop(added_by_proxy))
        ).list.last()
        out = out.with_columns(client_ip=pl.when(via).then(pl.coalesce(nearest, pl.col("client_ip")))
                               .otherwise(pl.col("client_ip")))
    return out if isinstance(access, pl.LazyFrame) else out.collect()


def _kept_hop(added_by_proxy: list[str]) -> pl.Expr:
    """Inside ``list.eval``: a hop that is present and not one of ``added_by_proxy``."""
    return pl.element().is_not_null() & ~pl.element().is_in(pl.Series(added_by_proxy, dtype=pl.String).implode())
