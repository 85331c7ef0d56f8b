"""Alignment files in, alignment files out: conversion between formats, the words of a
corpus attached and checked, and two directions symmetrised (``xalign convert`` and
``xalign symmetrize``)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from align_cli.errors import CorpusError
from align_cli.io.corpus import display_name, read_corpus
from align_cli.io.files import output_file
from align_cli.io.formats import (
    AUTO,
    AlignedSentence,
    Format,
    Stream,
    check_indices,
    read_alignments,
    readable_format,
    with_words,
    writable_format,
    zip_streams,
)
from align_cli.stages.symmetrize import symmetrize


def attach_corpus(
    sentences: Iterable[AlignedSentence],
    corpus: str | None,
    *,
    name: str,
    implicit_tail: bool,
    one_based: bool = False,
) -> Iterator[AlignedSentence]:
    """Give each sentence the corpus words, checking every index against them."""
    if corpus is None:
        yield from sentences
        return
    corpus_name = display_name(corpus)
    pairs = Stream(corpus_name, read_corpus((corpus,), option_hints=False))
    for sentence, pair in zip_streams(Stream(name, sentences, implicit_tail), pairs):
        check_indices(
            sentence,
            len(pair.src_words),
            len(pair.tgt_words),
            path=name,
            one_based=one_based,
            lengths_from=f"{corpus_name} line {pair.line_no}",
        )
        yield with_words(sentence, pair)


def write_sentences(
    sentences: Iterable[AlignedSentence],
    fmt: str | Format,
    output: str,
    *,
    one_based: bool = False,
) -> None:
    """Write ``sentences`` to ``output`` (``-`` is stdout), one record per sentence.

    The file is written atomically (see :func:`align_cli.io.files.output_file`): on any
    error, a bad line of the input as much as a full disk, the previous file is untouched.
    A name ending in ``.gz`` is written gzipped.
    """
    out_format = writable_format(fmt)
    with output_file(output) as out:
        for sentence in sentences:
            if out_format.needs_words and not sentence.has_words:
                raise CorpusError(
                    f"{out_format.title} output needs the words of each sentence; give the "
                    "corpus with --corpus (or read a GIZA or JSONL file that carries them)"
                )
            text = out_format.write(sentence, one_based=one_based)
            if text is not None:
                out.write(text + "\n")


def require_scores(
    sentences: Iterable[AlignedSentence], name: str, option: str
) -> Iterator[AlignedSentence]:
    """``sentences``, refusing the first link without a score (for a file of scores only,
    such as awesome-align's probabilities, which would otherwise get ``nan``)."""
    for sentence in sentences:
        missing = sorted(link for link in sentence.links if link not in sentence.scores)
        if missing:
            i, j = missing[0]
            raise CorpusError(
                f"link {i}-{j} (0-based) has no score, and {option} writes one score per "
                "link; give the scores with --probs FILE, or convert a file that carries them "
                "(xalign JSONL, Pharaoh i-j-score)",
                path=name,
                line=sentence.line_no,
            )
        yield sentence


def implicit_tail_warning(
    names_and_formats: Iterable[tuple[str, Format]], out_format: str | Format
) -> str | None:
    """Without ``--corpus``: what inputs that all have implicit tails (NAACL) lose when
    written in a format with a line per sentence, for a warning; None when nothing is lost
    (another input, or the output format, sets the number of sentences)."""
    out = writable_format(out_format)
    inputs = list(names_and_formats)
    if out.implicit_tail or not all(fmt.implicit_tail for _, fmt in inputs):
        return None
    names = " and ".join(name for name, _ in inputs)
    return (
        f"{names} {'is' if len(inputs) == 1 else 'are'} NAACL, which has no line for a "
        "sentence without links: such sentences after the last link are not in the output; "
        "give the corpus with --corpus to write one line per corpus pair"
    )


def symmetrize_files(
    forward_path: str,
    reverse_path: str,
    method: str,
    *,
    fmt: str | Format = AUTO,
    one_based: bool = False,
    reverse_is_target_first: bool = False,
    corpus: str | None = None,
) -> Iterator[AlignedSentence]:
    """Symmetrise two alignment files sentence by sentence (see :mod:`align_cli.stages.symmetrize`).

    The result carries the words of the forward file (GIZA, JSONL) or of ``corpus``.
    """
    forward_format = readable_format(fmt, forward_path)
    reverse_format = readable_format(fmt, reverse_path)
    forward_name, reverse_name = display_name(forward_path), display_name(reverse_path)
    forward = attach_corpus(
        read_alignments(forward_path, forward_format, one_based=one_based),
        corpus,
        name=forward_name,
        implicit_tail=forward_format.implicit_tail,
        one_based=one_based,
    )
    reverse = read_alignments(
        reverse_path, reverse_format, one_based=one_based, reverse=reverse_is_target_first
    )
    for fwd, rev in zip_streams(
        Stream(forward_name, forward, forward_format.implicit_tail),
        Stream(reverse_name, reverse, reverse_format.implicit_tail),
    ):
        _check_same_sentence(fwd, rev, forward_name, reverse_name, reverse_is_target_first)
        links = symmetrize(set(fwd.links), set(rev.links), method)
        yield AlignedSentence(
            fwd.index,
            fwd.line_no,
            frozenset(links),
            src_words=fwd.src_words,
            tgt_words=fwd.tgt_words,
        )


def _check_same_sentence(
    fwd: AlignedSentence,
    rev: AlignedSentence,
    forward_name: str,
    reverse_name: str,
    reverse_is_target_first: bool,
) -> None:
    """With the forward sentence's words known, REV's links must fit them (and its words)."""
    if fwd.src_words is None or fwd.tgt_words is None:
        return
    n_src, n_tgt = len(fwd.src_words), len(fwd.tgt_words)
    if rev.src_words is not None and rev.tgt_words is not None:
        rev_lengths = (len(rev.src_words), len(rev.tgt_words))
        if rev_lengths != (n_src, n_tgt):
            advice = "the files' order" if reverse_is_target_first else "--rev-is-target-first"
            raise CorpusError(
                f"sentence {fwd.index + 1} has {rev_lengths[0]} source and {rev_lengths[1]} "
                f"target words here but {n_src} and {n_tgt} in {forward_name}; check {advice}",
                path=reverse_name,
                line=rev.line_no,
            )
    check_indices(rev, n_src, n_tgt, path=reverse_name, lengths_from=f"{forward_name}")
