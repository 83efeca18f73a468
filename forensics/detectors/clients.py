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


def resolve_clients(access: pl.DataFrame, proxies: Iterable[str]) -> pl.DataFrame:
    """``access`` with ``client_ip`` the client behind the case's proxies and ``peer_ip`` the
    connecting address as logged; needs ``client_ip`` and ``forwarded_for``.

    >>> a = pl.DataFrame({"client_ip": ["10.0.0.5", "10.0.0.5", "198.51.100.7"],
    ...                   "forwarded_for": ["6.6.6.6, 192.0.2.146, 10.0.0.9", None, "192.0.2.1"]})
    >>> resolve_clients(a, ["10.0.0.0/24"])["client_ip"].to_list()
    ['192.0.2.146', '10.0.0.5', '198.51.100.7']
    """
    proxy_set = IpSet(proxies)
    out = access.with_columns(peer_ip=pl.col("client_ip"))
    if not proxy_set or "forwarded_for" not in access.columns or out.height == 0:
        return out
    via = proxy_set.expr(out, "client_ip") & pl.col("forwarded_for").is_not_null()
    hops = (
        out.with_row_index("_row").filter(via)
        .select("_row", hop=pl.col("forwarded_for").str.split(","))
        .with_columns(pos=pl.int_ranges(pl.col("hop").list.len()))
        .explode("hop", "pos")
    )
    if hops.height == 0:
        return out
    hops = hops.with_columns(hop=canonical_ip_series(hops.get_column("hop").str.strip_chars()))
    hops = hops.filter(pl.col("hop").is_not_null() & ~proxy_set.expr(hops, "hop"))
    nearest = hops.sort("pos").group_by("_row").agg(pl.col("hop").last())
    return (
        out.with_row_index("_row").join(nearest, on="_row", how="left")
        .with_columns(client_ip=pl.coalesce("hop", "client_ip")).drop("_row", "hop")
    )
