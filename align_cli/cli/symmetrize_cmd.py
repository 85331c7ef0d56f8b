"""``xalign symmetrize FWD REV``: combine the two directions of an aligner."""

from __future__ import annotations

import click

from align_cli.io.corpus import display_name
from align_cli.io.files import check_paths
from align_cli.io.formats import AUTO, LINK_WRITE_FORMATS, READ_CHOICES, readable_format
from align_cli.settings import SYMMETRIZATIONS
from align_cli.tools.convert import implicit_tail_warning, symmetrize_files, write_sentences


@click.command("symmetrize")
@click.argument("forward", metavar="FWD")
@click.argument("reverse", metavar="REV")
@click.option(
    "--method",
    type=click.Choice(SYMMETRIZATIONS),
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
    type=click.Choice(READ_CHOICES),
    default=AUTO,
    show_default=True,
    help="Format of both inputs.",
)
@click.option("--one-based", is_flag=True, help="The inputs are 1-based Pharaoh files.")
@click.option("--corpus", metavar="SRC-TGT", help="'source ||| target' corpus: checks every index.")
@click.option(
    "--to",
    "to_format",
    type=click.Choice(LINK_WRITE_FORMATS),
    default="pharaoh",
    show_default=True,
    help="Output format.",
)
@click.option(
    "-o",
    "--output",
    default="-",
    show_default=True,
    help="Output file (written whole or not at all; gzipped when it ends in .gz).",
)
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
    named_inputs = [("FWD", forward), ("REV", reverse), ("--corpus", corpus)]
    check_paths(named_inputs, [("-o", output)])
    if corpus is None:
        formats = [
            (display_name(path), readable_format(from_format, path)) for path in (forward, reverse)
        ]
        warning = implicit_tail_warning(formats, to_format)
        if warning:
            click.echo(f"xalign: warning: {warning}", err=True)
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
