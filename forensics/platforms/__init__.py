"""What the toolkit knows about one shop platform, in one place per platform.

A platform module holds its admin routing table (:class:`AdminPage` records): which admin pages
exist, which person tables each displays, and how a request is told to be one of them. Detectors
and exposure calculators read the routing from here, never from constants of their own.
"""

from forensics.platforms.routing import AdminPage, page_expr, pages_showing, shown_tables

__all__ = ["AdminPage", "page_expr", "pages_showing", "shown_tables"]
