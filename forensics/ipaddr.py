"""IP addresses compared as addresses: any spelling, v4 and v6, single addresses and networks.

Logs and case files spell one address many ways (``2001:db8::1``, ``2001:0db8:0:0::1``,
``2001:DB8::1``, ``::ffff:192.0.2.7`` for an IPv4 client of a dual-stack socket). Every IP the
toolkit compares is first brought to one canonical text (:func:`canonical_ip`): IPv6 compressed and
lower-case, an IPv4-mapped IPv6 address as its IPv4 address. A value that is not an address
(``-``, a host name when the server resolved names) stays as it is.

- :func:`canonical_ip` / :func:`canonical_ip_series`: one value, or a column (each distinct value
  parsed once, so a log of millions of lines costs as many parses as it has distinct clients).
- :class:`IpSet`: addresses and networks (``203.0.113.0/24``, ``2001:db8::/32``) with membership
  of any spelling, and :meth:`IpSet.expr` for a polars column.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable

import polars as pl

__all__ = ["IpSet", "canonical_ip", "canonical_ip_series", "parse_network"]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _address(text: str) -> Address | None:
    s = text.strip()
    if s.startswith("[") and s.endswith("]"):
        s = s[1:-1]
    try:
        ip = ipaddress.ip_address(s)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


@functools.lru_cache(maxsize=1 << 16)
def canonical_ip(text: str | None) -> str | None:
    """The canonical spelling of an IP address; other text unchanged; None stays None.

    >>> canonical_ip("2001:0DB8:0:0::1"), canonical_ip("::ffff:192.0.2.7"), canonical_ip("-")
    ('2001:db8::1', '192.0.2.7', '-')
    """
    if text is None:
        return None
    ip = _address(text)
    return text if ip is None else ip.compressed


def canonical_ip_series(values: pl.Series) -> pl.Series:
    """``values`` with every address in its canonical spelling (distinct values parsed once)."""
    distinct = values.drop_nulls().unique()
    mapping = {v: c for v in distinct.to_list() if (c := canonical_ip(v)) != v}
    if not mapping:
        return values
    return values.replace(mapping)


def parse_network(text: str) -> Network:
    """An address or a network (``198.51.100.10``, ``203.0.113.0/24``, ``2001:db8::/32``).

    Raises ``ValueError`` for anything else. Host bits in a network are allowed
    (``203.0.113.7/24`` is ``203.0.113.0/24``), as in most firewall syntaxes.
    """
    s = str(text).strip()
    if "/" not in s:
        ip = _address(s)
        if ip is None:
            raise ValueError(f"{text!r} is not an IP address or network")
        return ipaddress.ip_network(ip)
    try:
        net = ipaddress.ip_network(s, strict=False)
    except ValueError:
        raise ValueError(f"{text!r} is not an IP address or network") from None
    if isinstance(net, ipaddress.IPv6Network) and net.network_address.ipv4_mapped is not None and net.prefixlen >= 96:
        net = ipaddress.ip_network(f"{net.network_address.ipv4_mapped}/{net.prefixlen - 96}")
    return net


class IpSet:
    """A set of addresses and networks; membership is by address, whatever the spelling.

    >>> s = IpSet(["203.0.113.0/24", "2001:db8::1"])
    >>> "203.0.113.45" in s, "2001:0db8:0:0::1" in s, "198.51.100.1" in s, "-" in s
    (True, True, False, False)
    """

    def __init__(self, items: Iterable[str] = ()) -> None:
        self.items = tuple(str(i) for i in items)
        self.networks: tuple[Network, ...] = tuple(parse_network(i) for i in self.items)

    def __bool__(self) -> bool:
        return bool(self.networks)

    def __contains__(self, text: object) -> bool:
        if not isinstance(text, str):
            return False
        ip = _address(text)
        return ip is not None and any(ip.version == n.version and ip in n for n in self.networks)

    def matching(self, values: Iterable[str | None]) -> list[str]:
        """The distinct values (as given) that are members, sorted."""
        return sorted({v for v in values if v is not None and v in self})

    def expr(self, column: pl.Series | pl.DataFrame | pl.LazyFrame, name: str) -> pl.Expr:
        """Polars expression: column ``name`` holds a member. The distinct values of ``name`` in
        ``column`` (a Series, or a frame holding the column) are tested once here."""
        if isinstance(column, pl.Series):
            values = column.unique()
        else:
            frame = column.lazy().select(pl.col(name).unique()).collect()
            values = frame.get_column(name)
        hits = self.matching(values.to_list()) if self.networks else []
        return pl.col(name).is_in(pl.Series(hits, dtype=pl.String).implode())

    def __repr__(self) -> str:
        return f"IpSet({list(self.items)!r})"
