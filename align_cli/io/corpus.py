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
import json
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from align_cli.errors import CorpusError
from align_cli.io.sources import is_seekable, open_binary
from align_cli.io.tokenize import DEFAULT_SCHEME, get_tokenizer
from align_cli.types import SentencePair, Span

__all__ = [
    "SEPARATOR",
    "UTF8_BOM",
    "count_lines",
    "count_pairs",
    "display_name",
    "is_seekable",
    "open_binary",
    "pairs_from_texts",
    "parse_request",
    "raw_lines",
    "read_corpus",
    "read_joined",
    "read_lines",
    "read_parallel",
    "read_requests",
    "split_joined_line",
    "split_words",
]

SEPARATOR = "|||"
UTF8_BOM = b"\xef\xbb\xbf"


def display_name(path: str | Path) -> str:
    """How messages name a file: ``-`` is standard input."""
    return "<stdin>" if str(path) == "-" else str(path)


_READ_ERRORS = (OSError, EOFError, gzip.BadGzipFile, zlib.error)


def raw_lines(
    path: str | Path, source: Iterable[bytes] | None = None
) -> Iterator[tuple[int, bytes]]:
    """Yield ``(line_no, bytes)`` of every line, 1-based, line end included, undecoded.

    ``source`` gives the lines instead of opening ``path`` (a live feed, which answers each
    line as it comes: :mod:`align_cli.io.live`); ``path`` then only names it.
    """
    name = display_name(path)
    line_no = 0
    if source is not None:
        try:
            for raw in source:
                line_no += 1
                yield line_no, raw
        except OSError as error:
            raise CorpusError(f"cannot read: {error}", path=name, line=line_no + 1) from None
        return
    with open_binary(path) as handle:
        try:
            for raw in handle:
                line_no += 1
                yield line_no, raw
        except _READ_ERRORS as error:
            raise CorpusError(
                f"cannot read (corrupt or truncated file?): {error}", path=name, line=line_no + 1
            ) from None


LineTap = Callable[[int, bytes], None]


def read_lines(
    path: str | Path,
    *,
    encoding_errors: str = "strict",
    start: int = 0,
    stop: int | None = None,
    tap: LineTap | None = None,
    option_hints: bool = True,
    source: Iterable[bytes] | None = None,
) -> Iterator[tuple[int, str]]:
    """Yield ``(line_no, text)`` with 1-based line numbers, without the line end.

    A UTF-8 byte-order mark at the start of the file is dropped. Undecodable bytes raise a
    :class:`CorpusError` naming the line, unless ``encoding_errors`` is ``"replace"``; the
    message suggests ``--encoding-errors`` when ``option_hints`` (the commands that have
    the option). Only lines ``start + 1`` to ``stop`` (all when ``stop`` is None) are
    yielded; the lines before ``start`` are skipped without being decoded, so that a
    resumed run or a shard never fails on a line that is not its own. ``tap`` is given
    every line read, skipped ones included, as ``(line_no, raw bytes)``.
    """
    name = display_name(path)
    if stop is not None and stop <= start and tap is None:
        return
    advice = (
        "fix the file or pass --encoding-errors replace"
        if option_hints
        else ("fix the file (xalign reads UTF-8)")
    )
    for line_no, raw in raw_lines(path, source):
        if stop is not None and line_no > max(start, stop):
            return  # only a tap reads this far: up to the lines it skips
        if tap is not None:
            tap(line_no, raw)
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
                f"invalid UTF-8 at byte {error.start}; {advice}", path=name, line=line_no
            ) from None
        yield line_no, text
        # Stop here rather than at the next read: a shard must not touch (and fail on) a
        # corrupt region of the file that belongs to the next shard.
        if stop is not None and line_no >= stop:
            return


def count_lines(path: str | Path) -> int:
    """The number of lines :func:`read_lines` yields for ``path``, without decoding them.

    A last line without a final newline counts; an empty file has no lines.
    """
    name = display_name(path)
    if name == "<stdin>":
        raise CorpusError("stdin cannot be counted ahead of reading; give a file")
    if not is_seekable(path):
        raise CorpusError(
            "is a pipe or device, which can be read only once, so it cannot be counted "
            "ahead of reading; give a regular file",
            path=name,
        )
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
        except _READ_ERRORS as error:
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
# Called with (input index, line number, raw bytes) for every line of a corpus read.
CorpusTap = Callable[[int, int, bytes], None]
_EXTRACT_ADVICE = (
    "give 'source ||| target' lines or two files (SRC TGT), or pass --on-bad-line skip"
)
_FILE_ADVICE = "give one 'source ||| target' pair per line"


def split_joined_line(
    text: str, *, path: str, line_no: int, option_hints: bool = True
) -> tuple[list[str], list[str]]:
    """Split one ``source ||| target`` line into word lists.

    A blank line (nothing but whitespace) is an empty pair; any other line needs exactly
    one ``|||``. The message suggests ``xalign extract``'s ways out when ``option_hints``.
    """
    parts = text.split(SEPARATOR)
    if len(parts) != 2:
        if len(parts) == 1 and not text.strip():
            return [], []
        found = "no" if len(parts) == 1 else str(len(parts) - 1)
        advice = _EXTRACT_ADVICE if option_hints else _FILE_ADVICE
        raise CorpusError(
            f"expected one '{SEPARATOR}' between source and target, found {found}; {advice}",
            path=path,
            line=line_no,
        )
    return parts[0].split(), parts[1].split()


Words = tuple[tuple[str, ...], tuple[Span, ...] | None]


def split_words(text: str, scheme: str = DEFAULT_SCHEME) -> Words:
    """The words of ``text`` under the ``--tokenize`` scheme, and their offsets.

    ``whitespace`` (the default) is ``str.split()`` and records no offsets, so that its
    pairs (and output) are exactly those of earlier versions; any other scheme gives each
    word's ``[start, end)`` code-point offsets in ``text``.
    """
    if scheme == DEFAULT_SCHEME:
        return tuple(text.split()), None
    tokens = get_tokenizer(scheme)(text)
    return tuple(t.text for t in tokens), tuple((t.start, t.end) for t in tokens)


def _split_side(side: str, scheme: str) -> Words:
    """A side of a ``source ||| target`` line: offsets count from its first non-space
    character (the side as a user would send it, without the blanks around ``|||``)."""
    if scheme == DEFAULT_SCHEME:
        return tuple(side.split()), None
    return split_words(side.strip(), scheme)


def _tap_of(tap: CorpusTap | None, index: int) -> LineTap | None:
    if tap is None:
        return None
    return lambda line_no, raw: tap(index, line_no, raw)


def read_joined(
    path: str | Path,
    *,
    encoding_errors: str = "strict",
    start: int = 0,
    stop: int | None = None,
    on_bad_line: BadLineHandler | None = None,
    tap: CorpusTap | None = None,
    option_hints: bool = True,
    tokenize: str = DEFAULT_SCHEME,
    source: Iterable[bytes] | None = None,
) -> Iterator[SentencePair]:
    """Read a ``source ||| target`` file (``-`` for stdin), pairs ``start`` to ``stop - 1``.

    A line without exactly one ``|||`` is a :class:`CorpusError`, unless ``on_bad_line``
    is given: it is then called with the line number and the reason, and the line becomes
    an empty pair, so that the output keeps one line per input line.
    """
    name = display_name(path)
    get_tokenizer(tokenize)  # an unknown scheme is refused before anything is read
    lines = read_lines(
        path,
        encoding_errors=encoding_errors,
        start=start,
        stop=stop,
        tap=_tap_of(tap, 0),
        option_hints=option_hints,
        source=source,
    )
    for index, (line_no, text) in enumerate(lines, start=start):
        try:
            src, tgt = split_joined_line(
                text, path=name, line_no=line_no, option_hints=option_hints
            )
        except CorpusError as error:
            if on_bad_line is None:
                raise
            on_bad_line(line_no, str(error))
            src, tgt = [], []
        if tokenize == DEFAULT_SCHEME or not (src or tgt):
            offsets = (None, None) if tokenize == DEFAULT_SCHEME else ((), ())
            yield SentencePair(index, tuple(src), tuple(tgt), line_no, *offsets)
            continue
        src_side, tgt_side = text.split(SEPARATOR)
        src_words, src_offsets = _split_side(src_side, tokenize)
        tgt_words, tgt_offsets = _split_side(tgt_side, tokenize)
        yield SentencePair(index, src_words, tgt_words, line_no, src_offsets, tgt_offsets)


_REQUEST_ADVICE = 'give one {"id": ..., "src": "...", "tgt": "..."} object per line'


def _request_side(record: dict, key: str, tokenize: str) -> Words:
    value = record.get(key)
    if isinstance(value, str):
        return split_words(value, tokenize)
    if isinstance(value, list) and all(isinstance(word, str) for word in value):
        return tuple(value), None  # pre-tokenised words: no offsets to give
    raise ValueError(f"'{key}' must be a string or a list of words")


def parse_request(text: str, tokenize: str = DEFAULT_SCHEME) -> tuple[object, Words, Words]:
    """``(id, source words, target words)`` of one JSONL request; ``ValueError`` says why
    a line is not one (the id, when it could be read, is in ``error.args[1]``)."""
    try:
        record = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"invalid JSON: {error.msg}") from None
    if not isinstance(record, dict):
        raise ValueError("expected a JSON object")
    key = record.get("id")
    if isinstance(key, (dict, list)):
        raise ValueError("'id' must be a string, a number or null")
    unknown = sorted(set(record) - {"id", "src", "tgt"})
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r} (a request has id, src and tgt)", key)
    try:
        return key, _request_side(record, "src", tokenize), _request_side(record, "tgt", tokenize)
    except ValueError as error:
        raise ValueError(str(error), key) from None


def read_requests(
    path: str | Path,
    *,
    encoding_errors: str = "strict",
    start: int = 0,
    stop: int | None = None,
    on_bad_line: BadLineHandler | None = None,
    tap: CorpusTap | None = None,
    option_hints: bool = True,
    tokenize: str = DEFAULT_SCHEME,
    source: Iterable[bytes] | None = None,
) -> Iterator[SentencePair]:
    """Read JSONL requests, ``{"id": ..., "src": ..., "tgt": ...}`` per line (``src`` and
    ``tgt`` are raw text, split with ``tokenize``, or lists of words); the ``id`` (any
    JSON string or number, optional) is the pair's ``key`` and comes back in the output.
    A blank line is an empty pair; a bad line is a :class:`CorpusError`, or an empty pair
    reported to ``on_bad_line``, as in :func:`read_joined`.
    """
    name = display_name(path)
    get_tokenizer(tokenize)
    lines = read_lines(
        path,
        encoding_errors=encoding_errors,
        start=start,
        stop=stop,
        tap=_tap_of(tap, 0),
        option_hints=option_hints,
        source=source,
    )
    empty: Words = ((), None if tokenize == DEFAULT_SCHEME else ())
    for index, (line_no, text) in enumerate(lines, start=start):
        if not text.strip():
            yield SentencePair(index, (), (), line_no, empty[1], empty[1])
            continue
        try:
            key, src, tgt = parse_request(text, tokenize)
        except ValueError as error:
            reason = f"{error.args[0]}; {_REQUEST_ADVICE}"
            if on_bad_line is None:
                raise CorpusError(reason, path=name, line=line_no) from None
            on_bad_line(line_no, reason)
            key = error.args[1] if len(error.args) > 1 else None
            src = tgt = empty
        yield SentencePair(index, src[0], tgt[0], line_no, src[1], tgt[1], key)


def read_parallel(
    src_path: str | Path,
    tgt_path: str | Path,
    *,
    encoding_errors: str = "strict",
    start: int = 0,
    stop: int | None = None,
    tap: CorpusTap | None = None,
    option_hints: bool = True,
    tokenize: str = DEFAULT_SCHEME,
) -> Iterator[SentencePair]:
    """Read two line-aligned files; a length mismatch is an error naming the shorter file.

    The error comes when the shorter file ends, after every pair before that line.
    """
    options = {
        "encoding_errors": encoding_errors,
        "start": start,
        "stop": stop,
        "option_hints": option_hints,
    }
    get_tokenizer(tokenize)
    src_lines = read_lines(src_path, tap=_tap_of(tap, 0), **options)  # type: ignore[arg-type]
    tgt_lines = read_lines(tgt_path, tap=_tap_of(tap, 1), **options)  # type: ignore[arg-type]
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
        src_words, src_offsets = split_words(src[1], tokenize)
        tgt_words, tgt_offsets = split_words(tgt[1], tokenize)
        yield SentencePair(index, src_words, tgt_words, src[0], src_offsets, tgt_offsets)
        index += 1


def read_corpus(
    inputs: tuple[str, ...] | list[str],
    *,
    encoding_errors: str = "strict",
    start: int = 0,
    stop: int | None = None,
    on_bad_line: BadLineHandler | None = None,
    tap: CorpusTap | None = None,
    option_hints: bool = True,
    tokenize: str = DEFAULT_SCHEME,
    source: Iterable[bytes] | None = None,
    requests: bool = False,
) -> Iterator[SentencePair]:
    """One file (or ``-``) of ``src ||| tgt`` lines, or two line-aligned files.

    ``start`` and ``stop`` select pairs ``start`` to ``stop - 1`` (0-based) without
    decoding the lines before them; ``on_bad_line`` is as in :func:`read_joined`. ``tap``
    sees every raw line read, as ``(input index, line number, bytes)``. ``option_hints``
    lets messages suggest ``xalign extract``'s options (``--encoding-errors``,
    ``--on-bad-line``); commands without them pass False. ``tokenize`` is the word
    splitter (:func:`split_words`). ``source`` gives the lines of a single input (a live
    feed); ``requests`` reads a single input as JSONL requests (:func:`read_requests`).
    """
    common = {
        "encoding_errors": encoding_errors,
        "start": start,
        "stop": stop,
        "tap": tap,
        "option_hints": option_hints,
        "tokenize": tokenize,
    }
    if len(inputs) == 1:
        read_one = read_requests if requests else read_joined
        return read_one(inputs[0], on_bad_line=on_bad_line, source=source, **common)  # type: ignore[arg-type]
    if requests:
        raise CorpusError("--input-format jsonl reads one file (or -) of requests")
    if len(inputs) == 2:
        return read_parallel(inputs[0], inputs[1], **common)  # type: ignore[arg-type]
    raise CorpusError("give one 'source ||| target' file (or -) or two files SRC TGT")


def pairs_from_texts(
    sources: list[str] | list[list[str]],
    targets: list[str] | list[list[str]],
    *,
    tokenize: str = DEFAULT_SCHEME,
) -> Iterator[SentencePair]:
    """Pairs from in-memory sentences (strings are split with ``tokenize``, offsets
    included for schemes other than whitespace; lists are words, without offsets)."""
    get_tokenizer(tokenize)
    for side, sentences in (("sources", sources), ("targets", targets)):
        if isinstance(sentences, str):
            # A lone string would be iterated character by character: one "sentence" per letter.
            raise CorpusError(
                f"{side} must be a list of sentences, not one string: wrap it as [{sentences!r}]"
            )
    if len(sources) != len(targets):
        raise CorpusError(f"{len(sources)} source sentences but {len(targets)} target sentences")
    for index, (src, tgt) in enumerate(zip(sources, targets, strict=True)):
        src_words, src_offsets = (
            split_words(src, tokenize) if isinstance(src, str) else (tuple(src), None)
        )
        tgt_words, tgt_offsets = (
            split_words(tgt, tokenize) if isinstance(tgt, str) else (tuple(tgt), None)
        )
        yield SentencePair(index, src_words, tgt_words, index + 1, src_offsets, tgt_offsets)
