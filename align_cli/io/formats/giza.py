"""GIZA++ ``*.A3.final``: per sentence a ``#`` header line, the target sentence, then
``NULL ({ }) w ({ j k })`` for the source words (``.gz`` is read as is).

1-based positions; the ``NULL`` line's words are the source. The format carries the words
of each sentence, and its writer needs them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence

from align_cli.errors import CorpusError
from align_cli.io.corpus import display_name, read_lines
from align_cli.io.formats.base import AlignedSentence, Format, Record, as_sentence
from align_cli.types import Link

_GIZA_HEADER = re.compile(r"#\s*Sentence pair \((\d+)\) source length (\d+) target length (\d+)")


def read_giza_a3(path: str) -> Iterator[AlignedSentence]:
    """Read a GIZA++ ``*.A3.final`` file (gzipped when the name ends in ``.gz``).

    Each sentence is three lines: the ``#`` header, the target sentence, then the source
    words, each followed by ``({ ... })`` with the 1-based positions of the target words
    it generated (``NULL`` first). Link ``(i, j)`` joins source word ``i`` (the ``NULL``
    line, NULL not counted) and target word ``j`` (the second line). In Moses' naming,
    ``en-fr.A3.final`` has French on the NULL line, so its links are French first.
    """
    name = display_name(path)
    lines = read_lines(path, option_hints=False)
    index = 0
    for header_no, header in lines:
        if not header.strip() and index > 0:
            continue  # tolerate blank lines between records, as some scripts write them
        target_line = next(lines, None)
        source_line = next(lines, None)
        if target_line is None or source_line is None:
            raise CorpusError(
                "incomplete GIZA A3 record: expected a header line, the target sentence "
                "and the NULL ({ }) line",
                path=name,
                line=header_no,
            )
        yield _parse_giza_record(index, (header_no, header), target_line, source_line, name)
        index += 1


def _parse_giza_record(
    index: int,
    header: tuple[int, str],
    target_line: tuple[int, str],
    source_line: tuple[int, str],
    path: str,
) -> AlignedSentence:
    header_no, header_text = header
    if not header_text.startswith("#"):
        raise CorpusError(
            f"expected a GIZA A3 header line starting with '#', got {header_text[:40]!r}",
            path=path,
            line=header_no,
        )
    tgt_words = tuple(target_line[1].split())
    line_no, text = source_line
    src_words, targets_of = _parse_giza_source_line(text, path, line_no)
    links: set[Link] = set()
    for i, positions in enumerate(targets_of[1:]):
        for position in positions:
            if not 1 <= position <= len(tgt_words):
                raise CorpusError(
                    f"target position {position} of source word {i + 1} "
                    f"({src_words[i]!r}) is outside the {len(tgt_words)}-word target sentence",
                    path=path,
                    line=line_no,
                )
            links.add((i, position - 1))
    declared = _GIZA_HEADER.match(header_text)
    if declared is not None:
        src_len, tgt_len = int(declared.group(2)), int(declared.group(3))
        if (src_len, tgt_len) != (len(src_words), len(tgt_words)):
            raise CorpusError(
                f"header says source length {src_len} and target length {tgt_len}, but the "
                f"record has {len(src_words)} source and {len(tgt_words)} target words",
                path=path,
                line=header_no,
            )
    return AlignedSentence(
        index, header_no, frozenset(links), src_words=src_words, tgt_words=tgt_words
    )


def _parse_giza_source_line(
    text: str, path: str, line_no: int
) -> tuple[tuple[str, ...], list[list[int]]]:
    """Split ``NULL ({ 3 }) w1 ({ 1 2 }) ...`` into the words and their target positions."""
    tokens = text.split()
    words: list[str] = []
    targets_of: list[list[int]] = []
    at = 0
    while at < len(tokens):
        word = tokens[at]
        if at + 1 >= len(tokens) or tokens[at + 1] != "({":
            raise CorpusError(
                f"expected '({{' after word {word!r} in the GIZA A3 alignment line",
                path=path,
                line=line_no,
            )
        at += 2
        positions: list[int] = []
        while at < len(tokens) and tokens[at] != "})":
            try:
                positions.append(int(tokens[at]))
            except ValueError:
                raise CorpusError(
                    f"expected a target position or '}})' after {word!r}, got {tokens[at]!r}",
                    path=path,
                    line=line_no,
                ) from None
            at += 1
        if at >= len(tokens):
            raise CorpusError(f"missing '}})' after word {word!r}", path=path, line=line_no)
        at += 1
        words.append(word)
        targets_of.append(positions)
    if not words or words[0] != "NULL":
        raise CorpusError(
            "the GIZA A3 alignment line must start with 'NULL ({ ... })'", path=path, line=line_no
        )
    return tuple(words[1:]), targets_of


def format_giza_a3(record: Record, sentence_no: int | None = None) -> str:
    """Three GIZA++ A3 lines (no final newline) for one sentence or xalign alignment.

    The source words go on the ``NULL`` line and the target sentence on the second line,
    so GIZA's "source" is xalign's source; target words without a link are listed under
    ``NULL``, as GIZA does. ``sentence_no`` is the 1-based number in the header (by
    default the sentence's index + 1). xalign has no sentence probability, so the header's
    alignment score is written as 0. GIZA itself links each target word to one source
    word; xalign may list a target word under several source words, which this module's
    reader keeps but Moses' ``giza2bal.pl`` does not. Possible links are written as links
    (GIZA has no possible links).
    """
    sentence = as_sentence(record)
    if sentence.src_words is None or sentence.tgt_words is None:
        raise ValueError("the GIZA A3 format needs the words of each sentence")
    number = sentence.index + 1 if sentence_no is None else sentence_no
    return _format_giza_record(number, sentence.src_words, sentence.tgt_words, sentence.links)


def _format_giza_record(
    sentence_no: int, src_words: Sequence[str], tgt_words: Sequence[str], links: Iterable[Link]
) -> str:
    targets_of: list[list[int]] = [[] for _ in range(len(src_words) + 1)]
    linked_targets: set[int] = set()
    for i, j in sorted(links):
        targets_of[i + 1].append(j + 1)
        linked_targets.add(j)
    targets_of[0] = [j + 1 for j in range(len(tgt_words)) if j not in linked_targets]
    header = (
        f"# Sentence pair ({sentence_no}) source length {len(src_words)} "
        f"target length {len(tgt_words)} alignment score : 0"
    )
    words = ("NULL", *src_words)
    cells = [
        f"{word} ({{ {''.join(f'{p} ' for p in positions)}}})"
        for word, positions in zip(words, targets_of, strict=True)
    ]
    return "\n".join((header, " ".join(tgt_words), " ".join(cells)))


def _claims_name(base: str) -> bool:
    return ".A3." in base or base.endswith(".A3")


def _claims_line(text: str) -> bool:
    return text.startswith("#")


GIZA = Format(
    "giza",
    "GIZA A3",
    reader=read_giza_a3,
    writer=format_giza_a3,
    needs_words=True,
    carries_words=True,
    lines_per_record=3,
    claims_name=_claims_name,
    claims_line=_claims_line,
)
