"""Shared fixtures.

Tests that read the real data in ``../shared/data`` skip with a reason on a user's clone,
where that folder does not exist. CI sets ``XALIGN_REQUIRE_SHARED_DATA=1`` so that a
missing folder fails the run instead of silently skipping the tests that matter most.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if SHARED_DATA.is_dir():
        return SHARED_DATA
    message = f"real data folder {SHARED_DATA} is not present"
    if os.environ.get("XALIGN_REQUIRE_SHARED_DATA") == "1":
        pytest.fail(message + " (XALIGN_REQUIRE_SHARED_DATA=1 requires it)")
    pytest.skip(message)
