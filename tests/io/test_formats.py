"""Alignment file formats: every reader parses what the format's users write, every writer
writes what its readers expect, and every link survives Pharaoh ⇄ GIZA A3 ⇄ NAACL ⇄ JSONL."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from align_cli.errors import CorpusError
from align_cli.io.formats import (
    FORMATS,
    LINK_WRITE_FORMATS,
    READ_FORMATS,
    WRITE_FORMATS,
    AlignedSentence,
    detect_format,
    format_giza_a3,
    format_jsonl,
    format_naacl,
    format_pharaoh,
    format_scores,
    format_sentence,
    format_talp,
    pad_sentences,
    parse_pharaoh_line,
    read_alignments,
    read_giza_a3,
    read_jsonl,
    read_naacl,
    read_pharaoh,
    read_pharaoh_with_probs,
)
from align_cli.io.writer import RECORD_LINES, format_record
from align_cli.types import AlignmentResult, SentencePair


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


# --------------------------------------------------------------------------- Pharaoh / talp


def test_pharaoh_marks_sure_and_possible_links():
    sure, possible, scores = parse_pharaoh_line("0-1 2p3 4?5")
    assert sure == {(0, 1)}
    assert possible == {(2, 3), (4, 5)}
    assert scores == {}


def test_pharaoh_reads_scores_after_a_dash_or_a_colon():
    sure, possible, scores = parse_pharaoh_line("0-1-0.25 2-3:0.5 4p5:1e-3")
    assert sure == {(0, 1), (2, 3)}
    assert possible == {(4, 5)}
    assert scores == {(0, 1): 0.25, (2, 3): 0.5, (4, 5): 0.001}


def test_a_link_marked_both_sure_and_possible_is_sure():
    sure, possible, _ = parse_pharaoh_line("1-2 1p2")
    assert sure == {(1, 2)} and possible == set()


def test_one_based_files_are_shifted_to_zero_based():
    sure, possible, _ = parse_pharaoh_line("1-1 3p2", one_based=True)
    assert sure == {(0, 0)} and possible == {(2, 1)}


def test_index_zero_in_a_one_based_file_is_an_error_with_file_and_line():
    with pytest.raises(CorpusError, match=r"^gold.talp:7: index 0 in link '0-3'"):
        parse_pharaoh_line("1-1 0-3", one_based=True, path="gold.talp", line_no=7)


@pytest.mark.parametrize("token", ["3-x", "3", "3--", "a-b", "3_4", "3-4-", "3-4:zz"])
def test_a_malformed_link_is_an_error_naming_it(token):
    with pytest.raises(CorpusError, match=r"^f:2: ") as error:
        parse_pharaoh_line(f"0-0 {token}", path="f", line_no=2)
    assert repr(token) in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("token", ["-1-2", "1--2", "-1p-2"])
def test_a_negative_index_is_an_error_saying_so(token):
    with pytest.raises(CorpusError, match=r"^f:3: negative index"):
        parse_pharaoh_line(token, path="f", line_no=3)


def test_read_pharaoh_gives_one_sentence_per_line_with_empty_lines_kept(tmp_path):
    path = write(tmp_path / "a.txt", "0-0 1-1\n\n2-1\n")
    sentences = list(read_pharaoh(path))
    assert [s.sure for s in sentences] == [{(0, 0), (1, 1)}, set(), {(2, 1)}]
    assert [s.line_no for s in sentences] == [1, 2, 3]
    assert [s.index for s in sentences] == [0, 1, 2]


def test_format_pharaoh_is_sorted_and_zero_based():
    assert format_pharaoh({(2, 0), (0, 1), (0, 0)}) == "0-0 0-1 2-0"
    assert format_pharaoh([]) == ""


def test_format_talp_marks_possible_links_and_can_write_one_based():
    assert format_talp({(0, 0)}, {(1, 2), (0, 0)}) == "0-0 1p2"
    assert format_talp({(0, 0)}, {(1, 2)}, one_based=True) == "1-1 2p3"


links_strategy = st.sets(st.tuples(st.integers(0, 60), st.integers(0, 60)), max_size=30)


@given(sure=links_strategy, possible=links_strategy, one_based=st.booleans())
def test_talp_round_trip_keeps_every_link(sure, possible, one_based):
    text = format_talp(sure, possible, one_based=one_based)
    read_sure, read_possible, _ = parse_pharaoh_line(text, one_based=one_based)
    assert read_sure == sure
    assert read_possible == possible - sure


@given(
    links=st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60)), unique=True, max_size=20),
    data=st.data(),
)
def test_scores_round_trip_through_an_awesome_align_probability_file(tmp_path_factory, links, data):
    scores = data.draw(
        st.lists(st.floats(0, 1, allow_nan=False), min_size=len(links), max_size=len(links))
    )
    folder = tmp_path_factory.mktemp("probs")
    links_path = write(folder / "out.txt", " ".join(f"{i}-{j}" for i, j in links) + "\n")
    probs_path = write(folder / "out.prob", format_scores(scores) + "\n")
    (sentence,) = read_pharaoh_with_probs(links_path, probs_path)
    assert sentence.sure == set(links)
    for link, score in zip(links, scores, strict=True):
        assert sentence.scores[link] == pytest.approx(score, rel=1e-5, abs=1e-12)


def test_format_scores_follows_the_link_order_with_six_significant_digits():
    assert format_scores([0.5, 0.123456789, 1.0]) == "0.5 0.123457 1"
    assert format_scores([]) == ""


def test_probability_file_with_the_wrong_number_of_values_is_an_error(tmp_path):
    links_path = write(tmp_path / "out.txt", "0-0 1-1\n0-0\n")
    probs_path = write(tmp_path / "out.prob", "0.9 0.8\n0.7 0.1\n")
    with pytest.raises(CorpusError, match=r"out.prob:2: 2 probabilities for the 1 links"):
        list(read_pharaoh_with_probs(links_path, probs_path))


# --------------------------------------------------------------------------- NAACL


def test_naacl_groups_by_sentence_and_is_one_based(tmp_path):
    path = write(
        tmp_path / "a.naacl",
        "1 1 1 S\n1 2 3 P 0.5\n1 3 2\n3 2 2 S 0.9\n3 0 4 S\n",
    )
    sentences = list(read_naacl(path))
    assert len(sentences) == 3  # sentence 2 has no line and is yielded empty
    assert sentences[0].sure == {(0, 0), (2, 1)}
    assert sentences[0].possible == {(1, 2)}
    assert sentences[0].scores == {(1, 2): 0.5}
    assert sentences[1].links == set()
    assert sentences[2].sure == {(1, 1)}  # "3 0 4" is a NULL link: dropped
    assert sentences[2].line_no == 4


def test_naacl_must_be_sorted_by_sentence_number(tmp_path):
    path = write(tmp_path / "a.naacl", "2 1 1 S\n1 1 1 S\n")
    with pytest.raises(CorpusError, match=r"a.naacl:2: sentence number 1 after 2"):
        list(read_naacl(path))


@pytest.mark.parametrize(
    ("line", "message"),
    [("1 2", "expected 'sentence_no"), ("1 x 2 S", "must be integers"), ("1 -1 2", "negative")],
)
def test_bad_naacl_lines_are_errors_with_file_and_line(tmp_path, line, message):
    path = write(tmp_path / "a.wa", f"1 1 1 S\n{line}\n")
    with pytest.raises(CorpusError, match=rf"a.wa:2: .*{message}"):
        list(read_naacl(path))


@settings(max_examples=50)
@given(
    sentences=st.lists(st.tuples(links_strategy, links_strategy), min_size=1, max_size=6),
)
def test_naacl_round_trip_keeps_every_link(tmp_path_factory, sentences):
    text = "".join(
        block + "\n"
        for index, (sure, possible) in enumerate(sentences)
        if (block := format_naacl(index + 1, sure, possible))
    )
    path = write(tmp_path_factory.mktemp("naacl") / "a.naacl", text)
    read = list(read_naacl(path))
    # Trailing sentences without links have no line; the reader cannot see them.
    read += [AlignedSentence(k, 0) for k in range(len(read), len(sentences))]
    assert [(s.sure, s.possible) for s in read] == [(su, po - su) for su, po in sentences]


# --------------------------------------------------------------------------- GIZA A3

GIZA_RECORD = (
    "# Sentence pair (1) source length 3 target length 4 alignment score : 1.5e-08\n"
    "the black cat sleeps\n"
    "NULL ({ 4 }) le ({ 1 }) chat ({ 3 }) noir ({ 2 }) \n"
)


def test_giza_a3_links_the_null_line_words_to_target_positions(tmp_path):
    (sentence,) = read_giza_a3(write(tmp_path / "x.A3.final", GIZA_RECORD))
    assert sentence.src_words == ("le", "chat", "noir")
    assert sentence.tgt_words == ("the", "black", "cat", "sleeps")
    assert sentence.sure == {(0, 0), (1, 2), (2, 1)}  # NULL's "sleeps" is no link


def test_gzipped_giza_files_are_read_transparently(tmp_path):
    path = tmp_path / "x.A3.final.gz"
    path.write_bytes(gzip.compress(GIZA_RECORD.encode()))
    assert [s.sure for s in read_alignments(str(path))] == [{(0, 0), (1, 2), (2, 1)}]


def test_a_truncated_gzip_is_an_error_with_file_and_line(tmp_path):
    path = tmp_path / "x.A3.final.gz"
    path.write_bytes(gzip.compress((GIZA_RECORD * 200).encode())[:-40])
    with pytest.raises(CorpusError, match=r"x.A3.final.gz:\d+: cannot read"):
        list(read_alignments(str(path)))


def test_corrupt_deflate_data_is_an_error_with_file_and_line(tmp_path):
    # A valid gzip header followed by a deflate block of the reserved type 3.
    path = tmp_path / "x.talp.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + b"\x07" + bytes(20))
    with pytest.raises(CorpusError, match=r"x.talp.gz:1: cannot read \(corrupt or truncated"):
        list(read_alignments(str(path)))


def test_a_file_that_is_not_gzip_is_an_error_with_file_and_line(tmp_path):
    path = write(tmp_path / "x.A3.final.gz", GIZA_RECORD)
    with pytest.raises(CorpusError, match=r"x.A3.final.gz:1: cannot read"):
        list(read_alignments(path))


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ("NULL ({ }) le ({ 1 }) chat ({ 9 }) noir ({ 2 })", "position 9 .* outside"),
        ("NULL ({ }) le ({ 1 }) chat ({ x }) noir ({ 2 })", "expected a target position"),
        ("NULL ({ }) le 1 }) chat ({ 3 }) noir ({ 2 })", r"expected '\(\{'"),
        ("le ({ 1 }) chat ({ 3 }) noir ({ 2 })", "must start with 'NULL"),
        ("NULL ({ }) le ({ 1 }) chat ({ 3 })", "header says source length 3"),
    ],
)
def test_bad_giza_records_are_errors_with_file_and_line(tmp_path, bad_line, message):
    lines = GIZA_RECORD.splitlines()
    path = write(tmp_path / "x.A3.final", "\n".join([*lines[:2], bad_line]) + "\n")
    with pytest.raises(CorpusError, match=rf"x.A3.final:[13]: .*{message}"):
        list(read_giza_a3(path))


def test_format_giza_a3_lists_unlinked_targets_under_null():
    pair = SentencePair(0, ("le", "chat"), ("the", "cat", "sleeps"))
    result = AlignmentResult(pair, [(0, 0), (1, 1)], [0.9, 0.8])
    assert format_giza_a3(result, 5).splitlines() == [
        "# Sentence pair (5) source length 2 target length 3 alignment score : 0",
        "the cat sleeps",
        "NULL ({ 3 }) le ({ 1 }) chat ({ 2 })",
    ]


words = st.text(alphabet="abcé({})", min_size=1, max_size=4)


@given(
    src=st.lists(words, min_size=0, max_size=8),
    tgt=st.lists(words, min_size=0, max_size=8),
    data=st.data(),
)
def test_giza_round_trip_keeps_words_and_many_to_many_links(tmp_path_factory, src, tgt, data):
    possible_links = [(i, j) for i in range(len(src)) for j in range(len(tgt))]
    links = sorted(data.draw(st.sets(st.sampled_from(possible_links))) if possible_links else [])
    result = AlignmentResult(SentencePair(0, tuple(src), tuple(tgt)), links)
    path = write(tmp_path_factory.mktemp("giza") / "a.A3.final", format_giza_a3(result, 1) + "\n")
    (sentence,) = read_giza_a3(path)
    assert sentence.sure == set(links)
    assert (sentence.src_words, sentence.tgt_words) == (tuple(src), tuple(tgt))


# --------------------------------------------------------------------------- JSONL


def test_format_jsonl_has_the_documented_keys():
    pair = SentencePair(3, ("le", "chat"), ("the", "cat"))
    matrix = np.array([[0.912345678, 0.1], [0.0, 1 / 3]])
    result = AlignmentResult(pair, [(0, 0), (1, 1)], [0.9123456789, 0.5], matrix)
    record = json.loads(format_jsonl(result, include_matrix=True, signature="xalign 0.1"))
    assert record == {
        "index": 3,
        "src_words": ["le", "chat"],
        "tgt_words": ["the", "cat"],
        "links": [[0, 0], [1, 1]],
        "scores": [0.912346, 0.5],
        "skipped": None,
        "matrix": [[0.9123, 0.1], [0.0, 0.3333]],
        "signature": "xalign 0.1",
    }
    assert "matrix" not in json.loads(format_jsonl(result, include_matrix=False))
    assert "\n" not in format_jsonl(result, include_matrix=True)


def test_jsonl_round_trip_of_an_xalign_result(tmp_path):
    pair = SentencePair(0, ("a", "b"), ("c",))
    results = [
        AlignmentResult(pair, [(0, 0), (1, 0)], [0.25, 0.75]),
        AlignmentResult(pair, [], [], skipped="too long"),
    ]
    text = "".join(format_jsonl(r, include_matrix=False) + "\n" for r in results)
    read = list(read_jsonl(write(tmp_path / "a.jsonl", text)))
    assert read[0].sure == {(0, 0), (1, 0)}
    assert read[0].scores == {(0, 0): 0.25, (1, 0): 0.75}
    assert read[0].src_words == ("a", "b")
    assert read[1].links == set()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "invalid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"links": [[0, "x"]]}', "malformed link"),
        ('{"links": [[0, -1]]}', "negative index"),
        ('{"links": [[0, 0]], "scores": [1, 2]}', "one number per link"),
        ('{"links": [[2, 0]], "src_words": ["a"], "tgt_words": ["b"]}', "past the end"),
    ],
)
def test_bad_jsonl_lines_are_errors_with_file_and_line(tmp_path, line, message):
    path = write(tmp_path / "a.jsonl", '{"links": []}\n' + line + "\n")
    with pytest.raises(CorpusError, match=rf"a.jsonl:2: .*{message}"):
        list(read_jsonl(path))


# --------------------------------------------------------------------------- dispatch


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("a.txt", "0-0 1p2\n", "pharaoh"),
        ("a.txt", "\n1 2 3 S\n", "naacl"),
        ("a.txt", GIZA_RECORD, "giza"),
        ("a.txt", '{"links": []}\n', "jsonl"),
        ("a.jsonl", "", "jsonl"),
        ("en-fr.A3.final", "", "giza"),
        ("a.txt", "", "pharaoh"),
    ],
)
def test_detect_format(tmp_path, name, text, expected):
    assert detect_format(write(tmp_path / name, text)) == expected


def test_reverse_swaps_links_and_words(tmp_path):
    path = write(tmp_path / "x.A3.final", GIZA_RECORD)
    (sentence,) = read_alignments(path, reverse=True)
    assert sentence.sure == {(0, 0), (2, 1), (1, 2)}
    assert sentence.src_words == ("the", "black", "cat", "sleeps")


# --------------------------------------------------------------------------- real files

LILT_FILES = [
    f"published/{system}/test.{pair}{kind}.talp"
    for system in ("lilt-giza", "lilt-fastalign")
    for pair in ("enfr", "roen")
    for kind in ("", ".reverse", ".intersection", ".union", ".grow-diagonal")
]


def convert_through_every_format(
    sentences: list[AlignedSentence], folder: Path
) -> list[AlignedSentence]:
    """Pharaoh → GIZA A3 → NAACL → JSONL → Pharaoh, each step written and read back."""
    chain = [("giza", "a.A3.final"), ("naacl", "a.naacl"), ("jsonl", "a.jsonl")]
    current = sentences
    for fmt, name in chain:
        path = folder / name
        lines = (format_sentence(s, fmt) for s in current)
        path.write_text("".join(line + "\n" for line in lines if line is not None), "utf-8")
        current = list(read_alignments(str(path), fmt))
        if FORMATS[fmt].implicit_tail:  # NAACL cannot show trailing sentences without links
            current += [AlignedSentence(k, 0) for k in range(len(current), len(sentences))]
            words = [(s.src_words, s.tgt_words) for s in sentences]
            current = [
                AlignedSentence(s.index, s.line_no, s.sure, s.possible, s.scores, *w)
                for s, w in zip(current, words, strict=True)
            ]
    path = folder / "back.talp"
    path.write_text("".join(format_sentence(s, "pharaoh") + "\n" for s in current), "utf-8")
    return list(read_pharaoh(str(path)))


@pytest.mark.parametrize("relative", LILT_FILES)
def test_real_talp_files_keep_every_link_through_every_format(shared_data, tmp_path, relative):
    pair = "enfr" if ".enfr" in relative else "roen"
    corpus = (shared_data / f"gold/{pair}.src-tgt").read_text(encoding="utf-8").splitlines()
    reverse = ".reverse" in relative
    sentences = []
    for sentence, line in zip(
        read_alignments(str(shared_data / relative), reverse=reverse), corpus, strict=True
    ):
        src, tgt = (side.split() for side in line.split("|||"))
        sentences.append(
            AlignedSentence(
                sentence.index,
                sentence.line_no,
                sentence.sure,
                src_words=tuple(src),
                tgt_words=tuple(tgt),
            )
        )
    back = convert_through_every_format(sentences, tmp_path)
    assert [s.sure for s in back] == [s.sure for s in sentences]


def test_gold_sure_and_possible_links_survive_naacl_and_jsonl(shared_data, tmp_path):
    gold = list(read_pharaoh(str(shared_data / "gold/enfr.gold"), one_based=True))
    assert sum(len(s.possible) for s in gold) > 0
    for fmt, name in (("naacl", "g.naacl"), ("jsonl", "g.jsonl"), ("pharaoh", "g.talp")):
        path = tmp_path / name
        lines = (format_sentence(s, fmt) for s in gold)
        path.write_text("".join(line + "\n" for line in lines if line is not None), "utf-8")
        back = list(read_alignments(str(path), fmt))
        back += [AlignedSentence(k, 0) for k in range(len(back), len(gold))]
        assert [(s.sure, s.possible) for s in back] == [(s.sure, s.possible) for s in gold]


@pytest.mark.parametrize("name", ["en-fr.A3.final.gz", "fr-en.A3.final.gz"])
def test_real_giza_files_are_rewritten_line_for_line(shared_data, name):
    """Reading a GIZA++ file and writing it back gives GIZA's own lines (bar the score)."""
    path = shared_data / "giza-a3" / name
    original = gzip.decompress(path.read_bytes()).decode("utf-8").split("\n")
    sentences = list(read_giza_a3(str(path)))
    assert len(sentences) == 765
    for sentence in sentences:
        written = format_sentence(sentence, "giza").split("\n")
        start = 3 * sentence.index
        header = original[start]
        assert written[0] == header[: header.index(" alignment score")] + " alignment score : 0"
        assert written[1] == original[start + 1].rstrip()
        assert written[2] == original[start + 2].rstrip()


def test_real_giza_files_keep_every_link_through_every_format(shared_data, tmp_path):
    sentences = list(read_giza_a3(str(shared_data / "giza-a3/en-fr.A3.final.gz")))
    back = convert_through_every_format(sentences, tmp_path)
    assert [s.sure for s in back] == [s.sure for s in sentences]


# --------------------------------------------------------------------------- the registry

WORDS = (("le", "chat", "noir"), ("the", "black", "cat"))
RICH = AlignedSentence(
    0,
    1,
    frozenset({(0, 0), (1, 2)}),
    frozenset({(2, 1)}),
    {(0, 0): 0.5, (1, 2): 0.25, (2, 1): 0.125},
    *WORDS,
)
CORPUS = [
    RICH,
    AlignedSentence(1, 2, src_words=("a",), tgt_words=("b",)),  # no links
    AlignedSentence(2, 3, frozenset({(0, 1)}), src_words=("x", "y"), tgt_words=("z", "w")),
    AlignedSentence(3, 4, src_words=(), tgt_words=()),  # no links, last: NAACL's tail
]
# What each format keeps of a sentence besides its links; a new format needs its row.
KEEPS = {
    "pharaoh": {"possible"},
    "naacl": {"possible", "scores"},
    "giza": {"words"},
    "jsonl": {"possible", "scores", "words"},
}
ROUND_TRIP = [name for name in READ_FORMATS if FORMATS[name].writable]


def kept(sentence: AlignedSentence, keeps: set[str]) -> tuple:
    """What of ``sentence`` a format that keeps ``keeps`` can give back."""
    sure = sentence.sure if "possible" in keeps else sentence.links
    possible = sentence.possible if "possible" in keeps else frozenset()
    scores = dict(sentence.scores) if "scores" in keeps else {}
    words = (sentence.src_words, sentence.tgt_words) if "words" in keeps else (None, None)
    return sure, possible, scores, words


def write_with(name: str, sentences: list[AlignedSentence], path: Path, **options) -> str:
    texts = (FORMATS[name].write(s, **options) for s in sentences)
    return write(path, "".join(text + "\n" for text in texts if text is not None))


def test_the_commands_offer_what_the_traits_say():
    assert READ_FORMATS == ("pharaoh", "naacl", "giza", "jsonl")
    assert WRITE_FORMATS == ("pharaoh", "naacl", "giza", "jsonl", "probs")
    assert LINK_WRITE_FORMATS == READ_FORMATS  # symmetrize writes links, not scores alone
    # extract resumes by counting lines: formats whose records vary in length are out
    assert RECORD_LINES == {"pharaoh": 1, "giza": 3, "jsonl": 1}
    assert list(RECORD_LINES) == ["pharaoh", "jsonl", "giza"]  # as `extract --help` lists them
    traits = {
        "implicit_tail": ["naacl"],
        "takes_one_based": ["pharaoh"],
        "needs_words": ["giza"],
        "carries_words": ["giza", "jsonl"],
        "scores_only": ["probs"],
        "takes_probs_file": ["pharaoh"],
    }
    for trait, names in traits.items():
        assert [n for n, f in FORMATS.items() if getattr(f, trait)] == names, trait
    assert [n for n, f in FORMATS.items() if f.read_matrices is not None] == ["jsonl"]


def test_every_format_is_in_the_round_trip_table():
    assert set(ROUND_TRIP) == set(KEEPS)
    for name in ROUND_TRIP:
        assert ("words" in KEEPS[name]) == FORMATS[name].carries_words


@pytest.mark.parametrize("name", ROUND_TRIP)
def test_every_format_reads_back_what_it_writes(tmp_path, name):
    fmt = FORMATS[name]
    path = write_with(name, CORPUS, tmp_path / "out")
    back = list(fmt.read(path))
    if fmt.implicit_tail:
        back = list(pad_sentences(back, len(CORPUS)))
    assert [s.index for s in back] == list(range(len(CORPUS)))
    assert [kept(s, KEEPS[name]) for s in back] == [kept(s, KEEPS[name]) for s in CORPUS]


@pytest.mark.parametrize("name", ROUND_TRIP)
def test_every_format_is_detected_from_its_own_lines(tmp_path, name):
    assert detect_format(write_with(name, CORPUS, tmp_path / "out.txt")) == name


@pytest.mark.parametrize("name", [n for n in WRITE_FORMATS if FORMATS[n].lines_per_record])
def test_records_take_the_declared_number_of_lines(name):
    for sentence in CORPUS:
        text = FORMATS[name].write(sentence)
        assert text is not None
        assert len(text.split("\n")) == FORMATS[name].lines_per_record


@pytest.mark.parametrize("name", WRITE_FORMATS)
def test_only_an_implicit_tail_has_no_line_for_a_sentence_without_links(name):
    text = FORMATS[name].write(CORPUS[1])
    assert (text is None) == FORMATS[name].implicit_tail


@pytest.mark.parametrize("name", ROUND_TRIP)
def test_one_based_goes_only_to_formats_that_take_it(tmp_path, name):
    fmt = FORMATS[name]
    path = write_with(name, CORPUS, tmp_path / "out", one_based=True)
    if not fmt.takes_one_based:
        with pytest.raises(CorpusError, match="one-based option applies to Pharaoh files"):
            fmt.read(path, one_based=True)
        assert path == write_with(name, CORPUS, tmp_path / "out")  # ignored when writing
        return
    assert "0-0" not in Path(path).read_text(encoding="utf-8")
    back = list(fmt.read(path, one_based=True))
    assert [s.links for s in back] == [s.links for s in CORPUS]


@pytest.mark.parametrize("name", WRITE_FORMATS)
def test_only_formats_that_need_words_refuse_a_sentence_without_them(name):
    bare = AlignedSentence(0, 1, RICH.sure, RICH.possible, RICH.scores)
    if FORMATS[name].needs_words:
        with pytest.raises(ValueError, match="needs the words"):
            FORMATS[name].write(bare)
    elif not FORMATS[name].carries_words:
        assert FORMATS[name].write(bare) == FORMATS[name].write(RICH)
    else:
        assert FORMATS[name].write(bare) is not None  # the words are left out


def test_a_probability_file_gives_the_pharaoh_links_their_scores(tmp_path):
    scored = [RICH, CORPUS[1], RICH]  # every link with a score (nan is written, not read)
    links = write_with("pharaoh", scored, tmp_path / "links")
    probs = write_with("probs", scored, tmp_path / "probs")
    back = list(read_pharaoh_with_probs(links, probs))
    assert [(s.sure, s.possible, s.scores) for s in back] == [
        (s.sure, s.possible, dict(s.scores)) for s in scored
    ]


RESULT = AlignmentResult(
    SentencePair(4, ("le", "chat"), ("the", "cat"), line_no=5),
    [(0, 0), (0, 1), (1, 1)],
    [0.9123456789, 0.5, float("nan")],
    np.array([[0.912345678, 0.1], [0.0, 1 / 3]]),
)


@pytest.mark.parametrize("name", list(RECORD_LINES))
def test_one_writer_serves_an_aligner_result_and_a_sentence(name):
    sentence = AlignedSentence.from_result(RESULT)
    assert FORMATS[name].write(RESULT) == FORMATS[name].write(sentence)
    assert format_record(RESULT, name, include_matrix=False, signature="s") == (
        FORMATS[name].write(AlignedSentence.from_result(RESULT, signature="s")) + "\n"
    )


def test_an_aligner_result_is_written_byte_for_byte_as_before():
    assert format_record(RESULT, "pharaoh", include_matrix=True, signature="") == "0-0 0-1 1-1\n"
    assert format_record(RESULT, "giza", include_matrix=True, signature="") == (
        "# Sentence pair (5) source length 2 target length 2 alignment score : 0\n"
        "the cat\n"
        "NULL ({ }) le ({ 1 2 }) chat ({ 2 })\n"
    )
    assert format_record(RESULT, "jsonl", include_matrix=True, signature="") == (
        '{"index": 4, "src_words": ["le", "chat"], "tgt_words": ["the", "cat"], '
        '"links": [[0, 0], [0, 1], [1, 1]], "scores": [0.912346, 0.5, null], '
        '"skipped": null, "matrix": [[0.9123, 0.1], [0.0, 0.3333]], "signature": ""}\n'
    )
    skipped = AlignmentResult(SentencePair(0, ("a",), ("b",)), skipped="too long")
    assert format_jsonl(skipped) == (
        '{"index": 0, "src_words": ["a"], "tgt_words": ["b"], "links": [], "scores": [], '
        '"skipped": "too long"}'
    )


def test_a_sentence_read_from_xalign_jsonl_is_written_as_a_sentence(tmp_path):
    """The run's own keys (skipped, matrix, signature) belong to the run, not the file."""
    path = write(tmp_path / "a.jsonl", format_jsonl(RESULT, include_matrix=True) + "\n")
    (sentence,) = read_jsonl(path)
    assert sentence.run is None
    made = AlignedSentence.from_result(RESULT)
    assert made.run is not None
    assert made == AlignedSentence(
        4, 5, made.sure, scores=made.scores, src_words=made.src_words, tgt_words=made.tgt_words
    )  # the run is not compared
    assert (sentence.sure, sentence.src_words) == (made.sure, made.src_words)
    assert json.loads(format_sentence(sentence, "jsonl")) == {
        "index": 0,  # its place in the file
        "src_words": ["le", "chat"],
        "tgt_words": ["the", "cat"],
        "links": [[0, 0], [0, 1], [1, 1]],
        "scores": [0.912346, 0.5, None],
    }


def test_unknown_formats_are_refused_by_name():
    with pytest.raises(CorpusError, match="unknown alignment format 'probs'"):
        read_alignments("x", "probs")
    with pytest.raises(ValueError, match="unknown output format 'talp'"):
        format_sentence(RICH, "talp")
