"""Symmetrisation: one link set from the two directions of an aligner.

Both inputs are given **source first**, ``(i, j)`` = source word ``i``, target word ``j``:

* ``forward`` is the direction in which each *target* word chooses its source word(s): the
  cross-attention of a source-to-target translation model, fast_align's default output,
  the GIZA++ run whose A3 file has the source sentence on the ``NULL`` line.
* ``reverse`` is the other direction, in which each *source* word chooses target word(s).
  Files that write it target first (lilt's ``*.reverse.talp``, a target-to-source A3 file
  read as is) must be flipped before they come here; :func:`flip` does that.

The methods have the names atools (fast_align) and Moses use: ``intersect``, ``union``,
``grow-diag``, ``grow-diag-final`` and ``grow-diag-final-and``. The grow methods follow
Koehn, Och & Marcu (2003) exactly as Moses' ``symal`` implements them, because the order
in which points are visited decides which of two competing neighbours is taken:

1. Start from the intersection. Visit its points in ascending ``(target, source)`` order,
   looking at the neighbours left, up, right, down, then the four diagonals (``grow-diag``).
   A neighbour that is in the union and joins at least one word that is still unaligned is
   added at once; points added *after* the current one in that order are visited in the
   same sweep (symal walks a ``std::set`` while inserting into it). Sweep again until a
   sweep adds nothing.
2. ``final``: walk the union in ``(target, source)`` order, first the points only the
   forward direction has, then those only the reverse direction has, and add a point when
   at least one of its words is unaligned (``final-and``: when *both* are).

Inputs need not be functions (one link per word); neural aligners give many-to-many sets
and the algorithm is the same on them.
"""

from __future__ import annotations

from bisect import bisect_right, insort
from collections.abc import Iterable, Mapping

from align_cli.settings import SYMMETRIZATIONS
from align_cli.types import Link

# Neighbour offsets in symal's (target, source) coordinates and in symal's order.
_SIDE_NEIGHBOURS = ((-1, 0), (0, -1), (1, 0), (0, 1))
_DIAGONAL_NEIGHBOURS = ((-1, -1), (-1, 1), (1, -1), (1, 1))


def flip(links: Iterable[Link]) -> set[Link]:
    """Swap the two sides of every link (target-first to source-first and back)."""
    return {(j, i) for i, j in links}


def symmetrize(
    forward: set[Link] | frozenset[Link],
    reverse: set[Link] | frozenset[Link],
    method: str,
    n_src: int | None = None,
    n_tgt: int | None = None,
) -> set[Link]:
    """Combine the two directions with ``method`` (a name in ``settings.SYMMETRIZATIONS``).

    ``forward`` and ``reverse`` are both source first (see the module docstring for which
    is which: the order matters for the ``final`` steps). ``n_src`` and ``n_tgt``, when
    given, are the sentence lengths, and a link outside them raises :class:`ValueError`.
    The result is a new set of source-first links.
    """
    if method not in SYMMETRIZATIONS:
        raise ValueError(f"unknown symmetrisation method {method!r}; choose from {SYMMETRIZATIONS}")
    _check_bounds(forward, n_src, n_tgt, "forward")
    _check_bounds(reverse, n_src, n_tgt, "reverse")
    if method == "intersect":
        return set(forward) & set(reverse)
    if method == "union":
        return set(forward) | set(reverse)
    grown = _grow_diag(forward, reverse)
    if method == "grow-diag-final":
        _final(grown, forward, reverse, both_unaligned=False)
    elif method == "grow-diag-final-and":
        _final(grown, forward, reverse, both_unaligned=True)
    return {(i, j) for j, i in grown.points}


def _check_bounds(links: Iterable[Link], n_src: int | None, n_tgt: int | None, name: str) -> None:
    for i, j in links:
        if (
            i < 0
            or j < 0
            or (n_src is not None and i >= n_src)
            or (n_tgt is not None and j >= n_tgt)
        ):
            raise ValueError(
                f"{name} link {i}-{j} is outside a sentence of {n_src} source and "
                f"{n_tgt} target words"
            )


class _Growing:
    """The alignment being grown, in symal's (target, source) coordinates.

    ``points`` is kept sorted so that the sweep can continue from "the next point after
    the current one" even while points are inserted, as a ``std::set`` iterator does.
    """

    def __init__(self, intersection: set[Link]):
        self.points: list[Link] = sorted(intersection)
        self.members: set[Link] = set(intersection)
        self.aligned_tgt: set[int] = {t for t, _ in intersection}
        self.aligned_src: set[int] = {s for _, s in intersection}

    def add(self, point: Link) -> None:
        insort(self.points, point)
        self.members.add(point)
        self.aligned_tgt.add(point[0])
        self.aligned_src.add(point[1])

    def after(self, point: Link) -> Link | None:
        position = bisect_right(self.points, point)
        return self.points[position] if position < len(self.points) else None


def _grow_diag(forward: Iterable[Link], reverse: Iterable[Link]) -> _Growing:
    union = {(j, i) for i, j in forward} | {(j, i) for i, j in reverse}
    intersection = {(j, i) for i, j in forward} & {(j, i) for i, j in reverse}
    grown = _Growing(intersection)
    neighbours = _SIDE_NEIGHBOURS + _DIAGONAL_NEIGHBOURS
    added = True
    while added:
        added = False
        current = grown.points[0] if grown.points else None
        while current is not None:
            t, s = current
            for dt, ds in neighbours:
                candidate = (t + dt, s + ds)
                if candidate not in union:
                    continue
                if candidate[0] in grown.aligned_tgt and candidate[1] in grown.aligned_src:
                    continue
                grown.add(candidate)
                added = True
            current = grown.after(current)
    return grown


def _final(
    grown: _Growing, forward: Iterable[Link], reverse: Iterable[Link], *, both_unaligned: bool
) -> None:
    forward_points = {(j, i) for i, j in forward}
    reverse_points = {(j, i) for i, j in reverse}
    # symal first takes the points only the forward direction proposed, then those only the
    # reverse direction proposed; each pass walks them in (target, source) order.
    for candidates in (forward_points - reverse_points, reverse_points - forward_points):
        for point in sorted(candidates):
            if point in grown.members:
                continue
            tgt_free = point[0] not in grown.aligned_tgt
            src_free = point[1] not in grown.aligned_src
            if (tgt_free and src_free) if both_unaligned else (tgt_free or src_free):
                grown.add(point)


def symmetrize_scores(
    forward: Mapping[Link, float],
    reverse: Mapping[Link, float],
    method: str,
    n_src: int | None = None,
    n_tgt: int | None = None,
) -> dict[Link, float]:
    """Symmetrise two scored link sets and score each kept link by the mean of both.

    The links are ``symmetrize(forward.keys(), reverse.keys(), method)``; a direction that
    did not propose a link contributes 0 to its mean, so a link both directions agree on
    scores higher than one only a single direction proposed.
    """
    links = symmetrize(set(forward), set(reverse), method, n_src, n_tgt)
    return {link: (forward.get(link, 0.0) + reverse.get(link, 0.0)) / 2 for link in sorted(links)}
