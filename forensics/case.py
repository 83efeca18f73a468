"""Opening a case: ``open_case("case.yml") -> Case`` (the case file).

``open_case`` validates ``case.yml`` and resolves its globs; the ``Case`` gives every evidence
table lazily (nothing is read until a frame is collected; each evidence type is then parsed once
and cached). An absent evidence type gives an empty frame of its schema, never an error.

Validation (every problem is a :class:`CaseError`, a ``ValueError`` whose message is one line
naming the key or path):

- unknown keys at any level; ``id`` (``[a-z0-9-]+``) and ``timezone`` (an IANA zone) required;
- ``site.profile`` must be a known profile (``eccube2``); ``site.admin_dir`` a URL path;
- evidence paths are relative to ``case.yml`` and stay inside the case folder: an absolute path,
  or one that leads out with ``..``, is an error unless ``evidence.allow_outside: true`` (then the
  manifest lists each such file with ``"outside_case": true``). No component of an evidence path
  below the case folder (below the pattern's fixed folder, for a path outside) may be a symbolic
  link: evidence is never read through a link, a folder's included. A literal path (no ``*?[``)
  that does not exist is an error; so is an evidence file that is a FIFO or device,
  or cannot be opened, and a log key whose files are all empty; a glob that matches nothing is a
  warning (``CaseWarning``, also in ``case.warnings``)
  and the evidence type is simply absent, since a case may lack any evidence;
- ``facts.containment``: ISO 8601 time (an offset is expected; a naive time is read in the case
  zone); ``facts.internal_ips``: IP addresses or networks; ``facts.test_markers``:
  ``customer_ids`` (integers), ``emails`` (fnmatch globs), ``card_numbers`` (digits).

Optional extensions (compatible with the case file):

- ``facts.card_payment_ids: [int, ...]``: the ``dtb_payment.payment_id`` values that are card
  payments, when the payment names do not say so.
- ``facts.clock_skew: {evidence_key: seconds}``: a known clock error of one evidence type
  (keys: ``access_logs``, ``app_logs``, ``query_logs``, ``fs_timeline``). Positive = that clock ran
  ahead; the seconds are subtracted from every time of that evidence.
- ``evidence.access_logs: {paths: [...], format: ...}``: the access-log format of every file (a
  name: ``combined``, ``common``, ``vhost_combined``, ``nginx``, ``w3c``; or an Apache ``LogFormat``
  or nginx ``log_format`` string); a plain list: each file's format detected from its first lines.
- ``evidence.db.encoding`` may be ``auto`` (the default): UTF-8 when a file decodes as UTF-8,
  else CP932.
- ``evidence.db.dir`` holds ``dtb_*.csv`` table dumps and, under any name, the shop's admin CSV
  downloads (told by their header: :mod:`forensics.loaders.db_export`).
"""

from __future__ import annotations

import datetime as dt
import glob as globmod
import math
import os
import re
import warnings
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from forensics import schemas
from forensics.evidence import DEFAULT_MAX_DECOMPRESSED
from forensics.errors import CaseError, CaseWarning
from forensics.loaders._common import COUNTS, Loaded
from forensics.loaders.registry import CACHED_KEYS, EVIDENCE, EVIDENCE_KEYS, LOG_KEYS, Source
from forensics.platforms import PLATFORMS


#: Settings under ``evidence:`` that are not evidence keys.
EVIDENCE_SETTINGS = ("allow_outside",)
TOP_KEYS = {"id", "title", "timezone", "site", "evidence", "facts"}
SITE_KEYS = {"profile", "admin_dir", "document_root", "app_log_timezone", "proxies"}
DB_KEYS = {"encoding", "dir"}
FACT_KEYS = {"containment", "internal_ips", "test_markers", "card_payment_ids", "clock_skew"}
MARKER_KEYS = {"customer_ids", "emails", "card_numbers"}
ID_RE = re.compile(r"^[a-z0-9-]+$")


@dataclass(frozen=True)
class TestMarkers:
    """How test entries are told from customers (the case file)."""

    __test__ = False  # not a pytest class

    customer_ids: list[int] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)  # fnmatch globs, compared lower-case
    card_numbers: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Facts:
    containment: dt.datetime | None = None  # tz-aware, UTC
    internal_ips: list[str] = field(default_factory=list)
    test_markers: TestMarkers = field(default_factory=TestMarkers)
    card_payment_ids: list[int] | None = None
    clock_skew: dict[str, float] = field(default_factory=dict)


# --- validation helpers -----------------------------------------------------------------------

def _check_keys(mapping: Any, allowed: set[str], where: str) -> dict:
    if mapping is None:
        return {}
    if not isinstance(mapping, dict):
        raise CaseError(f"case.yml: '{where}' must be a mapping, got {type(mapping).__name__}")
    for key in mapping:
        if key not in allowed:
            name = f"{where}.{key}" if where else str(key)
            raise CaseError(f"case.yml: unknown key '{name}' (allowed: {', '.join(sorted(allowed))})")
    return mapping


def _str_list(value: Any, key: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in value):
        raise CaseError(f"case.yml: '{key}' must be a string or a list of strings")
    return [str(v) for v in value]


def _int_list(value: Any, key: str) -> list[int]:
    if value is None:
        return []
    if not isinstance(value, list):
        value = [value]
    out = []
    for v in value:
        if isinstance(v, bool) or not (isinstance(v, int) or (isinstance(v, str) and v.strip().isdigit())):
            raise CaseError(f"case.yml: '{key}' must be a list of integers, got {v!r}")
        out.append(int(v))
    return out


def _zone(value: Any, key: str = "timezone") -> str:
    if not isinstance(value, str) or not value.strip():
        raise CaseError(f"case.yml: '{key}' must be an IANA time zone name such as Asia/Tokyo")
    if value.strip().lower() in ("localtime", "local", "posixrules", "factory"):
        # the machine's own zone: the answer would change with the machine that runs the case
        raise CaseError(f"case.yml: '{key}' {value!r} names no zone of its own; give the IANA name (e.g. Asia/Tokyo)")
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise CaseError(f"case.yml: '{key}' {value!r} is not a known IANA time zone (e.g. Asia/Tokyo)") from None
    return value


def _ip_list(value: Any, key: str) -> list[str]:
    """Addresses or networks, v4 or v6, any spelling (checked; kept as written)."""
    from forensics.ipaddr import parse_network

    ips = _str_list(value, key)
    for ip in ips:
        try:
            parse_network(ip)
        except ValueError:
            raise CaseError(f"case.yml: '{key}' {ip!r} is not an IP address or network") from None
    return ips


def _document_root(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.startswith("/") or any(c in value for c in "\n\r\0"):
        raise CaseError(f"case.yml: 'site.document_root' must be an absolute server path such as "
                        f"/var/www/html/eccube/html, got {value!r}")
    return "/" + value.strip("/") if value.strip("/") else "/"


def _instant(value: Any, key: str, tz: str) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        t = value
    elif isinstance(value, str):
        try:
            t = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise CaseError(f"case.yml: '{key}' {value!r} is not an ISO 8601 time such as 2017-04-10T13:00:00+09:00") from None
    else:
        raise CaseError(f"case.yml: '{key}' must be an ISO 8601 time such as 2017-04-10T13:00:00+09:00, got {value!r}")
    if t.tzinfo is None:
        t = t.replace(tzinfo=zoneinfo.ZoneInfo(tz))
    t = t.astimezone(dt.timezone.utc)
    if not (MIN_INSTANT <= t <= MAX_INSTANT):
        raise CaseError(f"case.yml: '{key}' {value!s} lies outside {MIN_INSTANT.year}..{MAX_INSTANT.year - 1}")
    return t


#: Codecs Python knows that are not how a CSV export's bytes are text (UTF-16/32 exports carry a
#: BOM and are read by ``auto``; a codec naming one byte order misreads the other).
TEXT_CODECS_REFUSED = {"utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be", "utf-7", "idna",
                       "punycode", "raw-unicode-escape", "unicode-escape", "palmos"}

#: Instants a case may name (web shops and their logs): anything outside is a typo.
MIN_INSTANT = dt.datetime(1995, 1, 1, tzinfo=dt.timezone.utc)
MAX_INSTANT = dt.datetime(2100, 1, 1, tzinfo=dt.timezone.utc)
#: A clock error larger than this is not a skew but a wrong clock or a wrong zone.
MAX_SKEW_SECONDS = 7 * 24 * 3600


def _has_magic(pattern: str) -> bool:
    return globmod.has_magic(pattern)


def _inside(path: str, folder: str) -> bool:
    try:
        return os.path.commonpath([path, folder]) == folder
    except ValueError:  # another drive
        return False


def _fixed_part(full: str) -> str:
    """The folder a pattern names before its first glob character."""
    parts = Path(full).parts
    fixed = []
    for part in parts:
        if _has_magic(part):
            break
        fixed.append(part)
    return str(Path(*fixed)) if fixed else os.sep


def _check_no_link(base: str, path: Path, pat: str, key: str) -> None:
    """No folder of ``path`` below ``base`` is a symbolic link (the last component is checked by
    the caller, with the message fit for a file or a folder)."""
    rel = Path(os.path.relpath(path, base))
    cur = Path(base)
    for part in rel.parts[:-1]:
        cur = cur / part
        if cur.is_symlink():
            shown = os.path.relpath(cur, base)
            raise CaseError(f"case.yml: 'evidence.{key}': {pat!r} goes through the symbolic link {shown!r} "
                            f"(to {os.readlink(cur)!r}); evidence is never read through a link: copy it into the case")


def _resolve(root: Path, patterns: list[str], key: str, want_dir: bool = False,
             allow_outside: bool = False) -> tuple[list[Path], list[str]]:
    """Files (or a folder) a key names; literal paths must exist, empty globs give a warning.

    Paths stay inside ``root`` unless ``allow_outside``; no component below ``root`` (below the
    pattern's fixed folder, outside it) may be a symbolic link."""
    found: set[Path] = set()
    notes: list[str] = []
    base_root = os.path.abspath(root)
    for pat in patterns:
        full = os.path.normpath(pat if os.path.isabs(pat) else os.path.join(base_root, pat))
        outside = not _inside(full, base_root) or not _inside(os.path.normpath(_fixed_part(full)), base_root)
        if outside and not allow_outside:
            raise CaseError(f"case.yml: 'evidence.{key}': {pat!r} lies outside the case folder; copy the evidence "
                            "into the case, or set 'evidence.allow_outside: true' to read it where it is")
        base = os.path.dirname(_fixed_part(full)) if outside else base_root
        if _has_magic(pat):
            hits = [Path(h) for h in globmod.glob(full, recursive=True)]
            if not outside:  # a glob such as */../../x may still climb out
                hits = [h for h in hits if _inside(os.path.normpath(h), base_root)]
            # files: everything that is not a folder (a FIFO or a link is an error below, not skipped)
            hits = [h for h in hits if (h.is_dir() and not h.is_symlink()) == want_dir]
            if not hits:
                notes.append(f"evidence.{key}: {pat!r} matches no file")
            for h in hits:
                _check_no_link(base, h, pat, key)
            found.update(hits)
        else:
            p = Path(full)
            if not (p.exists() or p.is_symlink()):
                raise CaseError(f"case.yml: 'evidence.{key}': {pat!r} does not exist ({p})")
            _check_no_link(base, p, pat, key)
            if want_dir and p.is_symlink():
                raise CaseError(f"case.yml: 'evidence.{key}': {pat!r} is a symbolic link; evidence is never read through a link")
            if want_dir and not p.is_dir():
                raise CaseError(f"case.yml: 'evidence.{key}': {pat!r} is not a folder")
            if not want_dir and p.is_dir():
                raise CaseError(f"case.yml: 'evidence.{key}': {pat!r} is a folder; name files or a glob")
            found.add(p)
    if not want_dir:
        for p in found:
            _check_readable(root, p, key)
    return sorted(Path(os.path.abspath(p)) for p in found), notes


def _check_readable(root: Path, path: Path, key: str) -> None:
    """An evidence file must be a regular file we can open; a symbolic link is never read through
    (it could point anywhere outside the case), a FIFO or device is not evidence."""
    from forensics.evidence import open_readonly

    rel = os.path.relpath(path, root)
    if path.is_symlink():
        raise CaseError(f"case.yml: 'evidence.{key}': {rel!r} is a symbolic link (to {os.readlink(path)!r}); "
                        "evidence is never read through a link: copy the file into the case")
    try:
        with open_readonly(path):
            pass
    except IsADirectoryError:
        raise CaseError(f"case.yml: 'evidence.{key}': {rel!r} is not a regular file (folder, FIFO or device)") from None
    except OSError as exc:
        raise CaseError(f"case.yml: 'evidence.{key}': cannot read {rel!r} ({exc.strerror or exc})") from None


def _admin_dir(value: Any) -> str:
    if value is None:
        return "/admin/"
    if not isinstance(value, str) or not value.strip() or any(c in value for c in "?#\n\r\t "):
        raise CaseError(f"case.yml: 'site.admin_dir' must be a URL path such as /admin/, got {value!r}")
    return "/" + value.strip().strip("/") + "/" if value.strip("/") else "/"


# --- the case ---------------------------------------------------------------------------------

class Case:
    """A validated case: its facts, its evidence files and every evidence table (lazily).

    Examples
    --------
    >>> import forensics
    >>> case = open_case(Path(forensics.__file__).parents[1] / "sample_data" / "toshomart-2017" / "case.yml")
    >>> logins = case.access_log().filter((pl.col("status") == 302) & pl.col("path").str.ends_with("/admin/index.php"))
    >>> logins.select("client_ip").unique().sort("client_ip").collect()["client_ip"].to_list()
    ['192.0.2.146', '198.51.100.10', '203.0.113.45']
    """

    def __init__(self, *, path: Path, raw: dict, max_decompressed: int = DEFAULT_MAX_DECOMPRESSED,
                 table_cache: str | os.PathLike | None = "auto"):
        self.path = path
        self.root = path.parent
        self.max_decompressed = max_decompressed
        self.warnings: list[str] = []
        raw = _check_keys(raw, TOP_KEYS, "")
        for key in ("id", "timezone"):
            if key not in raw or raw[key] in (None, ""):
                raise CaseError(f"case.yml: required key '{key}' is missing")
        self.id = str(raw["id"])
        if not ID_RE.fullmatch(self.id):
            raise CaseError(f"case.yml: 'id' {self.id!r} must match [a-z0-9-]+ (lower-case letters, digits, '-')")
        self.timezone = _zone(raw["timezone"])
        self.title = str(raw.get("title") or self.id)

        site = _check_keys(raw.get("site"), SITE_KEYS, "site")
        self.profile = str(site.get("profile") or "eccube2")
        if self.profile not in PLATFORMS:
            raise CaseError(f"case.yml: 'site.profile' {self.profile!r} is not a known profile ({', '.join(sorted(PLATFORMS))})")
        #: everything the toolkit knows of the shop software (forensics.platforms)
        self.platform = PLATFORMS[self.profile]
        self.admin_dir = _admin_dir(site.get("admin_dir") if site.get("admin_dir") is not None
                                    else self.platform.default_admin_dir)
        self.document_root = _document_root(site.get("document_root"))
        self.app_log_timezone = _zone(site["app_log_timezone"], "site.app_log_timezone") \
            if site.get("app_log_timezone") is not None else (self.platform.app_log_timezone or self.timezone)
        self.proxies = _ip_list(site.get("proxies"), "site.proxies")

        self.facts = self._facts(_check_keys(raw.get("facts"), FACT_KEYS, "facts"))
        self.evidence, self.db_encoding = self._evidence(
            _check_keys(raw.get("evidence"), {*EVIDENCE_KEYS, *EVIDENCE_SETTINGS}, "evidence"))
        for note in self.warnings:
            warnings.warn(note, CaseWarning, stacklevel=3)
        self._loaded: dict[str, Any] = {}
        #: rejects and counts of evidence counted by :meth:`count_records` without keeping its table
        self._accounted: dict[str, Loaded] = {}
        #: runs the table cache's units of parsing (None: side by side on this machine)
        self.engine = None
        self._table_cache: Path | None = None
        self._cache_mode = "auto" if table_cache == "auto" else "off" if table_cache is None else "dir"
        if self._cache_mode == "dir":
            self.use_table_cache(table_cache)

    # -- parsing case.yml --

    def _facts(self, facts: dict) -> Facts:
        tm = _check_keys(facts.get("test_markers"), MARKER_KEYS, "facts.test_markers")
        cards = _str_list(tm.get("card_numbers"), "facts.test_markers.card_numbers")
        for c in cards:
            if not re.fullmatch(r"\d{12,19}", c.replace(" ", "").replace("-", "")):
                raise CaseError("case.yml: 'facts.test_markers.card_numbers' holds a value that is not a card number (12-19 digits)")
        markers = TestMarkers(
            customer_ids=_int_list(tm.get("customer_ids"), "facts.test_markers.customer_ids"),
            emails=[e.lower() for e in _str_list(tm.get("emails"), "facts.test_markers.emails")],
            card_numbers=[c.replace(" ", "").replace("-", "") for c in cards],
        )
        ips = _ip_list(facts.get("internal_ips"), "facts.internal_ips")
        skew_raw = _check_keys(facts.get("clock_skew"), set(LOG_KEYS), "facts.clock_skew")
        skew = {}
        for k, v in skew_raw.items():
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise CaseError(f"case.yml: 'facts.clock_skew.{k}' must be a number of seconds, got {v!r}")
            if not math.isfinite(v) or abs(v) > MAX_SKEW_SECONDS:
                raise CaseError(f"case.yml: 'facts.clock_skew.{k}' must be a finite number of seconds within "
                                f"±{MAX_SKEW_SECONDS:,} (a week), got {v!r}")
            skew[k] = float(v)
        pay = facts.get("card_payment_ids")
        return Facts(
            containment=_instant(facts.get("containment"), "facts.containment", self.timezone),
            internal_ips=ips,
            test_markers=markers,
            card_payment_ids=_int_list(pay, "facts.card_payment_ids") if pay is not None else None,
            clock_skew=skew,
        )

    def _evidence(self, ev: dict) -> tuple[dict[str, list[Path]], str]:
        out: dict[str, list[Path]] = {k: [] for k in EVIDENCE_KEYS}
        outside = ev.get("allow_outside", False)
        if not isinstance(outside, bool):
            raise CaseError(f"case.yml: 'evidence.allow_outside' must be true or false, got {outside!r}")
        self.allow_outside = outside
        self.access_log_format = None
        for key in LOG_KEYS:
            value = ev.get(key)
            if key == "access_logs" and isinstance(value, dict):
                value = self._access_log_format(value)
            files, notes = _resolve(self.root, _str_list(value, f"evidence.{key}"), key, allow_outside=outside)
            if files and all(p.stat().st_size == 0 for p in files):
                # one empty file in a rotated set is normal (a quiet night); all empty is a wrong path
                names = ", ".join(repr(os.path.relpath(p, self.root)) for p in files[:3])
                raise CaseError(f"case.yml: 'evidence.{key}': {names} {'is' if len(files) == 1 else 'are all'} empty "
                                "(0 bytes): nothing to analyse; fix the path or remove the key")
            out[key] = files
            self.warnings += notes
        server = ev.get("server_files")
        if server is not None:
            dirs, notes = _resolve(self.root, _str_list(server, "evidence.server_files"), "server_files", want_dir=True,
                                   allow_outside=outside)
            out["server_files"] = dirs
            self.warnings += notes
        db = ev.get("db")
        encoding = "auto"
        if db is not None:
            if isinstance(db, str):
                db = {"dir": db}
            db = _check_keys(db, DB_KEYS, "evidence.db")
            encoding = str(db.get("encoding") or "auto")
            import codecs

            if encoding.lower() != "auto":
                try:
                    info = codecs.lookup(encoding)
                except LookupError:
                    info = None
                if info is None or not getattr(info, "_is_text_encoding", True) or info.name in TEXT_CODECS_REFUSED:
                    raise CaseError(f"case.yml: 'evidence.db.encoding' {encoding!r} is not a text encoding of CSV "
                                    "exports (utf-8, cp932, euc-jp, shift_jis or auto)")
            if db.get("dir") is None:
                raise CaseError(f"case.yml: 'evidence.db.dir' is missing (the folder holding the "
                                f"{self.platform.db_export_glob} exports)")
            dirs, notes = _resolve(self.root, _str_list(db.get("dir"), "evidence.db.dir"), "db", want_dir=True,
                                   allow_outside=outside)
            self.warnings += notes
            files = {p for d in dirs for p in d.glob(self.platform.db_export_glob)}
            # the shop's admin CSV downloads (customer_170401_231502.csv...): told by their header
            from forensics.loaders.db_export import admin_csv_files

            others = [p for d in dirs for p in sorted(d.iterdir()) if p.suffix.lower() == ".csv" and p not in files
                      and p.is_file() and not p.is_symlink()]
            files = sorted(files | set(admin_csv_files(others)))
            for p in files:
                _check_readable(self.root, p, "db")
            if dirs and not files:
                self.warnings.append(f"evidence.db: no {self.platform.db_export_glob} (nor admin CSV download) in "
                                     f"{', '.join(str(d) for d in dirs)}")
            out["db"] = files
        return out, encoding

    def _access_log_format(self, value: dict) -> Any:
        """``{paths: [...], format: NAME | LOGFORMAT}``: the paths; the format checked and kept."""
        from forensics.loaders.logformat import FORMAT_NAMES, FormatError, compile_format

        value = _check_keys(value, {"paths", "format"}, "evidence.access_logs")
        fmt = value.get("format")
        if fmt is not None:
            if not isinstance(fmt, str) or not fmt.strip():
                raise CaseError("case.yml: 'evidence.access_logs.format' must be a format name "
                                f"({', '.join(FORMAT_NAMES)}), an Apache LogFormat string or an nginx "
                                "log_format string")
            try:
                compile_format(fmt)
            except FormatError as exc:
                raise CaseError(f"case.yml: 'evidence.access_logs.format': {exc}") from None
            if "%" not in fmt and "$" not in fmt and fmt not in FORMAT_NAMES:
                raise CaseError(f"case.yml: 'evidence.access_logs.format' {fmt!r} is neither a format name "
                                f"({', '.join(FORMAT_NAMES)}), an Apache LogFormat string nor an nginx "
                                "log_format string")
            self.access_log_format = fmt
        return value.get("paths")

    # -- properties --

    def outside_case(self, path: Path) -> bool:
        """Whether an input file lies outside the case folder (read only with ``allow_outside``)."""
        return not _inside(os.path.abspath(path), os.path.abspath(self.root))

    @property
    def available(self) -> set[str]:
        """Evidence keys with at least one file (``server_files``: a folder)."""
        return {k for k, v in self.evidence.items() if v}

    @property
    def server_root(self) -> Path | None:
        return self.evidence["server_files"][0] if self.evidence["server_files"] else None

    def skew(self, key: str) -> float:
        return self.facts.clock_skew.get(key, 0.0)

    def __repr__(self) -> str:
        return f"Case(id={self.id!r}, timezone={self.timezone!r}, available={sorted(self.available)})"

    # -- the table cache (line logs parsed once into Parquet; see forensics.tablecache) --

    def use_table_cache(self, folder: str | os.PathLike) -> None:
        """Keep the access and query logs' tables as Parquet in ``folder`` (parsed there once, then
        scanned lazily). ``folder`` must lie outside the case folder: evidence stays read-only."""
        folder = Path(os.path.abspath(folder))
        if folder == self.root or folder.is_relative_to(self.root):
            raise CaseError(f"table cache {folder} is inside the case folder; evidence must stay read-only")
        self._table_cache = folder
        self._cache_mode = "dir"
        for key in CACHED_KEYS:
            self._loaded.pop(key, None)
            self._accounted.pop(key, None)

    @property
    def table_cache(self) -> Path | None:
        """The folder holding the line logs' Parquet tables, or None while they are read into memory.

        ``open_case(table_cache="auto")`` (the default) uses the folder named by the environment
        variable ``FORENSICS_TABLE_CACHE`` when set (``forensics run`` shares one with its
        kernels), else a private temporary folder once the access and query logs exceed
        ``forensics.tablecache.SPILL_BYTES`` on disk, else none.
        """
        if self._cache_mode == "auto":
            from forensics import tablecache

            shared = os.environ.get(tablecache.ENV_VAR)
            if shared:
                self.use_table_cache(shared)
            elif tablecache.log_bytes(p for k in CACHED_KEYS for p in self.evidence.get(k, [])) > tablecache.SPILL_BYTES:
                import shutil
                import tempfile
                import weakref

                private = tempfile.mkdtemp(prefix=f"forensics-{self.id}-tables-")  # mode 0700
                weakref.finalize(self, shutil.rmtree, private, True)
                self.use_table_cache(private)
            else:
                self._cache_mode = "off"
        return self._table_cache

    def use_engine(self, engine) -> None:
        """Parse the line logs into the table cache with ``engine`` (an object whose ``map(fn,
        items)`` returns ``[fn(i) for i in items]``, e.g. :class:`forensics.engine.DaskEngine`:
        each file, or rotated series, a task on a cluster); None: in this process."""
        self.engine = engine

    def _source(self, key: str) -> Source:
        """What the reader of evidence key ``key`` is given."""
        return Source(
            files=self.evidence.get(key, []), root=self.root, timezone=self.timezone,
            app_log_timezone=self.app_log_timezone, skew_seconds=self.skew(key) if EVIDENCE[key].skew else 0,
            max_decompressed=self.max_decompressed, access_log_format=self.access_log_format,
            db_encoding=self.db_encoding, server_root=self.server_root, app_log_format=self.platform.app_log_format,
        )

    def _cached(self, key: str):
        """:class:`forensics.tablecache.CachedLog` of a line log (parsed into the cache if needed)."""
        from forensics.evidence import rel_source
        from forensics.loaders._common import in_time_order
        import dataclasses
        import functools

        from forensics.tablecache import ParseUnit, TableCache

        kind, source = EVIDENCE[key], self._source(key)
        options = {"max_decompressed": self.max_decompressed, "skew": self.skew(key), "tz": self.timezone,
                   "root": str(self.root)}
        if key == "access_logs":  # the format changes the parse
            options["format"] = self.access_log_format or "detected per file"
        sources = [rel_source(p, self.root) for p in in_time_order(source.files)] if kind.order_up_front else None

        def units() -> list[ParseUnit]:
            return [ParseUnit(tuple(rel_source(p, self.root) for p in files),
                              functools.partial(kind.stream, dataclasses.replace(source, files=files)))
                    for files in kind.units(source)]

        return TableCache(self.table_cache).log(key, source.files, kind.schema, lambda seen: kind.stream(source, seen),
                                                sources=sources, options=options,
                                                units=units if kind.units is not None else None, engine=self.engine,
                                                at_once=kind.units_at_once)

    # -- loading (each evidence type parsed once, on first need) --

    def _load(self, key: str) -> Any:
        if key in self._loaded:
            return self._loaded[key]
        if key not in EVIDENCE:  # pragma: no cover
            raise KeyError(key)
        if EVIDENCE[key].cached and self.table_cache is not None:
            res = self._cached(key).loaded()
        else:
            res = EVIDENCE[key].read(self._source(key))
        self._loaded[key] = res
        return res

    def loaded(self, key: str) -> Loaded:
        """The result (table, rejects, counts) of one evidence key; db tables concatenated for
        rejects and counts only. ``records`` is a DataFrame, or for the access and query logs of a
        case with a :attr:`table_cache` a LazyFrame over their Parquet table."""
        res = self._load(key)
        if key != "db":
            return res
        parts = list(res.values())
        return Loaded(
            pl.DataFrame(),
            pl.concat([p.rejects for p in parts]) if parts else pl.DataFrame(schema=schemas.REJECTS),
            pl.concat([p.counts for p in parts]) if parts else pl.DataFrame(schema=COUNTS),
        )

    def _lazy(self, key: str, schema: pl.Schema) -> pl.LazyFrame:
        if EVIDENCE[key].cached and self.table_cache is not None:
            return self._load(key).records  # a Parquet scan: columns and row groups read on need
        return pl.defer(lambda: self._load(key).records, schema=schema)

    def access_log(self) -> pl.LazyFrame:
        """Apache combined access logs: LazyFrame of :data:`forensics.schemas.ACCESS_LOG`.

        With a :attr:`table_cache` the logs are parsed into it on this call (once), and the frame
        scans the Parquet table: select the columns you need before collecting a large case."""
        return self._lazy("access_logs", schemas.ACCESS_LOG)

    def app_log(self) -> pl.LazyFrame:
        """EC-CUBE admin/site logs: LazyFrame of :data:`forensics.schemas.APP_LOG`."""
        return self._lazy("app_logs", schemas.APP_LOG)

    def query_log(self) -> pl.LazyFrame:
        """MySQL general query log statements: LazyFrame of :data:`forensics.schemas.QUERY_LOG`."""
        return self._lazy("query_logs", schemas.QUERY_LOG)

    def fs_files(self) -> pl.LazyFrame:
        """Bodyfile, one row per file: LazyFrame of :data:`forensics.schemas.FS_FILES`."""
        return self._lazy("fs_timeline", schemas.FS_FILES)

    def fs_timeline(self) -> pl.LazyFrame:
        """Bodyfile as a plaso-style timeline: LazyFrame of :data:`forensics.schemas.FS_TIMELINE`."""
        from forensics.loaders.bodyfile import fs_timeline_from_files

        return pl.defer(lambda: fs_timeline_from_files(self._load("fs_timeline").records).collect(), schema=schemas.FS_TIMELINE)

    def server_files(self) -> pl.LazyFrame:
        """Inventory of ``server/``: LazyFrame of :data:`forensics.schemas.SERVER_FILES`."""
        return self._lazy("server_files", schemas.SERVER_FILES)

    def server_file_bytes(self, paths, max_bytes: int = 16 * 1024**2) -> pl.DataFrame:
        """``{path, content}`` for inventory paths (relative to server/); no symlink is followed."""
        from forensics.loaders.server_files import server_file_bytes

        paths = list(paths)
        if self.server_root is None:
            return pl.DataFrame({"path": paths, "content": [None] * len(paths)}, schema={"path": pl.String, "content": pl.Binary})
        return server_file_bytes(self.server_root, paths, max_bytes=max_bytes)

    def db_tables(self) -> dict[str, pl.LazyFrame]:
        """Database exports by table name (``dtb_customer`` -> LazyFrame of source, line_no, columns)."""
        return {name: res.records.lazy() for name, res in self._load("db").items()}

    def db_table(self, name: str) -> pl.LazyFrame | None:
        res = self._load("db").get(name)
        return res.records.lazy() if res is not None else None

    def rejects(self, evidence: str | None = None) -> pl.LazyFrame:
        """Rejects (LazyFrame of :data:`forensics.schemas.REJECTS`) of every evidence type, or of
        one case.yml evidence key (``"access_logs"``, ``"db"``, ...)."""
        keys = EVIDENCE_KEYS if evidence is None else (evidence,)
        if evidence is not None and evidence not in EVIDENCE_KEYS:
            raise KeyError(f"unknown evidence key {evidence!r} (one of: {', '.join(EVIDENCE_KEYS)})")
        return pl.defer(
            lambda: pl.concat([self._accounts(k).rejects.cast(schemas.REJECTS) for k in keys]),
            schema=schemas.REJECTS,
        )

    def _accounts(self, key: str) -> Loaded:
        """Rejects and counts of one key: of its loaded table when there is one, else those
        :meth:`count_records` kept when it dropped the table, else loaded (and kept)."""
        if key not in self._loaded and key in self._accounted:
            return self._accounted[key]
        return self.loaded(key)

    def record_counts(self) -> pl.DataFrame:
        """Per input file: ``source``, ``records``, ``rejected`` (``records + rejected`` = lines in
        the file; data rows for the DB CSVs; files for server/), plus ``rows`` (table rows) and
        ``evidence`` (the case.yml key)."""
        parts = [self._accounts(k).counts.with_columns(evidence=pl.lit(k)) for k in EVIDENCE_KEYS]
        return pl.concat(parts).cast({**COUNTS, "evidence": pl.String})

    def count_records(self) -> pl.DataFrame:
        """:meth:`record_counts` without keeping the tables in memory (for the manifest): access
        logs are counted batch by batch; other evidence already loaded is reused, the rest parsed
        and dropped. Same frame as :meth:`record_counts`."""
        from forensics.evidence import rel_source
        from forensics.loaders._common import in_time_order, merge_counts

        parts = []
        for k in EVIDENCE_KEYS:
            kind = EVIDENCE[k]
            if kind.cached and self.table_cache is not None:
                counts = self.loaded(k).counts  # parsed once into the cache: tables and counts
            elif kind.stream is not None and kind.order_up_front and k not in self._loaded:
                source = self._source(k)
                batches = [b.counts for b in kind.stream(source, [])]
                counts = merge_counts(batches, [rel_source(p, self.root) for p in in_time_order(source.files)])
            else:
                cached = k in self._loaded
                res = self._accounts(k)
                counts = res.counts
                if not cached and k in self._loaded:  # its rejects and counts stay, its table goes
                    self._accounted[k] = Loaded(pl.DataFrame(), res.rejects, res.counts)
                    self._loaded.pop(k)
            parts.append(counts.with_columns(evidence=pl.lit(k)))
        return pl.concat(parts).cast({**COUNTS, "evidence": pl.String})

    def input_files(self) -> list[Path]:
        """Every input file (server/ walked without following links), sorted."""
        files: set[Path] = set()
        for key, paths in self.evidence.items():
            for p in paths:
                if p.is_dir() and not p.is_symlink():
                    for dirpath, dirnames, filenames in os.walk(p, followlinks=False):
                        files.update(Path(dirpath) / n for n in filenames)
                        files.update(Path(dirpath) / n for n in dirnames if (Path(dirpath) / n).is_symlink())
                else:
                    files.add(p)
        return sorted(files)


#: A case file is a few hundred bytes; anything near this is not one.
MAX_CASE_YML_CHARS = 1 << 20


class _StrictLoader(yaml.SafeLoader):
    """YAML as a case file needs it: no aliases (``&a`` / ``*a`` expand a few bytes into gigabytes)
    and no key given twice (YAML would keep the last one silently)."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed in a case file",
                                              event.start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"key {key!r} is given twice", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def open_case(path: str | os.PathLike, *, max_decompressed: int = DEFAULT_MAX_DECOMPRESSED,
              table_cache: str | os.PathLike | None = "auto") -> Case:
    """Validate ``case.yml`` and return the :class:`Case` (no evidence is read yet).

    ``table_cache``: a folder (outside the case) where the access and query logs are parsed once
    into Parquet and scanned lazily; ``None`` keeps every table in memory; ``"auto"`` (default)
    decides by size and by ``FORENSICS_TABLE_CACHE`` (see :attr:`Case.table_cache`).

    Raises
    ------
    CaseError
        One line naming the key or path at fault.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "case.yml"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CaseError(f"case file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CaseError(f"cannot read case file {path}: {exc}") from None
    if len(text) > MAX_CASE_YML_CHARS:
        raise CaseError(f"{path}: {len(text):,} characters; a case file is at most {MAX_CASE_YML_CHARS:,}")
    try:
        raw = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader without aliases or duplicates
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise CaseError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(raw, dict):
        raise CaseError(f"{path}: expected a mapping of keys (id, timezone, evidence, ...)")
    return Case(path=Path(os.path.abspath(path)), raw=raw, max_decompressed=max_decompressed, table_cache=table_cache)
