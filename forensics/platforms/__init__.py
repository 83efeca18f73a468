"""What the toolkit knows about one shop platform, in one place per platform.

A platform module holds one :class:`Platform` value: its admin routing table (:class:`AdminPage`
records: which admin pages exist, which person tables each displays, and how a request is told to
be one of them), its person tables, session table, login and card-entry answers, upload pages and
log zone. ``case.platform`` is the value named by ``site.profile`` (:data:`PLATFORMS`); detectors
and exposure calculators take it (or its parts) as parameters, never constants of their own.
Adding a platform is one module here, one entry in :data:`PLATFORMS`, and its app-log loader when
its logs differ.
"""

from forensics.platforms.eccube2 import ECCUBE2
from forensics.platforms.routing import AdminPage, Platform, page_expr, pages_showing, shown_tables

#: Platforms by ``site.profile`` name.
PLATFORMS: dict[str, Platform] = {p.name: p for p in (ECCUBE2,)}

__all__ = ["AdminPage", "PLATFORMS", "Platform", "page_expr", "pages_showing", "shown_tables"]
