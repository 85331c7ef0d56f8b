"""``align_cli.jobs.local.describe_run``: what ``--resume`` must match, through the real CLI.

The description is everything that changes the bytes of a run's output. The same run
spelled differently (a model folder with a trailing slash, an option given at its default
value, how the work runs) must describe the same, or a correct ``--resume`` is refused;
any change to the model, settings, batching or inputs must describe differently, or a
resume would splice two different runs into one file.

``describe_run`` is captured where ``xalign extract`` calls it, and the command is stopped
there, before any model is loaded: the model folder only has to exist.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from align_cli.errors import XalignError
from align_cli.jobs import local
from tests.cli_runner import run_cli

LINES = "a b c ||| x y\nd e ||| z\n"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with a corpus and two (empty) model folders, as the working directory."""
    (tmp_path / "corpus.src-tgt").write_text(LINES, encoding="utf-8")
    (tmp_path / "model").mkdir()
    (tmp_path / "other-model").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def describe(monkeypatch: pytest.MonkeyPatch, workdir: Path):
    """``describe(args)``: the description ``xalign extract ARGS`` makes of its run."""
    seen: list[dict] = []
    real = local.describe_run

    def capture(*args, **kwargs):
        seen.append(real(*args, **kwargs))
        raise XalignError("stopped by the test once the run is described")

    monkeypatch.setattr(local, "describe_run", capture)

    def run(args: list[str]) -> str:
        seen.clear()
        result = run_cli(["extract", *args])
        assert len(seen) == 1, result.stderr
        assert "stopped by the test" in result.stderr
        return json.dumps(seen[0], sort_keys=True)

    return run


BASE = ["-i", "corpus.src-tgt", "-m", "model"]

SAME = {
    "model folder with a trailing slash": ["-i", "corpus.src-tgt", "-m", "model/"],
    "model folder as ./model": ["-i", "corpus.src-tgt", "-m", "./model"],
    "absolute paths": ["-i", "{dir}/corpus.src-tgt", "-m", "{dir}/model/"],
    "input as an argument": ["corpus.src-tgt", "-m", "model"],
    "explicit default preset": [*BASE, "--preset", "default"],
    "explicit default pooling": [*BASE, "--pooling", "sum"],
    "explicit default heads": [*BASE, "--heads", "mean"],
    "explicit no shift": [*BASE, "--no-shift"],
    "explicit default batching": [*BASE, "--batch-size", "32", "--max-tokens", "3000"],
    "explicit default window": [*BASE, "--window", "2000"],
    "how the work runs": [*BASE, "--device", "cpu", "-q", "--force"],
}

DIFFERENT = {
    "another model": ["-i", "corpus.src-tgt", "-m", "other-model"],
    "another input file, same lines": ["-i", "copy.src-tgt", "-m", "model"],
    "two input files": ["src.txt", "tgt.txt", "-m", "model"],
    "layers": [*BASE, "--layers", "-2"],
    "heads": [*BASE, "--heads", "0"],
    "shift": [*BASE, "--shift"],
    "pooling": [*BASE, "--pooling", "max"],
    "method": [*BASE, "--method", "argmax"],
    "preset": [*BASE, "--preset", "garg"],
    "symmetrize": [*BASE, "--symmetrize", "union"],
    "batch size": [*BASE, "--batch-size", "8"],
    "max tokens": [*BASE, "--max-tokens", "500"],
    "window": [*BASE, "--window", "10"],
    "max length": [*BASE, "--max-length", "50"],
    "dtype": [*BASE, "--dtype", "bfloat16"],
    "revision": [*BASE, "--revision", "v2"],
    "language": [*BASE, "--src-lang", "en"],
    "embedding layer": [*BASE, "--embedding-layer", "4"],
    "granularity": [*BASE, "--granularity", "word"],
    "format": [*BASE, "--format", "jsonl"],
    "matrix": [*BASE, "--format", "jsonl", "--matrix"],
    "shard": [*BASE, "--shard", "1/2"],
    "bad lines": [*BASE, "--on-bad-line", "skip"],
    "encoding errors": [*BASE, "--encoding-errors", "replace"],
}


def _args(args: list[str], workdir: Path) -> list[str]:
    return [arg.replace("{dir}", str(workdir)) for arg in args]


@pytest.mark.parametrize("spelling", sorted(SAME))
def test_the_same_run_spelled_differently_has_the_same_description(describe, workdir, spelling):
    assert describe(_args(SAME[spelling], workdir)) == describe(BASE)


@pytest.mark.parametrize("default", [["--method", "inter"], ["--embedding-layer", "8"]])
def test_an_explicit_default_has_the_same_description(describe, default):
    assert describe([*BASE, *default]) == describe(BASE)


def test_every_change_to_the_output_has_its_own_description(describe, workdir):
    shutil.copy(workdir / "corpus.src-tgt", workdir / "copy.src-tgt")
    (workdir / "src.txt").write_text("a b c\nd e\n", encoding="utf-8")
    (workdir / "tgt.txt").write_text("x y\nz\n", encoding="utf-8")
    descriptions = {"base": describe(BASE)}
    for change, args in DIFFERENT.items():
        descriptions[change] = describe(_args(args, workdir))
    # No two of them alike: each change is told apart from the base and from the others.
    by_description: dict[str, list[str]] = {}
    for change, description in descriptions.items():
        by_description.setdefault(description, []).append(change)
    assert [changes for changes in by_description.values() if len(changes) > 1] == []
