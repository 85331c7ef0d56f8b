"""``xalign train``: teach a translation model's head to align on your own corpus."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from align_cli.cli.options import device_options
from align_cli.errors import XalignError
from align_cli.io.formats import READ_FORMATS
from align_cli.settings import (
    EXTRACTION_METHODS,
    SYMMETRIZATIONS,
    TEACHER_KINDS,
    TRAINING_SCOPES,
    TeacherSpec,
    TrainingSettings,
)

DEFAULTS = TrainingSettings()


@contextmanager
def _progress_bar(quiet: bool) -> Iterator[Callable[[object], None] | None]:
    """A bar with pairs, loss and ETA on a terminal; nothing otherwise."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("training"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("pairs  step {task.fields[step]}  loss {task.fields[loss]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("training", total=None, step=0, loss="-")

        def update(progress: object) -> None:
            loss = getattr(progress, "alignment_loss", None)
            bar.update(
                task,
                completed=getattr(progress, "pairs_seen", 0),
                total=getattr(progress, "pairs_total", None),
                step=getattr(progress, "step", 0),
                loss="-" if loss is None else f"{loss:.3f}",
            )

        yield update


def _resume_command(args: list[str]) -> str:
    kept = [arg for arg in args if arg not in ("--force", "--resume")]
    return shlex.join(["xalign", *kept, "--resume"])


@click.command("train")
@click.argument("inputs", nargs=-1, type=click.Path())
@click.option(
    "-i", "--input", "joined", type=click.Path(), help="A file of 'source ||| target' lines."
)
@click.option(
    "-m",
    "--model",
    required=True,
    help="The translation model to teach: a local folder, hub id or opus-mt-xx-yy.",
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder for the trained model (save_pretrained layout, plus xalign.json).",
)
@click.option(
    "--teacher",
    default="eflomal",
    show_default=True,
    help="Where the taught links come from: eflomal (run on the corpus; pip install "
    "'xalign[train]'), self (the model's own links), or an alignment FILE "
    "line-aligned with the corpus (fast_align, GIZA++, awesome-align, gold...).",
)
@click.option(
    "--teacher-format",
    type=click.Choice(("auto", *READ_FORMATS)),
    default="auto",
    show_default=True,
    help="Format of a teacher FILE.",
)
@click.option("--teacher-one-based", is_flag=True, help="A teacher FILE's indices start at 1.")
@click.option("--teacher-reverse", is_flag=True, help="A teacher FILE is target first (j-i links).")
@click.option(
    "--teacher-symmetrize",
    type=click.Choice((*SYMMETRIZATIONS, "forward", "reverse")),
    default=TeacherSpec.symmetrize,
    show_default=True,
    help="How eflomal's two directions are combined.",
)
@click.option(
    "--layer",
    type=int,
    default=DEFAULTS.layer,
    show_default=True,
    help="Decoder layer of the taught head (negative: from the end).",
)
@click.option("--head", type=int, default=DEFAULTS.head, show_default=True, help="The taught head.")
@click.option(
    "--scope",
    type=click.Choice(sorted(TRAINING_SCOPES)),
    default=DEFAULTS.scope,
    show_default=True,
    help="What learns: head (the layer's cross-attention query/key projections), layer, or model.",
)
@click.option(
    "--shift/--no-shift",
    default=DEFAULTS.shift,
    show_default=True,
    help="Teach and read each target word at the row where it is the decoder's input "
    "(Shift-Att) instead of the row that predicts it.",
)
@click.option(
    "--null/--no-null",
    default=DEFAULTS.null,
    show_default=True,
    help="Teach words the teacher leaves unaligned to attend to the source's </s>, and "
    "read such words as unaligned.",
)
@click.option(
    "--translation-weight",
    type=click.FloatRange(min=0),
    default=DEFAULTS.translation_weight,
    show_default=True,
    help="Weight of the translation loss beside the alignment loss (0: alignment only; "
    "> 0 keeps a model whose head changes a translator).",
)
@click.option("--epochs", type=click.IntRange(min=1), default=DEFAULTS.epochs, show_default=True)
@click.option("--max-steps", type=click.IntRange(min=1), help="Stop after this many steps at most.")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=DEFAULTS.batch_size,
    show_default=True,
    help="Pairs per step at most.",
)
@click.option(
    "--max-tokens",
    type=click.IntRange(min=1),
    default=DEFAULTS.max_tokens,
    show_default=True,
    help="Padded tokens (source + target) per step at most.",
)
@click.option(
    "--learning-rate",
    "--lr",
    "learning_rate",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULTS.learning_rate,
    show_default=True,
)
@click.option("--seed", type=int, default=DEFAULTS.seed, show_default=True)
@click.option(
    "--checkpoint-every",
    type=click.IntRange(min=1),
    default=DEFAULTS.checkpoint_every,
    show_default=True,
    help="Steps between checkpoints (what --resume continues from).",
)
@click.option(
    "--method",
    type=click.Choice(sorted(EXTRACTION_METHODS)),
    help="The extraction the trained model records for xalign extract (default: the one "
    "whose links agree best with the teacher's on the first --calibration-pairs pairs).",
)
@click.option(
    "--calibration-pairs",
    type=click.IntRange(min=1),
    default=DEFAULTS.calibration_pairs,
    show_default=True,
    help="Pairs the extraction is chosen on.",
)
@click.option(
    "--threshold",
    type=float,
    default=DEFAULTS.threshold,
    show_default=True,
    help="For --method threshold.",
)
@device_options
@click.option(
    "--threads", type=click.IntRange(min=1), help="CPU threads for torch (default: torch's)."
)
@click.option(
    "--resume", is_flag=True, help="Continue an interrupted run from its last checkpoint."
)
@click.option("--force", is_flag=True, help="Replace an existing output folder.")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors.")
def train_command(
    inputs: tuple[str, ...],
    joined: str | None,
    model: str,
    output: str,
    teacher: str,
    teacher_format: str,
    teacher_one_based: bool,
    teacher_reverse: bool,
    teacher_symmetrize: str,
    layer: int,
    head: int,
    scope: str,
    shift: bool,
    null: bool,
    translation_weight: float,
    epochs: int,
    max_steps: int | None,
    batch_size: int,
    max_tokens: int,
    learning_rate: float,
    seed: int,
    checkpoint_every: int,
    method: str | None,
    calibration_pairs: int,
    threshold: float,
    device: str,
    dtype: str,
    threads: int | None,
    resume: bool,
    force: bool,
    quiet: bool,
) -> None:
    """Teach a translation model to align on a parallel corpus, no gold needed.

    The corpus is SRC TGT (two line-aligned files) or -i 'source ||| target' lines. A
    cross-attention head (default: head 0 of the first decoder layer) is trained on the
    teacher's word links (guided alignment); the trained model, saved to --output,
    records how to read it, so `xalign extract --model OUTPUT` needs no options.
    """
    if joined is not None and inputs:
        raise XalignError("give either -i FILE or SRC TGT files, not both")
    corpus = (joined,) if joined is not None else inputs
    if len(corpus) not in (1, 2):
        raise XalignError("give SRC TGT files, or -i FILE with 'source ||| target' lines")
    for path in corpus:
        if path == "-" or not Path(path).is_file():
            raise XalignError(f"{path}: no such file (training reads the corpus from files)")
    if teacher not in TEACHER_KINDS and not Path(teacher).is_file():
        raise XalignError(
            f"--teacher {teacher!r} is neither {' nor '.join(TEACHER_KINDS)} nor a file"
        )
    settings = TrainingSettings(
        layer=layer,
        head=head,
        scope=scope,
        shift=shift,
        null=null,
        translation_weight=translation_weight,
        epochs=epochs,
        max_steps=max_steps,
        batch_size=batch_size,
        max_tokens=max_tokens,
        learning_rate=learning_rate,
        seed=seed,
        checkpoint_every=checkpoint_every,
        method=method,
        threshold=threshold,
        calibration_pairs=calibration_pairs,
    )
    teacher_spec = TeacherSpec(
        source=teacher,
        format=teacher_format,
        one_based=teacher_one_based,
        reverse=teacher_reverse,
        symmetrize=teacher_symmetrize,
    )
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    from align_cli.training.trainer import train

    ctx = click.get_current_context()
    args: list[str] = (ctx.obj or {}).get("args", sys.argv[1:])
    last_step = [0]

    def say(message: str) -> None:
        if not quiet:
            click.echo(f"xalign: {message}", err=True)

    try:
        with _progress_bar(quiet) as bar:

            def on_progress(progress: object) -> None:
                last_step[0] = getattr(progress, "step", 0)
                if bar is not None:
                    bar(progress)

            summary = train(
                model,
                corpus,
                output,
                settings=settings,
                teacher=teacher_spec,
                resume=resume,
                force=force,
                device=device,
                dtype=dtype,
                on_progress=on_progress,
                on_status=say,
            )
    except KeyboardInterrupt:
        click.echo(
            f"xalign: interrupted at step {last_step[0]}; the last checkpoint is kept "
            f"(every {checkpoint_every} steps); resume with: {_resume_command(args)}",
            err=True,
        )
        sys.exit(130)
    if summary.already_complete:
        say(f"{output} is already trained; nothing to resume")
        return
    if quiet:
        return
    skipped = summary.skipped_empty + summary.skipped_too_long
    resumed = f", resumed at step {summary.resumed_from}" if summary.resumed_from else ""
    loss = "-" if summary.alignment_loss is None else f"{summary.alignment_loss:.4f}"
    say(
        f"trained {summary.steps} steps on {summary.pairs_seen} pairs in "
        f"{summary.seconds:.0f} s{resumed}; alignment loss {loss}"
        + (f"; {skipped} pair(s) skipped (empty or too long)" if skipped else "")
    )
    say(
        f"saved {output}: xalign extract --model {shlex.quote(output)} reads it with "
        f"{summary.settings.describe()}"
    )
