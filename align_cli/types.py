"""Data types shared by the pipeline stages.

Indices are 0-based everywhere inside xalign; a *link* ``(i, j)`` joins source word ``i``
and target word ``j`` (source first, as in the Pharaoh format).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

Link = tuple[int, int]
Span = tuple[int, int]  # [start, end) code-point offsets of a word in its text


@dataclass(frozen=True)
class SentencePair:
    """One line of a parallel corpus, already split into words (on whitespace by default).

    ``src_offsets`` / ``tgt_offsets`` are each word's ``[start, end)`` code-point offsets
    into its side's original text, when the words came from a ``--tokenize`` scheme that
    records them (``None`` otherwise, and for pre-tokenised input).
    """

    index: int  # 0-based position of the pair in the corpus
    src_words: tuple[str, ...]
    tgt_words: tuple[str, ...]
    line_no: int = 0  # 1-based line in the input file(s), for error messages
    src_offsets: tuple[Span, ...] | None = None
    tgt_offsets: tuple[Span, ...] | None = None
    key: object = None  # a request's own id (JSONL input), echoed in the output


@dataclass
class AlignmentResult:
    """The alignment of one sentence pair.

    ``links`` are sorted; ``scores[k]`` is the probability (or similarity) of ``links[k]``.
    ``matrix`` is the word-level score matrix, shape ``[len(src_words), len(tgt_words)]``
    (rows are source words), when it was asked for. ``skipped`` says why a pair was not
    aligned (for example too long for the model); its links are then empty.
    """

    pair: SentencePair
    links: list[Link] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    matrix: np.ndarray | None = None
    skipped: str | None = None
