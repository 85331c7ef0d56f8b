"""Markup transfer: tags follow the alignment, stay well nested, and none is lost."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from align_cli.tools.transfer import (
    MarkupError,
    insert_tags,
    is_tag,
    join_tokens,
    parse_markup,
    place_tags,
    split_tokens,
    strip_tags,
    transfer_tags,
)


def spans(tagged_source: str, n_tgt: int, links: list[tuple[int, int]]) -> dict[str, tuple]:
    """Each tag's target placement, keyed by its opening text."""
    markup = parse_markup(tagged_source)
    return {p.tag.opening: (p.start, p.end) for p in place_tags(markup, n_tgt, links)}


# --------------------------------------------------------------------------- parsing


def test_tags_glued_to_words_are_cut_off_and_lookalikes_stay_words():
    assert split_tokens('<b>Save</b> a < b <a href="x">link</a>,') == [
        "<b>",
        "Save",
        "</b>",
        "a",
        "<",
        "b",
        '<a href="x">',
        "link",
        "</a>",
        ",",
    ]
    assert strip_tags("Click <b>Save</b><x/> now") == "Click Save now"


def test_parse_markup_records_spans_nesting_and_order():
    markup = parse_markup("Click <b>Save <i>this</i> file</b> <x/> now")
    assert markup.words == ("Click", "Save", "this", "file", "now")
    b, i, x = markup.tags
    assert (b.opening, b.closing, b.start, b.end, b.parent) == ("<b>", "</b>", 1, 4, None)
    assert (i.start, i.end, i.parent) == (2, 3, 0)
    assert (x.opening, x.closing, x.start, x.end, x.parent) == ("<x/>", None, 4, 4, None)
    assert [tag.order for tag in markup.tags] == [0, 1, 2]


@pytest.mark.parametrize(
    "text, message",
    [
        ("a </b> c", "closes nothing"),
        ("<b>a <i>b</b> c</i>", "closes <i>"),
        ("<b>a b", "never closed"),
    ],
)
def test_broken_markup_is_an_error_naming_the_tag(text, message):
    with pytest.raises(MarkupError, match=message):
        parse_markup(text)


# --------------------------------------------------------------------------- rules


def test_paired_tag_takes_the_minimal_covering_span_of_its_aligned_words():
    # "Save file" -> words 3 and 5; the unaligned "le" (4) between them is covered too.
    source = "Click <b>Save file</b> now"
    target = "Cliquez maintenant sur Enregistrer le fichier"
    links = [(0, 0), (1, 3), (2, 5), (3, 1)]
    assert spans(source, 6, links) == {"<b>": (3, 6)}
    assert transfer_tags(source, target, links) == (
        "Cliquez maintenant sur <b>Enregistrer le fichier</b>"
    )


def test_reordered_siblings_swap_places():
    links = [(0, 1), (2, 0)]
    assert transfer_tags("<b>Save</b> the <i>file</i>", "fichier enregistrer", links) == (
        "<i>fichier</i> <b>enregistrer</b>"
    )


def test_nested_tag_stays_inside_its_parent_even_if_its_links_point_outside():
    # i covers targets 1..3 but crosses b (0..2), so it keeps only target 3; its child u
    # links to target 1, outside i: u is clipped to nothing and anchored inside i.
    source = "<b>a b</b> <i>c <u>d</u></i>"
    links = [(0, 0), (1, 2), (2, 3), (3, 1)]
    assert spans(source, 4, links) == {"<b>": (0, 3), "<i>": (3, 4), "<u>": (4, 4)}
    assert transfer_tags(source, "A D B C", links) == "<b>A D B</b> <i>C <u></u></i>"


def test_crossing_sibling_gives_up_the_words_already_covered():
    # b covers targets 0..2 and i covers 1..3: i keeps only target 3.
    source = "<b>a b</b> <i>c d</i>"
    links = [(0, 0), (1, 2), (2, 1), (3, 3)]
    assert spans(source, 4, links) == {"<b>": (0, 3), "<i>": (3, 4)}
    assert transfer_tags(source, "A C B D", links) == "<b>A C B</b> <i>D</i>"


def test_unaligned_paired_tag_becomes_an_empty_pair_before_the_next_aligned_word():
    source = "<b>the</b> <i>red</i> car"
    assert transfer_tags(source, "auto rouge", [(1, 1), (2, 0)]) == "auto <b></b> <i>rouge</i>"


def test_standalone_tag_goes_before_the_next_word_else_after_the_previous():
    target = "Cliquez maintenant sur Enregistrer"
    links = [(0, 0), (1, 3), (2, 1)]
    assert transfer_tags("Click Save <x/> now", target, links) == (
        "Cliquez <x/> maintenant sur Enregistrer"
    )
    # At the end of the sentence there is no next word: after the previous one's target.
    assert transfer_tags("Click now Save <br/>", target, [(0, 0), (1, 1), (2, 3)]) == (
        "Cliquez maintenant sur Enregistrer <br/>"
    )
    # The next word is unaligned: the previous word decides.
    assert transfer_tags("Click <x/> the", "Cliquez le", [(0, 0)]) == "Cliquez <x/> le"


def test_tags_in_the_same_gap_keep_their_source_order():
    source = "Save <x/> <y/> <b></b> file"
    assert transfer_tags(source, "Enregistrer fichier", [(0, 0), (1, 1)]) == (
        "Enregistrer <x/> <y/> <b></b> fichier"
    )


def test_nothing_aligned_keeps_the_relative_position():
    assert transfer_tags("a b <x/> c d", "A B C D E F G H", []) == "A B C D <x/> E F G H"


def test_empty_target_keeps_every_tag():
    assert transfer_tags("<b>Save <x/></b>", "", []) == "<b><x/></b>"


def test_link_outside_the_sentence_is_rejected():
    with pytest.raises(ValueError, match="outside"):
        transfer_tags("<b>a</b>", "A", [(0, 1)])


def test_join_tokens_glues_tags_to_their_words():
    tokens = ["<b>", "Enregistrez", "</b>", "le", "<x/>", "fichier", "<i>", "</i>"]
    assert join_tokens(tokens) == "<b>Enregistrez</b> le <x/> fichier <i></i>"
    assert split_tokens(join_tokens(tokens)) == tokens


# --------------------------------------------------------------------------- properties


def well_nested(tokens: list[str]) -> bool:
    stack: list[str] = []
    for token in tokens:
        if not is_tag(token) or token.endswith("/>"):
            continue
        name = token.strip("</>").split()[0]
        if token.startswith("</"):
            if not stack or stack.pop() != name:
                return False
        else:
            stack.append(name)
    return not stack


# A source sentence as a tree: ("words", k), ("point",) or ("pair", [children]).
_leaves = st.one_of(st.tuples(st.just("words"), st.integers(1, 2)), st.just(("point",)))
_trees = st.recursive(
    _leaves,
    lambda children: st.tuples(st.just("pair"), st.lists(children, max_size=3)),
    max_leaves=10,
)


@st.composite
def tagged_sentences(draw) -> tuple[str, int, list[tuple[int, int]]]:
    """A random well-nested tagged source, a target length and shuffled random links."""
    tokens: list[str] = []

    def flatten(node: tuple) -> None:
        if node[0] == "words":
            tokens.extend("w" for _ in range(node[1]))
        elif node[0] == "point":
            tokens.append(f"<p{len(tokens)}/>")
        else:
            name = f"t{len(tokens)}"
            tokens.append(f"<{name}>")
            for child in node[1]:
                flatten(child)
            tokens.append(f"</{name}>")

    for node in draw(st.lists(_trees, max_size=4)):
        flatten(node)
    n_src = tokens.count("w")
    # A random reordering of the source words, with some links dropped and some added:
    # shuffled links make tags whose target spans cross (rule 2) common.
    n_tgt = n_src + draw(st.integers(-min(n_src, 2), 2))
    order = draw(st.permutations(range(max(n_src, n_tgt))))
    links = [(i, order[i]) for i in range(n_src) if order[i] < n_tgt and draw(st.integers(0, 4))]
    if n_src and n_tgt:
        pairs = st.tuples(st.integers(0, n_src - 1), st.integers(0, n_tgt - 1))
        links += draw(st.lists(pairs, max_size=3))
    return " ".join(tokens), n_tgt, links


@settings(max_examples=400, deadline=None)
@given(tagged_sentences())
def test_output_is_well_nested_keeps_every_tag_and_the_target_words(case):
    source, n_tgt, links = case
    markup = parse_markup(source)
    target_words = [f"T{j}" for j in range(n_tgt)]
    tokens = insert_tags(markup, target_words, links)
    assert well_nested(tokens), (source, links, tokens)
    assert [t for t in tokens if not is_tag(t)] == target_words
    source_tags = Counter(t for t in split_tokens(source) if is_tag(t))
    assert Counter(t for t in tokens if is_tag(t)) == source_tags
    # Source nesting is kept: a tag inside another in the source is inside it in the target.
    placements = place_tags(markup, n_tgt, links)
    for placement in placements:
        parent = placement.tag.parent
        if parent is not None:
            outer = placements[parent]
            assert outer.start <= placement.start <= placement.end <= outer.end


def related(markup, first: int, second: int) -> bool:
    """One tag encloses the other in the source."""

    def ancestors(index: int) -> set[int]:
        found, parent = set(), markup.tags[index].parent
        while parent is not None:
            found.add(parent)
            parent = markup.tags[parent].parent
        return found

    return first in ancestors(second) or second in ancestors(first)


@settings(max_examples=200, deadline=None)
@given(tagged_sentences())
def test_a_tag_whose_words_all_map_inside_its_parent_gets_the_minimal_covering_span(case):
    source, n_tgt, links = case
    markup = parse_markup(source)
    placements = place_tags(markup, n_tgt, links)
    for placement in placements:
        tag = placement.tag
        if not tag.paired or any(
            other.paired
            and other.order != tag.order
            and not related(markup, tag.order, other.order)
            for other in markup.tags
        ):
            continue  # unrelated tags may trim each other (rule 2); tested above
        targets = [j for i, j in links if tag.start <= i < tag.end]
        if tag.parent is None:
            parent_start, parent_end = 0, n_tgt
        else:
            parent_start, parent_end = placements[tag.parent].start, placements[tag.parent].end
        if targets and parent_start <= min(targets) and max(targets) < parent_end:
            assert (placement.start, placement.end) == (min(targets), max(targets) + 1)
