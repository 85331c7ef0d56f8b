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


ExtractionMethod = Callable[[np.ndarray], np.ndarray]

METHODS: dict[str, str] = {
    "argmax": "each target word to its most attended source word",
    "inter": "argmax in both directions of the matrix, intersected (SimAlign's ArgMax)",
    "itermax": "SimAlign's IterMax: inter, then extra rounds for still-unaligned words",
    "threshold": "every link whose score exceeds --threshold",
}


def extract(scores: np.ndarray, method: str, *, threshold_value: float = 0.1) -> np.ndarray:
    """Run the extraction ``method`` (a key of :data:`METHODS`) on ``scores``."""
    if method == "argmax":
        return argmax_target(scores)
    if method == "inter":
        return intersect_argmax(scores)
    if method == "itermax":
        return itermax(scores)
    if method == "threshold":
        return threshold(scores, threshold_value)
    raise XalignError(f"unknown extraction method {method!r}; choose one of {', '.join(METHODS)}")


def links_from_mask(mask: np.ndarray) -> list[Link]:
    """The marked cells as sorted ``(source, target)`` pairs."""
    src, tgt = np.nonzero(mask)
    return [(int(i), int(j)) for i, j in zip(src, tgt, strict=True)]
