"""The investigation report: self-contained ``report.html`` (ja + en) and 和暦 dates.

Public API: :func:`render_report`, :func:`write_report`, :func:`to_wareki`.
"""

from forensics.report.html import render_report, write_report
from forensics.report.wareki import to_wareki, wareki_datetime

__all__ = ["render_report", "write_report", "to_wareki", "wareki_datetime"]
