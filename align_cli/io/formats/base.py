"""What every format module builds on: :class:`AlignedSentence`, the record readers yield
and writers take, and :class:`Format`, the declaration of one file format (its reader,
its writer and the traits callers consult instead of comparing format names)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from align_cli.errors import CorpusError
from align_cli.io.corpus import display_name
from align_cli.types import AlignmentResult, Link

# Digits of a score written after a link or in a probability file: enough to tell
# probabilities apart, short enough to keep files small.
SCORE_DIGITS = 6


@dataclass(frozen=True, eq=False)  # compared by identity: a matrix has no truth value
class RunInfo:
    """What an aligner run says about a pair besides its links and scores.

    Only xalign's own JSONL records it (``skipped``, and ``matrix`` / ``signature`` when
    given); a sentence read from a file has none, which is how the JSONL writer tells
    xalign's output records from sentences converted from another file.
    """

    skipped: str | None = None  # why the pair was not aligned
    matrix: np.ndarray | None = None  # [src][tgt] scores, only when asked for
    signature: str | None = None  # what produced the output
    # Each word's [start, end) offsets in its side's raw text (--tokenize other than
    # whitespace), the request's own id (JSONL input), and whether to list the words
    # without a link (--flags); JSONL writes each only when present or asked for.
    src_offsets: tuple[tuple[int, int], ...] | None = None
    tgt_offsets: tuple[tuple[int, int], ...] | None = None
    key: object = None
    flags: bool = False


@dataclass(frozen=True)
class AlignedSentence:
    """The links of one sentence as read from an alignment file, 0-based, source first.

    ``possible`` holds the links marked possible (``ipj``, ``P``) and never a sure link;
    the *P* set of AER is ``sure | possible``. ``scores`` maps links to the score the file
    gave them, when it gave any. The words are known for formats that carry them (GIZA,
    JSONL). ``run`` is set on the sentences made from an aligner's results
    (:meth:`from_result`) and is not compared.
    """

    index: int  # 0-based position in the file
    line_no: int  # 1-based line where the sentence starts, for error messages
    sure: frozenset[Link] = frozenset()
    possible: frozenset[Link] = frozenset()
    scores: Mapping[Link, float] = field(default_factory=dict)
    src_words: tuple[str, ...] | None = None
    tgt_words: tuple[str, ...] | None = None
    # Not compared: a matrix has no truth value, and the links are what a sentence is.
    run: RunInfo | None = field(default=None, compare=False, repr=False)

    @property
    def links(self) -> frozenset[Link]:
        """Every link, sure or possible."""
        return self.sure | self.possible

    @property
    def has_words(self) -> bool:
        return self.src_words is not None and self.tgt_words is not None

    def flipped(self) -> AlignedSentence:
        """The same sentence with source and target swapped."""
        run = self.run
        if run is not None and run.matrix is not None:
            run = replace(run, matrix=np.asarray(run.matrix).T)
        return AlignedSentence(
            self.index,
            self.line_no,
            frozenset((j, i) for i, j in self.sure),
            frozenset((j, i) for i, j in self.possible),
            {(j, i): score for (i, j), score in self.scores.items()},
            self.tgt_words,
            self.src_words,
            run,
        )

    @classmethod
    def from_result(
        cls,
        result: AlignmentResult,
        *,
        include_matrix: bool = False,
        signature: str | None = None,
        flags: bool = False,
    ) -> AlignedSentence:
        """An aligner's result as a sentence, so that one writer per format serves both.

        Every link is sure and ``scores[k]`` becomes the score of ``links[k]``. The
        aligners' links are sorted and distinct, which is the order every writer sorts
        them into, so the written bytes are those of the result's own lists.
        """
        pair = result.pair
        scores = dict(zip(result.links, result.scores, strict=True)) if result.scores else {}
        return cls(
            pair.index,
            pair.line_no,
            frozenset(result.links),
            scores=scores,
            src_words=tuple(pair.src_words),
            tgt_words=tuple(pair.tgt_words),
            run=RunInfo(
                result.skipped,
                result.matrix if include_matrix else None,
                signature,
                pair.src_offsets,
                pair.tgt_offsets,
                pair.key,
                flags,
            ),
        )


Record = AlignedSentence | AlignmentResult


def as_sentence(
    record: Record,
    *,
    include_matrix: bool = False,
    signature: str | None = None,
    flags: bool = False,
) -> AlignedSentence:
    """``record`` itself, or an aligner's result made into a sentence (see
    :meth:`AlignedSentence.from_result`; the keywords apply to results only)."""
    if isinstance(record, AlignedSentence):
        return record
    return AlignedSentence.from_result(
        record, include_matrix=include_matrix, signature=signature, flags=flags
    )


# A reader takes a path (and ``one_based=`` when the format takes it); a writer takes a
# sentence (and ``one_based=`` likewise) and gives its text without the final newline, or
# None when the format has no line for it.
Reader = Callable[..., Iterator[AlignedSentence]]
Writer = Callable[..., "str | None"]


@dataclass(frozen=True)
class Format:
    """One alignment file format: how to read it, how to write it, and what callers must
    know about it (the traits), so that none of them compares format names.

    Traits:

    * ``implicit_tail``: a sentence without links has no line, so a file may end before
      the corpus does (NAACL); it is padded with empty sentences.
    * ``takes_one_based``: the index base is the user's choice (Pharaoh: 0-based by
      default, 1-based for most gold sets); the other formats fix their own and refuse
      the option when reading.
    * ``needs_words``: the writer needs each sentence's words (GIZA A3).
    * ``carries_words``: the reader gives each sentence's words (GIZA A3, JSONL).
    * ``lines_per_record``: lines one sentence takes in the file; ``None`` when it varies
      (NAACL: one per link), which rules out resuming a run by counting lines.
    * ``scores_only``: the file holds the scores of a links file, not links (awesome-align's
      probability file); it is written but read only beside its links file.
    * ``takes_probs_file``: a probability file can give this format's links their scores.
    * ``claims_name`` / ``claims_line``: detection from a file name (``.gz`` already cut
      off) or from its first non-empty line, stripped; see
      :func:`align_cli.io.formats.registry.detect_format`.
    * ``read_matrices``: reads each sentence together with the score matrix its line may
      carry (``None`` where it has none), in one pass over the file.
    """

    name: str
    title: str  # for messages
    reader: Reader | None = None
    writer: Writer | None = None
    implicit_tail: bool = False
    takes_one_based: bool = False
    needs_words: bool = False
    carries_words: bool = False
    lines_per_record: int | None = 1
    scores_only: bool = False
    takes_probs_file: bool = False
    claims_name: Callable[[str], bool] | None = None
    claims_line: Callable[[str], bool] | None = None
    read_matrices: Callable[[str], Iterator[Any]] | None = None

    @property
    def readable(self) -> bool:
        return self.reader is not None

    @property
    def writable(self) -> bool:
        return self.writer is not None

    @property
    def holds_links(self) -> bool:
        return not self.scores_only

    def read(self, path: str, *, one_based: bool = False) -> Iterator[AlignedSentence]:
        """The sentences of ``path``, 0-based; ``one_based`` only where the format takes it."""
        if self.reader is None:
            raise CorpusError(
                f"{self.name} files are not read on their own", path=display_name(path)
            )
        if not self.takes_one_based:
            if one_based:
                raise CorpusError(
                    f"the one-based option applies to Pharaoh files; {self.name} files fix "
                    "their own indices",
                    path=display_name(path),
                )
            return self.reader(path)
        return self.reader(path, one_based=one_based)

    def write(self, record: Record, *, one_based: bool = False) -> str | None:
        """One sentence (or aligner result) as text without the final newline; ``None``
        means no line. ``one_based`` applies where the format takes it and is ignored
        elsewhere (the other formats fix their own indices)."""
        if self.writer is None:
            raise ValueError(f"{self.name} files cannot be written")
        sentence = as_sentence(record)
        if self.takes_one_based:
            return self.writer(sentence, one_based=one_based)
        return self.writer(sentence)


# --------------------------------------------------------------------------- scores


def parse_score(text: str, token: str, path: str, line_no: int) -> float:
    """A score as a file writes it; ``token`` is what the message quotes."""
    try:
        value = float(text)
    except ValueError:
        raise CorpusError(f"score in {token!r} is not a number", path=path, line=line_no) from None
    if math.isnan(value):
        raise CorpusError(f"score in {token!r} is not a number", path=path, line=line_no)
    return value


def format_score(score: float) -> str:
    """A score with :data:`SCORE_DIGITS` significant digits."""
    return f"{float(score):.{SCORE_DIGITS}g}"
