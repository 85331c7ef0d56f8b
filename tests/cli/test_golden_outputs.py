"""Every command's output on the synthetic model and data is byte-identical to a recording.

The recordings in ``tests/data/golden/`` were made on the code *before* the package was
laid out as its pipeline (issue 12), so that moving code can never change a result by
accident. Each case runs the real entry point in a scratch folder that holds the inputs
under short relative names (so paths printed in the output do not depend on where the
repository is checked out) and compares stdout and every file the command wrote.

The one deliberate difference is the signature: the alignment signature gained the dtype
and the device, and ``eval --json`` gained one. A ``"signature"`` entry of a JSON object
is therefore left out of the comparison (it is tested in tests/test_signature.py), and
``xalign models`` dropped its "default preset per family" table, which nothing consulted
(recorded again).

To record again after an *intended* change of output: ``XALIGN_RECORD_GOLDEN=1 pytest
tests/cli/test_golden_outputs.py``, then review the diff of ``tests/data/golden`` like code.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.cli_runner import run_cli
from tests.paths import ROOT

SYNTHETIC = ROOT / "tests" / "data" / "synthetic"
GOLDEN = ROOT / "tests" / "data" / "golden"
RECORD = os.environ.get("XALIGN_RECORD_GOLDEN") == "1"
PAIRS = 40  # the first held-out pairs: enough for every code path, fast on 2 cores

# name -> (argv, files the command writes). Later cases read what earlier ones wrote,
# so the cases run in this order inside one scratch folder.
CASES: dict[str, tuple[list[str], list[str]]] = {
    "extract_pharaoh": (
        ["extract", "-i", "corpus", "-m", "fwd", "-o", "fwd.pharaoh", "--scores", "fwd.scores"],
        ["fwd.pharaoh", "fwd.scores"],
    ),
    "extract_jsonl_matrix": (
        [
            "extract",
            "-i",
            "corpus",
            "-m",
            "fwd",
            "--format",
            "jsonl",
            "--matrix",
            "-o",
            "fwd.jsonl",
            "--scores",
            "jsonl.scores",
        ],
        ["fwd.jsonl", "jsonl.scores"],
    ),
    "extract_giza": (
        ["extract", "-i", "corpus", "-m", "fwd", "--format", "giza", "-o", "fwd.A3"],
        ["fwd.A3"],
    ),
    "extract_two_files_stdout": (["extract", "src", "tgt", "-m", "fwd", "-q"], []),
    "extract_argmax_shift_layers": (
        [
            "extract",
            "-i",
            "corpus",
            "-m",
            "fwd",
            "--method",
            "argmax",
            "--shift",
            "--layers",
            "1:3",
            "--heads",
            "0,3",
            "--pooling",
            "mean",
            "-o",
            "shift.pharaoh",
        ],
        ["shift.pharaoh"],
    ),
    "extract_itermax": (
        ["extract", "-i", "corpus", "-m", "fwd", "--method", "itermax", "-o", "itermax.pharaoh"],
        ["itermax.pharaoh"],
    ),
    "extract_threshold": (
        [
            "extract",
            "-i",
            "corpus",
            "-m",
            "fwd",
            "--method",
            "threshold",
            "--threshold",
            "0.3",
            "--pooling",
            "max",
            "-o",
            "threshold.pharaoh",
        ],
        ["threshold.pharaoh"],
    ),
    "extract_self_symmetrized": (
        [
            "extract",
            "-i",
            "corpus",
            "-m",
            "fwd",
            "--method",
            "argmax",
            "--symmetrize",
            "grow-diag-final",
            "-o",
            "selfsym.pharaoh",
        ],
        ["selfsym.pharaoh"],
    ),
    "extract_opus_align_preset": (
        ["extract", "-i", "corpus", "-m", "fwd", "--preset", "opus-align", "-o", "opus.pharaoh"],
        ["opus.pharaoh"],
    ),
    "extract_bidirectional_jsonl": (
        [
            "extract",
            "-i",
            "corpus",
            "-m",
            "fwd",
            "--reverse-model",
            "rev",
            "--symmetrize",
            "grow-diag-final-and",
            "--format",
            "jsonl",
            "-o",
            "bi.jsonl",
        ],
        ["bi.jsonl"],
    ),
    "extract_reverse_direction": (
        ["extract", "tgt", "src", "-m", "rev", "--method", "argmax", "-o", "rev.pharaoh"],
        ["rev.pharaoh"],
    ),
    "eval_json": (["eval", "gold", "fwd.pharaoh", "--json"], []),
    "eval_table_worst": (
        ["eval", "gold", "fwd.pharaoh", "--per-sentence", "3", "--corpus", "corpus"],
        [],
    ),
    "eval_jsonl_prediction": (["eval", "gold", "fwd.jsonl", "--json"], []),
    "symmetrize_gdfa": (
        [
            "symmetrize",
            "shift.pharaoh",
            "rev.pharaoh",
            "--rev-is-target-first",
            "-o",
            "sym.pharaoh",
        ],
        ["sym.pharaoh"],
    ),
    "symmetrize_intersect_jsonl": (
        [
            "symmetrize",
            "shift.pharaoh",
            "rev.pharaoh",
            "--rev-is-target-first",
            "--method",
            "intersect",
            "--corpus",
            "corpus",
            "--to",
            "jsonl",
        ],
        [],
    ),
    "convert_to_pharaoh_one_based": (
        ["convert", "fwd.jsonl", "--to", "pharaoh", "--write-one-based"],
        [],
    ),
    "convert_to_naacl": (
        ["convert", "fwd.jsonl", "--to", "naacl", "-o", "fwd.naacl"],
        ["fwd.naacl"],
    ),
    "convert_naacl_back": (["convert", "fwd.naacl", "--to", "pharaoh"], []),
    "convert_to_giza": (["convert", "fwd.pharaoh", "--to", "giza", "--corpus", "corpus"], []),
    "convert_giza_to_jsonl": (["convert", "fwd.A3", "--to", "jsonl"], []),
    "convert_to_jsonl_with_probs": (
        ["convert", "fwd.pharaoh", "--probs", "fwd.scores", "--to", "jsonl"],
        [],
    ),
    "convert_to_probs": (["convert", "fwd.jsonl", "--to", "probs"], []),
    "sweep_table": (["sweep", "corpus", "gold", "-m", "fwd", "--top", "8"], []),
    "sweep_json": (
        [
            "sweep",
            "corpus",
            "gold",
            "-m",
            "fwd",
            "--shift",
            "no",
            "--method",
            "inter",
            "--pooling",
            "sum",
            "--json",
        ],
        [],
    ),
    "show_model_terminal": (
        ["show", "-i", "corpus", "-m", "fwd", "-g", "gold", "--lines", "2,5", "-q"],
        [],
    ),
    "show_files_worst": (
        ["show", "-i", "corpus", "-a", "fwd.jsonl", "-g", "gold", "--worst", "2", "-q"],
        [],
    ),
    "models_json": (["models", "--json"], []),
}

SIGNATURE = re.compile(r', "signature": "[^"]*"')


def normalise(text: str) -> str:
    return SIGNATURE.sub("", text)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("golden")
    lines = (SYNTHETIC / "heldout.src-tgt").read_text(encoding="utf-8").splitlines()[:PAIRS]
    gold = (SYNTHETIC / "heldout.gold").read_text(encoding="utf-8").splitlines()[:PAIRS]
    (folder / "corpus").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "gold").write_text("\n".join(gold) + "\n", encoding="utf-8")
    sides = [line.split(" ||| ") for line in lines]
    (folder / "src").write_text("".join(s + "\n" for s, _ in sides), encoding="utf-8")
    (folder / "tgt").write_text("".join(t + "\n" for _, t in sides), encoding="utf-8")
    (folder / "fwd").symlink_to(SYNTHETIC / "fwd")
    (folder / "rev").symlink_to(SYNTHETIC / "rev")
    return folder


def _read(path: Path) -> str:
    with open(path, encoding="utf-8", newline="") as handle:  # keeps line ends as written
        return handle.read()


def _check(name: str, actual: str) -> None:
    recording = GOLDEN / name
    if RECORD:
        recording.parent.mkdir(parents=True, exist_ok=True)
        recording.write_text(actual, encoding="utf-8", newline="")
        return
    assert recording.is_file(), f"no recording {recording}; record with XALIGN_RECORD_GOLDEN=1"
    expected = _read(recording)
    assert normalise(actual) == normalise(expected), f"{name} differs from its recording"


@pytest.mark.parametrize("case", list(CASES))
def test_output_is_byte_identical_to_the_recording(
    case: str, scratch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args, files = CASES[case]
    monkeypatch.chdir(scratch)
    result = run_cli([*args, "--force"] if "-o" in args and args[0] == "extract" else args)
    assert result.exit_code == 0, result.stderr
    _check(f"{case}.stdout", result.stdout)
    for written in files:
        _check(f"{case}.{written}", _read(scratch / written))
