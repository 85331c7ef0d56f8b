"""Markup transfer: move inline tags from a source sentence to its translation.

A translation tool gets a segment such as ``Click <b>Save file</b> <x/> now`` and a
machine translation without the tags. The word alignment says which target words
translate which source words, and so where each tag belongs in the translation. This
module does that placement with pure functions; the alignment itself comes from xalign.

Tags are XML-like tokens found anywhere in the text, glued to words or not:
``<b>``/``</b>`` pairs (*paired tags*, any name, attributes allowed) and ``<x/>``
(*standalone tags*: placeholders, line breaks, images). Text that only looks like a tag
(``a < b``) stays a word. Words are what is left, split on whitespace, as everywhere in
xalign; link ``(i, j)`` joins source word ``i`` and target word ``j``, 0-based.

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
3. **Unaligned tags still appear**: a paired tag none of whose words is aligned (or whose
   covering span falls outside its parent) becomes an empty pair ``<b></b>``, and a
   standalone tag sits in a gap between two target words. Both are anchored on the
   nearest aligned source word: the word right after the tag (the tag goes *before* its
   first target word), else the word right before it (the tag goes *after* its last
   target word), then further words, alternating right and left. With no link at all the
   tag keeps its relative position in the sentence. The position is then clamped into
   the parent's target span.
4. **No tag is lost or invented**, and the target words keep their order: removing the
   tags from the output gives the target words back.

:func:`transfer_tags` does everything on strings; :func:`parse_markup`,
:func:`place_tags` and :func:`insert_tags` are the steps, for callers who tokenise
differently or want the placements.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from align_cli.errors import XalignError
from align_cli.types import Link

# An XML-ish tag: a name that starts with a letter or underscore, optional attributes.
# "a < b" or "<3" do not match and stay words.
TAG_PATTERN = re.compile(r"</?[A-Za-z_][\w:.\-]*(?:\s[^<>]*)?/?>")
_TAG_NAME = re.compile(r"</?\s*([A-Za-z_][\w:.\-]*)")


class MarkupError(XalignError):
    """The source markup cannot be read: a closing tag without an opening one, etc."""


@dataclass(frozen=True)
class SourceTag:
    """One tag of the source sentence.

    A paired tag covers source words ``start``…``end - 1`` (``start == end`` for
    ``<b></b>``); a standalone tag sits in the gap before word ``start`` (``end ==
    start``). ``order`` is the tag's rank in the text (0 = first opening or standalone
    tag), and ``parent`` the index in :attr:`Markup.tags` of the paired tag that encloses
    it, or ``None``.
    """

    opening: str  # the tag text as written, e.g. '<b class="x">' or '<x/>'
    closing: str | None  # '</b>' for a paired tag, None for a standalone one
    start: int
    end: int
    order: int
    parent: int | None

    @property
    def paired(self) -> bool:
        return self.closing is not None


@dataclass(frozen=True)
class Markup:
    """A sentence split into its words and its tags (tags in text order)."""

    words: tuple[str, ...]
    tags: tuple[SourceTag, ...]


@dataclass(frozen=True)
class TargetPlacement:
    """Where a tag goes in the target: it covers target words ``start``…``end - 1``.

    ``start == end`` means an empty pair or a standalone tag in the gap before target
    word ``start`` (``start == len(target)`` is after the last word).
    """

    tag: SourceTag
    start: int
    end: int


# --------------------------------------------------------------------------- parsing


def _tag_name(tag_text: str) -> str:
    match = _TAG_NAME.match(tag_text)
    return match.group(1) if match else tag_text


def split_tokens(text: str) -> list[str]:
    """Whitespace tokens with tags cut off the words they are glued to.

    Tags are found first, so a tag with spaces inside (``<a href="x">``) stays one token.
    """
    tokens: list[str] = []
    position = 0
    for match in TAG_PATTERN.finditer(text):
        tokens += text[position : match.start()].split()
        tokens.append(match.group())
        position = match.end()
    tokens += text[position:].split()
    return tokens


def is_tag(token: str) -> bool:
    return TAG_PATTERN.fullmatch(token) is not None


def parse_markup(text: str) -> Markup:
    """Split ``text`` into words and tags; paired tags must be well nested.

    Raises :class:`MarkupError` for a closing tag that closes nothing or the wrong tag,
    and for an opening tag never closed.
    """
    words: list[str] = []
    # Tags are built in text order of their opening; a paired tag's end is known only at
    # its closing tag, so entries stay mutable until then.
    pending: list[dict] = []
    open_stack: list[int] = []
    for token in split_tokens(text):
        if not is_tag(token):
            words.append(token)
            continue
        parent = open_stack[-1] if open_stack else None
        if token.startswith("</"):
            if not open_stack:
                raise MarkupError(f"closing tag {token} closes nothing in: {text}")
            opened = pending[open_stack.pop()]
            if _tag_name(opened["opening"]) != _tag_name(token):
                raise MarkupError(f"{token} closes {opened['opening']} in: {text}")
            opened["closing"], opened["end"] = token, len(words)
        elif token.endswith("/>"):
            entry = {"opening": token, "closing": None, "start": len(words)}
            pending.append({**entry, "end": len(words), "parent": parent})
        else:
            pending.append(
                {"opening": token, "closing": None, "start": len(words), "parent": parent}
            )
            open_stack.append(len(pending) - 1)
    if open_stack:
        raise MarkupError(f"{pending[open_stack[-1]]['opening']} is never closed in: {text}")
    tags = tuple(
        SourceTag(
            entry["opening"], entry["closing"], entry["start"], entry["end"], order, entry["parent"]
        )
        for order, entry in enumerate(pending)
    )
    return Markup(tuple(words), tags)


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

    def covering_span(self, start: int, end: int) -> tuple[int, int] | None:
        """The minimal target span covering the links of source words start…end-1."""
        linked = [j for i in range(start, end) for j in self.targets[i]]
        if not linked:
            return None
        return min(linked), max(linked) + 1

    def gap(self, left_word: int, right_word: int) -> int:
        """A target gap for something between source words ``left_word`` and ``right_word``.

        The nearest aligned word decides, right before left at equal distance: the gap
        before the first target word of a word on the right, after the last target word
        of a word on the left.
        """
        for distance in range(max(self.n_src, 1)):
            right, left = right_word + distance, left_word - distance
            if 0 <= right < self.n_src and self.targets[right]:
                return min(self.targets[right])
            if 0 <= left < self.n_src and self.targets[left]:
                return max(self.targets[left]) + 1
        # Nothing aligned at all: keep the relative position in the sentence.
        if self.n_src == 0:
            return 0
        return round(right_word / self.n_src * self.n_tgt)


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
    spans: list[tuple[int, int]] = []
    # Tags are in text order of their opening, which is pre-order: a parent is placed
    # before its children, and siblings left to right.
    for index, tag in enumerate(tags):
        parent_span = (0, n_tgt) if tag.parent is None else spans[tag.parent]
        span: tuple[int, int] | None = None
        if tag.paired:
            covering = anchors.covering_span(tag.start, tag.end)
            if covering is not None:
                start, end = max(covering[0], parent_span[0]), min(covering[1], parent_span[1])
                span = (start, end) if start < end else None
        if span is not None:
            span = _uncross(span, index, tags, spans)
        else:
            gap = anchors.gap(tag.start - 1, tag.end)
            gap = min(max(gap, parent_span[0]), parent_span[1])
            span = (gap, gap)
        spans.append(span)
    return [TargetPlacement(tag, start, end) for tag, (start, end) in zip(tags, spans, strict=True)]


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


def _emit(node: _Node, target_words: Sequence[str], out: list[str]) -> None:
    placement = node.placement
    if placement is not None:
        out.append(placement.tag.opening)
    start = placement.start if placement else 0
    end = placement.end if placement else len(target_words)
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
            _emit(child, target_words, out)
        if gap >= end:
            break
        child = span_at.get(gap)
        if child is not None:
            _emit(child, target_words, out)
            gap = child.end
        else:
            out.append(target_words[gap])
            gap += 1
    if placement is not None and placement.tag.closing is not None:
        out.append(placement.tag.closing)


def insert_tags(markup: Markup, target_words: Sequence[str], links: Iterable[Link]) -> list[str]:
    """The target words with the tags of ``markup`` inserted, as a list of tokens."""
    placements = place_tags(markup, len(target_words), links)
    tree = _build_tree(placements, markup.tags)
    out: list[str] = []
    _emit(tree, target_words, out)
    return out


def join_tokens(tokens: Sequence[str]) -> str:
    """Tokens as text: opening tags glued to the next token, closing tags to the previous.

    ``['<b>', 'Enregistrez', '</b>', 'le', '<x/>', 'fichier']`` becomes
    ``'<b>Enregistrez</b> le <x/> fichier'``.
    """
    text = ""
    glue_next = False
    for token in tokens:
        closing = is_tag(token) and token.startswith("</")
        if text and not glue_next and not closing:
            text += " "
        text += token
        glue_next = is_tag(token) and not closing and not token.endswith("/>")
    return text


def strip_tags(text: str) -> str:
    """``text`` without its tags, words separated by single spaces."""
    return " ".join(token for token in split_tokens(text) if not is_tag(token))


def transfer_tags(tagged_source: str, target: str | Sequence[str], links: Iterable[Link]) -> str:
    """Put the tags of ``tagged_source`` into ``target`` through ``links``.

    ``links`` join the *untagged* source words (``parse_markup(tagged_source).words``,
    the same as ``strip_tags(tagged_source).split()``) to the target words (``target``
    split on whitespace). Returns the tagged target as text (see :func:`join_tokens`).
    """
    markup = parse_markup(tagged_source)
    target_words = target.split() if isinstance(target, str) else list(target)
    return join_tokens(insert_tags(markup, target_words, links))


__all__ = [
    "Markup",
    "MarkupError",
    "SourceTag",
    "TargetPlacement",
    "insert_tags",
    "join_tokens",
    "parse_markup",
    "place_tags",
    "split_tokens",
    "strip_tags",
    "transfer_tags",
]
