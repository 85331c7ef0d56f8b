"""Embedding path: word alignments from an encoder-only model (SimAlign, awesome-align).

With an encoder such as mBERT, XLM-R or LaBSE there is no cross-attention to read.
Instead both sentences are embedded separately, the hidden states of one layer are
compared, and the links are read off the similarity matrix (Jalili Sabet et al. 2020,
"SimAlign"; Dou & Neubig 2021, "awesome-align"):

* **Layer**: hidden state ``layer`` in the numbering of ``output_hidden_states`` (0 is the
  embedding output, ``k`` the output of the ``k``-th block). SimAlign and awesome-align
  both default to 8. The forward pass stops after that block (a hook raises once it
  has run), so the blocks above it cost nothing.
* **Granularity**: ``word`` averages each word's subword vectors before comparing
  (SimAlign's ``token_type="word"``); ``subword`` compares the pieces themselves, extracts
  at that level and links two words when any of their pieces are linked (SimAlign's
  ``"bpe"``, and awesome-align's only mode). Special tokens ([CLS], [SEP], <s>) are never
  compared.
* **Similarity**: cosine mapped to [0, 1] as ``(cos + 1) / 2``, as SimAlign does. The
  shift matters for ``itermax``, which down-weights cells by a factor and so is not
  invariant to adding a constant. ``softmax_threshold`` works on raw dot products,
  as awesome-align does (a softmax over cosines in [0, 1] would be nearly flat).

Pairs are read in windows and sorted by length inside a window, as in the attention path.
An encoder embeds each sentence on its own, so the forward passes batch *sentences*, not
pairs: the source and target sentences of a chunk of pairs are sorted by their own
lengths and batched under the token budget, which cuts the padding a batch of pairs would
carry (a French sentence is longer than its English source, for one) from about 25% of
the tokens to a few percent. Similarities are then computed batched on the model's
device, a batch of pairs at a time, and come back to the CPU once per batch.
Results are yielded in input order, with the same :class:`AlignmentResult` (and the same
``skipped`` handling for pairs longer than the model takes) as the attention path's
:class:`~align_cli.aligners.attention.AttentionAligner`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import torch
from torch.nn.utils.rnn import pad_sequence

from align_cli.aligners.base import Aligner
from align_cli.model.loading import LoadedModel
from align_cli.settings import BatchingSettings, EmbeddingSettings
from align_cli.signature import Signature, alignment_signature
from align_cli.stages.aggregation import pool_axis
from align_cli.stages.batching import EncodedPair, pad, padded_batches, windows
from align_cli.stages.extraction import extract, links_from_mask
from align_cli.stages.hidden_states import HiddenStateReader
from align_cli.stages.subwords import EncodedSide, SideEncoder
from align_cli.types import AlignmentResult, SentencePair

# A chunk of pairs embedded together holds this many batches' token budget.
CHUNK_TOKENS_PER_BATCH = 8


def _unit(vectors: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.normalize(vectors, dim=-1)


def _cosine01(src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
    """SimAlign's similarity ``(cos + 1) / 2``, batched: ``[n, a, h] x [n, b, h] -> [n, a, b]``."""
    return (torch.bmm(_unit(src), _unit(tgt).transpose(1, 2)) + 1.0) / 2.0


def _has_pieces(side: EncodedSide) -> np.ndarray:
    """Which words got at least one piece (a tokenizer may drop a word entirely)."""
    owners = side.word_of_token[side.word_of_token >= 0]
    return np.bincount(owners, minlength=side.n_words) > 0


class EmbeddingAligner(Aligner):
    """An encoder model plus settings; call :meth:`align_pairs` on a stream of pairs.

    The embedding path behind the :class:`~align_cli.aligners.base.Aligner` interface.
    """

    def __init__(
        self,
        loaded: LoadedModel,
        settings: EmbeddingSettings | None = None,
        batching: BatchingSettings | None = None,
        *,
        include_matrix: bool = False,
    ):
        self.loaded = loaded
        self.settings = settings or EmbeddingSettings()
        self.batching = batching or BatchingSettings()
        self.include_matrix = include_matrix
        # Both sides are plain sentences to an encoder: the target side is not tokenized
        # as a decoder label sequence.
        self.encoder = SideEncoder(loaded.tokenizer, target=False)
        self.length_limit = self.batching.max_length or loaded.length_limit
        pad = loaded.tokenizer.pad_token_id
        self.pad_id = int(pad if pad is not None else 0)
        self.reader = HiddenStateReader(loaded.model, self.settings.layer, repr(loaded.name))
        probe = self.encoder.encode(["alignment", "probe"]).ids
        self.reader.verify(torch.from_numpy(probe[None, :]).to(loaded.device))

    @property
    def signature(self) -> Signature:
        """What the alignments depend on (:mod:`align_cli.signature`)."""
        return alignment_signature(
            model=self.loaded.name,
            revision=self.loaded.revision,
            settings=self.settings.describe(),
            symmetrize=None,
            dtype=self.loaded.dtype_name,
            device=self.loaded.device.type,
        )

    # -- public API -------------------------------------------------------------------

    def align_pairs(
        self, pairs: Iterable[SentencePair], *, include_matrix: bool | None = None
    ) -> Iterator[AlignmentResult]:
        """Align every pair, yielding results in input order (one per pair)."""
        with_matrix = self.include_matrix if include_matrix is None else include_matrix
        for window in windows(pairs, self.batching.window):
            yield from self._align_window(window, with_matrix)

    # -- internals --------------------------------------------------------------------

    def _align_window(self, window: list[SentencePair], with_matrix: bool) -> list[AlignmentResult]:
        results: list[AlignmentResult | None] = [None] * len(window)
        todo: list[tuple[int, EncodedPair]] = []
        for slot, pair in enumerate(window):
            if not pair.src_words or not pair.tgt_words:
                results[slot] = AlignmentResult(
                    pair, matrix=_zero_matrix(pair) if with_matrix else None
                )
                continue
            encoded = EncodedPair(
                pair, self.encoder.encode(pair.src_words), self.encoder.encode(pair.tgt_words)
            )
            if encoded.width > self.length_limit:
                reason = f"{encoded.width} tokens, more than the model's {self.length_limit}"
                results[slot] = AlignmentResult(pair, skipped=reason)
                continue
            todo.append((slot, encoded))
        todo.sort(key=lambda item: item[1].width)
        size = self.batching.batch_size
        for chunk in self._chunks(todo):
            pairs = [encoded for _, encoded in chunk]
            states = self._embed([e.src for e in pairs] + [e.tgt for e in pairs])
            src_states, tgt_states = states[: len(pairs)], states[len(pairs) :]
            for start in range(0, len(pairs), size):
                stop = start + size
                batch = self._align_batch(
                    pairs[start:stop], src_states[start:stop], tgt_states[start:stop], with_matrix
                )
                for (slot, _), result in zip(chunk[start:stop], batch, strict=True):
                    results[slot] = result
        return results  # type: ignore[return-value]

    def _chunks(
        self, todo: list[tuple[int, EncodedPair]]
    ) -> Iterator[list[tuple[int, EncodedPair]]]:
        """Consecutive runs of pairs whose hidden states are held at once.

        A chunk holds at most ``CHUNK_TOKENS_PER_BATCH`` batches' worth of tokens: enough
        sentences to sort into batches with little padding, few enough that their states
        (tokens x hidden size floats) stay small whatever the window size.
        """
        budget = CHUNK_TOKENS_PER_BATCH * self.batching.max_tokens
        chunk: list[tuple[int, EncodedPair]] = []
        tokens = 0
        for item in todo:
            size = len(item[1].src.ids) + len(item[1].tgt.ids)
            if chunk and tokens + size > budget:
                yield chunk
                chunk, tokens = [], 0
            chunk.append(item)
            tokens += size
        if chunk:
            yield chunk

    def _embed(self, sides: list[EncodedSide]) -> list[torch.Tensor]:
        """Each sentence's ``[tokens, hidden]`` float32 states at the chosen layer.

        Sentences run shortest first, in batches of at most twice the pair batch size and
        under the padded-token budget.
        """
        device = self.loaded.device
        order = sorted(range(len(sides)), key=lambda k: len(sides[k].ids))
        states: list[torch.Tensor | None] = [None] * len(sides)
        batches = padded_batches(
            order,
            lambda k: len(sides[k].ids),
            2 * self.batching.batch_size,
            self.batching.max_tokens,
        )
        for rows in batches:
            ids = pad([sides[k].ids for k in rows], self.pad_id).to(device)
            mask = pad([np.ones_like(sides[k].ids) for k in rows], 0).to(device)
            # Similarities in float32 whatever the model's dtype: argmax decisions between
            # close cosines should not depend on bfloat16 rounding.
            hidden = self.reader(ids, mask).float()
            for row, k in enumerate(rows):
                states[k] = hidden[row, : len(sides[k].ids)]
        return states  # type: ignore[return-value]

    @torch.inference_mode()
    def _align_batch(
        self,
        batch: list[EncodedPair],
        src_states: list[torch.Tensor],
        tgt_states: list[torch.Tensor],
        with_matrix: bool,
    ) -> list[AlignmentResult]:
        device = self.loaded.device
        # Padding positions get zero vectors, which own no word and compare as 0.
        src_hidden = pad_sequence(src_states, batch_first=True)
        tgt_hidden = pad_sequence(tgt_states, batch_first=True)
        src_owner = pad([e.src.word_of_token for e in batch], -1).to(device)
        tgt_owner = pad([e.tgt.word_of_token for e in batch], -1).to(device)
        n_src = max(e.src.n_words for e in batch)
        n_tgt = max(e.tgt.n_words for e in batch)

        if self.settings.granularity == "word":
            # Mean of each word's piece vectors (special and padding tokens own no word).
            src_vectors = pool_axis(src_hidden, src_owner, n_src, "mean", axis=1)
            tgt_vectors = pool_axis(tgt_hidden, tgt_owner, n_tgt, "mean", axis=1)
            word_similarity = _cosine01(src_vectors, tgt_vectors)
        else:
            src_vectors, tgt_vectors = src_hidden, tgt_hidden
            piece_similarity = _cosine01(src_vectors, tgt_vectors)
            # A word pair's score is its best piece pair's: what a subword link rests on.
            by_src_word = pool_axis(piece_similarity, src_owner, n_src, "max", axis=1)
            word_similarity = pool_axis(by_src_word, tgt_owner, n_tgt, "max", axis=2)

        if self.settings.similarity == "dot":
            decision = torch.bmm(src_vectors, tgt_vectors.transpose(1, 2))
        elif self.settings.granularity == "word":
            decision = word_similarity
        else:
            decision = piece_similarity
        decision_cpu = decision.cpu().numpy()
        word_similarity_cpu = word_similarity.cpu().numpy()
        return [
            self._result(e, decision_cpu[row], word_similarity_cpu[row], with_matrix)
            for row, e in enumerate(batch)
        ]

    def _result(
        self,
        encoded: EncodedPair,
        decision: np.ndarray,
        word_similarity: np.ndarray,
        with_matrix: bool,
    ) -> AlignmentResult:
        src, tgt = encoded.src, encoded.tgt
        links = np.zeros((src.n_words, tgt.n_words), dtype=bool)
        src_ok, tgt_ok = _has_pieces(src), _has_pieces(tgt)
        if self.settings.granularity == "word":
            # Words the tokenizer dropped have no vector: they are left out of the
            # extraction rather than given a made-up similarity.
            rows, cols = np.flatnonzero(src_ok), np.flatnonzero(tgt_ok)
            if rows.size and cols.size:
                scores = decision[: src.n_words, : tgt.n_words][np.ix_(rows, cols)]
                linked = self._extract(scores)
                links[np.ix_(rows, cols)] = linked
        else:
            src_pieces = np.flatnonzero(src.word_of_token >= 0)
            tgt_pieces = np.flatnonzero(tgt.word_of_token >= 0)
            if src_pieces.size and tgt_pieces.size:
                linked = self._extract(decision[np.ix_(src_pieces, tgt_pieces)])
                piece_i, piece_j = np.nonzero(linked)
                links[
                    src.word_of_token[src_pieces[piece_i]], tgt.word_of_token[tgt_pieces[piece_j]]
                ] = True
        matrix = word_similarity[: src.n_words, : tgt.n_words].copy()
        matrix[~src_ok, :] = 0.0
        matrix[:, ~tgt_ok] = 0.0
        pairs = links_from_mask(links)
        scores_out = [float(matrix[i, j]) for i, j in pairs]
        return AlignmentResult(encoded.pair, pairs, scores_out, matrix if with_matrix else None)

    def _extract(self, scores: np.ndarray) -> np.ndarray:
        return extract(scores, self.settings.method, threshold_value=self.settings.threshold)


def _zero_matrix(pair: SentencePair) -> np.ndarray:
    return np.zeros((len(pair.src_words), len(pair.tgt_words)), dtype=np.float32)
