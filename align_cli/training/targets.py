"""Subword targets from word links: what distribution each decoder row is taught.

The teacher links words; the head attends from decoder rows to source tokens. Targets
are distributions over source *words* plus a null: the head's attention is summed over
each word's pieces before the loss (:func:`source_slots`), so a word may take its mass
on whichever of its pieces the model prefers, as extraction's ``sum`` pooling reads it
(teaching every piece an equal share instead forces the attention to spread, and fits
worse: README, "Training a model to align"). Every piece of target word ``j`` with
linked source words ``L`` is taught the uniform distribution over ``L`` (Garg et al.
2019 normalise the alignment matrix the same way). A target word the teacher leaves
unaligned is either taught to attend to the null, the source's special tokens (its
``</s>``; extraction then reads "most attention on the null" as unaligned), or not
taught at all. Special target tokens (the final ``</s>``) are never taught.

Row ``r`` of the decoder predicts target token ``r`` (``shift=False``) or reads it
(``shift=True``, one row later), as :func:`align_cli.stages.aggregation.decoder_row_owner`
maps them for extraction: training teaches the rows extraction reads.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from align_cli.errors import ModelError
from align_cli.stages.subwords import EncodedSide
from align_cli.types import Link


def source_slots(src: EncodedSide) -> np.ndarray:
    """Each source token's slot: its word, or ``src.n_words`` (the null) for a special
    token. Attention is summed per slot before the loss, so a word may take its mass on
    any of its pieces, as extraction's ``sum`` pooling reads it."""
    owners = src.word_of_token
    return np.where(owners >= 0, owners, src.n_words).astype(np.int64)


def alignment_targets(
    src: EncodedSide, tgt: EncodedSide, links: Iterable[Link], *, null: bool
) -> np.ndarray:
    """``[len(tgt.ids), src.n_words + 1]`` float32: row ``p`` is target token ``p``'s
    taught distribution over the source words and, last, the null (the source's special
    tokens); all zeros where nothing is taught."""
    if null and not (src.word_of_token < 0).any():
        raise ModelError(
            "the source side has no special token (such as </s>) to teach unaligned words "
            "to attend to; train without --null"
        )
    targets = np.zeros((len(tgt.ids), src.n_words + 1), dtype=np.float32)
    sources_of: dict[int, list[int]] = {}
    for i, j in links:
        sources_of.setdefault(j, []).append(i)
    has_pieces = np.zeros(src.n_words + 1, dtype=bool)
    has_pieces[src.word_of_token[src.word_of_token >= 0]] = True
    for position, word in enumerate(tgt.word_of_token):
        if word < 0:
            continue
        # A word without pieces (a zero-width space) cannot be attended to.
        linked = [i for i in sources_of.get(int(word), ()) if has_pieces[i]]
        if linked:
            targets[position, linked] = 1.0 / len(linked)
        elif null:
            targets[position, src.n_words] = 1.0
    return targets


def decoder_row_targets(
    per_pair: list[np.ndarray], decoder_rows: int, n_slots: int, *, shift: bool
) -> np.ndarray:
    """Pad each pair's :func:`alignment_targets` into ``[batch, decoder_rows, n_slots]``,
    target token ``p`` at row ``p`` (``p + 1`` with Shift-Att), its null moved to the
    last slot (``n_slots - 1``)."""
    out = np.zeros((len(per_pair), decoder_rows, n_slots), dtype=np.float32)
    offset = 1 if shift else 0
    for row, targets in enumerate(per_pair):
        n_tgt, width = targets.shape
        usable = min(n_tgt, decoder_rows - offset)
        out[row, offset : offset + usable, : width - 1] = targets[:usable, :-1]
        out[row, offset : offset + usable, n_slots - 1] = targets[:usable, -1]
    return out
