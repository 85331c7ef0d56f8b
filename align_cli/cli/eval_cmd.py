"""``xalign eval GOLD PRED``: AER, precision, recall and F1 of an alignment file."""

from __future__ import annotations

import json
import sys

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from align_cli.io.files import check_paths, stdout_errors
from align_cli.io.formats import AUTO, READ_CHOICES
from align_cli.signature import evaluation_signature
from align_cli.tools.evaluate import EvaluationResult, SentenceScore, evaluate_files
from align_cli.types import Link

FORMAT_CHOICE = click.Choice(READ_CHOICES)


@click.command("eval")
@click.argument("gold", metavar="GOLD")
@click.argument("pred", metavar="PRED")
@click.option(
    "--gold-one-based",
    is_flag=True,
    help="GOLD's indices start at 1 (true of the standard gold sets). Default: 0-based.",
)
@click.option("--pred-one-based", is_flag=True, help="PRED's indices start at 1. Default: 0-based.")
@click.option("--reverse-gold", is_flag=True, help="GOLD is written target first: swap its sides.")
@click.option("--reverse-pred", is_flag=True, help="PRED is written target first: swap its sides.")
@click.option("--all-sure", is_flag=True, help="Count every possible gold link as sure.")
@click.option("--ignore-possible", is_flag=True, help="Drop the possible-only gold links.")
@click.option(
    "--per-sentence",
    "worst",
    type=click.IntRange(min=0),
    default=0,
    metavar="N",
    help="Also list the N sentences with the highest AER.",
)
@click.option(
    "--corpus",
    metavar="SRC-TGT",
    help="The 'source ||| target' corpus: every index is checked against its sentence, and "
    "--per-sentence shows the words.",
)
@click.option("--gold-format", type=FORMAT_CHOICE, default=AUTO, show_default=True)
@click.option("--pred-format", type=FORMAT_CHOICE, default=AUTO, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
def eval_command(
    gold: str,
    pred: str,
    gold_one_based: bool,
    pred_one_based: bool,
    reverse_gold: bool,
    reverse_pred: bool,
    all_sure: bool,
    ignore_possible: bool,
    worst: int,
    corpus: str | None,
    gold_format: str,
    pred_format: str,
    as_json: bool,
) -> None:
    """Score PRED against GOLD: AER (Och & Ney 2003), precision, recall, F1, micro-averaged.

    Both files have one sentence pair per line (Pharaoh/talp: i-j sure, ipj possible) or
    are NAACL, GIZA A3 or JSONL files. Pharaoh files are read 0-based unless told
    otherwise: the standard gold sets are 1-based, so they need --gold-one-based.
    """
    named_inputs = [("GOLD", gold), ("PRED", pred), ("--corpus", corpus)]
    check_paths(named_inputs, [("standard output", "-")])
    result = evaluate_files(
        gold,
        pred,
        gold_format=gold_format,
        pred_format=pred_format,
        gold_one_based=gold_one_based,
        pred_one_based=pred_one_based,
        reverse_gold=reverse_gold,
        reverse_pred=reverse_pred,
        all_sure=all_sure,
        ignore_possible=ignore_possible,
        corpus_path=corpus,
        worst=worst,
    )
    signature = evaluation_signature(
        gold_one_based=gold_one_based,
        pred_one_based=pred_one_based,
        reverse_gold=reverse_gold,
        reverse_pred=reverse_pred,
        all_sure=all_sure,
        ignore_possible=ignore_possible,
    )
    for warning in result.warnings:
        click.echo(f"xalign: warning: {warning}", err=True)
    click.echo(f"xalign: signature {signature}", err=True)
    with stdout_errors():  # a full disk or /dev/full: one line, not a traceback
        if as_json:
            click.echo(json.dumps({**result.to_dict(), "signature": str(signature)}))
        else:
            print_report(
                result, gold, pred, gold_one_based, pred_one_based, reverse_gold, reverse_pred
            )


def print_report(
    result: EvaluationResult,
    gold: str,
    pred: str,
    gold_one_based: bool,
    pred_one_based: bool,
    reverse_gold: bool,
    reverse_pred: bool,
) -> None:
    """The tables (and the worst sentences) on standard output."""
    console = Console(file=sys.stdout, highlight=False)
    conventions = (
        f"gold {'1' if gold_one_based else '0'}-based{', reversed' if reverse_gold else ''}, "
        f"predicted {'1' if pred_one_based else '0'}-based{', reversed' if reverse_pred else ''}"
    )
    # Text objects, not strings: paths and words may contain "[", which rich reads as markup.
    console.print(Text(f"{pred} against {gold}"))
    # On a line of its own, so that a long path never wraps the index conventions apart.
    console.print(Text(f"indices: {conventions}"))
    console.print(summary_table(result))
    if result.worst:
        console.print(worst_table(result.worst))
        for sentence in result.worst:
            console.print(Text(describe_sentence(sentence)))


def _percent(value: float) -> str:
    return f"{100 * value:.2f}"


def summary_table(result: EvaluationResult) -> Table:
    totals = result.totals
    table = Table(show_header=False)
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("AER %", _percent(totals.aer))
    table.add_row("precision %", _percent(totals.precision))
    table.add_row("recall %", _percent(totals.recall))
    table.add_row("F1 %", _percent(totals.f1))
    table.add_row("predicted links |A|", str(totals.predicted))
    table.add_row("sure gold links |S|", str(totals.sure))
    table.add_row("possible gold links |P|", str(totals.possible))
    table.add_row("|A∩S|", str(totals.correct_sure))
    table.add_row("|A∩P|", str(totals.correct_possible))
    table.add_row("sentences", str(result.sentences))
    return table


def worst_table(sentences: tuple[SentenceScore, ...]) -> Table:
    table = Table(
        title=f"{len(sentences)} worst sentences",
        caption="missed: sure gold links not predicted; wrong: predicted links outside the gold",
    )
    for name in ("sentence", "AER %", "P %", "R %", "|A|", "|S|", "missed", "wrong"):
        table.add_column(name, justify="right")
    for sentence in sentences:
        counts = sentence.counts
        table.add_row(
            str(sentence.index + 1),
            _percent(counts.aer),
            _percent(counts.precision),
            _percent(counts.recall),
            str(counts.predicted),
            str(counts.sure),
            str(len(sentence.missed_sure)),
            str(len(sentence.wrong)),
        )
    return table


def describe_sentence(sentence: SentenceScore) -> str:
    """A few lines on one sentence: its words (when known) and its errors, 0-based links."""
    lines = [f"sentence {sentence.index + 1} (AER {_percent(sentence.counts.aer)}%)"]
    if sentence.words is not None:
        lines.append(f"  source: {' '.join(sentence.words[0])}")
        lines.append(f"  target: {' '.join(sentence.words[1])}")
    lines.append(f"  missed: {_describe_links(sentence.missed_sure, sentence.words) or '-'}")
    lines.append(f"  wrong:  {_describe_links(sentence.wrong, sentence.words) or '-'}")
    return "\n".join(lines)


def _describe_links(
    links: frozenset[Link], words: tuple[tuple[str, ...], tuple[str, ...]] | None
) -> str:
    parts = []
    for i, j in sorted(links):
        text = f"{i}-{j}"
        if words is not None:
            src = words[0][i] if i < len(words[0]) else "?"
            tgt = words[1][j] if j < len(words[1]) else "?"
            text += f" ({src}={tgt})"
        parts.append(text)
    return ", ".join(parts)
