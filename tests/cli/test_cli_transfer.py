"""xalign transfer on text lines, with a model, and on hostile inputs (one-line errors,
no output left behind)."""

from __future__ import annotations

from pathlib import Path

import pytest

from align_cli.io.formats import read_pharaoh
from align_cli.tools.transfer import transfer_into
from tests.cli_runner import run_cli
from tests.paths import SYNTHETIC
from tests.xliff_helpers import EXAMPLES, assert_valid

V12, V20, LINKS = (EXAMPLES / n for n in ("ui.en-fr.v12.xlf", "ui.en-fr.v20.xlf", "ui.en-fr.links"))


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- text lines


def test_text_lines_get_one_tagged_target_each(tmp_path):
    segments = write(
        tmp_path / "in.txt",
        "Click <b>Save file</b> <x/> now ||| Cliquez  maintenant sur Enregistrer le fichier\n"
        "\n"
        "no tags here ||| pas de balises\n"
        "<i>Close</i> ||| <i>Fermer</i>\n",
    )
    links = write(tmp_path / "links", "0-0 1-3 2-5 3-1\n\n\n0-0\n")
    output = tmp_path / "out.txt"
    result = run_cli(["transfer", segments, "-a", links, "-o", output])
    assert result.exit_code == 0, result.stderr
    assert output.read_text(encoding="utf-8").split("\n") == [
        # The target's own spacing is kept; the tags go between its words.
        "Cliquez  <x/>maintenant sur <b>Enregistrer le fichier</b>",
        "",
        "pas de balises",
        "<i>Fermer</i>",  # already tagged: left as it was
        "",
    ]
    assert "4 segments (1 with tags), 2 tags: 2 placed through the alignment" in result.stderr
    assert "1 target already tagged" in result.stderr


def test_unaligned_tags_are_placed_by_the_fallback_and_counted(tmp_path):
    segments = write(tmp_path / "in.txt", "a <b>b</b> c <x/> d ||| A B C D\n")
    links = write(tmp_path / "links", "0-0 3-3\n")  # b and c unaligned
    result = run_cli(["transfer", segments, "-a", links])
    assert result.exit_code == 0, result.stderr
    # <b>'s word is unaligned: an empty pair after the target of "a", its aligned
    # neighbour on the left (the one on the right, "c", is unaligned too); <x/> goes
    # before the target of "d", its right neighbour.
    assert result.stdout == "A <b></b>B C <x/>D\n"
    assert "1 placed through the alignment" in result.stderr
    assert "1 by the fallback (1 by the nearest aligned word, 0 by relative position" in (
        result.stderr
    )


def test_model_links_are_those_of_xalign_extract_on_the_pairs(tmp_path):
    """--model aligns exactly the words --pairs-out lists: its output equals a transfer
    with the links xalign extract writes for those pairs."""
    lines = (SYNTHETIC / "heldout.src-tgt").read_text(encoding="utf-8").split("\n")[:12]
    tagged = []
    for line in lines:
        source, target = (side.split() for side in line.split("|||"))
        source[1] = f"<b>{source[1]}"
        source[-1] = f"<x/> {source[-1]}</b>" if len(source) > 3 else f"{source[-1]}</b>"
        tagged.append(f"{' '.join(source)} ||| {' '.join(target)}")
    segments = write(tmp_path / "tagged.txt", "\n".join(tagged) + "\n")
    model = SYNTHETIC / "fwd"

    by_model = run_cli(["transfer", segments, "--model", model, "-o", tmp_path / "a.txt"])
    assert by_model.exit_code == 0, by_model.stderr
    assert "xalign: signature xalign:" in by_model.stderr
    pairs, links = tmp_path / "pairs", tmp_path / "pairs.align"
    assert run_cli(["transfer", segments, "--pairs-out", pairs]).exit_code == 0
    assert run_cli(["extract", "-i", pairs, "-m", model, "-o", links, "-q"]).exit_code == 0
    by_file = run_cli(["transfer", segments, "-a", links, "-o", tmp_path / "b.txt"])
    assert by_file.exit_code == 0, by_file.stderr
    out = (tmp_path / "a.txt").read_text(encoding="utf-8")
    assert out == (tmp_path / "b.txt").read_text(encoding="utf-8")
    expected = [
        transfer_into(line.split("|||")[0].strip(), line.split("|||")[1].strip(), s.links)
        for line, s in zip(tagged, read_pharaoh(str(links)), strict=True)
    ]
    assert out.splitlines() == expected
    assert all(line.count("<b>") == line.count("</b>") == 1 for line in out.splitlines())


def test_model_on_xliff(tmp_path):
    """An XLIFF 2.0 file of synthetic-language segments, transferred with the model."""
    lines = (SYNTHETIC / "heldout.src-tgt").read_text(encoding="utf-8").split("\n")[:3]
    units = ""
    for number, line in enumerate(lines):
        source, target = (side.split() for side in line.split("|||"))
        tagged = f'{source[0]} <pc id="1">{" ".join(source[1:3])}</pc> <ph id="2"/>'
        tagged += " " + " ".join(source[3:])
        units += (
            f'<unit id="u{number}"><segment><source>{tagged}</source>'
            f"<target>{' '.join(target)}</target></segment></unit>"
        )
    document = write(
        tmp_path / "syn.xlf",
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<xliff xmlns="urn:oasis:names:tc:xliff:document:2.0" version="2.0" srcLang="sa" '
        f'trgLang="sb"><file id="f">{units}</file></xliff>\n',
    )
    result = run_cli(["transfer", document, "-m", SYNTHETIC / "fwd", "-o", tmp_path / "o.xlf"])
    assert result.exit_code == 0, result.stderr
    assert "3 segments (3 with tags), 6 tags" in result.stderr
    tree = assert_valid((tmp_path / "o.xlf").read_bytes(), 2)
    ns = {"x": "urn:oasis:names:tc:xliff:document:2.0"}
    targets = tree.findall(".//x:target", ns)
    assert len(targets) == 3
    for target, line in zip(targets, lines, strict=True):
        assert len(target.findall(".//x:pc[@id='1']", ns)) == 1
        assert len(target.findall(".//x:ph[@id='2']", ns)) == 1
        assert "".join(target.itertext()) == line.split("|||")[1].strip()


# --------------------------------------------------------------------------- hostile


def one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.stdout + result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("xalign: error: ")
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


def test_malformed_xml_names_the_file_and_line(tmp_path):
    bad = write(tmp_path / "bad.xlf", V20.read_text(encoding="utf-8").replace("</source>", "", 1))
    one_line_error(run_cli(["transfer", bad, "-a", LINKS]), f"{bad}:", "not well-formed XML")


def test_a_file_that_is_no_xliff_is_refused(tmp_path):
    other = write(tmp_path / "other.xlf", '<?xml version="1.0"?>\n<tmx version="1.4"/>\n')
    one_line_error(run_cli(["transfer", other, "-a", LINKS]), "not an XLIFF 1.2 or 2.x file")


def test_a_unit_without_target_needs_translations(tmp_path):
    text = V12.read_text(encoding="utf-8").replace(
        "<target>Appuyez sur Entrée pour continuer</target>", ""
    )
    missing = write(tmp_path / "missing.xlf", text)
    one_line_error(
        run_cli(["transfer", missing, "-a", LINKS]),
        f"{missing}:16:",
        "trans-unit 'enter' has no <target>",
        "--translations",
    )


def test_translations_must_have_one_line_per_segment(tmp_path):
    short = write(tmp_path / "mt.txt", "un\ndeux\n")
    one_line_error(
        run_cli(["transfer", V20, "--translations", short, "-a", LINKS]),
        f"{short}: 2 lines for the 7 segments",
    )


def test_the_output_cannot_be_an_input(tmp_path):
    copy = write(tmp_path / "doc.xlf", V20.read_text(encoding="utf-8"))
    one_line_error(
        run_cli(["transfer", copy, "-a", LINKS, "-o", copy, "--force"]), "is also an input"
    )
    one_line_error(
        run_cli(["transfer", copy, "-a", LINKS, "-o", tmp_path / "." / "doc.xlf"]),
        "is also an input",
    )
    assert copy.read_text(encoding="utf-8") == V20.read_text(encoding="utf-8")
    existing = write(tmp_path / "existing.xlf", "keep me")
    one_line_error(run_cli(["transfer", copy, "-a", LINKS, "-o", existing]), "--force")
    assert existing.read_text() == "keep me"


def test_links_must_fit_and_be_one_per_segment(tmp_path):
    wide = write(tmp_path / "wide", LINKS.read_text().replace("0-0 1-3", "0-0 1-9", 1))
    one_line_error(run_cli(["transfer", V20, "-a", wide]), f"{wide}:1:", "link 1-9", "--one-based")
    short = write(tmp_path / "short", "0-0\n")
    one_line_error(run_cli(["transfer", V20, "-a", short]), f"{short}:2:", "ends after 1")
    long = write(tmp_path / "long", LINKS.read_text() + "0-0\n")
    one_line_error(run_cli(["transfer", V20, "-a", long]), f"{long}:8:", "more sentences")


def test_a_failed_run_leaves_no_output_behind(tmp_path):
    segments = write(tmp_path / "in.txt", "<b>a</b> ||| A\n" * 700)  # more than one chunk
    links = write(tmp_path / "links", "0-0\n" * 699)
    output = tmp_path / "out.txt"
    one_line_error(run_cli(["transfer", segments, "-a", links, "-o", output]), "ends after 699")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt", "links"]


@pytest.mark.parametrize(
    "line, fragments",
    [
        ("no separator here", ["in.txt:1:", "expected one '|||'"]),
        ("a <b>b ||| A B", ["in.txt:1:", "<b> is never closed", "fix the source's tags"]),
        ("a </i> ||| A", ["in.txt:1:", "closes nothing"]),
    ],
)
def test_bad_text_lines_are_named(tmp_path, line, fragments):
    segments = write(tmp_path / "in.txt", line + "\n")
    one_line_error(run_cli(["transfer", segments, "-a", write(tmp_path / "l", "\n")]), *fragments)


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--layers", "2"], "--layers: only with --model"),
        ([], "give the links"),
        (["-m", "x", "-a", "y"], "give the links"),
        (["--translations", "t"], "--translations fills XLIFF targets"),
        (["--one-based"], "describe --alignment"),
    ],
)
def test_options_that_do_not_fit_are_refused(tmp_path, args, fragment):
    segments = write(tmp_path / "in.txt", "a ||| A\n")
    extra = ["-a", write(tmp_path / "l", "\n")] if args == ["--layers", "2"] else []
    one_line_error(run_cli(["transfer", segments, *args, *extra]), fragment)


def test_entities_are_never_resolved(tmp_path):
    """An XLIFF file comes from outside: no external entity is read (no XXE), none is
    expanded (no billion laughs); references are carried as they are."""
    document = write(
        tmp_path / "xxe.xlf",
        '<?xml version="1.0"?>\n<!DOCTYPE xliff [<!ENTITY e SYSTEM "file:///etc/passwd">'
        '<!ENTITY a "aaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>\n'
        '<xliff xmlns="urn:oasis:names:tc:xliff:document:2.0" version="2.0" srcLang="en" '
        'trgLang="fr"><file id="f"><unit id="u"><segment><source>a <pc id="1">b &e; &b;</pc>'
        "</source><target>A B</target></segment></unit></file></xliff>\n",
    )
    result = run_cli(["transfer", document, "-a", write(tmp_path / "l", "0-0 1-1\n"), "-q"])
    assert result.exit_code == 0, result.stderr
    assert "root:" not in result.stdout and "aaaaaaaa" * 2 not in result.stdout
    assert '<target>A <pc id="1">B&e;&b;</pc></target>' in result.stdout
