"""The one interface every aligner has, whichever model and method is behind it.

An aligner turns a stream of :class:`~align_cli.types.SentencePair` into a stream of
:class:`~align_cli.types.AlignmentResult` in the same order, one result per pair, and
says in :attr:`signature` exactly what produced them. The jobs (local and Ray runs), the
tools (show, transfer) and the API only ever talk to this interface.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Protocol, runtime_checkable

from align_cli.io.corpus import pairs_from_texts
from align_cli.signature import Signature
from align_cli.types import AlignmentResult, SentencePair


@runtime_checkable
class Aligner(Protocol):
    """Aligns sentence pairs. ``include_matrix`` is the default for :meth:`align_pairs`."""

    include_matrix: bool

    @property
    def signature(self) -> Signature: ...

    def align_pairs(
        self, pairs: Iterable[SentencePair], *, include_matrix: bool | None = None
    ) -> Iterator[AlignmentResult]:
        """Align every pair, yielding results in input order (one per pair);
        ``include_matrix`` overrides the aligner's default for this call."""
        ...

    def align_texts(
        self,
        sources: Sequence[str] | Sequence[Sequence[str]],
        targets: Sequence[str] | Sequence[Sequence[str]],
    ) -> list[AlignmentResult]:
        """Align in-memory sentences (strings are split on whitespace; lists are words)."""
        return list(self.align_pairs(pairs_from_texts(sources, targets)))
