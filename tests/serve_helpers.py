"""Shared pieces of the ``xalign serve`` tests: the synthetic model loaded once per test
process, an aligner whose runs can be held back (to fill the queue on purpose), and a
service on a loopback port.

The model is cached at module level rather than in a session fixture because the
fixtures file is shared with other work; every serve test module gets the same loaded
model from :func:`synthetic_aligner`.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable, Iterator

from align_cli.aligners.base import Aligner
from align_cli.settings import AlignerSpec
from align_cli.types import AlignmentResult, SentencePair
from tests.paths import ROOT

SYNTHETIC = ROOT / "tests" / "data" / "synthetic"
MODEL = str(SYNTHETIC / "fwd")


def heldout_pairs(count: int) -> list[tuple[str, str]]:
    """The first ``count`` held-out (source, target) pairs of the synthetic language."""
    lines = (SYNTHETIC / "heldout.src-tgt").read_text(encoding="utf-8").splitlines()[:count]
    return [tuple(part.strip() for part in line.split("|||")) for line in lines]  # type: ignore[misc]


def synthetic_spec() -> AlignerSpec:
    return AlignerSpec(model=MODEL)


@functools.cache
def synthetic_aligner() -> Aligner:
    """The default aligner of the bundled synthetic model, loaded once per process."""
    from align_cli.aligners.factory import build_aligner

    return build_aligner(synthetic_spec())


class GatedAligner:
    """Wraps an aligner: each run waits until :attr:`gate` is set, and is recorded.

    With the gate closed the worker is blocked inside its first run, so the test decides
    exactly what is waiting in the queue.
    """

    def __init__(self, inner: Aligner):
        self.inner = inner
        self.include_matrix = inner.include_matrix
        self.gate = threading.Event()
        self.entered = threading.Event()  # a run has started (and waits at the gate)
        self.runs: list[int] = []  # pairs per run

    @property
    def signature(self):  # type: ignore[no-untyped-def]
        return self.inner.signature

    def align_pairs(
        self, pairs: Iterable[SentencePair], *, include_matrix: bool | None = None
    ) -> Iterator[AlignmentResult]:
        pairs = list(pairs)
        self.entered.set()
        if not self.gate.wait(timeout=30):
            raise TimeoutError("the test never opened the gate")
        self.runs.append(len(pairs))
        return self.inner.align_pairs(pairs, include_matrix=include_matrix)
