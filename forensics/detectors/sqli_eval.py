"""How well the SQL-injection detector does on the corpus: recall and false positives, measured.

Attack traffic: ``tests/data/sqli_corpus/sqlmap_access.log.gz`` with its labels (every line that
carries SQL; sqlmap's neutral probes, label ``benign-probe``, are left out). Benign traffic:
``benign_requests.csv.gz`` (public web logs and URL lists), and any other benign requests the
caller adds (``make eval`` adds the sample case's). Both are split in fixed parts: attack lines by
sqlmap run (a run's payloads stay in one part), benign lines by line number parity. Rules are
tuned on ``tune``; ``heldout`` is the measurement, and ``validation`` (``validation_*`` files:
other runs, made later, never used to change a rule) a second one, judged with the held-out
benign lines.

The corpus lives in the source repository (``tests/data``), not in the installed package:
:func:`corpus_dir` finds it beside the package, and :func:`measured_text` says "corpus not
present" when it is not there. ``scripts/sqli_eval.py`` (``make eval``) prints every table;
``notebooks/02_sql_injection.ipynb`` shows :func:`measured_table`.

Targets on the held-out part (:data:`TARGETS`): recall >= 0.99 overall and >= 0.98 per
technique, false-positive rate <= 0.0001 on the public benign traffic.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import polars as pl

from forensics.detectors.sqli import detect_sqli

__all__ = [
    "PARTS", "TARGETS", "corpus_dir", "attack_lines", "benign_lines", "flag", "evaluate", "meets_targets",
    "below_per_tamper_setting", "measured_table", "measured_text",
]

PARTS = ("tune", "heldout", "validation")
#: the benign part whose false positives a part of attack lines is judged with
BENIGN_PART = {"tune": "tune", "heldout": "heldout", "validation": "heldout"}
TARGETS = {"recall": 0.99, "recall_per_technique": 0.98, "fp_rate": 0.0001}
TECHNIQUE_ORDER = ["boolean", "error", "union", "stacked", "time", "inline", "heuristic", "waf-probe"]
#: benign traffic other than the public logs (the sample's, when the caller adds it)
PUBLIC_ORIGINS_EXCLUDE = ("sample-toshomart-2017",)

_REQUEST = r'"[A-Z]+ (\S+) HTTP/[\d.]+"'


def request_targets(path: Path) -> pl.DataFrame:
    """The lines of a corpus access log (gzip): ``line_no`` (from 1), ``line``, ``target`` (the
    request target of its ``"METHOD target HTTP/x"``)."""
    return pl.read_csv(path, has_header=False, new_columns=["line"], separator="\x01", quote_char=None).with_row_index(
        "line_no", offset=1
    ).with_columns(target=pl.col("line").str.extract(_REQUEST, 1))


def corpus_dir() -> Path:
    """``tests/data/sqli_corpus`` of the source tree this package was loaded from (it may be
    missing: an installed package has no tests)."""
    return Path(__file__).resolve().parents[2] / "tests" / "data" / "sqli_corpus"


def attack_lines(corpus: Path | None = None) -> pl.DataFrame:
    """Attack lines: ``target, run_id, part, dbms, technique, tamper, level, risk`` (probes
    dropped), of ``sqlmap_*`` and, when present, ``validation_*`` files."""
    corpus = corpus or corpus_dir()
    parts = []
    for prefix in ("sqlmap", "validation"):
        if not (corpus / f"{prefix}_access.log.gz").exists():
            continue
        lines = request_targets(corpus / f"{prefix}_access.log.gz")
        labels = pl.read_csv(corpus / f"{prefix}_labels.csv.gz", schema_overrides={"tamper": pl.String, "technique": pl.String})
        parts.append(
            lines.join(labels, on="line_no", how="inner")
            .filter(pl.col("label") == "attack")
            .with_columns(tamper=pl.col("tamper").fill_null(""))
            .select("target", "run_id", "part", "dbms", "technique", "tamper", "level", "risk")
        )
    if not parts:
        raise FileNotFoundError(f"corpus not present: no sqlmap_access.log.gz in {corpus}")
    return pl.concat(parts)


def benign_lines(corpus: Path | None = None) -> pl.DataFrame:
    """Benign lines of the public traffic: ``target, origin, part``."""
    corpus = corpus or corpus_dir()
    return pl.read_csv(corpus / "benign_requests.csv.gz").select(
        "target", "origin", part=pl.when(pl.col("line") % 2 == 0).then(pl.lit("tune")).otherwise(pl.lit("heldout"))
    )


def access_frame(targets: pl.Series) -> pl.DataFrame:
    """The columns :func:`detect_sqli` reads, one row per target; ``line_no`` is the row index."""
    return pl.DataFrame({"target_raw": targets}).with_row_index("line_no").with_columns(
        ts=pl.lit(datetime(2017, 3, 19, tzinfo=timezone.utc)), source=pl.lit("corpus"), client_ip=pl.lit("127.0.0.1"),
        method=pl.lit("GET"), path=pl.col("target_raw").str.replace(r"\?.*", ""), status=pl.lit(200),
        bytes=pl.lit(0), user_agent=pl.lit("-"), line_no=pl.col("line_no").cast(pl.Int64),
    )


def flag(frame: pl.DataFrame, detect=detect_sqli) -> pl.DataFrame:
    """``frame`` with a ``flagged`` column (the detector's verdict on ``target``)."""
    hits = detect(access_frame(frame["target"])).select("line_no").collect()
    return frame.with_row_index("__i").with_columns(
        flagged=pl.col("__i").cast(pl.Int64).is_in(hits["line_no"].implode())
    ).drop("__i")


def _recall(df: pl.DataFrame, by: str | list[str]) -> pl.DataFrame:
    rows = df.group_by([*([by] if isinstance(by, str) else by), "part"]).agg(
        n=pl.len(), hit=pl.col("flagged").sum()
    ).with_columns(recall=pl.col("hit") / pl.col("n"))
    keys = [by] if isinstance(by, str) else by
    wide = rows.pivot(on="part", index=by, values=["n", "recall"])
    # the same column order in every table, whichever part a group was seen in first
    cols = [f"{v}_{p}" for v in ("n", "recall") for p in PARTS]
    return wide.with_columns([pl.lit(None, pl.Float64 if c.startswith("recall") else pl.UInt32).alias(c)
                              for c in cols if c not in wide.columns]).select(*keys, *cols).sort(by)


def evaluate(
    attacks: pl.DataFrame | None = None, benign: pl.DataFrame | None = None, *, corpus: Path | None = None,
    detect=detect_sqli,
) -> dict[str, pl.DataFrame]:
    """The detector's verdicts on ``attacks`` (:func:`attack_lines`) and ``benign``
    (:func:`benign_lines`, plus any benign lines of the caller's: ``target, origin, part``), read
    from ``corpus`` when not given.

    Returns tables ``overall`` (recall per part), ``technique``, ``technique_tamper``, ``dbms``,
    ``tamper`` (recall and lines per part), ``benign`` (false positives per origin and part: the
    origins, ``all`` and ``public``), and ``_attacks`` / ``_benign`` (every line with ``flagged``).
    """
    attacks = attack_lines(corpus) if attacks is None else attacks
    benign = benign_lines(corpus) if benign is None else benign
    att = flag(attacks, detect).with_columns(
        tampered=pl.when(pl.col("tamper") == "").then(pl.lit("no tamper")).otherwise(pl.lit("tamper"))
    )
    ben = flag(benign, detect)
    overall = att.group_by("part").agg(n=pl.len(), hit=pl.col("flagged").sum()).with_columns(recall=pl.col("hit") / pl.col("n"))
    counts = pl.col("flagged").sum().alias("fp")
    benign_t = (
        ben.group_by("origin", "part").agg(n=pl.len(), fp=counts)
        .vstack(ben.group_by("part").agg(n=pl.len(), fp=counts).select(pl.lit("all").alias("origin"), "part", "n", "fp"))
        .vstack(
            ben.filter(~pl.col("origin").is_in(PUBLIC_ORIGINS_EXCLUDE)).group_by("part")
            .agg(n=pl.len(), fp=counts).select(pl.lit("public").alias("origin"), "part", "n", "fp")
        )
        .with_columns(fp_rate=pl.col("fp") / pl.col("n"))
        .pivot(on="part", index="origin", values=["n", "fp", "fp_rate"])
        .select("origin", *[f"{v}_{p}" for v in ("n", "fp", "fp_rate") for p in ("tune", "heldout")])
        .sort("origin")
    )
    return {
        "overall": overall.sort(pl.col("part").cast(pl.Enum(list(PARTS)))),
        "technique": _recall(att, "technique").sort(pl.col("technique").cast(pl.Enum(TECHNIQUE_ORDER))),
        "technique_tamper": _recall(att, ["technique", "tampered"]).sort(pl.col("technique").cast(pl.Enum(TECHNIQUE_ORDER)), "tampered"),
        "dbms": _recall(att, "dbms"),
        "tamper": _recall(att.filter(pl.col("tamper") != ""), "tamper"),
        "benign": benign_t,
        "_attacks": att,
        "_benign": ben,
    }


def meets_targets(tables: dict[str, pl.DataFrame], part: str = "heldout") -> list[str]:
    """What misses a target on ``part`` (empty when every target is met)."""
    out = []
    o = tables["overall"].filter(pl.col("part") == part)
    if o.is_empty():
        return [f"no attack lines in part {part}"]
    if o["recall"][0] < TARGETS["recall"]:
        out.append(f"recall {o['recall'][0]:.4f} < {TARGETS['recall']}")
    for tech, r in tables["technique"].select("technique", f"recall_{part}").iter_rows():
        if r is not None and r < TARGETS["recall_per_technique"]:
            out.append(f"{tech} recall {r:.4f} < {TARGETS['recall_per_technique']}")
    # judged on the public traffic alone: the sample's own traffic is generated, and large
    fp = tables["benign"].filter(pl.col("origin") == "public")[f"fp_rate_{BENIGN_PART[part]}"][0]
    if fp > TARGETS["fp_rate"]:
        out.append(f"false-positive rate {fp:.6f} > {TARGETS['fp_rate']}")
    return out


def below_per_tamper_setting(tables: dict[str, pl.DataFrame], part: str = "heldout") -> list[str]:
    """Technique groups with and without tamper scripts under the per-technique target on ``part``
    (reported beside the targets, not one of them)."""
    rows = tables["technique_tamper"].select("technique", "tampered", f"recall_{part}").iter_rows()
    return [f"{t} ({w}) recall {r:.4f}" for t, w, r in rows if r is not None and r < TARGETS["recall_per_technique"]]


def _ratio(hit: int | None, n: int | None) -> str:
    if not n:
        return "-"
    return f"{hit / n:.4f} ({hit:,}/{n:,})"


def measured_table(tables: dict[str, pl.DataFrame] | None = None) -> pl.DataFrame:
    """The measurement in one table, the parts side by side: ``measure, tune, heldout,
    validation`` (text: the ratio to four decimals and its counts, "-" where a part has no
    lines). Rows: recall over all attack lines and per technique, the false-positive rate on the
    public benign traffic and the precision it gives (flagged attack lines over all flagged
    lines of the part and its benign part: a figure of this corpus's mix, not of a shop's).

    ``tables``: :func:`evaluate` (by default run on the corpus, public traffic only).

    Examples
    --------
    >>> t = measured_table()
    >>> t.columns
    ['measure', 'tune', 'heldout', 'validation']
    """
    tables = tables if tables is not None else evaluate()
    att, ben = tables["_attacks"], tables["_benign"].filter(~pl.col("origin").is_in(PUBLIC_ORIGINS_EXCLUDE))
    rows: list[dict[str, str]] = []

    def recall_row(name: str, frame: pl.DataFrame) -> dict[str, str]:
        row = {"measure": name}
        for p in PARTS:
            f = frame.filter(pl.col("part") == p)
            row[p] = _ratio(int(f["flagged"].sum()), f.height)
        return row

    rows.append(recall_row("recall, every technique", att))
    for tech in [t for t in TECHNIQUE_ORDER if t in set(att["technique"])]:
        rows.append(recall_row(f"recall, {tech}", att.filter(pl.col("technique") == tech)))
    fp_row, prec_row = {"measure": "false-positive rate, public benign"}, {"measure": "precision"}
    for p in PARTS:
        b = ben.filter(pl.col("part") == BENIGN_PART[p])
        a = att.filter(pl.col("part") == p)
        fp, tp = int(b["flagged"].sum()), int(a["flagged"].sum())
        fp_row[p] = _ratio(fp, b.height) + ("" if p == BENIGN_PART[p] else f" ({BENIGN_PART[p]} lines)")
        prec_row[p] = _ratio(tp, tp + fp) if a.height else "-"
    rows += [fp_row, prec_row]
    return pl.DataFrame(rows, schema={"measure": pl.String, **{p: pl.String for p in PARTS}})


def measured_text(corpus: Path | None = None) -> str:
    """:func:`measured_table` as fixed-width text with what was measured, or why nothing was
    ("corpus not present: ...")."""
    corpus = corpus or corpus_dir()
    if not (corpus / "sqlmap_access.log.gz").exists() or not (corpus / "benign_requests.csv.gz").exists():
        return (f"corpus not present: {corpus.name} is in the source repository's tests/data folder, "
                "not in an installed package; nothing measured")
    tables = evaluate(corpus=corpus)
    t = measured_table(tables)
    att = tables["_attacks"]
    head = (f"SQLi detector on the corpus (tests/data/{corpus.name}): {att.height:,} attack lines of "
            f"{att['run_id'].n_unique()} sqlmap runs, {tables['_benign'].height:,} public benign lines; "
            f"targets on heldout: recall >= {TARGETS['recall']}, per technique >= {TARGETS['recall_per_technique']}, "
            f"false-positive rate <= {TARGETS['fp_rate']}")
    widths = {c: max(len(c), *(len(v) for v in t[c])) for c in t.columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in t.columns).rstrip()]
    lines += ["  ".join(v.ljust(widths[c]) for c, v in zip(t.columns, row)).rstrip() for row in t.iter_rows()]
    missed = {p: meets_targets(tables, p) for p in ("heldout", "validation")}
    verdict = "; ".join(f"{p}: " + ("every target met" if not m else ", ".join(m)) for p, m in missed.items())
    return "\n".join([head, "", *lines, "", verdict])
