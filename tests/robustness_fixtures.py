"""Shared pieces of the robustness tests: one tiny model per session, real corpus lines."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.marian_fixtures import build_tiny_marian
from tests.paths import SHARED_DATA

NEWSTEST = SHARED_DATA / "corpora" / "newstest"
_MODEL_CACHE: dict[str, str] = {}


def tiny_model(tmp_path_factory) -> str:
    """A tiny random Marian (real OPUS tokenizer), built once per test session."""
    if "dir" not in _MODEL_CACHE:
        _MODEL_CACHE["dir"] = str(build_tiny_marian(tmp_path_factory.mktemp("tiny-marian")))
    return _MODEL_CACHE["dir"]


def newstest_pairs(count: int, *, offset: int = 0) -> tuple[list[str], list[str]]:
    """``count`` real French/English sentence pairs from newstest2009 (split on \\n only)."""
    fr = (NEWSTEST / "newstest2009.fr").read_bytes().decode("utf-8").split("\n")
    en = (NEWSTEST / "newstest2009.en").read_bytes().decode("utf-8").split("\n")
    return fr[offset : offset + count], en[offset : offset + count]


def write_parallel(folder: Path, sources: list[str], targets: list[str]) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    src, tgt = folder / "corpus.fr", folder / "corpus.en"
    src.write_bytes("".join(line + "\n" for line in sources).encode("utf-8"))
    tgt.write_bytes("".join(line + "\n" for line in targets).encode("utf-8"))
    return src, tgt


def write_joined(
    folder: Path, sources: list[str], targets: list[str], name: str = "corpus.fr-en"
) -> Path:
    path = folder / name
    path.write_bytes(
        "".join(f"{s} ||| {t}\n" for s, t in zip(sources, targets, strict=True)).encode("utf-8")
    )
    return path


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run torch on one thread, as Ray's CPU actors do, and restore the setting after.

    On a machine whose cores are shared with other work, torch's intra-op threads can wait
    on each other for a hundred times longer than the computation takes; one thread keeps
    these tests fast and their timing steady.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def subprocess_environment() -> dict[str, str]:
    """The environment for a real ``xalign`` child process (one torch thread, see above)."""
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
