"""``xalign sweep CORPUS GOLD --model M``: AER of every decoder layer and head."""

from __future__ import annotations

import json
import shlex
import sys
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from align_cli.cli.options import device_options, hub_options, language_options
from align_cli.errors import XalignError
from align_cli.io.files import check_paths, stdout_errors
from align_cli.io.formats import AUTO, READ_CHOICES
from align_cli.settings import EXTRACTION_METHODS, POOLINGS, BatchingSettings

if TYPE_CHECKING:
    from align_cli.tools.sweep import SweepResult, SweepRow

SHIFT_CHOICES = {"both": (False, True), "no": (False,), "yes": (True,)}


@click.command("sweep")
@click.argument("corpus", metavar="CORPUS")
@click.argument("gold", metavar="GOLD")
@click.option(
    "-m",
    "--model",
    required=True,
    help="Local folder, hub id (Helsinki-NLP/opus-mt-en-fr) or opus-mt-xx-yy.",
)
@click.option(
    "--gold-one-based",
    is_flag=True,
    help="GOLD's indices start at 1 (true of the standard gold sets). Default: 0-based.",
)
@click.option(
    "--gold-format",
    type=click.Choice(READ_CHOICES),
    default=AUTO,
    show_default=True,
)
@click.option(
    "--shift",
    type=click.Choice(sorted(SHIFT_CHOICES)),
    default="both",
    show_default=True,
    help="Score without Shift-Att, with it, or both.",
)
@click.option(
    "--pooling",
    type=click.Choice(POOLINGS),
    default="mean",
    show_default=True,
    help="How subword pieces are pooled into words.",
)
@click.option(
    "--method",
    type=click.Choice(sorted(EXTRACTION_METHODS)),
    default="argmax",
    show_default=True,
    help="The extraction every setting is scored with.",
)
@language_options
@click.option(
    "--top",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Rows of the table to show (the JSON output has all of them).",
)
@click.option(
    "--batch-size", type=int, default=16, show_default=True, help="Pairs per batch at most."
)
@click.option(
    "--max-tokens",
    type=int,
    default=4000,
    show_default=True,
    help="Padded tokens (source + target) per batch at most.",
)
@device_options
@hub_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
def sweep_command(
    corpus: str,
    gold: str,
    model: str,
    gold_one_based: bool,
    gold_format: str,
    shift: str,
    pooling: str,
    method: str,
    src_lang: str | None,
    tgt_lang: str | None,
    target_token: str | None,
    source_prefix: str | None,
    top: int,
    batch_size: int,
    max_tokens: int,
    device: str,
    dtype: str,
    revision: str | None,
    trust_remote_code: bool,
    as_json: bool,
) -> None:
    """Score every decoder layer and head against GOLD and name the best setting.

    CORPUS has one 'source ||| target' pair per line; GOLD is the line-aligned gold
    alignment (Pharaoh/talp: i-j sure, ipj possible). Each layer's heads one by one and
    their mean, without and with Shift-Att, are scored with --method extraction (AER,
    precision, recall), from one forward pass per batch; the best setting is printed with
    the `xalign extract` options that reproduce it.
    """
    if batch_size < 1 or max_tokens < 1:
        raise XalignError("--batch-size and --max-tokens must be positive")
    named_inputs = [("CORPUS", corpus), ("GOLD", gold)]
    check_paths(named_inputs, [("standard output", "-")], model_folders=[model])
    from align_cli.io.corpus import display_name, read_corpus
    from align_cli.io.formats import read_alignments, readable_format
    from align_cli.model.loading import load_model
    from align_cli.tools.sweep import sweep

    gold_fmt = readable_format(gold_format, gold)
    loaded = load_model(
        model, device=device, dtype=dtype, revision=revision, trust_remote_code=trust_remote_code
    )
    result = sweep(
        loaded,
        read_corpus((corpus,), option_hints=False),
        read_alignments(gold, gold_fmt, one_based=gold_one_based),
        gold_name=display_name(gold),
        gold_one_based=gold_one_based,
        watch_index_zero=gold_fmt.takes_one_based and not gold_one_based,
        shifts=SHIFT_CHOICES[shift],
        pooling=pooling,
        method=method,
        batching=BatchingSettings(batch_size=batch_size, max_tokens=max_tokens),
        src_lang=src_lang,
        tgt_lang=tgt_lang,
        source_prefix=source_prefix,
        target_language_token=target_token,
    )
    language_options = []
    for option, value in (
        ("--src-lang", src_lang),
        ("--tgt-lang", tgt_lang),
        ("--target-token", target_token),
        ("--source-prefix", source_prefix),
        ("--revision", revision),
    ):
        if value is not None:
            language_options += [option, value]
    command = ["xalign", "extract", "-i", corpus, "--model", model]
    command += result.best.setting.extract_options(result.pooling, result.method)
    command += language_options
    if result.skipped:
        shown = ", ".join(str(n) for n in result.skipped[:20])
        more = " ..." if len(result.skipped) > 20 else ""
        click.echo(
            f"xalign: warning: {len(result.skipped)} pair(s) longer than the model takes "
            f"count as unaligned; corpus lines: {shown}{more}",
            err=True,
        )
    for warning in result.warnings:
        click.echo(f"xalign: warning: {warning}", err=True)
    with stdout_errors():
        if as_json:
            payload = result.to_dict()
            payload["model"] = model
            payload["extract_command"] = shlex.join(command)
            click.echo(json.dumps(payload))
        else:
            print_result(result, top, command)


def print_result(result: SweepResult, top: int, command: list[str]) -> None:
    """The table, the best setting and the command that reproduces it."""
    console = Console(file=sys.stdout, highlight=False)
    console.print(sweep_table(result, top))
    best = result.best
    console.print(
        Text(
            f"best: {describe(best, result.num_layers)}: AER {_percent(best.counts.aer)}%, "
            f"precision {_percent(best.counts.precision)}%, "
            f"recall {_percent(best.counts.recall)}%"
        ),
        soft_wrap=True,
    )
    # Text, not a string: paths may contain "[", which rich would read as markup; and not
    # wrapped, so that the command can be copied whole.
    console.print(Text(f"reproduce: {shlex.join(command)}"), soft_wrap=True)


def _percent(value: float) -> str:
    return f"{100 * value:.2f}"


def describe(row: SweepRow, num_layers: int) -> str:
    setting = row.setting
    heads = "heads mean" if setting.head is None else f"head {setting.head}"
    shift = "shift" if setting.shift else "no shift"
    return f"layer {setting.layer} ({setting.layer - num_layers}), {heads}, {shift}"


def sweep_table(result: SweepResult, top: int) -> Table:
    shown = result.rows[:top]
    table = Table(
        title=(
            f"{len(result.rows)} settings on {result.sentences} sentences "
            f"({result.num_layers} layers x {result.num_heads} heads, pooling {result.pooling}, "
            f"{result.method}), best first"
            + (f"; top {len(shown)} shown" if len(shown) < len(result.rows) else "")
        ),
    )
    for name in ("rank", "layer", "heads", "shift", "AER %", "P %", "R %", "|A|"):
        table.add_column(name, justify="right")
    for rank, row in enumerate(shown, start=1):
        setting = row.setting
        table.add_row(
            str(rank),
            f"{setting.layer} ({setting.layer - result.num_layers})",
            "mean" if setting.head is None else str(setting.head),
            "yes" if setting.shift else "no",
            _percent(row.counts.aer),
            _percent(row.counts.precision),
            _percent(row.counts.recall),
            str(row.counts.predicted),
        )
    return table
