"""Every example in examples/ runs, as a user would run it, and does what it says.

The examples are run as subprocesses from a scratch directory (they must not depend on
the working directory), with small sizes so that the whole file stays well under a
minute. Examples that need ``../shared/data`` take the ``shared_data`` fixture: they skip
on a user's clone and fail in CI when the data is missing.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from align_cli.tools.transfer import is_tag, split_tokens
from tests.paths import EXAMPLES, SYNTHETIC


def run_example(name: str, *args: object, cwd: Path) -> str:
    completed = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout + completed.stderr


@pytest.fixture()
def synthetic_model() -> Path:
    # Committed with the repository (unlike ../shared/data): its absence is a failure.
    assert (SYNTHETIC / "fwd").is_dir(), f"the synthetic model is missing from {SYNTHETIC}"
    return SYNTHETIC


def well_nested(text: str) -> bool:
    stack: list[str] = []
    for token in split_tokens(text):
        if is_tag(token) and not token.endswith("/>"):
            name = token.strip("</>").split()[0]
            if not token.startswith("</"):
                stack.append(name)
            elif not stack or stack.pop() != name:
                return False
    return not stack


def test_align_and_score_hansards(shared_data, tmp_path):
    output = run_example(
        "align_and_score_hansards.py", "--lines", "25", "--out", tmp_path, cwd=tmp_path
    )
    # The three steps ran, with the gold read 1-based, and the scores were printed.
    assert "$ xalign extract -i" in output
    assert re.search(r"\$ xalign eval .* --gold-one-based", output)
    assert re.search(r"AER %\s*│\s*\d+\.\d\d", output)
    assert len((tmp_path / "enfr.pred.txt").read_text().splitlines()) == 25
    assert (tmp_path / "worst.png").stat().st_size > 10_000


@pytest.fixture(scope="module")
def untrained_model(shared_data, tmp_path_factory) -> Path:
    """The examples' untrained model, built once here (the Hansards test builds its own)."""
    sys.path.insert(0, str(EXAMPLES))
    try:
        import _helpers
    finally:
        sys.path.remove(str(EXAMPLES))
    return _helpers.build_untrained_marian(tmp_path_factory.mktemp("untrained"))


def test_big_file_with_resume(untrained_model, tmp_path):
    output = run_example(
        "big_file_with_resume.py",
        *("--pairs", 400, "--window", 50, "--model", untrained_model, "--out", tmp_path),
        cwd=tmp_path,
    )
    # Interrupted after two windows at least (or, on a fast machine, finished first).
    assert re.search(r"interrupted: train.align.partial holds \d+ complete lines", output) or (
        "finished before it could be interrupted" in output
    )
    assert "--resume" in output
    assert "resumed output identical to an uninterrupted run: True" in output
    assert len((tmp_path / "train.align").read_text().splitlines()) == 400
    assert not (tmp_path / "train.align.partial").exists()


def test_transfer_tags(shared_data, synthetic_model, tmp_path):
    output = run_example("transfer_tags.py", cwd=tmp_path)
    tagged = [line.split(":", 1)[1] for line in output.splitlines() if "tagged:" in line]
    tagged += [line.split(":", 1)[1] for line in output.splitlines() if "model:" in line]
    assert "<b>produits forestiers</b> <x/> ." in tagged[0]
    assert len(tagged) == 4
    for text in tagged:
        assert well_nested(text) and text.count("<x/>") == 1, text


def test_python_api(synthetic_model, tmp_path):
    output = run_example("python_api.py", cwd=tmp_path)
    assert "columns sum to 1: True" in output
    aer = float(re.search(r"held-out pairs: AER (\d+\.\d)%", output).group(1))
    assert 0 <= aer < 50  # a trained model aligns its own language far better than chance
    low, high = map(float, re.search(r"AER 95% interval: (\S+) to (\S+)", output).groups())
    assert low <= aer <= high  # the interval holds the score it is drawn around
    assert re.search(r"default - argmax: AER [+-]\d+\.\d\d points, .*p = [01]\.\d{3}", output)
    figure = re.search(r"figure: (\S+\.png)", output)
    assert figure and Path(figure.group(1)).stat().st_size > 5_000


def test_examples_skip_politely_without_the_shared_data(tmp_path, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    import _helpers
    import align_and_score_hansards

    monkeypatch.setattr(_helpers, "SHARED_DATA", tmp_path / "absent")
    monkeypatch.setattr(sys, "argv", ["align_and_score_hansards.py"])
    with pytest.raises(SystemExit) as stopped:
        align_and_score_hansards.main()
    assert stopped.value.code == 0
    assert "skipped: this example needs" in capsys.readouterr().out
