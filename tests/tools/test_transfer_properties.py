"""Properties of the transfer for any links and any well-nested codes: every source code
is in the target exactly once, the output is well nested (the pairs of the source are
still pairs), and the target text is kept character for character."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from align_cli.tools.markup import is_tag, split_tokens, whitespace_spans
from align_cli.tools.transfer import interleave, target_sequence, transfer_into
from align_cli.tools.xliff import XliffDocument
from tests.paths import BENCHMARKS
from tests.xliff_helpers import CONTENT_CODES, NAMESPACES, codes

# Per version: a code with content, a standalone code, a begin/end pair.
SPELLING = {
    1: {
        "pair": ('<g id="{n}">', "</g>"),
        "point": '<x id="{n}"/>',
        "begin": ('<bpt id="{n}">&lt;b&gt;</bpt>', '<ept id="{n}">&lt;/b&gt;</ept>'),
    },
    2: {
        "pair": ('<pc id="{n}">', "</pc>"),
        "point": '<ph id="{n}"/>',
        "begin": ('<sc id="{n}"/>', '<ec startRef="{n}"/>'),
    },
}

# A source as a tree: ("words", k), ("point",), ("pair", children) or ("begin", children).
_leaves = st.one_of(st.tuples(st.just("words"), st.integers(1, 2)), st.just(("point",)))
_trees = st.recursive(
    _leaves,
    lambda children: st.tuples(st.sampled_from(["pair", "begin"]), st.lists(children, max_size=3)),
    max_leaves=8,
)


@st.composite
def segments(draw):
    """(version, source inline XML, target text, number of target words, links)."""
    version = draw(st.sampled_from([1, 2]))
    spelling = SPELLING[version]
    tokens: list[str] = []
    counter = iter(range(1, 1000))

    def flatten(node: tuple) -> None:
        if node[0] == "words":
            tokens.extend("w" for _ in range(node[1]))
        elif node[0] == "point":
            tokens.append(spelling["point"].format(n=next(counter)))
        else:
            number = next(counter)
            opening, closing = spelling[node[0]]
            tokens.append(opening.format(n=number))
            for child in node[1]:
                flatten(child)
            tokens.append(closing.format(n=number))

    for node in draw(st.lists(_trees, max_size=4)):
        flatten(node)
    # Begin/end codes that overlap the rest or lack their other end (another segment).
    if draw(st.booleans()):
        first = draw(st.integers(0, len(tokens)))
        tokens.insert(first, spelling["begin"][0].format(n=900))
        if draw(st.booleans()):
            tokens.insert(
                draw(st.integers(first + 1, len(tokens))), spelling["begin"][1].format(n=900)
            )
    n_src = tokens.count("w")
    n_tgt = n_src + draw(st.integers(-min(n_src, 2), 2))
    order = draw(st.permutations(range(max(n_src, n_tgt))))
    links = [(i, order[i]) for i in range(n_src) if order[i] < n_tgt and draw(st.integers(0, 4))]
    if n_src and n_tgt:
        pairs = st.tuples(st.integers(0, n_src - 1), st.integers(0, n_tgt - 1))
        links += draw(st.lists(pairs, max_size=3))
    spaces = draw(
        st.lists(st.sampled_from([" ", "  ", "\t"]), min_size=n_tgt + 1, max_size=n_tgt + 1)
    )
    target = spaces[0] + "".join(f"T{j}{spaces[j + 1]}" for j in range(n_tgt))
    return version, " ".join(tokens), target, n_tgt, links


def document_text(version: int, source: str, target: str) -> str:
    if version == 2:
        return (
            f'<xliff xmlns="{NAMESPACES[2]}" version="2.0" srcLang="en" trgLang="fr"><file '
            f'id="f"><unit id="u"><segment><source>{source}</source><target>{target}</target>'
            "</segment></unit></file></xliff>"
        )
    return (
        f'<xliff xmlns="{NAMESPACES[1]}" version="1.2"><file original="f" source-language="en" '
        'datatype="plaintext"><body><trans-unit id="u">'
        f"<source>{source}</source><target>{target}</target></trans-unit></body></file></xliff>"
    )


def plain_text(element: etree._Element) -> str:
    """The translatable text of ``element``: text outside codes with native content."""
    text = element.text or ""
    for child in element:
        if etree.QName(child).localname in CONTENT_CODES:
            text += plain_text(child)
        text += child.tail or ""
    return text


def source_pairs_nest_in(document: XliffDocument, target: etree._Element) -> bool:
    """Whether the begin/end codes that were a pair in the source come in the target as a
    begin before its end, nested with the content codes and with each other. (Codes
    that were standalone in the source may fall anywhere: begin/end codes may overlap.)"""
    markup = document.markup(document.segments[0])
    pairs = {
        document._pair_key(tag.payload[0], etree.QName(tag.payload[0]).localname)
        for tag in markup.tags
        if isinstance(tag.payload, tuple)
    }
    events: list[tuple] = []
    document._flatten(target, events)
    stack: list[object] = []
    for event in events:
        if event[0] == "open":
            stack.append(event[1])
        elif event[0] == "close":
            if not stack or stack.pop() is not event[1]:
                return False
        elif event[0] in ("begin", "end") and event[2] in pairs:
            if event[0] == "begin":
                stack.append(event[2])
            elif not stack or stack.pop() != event[2]:
                return False
    return not stack


@settings(max_examples=250, deadline=None)
@given(segments())
def test_every_code_lands_once_well_nested_and_the_text_stays(tmp_path_factory, case):
    version, source, target, n_tgt, links = case
    path = tmp_path_factory.mktemp("prop") / "doc.xlf"
    path.write_text(document_text(version, source, target), encoding="utf-8")
    document = XliffDocument(path)
    segment = document.segments[0]
    markup = document.markup(segment)
    spans = whitespace_spans(segment.target_text)
    assert len(spans) == n_tgt
    _, sequence = target_sequence(markup, n_tgt, links)
    document.write_target(segment, interleave(segment.target_text, spans, sequence))

    # The written file parses with a real XML parser (so content codes nest).
    written = XliffDocument(_rewrite(path, document.to_bytes()))
    source_element, target_element = written.segments[0].source, written.segments[0].target
    assert codes(target_element) == codes(source_element)
    assert plain_text(target_element) == target
    assert source_pairs_nest_in(written, target_element)


def _rewrite(path, data: bytes):
    out = path.with_name("out.xlf")
    out.write_bytes(data)
    return out


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(["w", "<b>", "</b>", "<x/>"]), max_size=12),
    st.lists(st.sampled_from(["A", "BB", " ", "  ", "\t"]), max_size=12),
    st.data(),
)
def test_text_transfer_keeps_the_target_and_every_tag(source_tokens, target_parts, data):
    # Balance the random <b> tags into a well-nested source.
    depth, tokens = 0, []
    for token in source_tokens:
        if token == "</b>" and depth == 0:
            continue
        depth += {"<b>": 1, "</b>": -1}.get(token, 0)
        tokens.append(token)
    tokens += ["</b>"] * depth
    source, target = " ".join(tokens), "".join(target_parts)
    n_src, n_tgt = tokens.count("w"), len(target.split())
    links = (
        data.draw(st.lists(st.tuples(st.integers(0, n_src - 1), st.integers(0, n_tgt - 1))))
        if n_src and n_tgt
        else []
    )
    result = transfer_into(source, target, links)
    output_tokens = split_tokens(result)
    assert "".join(t for t in _pieces(result)) == target
    assert sorted(t for t in output_tokens if is_tag(t)) == sorted(t for t in tokens if is_tag(t))
    depth = 0
    for token in output_tokens:
        depth += {"<b>": 1, "</b>": -1}.get(token, 0)
        assert depth >= 0
    assert depth == 0


def _pieces(text: str) -> list[str]:
    """``text`` with its tags cut out (spacing kept)."""
    from align_cli.tools.markup import TAG_PATTERN

    return TAG_PATTERN.split(text)


def _benchmark():
    import importlib.util
    import sys

    path = BENCHMARKS / "bench_transfer.py"
    spec = importlib.util.spec_from_file_location("bench_transfer", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_transfer", module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_gold_links_meet_the_benchmark_reference_on_the_synthetic_set():
    """The benchmark's reference is computed on its own; gold links must meet it exactly."""
    bench = _benchmark()
    cases, _, golds = bench.cases_for("synthetic", seed=13)
    result = bench.score(cases, golds)
    assert result["counts"] == (442, 300, 300)
    assert result["all"] == 100.0 and result["fallback"] == 0.0
    # And the reference does tell placements apart: links off by one target word fail it.
    shifted = [
        {(i, min(j + 1, case.n_tgt - 1)) for i, j in links}
        for case, links in zip(cases, golds, strict=True)
    ]
    assert bench.score(cases, shifted)["all"] < 50


def test_gold_links_meet_the_benchmark_reference_on_the_real_gold_sets(shared_data):
    bench = _benchmark()
    for name in ("enfr", "roen"):
        cases, _, golds = bench.cases_for(name, seed=13)
        assert bench.score(cases, golds)["all"] == 100.0, name
