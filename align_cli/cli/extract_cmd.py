"""``xalign extract``: align a parallel corpus with a translation model."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import TextIO

import click

from align_cli.corpus import read_corpus
from align_cli.errors import XalignError
from align_cli.extraction import METHODS
from align_cli.formats import format_giza_a3, format_jsonl, format_pharaoh, format_scores
from align_cli.model import load_model
from align_cli.pipeline import Aligner, BatchingSettings, BidirectionalAligner
from align_cli.presets import PRESETS, parse_heads, parse_layers, resolve_settings
from align_cli.symmetrize import METHODS as SYMMETRIZATIONS
from align_cli.types import AlignmentResult

OUTPUT_FORMATS = ("pharaoh", "jsonl", "giza")


def _open_output(path: str | None, force: bool, stack: ExitStack) -> TextIO:
    if path is None or path == "-":
        return sys.stdout
    if Path(path).exists() and not force:
        raise XalignError(f"{path} exists; pass --force to overwrite it")
    return stack.enter_context(open(path, "w", encoding="utf-8", newline="\n"))


def _with_progress(results: Iterator[AlignmentResult]) -> Iterator[AlignmentResult]:
    """Show a spinner with a pair count on stderr, only when stderr is a terminal."""
    if not sys.stderr.isatty():
        yield from results
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (SpinnerColumn(), TextColumn("{task.completed} pairs"), TimeElapsedColumn())
    with Progress(*columns, transient=True, console=_stderr_console()) as progress:
        task = progress.add_task("aligning", total=None)
        for result in results:
            yield result
            progress.advance(task)


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True)


@click.command()
@click.argument("inputs", nargs=-1, type=click.Path(allow_dash=True))
@click.option(
    "-i",
    "--input",
    "joined",
    type=click.Path(allow_dash=True),
    help="A file of 'source ||| target' lines ('-' for stdin).",
)
@click.option(
    "-m",
    "--model",
    required=True,
    help="Local folder, hub id (Helsinki-NLP/opus-mt-en-fr) or opus-mt-xx-yy.",
)
@click.option(
    "-o", "--output", type=click.Path(allow_dash=True), help="Output file (default stdout)."
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(OUTPUT_FORMATS),
    default="pharaoh",
    show_default=True,
    help="Pharaoh 'i-j' lines, JSON lines, or GIZA++ A3.",
)
@click.option(
    "--scores",
    "scores_path",
    type=click.Path(),
    help="Also write each link's probability, one line per pair, in link order.",
)
@click.option(
    "--matrix/--no-matrix",
    default=False,
    help="Put the word-level attention matrix into JSONL output.",
)
@click.option(
    "--preset",
    type=click.Choice(sorted(PRESETS)),
    default="default",
    show_default=True,
    help="Named settings; the options below override single fields.",
)
@click.option("--layers", help="Decoder layer(s): -2, 3, 2,3 or a range 2:5 (averaged).")
@click.option("--heads", help="'mean' or head indices such as 0 or 0,3 (averaged).")
@click.option("--shift/--no-shift", default=None, help="Shift-Att (Chen et al. 2020).")
@click.option(
    "--pooling",
    type=click.Choice(["mean", "max", "sum"]),
    help="How subword pieces are pooled into words.",
)
@click.option(
    "--method",
    "--extraction",
    "method",
    type=click.Choice(sorted(METHODS)),
    help="How links are read off the word matrix.",
)
@click.option("--threshold", type=float, help="Score above which --method threshold links.")
@click.option(
    "--reverse-model",
    help="A target-to-source model (e.g. opus-mt-fr-en) whose alignments are symmetrised "
    "with the forward model's (needs --symmetrize).",
)
@click.option(
    "--symmetrize",
    type=click.Choice(SYMMETRIZATIONS),
    help="Combine two directions: the reverse model's, or else the two directions of the "
    "forward model's own matrix.",
)
@click.option("--src-lang", help="Source language code (M2M100, NLLB, mBART-50).")
@click.option("--tgt-lang", help="Target language code (M2M100, NLLB, mBART-50).")
@click.option(
    "--target-token", help="Target language token for multilingual OPUS-MT, e.g. >>fra<<."
)
@click.option(
    "--source-prefix", help="Task prefix for T5-style models, e.g. 'translate English to French:'."
)
@click.option(
    "--batch-size", type=int, default=64, show_default=True, help="Pairs per batch at most."
)
@click.option(
    "--max-tokens",
    type=int,
    default=6000,
    show_default=True,
    help="Padded tokens (source + target) per batch at most.",
)
@click.option(
    "--max-length", type=int, help="Tokens per side at most (default: the model's limit)."
)
@click.option(
    "--on-long",
    type=click.Choice(["skip", "fail"]),
    default="skip",
    show_default=True,
    help="A pair longer than the model takes: write an empty line and warn, or stop.",
)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option(
    "--dtype",
    default="auto",
    show_default=True,
    help="auto (float32 on CPU, bfloat16 on GPU), float32, bfloat16, float16.",
)
@click.option("--revision", help="Model revision (branch, tag or commit) on the hub.")
@click.option(
    "--trust-remote-code", is_flag=True, help="Allow model code from the hub (off by default)."
)
@click.option(
    "--encoding-errors",
    type=click.Choice(["strict", "replace"]),
    default="strict",
    show_default=True,
    help="Invalid UTF-8 in the input: stop with an error, or replace.",
)
@click.option("--force", is_flag=True, help="Overwrite existing output files.")
@click.option("--quiet", "-q", is_flag=True, help="Do not print the signature and summary.")
def extract(
    inputs: tuple[str, ...],
    joined: str | None,
    model: str,
    output: str | None,
    output_format: str,
    scores_path: str | None,
    matrix: bool,
    preset: str,
    layers: str | None,
    heads: str | None,
    shift: bool | None,
    pooling: str | None,
    method: str | None,
    threshold: float | None,
    reverse_model: str | None,
    symmetrize: str | None,
    src_lang: str | None,
    tgt_lang: str | None,
    target_token: str | None,
    source_prefix: str | None,
    batch_size: int,
    max_tokens: int,
    max_length: int | None,
    on_long: str,
    device: str,
    dtype: str,
    revision: str | None,
    trust_remote_code: bool,
    encoding_errors: str,
    force: bool,
    quiet: bool,
) -> None:
    """Align a parallel corpus: SRC TGT (two line-aligned files) or -i 'src ||| tgt' lines.

    Writes one line per input pair (Pharaoh 'i-j', 0-based, source first), in input order.
    """
    if joined is not None:
        inputs = (joined, *inputs)
    if len(inputs) not in (1, 2):
        raise XalignError("give SRC TGT files, or -i FILE with 'source ||| target' lines")
    overrides: dict[str, object] = {}
    if layers is not None:
        overrides["layers"] = parse_layers(layers)
    if heads is not None:
        overrides["heads"] = parse_heads(heads)
    for key, value in (
        ("shift", shift),
        ("pooling", pooling),
        ("method", method),
        ("threshold", threshold),
        ("symmetrize", symmetrize),
    ):
        if value is not None:
            overrides[key] = value
    settings = resolve_settings(preset, **overrides)
    pairs = read_corpus(inputs, encoding_errors=encoding_errors)

    loaded = load_model(
        model, device=device, dtype=dtype, revision=revision, trust_remote_code=trust_remote_code
    )
    batching = BatchingSettings(batch_size=batch_size, max_tokens=max_tokens, max_length=max_length)
    include_matrix = matrix and output_format == "jsonl"
    aligner: Aligner | BidirectionalAligner = Aligner(
        loaded,
        settings,
        batching,
        src_lang=src_lang,
        tgt_lang=tgt_lang,
        source_prefix=source_prefix,
        target_language_token=target_token,
        include_matrix=include_matrix,
    )
    if reverse_model is not None:
        reverse_loaded = load_model(
            reverse_model, device=device, dtype=dtype, trust_remote_code=trust_remote_code
        )
        # The reverse model reads the target side as its source: languages swap.
        reverse = Aligner(
            reverse_loaded,
            settings,
            batching,
            src_lang=tgt_lang,
            tgt_lang=src_lang,
            include_matrix=include_matrix,
        )
        aligner = BidirectionalAligner(aligner, reverse)
    if not quiet:
        click.echo(f"xalign: {aligner.signature}", err=True)

    skipped: list[int] = []
    written = 0
    with ExitStack() as stack:
        out = _open_output(output, force, stack)
        scores_out = _open_output(scores_path, force, stack) if scores_path else None
        for result in _with_progress(aligner.align_pairs(pairs)):
            if result.skipped is not None:
                if on_long == "fail":
                    raise XalignError(
                        f"pair too long ({result.skipped}); shorten it, raise "
                        "--max-length or use --on-long skip",
                        path=inputs[0],
                        line=result.pair.line_no,
                    )
                skipped.append(result.pair.line_no)
            if output_format == "pharaoh":
                out.write(format_pharaoh(result.links) + "\n")
            elif output_format == "jsonl":
                out.write(
                    format_jsonl(result, include_matrix=matrix, signature=aligner.signature) + "\n"
                )
            else:
                out.write(format_giza_a3(result, result.pair.index + 1) + "\n")
            if scores_out is not None:
                scores_out.write(format_scores(result.scores) + "\n")
            written += 1
        out.flush()
    if skipped and not quiet:
        shown = ", ".join(str(n) for n in skipped[:20]) + (" ..." if len(skipped) > 20 else "")
        click.echo(
            f"xalign: warning: {len(skipped)} pair(s) longer than the model takes were "
            f"left unaligned (empty lines); input lines: {shown}",
            err=True,
        )
    if not quiet:
        click.echo(f"xalign: aligned {written - len(skipped)} of {written} pairs", err=True)
