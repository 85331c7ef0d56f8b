"""AER, precision, recall and F1 (Och & Ney 2003), micro-averaged over the corpus, and the
published numbers of lilt/alignment-scripts and awesome-align reproduced to the digit."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from align_cli.errors import CorpusError
from align_cli.tools.evaluate import (
    LinkCounts,
    adjust_gold,
    count_links,
    evaluate,
    evaluate_files,
)

# --------------------------------------------------------------------------- the formula


def test_counts_and_measures_of_one_sentence():
    sure = {(0, 0), (1, 1)}
    possible = {(2, 2)}  # possible-only; P = S ∪ {(2, 2)}
    predicted = {(0, 0), (2, 2), (3, 3)}
    counts = count_links(sure, possible, predicted)
    assert counts == LinkCounts(predicted=3, sure=2, possible=3, correct_sure=1, correct_possible=2)
    assert counts.precision == pytest.approx(2 / 3)
    assert counts.recall == pytest.approx(1 / 2)
    assert counts.aer == pytest.approx(1 - (1 + 2) / (3 + 2))
    assert counts.f1 == pytest.approx(2 * (2 / 3) * (1 / 2) / (2 / 3 + 1 / 2))


def test_the_corpus_is_micro_averaged_not_averaged_over_sentences():
    gold = [({(0, 0)}, set()), ({(k, k) for k in range(9)}, set())]
    predicted = [set(), {(k, k) for k in range(9)}]
    totals = evaluate(gold, predicted).totals
    # Micro: 9 of 10 sure links found. A mean of per-sentence recalls would give 0.5.
    assert totals.recall == pytest.approx(0.9)
    assert totals.aer == pytest.approx(1 - 18 / 19)


def test_an_empty_prediction_scores_without_dividing_by_zero():
    totals = evaluate([({(0, 0)}, {(1, 1)})], [set()]).totals
    assert (totals.precision, totals.recall, totals.f1, totals.aer) == (0.0, 0.0, 0.0, 1.0)
    empty = evaluate([], []).totals
    assert (empty.precision, empty.recall, empty.f1, empty.aer) == (0.0, 0.0, 0.0, 1.0)


def test_possible_links_in_the_gold_include_the_sure_ones():
    counts = count_links({(0, 0)}, set(), {(0, 0)})
    assert counts.possible == 1 and counts.correct_possible == 1
    assert counts.aer == 0.0


def test_all_sure_and_ignore_possible_variants():
    sure, possible = {(0, 0)}, {(1, 1)}
    assert adjust_gold(sure, possible) == ({(0, 0)}, {(1, 1)})
    assert adjust_gold(sure, possible, all_sure=True) == ({(0, 0), (1, 1)}, set())
    assert adjust_gold(sure, possible, ignore_possible=True) == ({(0, 0)}, set())
    with pytest.raises(ValueError):
        adjust_gold(sure, possible, all_sure=True, ignore_possible=True)


def test_worst_sentences_come_worst_first_and_only_n_are_kept():
    gold = [({(0, 0), (1, 1)}, set())] * 4
    predicted = [{(0, 0), (1, 1)}, {(0, 0)}, set(), {(0, 1)}]
    result = evaluate(gold, predicted, worst=2)
    # Sentences 2 and 3 both have AER 1; sentence 3 has one more error (a wrong link).
    assert [s.index for s in result.worst] == [3, 2]
    assert result.worst[0].wrong == {(0, 1)}
    assert result.worst[0].missed_sure == {(0, 0), (1, 1)}
    assert result.sentences == 4


def test_different_sentence_counts_are_a_value_error():
    with pytest.raises(ValueError, match="different numbers of sentences"):
        evaluate([(set(), set())], [])


link_sets = st.sets(st.tuples(st.integers(0, 5), st.integers(0, 5)), max_size=12)


@given(sure=link_sets, possible=link_sets, predicted=link_sets)
def test_measures_stay_between_zero_and_one(sure, possible, predicted):
    counts = count_links(sure, possible, predicted)
    for value in (counts.precision, counts.recall, counts.f1, counts.aer):
        assert 0.0 <= value <= 1.0


@given(sure=link_sets.filter(bool), possible=link_sets)
def test_predicting_exactly_the_sure_links_gives_aer_zero(sure, possible):
    counts = count_links(sure, possible, sure)
    assert counts.aer == 0.0 and counts.precision == 1.0 and counts.recall == 1.0


# --------------------------------------------------------------------------- published numbers

RESULT_LINE = re.compile(
    r"^(?P<file>\S+)(?: \([^)]*\))?: (?P<aer>[\d.]+)% \((?P<p>[\d.]+)%/(?P<r>[\d.]+)%"
    r"(?:/(?P<links>\d+))?\)"
)


def published_results(folder: Path) -> list[tuple[str, dict[str, str]]]:
    """Every ``file: AER% (P%/R%[/#links])`` line of a folder's *-results.txt."""
    results = []
    for results_file in sorted(folder.glob("*-results.txt")):
        for line in results_file.read_text(encoding="utf-8").splitlines():
            match = RESULT_LINE.match(line)
            assert match, f"unparsed line in {results_file}: {line!r}"
            results.append((match["file"], match.groupdict()))
    return results


def lilt_cases() -> list[tuple[str, str]]:
    return [
        (system, name)
        for system in ("lilt-giza", "lilt-fastalign")
        for name in (
            f"test.{pair}{kind}.talp"
            for pair in ("enfr", "roen")
            for kind in (
                "",
                ".reverse",
                ".intersection",
                ".union",
                ".grow-diagonal",
                ".grow-diagonal-final",
            )
        )
    ]


def test_every_talp_file_has_a_published_result_and_is_tested(shared_data):
    for system in ("lilt-giza", "lilt-fastalign"):
        folder = shared_data / "published" / system
        published = {name for name, _ in published_results(folder)}
        on_disk = {path.name for path in folder.glob("*.talp")}
        assert on_disk <= published
        assert on_disk == {name for sys_, name in lilt_cases() if sys_ == system}


@pytest.mark.parametrize(("system", "name"), lilt_cases())
def test_lilt_published_numbers_are_reproduced(shared_data, system, name):
    folder = shared_data / "published" / system
    expected = dict(published_results(folder))[name]
    pair = name.split(".")[1]
    # The gold is 1-based; lilt writes the reverse direction target first and scores it
    # against the swapped reference.
    result = evaluate_files(
        str(shared_data / "gold" / f"{pair}.gold"),
        str(folder / name),
        gold_one_based=True,
        reverse_gold=".reverse." in name,
    )
    totals = result.totals
    assert f"{100 * totals.aer:.1f}" == expected["aer"]
    assert f"{100 * totals.precision:.1f}" == expected["p"]
    assert f"{100 * totals.recall:.1f}" == expected["r"]
    if expected["links"] is not None:
        assert str(totals.predicted) == expected["links"]


@pytest.mark.parametrize(("pair", "published_aer"), [("enfr", "4.07"), ("roen", "20.75")])
def test_awesome_align_published_aer_is_reproduced(shared_data, pair, published_aer):
    result = evaluate_files(
        str(shared_data / "gold" / f"{pair}.gold"),
        str(shared_data / "published" / "awesome-align" / f"{pair}.awesome-align.out"),
        gold_one_based=True,
        corpus_path=str(shared_data / "gold" / f"{pair}.src-tgt"),
    )
    assert f"{100 * result.totals.aer:.2f}" == published_aer
    assert result.warnings == ()


def test_reversing_the_prediction_equals_reversing_the_gold(shared_data):
    gold = str(shared_data / "gold" / "enfr.gold")
    reverse = str(shared_data / "published" / "lilt-giza" / "test.enfr.reverse.talp")
    by_gold = evaluate_files(gold, reverse, gold_one_based=True, reverse_gold=True)
    by_pred = evaluate_files(gold, reverse, gold_one_based=True, reverse_pred=True)
    assert by_gold.totals == by_pred.totals


# --------------------------------------------------------------------------- files


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_a_gold_file_read_zero_based_that_never_uses_zero_gets_a_warning(tmp_path):
    gold = write(tmp_path / "gold.talp", "1-1 2-2\n")
    pred = write(tmp_path / "pred.talp", "0-0 1-1\n")
    result = evaluate_files(gold, pred)
    assert len(result.warnings) == 1 and "--gold-one-based" in result.warnings[0]
    assert evaluate_files(gold, pred, gold_one_based=True).warnings == ()


def test_an_index_past_the_sentence_is_an_error_naming_file_and_line(tmp_path):
    corpus = write(tmp_path / "c.src-tgt", "a b ||| x y\na ||| x\n")
    gold = write(tmp_path / "gold.talp", "1-1\n1-1\n")
    pred = write(tmp_path / "pred.talp", "0-0\n0-1\n")
    with pytest.raises(CorpusError, match=r"^.*pred.talp:2: link 0-1 points past the end"):
        evaluate_files(gold, pred, gold_one_based=True, corpus_path=corpus)


def test_naacl_predictions_may_leave_out_trailing_sentences_without_links(tmp_path):
    gold = write(tmp_path / "gold.talp", "0-0\n1-1\n0-0\n")
    pred = write(tmp_path / "pred.naacl", "2 2 2 S\n")
    result = evaluate_files(gold, pred)
    assert result.sentences == 3
    assert result.totals.correct_sure == 1


def test_a_shorter_prediction_file_is_an_error_naming_it(tmp_path):
    gold = write(tmp_path / "gold.talp", "0-0\n1-1\n0-0\n")
    pred = write(tmp_path / "pred.talp", "0-0\n")
    with pytest.raises(CorpusError, match=r"pred.talp:2: ends after 1 sentences, but .*gold"):
        evaluate_files(gold, pred)
