"""``xalign show``: look at alignments, in the terminal or as a PNG/SVG/PDF figure.

The pairs come either from a model run (``--model``: the attention matrix is computed
and the links extracted as ``xalign extract`` would) or from files alone (``-i`` corpus
plus ``--alignment``; a JSONL alignment written with ``--matrix`` brings its matrices).
``--gold`` adds the gold links and marks the errors; ``--worst N`` picks the N sentences
with the highest AER, ranked exactly as ``xalign eval --per-sentence N`` ranks them.
"""

from __future__ import annotations

import sys

import click
from rich.console import Console

from align_cli.cli.options import (
    aggregation_options,
    aligner_spec,
    device_options,
    hub_options,
    language_options,
    model_path_options,
    preset_option,
)
from align_cli.cli.text_options import tokenize_option
from align_cli.errors import XalignError
from align_cli.io.files import check_paths, stdout_errors
from align_cli.io.formats import AUTO, READ_CHOICES
from align_cli.io.sources import is_seekable
from align_cli.signature import with_tokenize

FORMAT_CHOICE = click.Choice(READ_CHOICES)


@click.command("show")
@click.option(
    "-i",
    "--input",
    "corpus",
    help="The 'source ||| target' corpus (needed with --model; optional when the "
    "alignment file carries the words, as JSONL does).",
)
@click.option(
    "-a",
    "--alignment",
    help="Predicted links: Pharaoh, NAACL, GIZA A3 or xalign JSONL (JSONL written with "
    "--matrix also shades the cells).",
)
@click.option("--alignment-one-based", is_flag=True, help="The alignment file is 1-based.")
@click.option("--alignment-format", type=FORMAT_CHOICE, default=AUTO, show_default=True)
@click.option("-g", "--gold", help="Gold links to compare with.")
@click.option(
    "--gold-one-based",
    is_flag=True,
    help="GOLD's indices start at 1 (true of the standard gold sets).",
)
@click.option("--gold-format", type=FORMAT_CHOICE, default=AUTO, show_default=True)
@click.option("-m", "--model", help="Align with this model (folder, hub id or opus-mt-xx-yy).")
@click.option(
    "--lines", "lines_spec", help="1-based lines to show: 3,7 or 10-12 (default: line 1)."
)
@click.option(
    "--worst",
    type=click.IntRange(min=1),
    help="Show the N sentences with the highest AER (needs --gold), worst first.",
)
@click.option(
    "-o",
    "--output",
    help="Write a figure (.png, .svg or .pdf; needs matplotlib) instead of the terminal view.",
)
@click.option("--title", help="A title above the figure.")
@preset_option(None)
@aggregation_options
@model_path_options
@language_options
@device_options
@hub_options
@click.option("--quiet", "-q", is_flag=True, help="Do not print the signature or file notes.")
@tokenize_option
def show_command(
    corpus: str | None,
    alignment: str | None,
    alignment_one_based: bool,
    alignment_format: str,
    gold: str | None,
    gold_one_based: bool,
    gold_format: str,
    model: str | None,
    lines_spec: str | None,
    worst: int | None,
    output: str | None,
    title: str | None,
    quiet: bool,
    tokenize: str = "whitespace",
    **model_options: object,
) -> None:
    """Draw sentence pairs: the word matrix as a heatmap, links and gold errors marked.

    \b
    From a model:   xalign show -i corpus.src-tgt -m opus-mt-en-fr --lines 3,7
    From files:     xalign show -i corpus.src-tgt -a out.jsonl -g gold.talp --gold-one-based
    Worst N:        xalign show ... -g gold.talp --worst 5 -o worst.png

    Filled marks are predictions (green: right, red cross: not in the gold); hollow marks
    are gold links the prediction lacks (red ring: a missed sure link). Line numbers are
    1-based, as in `xalign eval --per-sentence`.
    """
    if (model is None) == (alignment is None):
        raise XalignError("give either --model M (align now) or --alignment FILE (read links)")
    if model is not None and corpus is None:
        raise XalignError("--model needs the corpus: -i FILE with 'source ||| target' lines")
    if worst and lines_spec:
        raise XalignError("--lines and --worst exclude each other; give one")
    if worst and gold is None:
        raise XalignError("--worst ranks sentences by AER and needs --gold FILE")
    named_inputs = [("-i", corpus), ("-a", alignment), ("-g", gold)]
    check_paths(named_inputs, [("-o", output or "-")], model_folders=[model])
    if worst and model is None:
        for option, path in named_inputs:
            if path is not None and not is_seekable(path):
                raise XalignError(
                    f"--worst reads the files twice (to rank the sentences, then to draw them), "
                    f"but {option} {path} can be read only once; give a regular file"
                )
    from align_cli.tools.evaluate import evaluate_files
    from align_cli.tools.views import (
        gold_sentences,
        parse_line_numbers,
        views_from_files,
        views_from_model,
    )

    lines = parse_line_numbers(lines_spec) if lines_spec else [0]
    if model is not None:
        from align_cli.aligners.embedding import EmbeddingAligner
        from align_cli.aligners.factory import build_aligner

        aligner = build_aligner(aligner_spec(model, include_matrix=True, **model_options))
        if not quiet:
            signature = with_tokenize(aligner.signature, tokenize)
            click.echo(f"xalign: signature {signature}", err=True)
        views = views_from_model(
            aligner,
            corpus,
            lines=None if worst else lines,
            worst=worst or 0,
            gold=None if gold is None else gold_sentences(gold, gold_format, gold_one_based),
            # An encoder's matrix holds similarities, a translation model's attention.
            value_name="similarity" if isinstance(aligner, EmbeddingAligner) else "attention",
            tokenize=tokenize,
        )
    else:
        assert alignment is not None
        if worst:
            ranking = evaluate_files(
                gold,
                alignment,
                gold_format=gold_format,
                pred_format=alignment_format,
                gold_one_based=gold_one_based,
                pred_one_based=alignment_one_based,
                corpus_path=corpus,
                worst=worst,
            )
            for warning in ranking.warnings:
                click.echo(f"xalign: warning: {warning}", err=True)
            order = [sentence.index for sentence in ranking.worst]
        else:
            order = lines
        found = views_from_files(
            order,
            corpus=corpus,
            alignment=alignment,
            alignment_format=alignment_format,
            alignment_one_based=alignment_one_based,
            gold=gold,
            gold_format=gold_format,
            gold_one_based=gold_one_based,
            tokenize=tokenize,
        )
        views = [found[index] for index in order]

    from align_cli.tools.show import render_legend, render_terminal, save_figure

    if output is not None:
        path = save_figure(views, output, title=title)
        if not quiet:
            click.echo(f"xalign: wrote {path} ({len(views)} pair(s))", err=True)
        return
    with stdout_errors():
        console = Console(file=sys.stdout, highlight=False)
        color = console.color_system is not None
        for view in views:
            console.print(render_terminal(view, width=console.width, color=color))
        console.print(render_legend(views, color=color))
