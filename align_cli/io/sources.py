"""Where input bytes come from: files, ``*.gz``, standard input and pipes, each read once.

Standard input, pipes and process substitution (``<(cat corpus)``) can be read only once.
Detecting a file's format reads its first lines, so :func:`open_binary` with ``peek=True``
keeps what it read from such a stream and gives it back, followed by the rest, to the next
:func:`open_binary` of the same path: the stream is still read exactly once. What must
read a file twice (counting lines for ``--shard``) asks :func:`is_seekable` first and
refuses a stream by name. :func:`check_input` refuses a missing, unreadable or folder
input by ``stat`` alone, so that a named pipe is never opened just to check it (that would
consume its writer).
"""

from __future__ import annotations

import gzip
import io
import os
import stat
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from align_cli.errors import CorpusError

STDIO = "-"


class _Recording(io.RawIOBase):
    """Reads from ``inner`` and keeps every byte it took, to be given again."""

    def __init__(self, inner: BinaryIO):
        self.inner = inner
        self.taken = bytearray()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        data = _read_some(self.inner, len(buffer))
        buffer[: len(data)] = data
        self.taken += data
        return len(data)


class _Replay(io.RawIOBase):
    """What a peek took from a stream (``head``), then the rest of the stream."""

    def __init__(self, head: bytes, inner: BinaryIO, owned: bool):
        self.head = memoryview(bytes(head))
        self.inner = inner
        self.owned = owned  # closed with this one (not so standard input)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        if self.head:
            size = min(len(buffer), len(self.head))
            buffer[:size] = self.head[:size]
            self.head = self.head[size:]
            return size
        data = _read_some(self.inner, len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if self.owned and not self.inner.closed:
            self.inner.close()
        super().close()


def _read_some(handle: BinaryIO, size: int) -> bytes:
    read1 = getattr(handle, "read1", None)
    return read1(size) if read1 is not None else handle.read(size)


# Streams that cannot be read twice (standard input, pipes, process substitution), whose
# beginning a peek (format detection) has read: the next open gets it back, then the rest.
_PEEKED: dict[tuple, tuple[_Replay, object]] = {}


def _stream_key(path: str) -> tuple | None:
    """How a stream that cannot be read twice is known again; None for a regular file."""
    if path == "-":
        return ("stdin",)
    try:
        status = os.stat(path)
    except (OSError, ValueError):
        return None
    if stat.S_ISREG(status.st_mode) or stat.S_ISDIR(status.st_mode):
        return None
    return ("stream", status.st_dev, status.st_ino)


def is_seekable(path: str | Path) -> bool:
    """Whether ``path`` can be read more than once: a regular file, not ``-`` or a pipe."""
    return _stream_key(str(path)) is None


def _stdin() -> BinaryIO:
    if stdin_is_closed():
        raise CorpusError("standard input is closed; give a file name instead of -", path="<stdin>")
    return sys.stdin.buffer


def _open_raw(path: str, key: tuple | None) -> BinaryIO:
    """The bytes of ``path``: a replay of what a peek took first, if there is one."""
    if key is not None:
        peeked = _PEEKED.pop(key, None)
        # Standard input is known by identity: a stale peek of an earlier one is dropped.
        if peeked is not None and (key != ("stdin",) or peeked[1] is sys.stdin):
            return io.BufferedReader(peeked[0])  # type: ignore[return-value]
    if path == "-":
        return _stdin()
    try:
        return open(path, "rb")  # noqa: SIM115 - closed by open_binary
    except OSError as error:
        raise CorpusError(f"cannot open: {error.strerror}", path=path) from None


@contextmanager
def open_binary(path: str | Path, *, peek: bool = False) -> Iterator[BinaryIO]:
    """Open ``path`` for reading bytes; ``-`` is stdin and ``*.gz`` is decompressed.

    With ``peek``, a stream that cannot be read twice (stdin, a pipe) keeps what is read
    from it: the next ``open_binary`` of the same path reads it again, then the rest, so
    that looking at the beginning of a file (format detection) never loses it.
    """
    name = str(path)
    key = _stream_key(name)
    raw = _open_raw(name, key)
    recording = None
    if peek and key is not None:
        recording = _Recording(raw)
        handle: BinaryIO = io.BufferedReader(recording)  # type: ignore[assignment]
    else:
        handle = raw
    stdin_owner = sys.stdin
    try:
        if name.endswith(".gz"):
            handle = gzip.GzipFile(fileobj=handle)  # type: ignore[assignment]
        yield handle
    finally:
        if recording is not None:
            replay = _Replay(recording.taken, raw, owned=name != "-")
            _PEEKED[key] = (replay, stdin_owner)  # type: ignore[index]
        elif raw is not getattr(sys.stdin, "buffer", None):
            raw.close()


def stdin_is_closed() -> bool:
    return sys.stdin is None or getattr(sys.stdin, "closed", False)


def check_input(path: str, option: str | None = None) -> None:
    """Refuse an input that cannot be read, by ``stat`` alone (a pipe is not opened).

    The message has the form the readers use (``PATH: cannot open: ...``), so a missing
    file reads the same whether it is found here or when it is opened.
    """
    if path == STDIO:
        if stdin_is_closed():
            raise CorpusError(
                "standard input is closed; give a file name instead of -", path="<stdin>"
            )
        return
    where = f" ({option})" if option else ""
    try:
        status = os.stat(path)
    except OSError as error:
        raise CorpusError(f"cannot open{where}: {error.strerror}", path=path) from None
    except ValueError:
        raise CorpusError(f"cannot open{where}: not a valid file name", path=path) from None
    if stat.S_ISDIR(status.st_mode):
        raise CorpusError(f"cannot open{where}: it is a folder, not a file", path=path)
    if not os.access(path, os.R_OK):
        raise CorpusError(f"cannot open{where}: Permission denied", path=path)


def check_inputs(named: list[tuple[str, str | None]]) -> None:
    """:func:`check_input` for every ``(option, path)`` given, and a stream that can be read
    only once (``-``, a pipe) given for two inputs is refused naming both."""
    seen: dict[tuple, str] = {}
    for option, path in named:
        if path is None:
            continue
        check_input(path, option)
        key = _stream_key(path)
        if key is None:
            continue
        if key in seen:
            what = "standard input" if path == "-" else f"the pipe {path}"
            raise CorpusError(
                f"{seen[key]} and {option} are both {what}, which can be read only once; give "
                "a file for one of them"
            )
        seen[key] = option


def refuse_streams(paths: Iterable[str], why: str) -> None:
    """Refuse standard input or a pipe where an option must read its input twice; ``why``
    says which option and what it does (``--shard 1/2 counts the lines first``)."""
    for path in paths:
        if not is_seekable(path):
            what = (
                "stdin cannot be counted ahead of reading"
                if path == "-"
                else f"{path} is a pipe, which can be read only once"
            )
            raise CorpusError(f"{why}, but {what}; give a file")
