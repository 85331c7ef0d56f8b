"""``xalign extract``: align a parallel corpus with a translation model."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from align_cli.cli.options import (
    AUTO_PRESET,
    aggregation_options,
    aligner_spec,
    batching_options,
    device_options,
    hub_options,
    language_options,
    model_path_options,
    preset_option,
)
from align_cli.cli.run_display import progress, quiet_after_stop, resume_command
from align_cli.cli.text_options import flags_option, input_format_option, tokenize_option
from align_cli.errors import XalignError
from align_cli.io import files
from align_cli.io.corpus import count_pairs, read_corpus
from align_cli.io.live import LineFeed, is_live
from align_cli.io.outputs import output_paths
from align_cli.io.sources import refuse_streams
from align_cli.io.writer import RECORD_LINES, AlignmentWriter, InputFingerprint, Shard
from align_cli.settings import BatchingSettings, TeacherSpec
from align_cli.signature import with_tokenize
from align_cli.types import SentencePair

OUTPUT_FORMATS = tuple(RECORD_LINES)


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
@preset_option(None, auto=True)
@aggregation_options
@model_path_options
@language_options
@batching_options
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
@hub_options
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
@click.option(
    "--auto-teacher",
    type=click.Path(dir_okay=False),
    help="--preset auto: an alignment file (any format xalign reads, line-aligned with the "
    "input) to agree with, instead of running eflomal on the input.",
)
@click.option(
    "--auto-pairs",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="--preset auto: the first N pairs are scored (eflomal aligns 20 times as many).",
)
@click.option("--quiet", "-q", is_flag=True, help="Do not print the signature and summary.")
@tokenize_option
@flags_option
@input_format_option
def extract(
    inputs: tuple[str, ...],
    joined: str | None,
    model: str,
    output: str | None,
    output_format: str,
    scores_path: str | None,
    matrix: bool,
    batch_size: int,
    max_tokens: int,
    max_length: int | None,
    on_long: str,
    threads: int | None,
    encoding_errors: str,
    on_bad_line: str,
    window: int,
    resume: bool,
    shard_text: str | None,
    ray_address: str | None,
    ray_actors: int | None,
    force: bool,
    quiet: bool,
    auto_teacher: str | None = None,
    auto_pairs: int = 1000,
    tokenize: str = "whitespace",
    flags: bool = False,
    input_format: str = "text",
    **model_options: Any,
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
    if input_format == "jsonl":
        if len(inputs) != 1:
            raise XalignError("--input-format jsonl reads one file (or -) of requests: -i FILE")
        format_given = click.get_current_context().get_parameter_source("output_format")
        if output_format != "jsonl" and format_given != click.core.ParameterSource.DEFAULT:
            raise XalignError(
                f"--input-format jsonl is answered in JSONL (with each request's id), not "
                f"{output_format}: drop --format or give --format jsonl"
            )
        output_format = "jsonl"
    if flags and output_format != "jsonl":
        raise XalignError(f"--flags go into JSONL output: add --format jsonl, not {output_format}")
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
        **model_options,
        batching=BatchingSettings(
            batch_size=batch_size, max_tokens=max_tokens, window=window, max_length=max_length
        ),
        include_matrix=matrix and output_format == "jsonl",
    )

    # Everything that can be refused is refused before a file is opened or removed and
    # before a model is loaded.
    labels = ("-i",) if joined is not None else ("SRC", "TGT")
    files.check_paths(
        list(zip(labels, inputs, strict=False)),
        [("-o", output or "-"), ("--scores", scores_path)],
        also_written=output_paths(output, scores_path),
        model_folders=(model, model_options["reverse_model"]),
    )
    if shard is not None:
        refuse_streams(inputs, f"--shard {shard_text} counts the lines first")
    pair_range = (0, None) if shard is None else shard.pair_range(count_pairs(inputs), window)
    # What --resume checks the inputs against (an output that can be resumed only).
    fingerprint = InputFingerprint.for_output(output, inputs, window, pair_range, shard)

    if model_options["preset"] == AUTO_PRESET:
        from align_cli.tools.auto import EFLOMAL_MIN_PAIRS, choose_spec

        spec, choice = choose_spec(
            spec,
            inputs,
            teacher=TeacherSpec(auto_teacher) if auto_teacher else TeacherSpec(),
            sample=auto_pairs,
        )
        if not quiet:
            best = choice.rows[0].agreement
            click.echo(
                f"xalign: auto: {spec.settings.describe()}: agrees with {choice.teacher} on "
                f"{choice.sentences} pairs at F1 {100 * best.f1:.2f}% (best of "
                f"{len(choice.rows)} settings)",
                err=True,
            )
            if choice.teacher_pairs is not None and choice.teacher_pairs < EFLOMAL_MIN_PAIRS:
                click.echo(
                    f"xalign: warning: eflomal learned from {choice.teacher_pairs} pairs only; "
                    "on so little text its links, and this choice, are unreliable: give a "
                    "bigger corpus or --auto-teacher FILE",
                    err=True,
                )
    elif auto_teacher is not None:
        raise XalignError("--auto-teacher is for --preset auto")

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
            tokenize=tokenize,
            flags=flags,
            input_format=input_format,
        ),
        window=window,
        flags=flags,
        force=force,
        resume=resume,
        inputs=fingerprint,
    )
    with writer:  # unlocks the output however the run ends
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
        signature = with_tokenize(backend.signature, tokenize)
        if not quiet:
            click.echo(f"xalign: signature {signature}", err=True)

        bad_lines: list[int] = []
        # A pipe or a terminal is answered line by line (io/live.py); files keep windows.
        feed = (
            LineFeed.open(inputs[0])
            if len(inputs) == 1 and shard is None and is_live(inputs[0])
            else None
        )

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
                tap=None if fingerprint is None else fingerprint.tap,
                tokenize=tokenize,
                source=feed,
                requests=input_format == "jsonl",
            )

        writer.sign(signature)
        # The resume line must come out even if Ctrl-C is pressed again meanwhile.
        with quiet_after_stop() as announce:
            try:
                with progress() as on_window:
                    summary = run_alignment(
                        backend,
                        read_pairs,
                        writer,
                        window=window,
                        on_long=on_long,
                        long_pair_path=inputs[0],
                        on_window=on_window,
                        announce=announce,
                        waiting=None if feed is None else feed.waiting,
                    )
            except RunInterrupted as stop:
                where = (
                    f"resume with: {resume_command(args)}"
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
            (
                bad_lines,
                "line(s) that are not requests were left unaligned"
                if input_format == "jsonl"
                else "line(s) without exactly one '|||' were left unaligned",
            ),
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
