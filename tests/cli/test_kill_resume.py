"""Kill a real `xalign extract` process at random points, resume it, compare bytes.

One chain of real processes on a 1,500-pair corpus: SIGKILL (no chance to clean up), a
single SIGINT (finish the window, print the resume command), a double SIGINT (abandon the
window at once), SIGTERM (what Slurm sends at the time limit), then the printed resume
command to the end. After every stop the partial output must be a whole-line prefix of an
uninterrupted run's output; at the end both files must be byte-identical to it. The kill
points are random (by output line, so they land anywhere in a window's work); the seed is
in every assertion message.
"""

from __future__ import annotations

import os
import random
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli_runner import run_cli
from tests.robustness_fixtures import (
    newstest_pairs,
    one_torch_thread,
    subprocess_environment,
    tiny_model,
    write_joined,
)

PAIRS = 1500
OPTIONS = ["--window", "8", "--batch-size", "4"]
RESUME_LINE = re.compile(r"xalign: interrupted after (\d+) pairs; resume with: (.+)$", re.M)


def complete_lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def assert_whole_prefix(partial: Path, reference: bytes, context: str) -> int:
    """The partial file's complete lines are the reference's first lines; returns their count."""
    data = partial.read_bytes()
    whole = data[: data.rfind(b"\n") + 1]
    assert reference.startswith(whole), f"{partial.name} is not a prefix ({context})"
    return whole.count(b"\n")


def start(command: list[str], folder: Path, name: str) -> tuple[subprocess.Popen, Path]:
    stderr = folder / f"{name}.stderr"
    process = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=stderr.open("w"),
        env=subprocess_environment(),
        cwd=folder,
    )
    return process, stderr


def stop_at(process: subprocess.Popen, partial: Path, line: int, signals: list[int]) -> int:
    """Wait until ``partial`` has ``line`` lines, send ``signals``; return the exit code."""
    deadline = time.monotonic() + 120
    while process.poll() is None and complete_lines(partial) < line:
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("xalign made no progress for 120 s")
        time.sleep(0.002)
    for number in signals:
        if process.poll() is None:
            process.send_signal(number)
            time.sleep(0.01)
    return process.wait(timeout=120)


@pytest.mark.slow
def test_killed_and_interrupted_runs_resume_to_the_identical_file(
    tmp_path_factory, tmp_path, shared_data
):
    model = tiny_model(tmp_path_factory)
    sources, targets = newstest_pairs(PAIRS // 3)
    corpus = write_joined(tmp_path, sources * 3, targets * 3)
    with one_torch_thread():
        result = run_cli(
            ["extract", "-i", corpus, "-m", model, *OPTIONS, "-q"]
            + ["-o", tmp_path / "ref", "--scores", tmp_path / "ref.scores"]
        )
    assert result.exit_code == 0, result.stderr
    reference = (tmp_path / "ref").read_bytes()
    reference_scores = (tmp_path / "ref.scores").read_bytes()

    seed = int(time.time())
    rng = random.Random(seed)
    out, scores = tmp_path / "out", tmp_path / "out.scores"
    partial = tmp_path / "out.partial"
    command = [sys.executable, "-m", "align_cli", "extract", "-i", str(corpus), "-m", model]
    command += [*OPTIONS, "-o", str(out), "--scores", str(scores)]

    # SIGKILL: the process gets no chance to do anything.
    kill_line = rng.randrange(1, PAIRS // 3)
    process, _ = start(command, tmp_path, "kill")
    code = stop_at(process, partial, kill_line, [signal.SIGKILL])
    context = f"seed {seed}, SIGKILL at line {kill_line}"
    assert code == -signal.SIGKILL, context
    assert not out.exists() and not scores.exists(), context
    assert_whole_prefix(partial, reference, context)
    assert_whole_prefix(tmp_path / "out.scores.partial", reference_scores, context)

    # Then SIGINT once, twice, and SIGTERM, each run resuming the one before.
    resume_command = command + ["--resume"]
    for name, signals, expected_code in (
        ("sigint", [signal.SIGINT], 130),
        ("sigint-twice", [signal.SIGINT, signal.SIGINT], 130),
        ("sigterm", [signal.SIGTERM], 143),
    ):
        before = complete_lines(partial)
        line = rng.randrange(before + 1, before + (PAIRS - before) // 3 + 2)
        process, stderr_path = start(resume_command, tmp_path, name)
        code = stop_at(process, partial, line, signals)
        stderr = stderr_path.read_text()
        context = f"seed {seed}, {name} at line {line}: {stderr}"
        assert code == expected_code, context
        assert not out.exists(), context
        match = RESUME_LINE.search(stderr)
        assert match is not None, context
        # A signal never tears a window: the file ends in a whole line, and the count the
        # message gives is the file's.
        assert partial.read_bytes().endswith(b"\n"), context
        assert int(match.group(1)) == assert_whole_prefix(partial, reference, context), context
        assert assert_whole_prefix(tmp_path / "out.scores.partial", reference_scores, context) == (
            int(match.group(1))
        ), context
        printed = shlex.split(match.group(2))
        assert printed[0] == "xalign" and printed[-1] == "--resume", context
        resume_command = [sys.executable, "-m", "align_cli", *printed[1:]]

    # The printed command finishes the job.
    process, stderr_path = start(resume_command, tmp_path, "final")
    assert process.wait(timeout=300) == 0, stderr_path.read_text()
    assert out.read_bytes() == reference, f"seed {seed}"
    assert scores.read_bytes() == reference_scores, f"seed {seed}"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("out")) == [
        "out",
        "out.scores",
    ]
    assert os.path.getsize(out) > 0
