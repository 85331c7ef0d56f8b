"""``xalign symmetrize FWD REV``: combine the two directions of an aligner."""

from __future__ import annotations

from collections.abc import Iterator

import click

from align_cli.cli.convert_cmd import attach_corpus, write_sentences
from align_cli.errors import CorpusError
from align_cli.formats import (
    READ_FORMATS,
    WRITE_FORMATS,
    AlignedSentence,
    Stream,
    check_indices,
    detect_format,
    display_name,
    read_alignments,
    zip_streams,
)
from align_cli.symmetrize import METHODS, symmetrize


def symmetrize_files(
    forward_path: str,
    reverse_path: str,
    method: str,
    *,
    fmt: str = "auto",
    one_based: bool = False,
    reverse_is_target_first: bool = False,
    corpus: str | None = None,
) -> Iterator[AlignedSentence]:
    """Symmetrise two alignment files sentence by sentence (see :mod:`align_cli.symmetrize`).

    The result carries the words of the forward file (GIZA, JSONL) or of ``corpus``.
    """
    forward_format = detect_format(forward_path) if fmt == "auto" else fmt
    reverse_format = detect_format(reverse_path) if fmt == "auto" else fmt
    forward_name, reverse_name = display_name(forward_path), display_name(reverse_path)
    forward = attach_corpus(
        read_alignments(forward_path, forward_format, one_based=one_based),
        corpus,
        name=forward_name,
        implicit_tail=forward_format == "naacl",
        one_based=one_based,
    )
    reverse = read_alignments(
        reverse_path, reverse_format, one_based=one_based, reverse=reverse_is_target_first
    )
    for fwd, rev in zip_streams(
        Stream(forward_name, forward, forward_format == "naacl"),
        Stream(reverse_name, reverse, reverse_format == "naacl"),
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


@click.command("symmetrize")
@click.argument("forward", metavar="FWD")
@click.argument("reverse", metavar="REV")
@click.option(
    "--method",
    type=click.Choice(METHODS),
    default="grow-diag-final-and",
    show_default=True,
    help="How to combine the two directions (atools' and Moses' names).",
)
@click.option(
    "--rev-is-target-first",
    is_flag=True,
    help="REV writes target-first links (lilt's *.reverse.talp; a target-to-source GIZA A3 "
    "file): swap its sides.",
)
@click.option(
    "--from",
    "from_format",
    type=click.Choice(("auto", *READ_FORMATS)),
    default="auto",
    show_default=True,
    help="Format of both inputs.",
)
@click.option("--one-based", is_flag=True, help="The inputs are 1-based Pharaoh files.")
@click.option("--corpus", metavar="SRC-TGT", help="'source ||| target' corpus: checks every index.")
@click.option(
    "--to",
    "to_format",
    type=click.Choice(WRITE_FORMATS[:-1]),
    default="pharaoh",
    show_default=True,
    help="Output format.",
)
@click.option("-o", "--output", default="-", show_default=True, help="Output file.")
def symmetrize_command(
    forward: str,
    reverse: str,
    method: str,
    rev_is_target_first: bool,
    from_format: str,
    one_based: bool,
    corpus: str | None,
    to_format: str,
    output: str,
) -> None:
    """Symmetrise a forward and a reverse alignment, as Moses' symal / atools do.

    FWD is the direction in which each target word picks its source word (fast_align's
    default output; the GIZA A3 file with the source language on its NULL line); REV is the
    other one. Both are read source first unless --rev-is-target-first. Output is 0-based
    Pharaoh by default, source first.
    """
    sentences = symmetrize_files(
        forward,
        reverse,
        method,
        fmt=from_format,
        one_based=one_based,
        reverse_is_target_first=rev_is_target_first,
        corpus=corpus,
    )
    write_sentences(sentences, to_format, output)
