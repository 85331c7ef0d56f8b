"""The pairs ``xalign show`` draws: :class:`PairView`, made from files or from a model run.

The pairs come either from a model run (:func:`views_from_model`: the matrix is computed
and the links extracted as ``xalign extract`` would) or from files alone
(:func:`views_from_files`: a corpus plus an alignment file; a JSONL alignment written with
``--matrix`` brings its matrices). With gold links each cell is classified
(:class:`Mark`) as the pictures of :mod:`align_cli.tools.show` mark it; ``worst`` picks
the pairs with the highest AER, ranked exactly as ``xalign eval --per-sentence`` ranks
them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from align_cli.aligners.base import Aligner
from align_cli.errors import CorpusError, XalignError
from align_cli.io.corpus import display_name, read_corpus
from align_cli.io.formats import (
    AUTO,
    AlignedSentence,
    Format,
    Stream,
    read_alignments,
    read_jsonl_matrices,  # noqa: F401 - public here too (docs/api.md)
    readable_format,
    zip_streams,
)
from align_cli.tools.evaluate import LinkCounts, count_links, evaluate
from align_cli.types import AlignmentResult, Link, SentencePair


class Mark(Enum):
    """What a cell of the grid shows (see the module docstring)."""

    CORRECT = "correct"
    CORRECT_POSSIBLE = "possible"
    SPURIOUS = "spurious"
    MISSED = "missed"
    UNPREDICTED_POSSIBLE = "unpredicted"
    PREDICTED = "predicted"


def classify_links(
    predicted: frozenset[Link] | set[Link],
    sure: frozenset[Link] | set[Link] | None,
    possible: frozenset[Link] | set[Link] = frozenset(),
) -> dict[Link, Mark]:
    """The mark of every cell that has one.

    ``sure`` is ``None`` when there is no gold: every prediction is then just
    :attr:`Mark.PREDICTED`. ``possible`` may or may not repeat the sure links (as in
    :func:`align_cli.tools.evaluate.count_links`); a link both sure and possible is sure.
    """
    if sure is None:
        return {link: Mark.PREDICTED for link in predicted}
    sure_set = set(sure)
    possible_only = set(possible) - sure_set
    marks: dict[Link, Mark] = {}
    for link in possible_only:
        marks[link] = Mark.CORRECT_POSSIBLE if link in predicted else Mark.UNPREDICTED_POSSIBLE
    for link in sure_set:
        marks[link] = Mark.CORRECT if link in predicted else Mark.MISSED
    for link in predicted:
        marks.setdefault(link, Mark.SPURIOUS)
    return marks


@dataclass(frozen=True)
class PairView:
    """One sentence pair as the pictures draw it.

    ``matrix`` is the ``[n_src, n_tgt]`` score matrix, or ``None`` when only links are
    known (the cells are then not shaded). ``sure``/``possible`` are the gold links
    (``None`` without gold; ``possible`` holds the possible-only links). ``index`` is the
    0-based sentence index; pictures call it "line index + 1", as ``xalign eval
    --per-sentence`` numbers its sentences.
    """

    index: int
    src_words: tuple[str, ...]
    tgt_words: tuple[str, ...]
    predicted: frozenset[Link]
    matrix: np.ndarray | None = None
    sure: frozenset[Link] | None = None
    possible: frozenset[Link] = field(default_factory=frozenset)
    value_name: str = "attention"

    def __post_init__(self) -> None:
        n_src, n_tgt = len(self.src_words), len(self.tgt_words)
        where = f"line {self.index + 1}"
        if self.matrix is not None and self.matrix.shape != (n_src, n_tgt):
            raise CorpusError(
                f"{where}: the score matrix is {self.matrix.shape[0]}x{self.matrix.shape[1]} "
                f"but the pair has {n_src} source and {n_tgt} target words"
            )
        for name, links in (
            ("predicted", self.predicted),
            ("gold", (self.sure or frozenset()) | self.possible),
        ):
            for i, j in sorted(links):
                if i >= n_src or j >= n_tgt:
                    raise CorpusError(
                        f"{where}: {name} link {i}-{j} (0-based) is outside the pair of "
                        f"{n_src} source and {n_tgt} target words; is a file 1-based?"
                    )

    def marks(self) -> dict[Link, Mark]:
        return classify_links(self.predicted, self.sure, self.possible)

    def unaligned(self) -> tuple[frozenset[int], frozenset[int]]:
        """The source and target words no predicted link uses (possible omissions and
        additions), as ``--flags`` lists them in JSONL."""
        src = frozenset(range(len(self.src_words))) - {i for i, _ in self.predicted}
        tgt = frozenset(range(len(self.tgt_words))) - {j for _, j in self.predicted}
        return src, tgt

    def counts(self) -> LinkCounts | None:
        """AER counts of this pair against its gold (``None`` without gold)."""
        if self.sure is None:
            return None
        return count_links(self.sure, self.possible, self.predicted)

    def summary(self) -> str:
        """One line: the line number and, with gold, AER, precision, recall and errors."""
        head = f"line {self.index + 1}"
        counts = self.counts()
        if counts is None:
            count = len(self.predicted)
            return f"{head} · {count} link{'' if count == 1 else 's'}"
        marks = list(self.marks().values())
        return (
            f"{head} · AER {100 * counts.aer:.1f}% · P {100 * counts.precision:.1f}% · "
            f"R {100 * counts.recall:.1f}% · {marks.count(Mark.MISSED)} missed · "
            f"{marks.count(Mark.SPURIOUS)} spurious"
        )


def view_from_result(
    result: AlignmentResult, gold: AlignedSentence | None = None, *, value_name: str = "attention"
) -> PairView:
    """A :class:`PairView` of an aligner's result (with its matrix, if it has one)."""
    return PairView(
        index=result.pair.index,
        src_words=result.pair.src_words,
        tgt_words=result.pair.tgt_words,
        predicted=frozenset(result.links),
        matrix=result.matrix,
        sure=None if gold is None else gold.sure,
        possible=frozenset() if gold is None else gold.possible,
        value_name=value_name,
    )


def parse_line_numbers(spec: str) -> list[int]:
    """``3,7,10-12`` (1-based line numbers) to sorted 0-based indices without repeats."""
    indices: set[int] = set()
    try:
        for part in spec.split(","):
            part = part.strip()
            first, _, last = part.partition("-")
            start, stop = int(first), int(last or first)
            if start < 1 or stop < start:
                raise ValueError
            indices.update(range(start - 1, stop))
    except ValueError:
        raise XalignError(
            f"cannot read --lines {spec!r}; give 1-based line numbers like 3,7 or 10-12"
        ) from None
    return sorted(indices)


def _past_the_end(wanted: list[int], count: int, name: str) -> XalignError:
    missing = [index + 1 for index in wanted if index >= count]
    return CorpusError(f"line {missing[0]} asked for, but the file has {count} pair(s)", path=name)


# --------------------------------------------------------------------------- from files


def views_from_files(
    wanted: list[int],
    *,
    corpus: str | None,
    alignment: str,
    alignment_format: str | Format = AUTO,
    alignment_one_based: bool = False,
    gold: str | None = None,
    gold_format: str | Format = AUTO,
    gold_one_based: bool = False,
    tokenize: str = "whitespace",
) -> dict[int, PairView]:
    """The pairs at 0-based ``wanted`` indices, read from the files in one streaming pass.

    The words come from ``corpus`` or, failing that, from the alignment (or gold) file
    when it carries them (JSONL, GIZA). Reading stops after the last wanted pair.
    """
    fmt = readable_format(alignment_format, alignment)
    # Matrices come with their sentences, in the same pass: a pipe is read only once.
    matrices: deque = deque()
    streams = [
        Stream(
            display_name(alignment),
            _keeping_matrices(fmt, alignment, alignment_one_based, matrices),
            implicit_tail=fmt.implicit_tail,
        )
    ]
    if gold is not None:
        gold_fmt = readable_format(gold_format, gold)
        streams.append(
            Stream(
                display_name(gold),
                read_alignments(gold, gold_fmt, one_based=gold_one_based),
                implicit_tail=gold_fmt.implicit_tail,
            )
        )
    if corpus is not None:
        streams.append(
            Stream(
                display_name(corpus), read_corpus((corpus,), option_hints=False, tokenize=tokenize)
            )
        )
    remaining = set(wanted)
    views: dict[int, PairView] = {}
    count = 0
    for index, items in enumerate(zip_streams(*streams)):
        count = index + 1
        matrix = matrices.popleft() if matrices else None
        if index not in remaining:
            continue
        predicted: AlignedSentence = items[0]
        gold_sentence: AlignedSentence | None = items[1] if gold is not None else None
        words = _words(items, corpus is not None)
        if words is None:
            raise CorpusError(
                "the alignment file carries no words: give the corpus with -i FILE",
                path=display_name(alignment),
            )
        views[index] = PairView(
            index=index,
            src_words=words[0],
            tgt_words=words[1],
            predicted=predicted.links,
            matrix=matrix,
            sure=None if gold_sentence is None else gold_sentence.sure,
            possible=frozenset() if gold_sentence is None else gold_sentence.possible,
            value_name="score",
        )
        remaining.discard(index)
        if not remaining:
            break
    if remaining:
        raise _past_the_end(sorted(remaining), count, display_name(corpus or alignment))
    return views


def _keeping_matrices(
    fmt: Format, path: str, one_based: bool, matrices: deque
) -> Iterator[AlignedSentence]:
    """The sentences of ``path``; the matrix of each (when the format carries them) is
    appended to ``matrices`` as its sentence is yielded."""
    if fmt.read_matrices is None:
        yield from read_alignments(path, fmt, one_based=one_based)
        return
    if one_based:
        fmt.read(path, one_based=True)  # refuses the option, as read_alignments would
    for sentence, matrix in fmt.read_matrices(path):
        matrices.append(matrix)
        yield sentence


def _words(items: tuple, has_corpus: bool) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    if has_corpus:
        pair: SentencePair = items[-1]
        return pair.src_words, pair.tgt_words
    for sentence in items:
        if sentence.src_words is not None and sentence.tgt_words is not None:
            return sentence.src_words, sentence.tgt_words
    return None


# --------------------------------------------------------------------------- from a model


def gold_sentences(gold: str, gold_format: str | Format, one_based: bool) -> list[AlignedSentence]:
    """Every sentence of a gold file (a model run looks them up by index)."""
    return list(read_alignments(gold, gold_format, one_based=one_based))


def views_from_model(
    aligner: Aligner,
    corpus: str,
    *,
    lines: list[int] | None,
    worst: int,
    gold: list[AlignedSentence] | None,
    value_name: str = "attention",
    tokenize: str = "whitespace",
) -> list[PairView]:
    """Run ``aligner`` on the chosen pairs of ``corpus`` (all of them to find the worst)."""
    if worst:
        assert gold is not None
        pairs = list(read_corpus((corpus,), option_hints=False, tokenize=tokenize))
        if len(pairs) != len(gold):
            raise CorpusError(
                f"{len(pairs)} pairs but the gold file has {len(gold)} sentences; "
                "they must match line for line",
                path=display_name(corpus),
            )
        # Links are enough to rank; the matrices of the chosen pairs come after.
        predicted = [r.links for r in aligner.align_pairs(pairs, include_matrix=False)]
        ranking = evaluate(((g.sure, g.possible) for g in gold), predicted, worst=worst)
        chosen = [pairs[sentence.index] for sentence in ranking.worst]
    else:
        assert lines is not None
        wanted = set(lines)
        chosen, count = [], 0
        for pair in read_corpus((corpus,), option_hints=False, tokenize=tokenize):
            count = pair.index + 1
            if pair.index in wanted:
                chosen.append(pair)
                if len(chosen) == len(wanted):
                    break
        if len(chosen) < len(wanted):
            raise _past_the_end(lines, count, display_name(corpus))
    views = []
    for result in aligner.align_pairs(chosen, include_matrix=True):
        if result.skipped is not None:
            raise CorpusError(
                f"pair too long for the model ({result.skipped})",
                path=display_name(corpus),
                line=result.pair.line_no,
            )
        gold_sentence = None
        if gold is not None:
            if result.pair.index >= len(gold):
                raise _past_the_end([result.pair.index], len(gold), "the gold file")
            gold_sentence = gold[result.pair.index]
        views.append(view_from_result(result, gold_sentence, value_name=value_name))
    return views
