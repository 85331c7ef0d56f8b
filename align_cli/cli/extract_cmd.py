"""``xalign extract``: align a parallel corpus with a translation model."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from align_cli.cli.options import (
    aggregation_options,
    aligner_spec,
    device_options,
    language_options,
    model_path_options,
    preset_option,
)
from align_cli.errors import XalignError
from align_cli.io.corpus import count_pairs, open_binary, read_corpus
from align_cli.io.writer import RECORD_LINES, AlignmentWriter, Shard
from align_cli.settings import BatchingSettings
from align_cli.types import SentencePair

OUTPUT_FORMATS = tuple(RECORD_LINES)


@contextmanager
def _progress() -> Iterator[Callable[[int], None] | None]:
    """A pair counter on stderr, only when stderr is a terminal."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (SpinnerColumn(), TextColumn("{task.completed} pairs"), TimeElapsedColumn())
    with Progress(*columns, transient=True, console=Console(stderr=True)) as progress:
        task = progress.add_task("aligning", total=None)
        yield lambda pairs: progress.update(task, completed=pairs)


def _resume_command(args: list[str]) -> str:
    """The command line that continues this run: the same one, with --resume."""
    kept = [arg for arg in args if arg not in ("--force", "--resume")]
    return shlex.join(["xalign", *kept, "--resume"])


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
@preset_option("default")
@aggregation_options
@model_path_options
@language_options
@click.option(
    "--batch-size",
    type=int,
    default=BatchingSettings.batch_size,
    show_default=True,
    help="Pairs per batch at most (raise it on a GPU, e.g. 256).",
)
@click.option(
    "--max-tokens",
    type=int,
    default=BatchingSettings.max_tokens,
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
@device_options
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    help="CPU threads for torch (default: torch's choice, one per core). Use 1 per process "
    "when several xalign runs share a machine.",
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
@click.option(
    "--on-bad-line",
    type=click.Choice(["fail", "skip"]),
    default="fail",
    show_default=True,
    help="A 'source ||| target' line without exactly one '|||': stop with an error naming "
    "the line, or write an empty line for it and warn.",
)
@click.option(
    "--window",
    type=click.IntRange(min=1),
    default=2000,
    show_default=True,
    help="Pairs read, length-sorted and written together: the unit of batching, of "
    "--shard and of --resume.",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Continue an interrupted run from where its output ends (same options); a no-op "
    "when the output is complete, a fresh start when there is none.",
)
@click.option(
    "--shard",
    "shard_text",
    metavar="K/N",
    help="Align only the K-th of N contiguous slices of the corpus (whole windows), for job "
    "arrays; `cat` of the N outputs in order equals one run's output.",
)
@click.option(
    "--ray",
    "ray_address",
    is_flag=False,
    flag_value="local",
    default=None,
    metavar="[ADDRESS]",
    help="Align on Ray actors: a cluster address (host:port, ray://..., auto) or none to "
    "start Ray here. Put it after the input files. Needs pip install 'xalign[ray]'.",
)
@click.option(
    "--ray-actors",
    type=click.IntRange(min=1),
    help="Model replicas on the Ray cluster (default: one per GPU, else one per CPU).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Overwrite existing output files (and start an interrupted run again).",
)
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
    embedding_layer: int | None,
    granularity: str | None,
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
    threads: int | None,
    dtype: str,
    revision: str | None,
    trust_remote_code: bool,
    encoding_errors: str,
    on_bad_line: str,
    window: int,
    resume: bool,
    shard_text: str | None,
    ray_address: str | None,
    ray_actors: int | None,
    force: bool,
    quiet: bool,
) -> None:
    """Align a parallel corpus: SRC TGT (two line-aligned files) or -i 'src ||| tgt' lines.

    Writes one line per input pair (Pharaoh 'i-j', 0-based, source first), in input order.
    """
    from align_cli.jobs.local import (
        LocalBackend,
        RunInterrupted,
        WindowBackend,
        describe_run,
        run_alignment,
        stderr_announcer,
    )

    if ray_address is not None and Path(ray_address).is_file():
        # `--ray FILE ...`: click gives --ray's optional value the next argument.
        raise XalignError(
            f"--ray took {ray_address!r} as its address; put --ray after the input files, or "
            "give it an address (--ray auto)"
        )
    if joined is not None and inputs:
        raise XalignError(
            f"give either -i FILE ('source ||| target' lines) or SRC TGT files, not both "
            f"(-i {joined} and {' '.join(inputs)})"
        )
    if joined is not None:
        inputs = (joined,)
    if len(inputs) not in (1, 2):
        raise XalignError("give SRC TGT files, or -i FILE with 'source ||| target' lines")
    if inputs.count("-") > 1:
        raise XalignError("standard input can be read once: give '-' for one input at most")
    if matrix and output_format != "jsonl":
        raise XalignError(
            f"--matrix goes into JSONL output: add --format jsonl, not {output_format}"
        )
    shard = Shard.parse(shard_text) if shard_text is not None else None
    ctx = click.get_current_context()
    args: list[str] = (ctx.obj or {}).get("args", sys.argv[1:])
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    spec = aligner_spec(
        model,
        preset=preset,
        layers=layers,
        heads=heads,
        shift=shift,
        pooling=pooling,
        method=method,
        threshold=threshold,
        symmetrize=symmetrize,
        embedding_layer=embedding_layer,
        granularity=granularity,
        reverse_model=reverse_model,
        src_lang=src_lang,
        tgt_lang=tgt_lang,
        target_token=target_token,
        source_prefix=source_prefix,
        device=device,
        dtype=dtype,
        revision=revision,
        trust_remote_code=trust_remote_code,
        batching=BatchingSettings(
            batch_size=batch_size, max_tokens=max_tokens, window=window, max_length=max_length
        ),
        include_matrix=matrix and output_format == "jsonl",
    )

    # Everything that can be refused is refused before a model is loaded.
    for path in inputs:
        if path != "-":
            with open_binary(path):  # a missing or unreadable input fails here, by name
                pass
    pair_range = (0, None) if shard is None else shard.pair_range(count_pairs(inputs), window)

    writer = AlignmentWriter(
        output,
        scores_path,
        output_format=output_format,
        include_matrix=matrix,
        description=describe_run(
            spec,
            inputs=inputs,
            shard=shard,
            output_format=output_format,
            include_matrix=matrix,
            encoding_errors=encoding_errors,
            on_bad_line=on_bad_line,
        ),
        window=window,
        force=force,
        resume=resume,
    )
    if not writer.check():
        if not quiet:
            click.echo(f"xalign: {output} is already complete; nothing to resume", err=True)
        return

    backend: WindowBackend
    if ray_address is not None:
        from align_cli.jobs.ray import RayBackend, connect

        connect(ray_address)
        backend = RayBackend(spec, actors=ray_actors)
    else:
        from align_cli.aligners.factory import build_aligner

        backend = LocalBackend(build_aligner(spec))
    if not quiet:
        click.echo(f"xalign: signature {backend.signature}", err=True)

    bad_lines: list[int] = []

    def read_pairs(skip: int) -> Iterator[SentencePair]:
        start, stop = pair_range
        return read_corpus(
            inputs,
            encoding_errors=encoding_errors,
            start=start + skip,
            stop=stop,
            on_bad_line=(lambda line_no, _reason: bad_lines.append(line_no))
            if on_bad_line == "skip"
            else None,
        )

    writer.sign(backend.signature)
    try:
        with _progress() as on_window:
            summary = run_alignment(
                backend,
                read_pairs,
                writer,
                window=window,
                on_long=on_long,
                long_pair_path=inputs[0],
                on_window=on_window,
                announce=stderr_announcer,
            )
    except RunInterrupted as stop:
        where = (
            f"resume with: {_resume_command(args)}"
            if writer.resumable
            else "this output cannot be resumed (use -o FILE for that)"
        )
        click.echo(f"xalign: interrupted after {stop.pairs} pairs; {where}", err=True)
        sys.exit(stop.exit_code)
    if summary.already_complete:
        if not quiet:
            click.echo(f"xalign: {output} is already complete; nothing to resume", err=True)
        return
    if quiet:
        return
    for line_nos, what in (
        (summary.skipped_lines, "pair(s) longer than the model takes were left unaligned"),
        (bad_lines, "line(s) without exactly one '|||' were left unaligned"),
    ):
        if line_nos:
            shown = ", ".join(str(n) for n in line_nos[:20]) + (
                " ..." if len(line_nos) > 20 else ""
            )
            click.echo(
                f"xalign: warning: {len(line_nos)} {what} (empty lines); input lines: {shown}",
                err=True,
            )
    unaligned = len(summary.skipped_lines) + len(bad_lines)
    resumed = f" (resumed after {summary.pairs_before})" if summary.pairs_before else ""
    click.echo(
        f"xalign: aligned {summary.pairs_written - unaligned} of {summary.pairs_written} "
        f"pairs{resumed}",
        err=True,
    )
