"""``--preset auto``: settings chosen by agreement with a teacher, without gold.

On the committed synthetic model, with the teacher links made by one setting, auto
must find links identical to them; with eflomal's links it must land within 1 AER of
the setting the gold prefers; and its batched scoring must give the links extraction
gives, sentence by sentence.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from align_cli.aligners.attention import make_result
from align_cli.io.formats import read_pharaoh
from align_cli.settings import AlignmentSettings
from align_cli.tools.auto import batch_links
from align_cli.tools.evaluate import evaluate
from align_cli.types import SentencePair
from tests.cli_runner import run_cli
from tests.paths import ROOT

SYNTHETIC = ROOT / "tests" / "data" / "synthetic"
MODEL = SYNTHETIC / "fwd"
# The best of auto's candidates by the gold on all 300 held-out pairs: layer -1, heads
# mean, no shift, sum pooling, inter (README, "Choosing the defaults").
GOLD_BEST_AER = 0.0656

pytestmark = pytest.mark.usefixtures("one_thread")


def first_lines(source: Path, target: Path, count: int) -> Path:
    lines = source.read_text(encoding="utf-8").splitlines()[:count]
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


@pytest.mark.parametrize("method", ["argmax", "inter", "threshold"])
def test_batched_links_equal_sentence_by_sentence_extraction(method):
    generator = torch.Generator().manual_seed(0)
    batch, n_tgt, n_src = 6, 7, 9
    lengths = [(9, 7), (3, 2), (5, 7), (1, 1), (9, 4), (2, 6)]
    scores = torch.zeros(batch, n_tgt, n_src)
    nulls = torch.rand(batch, n_tgt, generator=generator) * 0.6
    for row, (src, tgt) in enumerate(lengths):
        block = torch.rand(tgt, src, generator=generator)
        block[0, : min(2, src)] = block[0].max()  # a tie: the lowest index wins
        scores[row, :tgt, :src] = block / block.sum(dim=1, keepdim=True)
    for null in (False, True):
        links = batch_links(scores, nulls if null else None, method, 0.3)
        settings = AlignmentSettings(method=method, null=null, threshold=0.3)
        for row, (src, tgt) in enumerate(lengths):
            pair = SentencePair(row, ("s",) * src, ("t",) * tgt)
            matrix = scores[row, :tgt, :src].T.numpy()
            null_row = nulls[row, :tgt].numpy() if null else None
            expected = make_result(pair, matrix, None, settings, False, null=null_row).links
            got = sorted((int(i), int(j)) for j, i in np.argwhere(links[row].numpy()))
            assert got == expected


def test_auto_finds_the_setting_that_made_the_teacher_links(tmp_path):
    corpus = first_lines(SYNTHETIC / "heldout.src-tgt", tmp_path / "corpus", 40)
    made = ["--layers", "1", "--heads", "2", "--shift", "--pooling", "mean", "--method", "argmax"]
    teacher = run_cli(["extract", "-i", corpus, "-m", MODEL, "-o", tmp_path / "t", *made])
    assert teacher.exit_code == 0, teacher.stderr
    chosen = run_cli(
        [
            "extract",
            "-i",
            corpus,
            "-m",
            MODEL,
            "-o",
            tmp_path / "auto",
            "--preset",
            "auto",
            "--auto-teacher",
            tmp_path / "t",
        ]
    )
    assert chosen.exit_code == 0, chosen.stderr
    assert "at F1 100.00%" in chosen.stderr
    assert "|settings:auto|" in chosen.stderr
    assert (tmp_path / "auto").read_text() == (tmp_path / "t").read_text()


def test_auto_with_eflomal_lands_within_one_aer_of_the_gold_best(tmp_path):
    output = tmp_path / "auto.pharaoh"
    result = run_cli(
        [
            "extract",
            "-i",
            SYNTHETIC / "heldout.src-tgt",
            "-m",
            MODEL,
            "-o",
            output,
            "--preset",
            "auto",
            "--auto-pairs",
            "300",
        ]
    )
    assert result.exit_code == 0, result.stderr
    assert "agrees with eflomal on 300 pairs" in result.stderr
    assert "eflomal learned from 300 pairs only" in result.stderr  # the warning
    gold = [(g.sure, g.possible) for g in read_pharaoh(str(SYNTHETIC / "heldout.gold"))]
    predicted = [s.links for s in read_pharaoh(str(output))]
    aer = evaluate(gold, predicted).totals.aer
    assert aer <= GOLD_BEST_AER + 0.01


def test_auto_refuses_stdin_and_a_teacher_without_auto(tmp_path):
    corpus = first_lines(SYNTHETIC / "heldout.src-tgt", tmp_path / "corpus", 3)
    result = run_cli(["extract", "-i", "-", "-m", MODEL, "--preset", "auto"], stdin="a ||| b\n")
    assert result.exit_code == 2 and "not stdin" in result.stderr
    result = run_cli(["extract", "-i", corpus, "-m", MODEL, "--auto-teacher", corpus])
    assert result.exit_code == 2 and "--auto-teacher is for --preset auto" in result.stderr
