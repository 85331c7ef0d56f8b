"""Live input: a pipe or a terminal is answered line by line, not window by window.

A co-process (a CAT tool, a translation management system) writes a segment and waits
for its alignment before it writes the next one; reading such a stream in windows of
2,000 pairs would never answer. When ``xalign extract``'s input is a pipe or a terminal
(anything but a regular file), :class:`LineFeed` reads it with ``os.read`` on the file
descriptor, and :func:`live_windows` ends a window as soon as no further whole line is
waiting (``select`` with a zero timeout): one line alone is aligned at once, and lines
that arrive faster than they are aligned are batched, up to the window size, so that the
throughput approaches that of a file. Regular files keep their full windows.
"""

from __future__ import annotations

import os
import select
import stat
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

__all__ = ["LineFeed", "is_live", "live_windows"]

T = TypeVar("T")
_CHUNK = 1 << 16


def is_live(path: str) -> bool:
    """Whether ``path`` is read live: standard input (``-``) or a named pipe, when it is
    not a regular file (or a block device). ``.gz`` input is never live."""
    if path.endswith(".gz"):
        return False
    try:
        if path == "-":
            if sys.stdin is None or sys.stdin.closed:
                return False
            mode = os.fstat(sys.stdin.fileno()).st_mode
        else:
            mode = os.stat(path).st_mode
    except (OSError, ValueError, AttributeError):
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISBLK(mode))


class LineFeed:
    """The lines of a stream (bytes, line ends kept) as soon as each one is whole.

    :meth:`waiting` says, without blocking, whether another whole line (or the end of the
    stream) can be had right now. Nothing is read ahead of need except what one
    ``os.read`` returns.
    """

    def __init__(self, fd: int, *, owned: bool = False):
        self.fd = fd
        self.owned = owned
        self._buffer = bytearray()
        self._eof = False

    @classmethod
    def open(cls, path: str) -> LineFeed:
        if path == "-":
            # Whatever Python's own stdin buffer may hold was never filled: xalign reads
            # standard input's bytes through this feed only.
            return cls(sys.stdin.fileno())
        return cls(os.open(path, os.O_RDONLY), owned=True)

    def _read(self, block: bool) -> bool:
        """Read once; False when nothing could be read without blocking."""
        if not block:
            try:
                ready, _, _ = select.select([self.fd], [], [], 0)
            except (OSError, ValueError):
                ready = [self.fd]
            if not ready:
                return False
        chunk = os.read(self.fd, _CHUNK)
        if chunk:
            self._buffer += chunk
        else:
            self._eof = True
        return True

    def waiting(self) -> bool:
        """A whole line, or the end of the stream, can be had without blocking."""
        while b"\n" not in self._buffer and not self._eof:
            if not self._read(block=False):
                return False
        return True

    def __iter__(self) -> Iterator[bytes]:
        try:
            while True:
                end = self._buffer.find(b"\n")
                if end >= 0:
                    line = bytes(self._buffer[: end + 1])
                    del self._buffer[: end + 1]
                    yield line
                elif self._eof:
                    if self._buffer:
                        line = bytes(self._buffer)
                        self._buffer.clear()
                        yield line
                    return
                else:
                    self._read(block=True)
        finally:
            if self.owned:
                os.close(self.fd)
                self.owned = False


def live_windows(items: Iterable[T], size: int, waiting: Callable[[], bool]) -> Iterator[list[T]]:
    """Windows of at most ``size`` items, each ended as soon as ``waiting()`` says that no
    further item can be had without blocking (one item per input line)."""
    window: list[T] = []
    for item in items:
        window.append(item)
        if len(window) >= size or not waiting():
            yield window
            window = []
    if window:
        yield window
