"""Gaps in the evidence: what the case does not hold, and what it holds but cannot be used.

A gap is one record ``{evidence, path, reason, affects}``:

- an evidence kind the case does not name (``path`` null): "no access log in the case";
- a file the case names that yields no record: every line rejected (the commonest reasons
  quoted), rejected as a whole (one reason: "no known access-log format: first line ...", "cannot
  open: ..."), or nothing a record could be read from (a query log of server banners only).

``affects`` lists the conclusions that need that kind of evidence (:data:`AFFECTS`). A conclusion
that was not reached while a gap affects it is *not established* (the evidence could not show
it), which is a different finding from *not found* (the evidence shows it did not happen).
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from forensics.loaders.registry import EVIDENCE

__all__ = ["AFFECTS", "ABSENT", "evidence_gaps", "not_established"]

#: Conclusions each evidence kind is needed for (phase names, ``attacker_ips``, count names).
AFFECTS: dict[str, tuple[str, ...]] = {k: kind.affects for k, kind in EVIDENCE.items()}

#: The sentence for an evidence kind the case does not hold at all.
ABSENT: dict[str, str] = {k: kind.absent for k, kind in EVIDENCE.items()}

#: Why a file of each kind may hold no record although it has content.
EMPTY: dict[str, str] = {k: kind.empty_reason for k, kind in EVIDENCE.items() if kind.empty_reason}


def evidence_gaps(available: Iterable[str], counts: pl.DataFrame, rejects: pl.DataFrame | None = None) -> list[dict]:
    """Gaps of a case, one dict per gap (see the module docstring), absent kinds first, then files
    by path. ``available``: the evidence kinds the case names; ``counts``: per file ``source,
    records, rejected, evidence`` (``Case.record_counts``); ``rejects``: ``source, line_no, reason`` rows
    (the commonest reasons are quoted). The server copy is a folder of files, each a record; it is
    never a file gap."""
    have = set(available)
    out = [{"evidence": k, "path": None, "reason": ABSENT[k], "affects": list(AFFECTS[k])}
           for k in AFFECTS if k not in have]
    if counts is None or counts.height == 0:
        return out
    unusable = counts.filter((pl.col("records") == 0) & (pl.col("evidence") != "server_files")).sort("source")
    for r in unusable.iter_rows(named=True):
        kind = r["evidence"]
        whole = _whole_file_reason(rejects, r["source"])
        if whole is not None:  # the file was rejected as a whole (no known format, cannot be opened)
            reason = whole
        elif r["rejected"]:
            top = ""
            if rejects is not None and rejects.height:
                common = (rejects.filter(pl.col("source") == r["source"]).group_by("reason").len()
                          .sort(["len", "reason"], descending=[True, False]).head(2))
                if common.height:
                    top = "; commonest: " + "; ".join(f"{c['reason']} ({c['len']})" for c in common.iter_rows(named=True))
            reason = f"every one of its {r['rejected']} lines was rejected{top}"
        else:
            reason = EMPTY.get(kind, "it holds no record")
        out.append({"evidence": kind, "path": r["source"], "reason": reason, "affects": list(AFFECTS.get(kind, ()))})
    # a kind whose every file is unusable is as good as absent for the conclusions
    usable = set(counts.filter(pl.col("records") > 0)["evidence"].to_list())
    for g in out:
        g["kind_unusable"] = g["path"] is None or g["evidence"] not in usable
    return out


def _whole_file_reason(rejects: pl.DataFrame | None, source: str) -> str | None:
    """The reason of a reject that stands for a whole file (``line_no`` null), if the file has one."""
    if rejects is None or not rejects.height or "line_no" not in rejects.columns:
        return None
    whole = rejects.filter((pl.col("source") == source) & pl.col("line_no").is_null())
    return whole["reason"][0] if whole.height else None


def not_established(conclusion: str, gaps: list[dict]) -> str | None:
    """Why ``conclusion`` could not be reached, as one sentence: when every evidence kind it needs
    (:data:`AFFECTS`) is absent or has no usable file, the gaps of those kinds; None when some kind
    it needs was usable (then not reaching it is a finding)."""
    needs = {k for k, conclusions in AFFECTS.items() if conclusion in conclusions}
    hits = [g for g in gaps if g["evidence"] in needs and g.get("kind_unusable", True)]
    if not needs or {g["evidence"] for g in hits} != needs:
        return None
    return "not established: " + "; ".join(g["reason"] if g["path"] is None else f"{g['path']}: {g['reason']}"
                                           for g in hits)
