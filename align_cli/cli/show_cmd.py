"""``xalign show``: look at alignments, in the terminal or as a PNG/SVG/PDF figure.

The pairs come either from a model run (``--model``: the attention matrix is computed
and the links extracted as ``xalign extract`` would) or from files alone (``-i`` corpus
plus ``--alignment``; a JSONL alignment written with ``--matrix`` brings its matrices).
``--gold`` adds the gold links and marks the errors; ``--worst N`` picks the N sentences
with the highest AER, ranked exactly as ``xalign eval --per-sentence N`` ranks them.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import click
from rich.console import Console

from align_cli.cli.options import (
    aggregation_options,
    device_options,
    language_options,
    settings_from_options,
)
from align_cli.corpus import read_corpus
from align_cli.errors import CorpusError, XalignError
from align_cli.evaluate import evaluate, evaluate_files
from align_cli.formats import (
    READ_FORMATS,
    AlignedSentence,
    Stream,
    detect_format,
    display_name,
    read_alignments,
    zip_streams,
)
from align_cli.presets import PRESETS
from align_cli.show import (
    PairView,
    read_jsonl_matrices,
    render_legend,
    render_terminal,
    save_figure,
    view_from_result,
)
from align_cli.symmetrize import METHODS as SYMMETRIZATIONS
from align_cli.types import SentencePair

FORMAT_CHOICE = click.Choice(("auto", *READ_FORMATS))


def parse_line_numbers(spec: str) -> list[int]:
    """``3,7,10-12`` (1-based line numbers) to sorted 0-based indices without repeats."""
    indices: set[int] = set()
    try:
        for part in spec.split(","):
            part = part.strip()
            first, _, last = part.partition("-")
            start, stop = int(first), int(last or first)
            if start < 1 or stop < start:
                raise ValueError
            indices.update(range(start - 1, stop))
    except ValueError:
        raise XalignError(
            f"cannot read --lines {spec!r}; give 1-based line numbers like 3,7 or 10-12"
        ) from None
    return sorted(indices)


def _past_the_end(wanted: list[int], count: int, name: str) -> XalignError:
    missing = [index + 1 for index in wanted if index >= count]
    return CorpusError(f"line {missing[0]} asked for, but the file has {count} pair(s)", path=name)


# --------------------------------------------------------------------------- from files


def views_from_files(
    wanted: list[int],
    *,
    corpus: str | None,
    alignment: str,
    alignment_format: str = "auto",
    alignment_one_based: bool = False,
    gold: str | None = None,
    gold_format: str = "auto",
    gold_one_based: bool = False,
) -> dict[int, PairView]:
    """The pairs at 0-based ``wanted`` indices, read from the files in one streaming pass.

    The words come from ``corpus`` or, failing that, from the alignment (or gold) file
    when it carries them (JSONL, GIZA). Reading stops after the last wanted pair.
    """
    fmt = detect_format(alignment) if alignment_format == "auto" else alignment_format
    streams = [
        Stream(
            display_name(alignment),
            read_alignments(alignment, fmt, one_based=alignment_one_based),
            implicit_tail=fmt == "naacl",
        )
    ]
    if gold is not None:
        gold_fmt = detect_format(gold) if gold_format == "auto" else gold_format
        streams.append(
            Stream(
                display_name(gold),
                read_alignments(gold, gold_fmt, one_based=gold_one_based),
                implicit_tail=gold_fmt == "naacl",
            )
        )
    if corpus is not None:
        streams.append(Stream(display_name(corpus), read_corpus((corpus,))))
    matrices: Iterator = read_jsonl_matrices(alignment) if fmt == "jsonl" else iter(())
    remaining = set(wanted)
    views: dict[int, PairView] = {}
    count = 0
    for index, items in enumerate(zip_streams(*streams)):
        count = index + 1
        matrix = next(matrices, None)
        if index not in remaining:
            continue
        predicted: AlignedSentence = items[0]
        gold_sentence: AlignedSentence | None = items[1] if gold is not None else None
        words = _words(items, corpus is not None)
        if words is None:
            raise CorpusError(
                "the alignment file carries no words: give the corpus with -i FILE",
                path=display_name(alignment),
            )
        views[index] = PairView(
            index=index,
            src_words=words[0],
            tgt_words=words[1],
            predicted=predicted.links,
            matrix=matrix,
            sure=None if gold_sentence is None else gold_sentence.sure,
            possible=frozenset() if gold_sentence is None else gold_sentence.possible,
            value_name="score",
        )
        remaining.discard(index)
        if not remaining:
            break
    if remaining:
        raise _past_the_end(sorted(remaining), count, display_name(corpus or alignment))
    return views


def _words(items: tuple, has_corpus: bool) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    if has_corpus:
        pair: SentencePair = items[-1]
        return pair.src_words, pair.tgt_words
    for sentence in items:
        if sentence.src_words is not None and sentence.tgt_words is not None:
            return sentence.src_words, sentence.tgt_words
    return None


# --------------------------------------------------------------------------- from a model


def _gold_sentences(gold: str, gold_format: str, one_based: bool) -> list[AlignedSentence]:
    return list(read_alignments(gold, gold_format, one_based=one_based))


def views_from_model(
    aligner,
    corpus: str,
    *,
    lines: list[int] | None,
    worst: int,
    gold: list[AlignedSentence] | None,
    value_name: str = "attention",
) -> list[PairView]:
    """Run ``aligner`` on the chosen pairs of ``corpus`` (all of them to find the worst)."""
    if worst:
        assert gold is not None
        aligner.include_matrix = False  # links are enough to rank; matrices come after
        pairs = list(read_corpus((corpus,)))
        if len(pairs) != len(gold):
            raise CorpusError(
                f"{len(pairs)} pairs but the gold file has {len(gold)} sentences; "
                "they must match line for line",
                path=display_name(corpus),
            )
        predicted = [result.links for result in aligner.align_pairs(pairs)]
        ranking = evaluate(((g.sure, g.possible) for g in gold), predicted, worst=worst)
        chosen = [pairs[sentence.index] for sentence in ranking.worst]
    else:
        assert lines is not None
        wanted = set(lines)
        chosen, count = [], 0
        for pair in read_corpus((corpus,)):
            count = pair.index + 1
            if pair.index in wanted:
                chosen.append(pair)
                if len(chosen) == len(wanted):
                    break
        if len(chosen) < len(wanted):
            raise _past_the_end(lines, count, display_name(corpus))
    aligner.include_matrix = True
    views = []
    for result in aligner.align_pairs(chosen):
        if result.skipped is not None:
            raise CorpusError(
                f"pair too long for the model ({result.skipped})",
                path=display_name(corpus),
                line=result.pair.line_no,
            )
        gold_sentence = None
        if gold is not None:
            if result.pair.index >= len(gold):
                raise _past_the_end([result.pair.index], len(gold), "the gold file")
            gold_sentence = gold[result.pair.index]
        views.append(view_from_result(result, gold_sentence, value_name=value_name))
    return views


def _build_aligner(model: str, options: dict):
    """The aligner ``xalign extract`` would build for these options, and its score's name.

    A translation model is read through its cross-attention (``attention``), an
    encoder-only one through the similarity of its hidden states (``similarity``).
    """
    from align_cli.embedding import EmbeddingAligner
    from align_cli.pipeline import BatchingSettings
    from align_cli.runner import AlignerSpec, build_aligner

    settings = settings_from_options(
        options["preset"] or "default",
        layers=options["layers"],
        heads=options["heads"],
        **{key: options[key] for key in ("shift", "pooling", "method", "threshold", "symmetrize")},
    )
    spec = AlignerSpec(
        model=model,
        settings=settings,
        batching=BatchingSettings(),
        reverse_model=options["reverse_model"],
        device=options["device"],
        dtype=options["dtype"],
        src_lang=options["src_lang"],
        tgt_lang=options["tgt_lang"],
        source_prefix=options["source_prefix"],
        target_token=options["target_token"],
        include_matrix=True,
        # An encoder reads these instead of the settings; the attention path's options are
        # passed as given (None = not given) so that it can refuse them by name.
        embedding_options=tuple(
            (key, value) for key, value in options.items() if key not in ("device", "dtype")
        ),
    )
    aligner = build_aligner(spec)
    return aligner, "similarity" if isinstance(aligner, EmbeddingAligner) else "attention"


# --------------------------------------------------------------------------- command


@click.command("show")
@click.option(
    "-i",
    "--input",
    "corpus",
    type=click.Path(dir_okay=False),
    help="The 'source ||| target' corpus (needed with --model; optional when the "
    "alignment file carries the words, as JSONL does).",
)
@click.option(
    "-a",
    "--alignment",
    type=click.Path(dir_okay=False),
    help="Predicted links: Pharaoh, NAACL, GIZA A3 or xalign JSONL (JSONL written with "
    "--matrix also shades the cells).",
)
@click.option("--alignment-one-based", is_flag=True, help="The alignment file is 1-based.")
@click.option("--alignment-format", type=FORMAT_CHOICE, default="auto", show_default=True)
@click.option("-g", "--gold", type=click.Path(dir_okay=False), help="Gold links to compare with.")
@click.option(
    "--gold-one-based",
    is_flag=True,
    help="GOLD's indices start at 1 (true of the standard gold sets).",
)
@click.option("--gold-format", type=FORMAT_CHOICE, default="auto", show_default=True)
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
    type=click.Path(dir_okay=False),
    help="Write a figure (.png, .svg or .pdf; needs matplotlib) instead of the terminal view.",
)
@click.option("--title", help="A title above the figure.")
@click.option(
    "--preset", type=click.Choice(sorted(PRESETS)), help="Named settings (default: default)."
)
@aggregation_options
@click.option("--embedding-layer", type=int, help="Hidden layer compared, for encoder-only models.")
@click.option(
    "--granularity",
    type=click.Choice(["word", "subword"]),
    help="Compare words or subwords, for encoder-only models.",
)
@click.option(
    "--reverse-model",
    help="A target-to-source model whose links are symmetrised with --model's "
    "(needs --symmetrize).",
)
@click.option(
    "--symmetrize",
    type=click.Choice(SYMMETRIZATIONS),
    help="Combine two directions: the reverse model's, or the forward matrix's own two.",
)
@language_options
@device_options
@click.option("--quiet", "-q", is_flag=True, help="Do not print the signature or file notes.")
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
    lines = parse_line_numbers(lines_spec) if lines_spec else [0]

    if model is not None:
        aligner, value_name = _build_aligner(model, model_options)
        if not quiet:
            click.echo(f"xalign: signature {aligner.signature}", err=True)
        gold_sentences = None
        if gold is not None:
            gold_sentences = _gold_sentences(gold, gold_format, gold_one_based)
        views = views_from_model(
            aligner,
            corpus,
            lines=None if worst else lines,
            worst=worst or 0,
            gold=gold_sentences,
            value_name=value_name,
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
        )
        views = [found[index] for index in order]

    if output is not None:
        path = save_figure(views, output, title=title)
        if not quiet:
            click.echo(f"xalign: wrote {path} ({len(views)} pair(s))", err=True)
        return
    console = Console(file=sys.stdout, highlight=False)
    color = console.color_system is not None
    for view in views:
        console.print(render_terminal(view, width=console.width, color=color))
    console.print(render_legend(views, color=color))
