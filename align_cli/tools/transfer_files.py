"""``xalign transfer`` as functions: files of tagged segments in, tagged targets out.

Two inputs, one flow. A *text* file has one ``tagged source ||| target`` line per segment
and gets one line back per input line, the target with the tags in it (a blank line stays
blank). An *XLIFF* file (1.2 or 2.x, :mod:`align_cli.tools.xliff`) comes back whole, with
the targets of its tagged segments rebuilt. In both, the links of each segment come from
a :class:`LinkSource`: an aligner (:class:`AlignerLinks`, any
:class:`~align_cli.aligners.base.Aligner`) or a file of links (:class:`FileLinks`, any
format :func:`~align_cli.io.formats.read_alignments` reads, one sentence per segment in
order). Links join the words :func:`segment_pairs` lists, which is also what
``xalign transfer --pairs-out`` writes for aligning with another tool.

Words come from a word splitter (:data:`~align_cli.tools.markup.WordSplitter`,
whitespace by default); the target text itself is kept character for character and the
tags go between its words (:func:`~align_cli.tools.transfer.interleave`). A target that
already holds tags is left as it is. Placements are counted by how they were made
(:class:`TransferSummary`), so that the fallback's work is visible.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, BinaryIO, Protocol

from align_cli.errors import CorpusError
from align_cli.io.corpus import SEPARATOR, display_name, read_lines
from align_cli.io.formats import AUTO, read_alignments, readable_format
from align_cli.tools.markup import (
    Markup,
    MarkupError,
    WordSplitter,
    has_tags,
    is_tag,
    parse_markup,
    split_tokens,
    whitespace_spans,
)
from align_cli.tools.transfer import (
    ALIGNED,
    NEAREST,
    RELATIVE,
    TRIMMED,
    TargetPlacement,
    interleave,
    target_sequence,
)
from align_cli.tools.xliff import Segment, XliffDocument
from align_cli.types import Link, SentencePair

if TYPE_CHECKING:
    from align_cli.aligners.base import Aligner

CHUNK = 500  # segments aligned and written together in a text file


# --------------------------------------------------------------------------- summary


@dataclass
class TransferSummary:
    """What a transfer did: segments, and each tag by how it was placed."""

    segments: int = 0
    tagged_segments: int = 0  # segments whose source holds tags
    placed: Counter = field(default_factory=Counter)  # TargetPlacement.how -> tags
    already_tagged: int = 0  # targets with tags of their own, left as they were
    unaligned_segments: int = 0  # tagged segments the aligner gave no links (too long)

    @property
    def tags(self) -> int:
        return sum(self.placed.values())

    def add(self, placements: Sequence[TargetPlacement]) -> None:
        self.placed.update(placement.how for placement in placements)

    def describe(self) -> str:
        """One line: segments, and tags by how they were placed."""
        fallback = self.placed[NEAREST] + self.placed[RELATIVE]
        text = (
            f"{_count(self.segments, 'segment')} ({self.tagged_segments} with tags), "
            f"{_count(self.tags, 'tag')}: {self.placed[ALIGNED]} placed through the alignment, "
            f"{self.placed[TRIMMED]} cut or moved to keep the nesting, {fallback} by the "
            f"fallback ({self.placed[NEAREST]} by the nearest aligned word, "
            f"{self.placed[RELATIVE]} by relative position: no links)"
        )
        if self.unaligned_segments:
            text += f"; {_count(self.unaligned_segments, 'tagged segment')} got no links"
        if self.already_tagged:
            text += f"; {_count(self.already_tagged, 'target')} already tagged, left unchanged"
        return text


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


# --------------------------------------------------------------------------- links


class LinkSource(Protocol):
    """The links of segments, asked for in order, a chunk at a time."""

    def links(self, pairs: Sequence[SentencePair], needed: Sequence[bool]) -> list[list[Link]]:
        """One list of links per pair (``needed[k]`` false: the pair's links are not used
        and may be empty)."""
        ...

    def finish(self, count: int) -> None:
        """Called after ``count`` segments: refuse a source that has more."""
        ...


class AlignerLinks:
    """Links from an aligner; pairs whose links are not needed are not aligned."""

    def __init__(self, aligner: Aligner):
        self.aligner = aligner
        self.skipped = 0

    def links(self, pairs: Sequence[SentencePair], needed: Sequence[bool]) -> list[list[Link]]:
        asked = [
            pair if need else SentencePair(pair.index, (), (), pair.line_no)
            for pair, need in zip(pairs, needed, strict=True)
        ]
        found = []
        for result, need in zip(self.aligner.align_pairs(asked), needed, strict=True):
            self.skipped += bool(need and result.skipped)
            found.append(list(result.links))
        return found

    def finish(self, count: int) -> None:
        pass


class FileLinks:
    """Links read from an alignment file, one sentence per segment, in order."""

    def __init__(
        self, path: str, fmt: str = AUTO, *, one_based: bool = False, reverse: bool = False
    ):
        self.path = path
        self.format = readable_format(fmt, path)
        self.sentences = iter(read_alignments(path, self.format, one_based=one_based,
                                              reverse=reverse))  # fmt: skip
        self.waiting = None  # a sentence read ahead (NAACL skips sentences without links)
        self.read = 0
        self.last_line = 0

    def _next(self, index: int):
        if self.waiting is None:
            self.waiting = next(self.sentences, None)
        sentence = self.waiting
        if sentence is None:
            if self.format.implicit_tail:
                return None
            raise CorpusError(
                f"ends after {self.read} sentences, but the input has more segments; give "
                "one sentence of links per segment (the pairs --pairs-out writes)",
                path=display_name(self.path),
                line=self.last_line + 1,
            )
        if sentence.index > index:
            return None  # a sentence this format leaves out: no links
        self.waiting = None
        self.read += 1
        self.last_line = sentence.line_no
        return sentence

    def links(self, pairs: Sequence[SentencePair], needed: Sequence[bool]) -> list[list[Link]]:
        found = []
        for pair, need in zip(pairs, needed, strict=True):
            sentence = self._next(pair.index)
            links = sorted(sentence.links) if sentence is not None else []
            if need and sentence is not None:
                self._check(sentence, pair, links)
            found.append(links)
        return found

    def _check(self, sentence, pair: SentencePair, links: list[Link]) -> None:
        where = {"path": display_name(self.path), "line": sentence.line_no}
        if sentence.has_words and (sentence.src_words, sentence.tgt_words) != (
            pair.src_words,
            pair.tgt_words,
        ):
            raise CorpusError(
                f"these links are of other words than segment {pair.index + 1} (input line "
                f"{pair.line_no}); align the pairs --pairs-out writes",
                **where,
            )
        n_src, n_tgt = len(pair.src_words), len(pair.tgt_words)
        for i, j in links:
            if not (0 <= i < n_src and 0 <= j < n_tgt):
                raise CorpusError(
                    f"link {i}-{j} (0-based) is outside segment {pair.index + 1} (input line "
                    f"{pair.line_no}: {n_src} source and {n_tgt} target words); is the file "
                    "1-based (--one-based) or target first (--reverse), or of other words "
                    "(align the pairs --pairs-out writes)?",
                    **where,
                )

    def finish(self, count: int) -> None:
        if self.waiting is None:
            self.waiting = next(self.sentences, None)
        if self.waiting is not None:
            raise CorpusError(
                f"has more sentences than the {count} segments of the input; give one "
                "sentence of links per segment",
                path=display_name(self.path),
                line=self.waiting.line_no,
            )


# --------------------------------------------------------------------------- segments


@dataclass
class _Job:
    """One segment to transfer: its source markup, target text and words."""

    markup: Markup
    target: str
    spans: list[tuple[int, int]]
    pair: SentencePair
    already_tagged: bool
    segment: Segment | None = None  # the XLIFF segment, for writing back

    @property
    def needs_links(self) -> bool:
        return bool(self.markup.tags) and not self.already_tagged


def _target_words(text: str, spans: list[tuple[int, int]], tagged: bool, split: WordSplitter):
    if tagged:  # the target's own tags are no words
        return tuple(t for t in split_tokens(text, split) if not is_tag(t))
    return tuple(text[start:end] for start, end in spans)


def _text_jobs(path: str, split: WordSplitter, encoding_errors: str) -> Iterator[_Job]:
    name = display_name(path)
    for index, (line_no, text) in enumerate(read_lines(path, encoding_errors=encoding_errors)):
        parts = text.split(SEPARATOR)
        if len(parts) == 1 and not text.strip():
            parts = ["", ""]
        if len(parts) != 2:
            found = "no" if len(parts) == 1 else str(len(parts) - 1)
            raise CorpusError(
                f"expected one '{SEPARATOR}' between the tagged source and the target, found "
                f"{found}; give 'tagged source ||| target' lines",
                path=name,
                line=line_no,
            )
        source, target = parts[0].strip(), parts[1].strip()
        try:
            markup = parse_markup(source, split)
        except MarkupError as error:
            raise MarkupError(f"{error}; fix the source's tags", path=name, line=line_no) from None
        tagged = has_tags(target)
        spans = [] if tagged else split(target)
        pair = SentencePair(index, markup.words, _target_words(target, spans, tagged, split),
                            line_no)  # fmt: skip
        yield _Job(markup, target, spans, pair, tagged)


def _xliff_jobs(document: XliffDocument, split: WordSplitter) -> Iterator[_Job]:
    for index, segment in enumerate(document.segments):
        if segment.target is None:
            raise CorpusError(
                f"{segment.where} has no <target>: give the machine translations with "
                "--translations FILE (one line per segment, in document order)",
                path=document.path,
                line=segment.line,
            )
        markup = document.markup(segment, split)
        tagged = segment.already_tagged
        text = segment.target_text
        spans = [] if tagged else split(text)
        if tagged:
            words = tuple("".join(segment.target.itertext()).split())  # type: ignore[union-attr]
        else:
            words = tuple(text[start:end] for start, end in spans)
        pair = SentencePair(index, markup.words, words, segment.line)
        yield _Job(markup, text, spans, pair, tagged, segment)


def _place(jobs: list[_Job], source: LinkSource, summary: TransferSummary) -> Iterator[tuple]:
    """Each job with its text pieces and tag edges (None when its target stays)."""
    all_links = source.links([job.pair for job in jobs], [job.needs_links for job in jobs])
    for job, links in zip(jobs, all_links, strict=True):
        summary.segments += 1
        summary.already_tagged += job.already_tagged
        if not job.needs_links:
            yield job, None
            continue
        summary.tagged_segments += 1
        placements, sequence = target_sequence(job.markup, len(job.spans), links)
        summary.add(placements)
        yield job, interleave(job.target, job.spans, sequence)


# --------------------------------------------------------------------------- the two inputs


def looks_like_xliff(path: str) -> bool:
    """An ``.xlf``/``.xliff`` name, or a file whose start is an XML declaration or an
    ``<xliff`` element (a tagged text line starts with a word or an inline tag)."""
    if path.lower().endswith((".xlf", ".xliff", ".sdlxliff")):
        return True
    if path == "-":
        return False
    try:
        with open(path, "rb") as handle:
            start = handle.read(512).lstrip(b"\xef\xbb\xbf").lstrip()
    except OSError:
        return False
    return start.startswith((b"<?xml", b"<xliff", b"<!--"))


def transfer_text(
    path: str,
    output: BinaryIO,
    source: LinkSource,
    *,
    split_words: WordSplitter = whitespace_spans,
    encoding_errors: str = "strict",
) -> TransferSummary:
    """Transfer the tags of a ``tagged source ||| target`` file (``-``: stdin) into its
    targets, writing one line per input line to ``output``."""
    summary = TransferSummary()
    jobs = _text_jobs(path, split_words, encoding_errors)
    while chunk := list(islice(jobs, CHUNK)):
        lines = []
        for job, pieces in _place(chunk, source, summary):
            if pieces is None:
                lines.append(job.target)
            else:
                lines.append("".join(p if isinstance(p, str) else p.text for p in pieces))
        output.write("".join(line + "\n" for line in lines).encode("utf-8"))
    source.finish(summary.segments)
    _count_skipped(source, summary)
    return summary


def transfer_xliff(
    document: XliffDocument,
    source: LinkSource,
    *,
    translations: Sequence[str] | None = None,
    split_words: WordSplitter = whitespace_spans,
) -> TransferSummary:
    """Transfer the tags of every segment's source into its target, in ``document``
    (write it with :meth:`XliffDocument.to_bytes`). ``translations`` (one per segment)
    replace the targets first."""
    if translations is not None:
        for segment, text in zip(document.segments, translations, strict=True):
            document.set_translation(segment, text)
    summary = TransferSummary()
    jobs = list(_xliff_jobs(document, split_words))
    for start in range(0, len(jobs), CHUNK):
        for job, pieces in _place(jobs[start : start + CHUNK], source, summary):
            if pieces is not None:
                document.write_target(job.segment, pieces)  # type: ignore[arg-type]
    source.finish(summary.segments)
    _count_skipped(source, summary)
    return summary


def _count_skipped(source: LinkSource, summary: TransferSummary) -> None:
    summary.unaligned_segments = getattr(source, "skipped", 0)


def read_translations(path: str, document: XliffDocument) -> list[str]:
    """One translation per segment of ``document``, a line each; the count must match."""
    lines = [text.strip() for _, text in read_lines(path)]
    if len(lines) != len(document.segments):
        raise CorpusError(
            f"{len(lines)} lines for the {len(document.segments)} segments to translate in "
            f"{document.path}; give one line per segment, in document order (units with "
            'translate="no" do not count)',
            path=display_name(path),
        )
    return lines


def segment_pairs(
    path: str,
    *,
    xliff: bool,
    translations: str | None = None,
    split_words: WordSplitter = whitespace_spans,
) -> Iterator[SentencePair]:
    """The words the links of each segment join, in order: what ``--pairs-out`` writes."""
    if not xliff:
        yield from (job.pair for job in _text_jobs(path, split_words, "strict"))
        return
    document = XliffDocument(path)
    if translations is not None:
        for segment, text in zip(document.segments, read_translations(translations, document),
                                 strict=True):  # fmt: skip
            document.set_translation(segment, text)
    yield from (job.pair for job in _xliff_jobs(document, split_words))


__all__ = [
    "AlignerLinks",
    "looks_like_xliff",
    "FileLinks",
    "LinkSource",
    "TransferSummary",
    "read_translations",
    "segment_pairs",
    "transfer_text",
    "transfer_xliff",
]
