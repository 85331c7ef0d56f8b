"""Where the tests find things: the repository, its test data, and the real data in
``../shared/data`` beside it (absent on a user's clone; see ``conftest.shared_data``)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
DATA = TESTS / "data"
SYNTHETIC = DATA / "synthetic"
EXAMPLES = ROOT / "examples"
BENCHMARKS = ROOT / "benchmarks"
SHARED_DATA = ROOT.parent / "shared" / "data"
