"""`xalign eval`, `xalign symmetrize` and `xalign convert` through the real entry point:
published numbers on screen, Moses' symmetrisation on disk, and one-line errors with
file:line and exit code 2 for bad input."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from align_cli.io.formats import read_alignments
from tests.cli_runner import run_cli


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("xalign: error: ")
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


# --------------------------------------------------------------------------- eval


def test_eval_prints_the_published_awesome_align_aer_in_a_table(shared_data):
    result = run_cli(
        [
            "eval",
            shared_data / "gold/enfr.gold",
            shared_data / "published/awesome-align/enfr.awesome-align.out",
            "--gold-one-based",
        ]
    )
    assert result.exit_code == 0, result.stderr
    assert "AER %" in result.stdout and "4.07" in result.stdout
    assert "gold 1-based" in result.stdout and "predicted 0-based" in result.stdout


def test_eval_json_has_every_measure_and_the_link_counts(shared_data):
    result = run_cli(
        [
            "eval",
            shared_data / "gold/roen.gold",
            shared_data / "published/awesome-align/roen.awesome-align.out",
            "--gold-one-based",
            "--json",
        ]
    )
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert f"{100 * report['aer']:.2f}" == "20.75"
    assert set(report) >= {"precision", "recall", "f1", "predicted_links", "sure_links"}
    assert report["sentences"] == 248


def test_eval_lists_the_worst_sentences_with_their_words(shared_data):
    result = run_cli(
        [
            "eval",
            shared_data / "gold/enfr.gold",
            shared_data / "published/lilt-giza/test.enfr.talp",
            "--gold-one-based",
            "--per-sentence",
            "3",
            "--corpus",
            shared_data / "gold/enfr.src-tgt",
            "--json",
        ]
    )
    assert result.exit_code == 0, result.stderr
    worst = json.loads(result.stdout)["worst"]
    assert len(worst) == 3
    assert [w["aer"] for w in worst] == sorted((w["aer"] for w in worst), reverse=True)
    corpus = (shared_data / "gold/enfr.src-tgt").read_text(encoding="utf-8").splitlines()
    first = worst[0]
    assert first["src_words"] == corpus[first["index"]].split("|||")[0].split()


def test_eval_table_shows_the_words_of_the_worst_sentences(tmp_path):
    corpus = write(tmp_path / "c.src-tgt", "le chat ||| the cat\n")
    gold = write(tmp_path / "gold.talp", "1-1 2-2\n")
    pred = write(tmp_path / "pred.talp", "0-1\n")
    result = run_cli(
        ["eval", gold, pred, "--gold-one-based", "--per-sentence", "1", "--corpus", corpus]
    )
    assert result.exit_code == 0, result.stderr
    assert "source: le chat" in result.stdout
    assert "wrong:  0-1 (le=cat)" in result.stdout


def test_eval_of_an_empty_prediction_scores_aer_100(tmp_path):
    gold = write(tmp_path / "gold.talp", "1-1\n2-2 1p2\n")
    pred = write(tmp_path / "pred.talp", "\n\n")
    result = run_cli(["eval", gold, pred, "--gold-one-based", "--json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["aer"], report["precision"], report["predicted_links"]) == (1.0, 0.0, 0)


def test_eval_of_a_zero_byte_prediction_file_scores_it_as_no_links(tmp_path):
    gold = write(tmp_path / "gold.talp", "1-1\n2-2 1p2\n")
    pred = write(tmp_path / "pred.talp", "")
    result = run_cli(["eval", gold, pred, "--gold-one-based", "--json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["aer"], report["precision"], report["recall"]) == (1.0, 0.0, 0.0)
    assert report["sentences"] == 2
    assert "pred.talp is empty" in result.stderr


def test_eval_of_two_empty_files_scores_zero_sentences(tmp_path):
    empty = write(tmp_path / "empty.talp", "")
    result = run_cli(["eval", empty, empty, "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["sentences"] == 0


@pytest.mark.parametrize(
    ("gold_text", "pred_text", "where", "message"),
    [
        ("1-1\n1-1\n", "0-0\n", "pred.talp:2", "ends after 1 sentences"),
        ("1-1\n", "0-0\n0-0\n", "gold.talp:2", "ends after 1 sentences"),
        ("1-1\n", "3-x\n", "pred.talp:1", "malformed link '3-x'"),
        ("1-1\n", "0--1\n", "pred.talp:1", "negative index"),
        ("1-1\n1-1 0-2\n", "0-0\n0-0\n", "gold.talp:2", "index 0"),
    ],
)
def test_eval_bad_input_is_a_one_line_error_with_file_and_line(
    tmp_path, gold_text, pred_text, where, message
):
    gold = write(tmp_path / "gold.talp", gold_text)
    pred = write(tmp_path / "pred.talp", pred_text)
    result = run_cli(["eval", gold, pred, "--gold-one-based"])
    assert_one_line_error(result, where, message)


def test_eval_index_outside_the_corpus_sentence_is_an_error(tmp_path):
    corpus = write(tmp_path / "c.src-tgt", "a b ||| x y\n")
    gold = write(tmp_path / "gold.talp", "1-1 2-2\n")
    result = run_cli(
        [
            "eval",
            gold,
            write(tmp_path / "pred.talp", "0-2\n"),
            "--corpus",
            corpus,
            "--gold-one-based",
        ]
    )
    assert_one_line_error(result, "pred.talp:1", "link 0-2 points past the end", "--pred-one-based")


def test_eval_unreadable_gzip_is_a_one_line_error(tmp_path):
    gold = write(tmp_path / "gold.talp", "1-1\n")
    pred = tmp_path / "pred.talp.gz"
    pred.write_bytes(gzip.compress(b"0-0\n" * 1000)[:30])
    result = run_cli(["eval", gold, pred, "--gold-one-based"])
    assert_one_line_error(result, "pred.talp.gz:", "cannot read")


def test_eval_missing_file_is_a_one_line_error(tmp_path):
    gold = write(tmp_path / "gold.talp", "1-1\n")
    result = run_cli(["eval", gold, tmp_path / "missing.talp", "--gold-one-based"])
    assert_one_line_error(result, "missing.talp", "cannot open")


def test_eval_all_sure_with_ignore_possible_is_refused(tmp_path):
    gold = write(tmp_path / "gold.talp", "1-1\n")
    result = run_cli(["eval", gold, gold, "--all-sure", "--ignore-possible"])
    assert_one_line_error(result, "exclude each other")


# --------------------------------------------------------------------------- symmetrize


def test_symmetrize_reproduces_moses_grow_diag_final_and(shared_data, tmp_path):
    folder = shared_data / "giza-a3"
    out = tmp_path / "sym.pharaoh"
    result = run_cli(
        [
            "symmetrize",
            folder / "en-fr.A3.final.gz",
            folder / "fr-en.A3.final.gz",
            "--method",
            "grow-diag-final-and",
            "--rev-is-target-first",
            "-o",
            out,
        ]
    )
    assert result.exit_code == 0, result.stderr
    ours = [s.sure for s in read_alignments(str(out))]
    moses = [s.sure for s in read_alignments(str(folder / "aligned.grow-diag-final-and"))]
    assert len(ours) == 765
    assert ours == moses


def test_symmetrize_writes_lilt_intersection_to_stdout(shared_data):
    stem = shared_data / "published/lilt-fastalign/test.roen"
    result = run_cli(
        [
            "symmetrize",
            f"{stem}.talp",
            f"{stem}.reverse.talp",
            "--method",
            "intersect",
            "--rev-is-target-first",
        ]
    )
    assert result.exit_code == 0, result.stderr
    expected = (Path(f"{stem}.intersection.talp")).read_text().splitlines()
    produced = result.stdout.splitlines()
    assert [set(line.split()) for line in produced] == [set(line.split()) for line in expected]


def test_symmetrize_of_swapped_giza_files_is_caught(shared_data):
    folder = shared_data / "giza-a3"
    result = run_cli(["symmetrize", folder / "en-fr.A3.final.gz", folder / "fr-en.A3.final.gz"])
    assert_one_line_error(result, "fr-en.A3.final.gz:1", "--rev-is-target-first")


def test_symmetrize_files_of_different_length_is_an_error(tmp_path):
    forward = write(tmp_path / "fwd.talp", "0-0\n1-1\n")
    reverse = write(tmp_path / "rev.talp", "0-0\n")
    result = run_cli(["symmetrize", forward, reverse])
    assert_one_line_error(result, "rev.talp:2", "ends after 1 sentences")


# --------------------------------------------------------------------------- convert


def test_convert_round_trip_through_every_format_keeps_every_link(shared_data, tmp_path):
    start = shared_data / "gold/enfr.gold"
    corpus = shared_data / "gold/enfr.src-tgt"
    steps = [
        (["--one-based", "--to", "naacl"], "g.naacl"),
        (["--to", "jsonl", "--corpus", corpus], "g.jsonl"),
        (["--to", "pharaoh", "--write-one-based"], "g.talp"),
    ]
    current = start
    for options, name in steps:
        out = tmp_path / name
        result = run_cli(["convert", current, *options, "-o", out])
        assert result.exit_code == 0, result.stderr
        current = out
    back = [(s.sure, s.possible) for s in read_alignments(str(current), one_based=True)]
    assert back == [(s.sure, s.possible) for s in read_alignments(str(start), one_based=True)]


def test_convert_giza_to_pharaoh_and_back_to_giza(shared_data, tmp_path):
    giza = shared_data / "giza-a3/en-fr.A3.final.gz"
    pharaoh, back = tmp_path / "a.talp", tmp_path / "b.A3.final"
    assert run_cli(["convert", giza, "--to", "pharaoh", "-o", pharaoh]).exit_code == 0
    corpus = tmp_path / "c.src-tgt"
    corpus.write_text(
        "".join(
            f"{' '.join(s.src_words)} ||| {' '.join(s.tgt_words)}\n"
            for s in read_alignments(str(giza))
        ),
        encoding="utf-8",
    )
    result = run_cli(["convert", pharaoh, "--to", "giza", "--corpus", corpus, "-o", back])
    assert result.exit_code == 0, result.stderr
    assert [s.sure for s in read_alignments(str(back))] == [
        s.sure for s in read_alignments(str(giza))
    ]


def test_convert_awesome_align_probabilities_into_jsonl_scores(tmp_path):
    links = write(tmp_path / "out.txt", "0-0 1-1\n\n")
    probs = write(tmp_path / "out.prob", "0.9 0.25\n\n")
    result = run_cli(["convert", links, "--probs", probs, "--to", "jsonl"])
    assert result.exit_code == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert records[0]["links"] == [[0, 0], [1, 1]] and records[0]["scores"] == [0.9, 0.25]
    assert records[1]["links"] == []


def test_convert_to_giza_without_words_asks_for_the_corpus(tmp_path):
    result = run_cli(["convert", write(tmp_path / "a.talp", "0-0\n"), "--to", "giza"])
    assert_one_line_error(result, "--corpus")
