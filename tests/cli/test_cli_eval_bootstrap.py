"""`xalign eval --bootstrap` and `xalign eval GOLD A B`: intervals and the paired test
through the real entry point, on the published outputs of the Hansards En-Fr gold set.

The published scores (lilt's GIZA++ grow-diagonal 5.9 AER against fast_align's 10.5) are
known; what the bootstrap adds is checked against a brute-force resampling written here
with Python's own `random`, independent of numpy and of the module under test.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from align_cli.tools import bootstrap
from align_cli.tools.bootstrap import bootstrap_intervals, counts_matrix
from align_cli.tools.evaluate import evaluate_files
from tests.cli_runner import run_cli

GIZA_GD = "published/lilt-giza/test.enfr.grow-diagonal.talp"
GIZA_GDF = "published/lilt-giza/test.enfr.grow-diagonal-final.talp"
FAST_ALIGN_GD = "published/lilt-fastalign/test.enfr.grow-diagonal.talp"


def eval_json(shared_data: Path, *predictions: str, options: tuple = ()) -> dict:
    args = ["eval", shared_data / "gold/enfr.gold", *(shared_data / p for p in predictions)]
    result = run_cli([*args, "--gold-one-based", "--json", *options])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def brute_force_aer_interval(per_sentence, samples: int, seed: int) -> tuple[float, float]:
    """Draw sentences with replacement, sum their counts, take the 2.5th and 97.5th
    percentile of the AERs: the bootstrap by its definition, one resample at a time."""
    draw = random.Random(seed)
    aers = []
    for _ in range(samples):
        predicted = sure = correct = 0
        for _ in range(len(per_sentence)):
            c = per_sentence[draw.randrange(len(per_sentence))]
            predicted += c.predicted
            sure += c.sure
            correct += c.correct_sure + c.correct_possible
        aers.append(1 - correct / (predicted + sure))
    return tuple(np.percentile(aers, [2.5, 97.5]))


def test_intervals_hold_the_published_score_and_match_a_brute_force_bootstrap(shared_data):
    report = eval_json(shared_data, GIZA_GD, options=("--bootstrap", "2000", "--seed", "4"))
    assert round(100 * report["aer"], 1) == 5.9  # lilt's published grow-diagonal AER
    for measure in ("aer", "precision", "recall", "f1"):
        interval = report["intervals"][measure]
        assert interval["low"] < report[measure] < interval["high"], measure
    assert report["bootstrap"] == {"resamples": 2000, "seed": 4, "confidence": 0.95}
    assert report["signature"].endswith("|bootstrap:2000|seed:4|confidence:0.95")

    per_sentence = [
        s.counts
        for s in evaluate_files(
            str(shared_data / "gold/enfr.gold"),
            str(shared_data / GIZA_GD),
            gold_one_based=True,
            worst=10_000,
        ).worst
    ]
    low, high = brute_force_aer_interval(per_sentence, samples=2000, seed=11)
    # Two Monte Carlo estimates of the same percentiles (AER ≈ 0.06, interval ≈ 0.013
    # wide): they agree to a fifth of a point.
    assert report["intervals"]["aer"]["low"] == pytest.approx(low, abs=0.002)
    assert report["intervals"]["aer"]["high"] == pytest.approx(high, abs=0.002)


def test_the_same_seed_repeats_the_numbers_and_another_seed_changes_them(shared_data):
    options = ("--bootstrap", "300", "--seed", "1")
    first = eval_json(shared_data, GIZA_GD, options=options)
    assert eval_json(shared_data, GIZA_GD, options=options) == first
    other = eval_json(shared_data, GIZA_GD, options=("--bootstrap", "300", "--seed", "2"))
    assert other["intervals"] != first["intervals"]
    assert other["aer"] == first["aer"]


def test_a_wider_confidence_gives_a_wider_interval(shared_data):
    narrow = eval_json(shared_data, GIZA_GD, options=("--bootstrap", "500", "--confidence", "0.8"))
    wide = eval_json(shared_data, GIZA_GD, options=("--bootstrap", "500", "--confidence", "0.99"))
    assert wide["intervals"]["aer"]["low"] < narrow["intervals"]["aer"]["low"]
    assert wide["intervals"]["aer"]["high"] > narrow["intervals"]["aer"]["high"]


def test_giza_against_fast_align_is_a_significant_difference(shared_data):
    report = eval_json(shared_data, GIZA_GD, FAST_ALIGN_GD)
    assert round(100 * report["a"]["aer"], 1) == 5.9  # published: 5.9
    assert round(100 * report["b"]["aer"], 1) == 10.5  # published: 10.5
    aer = report["paired"]["aer"]
    assert aer["difference"] == pytest.approx(report["a"]["aer"] - report["b"]["aer"])
    assert aer["interval"]["high"] < 0 and aer["p_value"] < 0.01
    assert aer["samples"] == 1000  # the default for a comparison
    # The comparison's own intervals are those of a single evaluation with the same seed.
    alone = eval_json(shared_data, GIZA_GD, options=("--bootstrap", "1000"))
    assert report["a"]["intervals"] == alone["intervals"]


def test_two_symmetrisations_of_one_aligner_are_not_significantly_different(shared_data):
    # Published: grow-diagonal 5.9, grow-diagonal-final 6.2; on 447 sentences the 0.2
    # points are within the noise, while precision and recall move significantly apart.
    report = eval_json(shared_data, GIZA_GD, GIZA_GDF)
    assert report["paired"]["aer"]["p_value"] > 0.05
    interval = report["paired"]["aer"]["interval"]
    assert interval["low"] < 0 < interval["high"]
    assert report["paired"]["precision"]["p_value"] < 0.01
    assert report["paired"]["recall"]["p_value"] < 0.01


def test_a_prediction_compared_with_itself_differs_by_nothing(shared_data):
    report = eval_json(shared_data, GIZA_GD, GIZA_GD)
    for test in report["paired"].values():
        assert test["difference"] == 0 and test["p_value"] == 1.0


def test_the_comparison_table_names_both_files_and_says_whether_it_is_significant(
    shared_data, tmp_path
):
    # Paths longer than the terminal is wide are printed whole, on one line each.
    folder = tmp_path / ("a-folder-with-a-long-name-" * 4)
    folder.mkdir()
    a, b = folder / "giza.gd.talp", folder / "fast-align.gd.talp"
    a.write_bytes((shared_data / GIZA_GD).read_bytes())
    b.write_bytes((shared_data / FAST_ALIGN_GD).read_bytes())
    gold = shared_data / "gold/enfr.gold"
    result = run_cli(["eval", gold, a, b, "--gold-one-based", "--per-sentence", "1"])
    assert result.exit_code == 0, result.stderr
    assert f"A: {a}\n" in result.stdout and f"B: {b}\n" in result.stdout
    assert f"against {gold}\n" in result.stdout
    assert "-4.54" in result.stdout  # 5.94 − 10.48
    assert "significant at the 5% level" in result.stdout
    assert "not significant" not in result.stdout
    assert "A: 1 worst sentences" in result.stdout and "B: 1 worst sentences" in result.stdout
    single = run_cli(["eval", gold, a, "--gold-one-based"])
    assert f"{a} against {gold}\n" in single.stdout


def test_one_resample_cannot_call_a_difference_significant(shared_data):
    gold = shared_data / "gold/enfr.gold"
    result = run_cli(["eval", gold, shared_data / GIZA_GD, shared_data / FAST_ALIGN_GD,
                      "--gold-one-based", "--bootstrap", "1"])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "p = 1: not significant at the 5% level" in result.stdout


def test_the_gold_may_come_from_a_pipe_when_two_predictions_are_compared(shared_data):
    gold_text = (shared_data / "gold/enfr.gold").read_text()
    piped = run_cli(["eval", "-", shared_data / GIZA_GD, shared_data / FAST_ALIGN_GD,
                     "--gold-one-based", "--json"], stdin=gold_text)  # fmt: skip
    assert piped.exit_code == 0, piped.stderr
    assert json.loads(piped.stdout) == eval_json(shared_data, GIZA_GD, FAST_ALIGN_GD)


def test_refusals_are_one_line(shared_data, tmp_path):
    gold, a = shared_data / "gold/enfr.gold", shared_data / GIZA_GD
    cases = [
        (["eval", gold, a, a, "--bootstrap", "0"], "comparing two predictions needs resamples"),
        (["eval", gold, "-", "-"], "standard input"),
        (["eval", gold, a, "--confidence", "1.5"], "--confidence"),
        (["eval", gold, a, "--bootstrap", "-3"], "--bootstrap"),
    ]
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    cases.append((["eval", empty, empty, "--bootstrap", "10"], "nothing to resample"))
    for args, fragment in cases:
        result = run_cli(args, stdin="")
        assert result.exit_code == 2, (args, result.stderr)
        assert "Traceback" not in result.stderr
        assert fragment in result.stderr.strip().splitlines()[-1], (args, result.stderr)


def test_the_numbers_do_not_depend_on_how_many_resamples_are_drawn_at_once(monkeypatch):
    # Memory is bounded by drawing the resamples in chunks; the chunk size is a detail
    # that must not change a seeded result.
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 9, size=(200, 4))
    default = bootstrap_intervals(counts, samples=100, seed=3)
    monkeypatch.setattr(bootstrap, "MAX_CHUNK", 7)
    assert bootstrap_intervals(counts, samples=100, seed=3) == default


def test_sentence_counts_kept_by_the_evaluation_are_its_totals(shared_data):
    result = evaluate_files(
        str(shared_data / "gold/enfr.gold"), str(shared_data / GIZA_GD),
        gold_one_based=True, keep_counts=True,
    )  # fmt: skip
    matrix = counts_matrix(result.sentence_counts)
    assert matrix.shape == (result.sentences, 4)
    totals = result.totals
    expected = [totals.predicted, totals.sure, totals.correct_sure, totals.correct_possible]
    assert matrix.sum(axis=0).tolist() == expected
