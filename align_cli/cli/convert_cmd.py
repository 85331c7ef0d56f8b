"""``xalign convert IN --from F --to T``: rewrite an alignment file in another format."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from typing import TextIO

import click

from align_cli.corpus import read_corpus
from align_cli.errors import CorpusError
from align_cli.formats import (
    READ_FORMATS,
    WRITE_FORMATS,
    AlignedSentence,
    Stream,
    check_indices,
    detect_format,
    display_name,
    format_sentence,
    read_alignments,
    read_pharaoh_with_probs,
    with_words,
    zip_streams,
)


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
    pairs = Stream(corpus_name, read_corpus((corpus,)))
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
    sentences: Iterable[AlignedSentence], fmt: str, output: str, *, one_based: bool = False
) -> None:
    """Write ``sentences`` to ``output`` (``-`` is stdout), one record per sentence."""
    with ExitStack() as stack:
        if output == "-":
            out: TextIO = sys.stdout
        else:
            try:
                out = stack.enter_context(open(output, "w", encoding="utf-8", newline="\n"))
            except OSError as error:
                raise CorpusError(f"cannot write: {error.strerror}", path=output) from None
        for sentence in sentences:
            if fmt == "giza" and (sentence.src_words is None or sentence.tgt_words is None):
                raise CorpusError(
                    "GIZA A3 output needs the words of each sentence; give the corpus with "
                    "--corpus (or read a GIZA or JSONL file that carries them)"
                )
            text = format_sentence(sentence, fmt, one_based=one_based)
            if text is not None:
                out.write(text + "\n")
        out.flush()


@click.command("convert")
@click.argument("source", metavar="IN")
@click.option(
    "--from",
    "from_format",
    type=click.Choice(("auto", *READ_FORMATS)),
    default="auto",
    show_default=True,
    help="Format of IN.",
)
@click.option(
    "--to",
    "to_format",
    type=click.Choice(WRITE_FORMATS),
    required=True,
    help="Output format (probs: awesome-align's probability file, one score per link).",
)
@click.option("--one-based", is_flag=True, help="IN is a 1-based Pharaoh/talp file.")
@click.option("--reverse", is_flag=True, help="IN is written target first: swap its sides.")
@click.option(
    "--corpus",
    metavar="SRC-TGT",
    help="'source ||| target' corpus: gives the words (needed for --to giza) and checks "
    "every index against them.",
)
@click.option(
    "--probs",
    metavar="FILE",
    help="awesome-align --output_prob_file that goes with a Pharaoh IN (scores per link).",
)
@click.option("--write-one-based", is_flag=True, help="Write Pharaoh output 1-based.")
@click.option("-o", "--output", default="-", show_default=True, help="Output file.")
def convert(
    source: str,
    from_format: str,
    to_format: str,
    one_based: bool,
    reverse: bool,
    corpus: str | None,
    probs: str | None,
    write_one_based: bool,
    output: str,
) -> None:
    """Convert IN between Pharaoh/talp, NAACL, GIZA++ A3, JSONL and awesome-align formats.

    Every link is kept, sure and possible alike, where the target format can hold it
    (GIZA A3 has no possible links and writes them as links).
    """
    fmt = detect_format(source) if from_format == "auto" else from_format
    name = display_name(source)
    if probs is not None:
        if fmt != "pharaoh":
            raise CorpusError("--probs goes with a Pharaoh links file", path=name)
        sentences: Iterable[AlignedSentence] = read_pharaoh_with_probs(
            source, probs, one_based=one_based
        )
        if reverse:
            sentences = (sentence.flipped() for sentence in sentences)
    else:
        sentences = read_alignments(source, fmt, one_based=one_based, reverse=reverse)
    sentences = attach_corpus(
        sentences,
        corpus,
        name=name,
        implicit_tail=fmt == "naacl",
        one_based=one_based,
    )
    write_sentences(sentences, to_format, output, one_based=write_one_based)
