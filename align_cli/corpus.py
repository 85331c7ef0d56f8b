"""Corpus reading: files (or stdin) to a stream of :class:`SentencePair`.

Lines are split on ``\\n`` only (a trailing ``\\r`` is dropped), never with
``str.splitlines``: U+0085, U+2028 and form feeds occur inside real corpus lines and must
not shift the line numbering. Words are whitespace-separated tokens (``str.split()``), as
in fast_align, eflomal and awesome-align. Everything is a generator, so memory does not
grow with the corpus.
"""

from __future__ import annotations

import gzip
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from align_cli.errors import CorpusError
from align_cli.types import SentencePair

SEPARATOR = "|||"
UTF8_BOM = b"\xef\xbb\xbf"


@contextmanager
def open_binary(path: str | Path) -> Iterator[BinaryIO]:
    """Open ``path`` for reading bytes; ``-`` is stdin and ``*.gz`` is decompressed."""
    if str(path) == "-":
        yield sys.stdin.buffer
        return
    try:
        handle: BinaryIO = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as error:
        raise CorpusError(f"cannot open: {error.strerror}", path=str(path)) from None
    try:
        if str(path).endswith(".gz"):
            handle = gzip.GzipFile(fileobj=handle)  # type: ignore[assignment]
        yield handle
    finally:
        handle.close()


def read_lines(path: str | Path, *, encoding_errors: str = "strict") -> Iterator[tuple[int, str]]:
    """Yield ``(line_no, text)`` with 1-based line numbers, without the line end.

    A UTF-8 byte-order mark at the start of the file is dropped. Undecodable bytes raise a
    :class:`CorpusError` naming the line, unless ``encoding_errors`` is ``"replace"``.
    """
    name = "<stdin>" if str(path) == "-" else str(path)
    with open_binary(path) as handle:
        line_no = 0
        try:
            for raw in handle:
                line_no += 1
                if line_no == 1 and raw.startswith(UTF8_BOM):
                    raw = raw[len(UTF8_BOM) :]
                if raw.endswith(b"\n"):
                    raw = raw[:-1]
                if raw.endswith(b"\r"):
                    raw = raw[:-1]
                try:
                    yield line_no, raw.decode("utf-8", errors=encoding_errors)
                except UnicodeDecodeError as error:
                    raise CorpusError(
                        f"invalid UTF-8 at byte {error.start}; fix the file or pass "
                        "--encoding-errors replace",
                        path=name,
                        line=line_no,
                    ) from None
        except (OSError, EOFError, gzip.BadGzipFile) as error:
            raise CorpusError(
                f"cannot read (corrupt or truncated file?): {error}", path=name, line=line_no + 1
            ) from None


def split_joined_line(text: str, *, path: str, line_no: int) -> tuple[list[str], list[str]]:
    """Split one ``source ||| target`` line into word lists."""
    parts = text.split(SEPARATOR)
    if len(parts) != 2:
        found = "no" if len(parts) == 1 else str(len(parts) - 1)
        raise CorpusError(
            f"expected one '{SEPARATOR}' between source and target, found {found}; "
            "give 'source ||| target' lines or two files (SRC TGT)",
            path=path,
            line=line_no,
        )
    return parts[0].split(), parts[1].split()


def read_joined(path: str | Path, *, encoding_errors: str = "strict") -> Iterator[SentencePair]:
    """Read a ``source ||| target`` file (``-`` for stdin)."""
    name = "<stdin>" if str(path) == "-" else str(path)
    for index, (line_no, text) in enumerate(read_lines(path, encoding_errors=encoding_errors)):
        src, tgt = split_joined_line(text, path=name, line_no=line_no)
        yield SentencePair(index, tuple(src), tuple(tgt), line_no)


def read_parallel(
    src_path: str | Path, tgt_path: str | Path, *, encoding_errors: str = "strict"
) -> Iterator[SentencePair]:
    """Read two line-aligned files; a length mismatch is an error naming the shorter file."""
    src_lines = read_lines(src_path, encoding_errors=encoding_errors)
    tgt_lines = read_lines(tgt_path, encoding_errors=encoding_errors)
    index = 0
    while True:
        src = next(src_lines, None)
        tgt = next(tgt_lines, None)
        if src is None and tgt is None:
            return
        if src is None or tgt is None:
            shorter, longer = (src_path, tgt_path) if src is None else (tgt_path, src_path)
            raise CorpusError(
                f"ended after {index} lines but {longer} has more; the two files must have "
                "the same number of lines (the pairs already written are valid)",
                path=str(shorter),
                line=index + 1,
            )
        yield SentencePair(index, tuple(src[1].split()), tuple(tgt[1].split()), src[0])
        index += 1


def read_corpus(
    inputs: tuple[str, ...] | list[str], *, encoding_errors: str = "strict"
) -> Iterator[SentencePair]:
    """One file (or ``-``) of ``src ||| tgt`` lines, or two line-aligned files."""
    if len(inputs) == 1:
        return read_joined(inputs[0], encoding_errors=encoding_errors)
    if len(inputs) == 2:
        return read_parallel(inputs[0], inputs[1], encoding_errors=encoding_errors)
    raise CorpusError("give one 'source ||| target' file (or -) or two files SRC TGT")


def pairs_from_texts(
    sources: list[str] | list[list[str]], targets: list[str] | list[list[str]]
) -> Iterator[SentencePair]:
    """Pairs from in-memory sentences (strings are split on whitespace; lists are words)."""
    if len(sources) != len(targets):
        raise CorpusError(f"{len(sources)} source sentences but {len(targets)} target sentences")
    for index, (src, tgt) in enumerate(zip(sources, targets, strict=True)):
        src_words = src.split() if isinstance(src, str) else list(src)
        tgt_words = tgt.split() if isinstance(tgt, str) else list(tgt)
        yield SentencePair(index, tuple(src_words), tuple(tgt_words), index + 1)
