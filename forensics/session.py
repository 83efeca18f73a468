"""The notebook session: one object, :class:`Run`, over a case and its output folder ``OUT/``.

The notebooks stay thin (a question, one call, its result); the logic lives here. Each step
computes its tables once and leaves them in ``OUT/tables/`` (:class:`Workspace`), so a later
notebook loads what an earlier one computed:

- 01 evidence intake: :meth:`Run.manifest_table`, :meth:`Run.record_accounting`,
  :meth:`Run.rejects_summary`, :meth:`Run.traffic_chart`.
- 02 SQL injection: :meth:`Run.investigate` (the one expensive call: ``forensics.findings.investigate``;
  saves findings, every table of the investigation by its declared name
  (``forensics.findings.INVESTIGATION_TABLES``) and the what-if tables), then
  :meth:`Run.sqli_by_ip`, :meth:`Run.sqli_database_side`, :meth:`Run.sqli_statements`, :meth:`Run.sql_errors`,
  :meth:`Run.sqli_chart`.
- 03 admin intrusion and backdoor, 04 card skimming: tables and charts from the saved tables.
- 05 exposure and counts: :meth:`Run.counts_text`, :meth:`Run.exposure_windows_chart`,
  :meth:`Run.explorer` (ipywidgets over the what-if function).
- 06 final report: :meth:`Run.write_outputs` (findings.json, charts, timeline.jsonl, report.html).

Checked notebook cells print with :meth:`Run.phases_text` and :meth:`Run.counts_text`:
deterministic text, no timestamps of the run, no memory addresses.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl

from forensics import charts as ch
from forensics.cards import mask_json
from forensics.workspace import Workspace, json_default, resolve_path

__all__ = ["Run", "open_run", "code_key", "enable_tidy_offline_charts", "CHART_STEMS"]

CHART_STEMS = ("attack_timeline", "requests_per_day", "exposure_windows", "exposure_counts", "payment_failure")
UTC = pl.Datetime("us", "UTC")
_EMPTY_REQ = pl.Schema({"ts": UTC, "client_ip": pl.String})


def open_run(case_path: str, out_dir: str, *, base: str | Path | None = None, charts_inline: bool = True) -> Run:
    """Open the case and its output folder, paths relative to the notebook's folder (or ``base``).

    Also writes ``OUT/manifest.json`` when it is missing or no longer matches the evidence
    (``forensics run`` writes it before the first notebook); tables are reused only for the same
    content digests. Switches altair to the offline SVG renderer.
    """
    from forensics.case import open_case
    from forensics.pipeline import case_key, current_manifest

    case_yml = resolve_path(case_path, base)
    out = resolve_path(out_dir, base)
    case = open_case(case_yml)
    manifest = current_manifest(case, out)
    ws = Workspace(out, key=f"{case_key(case, manifest)}-{code_key()}")
    from forensics.display import enable_inert_frames

    enable_inert_frames()  # frames shown in the notebook: attacker control characters as \xNN
    if charts_inline:
        enable_tidy_offline_charts()
    return Run(case=case, ws=ws)


def enable_tidy_offline_charts() -> str:
    """The offline SVG renderer (:func:`forensics.display.enable_offline_charts`) with chart
    coordinates rounded (:func:`forensics.charts.tidy_svg`): Vega's 17-digit coordinates can pass
    a Luhn check by chance, and notebooks are outputs that must hold no card-number look-alike."""
    import altair as alt

    from forensics.display import enable_offline_charts

    name = enable_offline_charts() + "-tidy"
    base = alt.renderers.get()

    def render(spec: dict, **metadata):
        bundle = base(spec, **metadata)
        return {k: ch.tidy_svg(v) if k in ("text/html", "image/svg+xml") and isinstance(v, str) else v
                for k, v in bundle.items()}

    alt.renderers.register(name, render)
    alt.renderers.enable(name)
    return name


def code_key() -> str:
    """Fingerprint of the installed ``forensics`` package (its .py files' paths, sizes, mtimes):
    tables computed by other code are not reused, so ``make test`` checks the code as it is."""
    import hashlib

    import forensics

    h = hashlib.sha256()
    root = Path(forensics.__file__).parent
    for p in sorted(root.rglob("*.py")):
        st = p.stat()
        h.update(f"{p.relative_to(root)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def _local(t, tz: str) -> str | None:
    if t is None:
        return None
    if isinstance(t, str):
        t = dt.datetime.fromisoformat(t.replace("Z", "+00:00"))
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return t.astimezone(ZoneInfo(tz)).isoformat()


def _in_zone(df: pl.DataFrame | None, tz: str) -> pl.DataFrame | None:
    """Every tz-aware datetime column shown in the case zone (stored UTC, displayed local)."""
    if df is None:
        return None
    cols = [n for n, d in df.schema.items() if isinstance(d, pl.Datetime) and d.time_zone is not None]
    return df.with_columns(pl.col(c).dt.convert_time_zone(tz) for c in cols) if cols else df


class Run:
    """A case, its ``OUT/`` workspace, and every step of the notebook series."""

    def __init__(self, case, ws: Workspace) -> None:
        self.case = case
        self.ws = ws
        self.tz: str = case.timezone

    # ---------------------------------------------------------------- 01 evidence intake
    def manifest_table(self) -> pl.DataFrame:
        """Every input file from ``manifest.json``: ``path, size, sha256`` (taken before analysis)
        and ``format`` (the format an access log was read in; how a database export's header was read)."""
        m = json.loads(self.ws.manifest_path.read_text(encoding="utf-8"))
        rows = [{"path": f.get("path"), "size": f.get("size"), "sha256": f.get("sha256"), "format": f.get("format")}
                for f in m.get("files", [])]
        return pl.DataFrame(rows, schema={"path": pl.String, "size": pl.Int64, "sha256": pl.String,
                                          "format": pl.String}).sort("path")

    def record_accounting(self) -> pl.DataFrame:
        """Per evidence file ``source, records, rejected`` (records + rejected = what the file holds).
        Counted without keeping the tables the intake does not read (the database exports)."""
        return self.ws.table("record_counts", self.case.count_records)

    def rejects(self) -> pl.DataFrame:
        """Every rejected record: ``source, line_no, reason, excerpt`` (excerpts escaped)."""
        return self.ws.table("rejects", lambda: self.case.rejects().collect())

    def rejects_summary(self) -> pl.DataFrame:
        """Rejected records per file and reason, with the first line number as an example. A reject
        without a line number stands for its whole file (a file no known format reads, a file that
        cannot be opened): its count is the file's, from the record accounting."""
        r = self.rejects()
        whole = self.record_accounting().select("source", _file=pl.col("rejected").cast(pl.UInt32))
        return (
            r.group_by("source", "reason").agg(rejected=pl.len(), first_line=pl.col("line_no").min())
            .join(whole, on="source", how="left")
            .with_columns(rejected=pl.when(pl.col("first_line").is_null()).then(pl.coalesce("_file", "rejected"))
                          .otherwise("rejected"))
            .drop("_file")
            .sort("source", "reason")
        )

    def requests_per_day(self) -> pl.DataFrame:
        """Access-log requests per day in the case zone: ``day, requests``."""
        return self.ws.table("requests_per_day", lambda: ch.requests_per_day(self.case.access_log(), tz=self.tz))

    def traffic_chart(self):
        return ch.requests_per_day_chart(self.requests_per_day(), tz=self.tz)

    # ---------------------------------------------------------------- 02 the investigation
    def investigate(self) -> dict:
        """Run ``forensics.findings.investigate`` once and save its results; returns findings (dict).

        Saved: ``tables/findings.json``, ``inv_<name>.parquet`` for every table of the
        investigation by its declared name (``forensics.findings.INVESTIGATION_TABLES``, the
        super-timeline ``inv_timeline.parquet`` among them) and the what-if tables (``whatif_*``).
        Later calls (and later notebooks) load them.
        """
        if self.ws.has("findings"):
            return self.ws.load_json("findings")
        from forensics.findings import findings_dict, investigate

        inv = investigate(self.case)
        findings = findings_dict(inv)
        for name, frame in inv.tables().items():
            self.ws.save_table(f"inv_{name}", frame)
        self._save_whatif(inv)
        self.ws.save_json("payment_change_point", inv.detections.payment_change_point)
        self.ws.save_json("findings", findings)
        return findings

    def _save_whatif(self, inv) -> None:
        from forensics.exposure.whatif import precompute

        pre = precompute(inv)
        for name in ("views", "entries", "confirmed"):
            self.ws.save_table(f"whatif_{name}", getattr(pre, name))
        self.ws.save_json("whatif_base", {
            "backdoor_start": pre.backdoor_start, "skimmer_start": pre.skimmer_start,
            "containment": pre.containment, "attacker_ips": sorted(pre.attacker_ips),
            "viewed_mode": pre.viewed_mode, "viewed_upper": pre.viewed_upper,
        })

    def findings(self) -> dict:
        """findings.json content (the findings format), computed by :meth:`investigate` if needed."""
        return self.investigate()

    def table(self, name: str) -> pl.DataFrame:
        """The investigation's table ``name`` (one of ``forensics.findings.INVESTIGATION_TABLES``),
        as :meth:`investigate` saved it."""
        from forensics.findings import INVESTIGATION_TABLES

        if name not in INVESTIGATION_TABLES:
            raise KeyError(f"the investigation has no table named {name!r}")
        self.investigate()
        return self.ws.load_table(f"inv_{name}")

    def sqli(self) -> pl.DataFrame:
        """SQL injection requests (:func:`forensics.detectors.sqli.detect_sqli`)."""
        return self.table("sqli")

    # ---------------------------------------------------------------- 02 SQL injection
    def phases_text(self, names: Sequence[str] | None = None) -> str:
        """``name  ISO time (case zone)`` per phase, one a line; a phase not found says so, with
        the reason."""
        f = self.findings()
        phases, reasons = f.get("phases") or {}, f.get("phases_reason") or {}
        names = list(names) if names is not None else list(phases)
        return "\n".join(f"{n:<22}{_local(phases.get(n), self.tz) or 'not found: ' + (reasons.get(n) or 'no evidence')}"
                         for n in names)

    def sqli_by_ip(self) -> pl.DataFrame:
        """Per IP: first and last SQLi request (case zone), requests, techniques, tables targeted."""
        t = self.table("sqli_by_ip")
        return t.select("ip", "first_ts", "last_ts", "requests", "techniques", "tables", "columns").with_columns(
            pl.col("first_ts", "last_ts").dt.convert_time_zone(self.tz)
        ).sort("first_ts")

    def sqli_database_side(self) -> pl.DataFrame:
        """Per SQLi IP, what reached the database: ``ip, requests, reached_db`` (requests with a
        query-log statement carrying their text, or an SQL error tied to them), ``statements``,
        ``sql_errors``, ``tables``, ``columns`` (read by those statements and errors), ``how_tied``
        (each way its statements and errors were tied to its requests, with how many)."""
        return self.table("sqli_database_side")

    def sqli_database_side_text(self) -> str:
        """Per SQLi IP one line: flagged requests, those that reached the database, the statements
        and SQL errors tied to them and how; then the query-log statements with injected SQL that
        carry no flagged request's payload (tied to none)."""
        side = self.sqli_database_side()
        reach = self.table("sqli_reach")
        lines = [f"{r['ip']}: {r['requests']} flagged requests, {r['reached_db']} reached the database "
                 f"({r['statements']} query-log statements, {r['sql_errors']} SQL errors); "
                 f"tied: {'; '.join(r['how_tied']) or 'none'}" for r in side.iter_rows(named=True)]
        if "tie" in reach.columns:
            untied = reach.filter(pl.col("client_ip").is_null())
            lines.append(f"query-log statements with injected SQL tied to no request: {untied.height}"
                         + (f" ({'; '.join(sorted(set(untied['tie'])))})" if untied.height else ""))
        return "\n".join(lines) if lines else "No SQL injection was flagged, so nothing is sought in the database."

    def sqli_statements(self) -> pl.DataFrame:
        """The query-log statements with injected SQL (case zone), each with the flagged request
        whose text it carries and how the tie was made (``tie``; ``candidates``: flagged requests
        in the time allowed whose text is in it)."""
        keep = ["ts", "client_ip", "tie", "candidates", "req_source", "req_line_no", "tables", "columns", "statement",
                "source", "line_no"]
        t = self.table("sqli_reach")
        return t.select([c for c in keep if c in t.columns]).with_columns(pl.col("ts").dt.convert_time_zone(self.tz))

    def sql_errors(self) -> pl.DataFrame:
        """SQL errors the shop logged (case zone), each with the request that caused it when the
        evidence decides (``tie``; ``candidates`` otherwise says how many requests could have)."""
        keep = ["ts", "ip", "page", "injected", "tie", "candidates", "req_target", "statement", "db_error", "tables",
                "source", "line_no"]
        return self.table("sql_errors").select(keep).with_columns(pl.col("ts").dt.convert_time_zone(self.tz))

    def login_cause_text(self) -> str:
        """Where the attacker's admin credentials came from, as far as the evidence goes."""
        f = self.findings()
        cause = (f.get("phases_cause") or {}).get("attacker_admin_login")
        if cause:
            return cause["reason"]
        if not (f.get("phases") or {}).get("attacker_admin_login"):
            return "No attacker admin login was found, so no cause is sought."
        return ("Not established: no SQL injection read the admin accounts before the attacker's admin login "
                "(the credentials may have come from elsewhere).")

    def sql_errors_text(self) -> str:
        """One paragraph on the SQL errors: how many, how many carried injected SQL, how many are
        tied to a request and how; or why there are none to show."""
        t = self.sql_errors()
        if t.is_empty():
            logs = [s for s in self.record_accounting()["source"].to_list() if s.rsplit("/", 1)[-1].startswith("error.log")]
            if not logs:
                return "SQL errors: none to show: no error.log among the app logs (the shop writes its SQL errors there)."
            return f"SQL errors: none in {', '.join(logs)}."
        tied = t.filter(pl.col("tie").is_not_null())
        by_payload = tied.filter(pl.col("tie") == "payload in statement").height
        undecided = t.filter(pl.col("tie").is_null() & (pl.col("candidates") > 1)).height
        return (f"SQL errors: {t.height}, {t.filter(pl.col('injected')).height} with injected SQL in the statement; "
                f"{tied.height} tied to the request that caused it ({by_payload} by its text in the statement, "
                f"{tied.height - by_payload} by IP, page and time: the only request, or the only flagged one, from "
                f"that IP to that page then); "
                f"{undecided} with several possible requests (none named); "
                f"{t.height - tied.height - undecided} with no request from that IP to that page then.")

    def sqli_chart(self):
        return ch.requests_per_day_chart(self.requests_per_day(), self.sqli(), tz=self.tz)

    # ---------------------------------------------------------------- 03 admin and backdoor
    def attacker_ips(self) -> pl.DataFrame:
        return _in_zone(self.table("attacker_ips"), self.tz)

    def attacker_admin_summary(self) -> pl.DataFrame:
        """Attacker admin requests per page: ``page, requests, first, last`` (case zone)."""
        t = self.table("attacker_admin_requests")
        return (
            t.group_by("page").agg(requests=pl.len(), first=pl.col("ts").min(), last=pl.col("ts").max())
            .with_columns(pl.col("first", "last").dt.convert_time_zone(self.tz)).sort("first")
        )

    def backdoors(self) -> pl.DataFrame:
        t = self.table("backdoors")
        return _in_zone(t.select("url_path", "server_path", "installed", "indicators", "requests"), self.tz)

    def attack_timeline_chart(self):
        f = self.findings()
        return ch.attack_timeline_chart(f.get("phases") or {}, tz=self.tz, windows=f.get("windows"))

    # ---------------------------------------------------------------- 04 card skimming
    def tampered_files(self) -> pl.DataFrame:
        t = self.table("tampered")
        return _in_zone(t.select("path", "modified", "indicators", "writes_to", "tampered"), self.tz)

    def skim_records(self) -> pl.DataFrame:
        """Records of the skim files, masked (first 6 + last 4): no full number, no security code."""
        t = self.table("skim_records")
        return _in_zone(t.select("skim_file", "record_no", "card_masked", "expiry", "entered"), self.tz)

    def card_entry_requests(self) -> pl.DataFrame:
        """Card-entry requests (``ts, failed``...) of the access log (detectors.payment)."""
        return self.table("card_posts")

    def payment_methods(self) -> pl.DataFrame:
        """Every payment method and how it was classified: ``payment_id, payment_method,
        module_file, kind`` (card / not_card / undetermined), ``rule_ids, reason``."""
        return self.table("payment_methods")

    def payment_change_point(self) -> dict | None:
        """Where card payments started failing: ``ts`` (case zone), entries and failures before/after."""
        self.investigate()
        cp = self.ws.load_json("payment_change_point")
        if cp is None:
            return None
        return {k: (_local(v, self.tz) if k == "ts" else v) for k, v in cp.items()
                if k in ("ts", "n_before", "failures_before", "n_after", "failures_after")}

    def payment_failure_chart(self):
        cp = self.payment_change_point()
        return ch.payment_failure_chart(self.card_entry_requests(), tz=self.tz,
                                        change_point=cp["ts"] if cp else None)

    # ---------------------------------------------------------------- 05 exposure
    def counts_text(self) -> str:
        """The headline counts, one ``key: value`` a line, and the card sum spelled out."""
        c = self.findings().get("counts") or {}
        keys = ["viewed_persons", "cards_confirmed_customer", "cards_confirmed_test", "cards_possible_customer",
                "cards_possible_test", "cards_total"]
        if c.get("viewed_persons") is None:
            keys.insert(1, "viewed_persons_upper")
        reasons = self.findings().get("counts_reason") or {}

        def value(k: str) -> str:
            if c.get(k) is not None:
                return str(c[k])
            bounds = [f"{side} {c[f'{k}_{side}']}" for side in ("lower", "upper") if c.get(f"{k}_{side}") is not None]
            why = c.get(f"{k}_reason") or reasons.get(k) or reasons.get(k.rsplit("_", 1)[0]) or "see the findings"
            return "not established" + (f" ({', '.join(bounds)})" if bounds else "") + f": {why}"

        lines = [f"{k}: {value(k)}" for k in keys]
        parts = [c.get("cards_confirmed_customer"), c.get("cards_confirmed_test"),
                 c.get("cards_possible_customer"), c.get("cards_possible_test")]
        if None not in parts:
            lines.append("cards: {} + {} + {} + {} = {}".format(*parts, c.get("cards_total")))
        return "\n".join(lines)

    def windows_table(self) -> pl.DataFrame:
        w = self.findings().get("windows") or {}
        return pl.DataFrame(
            [{"window": k, "start": _local((v or [None, None])[0], self.tz), "end": _local((v or [None, None])[1], self.tz)}
             for k, v in w.items()],
            schema={"window": pl.String, "start": pl.String, "end": pl.String},
        )

    def card_entries_by_category(self) -> pl.DataFrame:
        """Each card entry ``ts, category, label``: confirmed / possible / test / outside."""
        self.investigate()
        entries = self.ws.load_table("whatif_entries")
        confirmed = self.ws.load_table("whatif_confirmed")
        w = (self.findings().get("windows") or {}).get("backdoor") or [None, None]
        start, end = (dt.datetime.fromisoformat(x) if x else None for x in w)
        in_window = (pl.col("entered").is_between(start, end) if start and end else pl.lit(False))
        conf_orders = confirmed["order_id"].drop_nulls().implode()
        conf_people = confirmed["person_key"].drop_nulls().implode()
        e = entries.with_columns(
            category=pl.when(pl.col("is_test")).then(pl.lit("test"))
            .when(pl.col("order_id").is_in(conf_orders) | pl.col("person_key").is_in(conf_people)).then(pl.lit("confirmed"))
            .when(in_window).then(pl.lit("possible"))
            .otherwise(pl.lit("outside")),
            label=pl.format("order {}", pl.col("order_id")),
        ).select(pl.col("entered").alias("ts"), "category", "label")
        # confirmed cards whose order could not be matched still show, at their skim entry time
        loose = confirmed.filter(pl.col("order_id").is_null() & pl.col("first_entered").is_not_null()).select(
            pl.col("first_entered").alias("ts"),
            category=pl.when(pl.col("is_test")).then(pl.lit("test")).otherwise(pl.lit("confirmed")),
            label=pl.lit("skim record"),
        )
        return pl.concat([e, loose.cast(e.schema)]).sort("ts")

    def exposure_windows_chart(self):
        return ch.exposure_windows_chart(self.findings().get("windows") or {}, self.card_entries_by_category(), tz=self.tz)

    def exposure_counts_chart(self):
        return ch.exposure_counts_chart(self.findings().get("counts") or {})

    def whatif(self):
        """The what-if function bound to the saved tables: ``f(*, backdoor_start, ...) -> counts``."""
        from functools import partial

        from forensics.exposure.whatif import Precomputed, whatif

        self.investigate()
        base = self.ws.load_json("whatif_base")

        def t(x):
            return dt.datetime.fromisoformat(x) if x else None

        pre = Precomputed(
            views=self.ws.load_table("whatif_views"), entries=self.ws.load_table("whatif_entries"),
            confirmed=self.ws.load_table("whatif_confirmed"), backdoor_start=t(base["backdoor_start"]),
            skimmer_start=t(base["skimmer_start"]), containment=t(base["containment"]),
            attacker_ips=frozenset(base["attacker_ips"]), viewed_mode=base["viewed_mode"],
            viewed_upper=base["viewed_upper"],
        )
        return partial(whatif, pre), pre

    def explorer(self, *, backdoor_start: str = "", skimmer_start: str = "", containment: str = "",
                 attacker_ips: str | Iterable[str] = ""):
        """The exposure explorer (:class:`forensics.widgets.ExposureExplorer`), initial values from
        the notebook parameters ("" = the findings' own edge / all attacker IPs)."""
        from forensics.widgets import ExposureExplorer, parse_edge

        compute, pre = self.whatif()
        ips = [s.strip() for s in attacker_ips.split(",")] if isinstance(attacker_ips, str) else list(attacker_ips)
        ips = [i for i in ips if i]
        return ExposureExplorer(
            compute,
            base_edges={"backdoor_start": pre.backdoor_start, "skimmer_start": pre.skimmer_start,
                        "containment": pre.containment},
            attacker_ips=sorted(pre.attacker_ips),
            base_counts=self.findings().get("counts") or {},
            tz=self.tz,
            initial={"backdoor_start": parse_edge(backdoor_start, self.tz),
                     "skimmer_start": parse_edge(skimmer_start, self.tz),
                     "containment": parse_edge(containment, self.tz)},
            initial_ips=ips or None,
        )

    # ---------------------------------------------------------------- 06 outputs
    def all_charts(self) -> dict:
        return {
            "attack_timeline": self.attack_timeline_chart(),
            "requests_per_day": self.sqli_chart(),
            "exposure_windows": self.exposure_windows_chart(),
            "exposure_counts": self.exposure_counts_chart(),
            "payment_failure": self.payment_failure_chart(),
        }

    def write_outputs(self) -> list[str]:
        """Write findings.json, charts/*.svg|png, timeline.jsonl and report.html; returns their
        paths relative to ``OUT/`` (sorted)."""
        from forensics.report.html import write_report
        from forensics.timeline import write_timeline_jsonl

        f = mask_json(json.loads(json.dumps(self.findings(), default=json_default)))
        self.ws.findings_path.write_text(json.dumps(f, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        written = [self.ws.findings_path]
        for stem, chart in self.all_charts().items():
            written += ch.save_chart(chart, stem, self.ws.charts_dir)
        written.append(write_timeline_jsonl(self.table("timeline"), self.ws.timeline_path, self.tz))
        written.append(write_report(f, self.ws.root, title=getattr(self.case, "title", None)))
        return sorted(Path(p).relative_to(self.ws.root).as_posix() for p in written)
