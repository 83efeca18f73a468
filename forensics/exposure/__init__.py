"""Exposure: what the attacker saw and which cards may have leaked (the counting rules).

- :mod:`~forensics.exposure.windows`: ``Interval`` / ``IntervalSet`` (closed, tz-aware; ``|``, ``&``,
  ``-``, ``in``, ``contains_expr``) and ``exposure_windows`` (admin_access, backdoor, skimmer with
  the evidence that opens and closes each).
- :mod:`~forensics.exposure.sql`: MySQL tokenizer, MySQL -> DuckDB rewrite of SELECTs, parser of the
  logged INSERT / UPDATE / DELETE.
- :mod:`~forensics.exposure.asof`: ``AsOfTables`` (exports as they stood at a statement) and
  ``SafeReplayer`` (DuckDB, SELECT only, no file access, configuration locked).
- :mod:`~forensics.exposure.viewed`: ``viewed_records`` (query-log connections attributed to attacker
  requests by session id, else by time; ambiguous overlaps flagged; SELECTs replayed; persons and
  data items) and ``viewed_upper_bound`` (no query log).
- :mod:`~forensics.exposure.cards`: card payment methods, card entries, confirmed and possible cards.
- :mod:`~forensics.exposure.counts`: the ``counts`` object, the masked affected-person list, the
  evidence behind each count.
- :mod:`~forensics.exposure.whatif`: counts for other window edges / attacker IPs from precomputed
  per-event tables.
"""
