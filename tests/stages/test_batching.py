"""``align_cli.stages.batching``: windows, budgeted batches, padding, the teacher-forced batch.

The batches are checked against a brute-force reference: of every way to cut the items
into consecutive runs within the budgets (a run over the token budget only when it is a
single item), the batcher's is the one whose runs are as long as possible, first to last,
and no other way needs fewer runs.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from align_cli.stages.batching import (
    EncodedPair,
    pad,
    padded_batches,
    teacher_forced_batch,
    windows,
)
from align_cli.stages.subwords import EncodedSide
from align_cli.types import SentencePair

# --------------------------------------------------------------------------- padded_batches


def _fits(run: list[int], max_items: int, max_tokens: int) -> bool:
    return len(run) == 1 or (len(run) <= max_items and len(run) * max(run) <= max_tokens)


def _all_cuts(costs: list[int]):
    """Every way to cut ``costs`` into consecutive non-empty runs (none for no costs)."""
    n = len(costs)
    if n == 0:
        return
    for cuts in itertools.product((False, True), repeat=n - 1):
        runs, start = [], 0
        for position, cut in enumerate(cuts, start=1):
            if cut:
                runs.append(costs[start:position])
                start = position
        runs.append(costs[start:])
        yield runs


def _reference(costs: list[int], max_items: int, max_tokens: int) -> list[list[int]]:
    """Brute force: the valid cut with the longest first run, then the longest second, ..."""
    valid = [
        runs for runs in _all_cuts(costs) if all(_fits(r, max_items, max_tokens) for r in runs)
    ]
    return max(valid, key=lambda runs: [len(r) for r in runs], default=[])


budgets = st.tuples(st.integers(1, 5), st.integers(1, 40))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(1, 12), max_size=9), budgets, st.booleans())
def test_padded_batches_match_the_brute_force_reference(costs, budget, presorted):
    max_items, max_tokens = budget
    if presorted:
        costs = sorted(costs)  # how the aligners call it
    # Distinct items with the costs, so that order and identity can be checked.
    items = [(index, cost) for index, cost in enumerate(costs)]
    batches = list(padded_batches(items, lambda item: item[1], max_items, max_tokens))

    assert [item for batch in batches for item in batch] == items  # order kept, none lost
    for batch in batches:
        batch_costs = [cost for _, cost in batch]
        assert batch, "no empty batch"
        over = len(batch) > max_items or len(batch) * max(batch_costs) > max_tokens
        assert not over or len(batch) == 1, (batch, budget)

    reference = _reference(costs, max_items, max_tokens)
    assert [[cost for _, cost in batch] for batch in batches] == reference
    fewest = min(
        (
            len(runs)
            for runs in _all_cuts(costs)
            if all(_fits(r, max_items, max_tokens) for r in runs)
        ),
        default=0,
    )
    assert len(batches) == fewest


def test_padded_batches_count_padding_by_the_widest_item():
    # 3 + 3 fit 6 tokens, but a run of 3 and 4 pads to 2 x 4 = 8.
    assert list(padded_batches([3, 3, 4, 4], lambda c: c, 10, 6)) == [[3, 3], [4], [4]]
    assert list(padded_batches([3, 3, 4, 4], lambda c: c, 10, 16)) == [[3, 3, 4, 4]]
    assert list(padded_batches([3, 3, 4, 4], lambda c: c, 3, 16)) == [[3, 3, 4], [4]]


def test_an_item_over_the_token_budget_runs_alone():
    assert list(padded_batches([1, 50, 1], lambda c: c, 8, 10)) == [[1], [50], [1]]
    assert list(padded_batches([], lambda c: c, 8, 10)) == []


# --------------------------------------------------------------------------- windows


def _pairs(n: int) -> list[SentencePair]:
    return [SentencePair(index, (f"s{index}",), (f"t{index}",)) for index in range(n)]


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 30), st.integers(1, 12))
def test_windows_are_consecutive_full_runs_of_the_pairs(n, size):
    pairs = _pairs(n)
    found = list(windows(iter(pairs), size))
    assert [pair for window in found for pair in window] == pairs
    assert all(len(window) == size for window in found[:-1])
    assert len(found) == -(-n // size)  # ceil(n / size); none for no pairs
    if found:
        assert 1 <= len(found[-1]) <= size


def test_windows_read_no_further_than_the_window_they_yield():
    read: list[int] = []

    def endless():
        for index in itertools.count():
            read.append(index)
            yield SentencePair(index, ("s",), ("t",))

    stream = windows(endless(), 3)
    first = next(stream)
    assert [pair.index for pair in first] == [0, 1, 2] and read == [0, 1, 2]
    assert [pair.index for pair in next(stream)] == [3, 4, 5] and len(read) == 6


# --------------------------------------------------------------------------- pad


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 50_000), max_size=7), min_size=1, max_size=6),
    st.integers(-1, 9),
)
def test_pad_right_pads_every_row_to_the_longest(rows, value):
    padded = pad([np.asarray(row, dtype=np.int64) for row in rows], value)
    width = max(len(row) for row in rows)
    assert isinstance(padded, torch.Tensor) and padded.dtype == torch.int64
    assert padded.tolist() == [row + [value] * (width - len(row)) for row in rows]


# --------------------------------------------------------------------------- teacher forcing


def _side(ids: list[int], owners: list[int], n_words: int) -> EncodedSide:
    return EncodedSide(np.array(ids, dtype=np.int64), np.array(owners, dtype=np.int64), n_words)


# Two pairs by hand: 2 is EOS (no word), the decoder starts with 1, padding is 3.
FIRST = EncodedPair(
    SentencePair(0, ("a", "b"), ("x", "y")),
    _side([5, 6, 7, 2], [0, 0, 1, -1], 2),
    _side([8, 9, 2], [0, 1, -1], 2),
)
SECOND = EncodedPair(
    SentencePair(1, ("c",), ("u", "v", "w")),
    _side([4, 2], [0, -1], 1),
    _side([10, 11, 12, 13, 2], [0, 1, 1, 2, -1], 3),
)


def test_encoded_pair_cost_and_width():
    assert (FIRST.cost, FIRST.width) == (4 + 3 + 1, 4)
    assert (SECOND.cost, SECOND.width) == (2 + 5 + 1, 5)


def test_teacher_forced_batch_pads_both_sides_and_their_word_maps():
    batch = teacher_forced_batch([FIRST, SECOND], start_id=1, pad_id=3, device=torch.device("cpu"))
    assert batch.src_ids.tolist() == [[5, 6, 7, 2], [4, 2, 3, 3]]
    assert batch.src_mask.tolist() == [[1, 1, 1, 1], [1, 1, 0, 0]]
    # The decoder reads the start token, then the target: one position longer.
    assert batch.decoder_ids.tolist() == [[1, 8, 9, 2, 3, 3], [1, 10, 11, 12, 13, 2]]
    # Padding belongs to no word, like the special tokens.
    assert batch.maps.src_word_of_token.tolist() == [[0, 0, 1, -1], [0, -1, -1, -1]]
    assert batch.maps.tgt_word_of_token.tolist() == [[0, 1, -1, -1, -1], [0, 1, 1, 2, -1]]
    assert (batch.maps.n_src_words, batch.maps.n_tgt_words) == (2, 3)
    for tensor in (batch.src_ids, batch.src_mask, batch.decoder_ids):
        assert tensor.dtype == torch.int64 and tensor.device.type == "cpu"


def test_teacher_forced_batch_of_one_pair_has_no_padding():
    batch = teacher_forced_batch([SECOND], start_id=0, pad_id=3, device=torch.device("cpu"))
    assert batch.src_ids.tolist() == [[4, 2]] and batch.src_mask.tolist() == [[1, 1]]
    assert batch.decoder_ids.tolist() == [[0, 10, 11, 12, 13, 2]]
    assert (batch.maps.n_src_words, batch.maps.n_tgt_words) == (1, 3)


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_teacher_forced_rows_follow_the_batch_order(order):
    pairs = [(FIRST, SECOND)[k] for k in order]
    batch = teacher_forced_batch(pairs, start_id=1, pad_id=3, device=torch.device("cpu"))
    for row, pair in enumerate(pairs):
        n = len(pair.src.ids)
        assert batch.src_ids[row, :n].tolist() == pair.src.ids.tolist()
        assert batch.decoder_ids[row, 1 : 1 + len(pair.tgt.ids)].tolist() == pair.tgt.ids.tolist()
