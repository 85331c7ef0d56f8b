"""Several files walked in step, one sentence of each at a time, and the checks that keep
them in step: :class:`Stream`, :func:`zip_streams`, :func:`check_indices`,
:func:`with_words`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

from align_cli.errors import CorpusError
from align_cli.io.formats.base import AlignedSentence
from align_cli.types import SentencePair


@dataclass(frozen=True)
class Stream:
    """A file read sentence by sentence, for :func:`zip_streams`.

    ``implicit_tail`` is true for files of a format with that trait (NAACL), which have
    no line for sentences without links and so may legitimately end before the other
    files. ``empty_means_no_links``
    lets a file with no lines at all stand for "no links in any sentence" (what an aligner
    that found nothing may leave behind) instead of being too short.
    """

    name: str
    items: Iterable[AlignedSentence] | Iterable[SentencePair]
    implicit_tail: bool = False
    empty_means_no_links: bool = False


def zip_streams(*streams: Stream) -> Iterator[tuple]:
    """Walk several files in step, one sentence of each at a time.

    A file that ends before another is a :class:`CorpusError` naming it and the line where
    the next sentence should have been, unless it has an implicit tail (NAACL) or is empty
    and allowed to be (see :class:`Stream`); it is then filled with empty sentences.
    """
    iterators = [iter(stream.items) for stream in streams]
    last_line = [0] * len(streams)
    read = [0] * len(streams)
    count = 0
    while True:
        items = [next(iterator, None) for iterator in iterators]
        ended = [item is None for item in items]
        if all(ended):
            return
        if any(ended):
            for k, stream in enumerate(streams):
                may_pad = stream.implicit_tail or (stream.empty_means_no_links and read[k] == 0)
                if ended[k] and not may_pad:
                    longer = next(s.name for s, e in zip(streams, ended, strict=True) if not e)
                    raise CorpusError(
                        f"ends after {count} sentences, but {longer} has more; the files "
                        "must have one entry per sentence pair",
                        path=stream.name,
                        line=last_line[k] + 1,
                    )
            items = [
                AlignedSentence(count, last_line[k]) if item is None else item
                for k, item in enumerate(items)
            ]
        for k, item in enumerate(items):
            last_line[k] = max(last_line[k], item.line_no)
            read[k] += not ended[k]
        yield tuple(items)
        count += 1


def check_indices(
    sentence: AlignedSentence,
    n_src: int,
    n_tgt: int,
    *,
    path: str,
    one_based: bool = False,
    lengths_from: str = "the corpus",
    hint: str = "",
) -> None:
    """Raise a :class:`CorpusError` when a link falls outside a sentence of the given lengths.

    The offending link is shown as the file writes it (1-based when ``one_based``);
    ``hint`` is appended to the message (for example which option reads a file 1-based).
    """
    offset = 1 if one_based else 0
    for i, j in sorted(sentence.links):
        if i >= n_src or j >= n_tgt:
            side = "source" if i >= n_src else "target"
            raise CorpusError(
                f"link {i + offset}-{j + offset} points past the end of the {side} sentence "
                f"({n_src} source, {n_tgt} target words in {lengths_from}){hint}",
                path=path,
                line=sentence.line_no,
            )


def with_words(sentence: AlignedSentence, pair: SentencePair) -> AlignedSentence:
    """``sentence`` with the words of a corpus pair."""
    return replace(sentence, src_words=pair.src_words, tgt_words=pair.tgt_words)
