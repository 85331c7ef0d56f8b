"""Tagged text: a sentence split into its words and its inline tags.

This is the reading half of markup transfer (:mod:`align_cli.tools.transfer` places the
tags, :mod:`align_cli.tools.xliff` reads XLIFF's inline codes into the same structure).

Tags are XML-like tokens found anywhere in the text, glued to words or not:
``<b>``/``</b>`` pairs (*paired tags*, any name, attributes allowed) and ``<x/>``
(*standalone tags*: placeholders, line breaks, images). Text that only looks like a tag
(``a < b``) stays a word. A tag always ends a word: ``<b>Sa</b>ve`` is the two words
``Sa`` and ``ve``.

**Words.** Between the tags, the text is split into words by a *word splitter*: any
callable that takes a string and returns the ``[start, end)`` character offsets of its
words, in order and not overlapping (:data:`WordSplitter`). The default,
:func:`whitespace_spans`, splits on whitespace, as everywhere in xalign; a Unicode-aware
tokenizer plugs in by being passed as ``split_words``. Link ``(i, j)`` joins source word
``i`` and target word ``j``, 0-based, in these words.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from align_cli.errors import XalignError

# An XML-ish tag: a name that starts with a letter or underscore, optional attributes.
# "a < b" or "<3" do not match and stay words.
TAG_PATTERN = re.compile(r"</?[A-Za-z_][\w:.\-]*(?:\s[^<>]*)?/?>")
_TAG_NAME = re.compile(r"</?\s*([A-Za-z_][\w:.\-]*)")
_NON_SPACE = re.compile(r"\S+")

WordSplitter = Callable[[str], list[tuple[int, int]]]
"""Text -> the ``[start, end)`` character offsets of its words (in order, disjoint)."""


def whitespace_spans(text: str) -> list[tuple[int, int]]:
    """The offsets of the whitespace-separated words of ``text`` (``str.split()``'s words)."""
    return [match.span() for match in _NON_SPACE.finditer(text)]


class MarkupError(XalignError):
    """The source markup cannot be read: a closing tag without an opening one, etc."""


@dataclass(frozen=True)
class SourceTag:
    """One tag of the source sentence.

    A paired tag covers source words ``start``…``end - 1`` (``start == end`` for
    ``<b></b>``); a standalone tag sits in the gap before word ``start`` (``end ==
    start``). ``order`` is the tag's rank in the text (0 = first opening or standalone
    tag), and ``parent`` the index in :attr:`Markup.tags` of the paired tag that encloses
    it, or ``None``. ``payload`` is whatever the reader wants back when the tag is written
    (the XML elements of an XLIFF inline code); it takes no part in the placement.
    """

    opening: str  # the tag text as written, e.g. '<b class="x">' or '<x/>'
    closing: str | None  # '</b>' for a paired tag, None for a standalone one
    start: int
    end: int
    order: int
    parent: int | None
    payload: object = field(default=None, compare=False, repr=False)

    @property
    def paired(self) -> bool:
        return self.closing is not None


@dataclass(frozen=True)
class Markup:
    """A sentence split into its words and its tags (tags in text order)."""

    words: tuple[str, ...]
    tags: tuple[SourceTag, ...]


def _tag_name(tag_text: str) -> str:
    match = _TAG_NAME.match(tag_text)
    return match.group(1) if match else tag_text


def split_tokens(text: str, split_words: WordSplitter = whitespace_spans) -> list[str]:
    """Words and tags in text order, tags cut off the words they are glued to.

    Tags are found first, so a tag with spaces inside (``<a href="x">``) stays one token.
    """
    tokens: list[str] = []
    position = 0

    def words_of(run: str) -> list[str]:
        return [run[start:end] for start, end in split_words(run)]

    for match in TAG_PATTERN.finditer(text):
        tokens += words_of(text[position : match.start()])
        tokens.append(match.group())
        position = match.end()
    tokens += words_of(text[position:])
    return tokens


def is_tag(token: str) -> bool:
    return TAG_PATTERN.fullmatch(token) is not None


class MarkupBuilder:
    """Builds a :class:`Markup` from words and tag events given in text order.

    The text reader and the XLIFF reader both feed it, so that the two agree on spans,
    parents and order. Paired tags must be well nested: a close that does not close the
    innermost open tag raises :class:`MarkupError` with ``context`` in the message.
    """

    def __init__(self, context: str = ""):
        self.context = context
        self.words: list[str] = []
        # Tags are recorded in text order of their opening; a paired tag's end is known only
        # at its closing, so entries stay mutable until then.
        self._entries: list[dict] = []
        self._open: list[int] = []

    def word(self, text: str) -> None:
        self.words.append(text)

    def point(self, opening: str, payload: object = None) -> None:
        self._entries.append(self._entry(opening, payload, end=len(self.words)))

    def open(self, opening: str, payload: object = None) -> None:
        self._entries.append(self._entry(opening, payload, end=None))
        self._open.append(len(self._entries) - 1)

    def close(self, closing: str, matches: Callable[[str], bool] | None = None) -> None:
        """Close the innermost open tag; ``matches`` checks its opening text."""
        if not self._open:
            raise MarkupError(f"closing tag {closing} closes nothing in: {self.context}")
        entry = self._entries[self._open[-1]]
        if matches is not None and not matches(entry["opening"]):
            raise MarkupError(f"{closing} closes {entry['opening']} in: {self.context}")
        self._open.pop()
        entry["closing"], entry["end"] = closing, len(self.words)

    def _entry(self, opening: str, payload: object, end: int | None) -> dict:
        parent = self._open[-1] if self._open else None
        start = len(self.words)
        return {
            "opening": opening,
            "closing": None,
            "start": start,
            "end": end,
            "parent": parent,
            "payload": payload,
        }

    def build(self) -> Markup:
        if self._open:
            opening = self._entries[self._open[-1]]["opening"]
            raise MarkupError(f"{opening} is never closed in: {self.context}")
        tags = tuple(
            SourceTag(
                e["opening"], e["closing"], e["start"], e["end"], order, e["parent"], e["payload"]
            )
            for order, e in enumerate(self._entries)
        )
        return Markup(tuple(self.words), tags)


def parse_markup(text: str, split_words: WordSplitter = whitespace_spans) -> Markup:
    """Split ``text`` into words and tags; paired tags must be well nested.

    Raises :class:`MarkupError` for a closing tag that closes nothing or the wrong tag,
    and for an opening tag never closed.
    """
    builder = MarkupBuilder(text)
    for token in split_tokens(text, split_words):
        if not is_tag(token):
            builder.word(token)
        elif token.startswith("</"):
            name = _tag_name(token)
            builder.close(token, lambda opening, name=name: _tag_name(opening) == name)
        elif token.endswith("/>"):
            builder.point(token)
        else:
            builder.open(token)
    return builder.build()


def join_tokens(tokens: list[str] | tuple[str, ...]) -> str:
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


def strip_tags(text: str, split_words: WordSplitter = whitespace_spans) -> str:
    """``text`` without its tags, words separated by single spaces."""
    return " ".join(token for token in split_tokens(text, split_words) if not is_tag(token))


def has_tags(text: str) -> bool:
    """Whether ``text`` holds anything :func:`split_tokens` reads as a tag."""
    return TAG_PATTERN.search(text) is not None


__all__ = [
    "TAG_PATTERN",
    "Markup",
    "MarkupBuilder",
    "MarkupError",
    "SourceTag",
    "WordSplitter",
    "has_tags",
    "is_tag",
    "join_tokens",
    "parse_markup",
    "split_tokens",
    "strip_tags",
    "whitespace_spans",
]
