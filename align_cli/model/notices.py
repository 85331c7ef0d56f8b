"""One-line notices on stderr from the model stage (a cached model used offline, a kernel
that fell back to torch): each distinct line is printed once per process.

The model stage runs under the CLI, under Ray actors and under library callers, so it
writes to ``sys.stderr`` itself rather than through the CLI; every line starts with
``xalign: warning:`` like the CLI's own warnings.
"""

from __future__ import annotations

import sys

_printed: set[str] = set()


def warn_once(text: str) -> None:
    """Print ``xalign: warning: TEXT`` on stderr, unless this process already did."""
    line = f"xalign: warning: {' '.join(text.split())}"
    if line in _printed:
        return
    _printed.add(line)
    stream = sys.stderr
    if stream is None:  # stderr closed: nowhere to say it
        return
    try:
        stream.write(line + "\n")
        stream.flush()
    except (OSError, ValueError):
        pass
