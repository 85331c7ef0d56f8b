"""The corpus readers against strange input, property-based: no line is ever lost or shifted.

Each property writes bytes to a real file and reads them back through the public readers,
so BOM handling, line ends and decoding are tested as a user's file would meet them.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from align_cli.errors import CorpusError
from align_cli.io.corpus import (
    count_lines,
    count_pairs,
    read_corpus,
    read_joined,
    read_lines,
    read_parallel,
)

# Characters that str.splitlines() (and so many tools) treat as line breaks, but that
# occur inside real corpus lines; xalign splits lines on \n only.
NOT_LINE_BREAKS = "\x85\u2028\u2029\x0c\x0b\x1c\x1d\x1e\r"

# Lines without \n: ordinary text, the characters above, a stray BOM character, NUL.
line_text = st.text(
    alphabet=st.one_of(
        st.characters(blacklist_categories=("Cs",), blacklist_characters="\n"),
        st.sampled_from(list(NOT_LINE_BREAKS) + ["\ufeff", "\x00", " ", "|"]),
    ),
    max_size=30,
)
line_lists = st.lists(line_text, max_size=12)
PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def write_lines(
    folder: Path, name: str, lines: list[str], *, crlf: bool, bom: bool, final_newline: bool
) -> Path:
    ending = "\r\n" if crlf else "\n"
    text = ending.join(lines) + (ending if final_newline and lines else "")
    data = text.encode("utf-8")
    path = folder / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


def expected_lines(lines: list[str], *, crlf: bool, final_newline: bool) -> list[str]:
    """What the reader must return: each line less one \\r before its end (if any)."""
    if lines and not final_newline and lines[-1] == "":
        # A last line that is empty and has no line end is no line at all.
        lines = lines[:-1]
    out = []
    for position, line in enumerate(lines):
        ended = position < len(lines) - 1 or final_newline
        raw = line + ("\r" if crlf and ended else "")
        # One \r before the line end is part of the line end ("\r\n"), also on a last
        # line whose "\n" was cut off.
        out.append(raw[:-1] if raw.endswith("\r") else raw)
    return out


@PROPERTY_SETTINGS
@given(lines=line_lists, crlf=st.booleans(), bom=st.booleans(), final_newline=st.booleans())
def test_read_lines_returns_every_line_unchanged_and_numbered(
    tmp_path, lines, crlf, bom, final_newline
):
    path = write_lines(tmp_path, "x.txt", lines, crlf=crlf, bom=bom, final_newline=final_newline)
    read = list(read_lines(path))
    want = expected_lines(lines, crlf=crlf, final_newline=final_newline)
    assert [text for _, text in read] == want
    assert [number for number, _ in read] == list(range(1, len(want) + 1))
    assert count_lines(path) == len(want)


@PROPERTY_SETTINGS
@given(lines=line_lists, start=st.integers(0, 14), length=st.integers(0, 14))
def test_start_and_stop_select_exactly_those_lines(tmp_path, lines, start, length):
    path = write_lines(tmp_path, "x.txt", lines, crlf=False, bom=False, final_newline=True)
    everything = list(read_lines(path))
    window = list(read_lines(path, start=start, stop=start + length))
    assert window == everything[start : start + length]


@PROPERTY_SETTINGS
@given(data=st.binary(max_size=60), replace=st.booleans())
def test_arbitrary_bytes_give_the_right_line_or_the_right_error(tmp_path, data, replace):
    path = tmp_path / "x.bin"
    path.write_bytes(data)
    raw_lines = data.split(b"\n")
    if raw_lines and raw_lines[-1] == b"":
        raw_lines.pop()
    if data == b"\xef\xbb\xbf":
        raw_lines = []  # a file of nothing but a BOM is an empty file
    if replace:
        read = list(read_lines(path, encoding_errors="replace"))
        assert len(read) == len(raw_lines) == count_lines(path)
        return
    first_bad = None
    for number, raw in enumerate(raw_lines, start=1):
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            first_bad = number
            break
    if first_bad is None:
        assert len(list(read_lines(path))) == len(raw_lines)
    else:
        with pytest.raises(CorpusError) as caught:
            list(read_lines(path))
        assert caught.value.line == first_bad and caught.value.path == str(path)
        assert "--encoding-errors replace" in str(caught.value)


words = st.text(alphabet="abcXYZéß∂中|", min_size=1, max_size=6).filter(lambda w: "|||" not in w)
sentences = st.lists(words, max_size=6)


@PROPERTY_SETTINGS
@given(
    pairs=st.lists(st.tuples(sentences, sentences), max_size=10),
    spacing=st.sampled_from([" ", "\t", "\x85", "\u2028", "\x0c", "  "]),
    crlf=st.booleans(),
)
def test_joined_and_two_file_input_give_the_same_pairs(tmp_path, pairs, spacing, crlf):
    # "a|" next to "|||" would make "a||||"; the separator is any "|||" in the line.
    assume(all(not w.endswith("|") and not w.startswith("|") for s, t in pairs for w in s + t))
    ending = "\r\n" if crlf else "\n"
    joined = tmp_path / "c.src-tgt"
    joined.write_text(
        "".join(f"{spacing.join(s)} ||| {spacing.join(t)}{ending}" for s, t in pairs),
        encoding="utf-8",
        newline="",
    )
    src, tgt = tmp_path / "c.src", tmp_path / "c.tgt"
    src.write_text("".join(spacing.join(s) + ending for s, _ in pairs), newline="")
    tgt.write_text("".join(spacing.join(t) + ending for _, t in pairs), newline="")
    from_joined = list(read_joined(joined))
    from_files = list(read_parallel(src, tgt))
    expected = [(tuple(s), tuple(t)) for s, t in pairs]
    assert [(p.src_words, p.tgt_words) for p in from_joined] == expected
    assert [(p.src_words, p.tgt_words) for p in from_files] == expected
    assert [p.index for p in from_joined] == list(range(len(pairs)))
    assert count_pairs([str(joined)]) == count_pairs([str(src), str(tgt)]) == len(pairs)


@PROPERTY_SETTINGS
@given(n_src=st.integers(0, 8), n_tgt=st.integers(0, 8), start=st.integers(0, 9))
def test_files_of_different_lengths_fail_at_the_first_missing_line(tmp_path, n_src, n_tgt, start):
    src, tgt = tmp_path / "a.src", tmp_path / "a.tgt"
    src.write_text("".join(f"s{k}\n" for k in range(n_src)))
    tgt.write_text("".join(f"t{k}\n" for k in range(n_tgt)))
    reader = read_parallel(src, tgt, start=start)
    common = max(0, min(n_src, n_tgt) - start)
    got = [next(reader) for _ in range(common)]
    assert [p.index for p in got] == list(range(start, start + common))
    if n_src == n_tgt or start >= max(n_src, n_tgt):
        assert list(reader) == []
        return
    with pytest.raises(CorpusError) as caught:
        next(reader)
    shorter, longer = (src, tgt) if n_src < n_tgt else (tgt, src)
    error = caught.value
    assert error.path == str(shorter) and str(longer) in str(error)
    assert error.line == max(min(n_src, n_tgt), start) + 1
    with pytest.raises(CorpusError) as counted:
        count_pairs([str(src), str(tgt)])
    assert counted.value.path == str(shorter)


# --------------------------------------------------------------------------- single cases


def test_blank_and_whitespace_only_lines_are_empty_pairs(tmp_path):
    joined = tmp_path / "c.src-tgt"
    joined.write_text("a ||| b\n\n   \t\n |||  \nc ||| \n ||| d\n")
    pairs = list(read_joined(joined))
    assert [(p.src_words, p.tgt_words) for p in pairs] == [
        (("a",), ("b",)),
        ((), ()),
        ((), ()),
        ((), ()),
        (("c",), ()),
        ((), ("d",)),
    ]
    assert [p.line_no for p in pairs] == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize(
    ("line", "found"), [("no separator", "found no"), ("a ||| b ||| c", "found 2")]
)
def test_a_line_without_exactly_one_separator_names_file_and_line(tmp_path, line, found):
    joined = tmp_path / "c.src-tgt"
    joined.write_text(f"a ||| b\n{line}\nc ||| d\n")
    with pytest.raises(CorpusError) as caught:
        list(read_joined(joined))
    assert str(caught.value).startswith(f"{joined}:2: ") and found in str(caught.value)
    reported: list[tuple[int, str]] = []
    pairs = list(
        read_joined(joined, on_bad_line=lambda number, why: reported.append((number, why)))
    )
    assert [(p.src_words, p.tgt_words) for p in pairs] == [
        (("a",), ("b",)),
        ((), ()),
        (("c",), ("d",)),
    ]
    assert [number for number, _ in reported] == [2]


def test_not_line_breaks_separate_words_and_never_lines(tmp_path):
    src, tgt = tmp_path / "a.src", tmp_path / "a.tgt"
    src.write_bytes("un\x85deux\u2028trois\x0cquatre\n".encode() + b"cinq\n")
    tgt.write_bytes(b"one two three four\nfive\n")
    pairs = list(read_parallel(src, tgt))
    assert len(pairs) == 2
    assert pairs[0].src_words == ("un", "deux", "trois", "quatre")
    assert pairs[1].src_words == ("cinq",)


def test_a_bom_is_dropped_only_at_the_start_of_a_file(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"\xef\xbb\xbfone\n\xef\xbb\xbftwo\n")
    assert [text for _, text in read_lines(path)] == ["one", "\ufefftwo"]


def test_crlf_and_lf_mixed_in_one_file(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"a\r\nb\nc\r\r\nd")
    assert [text for _, text in read_lines(path)] == ["a", "b", "c\r", "d"]


def test_a_corrupt_gzip_file_is_one_clear_error(tmp_path):
    path = tmp_path / "a.gz"
    path.write_bytes(gzip.compress(b"".join(b"line %d ||| x\n" % k for k in range(5000)))[:-200])
    with pytest.raises(CorpusError) as caught:
        list(read_corpus([str(path)]))
    assert str(path) in str(caught.value) and "corrupt or truncated" in str(caught.value)


def test_stdin_cannot_be_counted_for_shards():
    with pytest.raises(CorpusError, match="stdin"):
        count_pairs(["-"])
