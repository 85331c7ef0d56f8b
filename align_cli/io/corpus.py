"""Corpus reading: files (or stdin) to a stream of :class:`SentencePair`.

Lines are split on ``\\n`` only (a trailing ``\\r`` is dropped), never with
``str.splitlines``: U+0085, U+2028 and form feeds occur inside real corpus lines and must
not shift the line numbering. Words are whitespace-separated tokens (``str.split()``), as
in fast_align, eflomal and awesome-align; inside a line those characters are whitespace
like any other, so they separate words. Everything is a generator, so memory does not
grow with the corpus.

Every odd input has one deliberate behaviour (docs/robustness.md lists them with their
tests): a blank or whitespace-only line is an empty pair (it gets an empty output line, so
line N of the output still belongs to line N of the input); a UTF-8 byte-order mark is
dropped at the start of a file only; undecodable bytes stop the run with the file and line
unless ``encoding_errors="replace"``; two files of different lengths stop the run at the
first line one of them lacks, after every pair before it.
"""

from __future__ import annotations

import gzip
import sys
import zlib
from collections.abc import Callable, Iterator
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


def display_name(path: str | Path) -> str:
    """How messages name a file: ``-`` is standard input."""
    return "<stdin>" if str(path) == "-" else str(path)


def read_lines(
    path: str | Path,
    *,
    encoding_errors: str = "strict",
    start: int = 0,
    stop: int | None = None,
) -> Iterator[tuple[int, str]]:
    """Yield ``(line_no, text)`` with 1-based line numbers, without the line end.

    A UTF-8 byte-order mark at the start of the file is dropped. Undecodable bytes raise a
    :class:`CorpusError` naming the line, unless ``encoding_errors`` is ``"replace"``.
    Only lines ``start + 1`` to ``stop`` (all when ``stop`` is None) are yielded; the lines
    before ``start`` are skipped without being decoded, so that a resumed run or a shard
    never fails on a line that is not its own.
    """
    name = display_name(path)
    if stop is not None and stop <= start:
        return
    with open_binary(path) as handle:
        line_no = 0
        try:
            for raw in handle:
                line_no += 1
                if line_no <= start:
                    continue
                if line_no == 1 and raw.startswith(UTF8_BOM):
                    raw = raw[len(UTF8_BOM) :]
                    if not raw:
                        return  # a file of nothing but a BOM is an empty file
                if raw.endswith(b"\n"):
                    raw = raw[:-1]
                if raw.endswith(b"\r"):
                    raw = raw[:-1]
                try:
                    text = raw.decode("utf-8", errors=encoding_errors)
                except UnicodeDecodeError as error:
                    raise CorpusError(
                        f"invalid UTF-8 at byte {error.start}; fix the file or pass "
                        "--encoding-errors replace",
                        path=name,
                        line=line_no,
                    ) from None
                yield line_no, text
                # Stop here rather than at the next read: a shard must not touch (and fail
                # on) a corrupt region of the file that belongs to the next shard.
                if stop is not None and line_no >= stop:
                    return
        except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as error:
            raise CorpusError(
                f"cannot read (corrupt or truncated file?): {error}", path=name, line=line_no + 1
            ) from None


def count_lines(path: str | Path) -> int:
    """The number of lines :func:`read_lines` yields for ``path``, without decoding them.

    A last line without a final newline counts; an empty file has no lines.
    """
    name = display_name(path)
    if name == "<stdin>":
        raise CorpusError("stdin cannot be counted ahead of reading; give a file")
    count = 0
    head = b""
    last_byte = b""
    with open_binary(path) as handle:
        try:
            while chunk := handle.read(1 << 20):
                count += chunk.count(b"\n")
                last_byte = chunk[-1:]
                if len(head) <= len(UTF8_BOM):
                    head = (head + chunk)[: len(UTF8_BOM) + 1]
        except (OSError, EOFError, gzip.BadGzipFile) as error:
            raise CorpusError(
                f"cannot read (corrupt or truncated file?): {error}", path=name
            ) from None
    if head == UTF8_BOM:
        return 0  # a file of nothing but a BOM is empty (read_lines yields no line)
    if last_byte and last_byte != b"\n":
        count += 1
    return count


def count_pairs(inputs: tuple[str, ...] | list[str]) -> int:
    """How many pairs :func:`read_corpus` yields, counted without decoding a line.

    Two files of different lengths are an error here already, naming the shorter one.
    """
    counts = [count_lines(path) for path in inputs]
    if len(counts) == 2 and counts[0] != counts[1]:
        shorter, longer = (0, 1) if counts[0] < counts[1] else (1, 0)
        raise CorpusError(
            f"has {counts[shorter]} lines but {inputs[longer]} has {counts[longer]}; the "
            "two files must have the same number of lines",
            path=str(inputs[shorter]),
        )
    return counts[0]


BadLineHandler = Callable[[int, str], None]


def split_joined_line(text: str, *, path: str, line_no: int) -> tuple[list[str], list[str]]:
    """Split one ``source ||| target`` line into word lists.

    A blank line (nothing but whitespace) is an empty pair; any other line needs exactly
    one ``|||``.
    """
    parts = text.split(SEPARATOR)
    if len(parts) != 2:
        if len(parts) == 1 and not text.strip():
            return [], []
        found = "no" if len(parts) == 1 else str(len(parts) - 1)
        raise CorpusError(
            f"expected one '{SEPARATOR}' between source and target, found {found}; "
            "give 'source ||| target' lines or two files (SRC TGT), or pass "
            "--on-bad-line skip",
            path=path,
            line=line_no,
        )
    return parts[0].split(), parts[1].split()


def read_joined(
    path: str | Path,
    *,
    encoding_errors: str = "strict",
    start: int = 0,
    stop: int | None = None,
    on_bad_line: BadLineHandler | None = None,
) -> Iterator[SentencePair]:
    """Read a ``source ||| target`` file (``-`` for stdin), pairs ``start`` to ``stop - 1``.

    A line without exactly one ``|||`` is a :class:`CorpusError`, unless ``on_bad_line``
    is given: it is then called with the line number and the reason, and the line becomes
    an empty pair, so that the output keeps one line per input line.
    """
    name = display_name(path)
    lines = read_lines(path, encoding_errors=encoding_errors, start=start, stop=stop)
    for index, (line_no, text) in enumerate(lines, start=start):
        try:
            src, tgt = split_joined_line(text, path=name, line_no=line_no)
        except CorpusError as error:
            if on_bad_line is None:
                raise
            on_bad_line(line_no, str(error))
            src, tgt = [], []
        yield SentencePair(index, tuple(src), tuple(tgt), line_no)


def read_parallel(
    src_path: str | Path,
    tgt_path: str | Path,
    *,
    encoding_errors: str = "strict",
    start: int = 0,
    stop: int | None = None,
) -> Iterator[SentencePair]:
    """Read two line-aligned files; a length mismatch is an error naming the shorter file.

    The error comes when the shorter file ends, after every pair before that line.
    """
    options = {"encoding_errors": encoding_errors, "start": start, "stop": stop}
    src_lines = read_lines(src_path, **options)  # type: ignore[arg-type]
    tgt_lines = read_lines(tgt_path, **options)  # type: ignore[arg-type]
    index = start
    while True:
        src = next(src_lines, None)
        tgt = next(tgt_lines, None)
        if src is None and tgt is None:
            return
        if src is None or tgt is None:
            shorter, longer = (src_path, tgt_path) if src is None else (tgt_path, src_path)
            raise CorpusError(
                f"the file ends here, but {display_name(longer)} has a line {index + 1}; the two "
                "files must have the same number of lines (the pairs before this line "
                "were aligned and written)",
                path=display_name(shorter),
                line=index + 1,
            )
        yield SentencePair(index, tuple(src[1].split()), tuple(tgt[1].split()), src[0])
        index += 1


def read_corpus(
    inputs: tuple[str, ...] | list[str],
    *,
    encoding_errors: str = "strict",
    start: int = 0,
    stop: int | None = None,
    on_bad_line: BadLineHandler | None = None,
) -> Iterator[SentencePair]:
    """One file (or ``-``) of ``src ||| tgt`` lines, or two line-aligned files.

    ``start`` and ``stop`` select pairs ``start`` to ``stop - 1`` (0-based) without
    decoding the lines before them; ``on_bad_line`` is as in :func:`read_joined`.
    """
    if len(inputs) == 1:
        return read_joined(
            inputs[0],
            encoding_errors=encoding_errors,
            start=start,
            stop=stop,
            on_bad_line=on_bad_line,
        )
    if len(inputs) == 2:
        return read_parallel(
            inputs[0], inputs[1], encoding_errors=encoding_errors, start=start, stop=stop
        )
    raise CorpusError("give one 'source ||| target' file (or -) or two files SRC TGT")


def pairs_from_texts(
    sources: list[str] | list[list[str]], targets: list[str] | list[list[str]]
) -> Iterator[SentencePair]:
    """Pairs from in-memory sentences (strings are split on whitespace; lists are words)."""
    for side, sentences in (("sources", sources), ("targets", targets)):
        if isinstance(sentences, str):
            # A lone string would be iterated character by character: one "sentence" per letter.
            raise CorpusError(
                f"{side} must be a list of sentences, not one string: wrap it as [{sentences!r}]"
            )
    if len(sources) != len(targets):
        raise CorpusError(f"{len(sources)} source sentences but {len(targets)} target sentences")
    for index, (src, tgt) in enumerate(zip(sources, targets, strict=True)):
        src_words = src.split() if isinstance(src, str) else list(src)
        tgt_words = tgt.split() if isinstance(tgt, str) else list(tgt)
        yield SentencePair(index, tuple(src_words), tuple(tgt_words), index + 1)
