"""What the shell does to an ``xalign`` process: Ctrl-C at any moment, a reader that goes
away, a closed standard output or input. Each must end in one line (or, for a reader that
went away, in silence and exit code 0), never a traceback.

The processes are the real entry points, the ``xalign`` console script and
``python -m align_cli``. The moment of a Ctrl-C is chosen without timing anything: a
``sitecustomize`` module on the child's ``PYTHONPATH`` sends the process SIGINT when it
starts to import a given module, so "while click imports" or "while the model's code
imports" is the same moment on every machine. (The run itself, windows and resume, is
``test_kill_resume.py``'s.)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import ROOT

REPO = ROOT
MODEL = REPO / "tests" / "data" / "synthetic" / "fwd"
HELDOUT = REPO / "tests" / "data" / "synthetic" / "heldout.src-tgt"
GOLD = REPO / "tests" / "data" / "synthetic" / "heldout.gold"

# Sends SIGINT to this process when the module named by XALIGN_TEST_SIGINT_AT starts to
# import (the signal's handler runs inside that import).
SIGINT_HOOK = """
import os, signal, sys

_TARGET = os.environ.get("XALIGN_TEST_SIGINT_AT")


class _InterruptAt:
    fired = False

    def find_spec(self, name, path=None, target=None):
        if name == _TARGET and not _InterruptAt.fired:
            _InterruptAt.fired = True
            os.kill(os.getpid(), signal.SIGINT)
        return None


if _TARGET:
    sys.meta_path.insert(0, _InterruptAt())
"""


@pytest.fixture(scope="module")
def hook_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sigint-hook")
    (folder / "sitecustomize.py").write_text(SIGINT_HOOK, encoding="utf-8")
    return folder


def with_hook(hook_path: Path) -> str:
    """PYTHONPATH with the hook's folder first."""
    return os.pathsep.join(filter(None, [str(hook_path), os.environ.get("PYTHONPATH")]))


def xalign_command() -> list[str]:
    script = Path(sys.executable).parent / "xalign"
    if not script.exists():
        found = shutil.which("xalign")
        if found is None:
            pytest.skip("the xalign console script is not installed")
        script = Path(found)
    return [str(script)]


def python_m_command() -> list[str]:
    return [sys.executable, "-m", "align_cli"]


def run(
    command: list[str], *, env: dict[str, str] | None = None, **options: object
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,  # a guard against a hang, not a measurement
        cwd=REPO,
        **options,  # type: ignore[arg-type]
    )


# --------------------------------------------------------------------------- Ctrl-C

EXTRACT = ["extract", "-i", str(HELDOUT), "-m", str(MODEL), "-q"]

# (module whose import is interrupted, entry point): from the first import of the command
# line to the model's own code, imported while the model loads.
MOMENTS = [
    ("click", "xalign"),
    ("align_cli.cli.extract_cmd", "xalign"),
    ("torch", "xalign"),
    ("transformers.models.marian.modeling_marian", "xalign"),
    ("click", "python -m"),
    ("torch", "python -m"),
]


@pytest.mark.parametrize(("module", "entry"), MOMENTS)
def test_ctrl_c_at_any_moment_is_one_line_and_exit_130(
    hook_path: Path, module: str, entry: str
) -> None:
    command = xalign_command() if entry == "xalign" else python_m_command()
    done = run(
        command + EXTRACT,
        env={"PYTHONPATH": with_hook(hook_path), "XALIGN_TEST_SIGINT_AT": module},
    )
    assert done.returncode == 130, done.stderr
    assert done.stderr == "xalign: interrupted\n", done.stderr
    assert done.stdout == ""


def test_ctrl_c_while_the_package_itself_imports(hook_path: Path) -> None:
    done = run(
        xalign_command() + EXTRACT,
        env={"PYTHONPATH": with_hook(hook_path), "XALIGN_TEST_SIGINT_AT": "numpy"},
    )
    assert done.returncode == 130 and done.stderr == "xalign: interrupted\n", done.stderr


def test_importing_the_cli_leaves_the_importers_signals_alone() -> None:
    """Only the xalign process itself takes over Ctrl-C; a program (or a test run) that
    imports align_cli.cli keeps its own handler, also after calling main()."""
    script = (
        "import signal\n"
        "before = signal.getsignal(signal.SIGINT)\n"
        "from align_cli.cli import main\n"
        "assert signal.getsignal(signal.SIGINT) is before\n"
        "try:\n"
        "    main(['models', '--json'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "assert signal.getsignal(signal.SIGINT) is before\n"
    )
    done = run([sys.executable, "-c", script])
    assert done.returncode == 0, done.stderr


# --------------------------------------------------------------------------- closed streams


@pytest.mark.parametrize(
    "arguments",
    [
        ["models"],
        ["--help"],
        ["eval", str(GOLD), str(GOLD)],
        ["convert", str(GOLD), "--to", "naacl"],
        [*EXTRACT, "--window", "10"],
    ],
)
def test_a_reader_that_goes_away_ends_the_run_quietly(arguments: list[str]) -> None:
    """``xalign ... | head -0``: the pipe closes before anything is read."""
    process = subprocess.Popen(
        xalign_command() + arguments,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        cwd=REPO,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    error = process.stderr.read().decode()
    assert process.wait(timeout=300) == 0, error
    assert "Traceback" not in error and "Exception ignored" not in error
    assert "BrokenPipe" not in error
    kept = [line for line in error.splitlines() if not line.startswith("xalign: signature")]
    assert kept == [], error


CLOSED_STDOUT = "xalign: error: standard output is closed; give -o FILE, or redirect it to a file"


def _close(descriptor: int):
    return lambda: os.close(descriptor)


@pytest.mark.parametrize(
    "arguments",
    [["models"], ["convert", str(GOLD), "--to", "naacl"], ["eval", str(GOLD), str(GOLD)]],
)
def test_a_closed_standard_output_is_one_line(arguments: list[str]) -> None:
    """``xalign ... >&-``: the output would be lost; say so instead."""
    done = run(xalign_command() + arguments, preexec_fn=_close(1))
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if not line.startswith("xalign: sig")]
    assert lines == [CLOSED_STDOUT]


def test_a_closed_standard_output_is_not_needed_with_an_output_file(tmp_path: Path) -> None:
    output = tmp_path / "out.naacl"
    arguments = ["convert", str(GOLD), "--to", "naacl", "-o", str(output)]
    done = run(xalign_command() + arguments, preexec_fn=_close(1))
    assert done.returncode == 0, done.stderr
    assert done.stderr == "" and output.stat().st_size > 0


@pytest.mark.parametrize("arguments", [["convert", "-", "--to", "naacl"], ["eval", str(GOLD), "-"]])
def test_a_closed_standard_input_is_one_line(arguments: list[str]) -> None:
    """``xalign ... <&-`` with '-' as an input."""
    done = run(xalign_command() + arguments, preexec_fn=_close(0))
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        "xalign: error: standard input is closed; give the input as a file, or pipe it in\n"
    )
    assert done.stdout == ""


def test_a_closed_standard_input_is_not_needed_when_no_input_is_read() -> None:
    done = run(xalign_command() + ["models", "--json"], preexec_fn=_close(0))
    assert done.returncode == 0, done.stderr
    assert done.stderr == "" and done.stdout.startswith("{")
