"""Admin routing: request path (and ``mode``) -> page class, and what each page displays."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import polars as pl

#: ``shows`` value of a page that displays rows of every person table (a database backup).
EVERY_PERSON_TABLE = "*"
#: ``shows`` value of a page that displays whatever person table its own SELECT reads.
ANY_PERSON_TABLE = "?"


@dataclass(frozen=True)
class AdminPage:
    """One admin page of a platform.

    ``path``: regex of the path relative to the admin folder (anchored at both ends); ``mode``:
    the page is this class only when the request's ``mode`` is this value (a list page exporting
    CSV), else any mode; ``shows``: the person tables whose rows the page displays
    (:data:`EVERY_PERSON_TABLE`, :data:`ANY_PERSON_TABLE`, or table names); ``whole``: the page
    hands over every row of what it shows at that moment (a backup), not the rows its SELECTs
    return; ``source``: the platform code that shows it; ``mode_signature``: see the field. As a rule record (:mod:`forensics.rules`):
    ``id`` is the name, ``description`` the source, ``status`` and ``false_positives`` as given.
    """

    name: str
    path: str
    shows: tuple[str, ...] = ()
    mode: str | None = None
    whole: bool = False
    source: str = ""
    status: str = "stable"
    false_positives: tuple[str, ...] = ()
    #: regex over the statements of the request's database connection that shows the request ran
    #: in this page's ``mode`` when the request line hides it (a POST): the platform's own reads
    #: in that mode
    mode_signature: str | None = None

    @property
    def id(self) -> str:
        return self.name

    @property
    def description(self) -> str:
        return self.source or self.name


def norm_admin_dir(admin_dir: str) -> str:
    """The admin folder with one leading and one trailing ``/`` (``manage`` -> ``/manage/``)."""
    d = "/" + admin_dir.strip("/") + "/"
    return "/" if d == "//" else d


def page_expr(pages: Iterable[AdminPage], path: pl.Expr, mode: pl.Expr, admin_dir: str = "/admin/") -> pl.Expr:
    """Page class of each request: the first page whose path (and mode, when the page names one)
    matches; ``other`` under the admin folder, null outside it."""
    admin_dir = norm_admin_dir(admin_dir)
    rel = path.str.strip_prefix(admin_dir)
    expr = pl.lit("other")
    for page in reversed(tuple(pages)):
        hit = rel.str.contains(f"^(?:{page.path})$")
        if page.mode is not None:
            hit = hit & (mode.fill_null("") == page.mode)
        expr = pl.when(hit).then(pl.lit(page.name)).otherwise(expr)
    return pl.when(path.str.starts_with(admin_dir)).then(expr).otherwise(pl.lit(None, pl.String))


def shown_tables(pages: Iterable[AdminPage], page: str | None, person_tables: Iterable[str]) -> set[str] | None:
    """The person tables ``page`` displays (None: it displays none); ``ANY_PERSON_TABLE`` and
    ``EVERY_PERSON_TABLE`` stand for every table of ``person_tables``."""
    for p in pages:
        if p.name == page:
            if not p.shows:
                return None
            if EVERY_PERSON_TABLE in p.shows or ANY_PERSON_TABLE in p.shows:
                return set(person_tables)
            return set(p.shows)
    return None


def pages_showing(pages: Iterable[AdminPage]) -> list[str]:
    """Names of the pages that display person records."""
    return [p.name for p in pages if p.shows]


@dataclass(frozen=True)
class Platform:
    """Everything the toolkit knows of one shop software, as one value (``case.platform``).

    ``name``: the ``site.profile`` of case.yml; ``app_log_timezone``: the zone the software
    writes its own logs in whatever the server's clock (None: the case's zone);
    ``default_admin_dir``; ``admin_pages`` (its routing table) and ``mode_hidden_pages`` (pages
    whose class hangs on a mode a POST hides); ``person_tables``: table -> the columns that name a
    person in it; ``session_table`` / ``session_id_column``: where admin sessions live in the
    database; ``login_success_status`` / ``login_failure_status``: how the login form answers;
    ``card_entry_path`` / ``card_entry_method`` / ``card_entry_ok_status``: the request that
    submits a card and the answer of a good one; ``upload_pages``: regex of the pages whose
    ``NAME -> DEST`` log lines are uploads; ``docroot_markers``: files that mark the document root;
    ``db_export_glob``: the names of its table exports; ``customer_table`` / ``order_table`` /
    ``payment_table``: its member, order and payment-method tables; ``csv_export_tables``: list page
    -> the table its CSV export reads in full; ``app_log_format``: the name its app-log reader is
    registered under (``forensics.loaders.registry.APP_LOG_READERS``).
    """

    name: str
    app_log_timezone: str | None
    default_admin_dir: str
    admin_pages: tuple[AdminPage, ...]
    mode_hidden_pages: dict[str, str]
    person_tables: dict[str, tuple[str, ...]]
    session_table: str
    session_id_column: str
    login_success_status: tuple[int, ...]
    login_failure_status: tuple[int, ...]
    card_entry_path: str
    card_entry_method: str
    card_entry_ok_status: tuple[int, ...]
    upload_pages: str
    docroot_markers: tuple[str, ...]
    db_export_glob: str
    customer_table: str
    order_table: str
    payment_table: str
    csv_export_tables: dict[str, str]
    app_log_format: str
    #: the table of the admin panel's accounts and its credential columns (what an injection that
    #: reads them takes to log in)
    admin_account_table: str = ""
    admin_credential_columns: tuple[str, ...] = ()
    #: rules telling a payment method's kind (``forensics.rules.PaymentRule``) from its row
    payment_method_rules: tuple = ()
    #: the folder below the document root where the admin's file manager writes (uploads, and so
    #: backdoors planted through it)
    upload_folder: str = ""
    #: the software's name as the report says it
    display_name: str = ""
    #: path constants its code builds file names from -> the folder each names: "docroot", "upload"
    #: (the upload folder) or "data" (the data folder)
    path_constants: dict[str, str] = field(default_factory=dict)
