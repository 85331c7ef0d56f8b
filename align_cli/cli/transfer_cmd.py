"""``xalign transfer``: carry inline tags from sources into translations through the
alignment (tagged text lines, XLIFF 1.2 and 2.x); the work is in
:mod:`align_cli.tools.transfer_files`."""

from __future__ import annotations

import click

from align_cli.cli.options import (
    aggregation_options,
    aligner_spec,
    batching_options,
    device_options,
    hub_options,
    language_options,
    model_path_options,
    preset_option,
)
from align_cli.cli.text_options import tokenize_option
from align_cli.errors import XalignError
from align_cli.io.corpus import SEPARATOR
from align_cli.io.formats import READ_CHOICES
from align_cli.io.tokenize import get_tokenizer
from align_cli.settings import BatchingSettings
from align_cli.signature import with_tokenize

INPUT_FORMATS = ("auto", "text", "xliff")

# Options that only mean something with --model (refused without it, not ignored).
_MODEL_ONLY = (
    "preset", "layers", "heads", "shift", "pooling", "method", "threshold", "embedding_layer",
    "granularity", "reverse_model", "symmetrize", "src_lang", "tgt_lang", "target_token",
    "source_prefix", "revision", "max_length",
)  # fmt: skip


@click.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(allow_dash=True))
@click.option(
    "-o", "--output", type=click.Path(allow_dash=True), help="Output file (default stdout)."
)
@click.option("-m", "--model", help="Align with this model (as in xalign extract).")
@click.option(
    "-a",
    "--alignment",
    type=click.Path(allow_dash=True),
    help="Take the links from this file instead: one sentence per segment, of the words "
    "--pairs-out writes (any format xalign eval reads).",
)
@click.option(
    "--alignment-format",
    type=click.Choice(READ_CHOICES),
    default="auto",
    show_default=True,
    help="Format of --alignment.",
)
@click.option("--one-based", is_flag=True, help="--alignment is 1-based Pharaoh (talp).")
@click.option("--reverse", is_flag=True, help="--alignment is target first.")
@click.option(
    "--translations",
    type=click.Path(),
    help="XLIFF: the machine translations, one line per segment in document order; they "
    "fill (or replace) the targets.",
)
@click.option(
    "--pairs-out",
    type=click.Path(),
    help="Write the 'source ||| target' words of every segment (what the links must join) "
    "and stop: align them with any tool, then come back with --alignment.",
)
@click.option(
    "--input-format",
    type=click.Choice(INPUT_FORMATS),
    default="auto",
    show_default=True,
    help="auto: XLIFF for .xlf/.xliff names and files that start as XML, else "
    "'tagged source ||| target' lines.",
)
@preset_option(None)
@aggregation_options
@model_path_options
@language_options
@batching_options
@device_options
@hub_options
@click.option(
    "--encoding-errors",
    type=click.Choice(["strict", "replace"]),
    default="strict",
    show_default=True,
    help="Invalid UTF-8 in a text input: stop with an error, or replace.",
)
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
@click.option("--quiet", "-q", is_flag=True, help="Do not print the signature and summary.")
@tokenize_option
def transfer_command(
    input_path: str,
    output: str | None,
    model: str | None,
    alignment: str | None,
    alignment_format: str,
    one_based: bool,
    reverse: bool,
    translations: str | None,
    pairs_out: str | None,
    input_format: str,
    batch_size: int,
    max_tokens: int,
    max_length: int | None,
    encoding_errors: str,
    force: bool,
    quiet: bool,
    tokenize: str = "whitespace",
    **model_options,
) -> None:
    """Put the inline tags of each source segment into its translation, where the word
    alignment says they belong.

    INPUT is a file of 'tagged source ||| target' lines (one tagged target line out per
    line in), or an XLIFF 1.2 / 2.x file whose targets hold the machine translation (the
    same file out, with the tags in the targets). Every tag appears once in the target,
    well nested; tags the alignment cannot place are put next to the nearest aligned
    word, and counted in the summary on stderr.
    """
    from align_cli.tools import transfer_files as files
    from align_cli.tools.output_files import atomic_output, check_output
    from align_cli.tools.xliff import XliffDocument

    # The word splitter; whitespace is the readers' own default (kept as it was).
    split = {} if tokenize == "whitespace" else {"split_words": get_tokenizer(tokenize).spans}
    xliff = input_format == "xliff" or (
        input_format == "auto" and files.looks_like_xliff(input_path)
    )
    given_model_options = [
        "--" + name.replace("_", "-")
        for name in _MODEL_ONLY
        if (model_options.get(name) if name != "max_length" else max_length) is not None
    ]
    if pairs_out is not None:
        if model is not None or alignment is not None:
            raise XalignError(
                "--pairs-out writes the words to align and stops: run it without --model and "
                "--alignment, align the pairs, then transfer with --alignment"
            )
        if given_model_options:
            raise XalignError(f"{', '.join(given_model_options)}: only with --model")
        check_output(pairs_out, [input_path, translations], force=force)
        pairs = files.segment_pairs(input_path, xliff=xliff, translations=translations, **split)
        with atomic_output(pairs_out) as handle:
            for pair in pairs:
                line = f"{' '.join(pair.src_words)} {SEPARATOR} {' '.join(pair.tgt_words)}"
                handle.write((line + "\n").encode("utf-8"))
        return
    if (one_based or reverse or alignment_format != "auto") and alignment is None:
        raise XalignError("--one-based, --reverse and --alignment-format describe --alignment")
    if translations is not None and not xliff:
        raise XalignError(
            "--translations fills XLIFF targets; a text input has its targets after '|||'"
        )
    if (model is None) == (alignment is None):
        raise XalignError(
            "give the links: --model MODEL (align here) or --alignment FILE (links from any "
            "aligner, of the pairs --pairs-out writes)"
        )
    if model is None and given_model_options:
        raise XalignError(f"{', '.join(given_model_options)}: only with --model")
    if alignment == "-" and input_path == "-":
        raise XalignError("standard input can be read once: give the input or the links as a file")
    if input_path == "-" and xliff:
        raise XalignError("an XLIFF input must be a file (it is read whole); not stdin")
    check_output(output, [input_path, translations, alignment], force=force)

    # Everything that can be refused is refused before a model is loaded: read first.
    document = XliffDocument(input_path) if xliff else None
    texts = (
        files.read_translations(translations, document)
        if translations is not None and document is not None
        else None
    )
    source: files.LinkSource
    if alignment is not None:
        source = files.FileLinks(alignment, alignment_format, one_based=one_based,
                                 reverse=reverse)  # fmt: skip
    else:
        source = files.AlignerLinks(
            _build_aligner(
                model, model_options, batch_size, max_tokens, max_length, quiet, tokenize
            )
        )
    with atomic_output(output) as handle:
        if document is not None:
            summary = files.transfer_xliff(document, source, translations=texts, **split)
            handle.write(document.to_bytes())
        else:
            summary = files.transfer_text(
                input_path, handle, source, encoding_errors=encoding_errors, **split
            )
    if not quiet:
        click.echo(f"xalign: transfer: {summary.describe()}", err=True)


def _build_aligner(model, model_options, batch_size, max_tokens, max_length, quiet, tokenize):
    from align_cli.aligners.factory import build_aligner

    spec = aligner_spec(
        model,
        batching=BatchingSettings(
            batch_size=batch_size, max_tokens=max_tokens, max_length=max_length
        ),
        **model_options,
    )
    aligner = build_aligner(spec)
    if not quiet:
        click.echo(f"xalign: signature {with_tokenize(aligner.signature, tokenize)}", err=True)
    return aligner
