"""Markup transfer: move inline tags from a source sentence to its translation.

A translation tool gets a segment such as ``Click <b>Save file</b> <x/> now`` and a
machine translation without the tags. The word alignment says which target words
translate which source words, and so where each tag belongs in the translation. This
module does that placement with pure functions; the alignment itself comes from xalign.
How tagged text is read into words and tags is in :mod:`align_cli.tools.markup`
(re-exported here); XLIFF's inline codes are read into the same structure by
:mod:`align_cli.tools.xliff`. Link ``(i, j)`` joins source word ``i`` and target word
``j``, 0-based.

The rules, in the order they are applied:

1. **Paired tags cover the target words aligned to their source words**: the target
   span of ``<b>…</b>`` is the *minimal covering span* of every target word linked to a
   source word inside it (words of nested tags included), so words the alignment leaves
   out in the middle are covered too (a paired tag must be contiguous).
2. **Nesting is kept**: a tag nested in another in the source lies inside its parent's
   target span (its span is clipped to the parent's). Tags are placed outer first, then
   left to right, and when a tag's span would cross a span placed before it (reordering
   can do that to two sibling tags), it gives up the words already covered and keeps the
   part outside. So the output is always well nested; a tag may end up *inside* a
   sibling's span when the translation interleaves their words.
3. **Unaligned tags still appear** (the fallback): a paired tag none of whose words is
   aligned (or whose covering span falls outside its parent) becomes an empty pair
   ``<b></b>``, and a standalone tag sits in a gap between two target words. Both are
   anchored on the nearest aligned source word: the word right after the tag (the tag
   goes *before* its first target word), else the word right before it (the tag goes
   *after* its last target word), then further words, alternating right and left. With no
   link at all the tag keeps its relative position in the sentence. The position is then
   clamped into the parent's target span.
4. **No tag is lost or invented**, and the target words keep their order: removing the
   tags from the output gives the target words back.

Each placement records how it was made (:attr:`TargetPlacement.how`), so that callers can
count the tags the fallback placed.

:func:`transfer_tags` does everything on strings; :func:`parse_markup`,
:func:`place_tags` and :func:`insert_tags` are the steps, for callers who tokenise
differently or want the placements. :func:`target_sequence` gives the output as target
word indices and tag edges, and :func:`interleave` lays that sequence into the original
target string (its spacing kept), for writers other than plain text.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from align_cli.tools.markup import (
    Markup,
    MarkupError,
    SourceTag,
    WordSplitter,
    is_tag,
    join_tokens,
    parse_markup,
    split_tokens,
    strip_tags,
    whitespace_spans,
)
from align_cli.types import Link

# TargetPlacement.how: through the links; through the links, then cut or moved to keep
# the nesting (rule 2, or a gap clamped into its parent); the fallback of rule 3 (the
# nearest aligned word); the fallback with no link in the pair at all.
ALIGNED, TRIMMED, NEAREST, RELATIVE = "aligned", "trimmed", "nearest", "relative"
PLACEMENT_KINDS = (ALIGNED, TRIMMED, NEAREST, RELATIVE)
FALLBACK_KINDS = (NEAREST, RELATIVE)


@dataclass(frozen=True)
class TargetPlacement:
    """Where a tag goes in the target: it covers target words ``start``…``end - 1``.

    ``start == end`` means an empty pair or a standalone tag in the gap before target
    word ``start`` (``start == len(target)`` is after the last word). ``how`` is one of
    :data:`PLACEMENT_KINDS`.
    """

    tag: SourceTag
    start: int
    end: int
    how: str = ALIGNED


# --------------------------------------------------------------------------- placement


class _Anchors:
    """Target positions of each source word's links, for anchoring tags."""

    def __init__(self, n_src: int, n_tgt: int, links: Iterable[Link]):
        self.n_src, self.n_tgt = n_src, n_tgt
        self.targets: list[list[int]] = [[] for _ in range(n_src)]
        for i, j in links:
            if not (0 <= i < n_src and 0 <= j < n_tgt):
                raise ValueError(
                    f"link {i}-{j} is outside a pair of {n_src} source and {n_tgt} target words"
                )
            self.targets[i].append(j)
        self.any_link = any(self.targets)

    def covering_span(self, start: int, end: int) -> tuple[int, int] | None:
        """The minimal target span covering the links of source words start…end-1."""
        linked = [j for i in range(start, end) for j in self.targets[i]]
        if not linked:
            return None
        return min(linked), max(linked) + 1

    def gap(self, left_word: int, right_word: int) -> tuple[int, int | None]:
        """A target gap for something between source words ``left_word`` and ``right_word``,
        and how far the anchoring word is (``None``: nothing is aligned).

        The nearest aligned word decides, right before left at equal distance: the gap
        before the first target word of a word on the right, after the last target word
        of a word on the left.
        """
        for distance in range(max(self.n_src, 1)):
            right, left = right_word + distance, left_word - distance
            if 0 <= right < self.n_src and self.targets[right]:
                return min(self.targets[right]), distance
            if 0 <= left < self.n_src and self.targets[left]:
                return max(self.targets[left]) + 1, distance
        # Nothing aligned at all: keep the relative position in the sentence.
        if self.n_src == 0:
            return 0, None
        return round(right_word / self.n_src * self.n_tgt), None


def _crosses(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Two non-empty spans overlap without one containing the other."""
    (a_start, a_end), (b_start, b_end) = a, b
    return (a_start < b_start < a_end < b_end) or (b_start < a_start < b_end < a_end)


def _ancestors(tags: Sequence[SourceTag], index: int) -> set[int]:
    found: set[int] = set()
    parent = tags[index].parent
    while parent is not None:
        found.add(parent)
        parent = tags[parent].parent
    return found


def place_tags(markup: Markup, n_tgt: int, links: Iterable[Link]) -> list[TargetPlacement]:
    """Target spans for every tag of ``markup`` (in the order of ``markup.tags``).

    ``links`` join ``markup.words`` (source) to ``n_tgt`` target words. The rules are
    in the module docstring.
    """
    anchors = _Anchors(len(markup.words), n_tgt, links)
    tags = markup.tags
    placements: list[TargetPlacement] = []
    spans: list[tuple[int, int]] = []
    # Tags are in text order of their opening, which is pre-order: a parent is placed
    # before its children, and siblings left to right.
    for index, tag in enumerate(tags):
        parent_span = (0, n_tgt) if tag.parent is None else spans[tag.parent]
        span: tuple[int, int] | None = None
        how = ALIGNED
        covering = anchors.covering_span(tag.start, tag.end) if tag.paired else None
        if covering is not None:
            start, end = max(covering[0], parent_span[0]), min(covering[1], parent_span[1])
            span = (start, end) if start < end else None
            if span is not None:
                uncrossed = _uncross(span, index, tags, spans)
                how = ALIGNED if uncrossed == covering else TRIMMED
                span = uncrossed
        if span is None:
            anchored, distance = anchors.gap(tag.start - 1, tag.end)
            gap = min(max(anchored, parent_span[0]), parent_span[1])
            span = (gap, gap)
            if distance is None:
                how = RELATIVE
            elif distance > 0 or covering is not None or tag.start < tag.end:
                # Anchored further away, or a paired tag whose own words gave nothing.
                how = NEAREST
            else:
                how = ALIGNED if gap == anchored else TRIMMED
        spans.append(span)
        placements.append(TargetPlacement(tag, span[0], span[1], how))
    return placements


def _uncross(
    span: tuple[int, int], index: int, tags: Sequence[SourceTag], placed: list[tuple[int, int]]
) -> tuple[int, int]:
    """Trim ``span`` until it crosses no span placed before it (rule 2)."""
    ancestors = _ancestors(tags, index)
    changed = True
    while changed:
        changed = False
        for other_index, other in enumerate(placed):
            if other_index in ancestors or other[0] == other[1] or not _crosses(span, other):
                continue
            # Keep the part outside `other`; it is never empty when the two cross.
            span = (span[0], other[0]) if span[0] < other[0] else (other[1], span[1])
            changed = True
    return span


# --------------------------------------------------------------------------- output


@dataclass(frozen=True)
class TagEdge:
    """A tag in the output sequence: the opening or closing of a paired tag, or a
    standalone tag (``kind`` ``"open"``, ``"close"`` or ``"point"``)."""

    placement: TargetPlacement
    kind: str

    @property
    def tag(self) -> SourceTag:
        return self.placement.tag

    @property
    def text(self) -> str:
        closing = self.placement.tag.closing
        return closing if self.kind == "close" and closing is not None else self.tag.opening

    @property
    def closes_words(self) -> bool:
        """The closing of a paired tag that covers target words (not an empty pair)."""
        return self.kind == "close" and self.placement.start < self.placement.end


@dataclass
class _Node:
    placement: TargetPlacement | None  # None for the sentence itself
    children: list[_Node]

    @property
    def start(self) -> int:
        return self.placement.start if self.placement else 0

    @property
    def end(self) -> int:
        assert self.placement is not None
        return self.placement.end

    @property
    def empty(self) -> bool:
        return self.placement is not None and self.placement.start == self.placement.end


def _contains(outer: TargetPlacement, inner: TargetPlacement, tags: Sequence[SourceTag]) -> bool:
    """Whether ``inner`` is emitted inside ``outer`` (both placed, laminar spans)."""
    if not outer.tag.paired:
        return False
    # A tag's order is its index in Markup.tags.
    is_ancestor = outer.tag.order in _ancestors(tags, inner.tag.order)
    if outer.start == outer.end:
        return inner.start == inner.end == outer.start and is_ancestor
    if inner.start == inner.end:
        position = inner.start
        return outer.start < position < outer.end or (
            position in (outer.start, outer.end) and is_ancestor
        )
    if (outer.start, outer.end) == (inner.start, inner.end):
        return outer.tag.order < inner.tag.order  # equal spans: the earlier one is outer
    return outer.start <= inner.start and inner.end <= outer.end


def _build_tree(placements: Sequence[TargetPlacement], tags: Sequence[SourceTag]) -> _Node:
    root = _Node(None, [])
    nodes = [_Node(placement, []) for placement in placements]
    for node in nodes:
        containers = [
            other
            for other in nodes
            if other is not node and _contains(other.placement, node.placement, tags)
        ]
        if not containers:
            root.children.append(node)
            continue
        # The innermost container: the shortest span; among equal spans the latest tag.
        parent = min(containers, key=lambda c: (c.end - c.start, -c.placement.tag.order))
        parent.children.append(node)
    return root


def _emit(node: _Node, n_words: int, out: list[int | TagEdge]) -> None:
    placement = node.placement
    if placement is not None:
        out.append(TagEdge(placement, "open" if placement.tag.paired else "point"))
    start = placement.start if placement else 0
    end = placement.end if placement else n_words
    empty_at: dict[int, list[_Node]] = {}
    span_at: dict[int, _Node] = {}
    for child in node.children:
        if child.empty:
            empty_at.setdefault(child.start, []).append(child)
        else:
            span_at[child.start] = child  # laminar siblings never start at the same word
    gap = start
    while True:
        # At a gap: empty things first (they sit exactly here), then a span that opens here.
        for child in sorted(empty_at.pop(gap, []), key=lambda c: c.placement.tag.order):
            _emit(child, n_words, out)
        if gap >= end:
            break
        child = span_at.get(gap)
        if child is not None:
            _emit(child, n_words, out)
            gap = child.end
        else:
            out.append(gap)
            gap += 1
    if placement is not None and placement.tag.paired:
        out.append(TagEdge(placement, "close"))


def target_sequence(
    markup: Markup, n_tgt: int, links: Iterable[Link]
) -> tuple[list[TargetPlacement], list[int | TagEdge]]:
    """The placements, and the output as target word indices (0…n_tgt-1, in order) with
    the tag edges between them, well nested."""
    placements = place_tags(markup, n_tgt, links)
    out: list[int | TagEdge] = []
    _emit(_build_tree(placements, markup.tags), n_tgt, out)
    return placements, out


def insert_tags(markup: Markup, target_words: Sequence[str], links: Iterable[Link]) -> list[str]:
    """The target words with the tags of ``markup`` inserted, as a list of tokens."""
    _, sequence = target_sequence(markup, len(target_words), links)
    return [target_words[item] if isinstance(item, int) else item.text for item in sequence]


def interleave(
    text: str, word_spans: Sequence[tuple[int, int]], sequence: Sequence[int | TagEdge]
) -> list[str | TagEdge]:
    """Lay ``sequence`` into ``text``, whose words are at ``word_spans``: the text pieces
    (they concatenate to ``text`` exactly) with the tag edges between them.

    Between two words, the closings of tags that cover words stay glued to the word before
    (``Save</b> now``) and everything after the last of them is glued to the word after
    (``Save <x/><i>now``); tags before the first word come after any leading spaces, tags
    after the last word before any trailing ones.
    """
    out: list[str | TagEdge] = []
    pending: list[TagEdge] = []
    position = 0

    def lay_gap(next_start: int | None) -> None:
        gap_text = text[position:] if next_start is None else text[position:next_start]
        if next_start is None:
            split = len(pending)  # after the last word: glued to it
        else:
            split = max((k + 1 for k, edge in enumerate(pending) if edge.closes_words), default=0)
        out.extend(pending[:split])
        if gap_text:
            out.append(gap_text)
        out.extend(pending[split:])
        pending.clear()

    for item in sequence:
        if isinstance(item, TagEdge):
            pending.append(item)
            continue
        start, end = word_spans[item]
        lay_gap(start)
        out.append(text[start:end])
        position = end
    lay_gap(None)
    return out


def transfer_tags(tagged_source: str, target: str | Sequence[str], links: Iterable[Link]) -> str:
    """Put the tags of ``tagged_source`` into ``target`` through ``links``.

    ``links`` join the *untagged* source words (``parse_markup(tagged_source).words``,
    the same as ``strip_tags(tagged_source).split()``) to the target words (``target``
    split on whitespace). Returns the tagged target as text (see :func:`join_tokens`).
    """
    markup = parse_markup(tagged_source)
    target_words = target.split() if isinstance(target, str) else list(target)
    return join_tokens(insert_tags(markup, target_words, links))


def transfer_into(
    tagged_source: str,
    target: str,
    links: Iterable[Link],
    split_words: WordSplitter = whitespace_spans,
) -> str:
    """As :func:`transfer_tags`, but the tags go into ``target`` as it is: removing them
    from the result gives ``target`` back character for character (see
    :func:`interleave` for where spaces go). ``split_words`` splits both sides."""
    markup = parse_markup(tagged_source, split_words)
    spans = split_words(target)
    _, sequence = target_sequence(markup, len(spans), links)
    pieces = interleave(target, spans, sequence)
    return "".join(piece if isinstance(piece, str) else piece.text for piece in pieces)


__all__ = [
    "FALLBACK_KINDS",
    "PLACEMENT_KINDS",
    "Markup",
    "MarkupError",
    "SourceTag",
    "TagEdge",
    "TargetPlacement",
    "insert_tags",
    "interleave",
    "is_tag",
    "join_tokens",
    "parse_markup",
    "place_tags",
    "split_tokens",
    "strip_tags",
    "target_sequence",
    "transfer_into",
    "transfer_tags",
]
