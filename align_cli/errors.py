"""The one exception type users see.

Every failure a user can cause (bad input, a missing model, a wrong option) is raised as
an :class:`XalignError` whose message is one line that says what is wrong, where (file and
line when there is one) and what to do. The CLI prints that line and exits with code 2;
library callers catch it like any other exception.
"""

from __future__ import annotations


class XalignError(Exception):
    """A user-facing error with a one-line message."""

    exit_code = 2

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None):
        self.path = path
        self.line = line
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(where + message)


class CorpusError(XalignError):
    """A problem with an input file (corpus, alignment or gold file)."""


class ModelError(XalignError):
    """A model or tokenizer cannot be loaded or used for alignment."""
