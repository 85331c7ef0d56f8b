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
``skipped`` handling for pairs longer than the model takes) as :class:`pipeline.Aligner`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.nn.utils.rnn import pad_sequence

from align_cli import __version__
from align_cli.aggregation import pool_axis
from align_cli.corpus import pairs_from_texts
from align_cli.errors import ModelError, XalignError
from align_cli.extraction import DEFAULT_THRESHOLDS, METHODS, extract, links_from_mask
from align_cli.model import LoadedModel
from align_cli.pipeline import (
    BatchingSettings,
    _pad,
    model_length_limit,
    padded_batches,
    windows,
)
from align_cli.subwords import EncodedSide, SideEncoder
from align_cli.types import AlignmentResult, SentencePair

DEFAULT_LAYER = 8  # SimAlign's and awesome-align's default
GRANULARITIES = ("word", "subword")
DEFAULT_GRANULARITY = "subword"  # SimAlign's default token_type "bpe"
DEFAULT_METHOD = "inter"  # SimAlign's "ArgMax"
# A chunk of pairs embedded together holds this many batches' token budget.
CHUNK_TOKENS_PER_BATCH = 8


@dataclass(frozen=True)
class EmbeddingSettings:
    """How hidden states become links."""

    layer: int = DEFAULT_LAYER
    granularity: str = DEFAULT_GRANULARITY
    method: str = DEFAULT_METHOD
    threshold: float | None = None  # None: the method's default (DEFAULT_THRESHOLDS)

    def __post_init__(self) -> None:
        if self.granularity not in GRANULARITIES:
            raise XalignError(
                f"unknown granularity {self.granularity!r}; choose {', '.join(GRANULARITIES)}"
            )
        if self.method not in METHODS:
            raise XalignError(f"unknown extraction {self.method!r}; choose {', '.join(METHODS)}")

    @property
    def similarity(self) -> str:
        """``dot`` for awesome-align's softmax extraction, ``cosine`` for the rest."""
        return "dot" if self.method == "softmax_threshold" else "cosine"

    def describe(self) -> str:
        method = self.method
        if method in DEFAULT_THRESHOLDS:
            value = DEFAULT_THRESHOLDS[method] if self.threshold is None else self.threshold
            method += f">{value:g}"
        return (
            f"embedding-layer:{self.layer}|granularity:{self.granularity}"
            f"|sim:{self.similarity}|extract:{method}"
        )


# -- reading one layer's hidden states ----------------------------------------------------


class _StopForward(Exception):
    """Raised by the hook once the wanted block has run; carries its output."""

    def __init__(self, hidden: torch.Tensor):
        super().__init__()
        self.hidden = hidden


def _stop_after(_module: torch.nn.Module, _inputs: Any, output: Any) -> None:
    hidden = output[0] if isinstance(output, tuple | list) else output
    raise _StopForward(hidden)


def _count_layers(model: Any) -> int:
    count = getattr(model.config, "num_hidden_layers", None)
    if not isinstance(count, int) or count <= 0:
        raise ModelError(
            f"cannot tell how many layers the {model.config.model_type!r} model has "
            "(its config has no num_hidden_layers)"
        )
    return count


def _find_blocks(model: torch.nn.Module, n_layers: int) -> torch.nn.ModuleList | None:
    """The model's list of transformer blocks (``encoder.layer`` in BERT), if found."""
    candidates = [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.ModuleList) and len(module) == n_layers
    ]
    for name, module in candidates:
        if name.rsplit(".", 1)[-1] in ("layer", "layers"):
            return module
    return candidates[0][1] if len(candidates) == 1 else None


class HiddenStateReader:
    """The hidden states ``hidden_states[layer]`` of an encoder, without the layers above.

    ``layer`` counts as ``output_hidden_states`` does (0 = embedding output); a negative
    value counts from the top (-1 = last). Where the blocks cannot be found, or where the
    hooked output does not equal ``hidden_states[layer]`` on a probe input (a model that
    normalises its last output, say), all layers run with ``output_hidden_states``.
    """

    def __init__(self, model: torch.nn.Module, layer: int, name: str = "the model"):
        n_layers = _count_layers(model)
        resolved = layer + n_layers + 1 if layer < 0 else layer
        if not 0 <= resolved <= n_layers:
            raise XalignError(
                f"--embedding-layer {layer} is out of range: {name} has {n_layers} layers "
                f"(0 is the embedding output, 1..{n_layers} the blocks; -1 is the last)"
            )
        self.model = model
        self.layer = resolved
        blocks = _find_blocks(model, n_layers) if resolved > 0 else None
        self._block: torch.nn.Module | None = blocks[resolved - 1] if blocks is not None else None

    @property
    def stops_early(self) -> bool:
        return self._block is not None

    def verify(self, ids: torch.Tensor) -> None:
        """Fall back to ``output_hidden_states`` unless the hook gives the same states."""
        if self._block is None:
            return
        mask = torch.ones_like(ids)
        hooked = self(ids, mask)
        with torch.inference_mode():
            full = self.model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        expected = full.hidden_states[self.layer]
        # Equal in float32 (the same operations run); a reduced-precision GPU run may
        # differ in the last bit between two passes. A model that transforms its last
        # states (a final norm) differs by far more than this tolerance.
        tolerance = 0.0 if expected.dtype == torch.float32 else 1e-2
        if hooked.shape != expected.shape or not torch.allclose(
            hooked, expected, rtol=tolerance, atol=tolerance
        ):
            self._block = None

    def __call__(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``[batch, length, hidden]`` states of the chosen layer."""
        with torch.inference_mode():
            if self._block is None:
                out = self.model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
                return out.hidden_states[self.layer]
            handle = self._block.register_forward_hook(_stop_after)
            try:
                self.model(input_ids=ids, attention_mask=mask)
            except _StopForward as stop:
                return stop.hidden
            finally:
                handle.remove()
        raise ModelError(f"layer {self.layer} of the model never ran")


# -- batching -------------------------------------------------------------------------------


@dataclass
class _EncodedPair:
    pair: SentencePair
    src: EncodedSide
    tgt: EncodedSide

    @property
    def width(self) -> int:
        """The longer side's tokens: what the model's length limit applies to."""
        return max(len(self.src.ids), len(self.tgt.ids))


def _unit(vectors: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.normalize(vectors, dim=-1)


def _cosine01(src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
    """SimAlign's similarity ``(cos + 1) / 2``, batched: ``[n, a, h] x [n, b, h] -> [n, a, b]``."""
    return (torch.bmm(_unit(src), _unit(tgt).transpose(1, 2)) + 1.0) / 2.0


def _has_pieces(side: EncodedSide) -> np.ndarray:
    """Which words got at least one piece (a tokenizer may drop a word entirely)."""
    owners = side.word_of_token[side.word_of_token >= 0]
    return np.bincount(owners, minlength=side.n_words) > 0


class EmbeddingAligner:
    """An encoder model plus settings; call :meth:`align_pairs` on a stream of pairs.

    Same public interface as :class:`align_cli.pipeline.Aligner`.
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
        self.length_limit = self.batching.max_length or model_length_limit(loaded)
        pad = loaded.tokenizer.pad_token_id
        self.pad_id = int(pad if pad is not None else 0)
        self.reader = HiddenStateReader(loaded.model, self.settings.layer, repr(loaded.name))
        probe = self.encoder.encode(["alignment", "probe"]).ids
        self.reader.verify(torch.from_numpy(probe[None, :]).to(loaded.device))

    @property
    def signature(self) -> str:
        """One line that pins down how the alignments were made, for reproducibility."""
        revision = self.loaded.revision or "unknown"
        return (
            f"xalign:{__version__}|model:{self.loaded.name}|revision:{revision}"
            f"|{self.settings.describe()}|sym:none"
        )

    # -- public API -------------------------------------------------------------------

    def align_pairs(self, pairs: Iterable[SentencePair]) -> Iterator[AlignmentResult]:
        """Align every pair, yielding results in input order (one per pair)."""
        for window in windows(pairs, self.batching.window):
            yield from self._align_window(window)

    def align_texts(
        self, sources: list[str] | list[list[str]], targets: list[str] | list[list[str]]
    ) -> list[AlignmentResult]:
        return list(self.align_pairs(pairs_from_texts(sources, targets)))

    # -- internals --------------------------------------------------------------------

    def _align_window(self, window: list[SentencePair]) -> list[AlignmentResult]:
        results: list[AlignmentResult | None] = [None] * len(window)
        todo: list[tuple[int, _EncodedPair]] = []
        for slot, pair in enumerate(window):
            if not pair.src_words or not pair.tgt_words:
                results[slot] = AlignmentResult(pair, matrix=self._zero_matrix(pair))
                continue
            encoded = _EncodedPair(
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
                    pairs[start:stop], src_states[start:stop], tgt_states[start:stop]
                )
                for (slot, _), result in zip(chunk[start:stop], batch, strict=True):
                    results[slot] = result
        return results  # type: ignore[return-value]

    def _chunks(
        self, todo: list[tuple[int, _EncodedPair]]
    ) -> Iterator[list[tuple[int, _EncodedPair]]]:
        """Consecutive runs of pairs whose hidden states are held at once.

        A chunk holds at most ``CHUNK_TOKENS_PER_BATCH`` batches' worth of tokens: enough
        sentences to sort into batches with little padding, few enough that their states
        (tokens x hidden size floats) stay small whatever the window size.
        """
        budget = CHUNK_TOKENS_PER_BATCH * self.batching.max_tokens
        chunk: list[tuple[int, _EncodedPair]] = []
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
            ids = _pad([sides[k].ids for k in rows], self.pad_id).to(device)
            mask = _pad([np.ones_like(sides[k].ids) for k in rows], 0).to(device)
            # Similarities in float32 whatever the model's dtype: argmax decisions between
            # close cosines should not depend on bfloat16 rounding.
            hidden = self.reader(ids, mask).float()
            for row, k in enumerate(rows):
                states[k] = hidden[row, : len(sides[k].ids)]
        return states  # type: ignore[return-value]

    @torch.inference_mode()
    def _align_batch(
        self,
        batch: list[_EncodedPair],
        src_states: list[torch.Tensor],
        tgt_states: list[torch.Tensor],
    ) -> list[AlignmentResult]:
        device = self.loaded.device
        # Padding positions get zero vectors, which own no word and compare as 0.
        src_hidden = pad_sequence(src_states, batch_first=True)
        tgt_hidden = pad_sequence(tgt_states, batch_first=True)
        src_owner = _pad([e.src.word_of_token for e in batch], -1).to(device)
        tgt_owner = _pad([e.tgt.word_of_token for e in batch], -1).to(device)
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
            self._result(e, decision_cpu[row], word_similarity_cpu[row])
            for row, e in enumerate(batch)
        ]

    def _result(
        self, encoded: _EncodedPair, decision: np.ndarray, word_similarity: np.ndarray
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
        return AlignmentResult(
            encoded.pair, pairs, scores_out, matrix if self.include_matrix else None
        )

    def _extract(self, scores: np.ndarray) -> np.ndarray:
        return extract(scores, self.settings.method, threshold_value=self.settings.threshold)

    def _zero_matrix(self, pair: SentencePair) -> np.ndarray | None:
        if not self.include_matrix:
            return None
        return np.zeros((len(pair.src_words), len(pair.tgt_words)), dtype=np.float32)


# -- construction from CLI options --------------------------------------------------------

# Options of ``xalign extract`` that only the embedding path reads.
EMBEDDING_ONLY_OPTIONS = ("embedding_layer", "granularity")
# Options both paths read.
_SHARED_OPTIONS = ("method", "threshold")


def is_embedding_model(loaded: LoadedModel) -> bool:
    """Whether ``loaded`` goes through this path (it has no encoder-decoder structure)."""
    return not getattr(loaded.model.config, "is_encoder_decoder", False)


def _flags(keys: Iterable[str]) -> str:
    return ", ".join("--" + key.replace("_", "-") for key in keys)


def refuse_embedding_options(loaded: LoadedModel, options: Mapping[str, Any]) -> None:
    """Raise if options of the embedding path were given for a translation model."""
    given = [key for key in EMBEDDING_ONLY_OPTIONS if options.get(key) is not None]
    if given:
        raise XalignError(
            f"{_flags(given)}: only for encoder-only models (BERT, XLM-R, ...); "
            f"{loaded.name!r} is a translation model, aligned by its cross-attention "
            "(choose its layers with --layers)"
        )


def build_aligner(
    loaded: LoadedModel,
    batching: BatchingSettings | None = None,
    include_matrix: bool = False,
    **options: Any,
) -> EmbeddingAligner:
    """An :class:`EmbeddingAligner` from ``xalign extract``-style options.

    ``options`` are ``embedding_layer``, ``granularity``, ``method`` and ``threshold``;
    a ``None`` value counts as not given. Any other option that is given (``heads``,
    ``layers``, ``shift``, ``preset``, ``symmetrize``, ``reverse_model``, language
    options: the attention path's) is refused by name, so a user who passes ``--heads``
    to an encoder learns that it would have no effect instead of getting alignments
    that silently ignore it.
    """
    given = {key: value for key, value in options.items() if value is not None}
    foreign = sorted(set(given) - set(EMBEDDING_ONLY_OPTIONS) - set(_SHARED_OPTIONS))
    if foreign:
        raise XalignError(
            f"{_flags(foreign)}: only for translation models (cross-attention); "
            f"{loaded.name!r} is an encoder-only {loaded.model_type!r} model, which takes "
            "--embedding-layer, --granularity, --method and --threshold"
        )
    settings = EmbeddingSettings(
        layer=int(given.get("embedding_layer", DEFAULT_LAYER)),
        granularity=str(given.get("granularity", DEFAULT_GRANULARITY)),
        method=str(given.get("method", DEFAULT_METHOD)),
        threshold=given.get("threshold"),
    )
    return EmbeddingAligner(loaded, settings, batching, include_matrix=include_matrix)


__all__ = [
    "DEFAULT_LAYER",
    "EmbeddingAligner",
    "EmbeddingSettings",
    "GRANULARITIES",
    "HiddenStateReader",
    "build_aligner",
    "is_embedding_model",
    "refuse_embedding_options",
]
