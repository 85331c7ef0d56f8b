"""Alignment quality: AER, precision, recall and F1 against a gold standard.

The measures are those of Och & Ney (2003, section 5), **micro-averaged**: link counts are
summed over the whole corpus before dividing, as every published AER table and the
scripts behind them (lilt/alignment-scripts, awesome-align's ``tools/aer.py``) do. With
``A`` the predicted links, ``S`` the sure gold links and ``P`` the possible gold links
(``S ⊆ P``):

    precision = Σ|A∩P| / Σ|A|        recall = Σ|A∩S| / Σ|S|
    AER = 1 − (Σ|A∩S| + Σ|A∩P|) / (Σ|A| + Σ|S|)      F1 = 2·precision·recall / (precision + recall)

A ratio whose denominator is 0 (no predicted links, an empty gold set) counts as 0: an
empty prediction scores precision 0, recall 0, F1 0 and AER 1, without dividing by zero.
Links are sets, so a link listed twice counts once.
"""

from __future__ import annotations

import heapq
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace

from align_cli.errors import CorpusError
from align_cli.io.corpus import display_name, read_corpus
from align_cli.io.formats import (
    AUTO,
    AlignedSentence,
    Format,
    Stream,
    check_indices,
    read_alignments,
    readable_format,
    zip_streams,
)
from align_cli.types import Link

Words = tuple[tuple[str, ...], tuple[str, ...]]


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 0.0


@dataclass(frozen=True)
class LinkCounts:
    """The link counts AER is computed from, for one sentence or summed over a corpus."""

    predicted: int = 0  # |A|
    sure: int = 0  # |S|
    possible: int = 0  # |P|, sure links included
    correct_sure: int = 0  # |A∩S|
    correct_possible: int = 0  # |A∩P|

    def __add__(self, other: LinkCounts) -> LinkCounts:
        return LinkCounts(
            self.predicted + other.predicted,
            self.sure + other.sure,
            self.possible + other.possible,
            self.correct_sure + other.correct_sure,
            self.correct_possible + other.correct_possible,
        )

    @property
    def precision(self) -> float:
        return _ratio(self.correct_possible, self.predicted)

    @property
    def recall(self) -> float:
        return _ratio(self.correct_sure, self.sure)

    @property
    def f1(self) -> float:
        precision, recall = self.precision, self.recall
        return 2 * precision * recall / (precision + recall) if precision + recall else 0.0

    @property
    def aer(self) -> float:
        return 1.0 - _ratio(self.correct_sure + self.correct_possible, self.predicted + self.sure)

    def to_dict(self) -> dict[str, float | int]:
        return {
            "aer": self.aer,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "predicted_links": self.predicted,
            "sure_links": self.sure,
            "possible_links": self.possible,
            "correct_sure": self.correct_sure,
            "correct_possible": self.correct_possible,
        }


def count_links(
    sure: Iterable[Link], possible: Iterable[Link], predicted: Iterable[Link]
) -> LinkCounts:
    """Counts for one sentence; ``possible`` may or may not repeat the sure links."""
    sure_set = set(sure)
    possible_set = set(possible) | sure_set
    predicted_set = set(predicted)
    return LinkCounts(
        predicted=len(predicted_set),
        sure=len(sure_set),
        possible=len(possible_set),
        correct_sure=len(predicted_set & sure_set),
        correct_possible=len(predicted_set & possible_set),
    )


def adjust_gold(
    sure: Iterable[Link],
    possible: Iterable[Link],
    *,
    all_sure: bool = False,
    ignore_possible: bool = False,
) -> tuple[frozenset[Link], frozenset[Link]]:
    """The gold ``(sure, possible-only)`` sets under the usual evaluation variants.

    ``all_sure`` makes every possible link sure (as aer.py's ``--allSure``);
    ``ignore_possible`` drops the possible-only links (``--ignorePossible``). They exclude
    each other.
    """
    if all_sure and ignore_possible:
        raise ValueError("all_sure and ignore_possible exclude each other")
    sure_set, possible_set = frozenset(sure), frozenset(possible)
    if all_sure:
        return sure_set | possible_set, frozenset()
    if ignore_possible:
        return sure_set, frozenset()
    return sure_set, possible_set - sure_set


@dataclass(frozen=True)
class SentenceScore:
    """One sentence's counts and the links it got wrong, for the worst-N listing."""

    index: int  # 0-based sentence index
    counts: LinkCounts
    missed_sure: frozenset[Link]  # S \\ A
    wrong: frozenset[Link]  # A \\ P
    words: Words | None = None  # (source, target) words, when known

    def to_dict(self) -> dict[str, object]:
        result: dict[str, object] = {
            "index": self.index,
            **self.counts.to_dict(),
            "missed_sure": [list(link) for link in sorted(self.missed_sure)],
            "wrong": [list(link) for link in sorted(self.wrong)],
        }
        if self.words is not None:
            result["src_words"], result["tgt_words"] = list(self.words[0]), list(self.words[1])
        return result


def score_sentence(
    index: int,
    sure: Iterable[Link],
    possible: Iterable[Link],
    predicted: Iterable[Link],
    words: Words | None = None,
) -> SentenceScore:
    sure_set = frozenset(sure)
    possible_set = frozenset(possible) | sure_set
    predicted_set = frozenset(predicted)
    return SentenceScore(
        index,
        count_links(sure_set, possible_set, predicted_set),
        sure_set - predicted_set,
        predicted_set - possible_set,
        words,
    )


@dataclass(frozen=True)
class EvaluationResult:
    """Corpus totals, the number of sentences and the ``worst`` sentences (worst first).

    ``sentence_counts`` holds, when asked for, each sentence's |A|, |S|, |A∩S| and |A∩P|
    one after another (four int64 per sentence: 32 bytes, so a million-sentence test set
    costs 32 MB), which is all a bootstrap over sentences needs.
    """

    totals: LinkCounts
    sentences: int
    worst: tuple[SentenceScore, ...] = ()
    warnings: tuple[str, ...] = ()
    sentence_counts: array | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, object]:
        result: dict[str, object] = {"sentences": self.sentences, **self.totals.to_dict()}
        if self.worst:
            result["worst"] = [sentence.to_dict() for sentence in self.worst]
        if self.warnings:
            result["warnings"] = list(self.warnings)
        return result


def _badness(sentence: SentenceScore) -> tuple[float, int, int]:
    # Highest AER first; among equal AERs the sentence with more errors, then the earlier one.
    errors = len(sentence.missed_sure) + len(sentence.wrong)
    return (sentence.counts.aer, errors, -sentence.index)


class _Scorer:
    """Adds up one prediction's sentences: totals, the ``worst`` kept in a bounded heap
    (memory does not grow with the corpus), and each sentence's counts if asked for."""

    def __init__(self, worst: int, keep_counts: bool):
        self.worst = worst
        self.totals = LinkCounts()
        self.sentences = 0
        self.kept: list[tuple[tuple[float, int, int], SentenceScore]] = []
        self.counts = array("q") if keep_counts else None

    def add(self, sure, possible, links, words: Words | None) -> None:
        sentence = score_sentence(self.sentences, sure, possible, links, words)
        counts = sentence.counts
        self.totals += counts
        self.sentences += 1
        if self.counts is not None:
            self.counts.extend(
                (counts.predicted, counts.sure, counts.correct_sure, counts.correct_possible)
            )
        if self.worst > 0:
            entry = (_badness(sentence), sentence)
            if len(self.kept) < self.worst:
                heapq.heappush(self.kept, entry)
            elif entry[0] > self.kept[0][0]:
                heapq.heapreplace(self.kept, entry)

    def result(self) -> EvaluationResult:
        ranked = tuple(s for _, s in sorted(self.kept, key=lambda e: e[0], reverse=True))
        return EvaluationResult(self.totals, self.sentences, ranked, (), self.counts)


def evaluate(
    gold: Iterable[tuple[Iterable[Link], Iterable[Link]]],
    predicted: Iterable[Iterable[Link]],
    *,
    worst: int = 0,
    keep_counts: bool = False,
) -> EvaluationResult:
    """Score ``predicted`` link sets against ``gold`` ``(sure, possible)`` pairs.

    The two iterables are walked together and must have the same length (a
    :class:`ValueError` otherwise; :func:`evaluate_files` checks this earlier, with file
    names). Only the ``worst`` worst sentences are kept, so memory does not grow with the
    corpus; ``keep_counts`` keeps each sentence's counts for :mod:`.bootstrap`.
    """
    scorer = _Scorer(worst, keep_counts)
    for (sure, possible), links in _zip_same_length(gold, predicted):
        scorer.add(sure, possible, links, None)
    return scorer.result()


def evaluate_files(gold_path: str, pred_path: str, **options) -> EvaluationResult:
    """Evaluate one alignment file against a gold file, streaming both (the options are
    those of :func:`evaluate_predictions`)."""
    return evaluate_predictions(gold_path, [pred_path], **options)[0]


def evaluate_predictions(
    gold_path: str,
    pred_paths: Sequence[str],
    *,
    gold_format: str | Format = AUTO,
    pred_format: str | Format = AUTO,
    gold_one_based: bool = False,
    pred_one_based: bool = False,
    reverse_gold: bool = False,
    reverse_pred: bool = False,
    all_sure: bool = False,
    ignore_possible: bool = False,
    corpus_path: str | None = None,
    worst: int = 0,
    keep_counts: bool = False,
) -> tuple[EvaluationResult, ...]:
    """Evaluate one or more alignment files against a gold file, streaming all of them
    together, so that the gold (which may be a pipe) is read once.

    Pharaoh files are 0-based unless ``*_one_based`` says otherwise; ``reverse_*`` reads a
    file written target first (``pred_*`` options apply to every prediction). With
    ``corpus_path`` (``source ||| target`` lines) every index of every file is checked
    against its sentence, and the worst sentences carry their words. Mismatched sentence
    counts and out-of-range indices raise :class:`CorpusError` naming the file and line; a
    prediction file with no lines at all scores as "no links anywhere", with a warning.
    """
    if all_sure and ignore_possible:
        raise CorpusError("--all-sure and --ignore-possible exclude each other; give one")
    if not pred_paths:
        raise ValueError("evaluate_predictions needs at least one prediction file")
    gold_fmt = readable_format(gold_format, gold_path)
    pred_fmts = [readable_format(pred_format, path) for path in pred_paths]
    gold_name = display_name(gold_path)
    gold_stream = Stream(
        gold_name,
        read_alignments(gold_path, gold_fmt, one_based=gold_one_based, reverse=reverse_gold),
        implicit_tail=gold_fmt.implicit_tail,
    )
    predictions = []
    for pred_path, pred_fmt in zip(pred_paths, pred_fmts, strict=True):
        counter = _Counter()
        lines = read_alignments(pred_path, pred_fmt, one_based=pred_one_based, reverse=reverse_pred)
        stream = Stream(
            display_name(pred_path),
            counter.count(lines),
            implicit_tail=pred_fmt.implicit_tail,
            empty_means_no_links=True,
        )
        # Only where the index base is the reader's choice can a file be read in the wrong one.
        watch = IndexZeroWatch(stream.name, pred_fmt.takes_one_based and not pred_one_based)
        predictions.append((stream, counter, watch, _Scorer(worst, keep_counts)))
    streams = [gold_stream, *(stream for stream, *_ in predictions)]
    if corpus_path is not None:
        corpus_pairs = read_corpus((corpus_path,), option_hints=False)
        streams.append(Stream(display_name(corpus_path), corpus_pairs))
    gold_zero = IndexZeroWatch(gold_name, gold_fmt.takes_one_based and not gold_one_based)
    checked = [(gold_name, gold_one_based, "--gold-one-based")] + [
        (stream.name, pred_one_based, "--pred-one-based") for stream, *_ in predictions
    ]

    for items in zip_streams(*streams):
        gold, preds = items[0], items[1 : 1 + len(predictions)]
        corpus_pair = items[-1] if corpus_path is not None else None
        if corpus_pair is not None:
            n_src, n_tgt = len(corpus_pair.src_words), len(corpus_pair.tgt_words)
            where = f"{display_name(corpus_path)} line {corpus_pair.line_no}"
            for sentence, (name, one_based, option) in zip((gold, *preds), checked, strict=True):
                hint = "" if one_based else f"; if the file is 1-based, pass {option}"
                check_indices(
                    sentence,
                    n_src,
                    n_tgt,
                    path=name,
                    one_based=one_based,
                    lengths_from=where,
                    hint=hint,
                )
        gold_zero.see(gold)
        sure, possible = adjust_gold(
            gold.sure, gold.possible, all_sure=all_sure, ignore_possible=ignore_possible
        )
        for pred, (_, _, watch, scorer) in zip(preds, predictions, strict=True):
            watch.see(pred)
            scorer.add(sure, possible, pred.links, _words_of(corpus_pair, gold, pred))

    results = []
    for stream, counter, watch, scorer in predictions:
        result = scorer.result()
        warnings = tuple(
            warning
            for warning in (
                gold_zero.warning("--gold-one-based"),
                watch.warning("--pred-one-based"),
                _empty_prediction_warning(stream.name, counter.items, result.sentences),
            )
            if warning
        )
        results.append(replace(result, warnings=warnings))
    return tuple(results)


def _words_of(corpus_pair, gold: AlignedSentence, pred: AlignedSentence) -> Words | None:
    if corpus_pair is not None:
        return corpus_pair.src_words, corpus_pair.tgt_words
    for sentence in (gold, pred):
        if sentence.src_words is not None and sentence.tgt_words is not None:
            return sentence.src_words, sentence.tgt_words
    return None


class _Counter:
    """Counts what passes through :meth:`count`."""

    def __init__(self) -> None:
        self.items = 0

    def count(self, items: Iterable[AlignedSentence]) -> Iterator[AlignedSentence]:
        for item in items:
            self.items += 1
            yield item


def _empty_prediction_warning(name: str, read: int, sentences: int) -> str | None:
    if read or not sentences:
        return None
    return f"{name} is empty: all {sentences} sentences are scored as having no links"


class IndexZeroWatch:
    """Notices a file read as 0-based that never uses index 0: probably a 1-based file."""

    def __init__(self, name: str, active: bool):
        self.name = name
        self.active = active
        self.links = 0
        self.uses_zero = False

    def see(self, sentence: AlignedSentence) -> None:
        if self.active and not self.uses_zero:
            for i, j in sentence.links:
                self.links += 1
                if i == 0 or j == 0:
                    self.uses_zero = True
                    return

    def warning(self, option: str) -> str | None:
        if not self.active or self.uses_zero or self.links == 0:
            return None
        return (
            f"{self.name} was read as 0-based but never uses index 0: if it is 1-based, "
            f"pass {option}"
        )


def _zip_same_length(first: Iterable, second: Iterable) -> Iterator[tuple]:
    sentinel = object()
    first_iter, second_iter = iter(first), iter(second)
    while True:
        a = next(first_iter, sentinel)
        b = next(second_iter, sentinel)
        if a is sentinel and b is sentinel:
            return
        if a is sentinel or b is sentinel:
            raise ValueError("gold and predicted alignments have different numbers of sentences")
        yield a, b
