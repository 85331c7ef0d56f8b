"""Shared pieces of the data-safety tests (test_data_safety.py, test_hostile_inputs.py).

The synthetic model and held-out pairs of ``tests/data/synthetic`` are small enough that a
whole ``xalign extract`` runs in a fraction of a second in-process once the model is
loaded; :func:`cached_models` loads each model once per test module.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.cli_runner import CliResult, run_cli
from tests.paths import ROOT

SYNTHETIC = ROOT / "tests" / "data" / "synthetic"
MODEL = str(SYNTHETIC / "fwd")
FAST = ["--window", "4", "--batch-size", "4"]


def corpus_lines(count: int) -> list[str]:
    """The first ``count`` held-out ``source ||| target`` lines of the synthetic pair."""
    return (SYNTHETIC / "heldout.src-tgt").read_text(encoding="utf-8").splitlines()[:count]


def gold_lines(count: int) -> list[str]:
    """Their gold alignments, 0-based Pharaoh."""
    return (SYNTHETIC / "heldout.gold").read_text(encoding="utf-8").splitlines()[:count]


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_bytes("".join(line + "\n" for line in lines).encode("utf-8"))
    return path


@contextmanager
def cached_models() -> Iterator[None]:
    """Load each model once for as long as the block lasts (every in-process command that
    loads a model goes through these two names)."""
    from align_cli.aligners import factory
    from align_cli.model import loading

    real = loading.load_model
    cache: dict[tuple, object] = {}

    def load(name, **options):
        key = (str(name), tuple(sorted(options.items())))
        if key not in cache:
            cache[key] = real(name, **options)
        return cache[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(factory, "load_model", load)
        patch.setattr(loading, "load_model", load)
        yield


def xalign(*args: object, stdin: str | None = None) -> CliResult:
    return run_cli([str(arg) for arg in args], stdin=stdin)


def assert_one_line_error(result: CliResult, *fragments: str) -> str:
    """Exit code not 0, exactly one line on stderr, an xalign error, no traceback."""
    lines = result.stderr.splitlines()
    assert result.exit_code != 0, result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("xalign: error: "), result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def snapshot(folder: Path) -> dict[str, str]:
    """Name -> digest of every regular file under ``folder`` (hidden ones included)."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            found[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def leftovers(folder: Path) -> list[str]:
    """Temporary or partial files a command may never leave behind after an error."""
    return sorted(p.name for p in folder.iterdir() if p.name.endswith((".tmp", ".lock")))


@contextmanager
def pipe_of(data: bytes) -> Iterator[str]:
    """A path that reads ``data`` once, as process substitution ``<(cat FILE)`` does."""
    assert len(data) < 60_000, "must fit in the pipe's buffer"
    read_end, write_end = os.pipe()
    os.write(write_end, data)
    os.close(write_end)
    try:
        yield f"/dev/fd/{read_end}"
    finally:
        os.close(read_end)


def run_process(
    args: list[str], *, timeout: float = 120, **options: object
) -> subprocess.CompletedProcess:
    """The real console entry point in a child process (one torch thread)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    options.setdefault("stdout", subprocess.PIPE)
    return subprocess.run(
        [sys.executable, "-m", "align_cli", *args],
        stderr=subprocess.PIPE,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
        **options,  # type: ignore[arg-type]
    )
