"""XLIFF 1.2 and 2.x documents for markup transfer: segments in, tagged targets out.

Read with **lxml**, not translate-toolkit. translate-toolkit's XLIFF store (itself built on
lxml) is made for editing units as strings: it has no XLIFF 2 store, and its "placeables"
view of inline codes does not let us rebuild a ``<target>`` element by element with every
id and attribute. lxml keeps the whole tree as it was (namespaces and their prefixes,
comments, processing instructions, CDATA, notes, other units, attribute order), is what
translate-toolkit depends on anyway, and can validate against the OASIS schemas.

The parser never loads a DTD, never resolves an entity and never touches the network (an
XLIFF file comes from outside: no XXE). Only the ``<target>`` of a segment whose source
holds inline codes is rebuilt; everything else is written back as it was read.

**Segments.** XLIFF 1.2 (and 1.1): each ``<trans-unit>``'s ``<source>``/``<target>``, or,
when it has a ``<seg-source>``, each ``<mrk mtype="seg">`` of it with the target ``<mrk>``
of the same ``mid``. XLIFF 2.x: each ``<segment>`` of each ``<unit>``. Units (or groups,
files) marked ``translate="no"`` are left alone.

**Inline codes** become the tags of a :class:`~align_cli.tools.markup.Markup`:

* elements with content (1.2 ``g``, ``mrk``; 2.x ``pc``, ``mrk``) are paired tags;
* begin/end codes (1.2 ``bpt``/``ept`` and ``bx``/``ex``, matched by ``rid``, else
  ``id``; 2.x ``sc``/``ec`` and ``sm``/``em``, matched by ``startRef``) are a paired tag
  when both ends are in the segment and nest with the other tags; otherwise (the other end
  is in another segment, ``isolated="yes"``, or they overlap another pair, which is what
  these codes exist for) each end is a standalone tag;
* everything else (1.2 ``x``, ``ph``, ``it``; 2.x ``ph``, ``cp``; comments, entity
  references, elements of other namespaces) is a standalone tag, copied whole.

Every code is copied into the target with its id and attributes; the target's text is
kept character for character (:func:`~align_cli.tools.transfer.interleave`). A target
that already holds elements is left as it was (:attr:`Segment.already_tagged`).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

try:
    from lxml import etree
except ImportError:  # the xliff extra; text transfer works without it
    etree = None  # type: ignore[assignment]

from align_cli.errors import CorpusError, XalignError
from align_cli.tools.markup import Markup, MarkupBuilder, WordSplitter, whitespace_spans
from align_cli.tools.transfer import TagEdge

XLIFF_1 = ("urn:oasis:names:tc:xliff:document:1.2", "urn:oasis:names:tc:xliff:document:1.1")
XLIFF_2 = "urn:oasis:names:tc:xliff:document:2.0"

# Per version: elements with content, begin code -> (end code, how the end names its begin).
_CONTENT = {1: ("g", "mrk"), 2: ("pc", "mrk")}
_BEGIN_END = {1: {"bpt": "ept", "bx": "ex"}, 2: {"sc": "ec", "sm": "em"}}


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, strip_cdata=False
    )


def _local(element: etree._Element) -> str | None:
    """The local name of an element, None for comments, PIs and entities."""
    if not isinstance(element.tag, str):
        return None
    return etree.QName(element).localname


def _namespace(element: etree._Element) -> str | None:
    return etree.QName(element).namespace if isinstance(element.tag, str) else None


def _show(element: etree._Element, closing: bool = False) -> str:
    """A short text form of a code for messages and text output: ``<g id="1">``."""
    name = _local(element)
    if name is None:
        return etree.tostring(element, with_tail=False, encoding="unicode")
    if closing:
        return f"</{name}>"
    attributes = "".join(f' {etree.QName(k).localname}="{v}"' for k, v in element.attrib.items())
    return f"<{name}{attributes}>"


def _append_text(parent: etree._Element, text: str) -> None:
    if len(parent):
        parent[-1].tail = (parent[-1].tail or "") + text
    else:
        parent.text = (parent.text or "") + text


def _bare_copy(element: etree._Element) -> etree._Element:
    """The element alone: attributes and namespaces, no content, no tail."""
    bare = copy.deepcopy(element)
    bare.text = None
    for child in list(bare):
        bare.remove(child)
    bare.tail = None
    return bare


def _whole_copy(node: etree._Element) -> etree._Element:
    whole = copy.deepcopy(node)
    whole.tail = None
    return whole


@dataclass
class Segment:
    """One source/target pair of a document. ``target`` is None when the unit has none
    yet; ``where`` names it for messages (unit id, segment, line)."""

    source: etree._Element
    target: etree._Element | None
    where: str
    line: int
    make_target: object = field(repr=False)  # () -> etree._Element, makes a missing target

    @property
    def already_tagged(self) -> bool:
        """The target holds elements (tags, comments) of its own: it is left as it is."""
        return self.target is not None and len(self.target) > 0

    @property
    def target_text(self) -> str:
        return "" if self.target is None else self.target.text or ""


class XliffDocument:
    """An XLIFF file read whole: its tree, version and segments, and a writer that keeps
    everything but the rebuilt targets as it was."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        if etree is None:
            raise XalignError("XLIFF files need lxml: pip install 'xalign[xliff]'")
        try:
            self.raw = Path(path).read_bytes()
        except OSError as error:
            raise CorpusError(f"cannot open: {error.strerror}", path=self.path) from None
        try:
            self.tree = etree.ElementTree(etree.fromstring(self.raw, _parser()))
        except etree.XMLSyntaxError as error:
            line = error.lineno if error.lineno else None
            message = str(error.msg).split(", line ")[0].strip()
            raise CorpusError(
                f"not well-formed XML ({message}); fix the file or export it again",
                path=self.path,
                line=line,
            ) from None
        root = self.tree.getroot()
        namespace = _namespace(root)
        if _local(root) != "xliff" or namespace not in (*XLIFF_1, XLIFF_2):
            raise CorpusError(
                f"not an XLIFF 1.2 or 2.x file: the root element is {root.tag!r}, not xliff "
                f"in the {XLIFF_1[0]} or {XLIFF_2} namespace",
                path=self.path,
                line=root.sourceline,
            )
        self.namespace = namespace
        self.version = 2 if namespace == XLIFF_2 else 1
        self.segments: list[Segment] = list(self._segments())

    # ----------------------------------------------------------------------- reading

    def _q(self, name: str) -> str:
        return f"{{{self.namespace}}}{name}"

    def _translatable(self, element: etree._Element) -> bool:
        node = element
        while node is not None:
            if node.get("translate") == "no":
                return False
            node = node.getparent()
        return True

    def _segments(self) -> Iterator[Segment]:
        if self.version == 2:
            for unit in self.tree.getroot().iter(self._q("unit")):
                if not self._translatable(unit):
                    continue
                for number, segment in enumerate(unit.iterchildren(self._q("segment")), 1):
                    source = segment.find(self._q("source"))
                    if source is None:
                        continue  # the schema requires one; nothing to transfer from
                    name = segment.get("id") or str(number)
                    yield Segment(
                        source,
                        segment.find(self._q("target")),
                        f"unit {unit.get('id')!r} segment {name}",
                        source.sourceline or 0,
                        lambda segment=segment, source=source: self._add_after(
                            segment, source, self._q("target")
                        ),
                    )
            return
        for unit in self.tree.getroot().iter(self._q("trans-unit")):
            if not self._translatable(unit):
                continue
            yield from self._units_segments(unit)

    def _units_segments(self, unit: etree._Element) -> Iterator[Segment]:
        source = unit.find(self._q("source"))
        if source is None:
            return
        target = unit.find(self._q("target"))
        where = f"trans-unit {unit.get('id')!r}"
        seg_source = unit.find(self._q("seg-source"))
        if seg_source is None:
            yield Segment(
                source,
                target,
                where,
                source.sourceline or 0,
                lambda: self._add_after(unit, source, self._q("target")),
            )
            return
        for mark in self._seg_marks(seg_source):
            mid = mark.get("mid")
            found = None if target is None else self._seg_mark(target, mid)
            if target is not None and found is None:
                raise CorpusError(
                    f'{where}: the target has no <mrk mtype="seg" mid="{mid}"> for the '
                    "seg-source segment of that mid; add it, or remove the target and give "
                    "--translations",
                    path=self.path,
                    line=target.sourceline,
                )
            yield Segment(
                mark,
                found,
                f"{where} segment mid={mid!r}",
                mark.sourceline or 0,
                lambda unit=unit, mid=mid, seg_source=seg_source: self._seg_target(
                    unit, seg_source, mid
                ),
            )

    def _seg_marks(self, element: etree._Element) -> list[etree._Element]:
        return [m for m in element.iter(self._q("mrk")) if m.get("mtype") == "seg"]

    def _seg_mark(self, target: etree._Element, mid: str | None) -> etree._Element | None:
        return next((m for m in self._seg_marks(target) if m.get("mid") == mid), None)

    def _add_after(self, parent: etree._Element, after: etree._Element, tag: str) -> etree._Element:
        """A new empty element right after ``after`` (1.2: after any seg-source), where
        the schemas want a target."""
        seg_source = parent.find(self._q("seg-source"))
        anchor = seg_source if seg_source is not None else after
        new = parent.makeelement(tag, {})
        new.tail = anchor.tail
        anchor.addnext(new)
        return new

    def _seg_target(
        self, unit: etree._Element, seg_source: etree._Element, mid: str | None
    ) -> etree._Element:
        """The target ``<mrk>`` of ``mid``, making the unit's target first if need be: a
        copy of the seg-source with its segments emptied (what lies between segments is
        not translated and stays as it is)."""
        target = unit.find(self._q("target"))
        if target is None:
            target = self._add_after(unit, seg_source, self._q("target"))
            for child in seg_source:
                target.append(copy.deepcopy(child))
            target.text = seg_source.text
            for mark in self._seg_marks(target):
                mark.text = None
                for child in list(mark):
                    mark.remove(child)
        found = self._seg_mark(target, mid)
        assert found is not None  # the target was made from the seg-source
        return found

    # --------------------------------------------------------------------- inline codes

    def markup(self, segment: Segment, split_words: WordSplitter = whitespace_spans) -> Markup:
        """The source of ``segment`` as words and tags; each tag's payload is its element
        (paired codes with content, standalone codes) or ``(begin, end)`` elements."""
        events: list[tuple] = []
        self._flatten(segment.source, events, top=True)
        paired = self._pair_begin_end(events)
        builder = MarkupBuilder(f"{self.path}:{segment.line}: {segment.where}")
        for event in events:
            kind, node = event[0], event[1]
            if kind == "text":
                for start, end in split_words(node):
                    builder.word(node[start:end])
            elif kind == "open":
                builder.open(_show(node), node)
            elif kind == "close":
                builder.close(_show(node, closing=True))
            elif kind == "begin" and id(node) in paired:
                builder.open(_show(node), (node, paired[id(node)]))
            elif kind == "end" and id(node) in paired:
                builder.close(_show(node))
            else:
                builder.point(_show(node), node)
        return builder.build()

    def _flatten(self, element: etree._Element, events: list[tuple], top: bool = False) -> None:
        if element.text:
            events.append(("text", element.text))
        for child in element:
            version = self.version
            # Elements of other namespaces (extensions) are standalone, as comments are.
            name = _local(child) if _namespace(child) == self.namespace else None
            if name in _CONTENT[version]:
                events.append(("open", child))
                self._flatten(child, events)
                events.append(("close", child))
            elif name in _BEGIN_END[version] and child.get("isolated") != "yes":
                events.append(("begin", child, self._pair_key(child, name)))
            elif name in _BEGIN_END[version].values() and child.get("isolated") != "yes":
                events.append(("end", child, self._pair_key(child, name)))
            else:
                events.append(("point", child))
            if child.tail:
                events.append(("text", child.tail))

    def _pair_key(self, element: etree._Element, name: str) -> tuple[str, str | None]:
        if self.version == 2:
            begin = name if name in _BEGIN_END[2] else {"ec": "sc", "em": "sm"}[name]
            ref = element.get("id") if name == begin else element.get("startRef")
            return begin, ref
        begin = name if name in _BEGIN_END[1] else {"ept": "bpt", "ex": "bx"}[name]
        return begin, element.get("rid") or element.get("id")

    @staticmethod
    def _pair_begin_end(events: list[tuple]) -> dict[int, etree._Element]:
        """Begin codes that form a well-nested pair with an end code of the segment:
        ``id(begin) -> end`` and ``id(end) -> end`` (the other ends stay standalone)."""
        # First the candidates: each end with the latest unmatched begin of its key.
        partner: dict[int, etree._Element] = {}
        unmatched: dict[tuple, list[etree._Element]] = {}
        for event in events:
            if event[0] == "begin":
                unmatched.setdefault(event[2], []).append(event[1])
            elif event[0] == "end" and unmatched.get(event[2]):
                partner[id(unmatched[event[2]].pop())] = event[1]
        # Then keep the candidates that nest: an end must close the innermost open thing.
        stack: list[etree._Element | None] = []  # None: an element with content
        paired: dict[int, etree._Element] = {}
        for event in events:
            kind = event[0]
            if kind == "open":
                stack.append(None)
            elif kind == "close":
                while stack[-1] is not None:
                    stack.pop()  # its end lies outside this element: it stays standalone
                stack.pop()
            elif kind == "begin" and id(event[1]) in partner:
                stack.append(event[1])
            elif kind == "end":
                begin = stack[-1] if stack else None
                if begin is not None and partner.get(id(begin)) is event[1]:
                    stack.pop()
                    paired[id(begin)] = paired[id(event[1])] = event[1]
                else:
                    # It crosses another pair: its begin (if open) stays standalone.
                    for k in range(len(stack) - 1, -1, -1):
                        if stack[k] is None:
                            break
                        if partner.get(id(stack[k])) is event[1]:
                            del stack[k]
                            break
        return paired

    # ------------------------------------------------------------------------ writing

    def set_translation(self, segment: Segment, text: str) -> None:
        """Replace the target of ``segment`` by plain ``text`` (made if missing)."""
        if segment.target is None:
            segment.target = segment.make_target()  # type: ignore[operator]
        target = segment.target
        for child in list(target):
            target.remove(child)
        target.text = text

    def write_target(self, segment: Segment, pieces: list[str | TagEdge]) -> None:
        """Rebuild the target of ``segment`` from the text pieces and tag edges of
        :func:`~align_cli.tools.transfer.interleave`."""
        target = segment.target
        assert target is not None
        target.text = None
        for child in list(target):
            target.remove(child)
        stack = [target]
        for piece in pieces:
            if isinstance(piece, str):
                _append_text(stack[-1], piece)
                continue
            payload = piece.tag.payload
            if isinstance(payload, tuple):  # a begin/end pair of empty codes
                stack[-1].append(_whole_copy(payload[0] if piece.kind == "open" else payload[1]))
            elif piece.kind == "open":
                element = _bare_copy(payload)  # type: ignore[arg-type]
                stack[-1].append(element)
                stack.append(element)
            elif piece.kind == "close":
                stack.pop()
            else:
                stack[-1].append(_whole_copy(payload))  # type: ignore[arg-type]

    def to_bytes(self) -> bytes:
        """The document as bytes: what lies outside the root element (declaration,
        comments, doctype, byte-order mark) and the root's start tag are the original
        bytes; inside, lxml writes the same tree back (same elements, attributes, text,
        comments and CDATA; only notation such as quotes or character references may
        differ)."""
        encoding = self.tree.docinfo.encoding or "UTF-8"
        root = self.tree.getroot()
        kept = _outside_root(self.raw) if encoding.upper() in ("UTF-8", "UTF8") else None
        if kept is None:
            return etree.tostring(self.tree, encoding=encoding, xml_declaration=True)
        prolog, start_tag, epilog = kept
        inside = etree.tostring(root, encoding=encoding, with_tail=False)
        written_start = _START_TAG.match(inside)
        assert written_start is not None  # lxml writes a start tag first
        if inside[written_start.end() - 2 : written_start.end()] == b"/>":
            return prolog + inside + epilog  # an empty root: nothing to keep inside
        return prolog + start_tag + inside[written_start.end() :] + epilog


# A start tag: name, then attributes with quoted values (a '>' inside quotes is no end).
_START_TAG = re.compile(rb"""<[^\s>/]+(?:\s+[^\s=>/]+\s*=\s*(?:"[^"]*"|'[^']*'))*\s*/?>""")
_PROLOG_ITEM = re.compile(rb"\s*(?:<\?.*?\?>|<!--.*?-->|<!DOCTYPE(?:[^\[>]|\[.*?\])*>)", re.S)


def _outside_root(raw: bytes) -> tuple[bytes, bytes, bytes] | None:
    """The bytes before the root element, its start tag, and the bytes after its end tag;
    None when the file is not laid out as expected (then lxml writes it all)."""
    position = 3 if raw.startswith(b"\xef\xbb\xbf") else 0
    while (match := _PROLOG_ITEM.match(raw, position)) and match.end() > position:
        position = match.end()
    while raw[position : position + 1].isspace():
        position += 1
    start = _START_TAG.match(raw, position)
    if start is None:
        return None
    name = raw[position + 1 : start.end()].split(None, 1)[0].rstrip(b"/>")
    end = raw.rfind(b"</" + name)
    if end < 0:
        return None
    close = raw.find(b">", end)
    if close < 0:
        return None
    return raw[:position], start.group(), raw[close + 1 :]


__all__ = ["XLIFF_1", "XLIFF_2", "Segment", "XliffDocument"]
