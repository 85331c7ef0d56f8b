"""Subword pooling, Shift-Att rows and renormalisation, against plain-loop references."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from align_cli.stages.aggregation import WordMaps, decoder_row_owner, pool_axis, word_scores


def owners(draw, length: int, n_words: int) -> list[int]:
    """Contiguous word spans with special tokens (-1) before and after, like a tokenizer."""
    sizes = [draw(st.integers(0, 3)) for _ in range(n_words)]
    lead = draw(st.integers(0, 2))
    out = [-1] * lead + [w for w, size in enumerate(sizes) for _ in range(size)]
    return (out + [-1] * length)[:length]


@st.composite
def batches(draw):
    batch = draw(st.integers(1, 3))
    rows, cols = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    n_tgt, n_src = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    values = torch.rand(
        batch,
        rows,
        cols,
        generator=torch.Generator().manual_seed(draw(st.integers(0, 10_000))),
        dtype=torch.float64,
    )
    row_owner = torch.tensor([owners(draw, rows, n_tgt) for _ in range(batch)])
    col_owner = torch.tensor([owners(draw, cols, n_src) for _ in range(batch)])
    return values, row_owner, col_owner, n_tgt, n_src


@pytest.mark.parametrize("pooling", ["mean", "max", "sum"])
@given(data=batches())
@settings(max_examples=40, deadline=None)
def test_pooling_equals_a_loop_over_word_spans(pooling, data):
    values, row_owner, col_owner, n_tgt, n_src = data
    pooled = pool_axis(values, row_owner, n_tgt, pooling, axis=1)
    pooled = pool_axis(pooled, col_owner, n_src, pooling, axis=2)
    reduce = {"mean": np.mean, "max": np.max, "sum": np.sum}[pooling]
    for b in range(values.shape[0]):
        for j in range(n_tgt):
            rows = [r for r in range(values.shape[1]) if row_owner[b, r] == j]
            for i in range(n_src):
                cols = [c for c in range(values.shape[2]) if col_owner[b, c] == i]
                if not rows or not cols:
                    assert pooled[b, j, i] == 0
                    continue
                by_row = [reduce([values[b, r, c].item() for r in rows]) for c in cols]
                assert pooled[b, j, i].item() == pytest.approx(reduce(by_row))


def test_shift_att_reads_each_target_token_one_row_later():
    labels = torch.tensor([[0, 0, 1, -1, -1]])  # word 0 = 2 pieces, word 1, EOS, pad
    assert decoder_row_owner(labels, 6, shift=False).tolist() == [[0, 0, 1, -1, -1, -1]]
    assert decoder_row_owner(labels, 6, shift=True).tolist() == [[-1, 0, 0, 1, -1, -1]]


def test_special_token_mass_is_removed_and_rows_renormalised():
    # one target word (row 0); source tokens: word0, word1, EOS holding most of the mass
    attention = torch.tensor([[[0.1, 0.3, 0.6], [0.0, 0.0, 1.0]]])
    maps = WordMaps(torch.tensor([[0, 1, -1]]), torch.tensor([[0, -1]]), 2, 1)
    scores = word_scores(attention, maps, shift=False, pooling="mean")
    assert scores[0, 0].tolist() == pytest.approx([0.25, 0.75])


def test_a_word_without_pieces_has_an_all_zero_row():
    attention = torch.rand(1, 3, 3)
    maps = WordMaps(torch.tensor([[0, 1, -1]]), torch.tensor([[0, -1, -1]]), 2, 2)
    scores = word_scores(attention, maps, shift=False, pooling="mean")
    assert scores[0, 1].tolist() == [0.0, 0.0]
    assert scores[0, 0].sum().item() == pytest.approx(1.0)
