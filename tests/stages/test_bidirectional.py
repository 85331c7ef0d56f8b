"""Symmetrising two directions: a reverse model, or the two directions of one matrix."""

from __future__ import annotations

import numpy as np
import pytest

from align_cli.aligners.attention import AttentionAligner, BidirectionalAligner
from align_cli.model.loading import load_model
from align_cli.settings import AlignmentSettings
from align_cli.stages.extraction import argmax_source, argmax_target, links_from_mask
from align_cli.stages.symmetrize import symmetrize
from tests.cli_runner import run_cli
from tests.marian_fixtures import build_tiny_marian

SOURCES = ["Le chat noir dort .", "Il a 25 ans et il travaille ."]
TARGETS = ["The black cat sleeps .", "He is 25 and works ."]


@pytest.fixture(scope="module")
def folders(tmp_path_factory, shared_data):
    forward = build_tiny_marian(tmp_path_factory.mktemp("fwd"), seed=1)
    reverse = build_tiny_marian(tmp_path_factory.mktemp("rev"), seed=2)
    return str(forward), str(reverse)


def test_reverse_model_links_are_the_symmetrisation_of_both_directions(folders):
    forward_folder, reverse_folder = folders
    plain = AlignmentSettings(layers=(-1,))
    forward = AttentionAligner(load_model(forward_folder), plain, include_matrix=True)
    reverse = AttentionAligner(load_model(reverse_folder), plain, include_matrix=True)
    fwd_results = forward.align_texts(SOURCES, TARGETS)
    rev_results = reverse.align_texts(TARGETS, SOURCES)
    for method in ("intersect", "union", "grow-diag-final-and"):
        settings = AlignmentSettings(layers=(-1,), symmetrize=method)
        both = BidirectionalAligner(
            AttentionAligner(load_model(forward_folder), settings),
            AttentionAligner(load_model(reverse_folder), settings),
        )
        for fwd, rev, sym in zip(
            fwd_results, rev_results, both.align_texts(SOURCES, TARGETS), strict=True
        ):
            expected = symmetrize(set(fwd.links), {(i, j) for j, i in rev.links}, method)
            assert set(sym.links) == expected
            soft = (fwd.matrix + rev.matrix.T) / 2
            assert sym.scores == pytest.approx([soft[i, j] for i, j in sym.links])
        assert both.signature.get("reverse") and both.signature.get("sym") == method


def test_one_matrix_can_be_symmetrised_with_itself(folders):
    forward_folder, _ = folders
    loaded = load_model(forward_folder)
    matrices = AttentionAligner(loaded, AlignmentSettings(layers=(-1,)), include_matrix=True)
    sym = AttentionAligner(loaded, AlignmentSettings(layers=(-1,), symmetrize="intersect"))
    for plain, result in zip(
        matrices.align_texts(SOURCES, TARGETS), sym.align_texts(SOURCES, TARGETS), strict=True
    ):
        both_ways = argmax_target(plain.matrix) & argmax_source(plain.matrix)
        assert result.links == links_from_mask(both_ways)
        assert np.all([plain.matrix[i, j] > 0 for i, j in result.links])


def test_cli_reverse_model_needs_a_symmetrisation(folders, tmp_path):
    forward_folder, reverse_folder = folders
    corpus = tmp_path / "c.txt"
    corpus.write_text("".join(f"{s} ||| {t}\n" for s, t in zip(SOURCES, TARGETS, strict=True)))
    refused = run_cli(
        ["extract", "-i", corpus, "-m", forward_folder, "--reverse-model", reverse_folder]
    )
    assert refused.exit_code == 2 and "--symmetrize" in refused.stderr
    done = run_cli(
        [
            "extract",
            "-i",
            corpus,
            "-m",
            forward_folder,
            "--reverse-model",
            reverse_folder,
            "--symmetrize",
            "grow-diag-final-and",
        ]
    )
    assert done.exit_code == 0 and done.stdout.count("\n") == 2
    assert "sym:grow-diag-final-and" in done.stderr
