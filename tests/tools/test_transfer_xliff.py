"""xalign transfer on XLIFF 1.2 and 2.0: the example files come back with every inline
code in its target, placed through the links, valid against the OASIS schemas, and the
rest of each file as it was."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from align_cli.tools.transfer_files import FileLinks, transfer_xliff
from align_cli.tools.xliff import XliffDocument
from tests.cli_runner import run_cli
from tests.xliff_helpers import EXAMPLES, NAMESPACES, assert_valid, codes, inner_xml

LINKS = EXAMPLES / "ui.en-fr.links"
FILES = {1: EXAMPLES / "ui.en-fr.v12.xlf", 2: EXAMPLES / "ui.en-fr.v20.xlf"}

# The targets of the four tagged segments after the transfer, checked by hand against
# the links in ui.en-fr.links (the other targets do not change).
EXPECTED = {
    1: [
        'Cliquez <x id="2" ctype="image"/>maintenant sur '
        '<g id="1" ctype="bold">Enregistrer le fichier</g>',
        'Appuyez sur <bpt id="1">&lt;b&gt;</bpt>Entrée<ept id="1">&lt;/b&gt;</ept> pour '
        'continuer<ph id="2">{0}</ph>',
        '<g id="1">Le <mrk mtype="term">bouton rouge</mrk></g> <bx id="2" rid="2"/>arrête'
        '<ex id="3" rid="2"/> le <it id="4" pos="open">&lt;i&gt;</it>moteur',
        'Ouvrez le <g id="1">menu principal</g>',
    ],
    2: [
        'Cliquez <ph id="2" type="image"/>maintenant sur '
        '<pc id="1" type="fmt" subType="xlf:b">Enregistrer le fichier</pc>',
        'Appuyez sur <sc id="1" dataRef="d1"/>Entrée<ec startRef="1" dataRef="d2"/> pour '
        'continuer<ph id="2" dataRef="d3"/>',
        '<pc id="1">Le <mrk id="m1" type="term">bouton rouge</mrk></pc> '
        '<sm id="m2" type="comment" value="check"/>arrête<em startRef="m2"/> le '
        '<sc id="4" isolated="yes"/>moteur',
        'Ouvrez le <pc id="1">menu principal</pc>',
    ],
}
UNCHANGED_TARGETS = ["Puis quittez", "Rien à restaurer ici"]


def segment_elements(tree: etree._ElementTree, version: int) -> list[tuple]:
    """(source, target) of every translatable segment, in document order."""
    ns = {"x": NAMESPACES[version]}
    if version == 2:
        return [
            (segment.find("x:source", ns), segment.find("x:target", ns))
            for unit in tree.iterfind(".//x:unit", ns)
            if unit.get("id") != "brand"
            for segment in unit.iterfind("x:segment", ns)
        ]
    pairs = []
    for unit in tree.iterfind(".//x:trans-unit", ns):
        if unit.get("id") == "brand":
            continue
        marks = unit.findall("x:seg-source/x:mrk", ns)
        if marks:
            targets = unit.findall("x:target/x:mrk", ns)
            pairs += list(zip(marks, targets, strict=True))
        else:
            pairs.append((unit.find("x:source", ns), unit.find("x:target", ns)))
    return pairs


@pytest.mark.parametrize("version", [1, 2])
def test_example_file_comes_back_with_its_tags_placed(version, tmp_path):
    output = tmp_path / "out.xlf"
    result = run_cli(["transfer", FILES[version], "--alignment", LINKS, "-o", output])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert (
        "7 segments (4 with tags), 9 tags: 9 placed through the alignment, 0 cut or moved to "
        "keep the nesting, 0 by the fallback" in result.stderr
    )
    assert "1 target already tagged, left unchanged" in result.stderr

    tree = assert_valid(output.read_bytes(), version)
    segments = segment_elements(tree, version)
    targets = [inner_xml(target) for _, target in segments]
    assert targets[:4] == EXPECTED[version]
    assert targets[4:6] == UNCHANGED_TARGETS
    # Every code of every source is in its target once, with its attributes and content.
    for source, target in segments:
        assert codes(target) == codes(source)
    # Nothing else changed: the lines that differ are the four tagged targets.
    before = FILES[version].read_text(encoding="utf-8").split("\n")
    after = output.read_text(encoding="utf-8").split("\n")
    assert len(before) == len(after)
    changed = [b for b, a in zip(before, after, strict=True) if b != a]
    assert len(changed) == 4 and all("<target>" in line for line in changed)
    # The untranslatable unit was not given a target.
    assert output.read_bytes().count(b"<target") == FILES[version].read_bytes().count(b"<target")


@pytest.mark.parametrize("version", [1, 2])
def test_pairs_out_lists_the_words_the_links_join(version, tmp_path):
    pairs = tmp_path / "pairs.src-tgt"
    result = run_cli(["transfer", FILES[version], "--pairs-out", pairs])
    assert result.exit_code == 0, result.stderr
    lines = pairs.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(LINKS.read_text().splitlines()) == 7
    assert lines[0] == "Click Save file now ||| Cliquez maintenant sur Enregistrer le fichier"
    assert lines[3] == "Open the main menu ||| Ouvrez le menu principal"
    assert lines[6] == "Close all ||| Fermer tout"  # the target's own tags are no words


def without_targets(path: Path, version: int, folder: Path) -> Path:
    """The example with every target removed (a file fresh from the CAT tool)."""
    tree = etree.parse(str(path))
    for target in tree.iterfind(f".//{{{NAMESPACES[version]}}}target"):
        target.getparent().remove(target)
    bare = folder / f"bare.v{version}.xlf"
    tree.write(str(bare), xml_declaration=True, encoding="UTF-8")
    return bare


@pytest.mark.parametrize("version", [1, 2])
def test_translations_fill_the_targets(version, tmp_path):
    bare = without_targets(FILES[version], version, tmp_path)
    translations = tmp_path / "mt.txt"
    filled = [inner_xml(t) for _, t in segment_elements(etree.parse(str(FILES[version])), version)]
    filled[-1] = "Fermer tout"
    translations.write_text("\n".join(filled) + "\n", encoding="utf-8")
    output = tmp_path / "out.xlf"
    result = run_cli(["transfer", bare, "--translations", translations, "-a", LINKS, "-o", output])
    assert result.exit_code == 0, result.stderr
    tree = assert_valid(output.read_bytes(), version)
    targets = [inner_xml(target) for _, target in segment_elements(tree, version)]
    assert targets[:4] == EXPECTED[version]
    # The last one had its tags in the file; given as plain text, it gets them back.
    code = "g" if version == 1 else "pc"
    assert targets[4:] == [*UNCHANGED_TARGETS, f'Fermer <{code} id="1">tout</{code}>']


def test_api_transfers_in_place_and_counts(tmp_path):
    document = XliffDocument(FILES[2])
    summary = transfer_xliff(document, FileLinks(str(LINKS)))
    assert (summary.segments, summary.tagged_segments, summary.tags) == (7, 4, 9)
    assert summary.already_tagged == 1
    assert_valid(document.to_bytes(), 2)


def test_stdout_is_the_default_output():
    result = run_cli(["transfer", FILES[2], "-a", LINKS, "-q"])
    assert result.exit_code == 0 and result.stderr == ""
    assert_valid(result.stdout.encode("utf-8"), 2)


# --------------------------------------------------------------------------- codes


def read_source(xml: str, version: int = 2):
    """The markup of the one segment of a minimal document around ``xml``."""
    if version == 2:
        text = (
            f'<xliff xmlns="{NAMESPACES[2]}" version="2.0" srcLang="en"><file id="f">'
            f'<unit id="u"><segment><source>{xml}</source><target>T</target></segment>'
            "</unit></file></xliff>"
        )
    else:
        text = (
            f'<xliff xmlns="{NAMESPACES[1]}" version="1.2"><file original="f" '
            'source-language="en" datatype="plaintext"><body><trans-unit id="u">'
            f"<source>{xml}</source><target>T</target></trans-unit></body></file></xliff>"
        )
    return text


def markup_of(xml: str, version: int, tmp_path: Path):
    path = tmp_path / "one.xlf"
    path.write_text(read_source(xml, version), encoding="utf-8")
    document = XliffDocument(path)
    return document.markup(document.segments[0])


def test_begin_and_end_codes_pair_only_when_both_are_here_and_nest(tmp_path):
    # A pair inside the segment: one paired tag over its words.
    markup = markup_of('a <sc id="1"/>b c<ec startRef="1"/> d', 2, tmp_path)
    [tag] = markup.tags
    assert (tag.paired, tag.start, tag.end) == (True, 1, 3)
    # Overlapping pairs (what these codes exist for): the one that crosses is split into
    # two standalone codes, the other stays a pair.
    markup = markup_of(
        '<sc id="1"/>a <sc id="2"/>b<ec startRef="1"/> c<ec startRef="2"/>', 2, tmp_path
    )
    assert [(t.opening, t.paired, t.start, t.end) for t in markup.tags] == [
        ('<sc id="1">', False, 0, 0),
        ('<sc id="2">', True, 1, 3),
        ('<ec startRef="1">', False, 2, 2),
    ]
    # The end in another segment, or isolated: standalone.
    markup = markup_of('a <sc id="1"/>b <sc id="2" isolated="yes"/>c', 2, tmp_path)
    assert [t.paired for t in markup.tags] == [False, False]
    # A begin inside a <pc> whose end is outside it cannot be a pair.
    markup = markup_of('<pc id="1">a <sc id="2"/>b</pc> c<ec startRef="2"/>', 2, tmp_path)
    assert [(t.opening, t.paired) for t in markup.tags] == [
        ('<pc id="1">', True),
        ('<sc id="2">', False),
        ('<ec startRef="2">', False),
    ]
    # XLIFF 1.2: bpt/ept by id, bx/ex by rid; a tag ends a word.
    markup = markup_of(
        '<bpt id="1">[</bpt>a<ept id="1">]</ept> <bx id="2" rid="9"/>b<ex id="3" rid="9"/>c',
        1,
        tmp_path,
    )
    assert [(t.paired, t.start, t.end) for t in markup.tags] == [(True, 0, 1), (True, 1, 2)]
    assert markup.words == ("a", "b", "c")
