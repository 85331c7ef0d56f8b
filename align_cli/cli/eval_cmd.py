"""``xalign eval GOLD PRED [PRED_B]``: AER, precision, recall and F1 of an alignment file,
with bootstrap intervals, or two files compared by a paired bootstrap test."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from align_cli.errors import XalignError
from align_cli.io.files import check_paths, stdout_errors
from align_cli.io.formats import AUTO, READ_CHOICES
from align_cli.signature import Signature, evaluation_signature, with_bootstrap
from align_cli.tools.bootstrap import (
    Interval,
    PairedTest,
    bootstrap_intervals,
    compare,
    counts_matrix,
)
from align_cli.tools.evaluate import EvaluationResult, SentenceScore, evaluate_predictions
from align_cli.types import Link

FORMAT_CHOICE = click.Choice(READ_CHOICES)


@click.command("eval")
@click.argument("gold", metavar="GOLD")
@click.argument("pred", metavar="PRED")
@click.argument("pred_b", metavar="[PRED_B]", required=False)
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
@click.option(
    "--bootstrap",
    "resamples",
    type=click.IntRange(min=0),
    default=None,
    metavar="N",
    help="Resample the sentences N times for confidence intervals of every measure "
    "(0: none). Default: 0 with one prediction, 1000 with two (the paired test).",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Seed of the resampling: the same files and seed give the same intervals.",
)
@click.option(
    "--confidence",
    type=click.FloatRange(min=0, max=1, min_open=True, max_open=True),
    default=0.95,
    show_default=True,
    help="Confidence level of the intervals.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
def eval_command(
    gold: str,
    pred: str,
    pred_b: str | None,
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
    resamples: int | None,
    seed: int,
    confidence: float,
    as_json: bool,
) -> None:
    """Score PRED against GOLD: AER (Och & Ney 2003), precision, recall, F1, micro-averaged.

    Both files have one sentence pair per line (Pharaoh/talp: i-j sure, ipj possible) or
    are NAACL, GIZA A3 or JSONL files. Pharaoh files are read 0-based unless told
    otherwise: the standard gold sets are 1-based, so they need --gold-one-based.

    With --bootstrap N, each measure gets a percentile interval from N resamples of the
    sentences. Given a second prediction PRED_B, both are scored on the same gold and a
    paired bootstrap test (Koehn 2004) prints each measure's difference PRED − PRED_B, its
    interval and a two-sided p-value. The --pred-* options apply to both predictions.
    """
    predictions = [pred] if pred_b is None else [pred, pred_b]
    if resamples is None:
        resamples = 0 if pred_b is None else 1000
    if pred_b is not None and resamples == 0:
        raise XalignError(
            "comparing two predictions needs resamples: give --bootstrap N with N > 0 "
            "(or leave it out for 1000)"
        )
    named_inputs = [("GOLD", gold), ("PRED", pred), ("PRED_B", pred_b), ("--corpus", corpus)]
    check_paths(named_inputs, [("standard output", "-")])
    results = evaluate_predictions(
        gold,
        predictions,
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
        keep_counts=resamples > 0,
    )
    signature = evaluation_signature(
        gold_one_based=gold_one_based,
        pred_one_based=pred_one_based,
        reverse_gold=reverse_gold,
        reverse_pred=reverse_pred,
        all_sure=all_sure,
        ignore_possible=ignore_possible,
    )
    if resamples:
        signature = with_bootstrap(signature, resamples, seed, confidence)
    uncertainty = _uncertainty(results, resamples, seed, confidence)
    # The gold's warning is the same for every prediction: say it once.
    for warning in dict.fromkeys(w for result in results for w in result.warnings):
        click.echo(f"xalign: warning: {warning}", err=True)
    click.echo(f"xalign: signature {signature}", err=True)
    with stdout_errors():  # a full disk or /dev/full: one line, not a traceback
        if as_json:
            click.echo(json.dumps(_json(results, uncertainty, signature)))
        elif pred_b is None:
            print_report(
                results[0],
                gold,
                pred,
                gold_one_based,
                pred_one_based,
                reverse_gold,
                reverse_pred,
                uncertainty,
            )
        else:
            print_comparison(results, gold, predictions, uncertainty)


@dataclass(frozen=True)
class Uncertainty:
    """What the bootstrap says: each prediction's intervals and, for two, the paired tests."""

    resamples: int
    seed: int
    confidence: float
    intervals: tuple[dict[str, Interval], ...]
    paired: dict[str, PairedTest] | None

    def settings(self) -> dict[str, object]:
        return {"resamples": self.resamples, "seed": self.seed, "confidence": self.confidence}


def _uncertainty(
    results: tuple[EvaluationResult, ...], resamples: int, seed: int, confidence: float
) -> Uncertainty | None:
    if not resamples:
        return None
    if results[0].sentences == 0:
        raise XalignError("the gold has no sentences: there is nothing to resample")
    matrices = [counts_matrix(result.sentence_counts) for result in results]
    if len(matrices) == 1:
        intervals = (
            bootstrap_intervals(matrices[0], samples=resamples, confidence=confidence, seed=seed),
        )
        paired = None
    else:
        comparison = compare(*matrices, samples=resamples, confidence=confidence, seed=seed)
        intervals, paired = comparison.intervals, comparison.tests
    return Uncertainty(resamples, seed, confidence, intervals, paired)


def _json(
    results: tuple[EvaluationResult, ...], uncertainty: Uncertainty | None, signature: Signature
) -> dict[str, object]:
    def scored(index: int) -> dict[str, object]:
        entry = results[index].to_dict()
        if uncertainty is not None:
            entry["intervals"] = {
                measure: interval.to_dict()
                for measure, interval in uncertainty.intervals[index].items()
            }
        return entry

    if len(results) == 1:
        document = scored(0)
    else:
        document = {"a": scored(0), "b": scored(1)}
        if uncertainty is not None and uncertainty.paired is not None:
            document["paired"] = {m: test.to_dict() for m, test in uncertainty.paired.items()}
    if uncertainty is not None:
        document["bootstrap"] = uncertainty.settings()
    return {**document, "signature": str(signature)}


def print_report(
    result: EvaluationResult,
    gold: str,
    pred: str,
    gold_one_based: bool,
    pred_one_based: bool,
    reverse_gold: bool,
    reverse_pred: bool,
    uncertainty: Uncertainty | None = None,
) -> None:
    """The tables (and the worst sentences) on standard output."""
    console = Console(file=sys.stdout, highlight=False)
    conventions = (
        f"gold {'1' if gold_one_based else '0'}-based{', reversed' if reverse_gold else ''}, "
        f"predicted {'1' if pred_one_based else '0'}-based{', reversed' if reverse_pred else ''}"
    )
    # Text objects, not strings: paths and words may contain "[", which rich reads as markup.
    # soft_wrap: a path is never broken over lines, however narrow the terminal.
    console.print(Text(f"{pred} against {gold}"), soft_wrap=True)
    # On a line of its own, so that a long path never wraps the index conventions apart.
    console.print(Text(f"indices: {conventions}"))
    console.print(summary_table(result, uncertainty))
    if result.worst:
        console.print(worst_table(result.worst))
        for sentence in result.worst:
            console.print(Text(describe_sentence(sentence)))


def _percent(value: float) -> str:
    return f"{100 * value:.2f}"


def summary_table(result: EvaluationResult, uncertainty: Uncertainty | None = None) -> Table:
    totals = result.totals
    intervals = uncertainty.intervals[0] if uncertainty is not None else None
    table = Table(show_header=intervals is not None)
    table.add_column("measure")
    table.add_column("value", justify="right")
    if intervals is not None:
        table.add_column(f"{_level(uncertainty)} interval", justify="right")
        table.caption = _caption(uncertainty, "sentence resamples")
    for label, measure in MEASURE_LABELS:
        row = [label, _percent(getattr(totals, measure))]
        if intervals is not None:
            row.append(_interval(intervals[measure]))
        table.add_row(*row)
    for label, value in (
        ("predicted links |A|", totals.predicted),
        ("sure gold links |S|", totals.sure),
        ("possible gold links |P|", totals.possible),
        ("|A∩S|", totals.correct_sure),
        ("|A∩P|", totals.correct_possible),
        ("sentences", result.sentences),
    ):
        table.add_row(label, str(value), *([""] if intervals is not None else []))
    return table


MEASURE_LABELS = (("AER %", "aer"), ("precision %", "precision"), ("recall %", "recall"),
                  ("F1 %", "f1"))  # fmt: skip


def _level(uncertainty: Uncertainty) -> str:
    return f"{100 * uncertainty.confidence:g}%"


def _caption(uncertainty: Uncertainty, what: str) -> str:
    return f"percentile intervals over {uncertainty.resamples} {what}, seed {uncertainty.seed}"


def _interval(interval: Interval, *, signed: bool = False) -> str:
    sign = "+" if signed else ""
    return f"[{100 * interval.low:{sign}.2f}, {100 * interval.high:{sign}.2f}]"


def _p_value(test: PairedTest) -> str:
    return f"{test.p_value:.4g}"


def print_comparison(
    results: tuple[EvaluationResult, ...],
    gold: str,
    predictions: list[str],
    uncertainty: Uncertainty,
) -> None:
    """Both predictions side by side, each measure's paired test, then the worst sentences."""
    console = Console(file=sys.stdout, highlight=False)
    # soft_wrap: a path is never broken over lines, however narrow the terminal.
    console.print(Text(f"A: {predictions[0]}"), soft_wrap=True)
    console.print(Text(f"B: {predictions[1]}"), soft_wrap=True)
    console.print(Text(f"against {gold}"), soft_wrap=True)
    level = _level(uncertainty)
    table = Table(caption=_caption(uncertainty, "paired sentence resamples"))
    for name in ("measure", "A", "B", "A − B", f"{level} interval", "p"):
        table.add_column(name, justify="left" if name == "measure" else "right")
    for label, measure in MEASURE_LABELS:
        test = uncertainty.paired[measure]
        table.add_row(
            label,
            _percent(getattr(results[0].totals, measure)),
            _percent(getattr(results[1].totals, measure)),
            f"{100 * test.difference:+.2f}",
            _interval(test.interval, signed=True),
            _p_value(test),
        )
    links = [str(result.totals.predicted) for result in results]
    table.add_row("predicted links", *links, "", "", "")
    table.add_row("sentences", str(results[0].sentences), str(results[1].sentences), "", "", "")
    console.print(table)
    aer = uncertainty.paired["aer"]
    significant = aer.p_value < 1 - uncertainty.confidence
    console.print(
        Text(
            f"AER: A − B = {100 * aer.difference:+.2f} points, {level} interval "
            f"{_interval(aer.interval, signed=True)}, p = {_p_value(aer)}: "
            f"{'' if significant else 'not '}significant at the "
            f"{100 * (1 - uncertainty.confidence):g}% level"
        ),
        soft_wrap=True,  # one line, whatever the terminal's width, so that it can be grepped
    )
    for name, result in zip("AB", results, strict=True):
        if result.worst:
            console.print(worst_table(result.worst, title=f"{name}: "))
            for sentence in result.worst:
                console.print(Text(describe_sentence(sentence)))


def worst_table(sentences: tuple[SentenceScore, ...], *, title: str = "") -> Table:
    table = Table(
        title=f"{title}{len(sentences)} worst sentences",
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
