"""NAACL / WPT 2003/2005: lines ``sentence_no pos_src pos_tgt [S|P] [confidence]``,
grouped by the sentence number.

Always 1-based; position 0 is a NULL link and is dropped. A sentence without links has no
line at all, so a file may end before the corpus does (the ``implicit_tail`` trait).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from align_cli.errors import CorpusError
from align_cli.io.corpus import display_name, read_lines
from align_cli.io.formats.base import AlignedSentence, Format, format_score, parse_score
from align_cli.types import Link

_NAACL_MARKS = {"S": True, "P": False}


def read_naacl(path: str) -> Iterator[AlignedSentence]:
    """Read a NAACL/WPT file: ``sentence_no pos_src pos_tgt [S|P] [confidence]``.

    Sentence numbers are 1-based positions in the corpus and must not decrease, so that the
    file can be read as a stream; a sentence with no links has no line and is yielded
    empty. Sentences after the last numbered one cannot be seen: callers that know the
    corpus length pad with :func:`pad_sentences`. Position 0 is the NULL word (WPT's
    convention for "aligned to nothing") and is dropped. A link without a mark is sure.
    """
    name = display_name(path)
    current: _SentenceBuilder | None = None
    next_index = 0
    for line_no, text in read_lines(path, option_hints=False):
        fields = text.split()
        if not fields:
            continue
        sentence_no, link, is_sure, confidence = _parse_naacl_fields(fields, name, line_no)
        index = sentence_no - 1
        if current is not None and index != current.index:
            if index < current.index:
                raise CorpusError(
                    f"sentence number {sentence_no} after {current.index + 1}: a NAACL file "
                    "must be sorted by sentence number",
                    path=name,
                    line=line_no,
                )
            yield current.build()
            next_index = current.index + 1
            current = None
        if current is None:
            while next_index < index:
                yield AlignedSentence(next_index, line_no)
                next_index += 1
            current = _SentenceBuilder(index, line_no)
        if link is not None:
            current.add(link, is_sure, confidence)
    if current is not None:
        yield current.build()


def _parse_naacl_fields(
    fields: list[str], path: str, line_no: int
) -> tuple[int, Link | None, bool, float | None]:
    if not 3 <= len(fields) <= 5:
        raise CorpusError(
            f"expected 'sentence_no pos_src pos_tgt [S|P] [confidence]', got {len(fields)} fields",
            path=path,
            line=line_no,
        )
    try:
        sentence_no, pos_src, pos_tgt = (int(value) for value in fields[:3])
    except ValueError:
        raise CorpusError(
            f"sentence number and positions must be integers: {' '.join(fields[:3])!r}",
            path=path,
            line=line_no,
        ) from None
    if sentence_no < 1:
        raise CorpusError(f"sentence number {sentence_no} < 1", path=path, line=line_no)
    if pos_src < 0 or pos_tgt < 0:
        raise CorpusError(f"negative index in link {pos_src} {pos_tgt}", path=path, line=line_no)
    rest = fields[3:]
    is_sure = True
    if rest and rest[0].upper() in _NAACL_MARKS:
        is_sure = _NAACL_MARKS[rest.pop(0).upper()]
    confidence = None
    if rest:
        if len(rest) > 1:
            raise CorpusError(f"unexpected fields {' '.join(rest)!r}", path=path, line=line_no)
        confidence = parse_score(rest[0], " ".join(fields), path, line_no)
    link = None if pos_src == 0 or pos_tgt == 0 else (pos_src - 1, pos_tgt - 1)
    return sentence_no, link, is_sure, confidence


class _SentenceBuilder:
    def __init__(self, index: int, line_no: int):
        self.index = index
        self.line_no = line_no
        self.sure: set[Link] = set()
        self.possible: set[Link] = set()
        self.scores: dict[Link, float] = {}

    def add(self, link: Link, is_sure: bool, score: float | None) -> None:
        (self.sure if is_sure else self.possible).add(link)
        if score is not None:
            self.scores[link] = score

    def build(self) -> AlignedSentence:
        return AlignedSentence(
            self.index,
            self.line_no,
            frozenset(self.sure),
            frozenset(self.possible - self.sure),
            self.scores,
        )


def format_naacl(
    sentence_no: int,
    sure: Iterable[Link],
    possible: Iterable[Link] = (),
    scores: Mapping[Link, float] | None = None,
) -> str:
    """NAACL lines for one sentence (1-based ``sentence_no``), one per link, no final newline.

    Every line carries its ``S``/``P`` mark; the confidence column is written for the links
    ``scores`` has. A sentence without links gives the empty string (NAACL has no line for
    it).
    """
    sure_set = set(sure)
    marked = [(link, "S") for link in sure_set]
    marked += [(link, "P") for link in set(possible) - sure_set]
    lines = []
    for (i, j), mark in sorted(marked):
        line = f"{sentence_no} {i + 1} {j + 1} {mark}"
        if scores and (i, j) in scores:
            line += f" {format_score(scores[(i, j)])}"
        lines.append(line)
    return "\n".join(lines)


def write_naacl(sentence: AlignedSentence) -> str | None:
    """The NAACL lines of a sentence, numbered by its index; ``None`` when it has no links."""
    return (
        format_naacl(sentence.index + 1, sentence.sure, sentence.possible, sentence.scores) or None
    )


def pad_sentences(sentences: Iterable[AlignedSentence], count: int) -> Iterator[AlignedSentence]:
    """Yield ``sentences`` and then empty ones up to ``count`` (for NAACL's missing tail)."""
    next_index = 0
    line_no = 0
    for sentence in sentences:
        yield sentence
        next_index = sentence.index + 1
        line_no = sentence.line_no
    for index in range(next_index, count):
        yield AlignedSentence(index, line_no)


def _claims_name(base: str) -> bool:
    return base.endswith((".naacl", ".wa"))


def _claims_line(text: str) -> bool:
    fields = text.split()  # bare integers first: "3 4 5 S"
    return 3 <= len(fields) <= 5 and all(value.isdigit() for value in fields[:3])


NAACL = Format(
    "naacl",
    "NAACL",
    reader=read_naacl,
    writer=write_naacl,
    implicit_tail=True,
    lines_per_record=None,  # one per link, none for a sentence without links
    claims_name=_claims_name,
    claims_line=_claims_line,
)
