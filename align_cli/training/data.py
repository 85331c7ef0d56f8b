"""Training data: a corpus and its teacher links, streamed into shuffled batches.

Memory depends on the shuffle window, never on the corpus: pairs are read with their
teacher links, encoded exactly as ``xalign extract`` encodes them
(:class:`~align_cli.stages.subwords.PairEncoder`), gathered into windows, and each window
is sorted by length (little padding), cut into batches under a pair and a token budget
(:func:`~align_cli.stages.batching.padded_batches`) and its batches are shuffled. The
order depends only on the seed, the epoch and the window's index, so a resumed run can
skip the batches it already trained on and see the rest in the same order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from align_cli.stages.batching import (
    EncodedPair,
    TeacherForcedBatch,
    pad,
    padded_batches,
    teacher_forced_batch,
    windows,
)
from align_cli.stages.subwords import PairEncoder
from align_cli.training.targets import alignment_targets, decoder_row_targets
from align_cli.types import Link, SentencePair

IGNORED_LABEL = -100  # what torch's cross-entropy skips


@dataclass(frozen=True)
class Example:
    """One encoded pair and the word links it is taught."""

    encoded: EncodedPair
    links: frozenset[Link]

    @property
    def cost(self) -> int:
        return self.encoded.cost


@dataclass
class SkipCounter:
    """Pairs left out of training, by reason."""

    empty: int = 0
    too_long: int = 0


def encode_examples(
    pairs: Iterable[tuple[SentencePair, frozenset[Link]]],
    encoder: PairEncoder,
    length_limit: int,
    skipped: SkipCounter,
) -> Iterator[Example]:
    """Encode each pair; pairs with an empty side or too long for the model are counted
    in ``skipped`` and left out."""
    for pair, links in pairs:
        if not pair.src_words or not pair.tgt_words:
            skipped.empty += 1
            continue
        encoded = EncodedPair(
            pair, encoder.source.encode(pair.src_words), encoder.target.encode(pair.tgt_words)
        )
        if max(len(encoded.src.ids), len(encoded.tgt.ids) + 1) > length_limit:
            skipped.too_long += 1
            continue
        yield Example(encoded, links)


def shuffled_batches(
    examples: Iterable[Example],
    *,
    seed: int,
    epoch: int,
    window: int,
    batch_size: int,
    max_tokens: int,
) -> Iterator[list[Example]]:
    """Batches of similar length, in an order fixed by ``(seed, epoch, window index)``."""
    for index, chunk in enumerate(windows(examples, window)):  # type: ignore[arg-type]
        rng = np.random.default_rng([seed, epoch, index])
        # A random permutation first, so that pairs of equal length are ordered at random
        # by the (stable) sort.
        shuffled = [chunk[k] for k in rng.permutation(len(chunk))]
        shuffled.sort(key=lambda example: example.cost)
        batches = list(padded_batches(shuffled, lambda e: e.cost, batch_size, max_tokens))
        for k in rng.permutation(len(batches)):
            yield batches[int(k)]


@dataclass(frozen=True)
class TrainingBatch:
    """The tensors of one training step, on the model's device."""

    forced: TeacherForcedBatch  # source, its mask, decoder input, piece-to-word maps
    slots: torch.Tensor  # int64 [batch, src_len]: each source token's word, or the null
    targets: torch.Tensor  # float32 [batch, decoder_rows, n_slots]: taught distributions
    taught: torch.Tensor  # bool [batch, decoder_rows]: rows with a target
    labels: torch.Tensor  # int64 [batch, decoder_rows]: next tokens, IGNORED_LABEL elsewhere
    pairs: int


def collate(
    batch: list[Example],
    *,
    start_id: int,
    pad_id: int,
    device: torch.device,
    null: bool,
    shift: bool,
) -> TrainingBatch:
    encoded = [example.encoded for example in batch]
    forced = teacher_forced_batch(encoded, start_id=start_id, pad_id=pad_id, device=device)
    rows = forced.decoder_ids.shape[1]
    null_slot = forced.maps.n_src_words  # one past the widest sentence's words
    # Padding takes the null slot too: its attention is exactly 0, so it adds nothing.
    slots = pad(
        [np.where(e.src.word_of_token >= 0, e.src.word_of_token, null_slot) for e in encoded],
        null_slot,
    )
    per_pair = [
        alignment_targets(e.src, e.tgt, example.links, null=null)
        for e, example in zip(encoded, batch, strict=True)
    ]
    targets = decoder_row_targets(per_pair, rows, null_slot + 1, shift=shift)
    labels = np.full((len(batch), rows), IGNORED_LABEL, dtype=np.int64)
    for row, e in enumerate(encoded):
        labels[row, : len(e.tgt.ids)] = e.tgt.ids  # row p predicts target token p
    targets_tensor = torch.from_numpy(targets).to(device)
    return TrainingBatch(
        forced=forced,
        slots=slots.to(device),
        targets=targets_tensor,
        taught=targets_tensor.sum(dim=-1) > 0,
        labels=torch.from_numpy(labels).to(device),
        pairs=len(batch),
    )


CorpusReader = Callable[[], Iterable[tuple[SentencePair, frozenset[Link]]]]
