"""The bootstrap of ``xalign eval``: checked against the exact bootstrap distribution.

For a handful of sentences every resample can be enumerated (n sentences have n**n equally
likely index tuples), which gives the exact bootstrap distribution; the Monte Carlo
estimate must come close to it, and the corpus measures must equal LinkCounts' own.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from align_cli.tools.bootstrap import (
    bootstrap_intervals,
    counts_matrix,
    measures,
    paired_bootstrap,
)
from align_cli.tools.evaluate import LinkCounts


def link_counts() -> st.SearchStrategy[LinkCounts]:
    @st.composite
    def build(draw) -> LinkCounts:
        predicted = draw(st.integers(0, 30))
        sure = draw(st.integers(0, 30))
        correct_possible = draw(st.integers(0, predicted))
        correct_sure = draw(st.integers(0, min(correct_possible, sure)))
        return LinkCounts(predicted, sure, sure, correct_sure, correct_possible)

    return build()


@given(st.lists(link_counts(), min_size=1, max_size=12))
def test_measures_of_summed_counts_are_linkcounts_measures(sentences):
    total = sum(sentences, LinkCounts())
    computed = measures(counts_matrix(sentences).sum(axis=0))
    for name in ("aer", "precision", "recall", "f1"):
        assert computed[name] == pytest.approx(getattr(total, name), abs=1e-12)


# Five sentences of different quality: 5**5 = 3125 resamples enumerate the bootstrap.
SYSTEM_A = [LinkCounts(6, 5, 5, 4, 5), LinkCounts(3, 4, 4, 2, 3), LinkCounts(8, 8, 8, 7, 7),
            LinkCounts(2, 5, 5, 1, 2), LinkCounts(7, 6, 6, 6, 6)]  # fmt: skip
SYSTEM_B = [LinkCounts(6, 5, 5, 3, 4), LinkCounts(3, 4, 4, 2, 2), LinkCounts(8, 8, 8, 5, 6),
            LinkCounts(2, 5, 5, 1, 1), LinkCounts(7, 6, 6, 5, 6)]  # fmt: skip


def exact_resamples(counts: np.ndarray) -> np.ndarray:
    """The corpus totals of every resample (index tuple) of the sentences."""
    n = counts.shape[0]
    tuples = np.array(list(itertools.product(range(n), repeat=n)))
    return counts[tuples].sum(axis=1)


def test_intervals_approach_the_exact_bootstrap_percentiles():
    counts = counts_matrix(SYSTEM_A)
    exact = measures(exact_resamples(counts))
    estimated = bootstrap_intervals(counts, samples=20_000, seed=3)
    for name, values in exact.items():
        low, high = np.percentile(values, [2.5, 97.5])
        assert estimated[name].low == pytest.approx(low, abs=0.02), name
        assert estimated[name].high == pytest.approx(high, abs=0.02), name
        # and the interval holds the full-corpus value
        full = measures(counts.sum(axis=0))[name]
        assert estimated[name].low <= full <= estimated[name].high


def test_paired_p_value_approaches_the_exact_one():
    a, b = counts_matrix(SYSTEM_A), counts_matrix(SYSTEM_B)
    differences = measures(exact_resamples(a))["aer"] - measures(exact_resamples(b))["aer"]
    test = paired_bootstrap(a, b, samples=20_000, seed=5)
    assert test.difference < 0  # A has the lower AER on every sentence but one
    exact_p = min(1.0, 2 * np.mean(differences >= 0))
    assert test.p_value == pytest.approx(exact_p, abs=0.01)
    low, high = np.percentile(differences, [2.5, 97.5])
    assert test.interval.low == pytest.approx(low, abs=0.01)
    assert test.interval.high == pytest.approx(high, abs=0.01)


def test_the_same_seed_gives_the_same_numbers_and_another_seed_others():
    counts = counts_matrix(SYSTEM_A * 20)
    first = bootstrap_intervals(counts, samples=300, seed=7)
    assert bootstrap_intervals(counts, samples=300, seed=7) == first
    assert bootstrap_intervals(counts, samples=300, seed=8) != first


def test_identical_predictions_differ_by_nothing():
    counts = counts_matrix(SYSTEM_A * 10)
    test = paired_bootstrap(counts, counts, samples=200)
    assert test.difference == 0 and test.p_value == 1.0
    assert test.interval.low == test.interval.high == 0.0


def test_a_consistently_better_system_is_significant_and_a_noisy_one_is_not():
    rng = np.random.default_rng(0)
    sure = rng.integers(3, 15, size=400)
    good = np.stack([sure, sure, sure - 1, sure - 1], axis=1)  # one miss per sentence
    worse = np.stack([sure, sure, sure - 2, sure - 2], axis=1)  # two misses per sentence
    assert paired_bootstrap(good, worse, samples=500).p_value < 0.01
    # Two systems that trade wins sentence by sentence at random: no significant difference.
    coin = rng.integers(0, 2, size=400)[:, None]
    left = np.where(coin == 1, good, worse)
    right = np.where(coin == 1, worse, good)
    assert paired_bootstrap(left, right, samples=500).p_value > 0.05


def test_refuses_what_it_cannot_resample():
    counts = counts_matrix(SYSTEM_A)
    with pytest.raises(ValueError, match="same sentences"):
        paired_bootstrap(counts, counts[:3])
    with pytest.raises(ValueError, match="at least one sentence"):
        bootstrap_intervals(counts[:0])
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_intervals(counts, confidence=95)


def test_a_p_value_is_never_zero_and_too_few_resamples_are_never_significant():
    sure = np.random.default_rng(1).integers(3, 15, size=300)
    good = np.stack([sure, sure, sure - 1, sure - 1], axis=1)
    worse = np.stack([sure, sure, sure - 3, sure - 3], axis=1)
    # No resample reverses this difference: the p-value is the smallest N resamples give.
    assert paired_bootstrap(good, worse, samples=999).p_value == pytest.approx(2 / 1000)
    assert paired_bootstrap(good, worse, samples=1).p_value == 1.0
    assert paired_bootstrap(good, worse, samples=38).p_value > 0.05  # 2 / 39
