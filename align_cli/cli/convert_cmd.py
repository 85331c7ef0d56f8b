"""``xalign convert IN --from F --to T``: rewrite an alignment file in another format."""

from __future__ import annotations

from collections.abc import Iterable

import click

from align_cli.errors import CorpusError
from align_cli.io.corpus import display_name
from align_cli.io.files import check_paths
from align_cli.io.formats import (
    AUTO,
    READ_CHOICES,
    WRITE_FORMATS,
    AlignedSentence,
    read_alignments,
    read_pharaoh_with_probs,
    readable_format,
    writable_format,
)
from align_cli.tools.convert import (
    attach_corpus,
    implicit_tail_warning,
    require_scores,
    write_sentences,
)


@click.command("convert")
@click.argument("source", metavar="IN")
@click.option(
    "--from",
    "from_format",
    type=click.Choice(READ_CHOICES),
    default=AUTO,
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
@click.option(
    "-o",
    "--output",
    default="-",
    show_default=True,
    help="Output file (written whole or not at all; gzipped when it ends in .gz).",
)
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
    named_inputs = [("IN", source), ("--corpus", corpus), ("--probs", probs)]
    check_paths(named_inputs, [("-o", output)])
    fmt = readable_format(from_format, source)
    name = display_name(source)
    out_format = writable_format(to_format)
    if probs is not None:
        if not fmt.takes_probs_file:
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
        implicit_tail=fmt.implicit_tail,
        one_based=one_based,
    )
    if out_format.scores_only:
        sentences = require_scores(sentences, name, f"--to {to_format}")
    warning = None if corpus else implicit_tail_warning([(name, fmt)], out_format)
    if warning:
        click.echo(f"xalign: warning: {warning}", err=True)
    write_sentences(sentences, out_format, output, one_based=write_one_based)
