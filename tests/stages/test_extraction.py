"""Extraction methods on word-level score matrices ([n_src, n_tgt], source rows)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from align_cli.stages.extraction import (
    argmax_source,
    argmax_target,
    extract,
    intersect_argmax,
    itermax,
    links_from_mask,
    threshold,
)

matrices = st.tuples(st.integers(1, 8), st.integers(1, 8)).flatmap(
    lambda shape: arrays(np.float64, shape, elements=st.floats(0, 1, allow_nan=False))
)

SCORES = np.array(
    [
        [0.7, 0.1, 0.0],
        [0.2, 0.2, 0.6],
        [0.1, 0.7, 0.4],
    ]
)


def test_argmax_links_every_target_word_to_its_best_source_word():
    assert links_from_mask(argmax_target(SCORES)) == [(0, 0), (1, 2), (2, 1)]


def test_argmax_ties_go_to_the_lowest_index():
    assert links_from_mask(argmax_target(np.array([[0.5], [0.5]]))) == [(0, 0)]


def test_threshold_keeps_links_strictly_above_the_value():
    assert links_from_mask(threshold(SCORES, 0.6)) == [(0, 0), (2, 1)]
    assert links_from_mask(extract(SCORES, "threshold", threshold_value=0.5)) == [
        (0, 0),
        (1, 2),
        (2, 1),
    ]


@given(matrices)
@settings(max_examples=100, deadline=None)
def test_inter_is_the_intersection_of_both_argmax_directions(scores):
    both = intersect_argmax(scores)
    assert (both == (argmax_target(scores) & argmax_source(scores))).all()
    # a mutual argmax is one link per word at most
    assert both.sum(axis=0).max() <= 1 and both.sum(axis=1).max() <= 1


@given(matrices)
@settings(max_examples=100, deadline=None)
def test_itermax_extends_inter_and_only_adds_links_to_unaligned_words(scores):
    first = intersect_argmax(scores)
    grown = itermax(scores)
    assert (grown >= first).all()
    for i, j in links_from_mask(grown & ~first):
        assert not first[i].any() or not first[:, j].any()


def test_itermax_aligns_a_word_that_inter_leaves_out():
    # Source 0 and 1 both prefer target 0, so inter leaves source 1 out. In round two,
    # cells of unaligned words keep 0.9 of their score (1.0 if both words are free):
    # (1,0) scores 0.72 and beats (1,1) at 0.5, giving a many-to-one link.
    scores = np.array([[0.9, 0.1, 0.0], [0.8, 0.5, 0.0], [0.0, 0.0, 0.9]])
    assert links_from_mask(intersect_argmax(scores)) == [(0, 0), (2, 2)]
    assert links_from_mask(itermax(scores)) == [(0, 0), (1, 0), (2, 2)]
    # With a weaker pull to target 0, the free pair (1,1) wins instead.
    scores[1, 0] = 0.5
    assert links_from_mask(itermax(scores)) == [(0, 0), (1, 1), (2, 2)]


def test_empty_matrices_give_no_links():
    empty = np.zeros((0, 3))
    assert links_from_mask(argmax_target(empty)) == []
    assert links_from_mask(intersect_argmax(np.zeros((2, 0)))) == []
