"""One loader per evidence type (the evidence formats), polars style.

``scan_*`` return a ``pl.LazyFrame`` of a schema in :mod:`forensics.schemas` (nothing is read until
collected); ``read_*`` return a :class:`~forensics.loaders._common.Loaded` (``records``, ``rejects``,
per-file ``counts``); ``iter_access_logs`` streams the access logs batch by batch.
"""

from forensics.loaders._common import Loaded
from forensics.loaders.access_log import iter_access_logs, read_access_logs, scan_access_log_rejects, scan_access_logs
from forensics.loaders.app_log import read_app_logs, scan_app_logs
from forensics.loaders.bodyfile import fs_timeline_from_files, read_bodyfiles, scan_bodyfiles, scan_fs_timeline
from forensics.loaders.db_export import read_db_export, read_db_exports, scan_db_exports
from forensics.loaders.query_log import read_query_logs, scan_query_logs
from forensics.loaders.server_files import read_server_files, scan_server_files, server_file_bytes
from forensics.loaders.urldecode import percent_decode

__all__ = [
    "Loaded",
    "fs_timeline_from_files",
    "iter_access_logs",
    "percent_decode",
    "read_access_logs",
    "read_app_logs",
    "read_bodyfiles",
    "read_db_export",
    "read_db_exports",
    "read_query_logs",
    "read_server_files",
    "scan_access_log_rejects",
    "scan_access_logs",
    "scan_app_logs",
    "scan_bodyfiles",
    "scan_db_exports",
    "scan_fs_timeline",
    "scan_query_logs",
    "scan_server_files",
    "server_file_bytes",
]
