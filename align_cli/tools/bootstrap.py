"""How sure is a score? Bootstrap confidence intervals and a paired bootstrap test.

AER is micro-averaged (:mod:`align_cli.tools.evaluate`), so a resample of the test set
is a multiset of *sentences* whose link counts are summed before the ratios are taken.
Drawing ``n`` sentences with replacement is the same as giving sentence ``k`` the weight
``w_k ~ Multinomial(n, 1/n)`` and summing ``w @ counts``; that is what is computed here,
a chunk of resamples at a time, so memory stays small whatever the size of the test set.

* :func:`bootstrap_intervals`: percentile intervals (Efron & Tibshirani 1993, ch. 13) of
  AER, precision, recall and F1.
* :func:`paired_bootstrap`: two predictions on the same gold, resampled together (Koehn
  2004): the difference of a measure, its percentile interval, and a two-sided p-value,
  twice the share of resamples on the far side of zero from the observed difference.

Everything is seeded: the same inputs and seed give the same numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from align_cli.tools.evaluate import LinkCounts

MEASURES = ("aer", "precision", "recall", "f1")
# Resamples drawn at once: a [CHUNK, n] weight matrix (int64) for n sentences.
CHUNK = 256


@dataclass(frozen=True)
class Interval:
    low: float
    high: float

    def to_dict(self) -> dict[str, float]:
        return {"low": self.low, "high": self.high}


@dataclass(frozen=True)
class PairedTest:
    """``difference`` is measure(A) − measure(B) on the whole test set."""

    measure: str
    difference: float
    interval: Interval
    p_value: float
    samples: int
    seed: int

    def to_dict(self) -> dict[str, object]:
        return {
            "measure": self.measure,
            "difference": self.difference,
            "interval": self.interval.to_dict(),
            "p_value": self.p_value,
            "samples": self.samples,
            "seed": self.seed,
        }


def counts_matrix(sentences: Iterable[LinkCounts]) -> np.ndarray:
    """``[n, 4]`` int64: |A|, |S|, |A∩S|, |A∩P| of each sentence (all AER needs)."""
    rows = [(c.predicted, c.sure, c.correct_sure, c.correct_possible) for c in sentences]
    return np.asarray(rows, dtype=np.int64).reshape(-1, 4)


def measures(totals: np.ndarray) -> dict[str, np.ndarray]:
    """AER, precision, recall and F1 of summed counts ``[..., 4]`` (as LinkCounts does:
    a ratio with denominator 0 is 0)."""
    predicted, sure, correct_sure, correct_possible = (totals[..., k] for k in range(4))
    precision = _ratio(correct_possible, predicted)
    recall = _ratio(correct_sure, sure)
    both = precision + recall
    f1 = np.where(both > 0, 2 * precision * recall / np.where(both > 0, both, 1), 0.0)
    aer = 1.0 - _ratio(correct_sure + correct_possible, predicted + sure)
    return {"aer": aer, "precision": precision, "recall": recall, "f1": f1}


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    safe = np.where(denominator > 0, denominator, 1)
    return np.where(denominator > 0, numerator / safe, 0.0)


def _resampled_totals(
    counts: Iterable[np.ndarray], samples: int, seed: int
) -> Iterator[tuple[np.ndarray, ...]]:
    """Chunks of resampled corpus totals, the same resamples for every matrix given."""
    matrices = list(counts)
    n = matrices[0].shape[0]
    rng = np.random.default_rng(seed)
    done = 0
    while done < samples:
        size = min(CHUNK, samples - done)
        weights = rng.multinomial(n, np.full(n, 1.0 / n), size=size)
        yield tuple(weights @ matrix for matrix in matrices)
        done += size


def _percentiles(values: np.ndarray, confidence: float) -> Interval:
    tail = (1.0 - confidence) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return Interval(float(low), float(high))


def _check(samples: int, confidence: float, n: int) -> None:
    if samples < 1:
        raise ValueError("the bootstrap needs at least one resample")
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1, e.g. 0.95")
    if n == 0:
        raise ValueError("the bootstrap needs at least one sentence")


def bootstrap_intervals(
    counts: np.ndarray, *, samples: int = 1000, confidence: float = 0.95, seed: int = 0
) -> dict[str, Interval]:
    """Percentile intervals of every measure over ``samples`` sentence resamples."""
    _check(samples, confidence, counts.shape[0])
    drawn = {measure: [] for measure in MEASURES}
    for (totals,) in _resampled_totals([counts], samples, seed):
        for measure, values in measures(totals).items():
            drawn[measure].append(values)
    return {m: _percentiles(np.concatenate(v), confidence) for m, v in drawn.items()}


def paired_bootstrap(
    counts_a: np.ndarray,
    counts_b: np.ndarray,
    *,
    measure: str = "aer",
    samples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> PairedTest:
    """Is A's ``measure`` different from B's on this gold? Both are resampled together."""
    if counts_a.shape != counts_b.shape:
        raise ValueError("the two predictions must score the same sentences")
    if measure not in MEASURES:
        raise ValueError(f"unknown measure {measure!r}; choose {', '.join(MEASURES)}")
    _check(samples, confidence, counts_a.shape[0])
    observed = float(
        measures(counts_a.sum(axis=0))[measure] - measures(counts_b.sum(axis=0))[measure]
    )
    differences = np.concatenate(
        [
            measures(totals_a)[measure] - measures(totals_b)[measure]
            for totals_a, totals_b in _resampled_totals([counts_a, counts_b], samples, seed)
        ]
    )
    # Two-sided: how often the resampled difference falls on the other side of zero (or on
    # it) from the observed one, doubled. Ties at zero count against significance.
    if observed > 0:
        far_side = np.mean(differences <= 0)
    elif observed < 0:
        far_side = np.mean(differences >= 0)
    else:
        far_side = 0.5
    return PairedTest(
        measure=measure,
        difference=observed,
        interval=_percentiles(differences, confidence),
        p_value=float(min(1.0, 2 * far_side)),
        samples=samples,
        seed=seed,
    )
