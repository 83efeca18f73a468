"""Forensic investigation toolkit for web-shop breaches (EC-CUBE 2.x shops).

Public API, re-exported here: ``open_case`` (read a case.yml and reach every evidence table).
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["open_case", "__version__"]


def __getattr__(name: str):
    # Lazy so that `forensics sample` and the CLI start fast and never import the analysis stack.
    if name == "open_case":
        from forensics.case import open_case

        return open_case
    raise AttributeError(name)
