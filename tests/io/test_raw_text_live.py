"""Raw text and live pipes (issue 15): ``--tokenize`` with character offsets through the
readers, JSONL, ``show``, ``transfer``, ``serve`` and ``align()``; reviewer flags
(``--flags``, ``show``'s dim words); a co-process answered line by line; JSONL requests.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys

import numpy as np
import pytest

from align_cli.io.corpus import pairs_from_texts, read_corpus, read_requests
from align_cli.io.formats.jsonl import format_jsonl
from align_cli.io.live import LineFeed, is_live, live_windows
from align_cli.signature import Signature, with_tokenize
from align_cli.types import AlignmentResult, SentencePair
from tests.cli_runner import run_cli
from tests.paths import ROOT, SYNTHETIC

pytestmark = pytest.mark.usefixtures("one_thread")

MODEL = SYNTHETIC / "fwd"


def _spans_hold(text: str, words, offsets) -> None:
    assert [text[s:e] for s, e in offsets] == list(words)


# --------------------------------------------------------------------------- readers


def test_whitespace_is_str_split_without_offsets(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("Hello, world. ||| Bonjour le monde.\n", encoding="utf-8")
    (pair,) = read_corpus((str(path),))
    assert pair == SentencePair(0, ("Hello,", "world."), ("Bonjour", "le", "monde."), 1)
    assert pair.src_offsets is None and pair.tgt_offsets is None


def test_unicode_offsets_count_from_each_side_without_the_blanks_around_the_separator(
    tmp_path,
):
    path = tmp_path / "c.txt"
    path.write_text("  Click <b>Save</b>, l'homme.  |||  Cliquez sur « OK ».\n\n", "utf-8")
    pair, blank = read_corpus((str(path),), tokenize="unicode")
    assert pair.src_words == ("Click", "<b>", "Save", "</b>", ",", "l'", "homme", ".")
    _spans_hold("Click <b>Save</b>, l'homme.", pair.src_words, pair.src_offsets)
    _spans_hold("Cliquez sur « OK ».", pair.tgt_words, pair.tgt_offsets)
    assert blank.src_offsets == () and blank.tgt_words == ()


def test_parallel_files_and_texts_give_offsets_into_their_own_lines(tmp_path):
    src, tgt = tmp_path / "s", tmp_path / "t"
    src.write_text("东京很大。\n", "utf-8")
    tgt.write_text("Tokyo is big.\n", "utf-8")
    (pair,) = read_corpus((str(src), str(tgt)), tokenize="unicode")
    assert pair.src_words == ("东", "京", "很", "大", "。")
    _spans_hold("Tokyo is big.", pair.tgt_words, pair.tgt_offsets)
    (in_memory,) = pairs_from_texts(["东京很大。"], [["Tokyo", "is", "big."]], tokenize="unicode")
    assert in_memory.src_offsets == pair.src_offsets and in_memory.tgt_offsets is None


def test_jsonl_requests_keep_their_ids_and_a_bad_line_names_itself(tmp_path):
    path = tmp_path / "r.jsonl"
    lines = [
        {"id": "a-1", "src": "Hi, you.", "tgt": "Salut, toi."},
        {"src": ["pre", "split"], "tgt": "x y"},
        {"id": 3, "src": "a", "tgt": "b", "extra": 1},
    ]
    path.write_text("".join(json.dumps(x) + "\n" for x in lines) + "\n", "utf-8")
    bad: list[int] = []
    pairs = list(
        read_requests(str(path), tokenize="unicode", on_bad_line=lambda n, _r: bad.append(n))
    )
    assert [p.key for p in pairs] == ["a-1", None, 3, None]
    assert pairs[0].src_words == ("Hi", ",", "you", ".") and pairs[1].src_offsets is None
    assert pairs[2].src_words == () and bad == [3]
    with pytest.raises(Exception, match=r"r.jsonl:3: unknown key 'extra'"):
        list(read_requests(str(path)))


# --------------------------------------------------------------------------- output


def _result(pair: SentencePair, links) -> AlignmentResult:
    return AlignmentResult(pair, list(links), [0.5] * len(links))


def test_jsonl_carries_offsets_ids_and_flags_only_when_present_or_asked():
    plain = SentencePair(0, ("a", "b"), ("c",), 1)
    record = json.loads(format_jsonl(_result(plain, [(0, 0)])))
    assert not {"id", "src_offsets", "unaligned_src"} & set(record)
    raw = SentencePair(0, ("a", "b"), ("c",), 1, ((0, 1), (2, 3)), ((0, 1),), key=7)
    from align_cli.io.formats.base import AlignedSentence

    sentence = AlignedSentence.from_result(_result(raw, [(0, 0)]), flags=True)
    record = json.loads(format_jsonl(sentence))
    assert list(record)[:2] == ["id", "index"] and record["id"] == 7
    assert record["src_offsets"] == [[0, 1], [2, 3]] and record["tgt_offsets"] == [[0, 1]]
    assert record["unaligned_src"] == [1] and record["unaligned_tgt"] == []


def test_the_scheme_goes_into_the_signature_and_run_description_only_when_not_default():
    base = Signature.of(xalign="0", model="m")
    assert with_tokenize(base, "whitespace") == base
    assert str(with_tokenize(base, "unicode")).endswith("|tokenize:unicode")
    from align_cli.jobs.local import describe_run
    from align_cli.settings import AlignerSpec

    common = dict(
        inputs=["-"], shard=None, output_format="jsonl", include_matrix=False,
        encoding_errors="strict", on_bad_line="fail",
    )  # fmt: skip
    spec = AlignerSpec(model=str(MODEL))
    default = describe_run(spec, **common)
    assert "tokenize" not in default and "flags" not in default
    assert describe_run(spec, tokenize="unicode", flags=True, **common) == {
        **default,
        "tokenize": "unicode",
        "flags": True,
    }


def test_extract_with_unicode_and_flags(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("Hello, world. ||| Bonjour le monde.\n", "utf-8")
    args = ["extract", "-i", path, "-m", MODEL, "--format", "jsonl", "-q"]
    result = run_cli([*args, "--tokenize", "unicode", "--flags"])
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["src_words"] == ["Hello", ",", "world", "."]
    assert record["signature"].endswith("|tokenize:unicode")
    linked = {i for i, _ in record["links"]}
    assert record["unaligned_src"] == [i for i in range(4) if i not in linked]
    refused = run_cli(["extract", "-i", path, "-m", MODEL, "--flags"])
    assert refused.exit_code != 0 and refused.stderr.count("\n") == 1
    assert "--flags go into JSONL output" in refused.stderr
    unknown = run_cli([*args, "--tokenize", "nltk"])
    assert unknown.exit_code == 2 and "Traceback" not in unknown.stderr


def test_align_api_takes_tokenize():
    from align_cli.api import align

    (result,) = align(["Hi, you."], ["Salut, toi."], str(MODEL), tokenize="unicode")
    assert result.pair.src_words == ("Hi", ",", "you", ".")
    assert result.pair.tgt_offsets == ((0, 5), (5, 6), (7, 10), (10, 11))


def test_show_dims_unaligned_words_with_a_legend_entry():
    from align_cli.tools.show import UNALIGNED_STYLE, legend_entries, render_terminal
    from align_cli.tools.views import PairView

    view = PairView(0, ("a", "b"), ("x", "y"), frozenset({(0, 0)}), np.zeros((2, 2)))
    assert view.unaligned() == ({1}, {1})
    text = render_terminal(view, color=True)
    styled = {text.plain[span.start : span.end].strip() for span in text.spans
              if span.style == UNALIGNED_STYLE}  # fmt: skip
    assert {"b", "y"} <= styled and "a" not in styled
    assert any("without a link" in entry.plain for entry in legend_entries([view]))
    # Without colour the text is as before: nothing marks a word.
    assert not any("without a link" in e.plain for e in legend_entries([view], color=False))


def test_transfer_takes_tokenize(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("<b>Hello</b>, world. ||| Bonjour, monde.\n", "utf-8")
    pairs = tmp_path / "p.txt"
    result = run_cli(["transfer", path, "--pairs-out", pairs, "--tokenize", "unicode"])
    assert result.exit_code == 0, result.stderr
    assert pairs.read_text("utf-8") == "Hello , world . ||| Bonjour , monde .\n"


def test_serve_align_request_takes_tokenize_and_flags():
    pytest.importorskip("starlette")
    httpx = pytest.importorskip("httpx")
    from align_cli.serve.config import ServeConfig, ServeLimits
    from align_cli.serve.server import BackgroundServer
    from align_cli.serve.service import AlignmentService
    from tests.serve_helpers import synthetic_aligner, synthetic_spec

    limits = ServeLimits()
    service = AlignmentService(synthetic_spec(), synthetic_aligner(), limits)
    server = BackgroundServer(service, ServeConfig(port=0, limits=limits)).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            body = {"pairs": [{"source": "Hi, you.", "target": "Salut."}]}
            plain = http.post("align", json=body).json()["results"][0]
            assert plain["source_offsets"] is None and plain["unaligned_source"] is None
            raw = http.post("align", json={**body, "tokenize": "unicode", "flags": True})
            assert raw.json()["signature"].endswith("|tokenize:unicode")
            (result,) = raw.json()["results"]
            assert result["source_words"] == ["Hi", ",", "you", "."]
            assert result["target_offsets"] == [[0, 5], [5, 6]]
            linked = {i for i, _ in result["links"]}
            assert result["unaligned_source"] == [i for i in range(4) if i not in linked]
    finally:
        server.stop()


# --------------------------------------------------------------------------- live


def test_live_windows_end_when_nothing_more_is_waiting():
    waiting = iter([True, False, True, True, True])
    got = list(live_windows(range(6), 3, lambda: next(waiting)))
    assert got == [[0, 1], [2, 3, 4], [5]]


def test_line_feed_on_a_pipe_answers_what_has_come(tmp_path):
    read_fd, write_fd = os.pipe()
    feed = LineFeed(read_fd, owned=True)
    lines = iter(feed)
    assert not feed.waiting()
    os.write(write_fd, b"one\ntw")
    assert feed.waiting() and next(lines) == b"one\n"
    assert not feed.waiting()  # half a line is not a line
    os.write(write_fd, b"o\n")
    os.close(write_fd)
    assert next(lines) == b"two\n" and feed.waiting() and next(lines, None) is None
    regular = tmp_path / "f"
    regular.write_text("x\n")
    assert not is_live(str(regular)) and not is_live(str(regular) + ".gz")


def _read_line(stream, timeout: float = 60.0) -> bytes:
    """One line of the co-process's answer; the timeout is a safety net, not a measure."""
    ready, _, _ = select.select([stream], [], [], timeout)
    assert ready, "no answer: the line was not aligned until more input came"
    return stream.readline()


def test_a_co_process_gets_each_answer_before_it_writes_the_next_line():
    """One request written, its answer read, then the next: a window of 2,000 pairs would
    never answer the first. JSONL requests, raw text, ids echoed."""
    command = [
        sys.executable, "-m", "align_cli", "extract", "-i", "-", "-m", str(MODEL), "-q",
        "--input-format", "jsonl", "--tokenize", "unicode", "--threads", "1",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT
    )
    try:
        assert process.stdin is not None and process.stdout is not None
        for key, (src, tgt) in enumerate([("Hi, you.", "Salut, toi."), ("Yes!", "Oui !")]):
            request = {"id": f"seg-{key}", "src": src, "tgt": tgt}
            process.stdin.write((json.dumps(request) + "\n").encode())
            process.stdin.flush()
            answer = json.loads(_read_line(process.stdout))
            assert answer["id"] == f"seg-{key}" and answer["index"] == key
            _spans_hold(src, answer["src_words"], answer["src_offsets"])
        process.stdin.write(b'{"src": 1}\n')
        process.stdin.close()
        assert process.wait(timeout=60) != 0
        stderr = process.stderr.read().decode()  # type: ignore[union-attr]
        assert stderr.startswith("xalign: error: <stdin>:3: 'src' must be a string")
        assert stderr.count("\n") == 1
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
