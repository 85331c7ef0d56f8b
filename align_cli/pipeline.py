"""The alignment pipeline: corpus → subwords → attention → aggregation → extraction.

:class:`Aligner` holds a loaded model and the settings; :meth:`Aligner.align_pairs` turns
a stream of :class:`SentencePair` into a stream of :class:`AlignmentResult` in the same
order. Pairs are read in windows, sorted by length inside a window so that batches carry
little padding, batched under a token budget, and put back in input order before they
are yielded: memory depends on the window, never on the corpus.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import numpy as np
import torch

from align_cli import __version__
from align_cli.aggregation import POOLINGS, WordMaps, sentence_matrix, word_scores
from align_cli.attention import CrossAttentionReader, decoder_layers
from align_cli.corpus import pairs_from_texts
from align_cli.errors import XalignError
from align_cli.extraction import METHODS, argmax_source, extract, links_from_mask
from align_cli.model import LoadedModel
from align_cli.subwords import EncodedSide, PairEncoder
from align_cli.symmetrize import METHODS as SYMMETRIZATIONS
from align_cli.symmetrize import symmetrize
from align_cli.types import AlignmentResult, SentencePair

T = TypeVar("T")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AlignmentSettings:
    """How attention becomes links. Defaults are xalign's measured choice (README).

    ``layers=None`` picks the layer from the decoder's depth (:func:`default_layers`).
    """

    layers: tuple[int, ...] | None = None
    heads: tuple[int, ...] | None = None  # None = mean over all heads
    shift: bool = False
    pooling: str = "sum"
    method: str = "inter"
    threshold: float = 0.1
    symmetrize: str | None = None  # combine the matrix's two directions (or two models')

    def __post_init__(self) -> None:
        if self.pooling not in POOLINGS:
            raise XalignError(f"unknown pooling {self.pooling!r}; choose {', '.join(POOLINGS)}")
        if self.method not in METHODS:
            raise XalignError(f"unknown extraction {self.method!r}; choose {', '.join(METHODS)}")
        if self.layers is not None and not self.layers:
            raise XalignError("give at least one layer")
        if self.symmetrize is not None and self.symmetrize not in SYMMETRIZATIONS:
            raise XalignError(
                f"unknown symmetrisation {self.symmetrize!r}; choose {', '.join(SYMMETRIZATIONS)}"
            )

    def describe(self) -> str:
        layers = "auto" if self.layers is None else ",".join(str(x) for x in self.layers)
        heads = "mean" if self.heads is None else ",".join(str(h) for h in self.heads)
        method = self.method + (f">{self.threshold:g}" if self.method == "threshold" else "")
        return (
            f"layer:{layers}|heads:{heads}|shift:{'yes' if self.shift else 'no'}"
            f"|pool:{self.pooling}|extract:{method}"
        )


def default_layers(n_decoder_layers: int) -> tuple[int, ...]:
    """The layer read when none is given: the penultimate one, or the last in shallow decoders.

    Garg et al. (2019) found the penultimate layer of a 6-layer decoder aligns best, and
    the sweep on xalign's 3-layer synthetic-language model agrees that the top layers
    align but puts the last layer far ahead (AER 12.8 vs 21.5 for the penultimate, README).
    In a shallow decoder the penultimate layer is too close to the input to align well.
    """
    return (-1,) if n_decoder_layers <= 3 else (-2,)


@dataclass(frozen=True)
class BatchingSettings:
    # Measured on 2 CPU cores with an opus-mt-en-fr-sized model: 32 pairs / 3000 tokens
    # ran ~10% faster than 64 / 6000 (less padding, cache-sized matrices). A GPU wants
    # far bigger batches: --batch-size 256 --max-tokens 32000 (benchmarks/README.md).
    batch_size: int = 32  # pairs per batch at most
    max_tokens: int = 3000  # padded source + target tokens per batch at most
    window: int = 2000  # pairs sorted together by length
    max_length: int | None = None  # tokens per side; None = the model's limit


@dataclass
class _Encoded:
    pair: SentencePair
    src: EncodedSide
    tgt: EncodedSide

    @property
    def cost(self) -> int:
        return len(self.src.ids) + len(self.tgt.ids) + 1


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


def model_length_limit(loaded: LoadedModel) -> int:
    """Tokens one side may have: the position table size, if the model has one."""
    config = loaded.model.config
    limits = [getattr(config, name, None) for name in ("max_position_embeddings", "n_positions")]
    model_max = getattr(loaded.tokenizer, "model_max_length", None)
    limits.append(model_max if isinstance(model_max, int) and model_max < 1_000_000 else None)
    known = [limit for limit in limits if isinstance(limit, int) and limit > 0]
    return min(known) if known else 1_000_000


def decoder_start_id(loaded: LoadedModel) -> int:
    config = loaded.model.config
    for source in (config, getattr(loaded.model, "generation_config", None)):
        value = getattr(source, "decoder_start_token_id", None)
        if value is not None:
            return int(value)
    if config.pad_token_id is not None:
        return int(config.pad_token_id)
    raise XalignError("the model config names no decoder_start_token_id")


def _pad(rows: Sequence[np.ndarray], value: int) -> torch.Tensor:
    width = max(len(row) for row in rows)
    out = np.full((len(rows), width), value, dtype=np.int64)
    for index, row in enumerate(rows):
        out[index, : len(row)] = row
    return torch.from_numpy(out)


class Aligner:
    """A model plus settings; call :meth:`align_pairs` on a stream of pairs."""

    def __init__(
        self,
        loaded: LoadedModel,
        settings: AlignmentSettings | None = None,
        batching: BatchingSettings | None = None,
        *,
        src_lang: str | None = None,
        tgt_lang: str | None = None,
        source_prefix: str | None = None,
        target_language_token: str | None = None,
        include_matrix: bool = False,
        backend: str = "auto",
    ):
        self.loaded = loaded
        settings = settings or AlignmentSettings()
        if settings.layers is None:
            depth = len(decoder_layers(loaded.model))
            settings = replace(settings, layers=default_layers(depth))
        self.settings = settings
        self.batching = batching or BatchingSettings()
        self.include_matrix = include_matrix
        self.encoder = PairEncoder(
            loaded.tokenizer,
            src_lang=src_lang,
            tgt_lang=tgt_lang,
            source_prefix=source_prefix,
            target_language_token=target_language_token,
        )
        self.reader = CrossAttentionReader(
            loaded.model, self.settings.layers, self.settings.heads, backend=backend
        )
        self.length_limit = self.batching.max_length or model_length_limit(loaded)
        self.start_id = decoder_start_id(loaded)
        pad = loaded.tokenizer.pad_token_id
        self.pad_id = int(pad if pad is not None else self.start_id)

    @property
    def signature(self) -> str:
        """One line that pins down how the alignments were made, for reproducibility."""
        return run_signature(self.loaded, self.settings)

    # -- public API -------------------------------------------------------------------

    def align_pairs(self, pairs: Iterable[SentencePair]) -> Iterator[AlignmentResult]:
        """Align every pair, yielding results in input order (one per pair)."""
        for window in windows(pairs, self.batching.window):
            for pair, matrix, skipped in self.word_matrices(window):
                yield make_result(pair, matrix, skipped, self.settings, self.include_matrix)

    def align_texts(
        self, sources: list[str] | list[list[str]], targets: list[str] | list[list[str]]
    ) -> list[AlignmentResult]:
        return list(self.align_pairs(pairs_from_texts(sources, targets)))

    def word_matrices(self, window: list[SentencePair]) -> list[WordMatrix]:
        """The ``[n_src, n_tgt]`` score matrix of every pair, in the window's order.

        The matrix is ``None`` for a pair that was not run (``skipped`` says why) and an
        empty-sized matrix for a pair with an empty side.
        """
        matrices: list[WordMatrix | None] = [None] * len(window)
        todo: list[tuple[int, _Encoded]] = []
        for slot, pair in enumerate(window):
            if not pair.src_words or not pair.tgt_words:
                empty = np.zeros((len(pair.src_words), len(pair.tgt_words)), dtype=np.float32)
                matrices[slot] = (pair, empty, None)
                continue
            encoded = _Encoded(
                pair,
                self.encoder.source.encode(pair.src_words),
                self.encoder.target.encode(pair.tgt_words),
            )
            longest = max(len(encoded.src.ids), len(encoded.tgt.ids) + 1)
            if longest > self.length_limit:
                reason = f"{longest} tokens, more than the model's {self.length_limit}"
                matrices[slot] = (pair, None, reason)
                continue
            todo.append((slot, encoded))
        todo.sort(key=lambda item: item[1].cost)
        for batch in self._batches(todo):
            batch_matrices = self._batch_matrices([e for _, e in batch])
            for (slot, encoded), matrix in zip(batch, batch_matrices, strict=True):
                matrices[slot] = (encoded.pair, matrix, None)
        return matrices  # type: ignore[return-value]

    # -- internals --------------------------------------------------------------------

    def _batches(self, todo: list[tuple[int, _Encoded]]) -> Iterator[list[tuple[int, _Encoded]]]:
        return padded_batches(
            todo, lambda item: item[1].cost, self.batching.batch_size, self.batching.max_tokens
        )

    def _batch_matrices(self, batch: list[_Encoded]) -> list[np.ndarray]:
        device = self.loaded.device
        src_ids = _pad([e.src.ids for e in batch], self.pad_id)
        src_mask = (_pad([np.ones_like(e.src.ids) for e in batch], 0)).to(device)
        decoder_ids = _pad(
            [np.concatenate(([self.start_id], e.tgt.ids)) for e in batch], self.pad_id
        )
        maps = WordMaps(
            src_word_of_token=_pad([e.src.word_of_token for e in batch], -1).to(device),
            tgt_word_of_token=_pad([e.tgt.word_of_token for e in batch], -1).to(device),
            n_src_words=max(e.src.n_words for e in batch),
            n_tgt_words=max(e.tgt.n_words for e in batch),
        )
        attention = self.reader(src_ids.to(device), src_mask, decoder_ids.to(device))
        scores = word_scores(
            attention, maps, shift=self.settings.shift, pooling=self.settings.pooling
        ).cpu()
        return [
            sentence_matrix(scores[row], e.src.n_words, e.tgt.n_words)
            for row, e in enumerate(batch)
        ]


WordMatrix = tuple[SentencePair, "np.ndarray | None", "str | None"]


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


def run_signature(
    loaded: LoadedModel, settings: AlignmentSettings, reverse: LoadedModel | None = None
) -> str:
    """``xalign:VERSION|model:...|revision:...|layer:...|...|sym:...`` (like sacrebleu's)."""
    revision = loaded.revision or "unknown"
    parts = [f"xalign:{__version__}", f"model:{loaded.name}", f"revision:{revision}"]
    if reverse is not None:
        parts.append(f"reverse:{reverse.name}")
    parts.append(settings.describe())
    parts.append(f"sym:{settings.symmetrize or 'none'}")
    return "|".join(parts)


def _links_one_direction(matrix: np.ndarray, settings: AlignmentSettings) -> np.ndarray:
    return extract(matrix, settings.method, threshold_value=settings.threshold)


def make_result(
    pair: SentencePair,
    matrix: np.ndarray | None,
    skipped: str | None,
    settings: AlignmentSettings,
    include_matrix: bool,
    reverse_matrix: np.ndarray | None = None,
) -> AlignmentResult:
    """Extract links from ``matrix`` (``[n_src, n_tgt]``) as ``settings`` say.

    With ``settings.symmetrize``, the forward links come from ``matrix`` and the reverse
    links from ``reverse_matrix`` (a reverse model's ``[n_tgt, n_src]`` matrix) or, without
    one, from the other direction of ``matrix`` itself (each source word's best target).
    Link scores then come from the mean of the two directions' matrices.
    """
    if matrix is None:
        return AlignmentResult(pair, skipped=skipped)
    if matrix.size == 0:
        return AlignmentResult(pair, matrix=matrix if include_matrix else None)
    if settings.symmetrize is None:
        mask = _links_one_direction(matrix, settings)
        combined = matrix
    else:
        forward = set(links_from_mask(_links_one_direction(matrix, settings)))
        if reverse_matrix is not None:
            backward = {
                (i, j) for j, i in links_from_mask(_links_one_direction(reverse_matrix, settings))
            }
            combined = (matrix + reverse_matrix.T) / 2
        else:
            backward = set(links_from_mask(argmax_source(matrix)))
            combined = matrix
        mask = np.zeros(matrix.shape, dtype=bool)
        for i, j in symmetrize(forward, backward, settings.symmetrize):
            mask[i, j] = True
    # A word without subword pieces (a zero-width space, say) has an all-zero row or
    # column; argmax would still pick index 0 there, a link with no evidence at all.
    mask &= combined > 0
    links = links_from_mask(mask)
    scores = [float(combined[i, j]) for i, j in links]
    return AlignmentResult(pair, links, scores, combined if include_matrix else None)


class BidirectionalAligner:
    """Two models, source→target and target→source, symmetrised link by link."""

    def __init__(self, forward: Aligner, reverse: Aligner):
        if forward.settings.symmetrize is None:
            raise XalignError("a reverse model needs --symmetrize (e.g. grow-diag-final-and)")
        self.forward = forward
        self.reverse = reverse
        self.settings = forward.settings
        self.include_matrix = forward.include_matrix

    @property
    def signature(self) -> str:
        return run_signature(self.forward.loaded, self.settings, self.reverse.loaded)

    def align_pairs(self, pairs: Iterable[SentencePair]) -> Iterator[AlignmentResult]:
        for window in windows(pairs, self.forward.batching.window):
            swapped = [replace(p, src_words=p.tgt_words, tgt_words=p.src_words) for p in window]
            forward = self.forward.word_matrices(window)
            backward = self.reverse.word_matrices(swapped)
            for (pair, matrix, skipped), (_, reverse_matrix, reverse_skipped) in zip(
                forward, backward, strict=True
            ):
                if reverse_matrix is None and matrix is not None:
                    matrix, skipped = None, reverse_skipped
                yield make_result(
                    pair, matrix, skipped, self.settings, self.include_matrix, reverse_matrix
                )

    def align_texts(
        self, sources: list[str] | list[list[str]], targets: list[str] | list[list[str]]
    ) -> list[AlignmentResult]:
        return list(self.align_pairs(pairs_from_texts(sources, targets)))


def align(
    sources: list[str] | list[list[str]],
    targets: list[str] | list[list[str]],
    model: str,
    *,
    settings: AlignmentSettings | None = None,
    batching: BatchingSettings | None = None,
    reverse_model: str | None = None,
    device: str = "auto",
    dtype: str = "auto",
    include_matrix: bool = False,
    **options: Any,
) -> Iterator[AlignmentResult]:
    """Align sentence pairs with ``model``; yields one :class:`AlignmentResult` per pair.

    ``sources``/``targets`` are sentences (split on whitespace) or lists of words. The
    model is loaded and dispatched exactly as ``xalign extract`` does it (a translation
    model's cross-attention, or an encoder's embeddings); ``options`` are the other fields
    of :class:`align_cli.runner.AlignerSpec` (``src_lang``, ``tgt_lang``,
    ``source_prefix``, ``target_token``, ``revision``, ``trust_remote_code``).
    """
    from align_cli.runner import AlignerSpec, build_aligner  # runner imports this module

    spec = AlignerSpec(
        model=model,
        settings=settings or AlignmentSettings(),
        batching=batching or BatchingSettings(),
        reverse_model=reverse_model,
        device=device,
        dtype=dtype,
        include_matrix=include_matrix,
        **options,
    )
    return build_aligner(spec).align_pairs(pairs_from_texts(sources, targets))


__all__ = [
    "AlignmentSettings",
    "Aligner",
    "BatchingSettings",
    "BidirectionalAligner",
    "align",
    "make_result",
]
