"""Exposure windows as first-class values (the counting rules).

An :class:`Interval` is a closed interval ``[start, end]`` of tz-aware instants; an
:class:`IntervalSet` is a normalised (sorted, merged) union of them. Both support union (``|``),
intersection (``&``), difference (``-``), membership (``in``) and ``contains_expr(col)``, a polars
expression that is true where a timestamp column lies inside.

>>> utc = dt.timezone.utc
>>> backdoor = Interval(dt.datetime(2017, 3, 31, 14, 31, tzinfo=utc), dt.datetime(2017, 4, 10, 4, tzinfo=utc))
>>> dt.datetime(2017, 4, 9, tzinfo=utc) in backdoor, backdoor.duration
(True, datetime.timedelta(days=9, seconds=48540))

A :class:`Window` is a named interval with the evidence that opens and closes it
(:func:`exposure_windows` builds the admin-access, backdoor and skimmer windows from the phases).

Closed-interval arithmetic has a subtlety at the edges: ``[a, c] - [b, c]`` leaves ``[a, b)``,
which a closed type cannot hold; we keep ``[a, b]`` minus the instant ``b`` by shrinking the end
by one microsecond (the resolution of every timestamp column, ``Datetime("us", "UTC")``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl

__all__ = [
    "Interval",
    "IntervalSet",
    "Window",
    "WINDOW_RULES",
    "exposure_windows",
]

_TICK = dt.timedelta(microseconds=1)


def _aware(t: dt.datetime, what: str) -> dt.datetime:
    if not isinstance(t, dt.datetime):
        raise TypeError(f"{what} must be a datetime, got {type(t).__name__}")
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{what} must be tz-aware (got naive {t.isoformat()})")
    return t.astimezone(dt.timezone.utc)


@dataclass(frozen=True, order=True)
class Interval:
    """Closed interval ``[start, end]`` of tz-aware instants (stored in UTC); ``start <= end``."""

    start: dt.datetime
    end: dt.datetime

    def __post_init__(self) -> None:
        s = _aware(self.start, "start")
        e = _aware(self.end, "end")
        if e < s:
            raise ValueError(f"interval end {e.isoformat()} before start {s.isoformat()}")
        object.__setattr__(self, "start", s)
        object.__setattr__(self, "end", e)

    # -- predicates ---------------------------------------------------------------------------
    def __contains__(self, t: object) -> bool:
        if isinstance(t, Interval):
            return self.start <= t.start and t.end <= self.end
        if isinstance(t, dt.datetime):
            return self.start <= _aware(t, "instant") <= self.end
        return False

    def overlaps(self, other: Interval) -> bool:
        return self.start <= other.end and other.start <= self.end

    @property
    def duration(self) -> dt.timedelta:
        return self.end - self.start

    # -- algebra (results are IntervalSets: closed under every operation) --------------------
    def __or__(self, other: Interval | IntervalSet) -> IntervalSet:
        return IntervalSet([self]) | other

    def __and__(self, other: Interval | IntervalSet) -> IntervalSet:
        return IntervalSet([self]) & other

    def __sub__(self, other: Interval | IntervalSet) -> IntervalSet:
        return IntervalSet([self]) - other

    def contains_expr(self, col: str | pl.Expr) -> pl.Expr:
        """Polars expression: ``col`` (a UTC Datetime column) lies in ``[start, end]``."""
        c = pl.col(col) if isinstance(col, str) else col
        return c.is_between(pl.lit(self.start, dtype=pl.Datetime("us", "UTC")),
                            pl.lit(self.end, dtype=pl.Datetime("us", "UTC")), closed="both")

    def to_iso(self, tz: str | dt.tzinfo | None = None) -> list[str]:
        """``[start, end]`` as ISO 8601 strings in ``tz`` (an IANA name; UTC when None)."""
        z = _zone(tz)
        return [self.start.astimezone(z).isoformat(), self.end.astimezone(z).isoformat()]

    def __repr__(self) -> str:
        return f"Interval[{self.start.isoformat()}, {self.end.isoformat()}]"


def _zone(tz: str | dt.tzinfo | None) -> dt.tzinfo:
    if tz is None:
        return dt.timezone.utc
    if isinstance(tz, str):
        from zoneinfo import ZoneInfo

        return ZoneInfo(tz)
    return tz


class IntervalSet:
    """A finite union of closed intervals, kept sorted and merged (touching intervals merge)."""

    __slots__ = ("intervals",)

    def __init__(self, intervals: Iterable[Interval] = ()) -> None:
        items = sorted(intervals)
        merged: list[Interval] = []
        for iv in items:
            if merged and iv.start <= merged[-1].end + _TICK:
                last = merged[-1]
                if iv.end > last.end:
                    merged[-1] = Interval(last.start, iv.end)
            else:
                merged.append(iv)
        self.intervals: tuple[Interval, ...] = tuple(merged)

    @staticmethod
    def _coerce(other: Interval | IntervalSet) -> IntervalSet:
        return other if isinstance(other, IntervalSet) else IntervalSet([other])

    def __or__(self, other: Interval | IntervalSet) -> IntervalSet:
        return IntervalSet([*self.intervals, *self._coerce(other).intervals])

    def __and__(self, other: Interval | IntervalSet) -> IntervalSet:
        out = []
        for a in self.intervals:
            for b in self._coerce(other).intervals:
                s, e = max(a.start, b.start), min(a.end, b.end)
                if s <= e:
                    out.append(Interval(s, e))
        return IntervalSet(out)

    def __sub__(self, other: Interval | IntervalSet) -> IntervalSet:
        pieces = list(self.intervals)
        for b in self._coerce(other).intervals:
            nxt = []
            for a in pieces:
                if not a.overlaps(b):
                    nxt.append(a)
                    continue
                if a.start < b.start:
                    nxt.append(Interval(a.start, b.start - _TICK))
                if b.end < a.end:
                    nxt.append(Interval(b.end + _TICK, a.end))
            pieces = nxt
        return IntervalSet(pieces)

    def __contains__(self, t: object) -> bool:
        return any(t in iv for iv in self.intervals)

    def __iter__(self):
        return iter(self.intervals)

    def __len__(self) -> int:
        return len(self.intervals)

    def __bool__(self) -> bool:
        return bool(self.intervals)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Interval):
            other = IntervalSet([other])
        return isinstance(other, IntervalSet) and self.intervals == other.intervals

    def __hash__(self) -> int:
        return hash(self.intervals)

    def __repr__(self) -> str:
        return "IntervalSet(" + ", ".join(map(repr, self.intervals)) + ")"

    @property
    def duration(self) -> dt.timedelta:
        return sum((iv.duration for iv in self.intervals), dt.timedelta(0))

    def contains_expr(self, col: str | pl.Expr) -> pl.Expr:
        """Polars expression: ``col`` lies in any member interval (false for the empty set)."""
        if not self.intervals:
            c = pl.col(col) if isinstance(col, str) else col
            return c.is_null() & c.is_not_null()
        expr = self.intervals[0].contains_expr(col)
        for iv in self.intervals[1:]:
            expr = expr | iv.contains_expr(col)
        return expr


@dataclass(frozen=True)
class Window:
    """A named exposure window: ``interval`` (None when an edge is not established), the evidence
    that opens and closes it (dicts with ``what``, ``ts``, ``source``, ``line_no`` where known), and
    ``reason`` when it could not be established."""

    name: str
    interval: Interval | None
    opened_by: Mapping[str, Any] = field(default_factory=dict)
    closed_by: Mapping[str, Any] = field(default_factory=dict)
    reason: str | None = None

    @property
    def start(self) -> dt.datetime | None:
        return self.interval.start if self.interval else None

    @property
    def end(self) -> dt.datetime | None:
        return self.interval.end if self.interval else None

    def contains_expr(self, col: str | pl.Expr) -> pl.Expr:
        """False everywhere when the window is not established."""
        return (self.interval or IntervalSet()).contains_expr(col)

    def __contains__(self, t: object) -> bool:
        return self.interval is not None and t in self.interval

    def to_iso(self, tz: str | None = None) -> list[str] | None:
        return self.interval.to_iso(tz) if self.interval else None


#: The counting rules: window name -> (opening edge, closing edge). Edges are phase names, or
#: ``last_attacker_admin_request`` (the last attacker admin request, from the access/app logs).
WINDOW_RULES: dict[str, tuple[str, str]] = {
    "admin_access": ("attacker_admin_login", "last_attacker_admin_request"),
    "backdoor": ("backdoor_installed", "containment"),
    "skimmer": ("card_form_tampered", "containment"),
}


def _edge_evidence(edge: str, ts: dt.datetime | None, ev: Mapping[str, Any]) -> dict[str, Any]:
    """``edge``, ``ts`` (the edge's instant) and the evidence row (its own time as ``evidence_ts``)."""
    out = {k: v for k, v in ev.items() if k != "ts"}
    if "ts" in ev:
        out["evidence_ts"] = ev["ts"]
    return {"edge": edge, "ts": ts, **out}


def exposure_windows(
    phases: Mapping[str, dt.datetime | None],
    *,
    last_admin_request: dt.datetime | None = None,
    evidence: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Window]:
    """The three windows of the counting rules.

    Parameters
    ----------
    phases
        Phase name -> tz-aware instant or None (``attacker_admin_login``, ``backdoor_installed``,
        ``card_form_tampered``, ``containment``, ...).
    last_admin_request
        Instant of the last attacker admin request (closes ``admin_access``).
    evidence
        Edge name -> evidence dict (``what``, ``source``, ``line_no``...), copied into
        ``opened_by`` / ``closed_by``.

    Returns
    -------
    dict name -> :class:`Window`; an edge that is missing (or an end before its start) gives
    ``interval=None`` with the reason.
    """
    edges = dict(phases)
    edges["last_attacker_admin_request"] = last_admin_request
    evidence = evidence or {}
    out: dict[str, Window] = {}
    for name, (a, b) in WINDOW_RULES.items():
        s, e = edges.get(a), edges.get(b)
        ev_a = _edge_evidence(a, s, evidence.get(a, {}))
        ev_b = _edge_evidence(b, e, evidence.get(b, {}))
        missing = [k for k, v in ((a, s), (b, e)) if v is None]
        if missing:
            out[name] = Window(name, None, ev_a, ev_b,
                               reason=f"not established: {', '.join(missing)} unknown")
        elif e < s:
            out[name] = Window(name, None, ev_a, ev_b,
                               reason=f"not established: {b} ({e.isoformat()}) precedes {a} ({s.isoformat()})")
        else:
            out[name] = Window(name, Interval(s, e), ev_a, ev_b)
    return out
