"""Every error the toolkit raises on purpose, under one base class.

``except ForensicsError`` catches them all; each also derives from the built-in exception it
always was (a case.yml problem is a ``ValueError``, a run that cannot complete a
``RuntimeError``), so callers that catch those keep working. Each message is one line for the
analyst.

>>> issubclass(CaseError, ForensicsError) and issubclass(CaseError, ValueError)
True
"""

from __future__ import annotations

__all__ = [
    "ForensicsError", "CaseError", "CaseWarning", "FormatError", "RewriteError", "TooLong", "ReplayError",
    "PipelineError", "RunInterrupted", "TableCacheError",
]


class ForensicsError(Exception):
    """The base of the toolkit's own errors."""


class CaseError(ForensicsError, ValueError):
    """A problem with case.yml or the case folder; ``str()`` is one line naming the key or path."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


class CaseWarning(UserWarning):
    """Something worth telling the analyst that does not stop the case (e.g. an empty glob)."""


class FormatError(ForensicsError, ValueError):
    """An access-log format definition the compiler cannot read (the message names the directive)."""


class RewriteError(ForensicsError, ValueError):
    """A statement that cannot be turned into a DuckDB SELECT (the reason is the message)."""


class TooLong(RewriteError):
    """A statement too long to tokenise (``forensics.exposure.sql.MAX_PARSED_CHARS``)."""


class ReplayError(ForensicsError, RuntimeError):
    """A SELECT that could not be replayed (the reason is the message)."""


class PipelineError(ForensicsError, RuntimeError):
    """A run that cannot complete; the message is one line for the analyst."""


class RunInterrupted(PipelineError):
    """The run was stopped by SIGTERM or SIGINT (its kernels are stopped and its cache removed)."""


class TableCacheError(ForensicsError, RuntimeError):
    """A table cache could not be completed (a unit of parsing left no record of its counts, or
    its rows do not match them): the cache is not marked complete and is never read."""
