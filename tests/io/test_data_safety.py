"""No user data is ever lost or silently wrong: outputs that are inputs, two runs on one
output, pipes, inputs changed under ``--resume``, atomic writes, full disks, and messages
that name only the options a command has (issue 13). docs/robustness.md names these tests.

Every command runs in-process through the real entry point, on the synthetic model
(loaded once for the module) and its held-out pairs; child processes only where a test
needs one (a second process, a real ``/dev/full`` on standard output).
"""

from __future__ import annotations

import errno
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.safety_helpers import (
    FAST,
    MODEL,
    assert_one_line_error,
    cached_models,
    corpus_lines,
    gold_lines,
    leftovers,
    pipe_of,
    run_process,
    snapshot,
    write_lines,
    xalign,
)

pytestmark = pytest.mark.usefixtures("one_thread")
PAIRS = 14


@pytest.fixture(scope="module", autouse=True)
def _models():
    with cached_models():
        yield


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A scratch folder, the current directory, with a corpus, its two sides, a gold file
    and a prediction in it."""
    monkeypatch.chdir(tmp_path)
    lines = corpus_lines(PAIRS)
    write_lines(tmp_path / "corpus", lines)
    write_lines(tmp_path / "src", [line.split(" ||| ")[0] for line in lines])
    write_lines(tmp_path / "tgt", [line.split(" ||| ")[1] for line in lines])
    write_lines(tmp_path / "gold", gold_lines(PAIRS))
    write_lines(tmp_path / "pred", [" ".join(line.split()[1:]) for line in gold_lines(PAIRS)])
    return tmp_path


def extract(*args: object, stdin: str | None = None):
    return xalign("extract", *args, "-m", MODEL, "-q", *FAST, stdin=stdin)


# --------------------------------------------------------------------------- 1. output == input

# Each command with an input that the output names again: {OUT} is that input, spelled.
SAME_FILE_COMMANDS = {
    "extract -i": (["extract", "-i", "corpus", "-m", MODEL, "-o", "{OUT}", "--force"], "corpus"),
    "extract SRC TGT": (["extract", "src", "tgt", "-m", MODEL, "-o", "{OUT}", "--force"], "tgt"),
    "extract --scores": (
        ["extract", "-i", "corpus", "-m", MODEL, "-o", "x", "--scores", "{OUT}", "--force"],
        "corpus",
    ),
    "convert": (["convert", "gold", "--to", "pharaoh", "-o", "{OUT}"], "gold"),
    "symmetrize": (["symmetrize", "gold", "pred", "-o", "{OUT}"], "pred"),
    "show -o": (["show", "-i", "corpus", "-a", "links.svg", "-o", "{OUT}"], "links.svg"),
}


def spell(work: Path, name: str, how: str) -> str:
    """Another way to name ``work / name``."""
    if how == "as given":
        return name
    if how == "with ..":
        (work / "sub").mkdir(exist_ok=True)
        return f"sub/../{name}"
    if how == "absolute":
        return str(work / name)
    if how == "symlink":
        (work / "link").symlink_to(work / name)
        return "link"
    os.link(work / name, work / "hard")
    return "hard"


@pytest.mark.parametrize("how", ["as given", "with ..", "absolute", "symlink", "hard link"])
@pytest.mark.parametrize("command", sorted(SAME_FILE_COMMANDS))
def test_an_output_that_is_an_input_is_refused_however_spelled(work, command, how):
    (work / "links.svg").write_bytes((work / "gold").read_bytes())
    args, name = SAME_FILE_COMMANDS[command]
    output = spell(work, name, how)
    before = snapshot(work)
    result = xalign(*[arg.replace("{OUT}", output) for arg in args])
    assert_one_line_error(result, "is the same file as the input")
    assert snapshot(work) == before  # nothing opened for writing, nothing removed


def test_the_files_a_run_keeps_beside_its_output_are_outputs_too(work):
    os.rename(work / "corpus", work / "out.partial")
    before = snapshot(work)
    result = extract("-i", "out.partial", "-o", "out", "--force")
    assert_one_line_error(result, "same file")
    os.link(work / "gold", work / "gold.hard")
    result = extract("-i", "out.partial", "-o", "gold", "--scores", "gold.hard", "--force")
    assert_one_line_error(result, "same file")
    assert snapshot(work) == {**before, "gold.hard": before["gold"]}


def test_an_output_inside_the_model_folder_is_refused(work):
    import shutil

    model = shutil.copytree(MODEL, work / "model")
    before = snapshot(model)
    for name in ("config.json", "model.safetensors"):
        result = xalign("extract", "-i", "corpus", "-m", model, "-o", model / name, "--force")
        assert_one_line_error(result, "is a file of the model folder")
    assert snapshot(model) == before


def test_standard_output_appended_to_an_input_is_refused(work):
    with open(work / "gold", "a") as appended:
        result = run_process(["convert", "gold", "--to", "pharaoh"], stdout=appended, cwd=work)
    assert result.returncode == 2 and "same file" in result.stderr, result.stderr
    assert (work / "gold").read_text().splitlines() == gold_lines(PAIRS)


# --------------------------------------------------------------------------- 2. one writer


HOLDER = """
import sys
from align_cli.io.writer import AlignmentWriter
writer = AlignmentWriter("out", "out.scores", output_format="pharaoh", include_matrix=False,
                         description={}, window=4, resume=True, force=True)
writer.check()  # what a run does before it loads its model, and holds to its end
print("holding", flush=True)
sys.stdin.read()
writer.close()
"""


def test_a_second_run_on_an_output_being_written_is_refused_naming_the_first(work):
    """Another process holds the output (and its scores file) as a run does; every second
    run on either stops at once, naming that process, and leaves the files alone."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=work,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "holding\n"
        before = snapshot(work)
        for second in (
            extract("-i", "corpus", "-o", "out", "--force"),
            extract("-i", "corpus", "-o", "out", "--resume", "--force"),
            extract("-i", "corpus", "-o", "other", "--scores", "out.scores", "--force"),
            extract("-i", "corpus", "--scores", "out.scores", "--force"),
        ):
            assert_one_line_error(
                second, f"is being written by another xalign run (process {holder.pid})"
            )
        assert snapshot(work) == before
    finally:
        holder.communicate(timeout=60)
    assert holder.returncode == 0
    assert extract("-i", "corpus", "-o", "out", "--force").exit_code == 0  # free again
    assert leftovers(work) == []  # the lock file goes with its run


def test_the_lock_is_released_however_a_run_ends(work):
    assert extract("-i", "corpus", "-o", "out").exit_code == 0
    assert extract("-i", "corpus", "-o", "out").exit_code == 2  # exists: refused, unlocked
    assert extract("-i", "corpus", "-o", "out", "--resume").exit_code == 0  # nothing to do
    assert extract("-i", "corpus", "-o", "out", "--force").exit_code == 0
    from align_cli.io.files import OutputLock

    lock = OutputLock(work / "out")
    lock.acquire()  # nobody holds it any more
    lock.release()
    assert leftovers(work) == []


# --------------------------------------------------------------------------- 3. pipes


def test_eval_reads_process_substitution_once(work):
    on_files = xalign("eval", "gold", "pred", "--json", "--corpus", "corpus")
    assert on_files.exit_code == 0, on_files.stderr
    gold, pred, corpus = ((work / n).read_bytes() for n in ("gold", "pred", "corpus"))
    with pipe_of(gold) as g, pipe_of(pred) as p, pipe_of(corpus) as c:
        piped = xalign("eval", g, p, "--json", "--corpus", c)
    assert piped.exit_code == 0, piped.stderr
    assert json.loads(piped.stdout)["sentences"] == PAIRS
    assert json.loads(piped.stdout) == json.loads(on_files.stdout)
    with pipe_of(pred) as p:
        stdin = xalign("eval", "-", p, "--json", stdin=gold.decode())
    assert json.loads(stdin.stdout) == json.loads(on_files.stdout)


@pytest.mark.parametrize(
    "args",
    [
        ["convert", "{gold}", "--to", "naacl"],
        ["convert", "{naacl}", "--to", "pharaoh", "--corpus", "{corpus}"],
        ["symmetrize", "{gold}", "{pred}", "--method", "grow-diag"],
        ["show", "-i", "{corpus}", "-a", "{jsonl}", "-g", "{gold}", "--lines", "2,5"],
        ["sweep", "{corpus}", "{gold}", "-m", MODEL, "--json", "--shift", "no"],
    ],
    ids=["convert", "convert naacl --corpus", "symmetrize", "show", "sweep"],
)
def test_every_command_reads_pipes_as_it_reads_files(work, args):
    naacl = xalign("convert", "gold", "--to", "naacl", "-o", "gold.naacl")
    jsonl = extract("-i", "corpus", "--format", "jsonl", "--matrix", "-o", "out.jsonl")
    assert naacl.exit_code == jsonl.exit_code == 0
    names = {"gold": "gold", "pred": "pred", "corpus": "corpus", "naacl": "gold.naacl"}
    names["jsonl"] = "out.jsonl"
    on_files = xalign(*[arg.format(**names) for arg in args])
    assert on_files.exit_code == 0, on_files.stderr
    with (
        pipe_of((work / "gold").read_bytes()) as gold,
        pipe_of((work / "pred").read_bytes()) as pred,
        pipe_of((work / "corpus").read_bytes()) as corpus,
        pipe_of((work / "gold.naacl").read_bytes()) as naacl_pipe,
        pipe_of((work / "out.jsonl").read_bytes()) as jsonl_pipe,
    ):
        pipes = {"gold": gold, "pred": pred, "corpus": corpus, "naacl": naacl_pipe}
        piped = xalign(*[arg.format(**pipes, jsonl=jsonl_pipe) for arg in args])
    assert piped.exit_code == 0, piped.stderr
    text = piped.stdout
    named = {path: names[name] for name, path in {**pipes, "jsonl": jsonl_pipe}.items()}
    for path in sorted(named, key=len, reverse=True):  # what names a file names the pipe
        text = text.replace(path, named[path])
    assert text == on_files.stdout


def test_a_stream_is_never_given_to_two_inputs_or_read_twice(work):
    gold = (work / "gold").read_text()
    both = xalign("eval", "-", "-", stdin=gold)
    assert_one_line_error(both, "GOLD and PRED are both standard input")
    with pipe_of(gold.encode()) as pipe:
        twice = xalign("symmetrize", pipe, pipe)
        assert_one_line_error(twice, "FWD and REV are both the pipe")
    with pipe_of(gold.encode()) as pipe:
        worst = xalign("show", "-i", "corpus", "-a", "pred", "-g", pipe, "--worst", "2")
        assert_one_line_error(worst, "--worst reads the files twice", f"-g {pipe}")


def test_extract_reads_a_pipe_and_refuses_to_count_one(work):
    reference = extract("-i", "corpus").stdout
    with pipe_of((work / "corpus").read_bytes()) as corpus:
        assert extract("-i", corpus, "-o", "out").exit_code == 0
    assert (work / "out").read_text() == reference
    with pipe_of((work / "corpus").read_bytes()) as corpus:
        refused = extract("-i", corpus, "-o", "shard", "--shard", "1/1")
    assert_one_line_error(refused, "--shard 1/1", corpus, "can be read only once")
    assert not list(work.glob("shard*"))


# --------------------------------------------------------------------------- 4. --resume


@pytest.fixture
def interrupted(work: Path) -> Path:
    """An extract stopped by an undecodable line 10: 8 pairs (two windows) are kept."""
    data = (work / "corpus").read_bytes().split(b"\n")
    data[9] += b"\xff"
    (work / "input").write_bytes(b"\n".join(data))
    stopped = extract("-i", "input", "-o", "out")
    assert stopped.exit_code == 2 and "--resume" in stopped.stderr
    return work


CHANGES = {
    "first line deleted": lambda lines: lines[1:],
    "a word changed": lambda lines: [lines[0], lines[1].replace(b"su", b"sa", 1), *lines[2:]],
    "two lines swapped": lambda lines: [lines[1], lines[0], *lines[2:]],
    "cut short": lambda lines: lines[:6],
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_resume_refuses_an_input_changed_where_it_was_aligned(interrupted, change):
    path = interrupted / "input"
    path.write_bytes(b"\n".join(CHANGES[change](path.read_bytes().split(b"\n"))))
    before = snapshot(interrupted)
    result = extract("-i", "input", "-o", "out", "--resume")
    line = assert_one_line_error(result, "--force")
    assert ("changed since the interrupted run" in line) or ("cut short" in line)
    assert snapshot(interrupted) == before  # refused before anything was touched


def test_a_refused_resume_says_none_not_null(interrupted):
    result = extract("-i", "input", "-o", "out", "--resume", "--shard", "1/1")
    assert_one_line_error(result, 'shard (none then, "1/1" now)')


def test_resume_from_a_pipe_checks_the_lines_it_skips(work):
    lines = (work / "corpus").read_text().splitlines(keepends=True)
    stopped = extract("-i", "-", "-o", "out", stdin="".join(lines[:9]) + "no separator\n")
    assert stopped.exit_code == 2  # 8 pairs (two windows) kept
    resumed = extract("-i", "-", "-o", "out", "--resume", stdin="".join(lines[1:]))
    assert_one_line_error(resumed, "lines 1-4 of <stdin> changed since the interrupted run")
    shorter = extract("-i", "-", "-o", "out", "--resume", stdin="".join(lines[:5]))
    assert_one_line_error(shorter, "fewer than the 8 pairs")
    assert not (work / "out").exists()
    fixed = extract("-i", "-", "-o", "out", "--resume", stdin="".join(lines))
    assert fixed.exit_code == 0, fixed.stderr
    assert (work / "out").read_text() == extract("-i", "corpus").stdout


COMPLETE_CHANGES = {
    "other options": ("-i", "corpus", "--method", "argmax"),
    "input edited": ("-i", "corpus"),
    "input longer": ("-i", "corpus"),
    "output edited": ("-i", "corpus"),
    "another file as output": ("-i", "corpus"),
}


@pytest.mark.parametrize("change", sorted(COMPLETE_CHANGES))
def test_resume_checks_a_complete_output_against_its_run(work, change):
    assert extract("-i", "corpus", "-o", "out").exit_code == 0
    unchanged = extract("-i", "corpus", "-o", "out", "--resume")
    assert unchanged.exit_code == 0 and unchanged.stderr == ""
    output = "out"
    if change == "input edited":
        (work / "corpus").write_text((work / "corpus").read_text().replace("su", "sa", 1))
    elif change == "input longer":
        with open(work / "corpus", "a") as corpus:
            corpus.write("ki su ||| kai wen\n")
    elif change == "output edited":
        (work / "out").write_text((work / "out").read_text().replace("0-", "1-", 1))
    elif change == "another file as output":
        output = "pred"
    before = snapshot(work)
    result = extract(*COMPLETE_CHANGES[change], "-o", output, "--resume")
    assert_one_line_error(result, "--force")
    assert snapshot(work) == before


def test_resume_of_a_shard_refuses_an_input_of_another_length(work):
    assert extract("-i", "corpus", "-o", "s1", "--shard", "1/2").exit_code == 0
    with open(work / "corpus", "a") as corpus:
        corpus.write("ki su ||| kai wen\n" * 8)
    result = extract("-i", "corpus", "-o", "s1", "--shard", "1/2", "--resume")
    assert_one_line_error(result, "the input's length changed")


# --------------------------------------------------------------------------- 5. atomic writes


def test_a_bad_line_never_replaces_the_previous_output(work):
    lines = gold_lines(PAIRS) * 7  # 98 lines, a malformed link on line 50
    lines[49] = "0-1 2x3"
    write_lines(work / "bad", lines)
    for args in (
        ["convert", "bad", "--to", "pharaoh", "-o", "out"],
        ["symmetrize", "bad", "bad", "-o", "out"],
        ["convert", "bad", "--to", "naacl", "-o", "out.gz"],
    ):
        output = work / args[-1]
        output.write_text("precious\n")
        result = xalign(*args)
        assert_one_line_error(result, "bad:50: malformed link '2x3'")
        assert output.read_text() == "precious\n"
    assert leftovers(work) == []


class FullDisk:
    """Writes fail as on a full disk: past the first ``room`` bytes (what fits is written),
    or from the ``calls``-th write on."""

    def __init__(self, room: int | None = None, calls: int | None = None):
        from align_cli.io import files

        self.room = room
        self.calls = calls
        self.real = files.write_all

    def __call__(self, fd: int, data) -> None:
        view = memoryview(data).cast("B")
        if self.calls is not None:
            self.calls -= 1
            if self.calls <= 0:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        if self.room is not None:
            if len(view) > self.room:
                self.real(fd, view[: self.room])
                self.room = 0
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            self.room -= len(view)
        self.real(fd, view)


@pytest.mark.parametrize(
    "args",
    [
        ["convert", "gold", "--to", "naacl", "-o", "out"],
        ["symmetrize", "gold", "pred", "-o", "out"],
        ["show", "-i", "corpus", "-a", "gold", "--lines", "1-3", "-o", "out.png"],
    ],
    ids=["convert", "symmetrize", "show"],
)
def test_a_full_disk_leaves_the_previous_file_untouched(work, monkeypatch, args):
    pytest.importorskip("matplotlib")
    output = work / args[-1]
    output.write_bytes(b"previous\n")
    monkeypatch.setattr("align_cli.io.files.write_all", FullDisk(room=100))
    result = xalign(*args)
    assert_one_line_error(result, "No space left on device", "was left as it was")
    assert output.read_bytes() == b"previous\n"
    assert leftovers(work) == [] and not list(work.glob(".out*"))


def test_a_full_disk_during_extract_keeps_whole_windows_to_resume(work, monkeypatch):
    reference = extract("-i", "corpus").stdout
    # The sidecar, then per window the sidecar, the scores and the output: the output's
    # third window does not fit.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("align_cli.io.files.write_all", FullDisk(calls=1 + 3 * 2 + 3))
        result = extract("-i", "corpus", "-o", "out", "--scores", "out.scores")
    assert_one_line_error(result, "No space left on device", "8 pairs", "rerun with --resume")
    assert not (work / "out").exists() and leftovers(work) == []
    resumed = xalign(
        "extract",
        "-i",
        "corpus",
        "-o",
        "out",
        "--scores",
        "out.scores",
        "--resume",
        "-m",
        MODEL,
        *FAST,
    )
    assert resumed.exit_code == 0, resumed.stderr
    assert "resumed after 8" in resumed.stderr
    assert (work / "out").read_text() == reference


@pytest.mark.parametrize(
    "args",
    [
        ["eval", "gold", "gold", "--json"],
        ["convert", "gold", "--to", "naacl"],
        ["extract", "-i", "corpus", "-m", MODEL, "-q"],
        ["show", "-i", "corpus", "-a", "gold"],
    ],
    ids=["eval --json", "convert", "extract", "show"],
)
def test_a_full_standard_output_is_one_line(work, monkeypatch, capfd, args):
    """Standard output on /dev/full, which fails every write with ENOSPC."""
    from align_cli.cli import main

    with open("/dev/full", "w") as full:
        monkeypatch.setattr(sys, "stdout", full)
        with pytest.raises(SystemExit) as stopped:
            main(args)
        monkeypatch.undo()
    err = capfd.readouterr().err
    assert stopped.value.code == 2 and "Traceback" not in err
    lines = [line for line in err.splitlines() if not line.startswith("xalign: signature")]
    assert lines == ["xalign: error: cannot write to standard output: No space left on device"]


# --------------------------------------------------------------------------- 6. formats


def test_probabilities_need_scores(work):
    result = xalign("convert", "gold", "--to", "probs", "-o", "out.probs")
    assert_one_line_error(result, "gold:1:", "has no score", "--to probs")
    assert not (work / "out.probs").exists()
    assert extract("-i", "corpus", "--format", "jsonl", "-o", "out.jsonl").exit_code == 0
    with_scores = xalign("convert", "out.jsonl", "--to", "probs")
    assert with_scores.exit_code == 0 and "nan" not in with_scores.stdout


def test_a_gz_output_is_gzip_that_eval_reads(work):
    plain = xalign("eval", "gold", "pred", "--json").stdout
    for args in (
        ["convert", "pred", "--to", "naacl", "-o", "pred.naacl.gz"],
        ["symmetrize", "pred", "pred", "--method", "intersect", "-o", "pred.sym.gz"],
    ):
        assert xalign(*args).exit_code == 0
        assert (work / args[-1]).read_bytes()[:2] == b"\x1f\x8b"
        assert xalign("eval", "gold", args[-1], "--json").stdout == plain
    reference = extract("-i", "corpus").stdout
    assert extract("-i", "corpus", "-o", "out.gz", "--scores", "scores.gz").exit_code == 0
    assert gzip.decompress((work / "out.gz").read_bytes()).decode() == reference
    assert len(gzip.decompress((work / "scores.gz").read_bytes()).splitlines()) == PAIRS
    assert (
        extract("-i", "corpus", "-o", "out.gz", "--scores", "scores.gz", "--resume").exit_code == 0
    )


def test_naacl_keeps_trailing_sentences_without_links_with_the_corpus(work):
    lines = gold_lines(6) + ["", "", ""]  # three last sentences without links
    write_lines(work / "links", lines)
    write_lines(work / "pairs", corpus_lines(9))
    assert xalign("convert", "links", "--to", "naacl", "-o", "links.naacl").exit_code == 0
    padded = xalign("convert", "links.naacl", "--to", "pharaoh", "--corpus", "pairs")
    assert padded.exit_code == 0 and padded.stderr == ""
    assert padded.stdout.split("\n")[:-1] == lines
    bare = xalign("convert", "links.naacl", "--to", "pharaoh")
    assert bare.exit_code == 0 and bare.stdout.split("\n")[:-1] == lines[:6]
    assert "--corpus" in bare.stderr and bare.stderr.startswith("xalign: warning: ")
    sym = xalign("symmetrize", "links.naacl", "links.naacl")
    assert "--corpus" in sym.stderr


def test_sweep_checks_gold_indices_as_eval_does(work):
    assert (
        xalign("convert", "gold", "--to", "pharaoh", "--write-one-based", "-o", "gold1").exit_code
        == 0
    )
    wrong = xalign("sweep", "corpus", "gold1", "-m", MODEL, "--shift", "no", "--json")
    assert_one_line_error(wrong, "gold1:", "points past the end", "--gold-one-based")
    right = xalign(
        "sweep", "corpus", "gold1", "-m", MODEL, "--shift", "no", "--json", "--gold-one-based"
    )
    assert right.exit_code == 0, right.stderr
    # A gold file that fits the corpus but never uses index 0 is probably 1-based: a warning.
    write_lines(work / "shifted", ["1-1" for _ in range(PAIRS)])
    warned = xalign("sweep", "corpus", "shifted", "-m", MODEL, "--shift", "no", "--json")
    assert warned.exit_code == 0 and "never uses index 0" in warned.stderr


# --------------------------------------------------------------------------- 7. one line


@pytest.mark.parametrize(
    ("args", "stdin", "wrong"),
    [
        (["eval", "bad.utf8", "gold"], None, "--encoding-errors"),
        (["convert", "bad.utf8", "--to", "naacl"], None, "--encoding-errors"),
        (["eval", "gold", "pred", "--corpus", "bad.pairs"], None, "two files (SRC TGT)"),
        (["eval", "gold", "pred", "--corpus", "bad.pairs"], None, "--on-bad-line"),
        (["extract", "-i", "-", "-m", MODEL, *FAST, "-q"], "a ||| b\n" * 5 + "x\n", "--resume"),
    ],
    ids=[
        "eval encoding",
        "convert encoding",
        "eval --corpus files",
        "eval --corpus option",
        "stdout resume",
    ],
)
def test_messages_name_only_options_the_command_has(work, args, stdin, wrong):
    (work / "bad.utf8").write_bytes(b"0-0\n1-1 \xff\n")
    write_lines(work / "bad.pairs", corpus_lines(3) + ["no separator here"])
    result = xalign(*args, stdin=stdin)
    line = assert_one_line_error(result)
    assert wrong not in line
