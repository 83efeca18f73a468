"""Detectors: pure functions over evidence frames (``forensics.schemas``), frames out, no I/O.

Modules (one question each; rule tables are module-level data with ids and comments):

- :mod:`~forensics.detectors.sqli`: ``detect_sqli``, ``sqli_by_ip``, ``sqli_query_reach``, ``sqli_reach_summary``
- :mod:`~forensics.detectors.sqli_eval`: ``evaluate``, ``measured_table`` (the detector measured on the
  corpus of the source tree's ``tests/data``: the one module here that reads files)
- :mod:`~forensics.detectors.admin`: ``admin_logins``, ``admin_sessions``, ``baseline_admin_ips``,
  ``new_ip_admin_logins``, ``attacker_admin_requests``, ``admin_requests``, ``infer_csv_mode``
- :mod:`~forensics.detectors.attackers`: ``attacker_ips``, ``first_attack``
- :mod:`~forensics.detectors.backdoor`: ``uploads``, ``created_scripts``, ``backdoors``, ``backdoor_requests``
- :mod:`~forensics.detectors.tampering`: ``changed_code_files``, ``tampered_files``
- :mod:`~forensics.detectors.skim`: ``skim_candidates``, ``skim_records``
- :mod:`~forensics.detectors.payment`: ``card_entries``, ``failure_rate``, ``failure_change_point``
- :mod:`~forensics.detectors.phases`: ``incident_phases``, ``phases_frame``, ``observed_block``
- :mod:`~forensics.detectors.suite`: ``detect_all(case) -> Detections`` runs them all on a Case
  (the one place that reads candidate file bytes through the Case).
"""

from __future__ import annotations

__all__ = ["detect_all", "Detections"]


def __getattr__(name: str):
    if name in ("detect_all", "Detections"):
        from forensics.detectors import suite

        return getattr(suite, name)
    raise AttributeError(name)
