"""Extraction: from a word-level score matrix to a set of links.

Every method takes ``scores`` of shape ``[n_src, n_tgt]`` (rows are source words) and
returns a boolean matrix of the same shape marking the links. For cross-attention the
column ``scores[:, j]`` is target word ``j``'s distribution over source words; for
embedding similarity the matrix is symmetric in meaning. Ties go to the lowest index
(numpy's ``argmax``), which keeps results deterministic and comparable with SimAlign.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from align_cli.errors import XalignError
from align_cli.settings import DEFAULT_THRESHOLDS, EXTRACTION_METHODS
from align_cli.types import Link


def _one_hot_argmax(scores: np.ndarray, axis: int) -> np.ndarray:
    """Mark, along ``axis``, the position of the maximum (first one on ties)."""
    marks = np.zeros(scores.shape, dtype=bool)
    best = scores.argmax(axis=axis)
    if axis == 0:
        marks[best, np.arange(scores.shape[1])] = True
    else:
        marks[np.arange(scores.shape[0]), best] = True
    return marks


def argmax_target(scores: np.ndarray) -> np.ndarray:
    """Each target word links to its best source word (the attention's own direction)."""
    if scores.size == 0:
        return np.zeros(scores.shape, dtype=bool)
    return _one_hot_argmax(scores, axis=0)


def argmax_source(scores: np.ndarray) -> np.ndarray:
    """Each source word links to its best target word (the reverse direction)."""
    if scores.size == 0:
        return np.zeros(scores.shape, dtype=bool)
    return _one_hot_argmax(scores, axis=1)


def intersect_argmax(scores: np.ndarray) -> np.ndarray:
    """Links that are the argmax of both their row and their column (SimAlign's ArgMax)."""
    return argmax_target(scores) & argmax_source(scores)


def itermax(scores: np.ndarray, max_rounds: int = 2, alpha: float = 0.9) -> np.ndarray:
    """SimAlign's IterMax (Jalili Sabet et al. 2020, section 2.3).

    Start from :func:`intersect_argmax`; then, in up to ``max_rounds - 1`` further rounds,
    re-run the mutual argmax on a matrix where cells in rows or columns that are already
    aligned are down-weighted by ``alpha`` (cells whose row *and* column are both aligned
    cannot be picked), and add the new mutual links. Sentences with two words or fewer on
    either side stop after the first round, as in the paper.
    """
    n_src, n_tgt = scores.shape
    links = intersect_argmax(scores)
    if min(n_src, n_tgt) <= 2:
        return links
    for _ in range(max_rounds - 1):
        src_free = ~links.any(axis=1)  # [n_src]
        tgt_free = ~links.any(axis=0)  # [n_tgt]
        if not src_free.any() or not tgt_free.any():
            break
        # Weight alpha for a cell whose row or column is free, 2*alpha (capped at 1) when
        # both are: a fresh pairing of two unaligned words is preferred.
        weight = np.clip(alpha * src_free[:, None] + alpha * tgt_free[None, :], 0.0, 1.0)
        allowed = src_free[:, None] | tgt_free[None, :]
        reweighted = scores * weight
        new_links = argmax_source(reweighted) & argmax_target(reweighted) & allowed
        if not (new_links & ~links).any():
            break
        links = links | new_links
    return links


def threshold(scores: np.ndarray, value: float) -> np.ndarray:
    """Links whose score exceeds ``value``."""
    return scores > value


def match(scores: np.ndarray) -> np.ndarray:
    """SimAlign's Match ("mwmf"): the maximum-weight bipartite matching.

    Every word of the shorter side gets exactly one partner and no word is used twice, so
    the result has ``min(n_src, n_tgt)`` links with the largest total score. SimAlign
    asks networkx for a maximum-weight matching among the maximum-cardinality ones on
    the complete bipartite graph; that is the rectangular assignment problem, which
    scipy solves exactly in O(n^3) instead of networkx's general-graph blossom algorithm
    in pure Python. The optimum is the same whenever it is unique (ties between two
    matchings of equal total score are broken differently by the two solvers).
    """
    links = np.zeros(scores.shape, dtype=bool)
    if scores.size == 0:
        return links
    # Imported here: scipy.optimize takes a noticeable time to import, and only this
    # method needs it.
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(scores, maximize=True)
    links[rows, cols] = True
    return links


def _softmax(logits: np.ndarray, axis: int) -> np.ndarray:
    shifted = logits - logits.max(axis=axis, keepdims=True)
    weights = np.exp(shifted)
    return weights / weights.sum(axis=axis, keepdims=True)


def softmax_threshold(scores: np.ndarray, value: float = 0.001) -> np.ndarray:
    """awesome-align's extraction (Dou & Neubig 2021): both softmaxes above ``value``.

    ``scores`` are unnormalised similarities (awesome-align: dot products of hidden
    states). A link needs the softmax over its row (the source word's distribution over
    target words) *and* the softmax over its column (the target word's distribution over
    source words) to exceed ``value``; awesome-align's default is 0.001. Computed in
    float64 so that the comparison with ``value`` does not depend on the device's dtype.
    """
    if scores.size == 0:
        return np.zeros(scores.shape, dtype=bool)
    logits = scores.astype(np.float64)
    return (_softmax(logits, axis=1) > value) & (_softmax(logits, axis=0) > value)


def extract(scores: np.ndarray, method: str, *, threshold_value: float | None = None) -> np.ndarray:
    """Run the extraction ``method`` (a key of :data:`EXTRACTORS`) on ``scores``.

    ``threshold_value`` is used by the two threshold methods; ``None`` takes the method's
    default from :data:`DEFAULT_THRESHOLDS`.
    """
    if method not in EXTRACTORS:
        raise XalignError(
            f"unknown extraction method {method!r}; choose one of {', '.join(EXTRACTION_METHODS)}"
        )
    if method in DEFAULT_THRESHOLDS:
        value = DEFAULT_THRESHOLDS[method] if threshold_value is None else threshold_value
        return EXTRACTORS[method](scores, value)
    return EXTRACTORS[method](scores)


# The registry: every method settings.EXTRACTION_METHODS names, by name. The threshold
# methods take the threshold as a second argument.
EXTRACTORS: dict[str, Callable[..., np.ndarray]] = {
    "argmax": argmax_target,
    "inter": intersect_argmax,
    "itermax": itermax,
    "match": match,
    "threshold": threshold,
    "softmax_threshold": softmax_threshold,
}


def links_from_mask(mask: np.ndarray) -> list[Link]:
    """The marked cells as sorted ``(source, target)`` pairs."""
    src, tgt = np.nonzero(mask)
    return [(int(i), int(j)) for i, j in zip(src, tgt, strict=True)]
