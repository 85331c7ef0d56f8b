"""Shared fixtures.

Tests that read the real data in ``../shared/data`` skip with a reason on a user's clone,
where that folder does not exist. CI sets ``XALIGN_REQUIRE_SHARED_DATA=1`` so that a
missing folder fails the run instead of silently skipping the tests that matter most.

The model fixtures build tiny models once per session, on first use; a module whose
tests run those models puts ``pytestmark = pytest.mark.usefixtures("one_thread")`` at its
top. Nothing here imports torch until a fixture that needs it is used.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.paths import SHARED_DATA

if TYPE_CHECKING:
    from tests.families import FamilyModels


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if SHARED_DATA.is_dir():
        return SHARED_DATA
    message = f"real data folder {SHARED_DATA} is not present"
    if os.environ.get("XALIGN_REQUIRE_SHARED_DATA") == "1":
        pytest.fail(message + " (XALIGN_REQUIRE_SHARED_DATA=1 requires it)")
    pytest.skip(message)


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """torch on one thread for the whole module (see :func:`tests.families.single_thread`)."""
    from tests.families import single_thread

    with single_thread():
        yield


@pytest.fixture(scope="session")
def family_models(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> FamilyModels:
    """One tiny model folder per family (``tests/families.py``), each built on first use."""
    from tests.families import FamilyModels

    return FamilyModels(tmp_path_factory.mktemp("families"), shared_data)


@pytest.fixture(scope="session")
def bert_dir(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    """The tiny random-weight BERT of ``tests/embedding_fixtures.py`` (8 layers, so that
    SimAlign's default layer 8 exists)."""
    from tests.embedding_fixtures import build_tiny_bert
    from tests.families import single_thread

    with single_thread():
        return build_tiny_bert(tmp_path_factory.getbasetemp() / "tiny-bert", shared_data)
