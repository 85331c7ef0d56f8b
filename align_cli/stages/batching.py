"""Batching stage: windows of pairs, length-sorted batches under a token budget, padding.

Pairs are read in windows; inside a window they are sorted by length so that batches carry
little padding, batched under a pair budget and a padded-token budget, and put back in
input order by the aligner: memory depends on the window, never on the corpus. Both
aligner paths and the sweep batch through these functions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch

from align_cli.stages.aggregation import WordMaps
from align_cli.stages.subwords import EncodedSide
from align_cli.types import SentencePair

T = TypeVar("T")


@dataclass(frozen=True)
class EncodedPair:
    """A sentence pair with both sides tokenized."""

    pair: SentencePair
    src: EncodedSide
    tgt: EncodedSide

    @property
    def cost(self) -> int:
        """Tokens a teacher-forced pass handles: source, target and the decoder start."""
        return len(self.src.ids) + len(self.tgt.ids) + 1

    @property
    def width(self) -> int:
        """The longer side's tokens: what the model's length limit applies to."""
        return max(len(self.src.ids), len(self.tgt.ids))


def windows(pairs: Iterable[SentencePair], size: int) -> Iterator[list[SentencePair]]:
    """Consecutive lists of ``size`` pairs (the last may be shorter)."""
    window: list[SentencePair] = []
    for pair in pairs:
        window.append(pair)
        if len(window) >= size:
            yield window
            window = []
    if window:
        yield window


def padded_batches(
    items: Sequence[T], cost: Callable[[T], int], max_items: int, max_tokens: int
) -> Iterator[list[T]]:
    """Consecutive runs of ``items`` within an item budget and a padded-token budget.

    A run's padded size is its length times its largest ``cost``; ``items`` should come
    sorted by cost so that runs carry little padding. An item over the token budget on
    its own still gets a run of its own: budgets bound batches, they never drop work.
    """
    batch: list[T] = []
    widest = 0
    for item in items:
        widest_if_added = max(widest, cost(item))
        if batch and (len(batch) >= max_items or widest_if_added * (len(batch) + 1) > max_tokens):
            yield batch
            batch, widest_if_added = [], cost(item)
        batch.append(item)
        widest = widest_if_added
    if batch:
        yield batch


def pad(rows: Sequence[np.ndarray], value: int) -> torch.Tensor:
    """Right-pad 1-D integer rows with ``value`` into one ``[len(rows), longest]`` tensor."""
    width = max(len(row) for row in rows)
    out = np.full((len(rows), width), value, dtype=np.int64)
    for index, row in enumerate(rows):
        out[index, : len(row)] = row
    return torch.from_numpy(out)


@dataclass(frozen=True)
class TeacherForcedBatch:
    """The tensors of one teacher-forced pass, on the model's device."""

    src_ids: torch.Tensor  # [batch, src_len]
    src_mask: torch.Tensor  # [batch, src_len], 1 for real tokens
    decoder_ids: torch.Tensor  # [batch, 1 + tgt_len]: the start token, then the target
    maps: WordMaps


def teacher_forced_batch(
    batch: Sequence[EncodedPair], *, start_id: int, pad_id: int, device: torch.device
) -> TeacherForcedBatch:
    """Pad a batch of pairs for the encoder and the decoder, with its piece-to-word maps."""
    return TeacherForcedBatch(
        src_ids=pad([e.src.ids for e in batch], pad_id).to(device),
        src_mask=pad([np.ones_like(e.src.ids) for e in batch], 0).to(device),
        decoder_ids=pad([np.concatenate(([start_id], e.tgt.ids)) for e in batch], pad_id).to(
            device
        ),
        maps=WordMaps(
            src_word_of_token=pad([e.src.word_of_token for e in batch], -1).to(device),
            tgt_word_of_token=pad([e.tgt.word_of_token for e in batch], -1).to(device),
            n_src_words=max(e.src.n_words for e in batch),
            n_tgt_words=max(e.tgt.n_words for e in batch),
        ),
    )
