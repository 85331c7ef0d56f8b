"""Aggregation stage: token-level attention to word-level score matrices.

Input is the head- and layer-averaged attention ``[batch, decoder_rows, src_tokens]`` from
:mod:`align_cli.attention`. Three choices turn it into one ``[n_src_words, n_tgt_words]``
matrix per sentence:

* **Shift-Att** (Chen et al. 2020): the decoder input is ``[start] + target tokens``, so
  row ``r`` *predicts* target token ``r`` and *reads* target token ``r - 1``. Without
  shift, target token ``p`` takes row ``p`` (where it is predicted); with shift it takes
  row ``p + 1`` (where it is the input), which often aligns better in layers that have
  already seen the token.
* **Pooling** of subword pieces into the user's words, on both sides: ``mean``, ``max``
  or ``sum``.
* **Special tokens** (EOS, language tags, task prefixes, the decoder start) are dropped,
  and each target word's row is renormalised over the real source words, so the mass a
  head parks on EOS does not decide which word wins.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from align_cli.errors import XalignError
from align_cli.settings import POOLINGS

_REDUCE = {"mean": "mean", "max": "amax", "sum": "sum"}


@dataclass(frozen=True)
class WordMaps:
    """Token-to-word maps for a padded batch (-1 marks special and padding tokens)."""

    src_word_of_token: torch.Tensor  # int64 [batch, src_len]
    tgt_word_of_token: torch.Tensor  # int64 [batch, tgt_len]  (label positions)
    n_src_words: int  # max over the batch
    n_tgt_words: int


def pool_axis(
    values: torch.Tensor, owner: torch.Tensor, n_words: int, pooling: str, axis: int
) -> torch.Tensor:
    """Pool ``values`` along ``axis`` (1 or 2) into ``n_words`` slots given by ``owner``.

    ``owner[b, k]`` is the word of position ``k`` or -1; positions owned by -1 vanish.
    Words with no position stay 0.
    """
    if pooling not in _REDUCE:
        raise XalignError(f"unknown pooling {pooling!r}; choose one of {', '.join(POOLINGS)}")
    # Slot 0 collects the unowned positions and is dropped afterwards.
    slots = owner + 1
    index = slots.unsqueeze(2) if axis == 1 else slots.unsqueeze(1)
    index = index.expand_as(values)
    shape = list(values.shape)
    shape[axis] = n_words + 1
    pooled = torch.zeros(shape, dtype=values.dtype, device=values.device)
    pooled.scatter_reduce_(axis, index, values, reduce=_REDUCE[pooling], include_self=False)
    return pooled.narrow(axis, 1, n_words)


def decoder_row_owner(tgt_word_of_token: torch.Tensor, n_rows: int, shift: bool) -> torch.Tensor:
    """The target word each decoder row stands for (-1 for none).

    Row ``p`` predicts label ``p``; with Shift-Att label ``p`` is read at row ``p + 1``.
    """
    batch, n_labels = tgt_word_of_token.shape
    owner = torch.full((batch, n_rows), -1, dtype=torch.long, device=tgt_word_of_token.device)
    offset = 1 if shift else 0
    width = min(n_labels, n_rows - offset)
    owner[:, offset : offset + width] = tgt_word_of_token[:, :width]
    return owner


def word_scores(
    attention: torch.Tensor, maps: WordMaps, *, shift: bool, pooling: str
) -> torch.Tensor:
    """Word-level matrices ``[batch, n_tgt_words, n_src_words]``, rows summing to 1.

    A row is target word ``j``'s distribution over the source words (all zero when the
    word has no subword piece).
    """
    rows = decoder_row_owner(maps.tgt_word_of_token, attention.shape[1], shift)
    by_target = pool_axis(attention, rows, maps.n_tgt_words, pooling, axis=1)
    scores = pool_axis(by_target, maps.src_word_of_token, maps.n_src_words, pooling, axis=2)
    mass = scores.sum(dim=2, keepdim=True)
    return scores / mass.clamp_min(torch.finfo(scores.dtype).tiny)


def null_scores(
    attention: torch.Tensor,
    maps: WordMaps,
    src_mask: torch.Tensor,
    *,
    shift: bool,
    pooling: str,
) -> torch.Tensor:
    """Each target word's attention on the source's special tokens (its "null"),
    ``[batch, n_tgt_words]``, on the scale of :func:`word_scores`' rows.

    The special tokens are the real source tokens that belong to no word (end of
    sentence, language tags); they are pooled as one extra source word would be, and
    divided by the same row mass :func:`word_scores` divides by, so that
    ``null[j] > scores[j].max()`` says the null outweighs every source word.
    """
    rows = decoder_row_owner(maps.tgt_word_of_token, attention.shape[1], shift)
    by_target = pool_axis(attention, rows, maps.n_tgt_words, pooling, axis=1)
    words = pool_axis(by_target, maps.src_word_of_token, maps.n_src_words, pooling, axis=2)
    special = (maps.src_word_of_token < 0) & src_mask.bool()
    # Every special token is owned by slot 0, everything else (words, padding) by none.
    null_owner = torch.where(special, 0, -1)
    null = pool_axis(by_target, null_owner, 1, pooling, axis=2).squeeze(2)
    mass = words.sum(dim=2)
    return null / mass.clamp_min(torch.finfo(words.dtype).tiny)


def sentence_matrix(scores: torch.Tensor, n_src: int, n_tgt: int) -> np.ndarray:
    """One sentence's ``[n_src, n_tgt]`` numpy matrix (source rows) from a batch row."""
    return scores[:n_tgt, :n_src].T.cpu().numpy()
