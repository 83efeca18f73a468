"""The evidence kinds a case can name, one record each: the one place a case dispatches through.

Each :class:`EvidenceKind` says what the toolkit knows of one ``evidence:`` key of case.yml: the
table it gives (schema), how it is read whole (``read``) and, for logs that can outgrow memory, batch
by batch (``stream``: the table cache parses those once into Parquet), which zone its naive times
take and whether a clock skew applies, the formats it accepts, the sentence for a case without it
and the conclusions that need it. Adding an evidence kind is one record here (plus its loader
module); :class:`forensics.case.Case` and :mod:`forensics.gaps` read the rest from it.

>>> [k.key for k in EVIDENCE.values()]
['access_logs', 'app_logs', 'query_logs', 'fs_timeline', 'server_files', 'db']
>>> EVIDENCE["app_logs"].zone, EVIDENCE["access_logs"].zone
('app_log', 'own offset')
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from forensics import schemas
from forensics.evidence import DEFAULT_MAX_DECOMPRESSED
from forensics.loaders._common import Loaded

__all__ = ["APP_LOG_READERS", "EvidenceKind", "Source", "EVIDENCE", "LOG_KEYS", "CACHED_KEYS", "EVIDENCE_KEYS"]


@dataclass(frozen=True)
class Source:
    """What a reader is given: the files of one evidence key and the case's settings for them."""

    files: list[Path]
    root: Path
    timezone: str  # the case zone: naive times of most evidence
    app_log_timezone: str  # the zone the shop software writes its own logs in
    skew_seconds: float = 0
    max_decompressed: int = DEFAULT_MAX_DECOMPRESSED
    access_log_format: str | None = None  # a named format or a LogFormat string; None: detected per file
    db_encoding: str = "auto"
    server_root: Path | None = None
    app_log_format: str = "eccube2"  # the shop software's log layout (APP_LOG_READERS)


@dataclass(frozen=True)
class EvidenceKind:
    """One evidence key of case.yml and everything the toolkit knows of it."""

    key: str
    what: str  # one line: what the files are
    schema: pl.Schema | None  # None: one table per file (database exports)
    read: Callable[[Source], Any]  # -> Loaded (db: dict table name -> Loaded)
    #: batch by batch -> Loaded per batch (None: read whole); the second argument is a list the
    #: reader appends each file's source name to as it opens it, unless ``order_up_front``
    stream: Callable[[Source, list[str]], Iterator[Loaded]] | None = None
    #: the files cut into groups parsed on their own, in the order ``stream`` reads them (the
    #: table cache parses each group as one unit of work, on a cluster when the case has one)
    units: Callable[[Source], list[list[Path]]] | None = None
    #: units parsed at once on this machine (None: as many as it has cores); a parse that runs on
    #: worker threads of its own takes the cores by itself, one unit at a time
    units_at_once: int | None = None
    #: the files' time order is known before reading (from their names): their sources are listed
    #: up front; otherwise the streaming reader finds it and reports it file by file
    order_up_front: bool = False
    #: the kind is a log that can outgrow memory: kept as Parquet when the case has a table cache
    cached: bool = False
    #: naive times are read in: "case" (the case zone), "app_log" (the shop software's zone),
    #: "own offset" (each line carries one; naive lines take the case zone), or "none"
    zone: str = "case"
    skew: bool = True  # facts.clock_skew may correct it
    formats: tuple[str, ...] = ()
    absent: str = ""  # the gap sentence for a case without it
    affects: tuple[str, ...] = ()  # conclusions (phases, attacker_ips, counts) that need it
    empty_reason: str | None = None  # why a file of it may hold no record although it has content
    folder: bool = False  # case.yml names folders, not files


def _access_read(s: Source) -> Loaded:
    from forensics.loaders.access_log import read_access_logs

    return read_access_logs(s.files, case_root=s.root, skew_seconds=s.skew_seconds, max_decompressed=s.max_decompressed,
                            format=s.access_log_format)


def _access_stream(s: Source, seen: list[str]) -> Iterator[Loaded]:
    from forensics.loaders.access_log import iter_access_logs

    return iter_access_logs(s.files, case_root=s.root, skew_seconds=s.skew_seconds, max_decompressed=s.max_decompressed,
                            format=s.access_log_format)


def _access_units(s: Source) -> list[list[Path]]:
    """One access-log file a unit: files of one format together, each group in time order (as
    :func:`~forensics.loaders.access_log.iter_access_logs` reads them)."""
    from forensics.loaders._common import in_time_order
    from forensics.loaders.access_log import _by_format, file_formats

    return [[p] for _fmt, group in _by_format(file_formats(s.files, s.access_log_format)) for p in in_time_order(group)]


def _eccube2_app_logs(s: Source) -> Loaded:
    from forensics.loaders.app_log import read_app_logs

    return read_app_logs(s.files, case_root=s.root, timezone=s.app_log_timezone, skew_seconds=s.skew_seconds,
                         max_decompressed=s.max_decompressed)


#: App-log readers by the layout name a platform gives (``Platform.app_log_format``): each takes a
#: :class:`Source` and returns :class:`Loaded` records of ``schemas.APP_LOG``. A platform whose
#: software writes its logs its own way adds its reader here.
APP_LOG_READERS: dict[str, Callable[[Source], Loaded]] = {"eccube2": _eccube2_app_logs}


def _app_read(s: Source) -> Loaded:
    reader = APP_LOG_READERS.get(s.app_log_format)
    if reader is None:
        raise KeyError(f"no app-log reader for the layout {s.app_log_format!r} ({', '.join(APP_LOG_READERS)})")
    return reader(s)


def _query_read(s: Source) -> Loaded:
    from forensics.loaders.query_log import read_query_logs

    return read_query_logs(s.files, case_root=s.root, timezone=s.timezone, skew_seconds=s.skew_seconds,
                           max_decompressed=s.max_decompressed)


def _query_stream(s: Source, seen: list[str]) -> Iterator[Loaded]:
    from forensics.loaders.query_log import iter_query_logs

    return iter_query_logs(s.files, case_root=s.root, timezone=s.timezone, skew_seconds=s.skew_seconds,
                           max_decompressed=s.max_decompressed, sources=seen)


def _query_units(s: Source) -> list[list[Path]]:
    """Query logs cut into units in the order they are read: MySQL 5.6 carries its last printed
    time from one file of a rotated series into the next, so a file whose first statement prints
    no time stays with the file before it; a file that opens with its time starts a unit."""
    from itertools import groupby

    from forensics.loaders._common import in_time_order
    from forensics.loaders.query_log import opens_with_its_time, series_name

    units: list[list[Path]] = []
    for _series, files in groupby(in_time_order(s.files), key=series_name):
        for i, path in enumerate(files):
            if i == 0 or opens_with_its_time(path):
                units.append([path])
            else:
                units[-1].append(path)
    return units


def _bodyfile_read(s: Source) -> Loaded:
    from forensics.loaders.bodyfile import read_bodyfiles

    return read_bodyfiles(s.files, case_root=s.root, skew_seconds=s.skew_seconds, max_decompressed=s.max_decompressed)


def _server_read(s: Source) -> Loaded:
    from forensics.loaders.server_files import read_server_files

    return read_server_files(s.server_root, case_root=s.root)


def _db_read(s: Source) -> dict[str, Loaded]:
    from forensics.loaders.db_export import read_db_exports

    return read_db_exports(s.files, case_root=s.root, encoding=s.db_encoding, timezone=s.timezone)


EVIDENCE: dict[str, EvidenceKind] = {k.key: k for k in (
    EvidenceKind(
        "access_logs", "web server access logs (plain or .gz, rotated)", schemas.ACCESS_LOG, _access_read, _access_stream,
        units=_access_units, units_at_once=1, cached=True, order_up_front=True, zone="own offset", formats=("combined", "common", "vhost_combined", "nginx", "an Apache LogFormat string"),
        absent="no access log in the case: SQL injection, logins by status, backdoor requests and payment failures cannot be seen",
        affects=("sqli_first", "attacker_ips", "attacker_admin_login", "backdoor_installed", "viewed_persons"),
    ),
    EvidenceKind(
        "app_logs", "the shop software's own logs (EC-CUBE admin.log, site.log, customer.log, error.log)",
        schemas.APP_LOG, _app_read, zone="app_log", formats=("eccube2",),
        absent="no application log in the case: admin sessions and uploads cannot be tied to logins",
        affects=("attacker_admin_login", "backdoor_installed", "viewed_persons"),
    ),
    EvidenceKind(
        "query_logs", "MySQL general query log", schemas.QUERY_LOG, _query_read, _query_stream, units=_query_units,
        cached=True,
        formats=("mysql5.6", "mysql5.7"),
        absent="no database query log in the case: what the injected SQL reached and which rows a page showed are not known",
        affects=("viewed_persons", "sqli_reach"),
        empty_reason="it holds no statement (server start-up banners at most)",
    ),
    EvidenceKind(
        "fs_timeline", "file-system timeline", schemas.FS_FILES, _bodyfile_read, zone="none", formats=("bodyfile 3.x",),
        absent="no file-system timeline in the case: file creation and modification times are not known",
        affects=("backdoor_installed", "card_form_tampered"),
    ),
    EvidenceKind(
        "server_files", "recovered server files (document root and data folder)", schemas.SERVER_FILES, _server_read,
        zone="none", skew=False, folder=True,
        absent="no server copy in the case: backdoor content, skimmer code and skim files cannot be read",
        affects=("backdoor_installed", "card_form_tampered", "cards_confirmed"),
    ),
    EvidenceKind(
        "db", "database exports (dtb_*.csv)", None, _db_read, skew=False, folder=True,
        formats=("CSV with a header (utf-8, cp932, euc-jp)",),
        absent="no database export in the case: persons and card entries cannot be counted",
        affects=("viewed_persons", "cards_possible"),
    ),
)}

#: Keys whose files case.yml lists (globs), in the order they are read.
LOG_KEYS: tuple[str, ...] = tuple(k for k, v in EVIDENCE.items() if not v.folder)
#: Logs kept as Parquet when the case has a table cache.
CACHED_KEYS: tuple[str, ...] = tuple(k for k, v in EVIDENCE.items() if v.cached)
EVIDENCE_KEYS: tuple[str, ...] = tuple(EVIDENCE)
