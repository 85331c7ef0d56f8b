"""Every command against a table of bad paths, bad values and hostile inputs (issue 13).

For each case the command either succeeds with the right output or stops with exactly one
error line and no traceback, and in both cases:

* no input file is modified (every file of the folder is hashed before and after);
* no output is left half-written under its final name: after a failure the output is
  absent or still the previous file, and no temporary file is left behind.

Inputs are built once per module; commands run in-process through the real entry point,
the synthetic model loaded once. Named pipes are fed by a thread (a pipe opened a second
time would block its reader: a rescue opens it after a while so that such a failure is a
failure, not a hang).
"""

from __future__ import annotations

import os
import random
import shutil
import threading
from pathlib import Path

import pytest

from tests.safety_helpers import (
    FAST,
    MODEL,
    corpus_lines,
    gold_lines,
    snapshot,
    write_lines,
    xalign,
)

pytestmark = pytest.mark.usefixtures("one_thread")
PAIRS = 8
BOM = b"\xef\xbb\xbf"
PREVIOUS = b"the previous output\n"


@pytest.fixture(scope="module", autouse=True)
def _models():
    from tests.safety_helpers import cached_models

    with cached_models():
        yield


# --------------------------------------------------------------------------- the commands

# name -> (arguments, the kind of file {IN} is, the output file or None). {OUT} is a name
# in the folder; "corpus", "src", "tgt", "gold" and "pred" are clean files beside it.
SLOTS: dict[str, tuple[list[str], str, str | None]] = {
    "extract -i": (
        ["extract", "-i", "{IN}", "-m", MODEL, "-q", *FAST, "-o", "{OUT}", "--force"],
        "corpus",
        "out",
    ),
    "extract SRC": (
        ["extract", "{IN}", "tgt", "-m", MODEL, "-q", *FAST, "-o", "{OUT}", "--force"],
        "side",
        "out",
    ),
    "eval GOLD": (["eval", "{IN}", "pred", "--json"], "links", None),
    "eval PRED": (["eval", "gold", "{IN}", "--json"], "links", None),
    "eval --corpus": (["eval", "gold", "pred", "--corpus", "{IN}", "--json"], "corpus", None),
    "convert": (["convert", "{IN}", "--to", "naacl", "-o", "{OUT}"], "links", "out"),
    "convert --corpus": (
        ["convert", "gold", "--to", "giza", "--corpus", "{IN}", "-o", "{OUT}"],
        "corpus",
        "out",
    ),
    "symmetrize": (["symmetrize", "{IN}", "gold", "-o", "{OUT}"], "links", "out"),
    "show -a": (
        ["show", "-i", "corpus", "-a", "{IN}", "--lines", "1-2", "-o", "{OUT}"],
        "links",
        "out.svg",
    ),
    "show -i": (
        ["show", "-i", "{IN}", "-m", MODEL, "-q", "--lines", "1", "-o", "{OUT}"],
        "corpus",
        "out.svg",
    ),
    "sweep CORPUS": (
        ["sweep", "{IN}", "gold", "-m", MODEL, "--json", "--shift", "no"],
        "corpus",
        None,
    ),
    "sweep GOLD": (
        ["sweep", "corpus", "{IN}", "-m", MODEL, "--json", "--shift", "no"],
        "links",
        None,
    ),
}


def clean(kind: str) -> list[bytes]:
    """The lines (without their ends) of a well-formed file of each kind."""
    if kind == "corpus":
        return [line.encode() for line in corpus_lines(PAIRS)]
    if kind == "side":
        return [line.split(" ||| ")[0].encode() for line in corpus_lines(PAIRS)]
    return [line.encode() for line in gold_lines(PAIRS)]


def joined(lines: list[bytes]) -> bytes:
    return b"".join(line + b"\n" for line in lines)


def huge_line(kind: str) -> bytes:
    if kind == "links":
        return " ".join(f"{i}-{i}" for i in range(20_000)).encode()
    words = " ".join(["su"] * 20_000).encode()
    return words + b" ||| " + words if kind == "corpus" else words


# name -> (content of {IN} made from the clean lines, whether the command must succeed
# with the clean file's output).
HOSTILE = {
    "empty": (lambda kind: b"", False),
    "binary garbage": (
        lambda kind: bytes(random.Random(13).randrange(256) for _ in range(3000)),
        False,
    ),
    "invalid utf-8": (
        lambda kind: joined(clean(kind)[:2] + [clean(kind)[2] + b" \xff\xfe"] + clean(kind)[3:]),
        False,
    ),
    "NUL in a line": (
        lambda kind: joined(clean(kind)[:1] + [clean(kind)[1] + b"\x00"] + clean(kind)[2:]),
        False,
    ),
    "CRLF": (lambda kind: joined(clean(kind)).replace(b"\n", b"\r\n"), True),
    "BOM": (lambda kind: BOM + joined(clean(kind)), True),
    "no final newline": (lambda kind: joined(clean(kind))[:-1], True),
    "huge line": (
        lambda kind: joined(clean(kind)[:1] + [huge_line(kind)] + clean(kind)[2:]),
        False,
    ),
    "one line more": (lambda kind: joined(clean(kind) + clean(kind)[:1]), False),
    "one line less": (lambda kind: joined(clean(kind)[:-1]), False),
}


def hostile_name(content: str, kind: str) -> str:
    return f"{content.replace(' ', '_')}-{kind}"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The clean files and every hostile variant of each kind, built once."""
    folder = tmp_path_factory.mktemp("hostile-inputs")
    write_lines(folder / "corpus", corpus_lines(PAIRS))
    write_lines(folder / "src", [line.split(" ||| ")[0] for line in corpus_lines(PAIRS)])
    write_lines(folder / "tgt", [line.split(" ||| ")[1] for line in corpus_lines(PAIRS)])
    write_lines(folder / "gold", gold_lines(PAIRS))
    write_lines(folder / "pred", [" ".join(line.split()[1:]) for line in gold_lines(PAIRS)])
    for kind in ("corpus", "side", "links"):
        (folder / f"clean-{kind}").write_bytes(joined(clean(kind)))
        for name, (make, _) in HOSTILE.items():
            (folder / hostile_name(name, kind)).write_bytes(make(kind))
    return folder


@pytest.fixture
def work(inputs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh copy of the inputs as the current folder, with a previous output in it."""
    folder = tmp_path / "work"
    shutil.copytree(inputs, folder)
    monkeypatch.chdir(folder)
    return folder


def run_slot(slot: str, source: str, output: str | None = None):
    args, _, out = SLOTS[slot]
    out = output or out or "unused"
    return xalign(*[arg.replace("{IN}", source).replace("{OUT}", out) for arg in args])


def check_outcome(work: Path, slot: str, result, before: dict[str, str], *, must_succeed: bool):
    """The invariants every case must keep (see the module doc)."""
    _, _, out = SLOTS[slot]
    lines = result.stderr.splitlines()
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr
    if must_succeed:
        assert result.exit_code == 0, result.stderr
    if result.exit_code != 0:
        errors = [line for line in lines if line.startswith("xalign: error: ")]
        assert len(errors) == 1 and lines[-1] == errors[0], result.stderr
        noise = [line for line in lines[:-1] if not line.startswith("xalign: signature ")]
        assert noise == [], result.stderr
    after = snapshot(work)
    changed = {name for name in set(before) | set(after) if before.get(name) != after.get(name)}
    written = {out, f"{out}.partial", f"{out}.partial.json", f".{out}.xalign.json"}
    assert changed <= written, f"changed: {sorted(changed - written)}"
    assert not [name for name in os.listdir(work) if name.endswith((".tmp", ".lock"))]
    if out is not None and result.exit_code != 0:
        final = work / out
        assert not final.exists() or final.read_bytes() == PREVIOUS


# --------------------------------------------------------------------------- hostile inputs


@pytest.mark.parametrize("content", sorted(HOSTILE))
@pytest.mark.parametrize("slot", sorted(SLOTS))
def test_hostile_input(work, slot, content):
    _, kind, out = SLOTS[slot]
    if out is not None:
        (work / out).write_bytes(PREVIOUS)
    before = snapshot(work)
    result = run_slot(slot, hostile_name(content, kind))
    must_succeed = HOSTILE[content][1]
    check_outcome(work, slot, result, before, must_succeed=must_succeed)
    if must_succeed:  # the same output as the clean file gives
        reference_output = f"reference-{out}" if out else None
        reference = run_slot(slot, f"clean-{kind}", reference_output)
        assert reference.exit_code == 0, reference.stderr
        renamed = result.stdout.replace(hostile_name(content, kind), f"clean-{kind}")
        assert renamed == reference.stdout
        if out is not None and not out.endswith(".svg"):
            assert (work / out).read_bytes() == (work / f"reference-{out}").read_bytes()


# --------------------------------------------------------------------------- bad paths


def _feed(fifo: Path, data: bytes, done: threading.Event) -> None:
    """Write ``data`` into a named pipe once a reader opens it; should the command open it
    a second time (reading it twice), open it once more so that the command ends."""
    with open(fifo, "wb") as writer:
        writer.write(data)
    if not done.wait(timeout=15):
        with open(fifo, "wb"):
            pass


@pytest.mark.parametrize("path", ["missing", "folder", "named pipe", "unreadable"])
@pytest.mark.parametrize("slot", sorted(SLOTS))
def test_bad_input_path(work, slot, path):
    _, kind, out = SLOTS[slot]
    if out is not None:
        (work / out).write_bytes(PREVIOUS)
    name = f"bad-{kind}"
    if path == "folder":
        (work / name).mkdir()
    elif path == "unreadable":
        if os.geteuid() == 0:
            pytest.skip("root reads every file")
        (work / name).write_bytes(joined(clean(kind)))
        (work / name).chmod(0)
    elif path == "named pipe":
        os.mkfifo(work / name)
    before = snapshot(work)
    if path == "named pipe":
        done = threading.Event()
        feeder = threading.Thread(target=_feed, args=(work / name, joined(clean(kind)), done))
        feeder.start()
        try:
            result = run_slot(slot, name)
        finally:
            done.set()
            feeder.join(timeout=120)
        check_outcome(work, slot, result, before, must_succeed=True)
        reference = run_slot(slot, f"clean-{kind}", f"reference-{out}" if out else None)
        assert result.stdout.replace(name, f"clean-{kind}") == reference.stdout
        return
    result = run_slot(slot, name)
    check_outcome(work, slot, result, before, must_succeed=False)
    assert result.exit_code != 0
    assert name in result.stderr  # the message names the file


OUTPUT_SLOTS = sorted(slot for slot, (_, _, out) in SLOTS.items() if out is not None)


@pytest.mark.parametrize("how", ["missing folder", "a folder", "the input", "the input via .."])
@pytest.mark.parametrize("slot", OUTPUT_SLOTS)
def test_bad_output_path(work, slot, how):
    _, kind, out = SLOTS[slot]
    source = f"clean-{kind}"
    if how == "missing folder":
        output = f"nowhere/{out}"
    elif how == "a folder":
        output = "a-folder"
        (work / output).mkdir()
    elif how == "the input":
        output = source
    else:
        (work / "sub").mkdir()
        output = f"sub/../{source}"
    before = snapshot(work)
    result = run_slot(slot, source, output)
    check_outcome(work, slot, result, before, must_succeed=False)
    assert result.exit_code != 0
    assert snapshot(work) == before


# --------------------------------------------------------------------------- bad values

BAD_VALUES = {
    "extract --shard 3/2": ["extract", "-i", "corpus", "-m", MODEL, "--shard", "3/2", "-o", "out"],
    "extract --shard x": ["extract", "-i", "corpus", "-m", MODEL, "--shard", "x", "-o", "out"],
    "extract --batch-size 0": ["extract", "-i", "corpus", "-m", MODEL, "--batch-size", "0"],
    "extract --threshold": ["extract", "-i", "corpus", "-m", MODEL, "--threshold", "0.2"],
    "extract --matrix": ["extract", "-i", "corpus", "-m", MODEL, "--matrix", "-o", "out"],
    "extract - -": ["extract", "-", "-", "-m", MODEL],
    "extract --resume to stdout": ["extract", "-i", "corpus", "-m", MODEL, "--resume"],
    "eval --all-sure --ignore-possible": [
        "eval",
        "gold",
        "pred",
        "--all-sure",
        "--ignore-possible",
    ],
    "eval --gold-format naacl": ["eval", "gold", "pred", "--gold-format", "naacl"],
    "eval --pred-one-based on 0-based": ["eval", "gold", "pred", "--pred-one-based"],
    "convert --from giza": ["convert", "gold", "--from", "giza", "--to", "naacl", "-o", "out"],
    "convert --to giza without words": ["convert", "gold", "--to", "giza", "-o", "out"],
    "convert --to probs without scores": ["convert", "gold", "--to", "probs", "-o", "out"],
    "convert --probs with naacl": [
        "convert",
        "gold",
        "--from",
        "naacl",
        "--probs",
        "pred",
        "--to",
        "naacl",
    ],
    "symmetrize --from jsonl": ["symmetrize", "gold", "pred", "--from", "jsonl", "-o", "out"],
    "show --lines 0": ["show", "-i", "corpus", "-a", "gold", "--lines", "0"],
    "show --lines past the end": ["show", "-i", "corpus", "-a", "gold", "--lines", "99"],
    "show -o out.gif": ["show", "-i", "corpus", "-a", "gold", "-o", "out.gif"],
    "show --worst without gold": ["show", "-i", "corpus", "-a", "gold", "--worst", "2"],
    "sweep --batch-size 0": ["sweep", "corpus", "gold", "-m", MODEL, "--batch-size", "0"],
    "sweep 1-based gold read 0-based": ["sweep", "corpus", "gold1", "-m", MODEL],
}


@pytest.mark.parametrize("case", sorted(BAD_VALUES))
def test_bad_value(work, case):
    assert (
        xalign("convert", "gold", "--to", "pharaoh", "--write-one-based", "-o", "gold1").exit_code
        == 0
    )
    (work / "out").write_bytes(PREVIOUS)
    before = snapshot(work)
    result = xalign(*BAD_VALUES[case])
    lines = result.stderr.splitlines()
    assert result.exit_code == 2 and "Traceback" not in result.stderr, result.stderr
    assert len(lines) == 1 and lines[0].startswith("xalign: error: "), result.stderr
    assert snapshot(work) == before
