"""The cross-attention aligner: a translation model's attention, read as word alignments.

:class:`AttentionAligner` holds a loaded model and the settings. Per window of pairs it
tokenizes both sides (:mod:`~align_cli.stages.subwords`), batches them by length
(:mod:`~align_cli.stages.batching`), runs one teacher-forced pass per batch that reads the
cross-attention (:mod:`~align_cli.stages.attention`), pools it into word matrices
(:mod:`~align_cli.stages.aggregation`) and extracts links (:mod:`~align_cli.stages.extraction`,
:mod:`~align_cli.stages.symmetrize`). :class:`BidirectionalAligner` symmetrises a forward
and a reverse model link by link.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np

from align_cli.aligners.base import Aligner
from align_cli.errors import XalignError
from align_cli.model.loading import LoadedModel
from align_cli.model_settings import MODEL_SETTINGS_FILE, apply_model_settings, read_model_settings
from align_cli.settings import (
    AlignerSpec,
    AlignmentSettings,
    BatchingSettings,
    check_threshold_method,
    default_layers,
)
from align_cli.signature import Signature, alignment_signature
from align_cli.stages.aggregation import null_scores, sentence_matrix, word_scores
from align_cli.stages.attention import CrossAttentionReader, decoder_layers
from align_cli.stages.batching import EncodedPair, padded_batches, teacher_forced_batch, windows
from align_cli.stages.extraction import argmax_source, extract, links_from_mask
from align_cli.stages.subwords import PairEncoder
from align_cli.stages.symmetrize import symmetrize
from align_cli.types import AlignmentResult, SentencePair

# A pair, its [n_src, n_tgt] word matrix (None: not run), why it was not run, and each
# target word's null score (settings.null only; None otherwise).
WordMatrix = tuple[SentencePair, "np.ndarray | None", "str | None", "np.ndarray | None"]


def run_signature(
    loaded: LoadedModel,
    settings: AlignmentSettings,
    reverse: LoadedModel | None = None,
    settings_source: str | None = None,
) -> Signature:
    """The signature of alignments made by ``loaded`` (and ``reverse``) with ``settings``
    (which came from ``settings_source``, e.g. the model's xalign.json, when not None)."""
    return alignment_signature(
        model=loaded.name,
        revision=loaded.revision,
        reverse_model=None if reverse is None else reverse.name,
        settings_source=settings_source,
        settings=settings.describe(),
        symmetrize=settings.symmetrize,
        dtype=loaded.dtype_name,
        device=loaded.device.type,
    )


def settings_for_model(
    loaded: LoadedModel, settings: AlignmentSettings | None, fields_given: tuple[str, ...] = ()
) -> tuple[AlignmentSettings, str | None]:
    """The settings to read ``loaded`` with, and where they came from.

    A model folder that records its own settings (``xalign.json``, written by ``xalign
    train``) is read with them, except for ``fields_given``, taken from ``settings``;
    other models get ``settings`` (the defaults when ``None``). The source is
    ``"xalign.json"`` when the recorded settings were used, else ``None``.
    """
    folder = Path(loaded.source)
    recorded = read_model_settings(folder) if folder.is_dir() else None
    if recorded is None:
        final, source = settings or AlignmentSettings(), None
    else:
        final = apply_model_settings(recorded, settings or recorded, fields_given)
        source = MODEL_SETTINGS_FILE
    if "threshold" in fields_given and "method" not in fields_given:
        # Checked here for a hub model, whose recorded settings are known only now.
        check_threshold_method(final.method, f" ({source})" if source else "")
    return final, source


def spec_settings(loaded: LoadedModel, spec: AlignerSpec) -> tuple[AlignmentSettings, str | None]:
    """The settings ``spec`` asks for on ``loaded``, and where they came from (the
    signature's ``settings:`` field): the model folder's recorded settings when the spec
    leaves them to the model (:attr:`AlignerSpec.defaults_from_model`)."""
    if spec.defaults_from_model is None:
        return spec.settings, spec.settings_source
    settings, source = settings_for_model(loaded, spec.settings, spec.defaults_from_model)
    return settings, source or spec.settings_source


class AttentionAligner(Aligner):
    """A translation model plus settings; call :meth:`align_pairs` on a stream of pairs.

    Without ``settings`` a model folder is read with the settings it records
    (``xalign.json``, written by ``xalign train``), any other model with the defaults.
    """

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
        settings_source: str | None = None,
    ):
        self.loaded = loaded
        self.settings_source = settings_source
        if settings is None:
            # No settings: the model folder's own (xalign.json), else the defaults.
            settings, self.settings_source = settings_for_model(loaded, None)
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
        self.length_limit = self.batching.max_length or loaded.length_limit
        self.start_id = loaded.decoder_start_id
        pad = loaded.tokenizer.pad_token_id
        self.pad_id = int(pad if pad is not None else self.start_id)

    @property
    def signature(self) -> Signature:
        """One line that pins down how the alignments were made, for reproducibility."""
        return run_signature(self.loaded, self.settings, settings_source=self.settings_source)

    # -- public API -------------------------------------------------------------------

    def align_pairs(
        self, pairs: Iterable[SentencePair], *, include_matrix: bool | None = None
    ) -> Iterator[AlignmentResult]:
        """Align every pair, yielding results in input order (one per pair)."""
        with_matrix = self.include_matrix if include_matrix is None else include_matrix
        for window in windows(pairs, self.batching.window):
            for pair, matrix, skipped, null in self.word_matrices(window):
                yield make_result(pair, matrix, skipped, self.settings, with_matrix, null=null)

    def word_matrices(self, window: list[SentencePair]) -> list[WordMatrix]:
        """The ``[n_src, n_tgt]`` score matrix of every pair, in the window's order.

        The matrix is ``None`` for a pair that was not run (``skipped`` says why) and an
        empty-sized matrix for a pair with an empty side.
        """
        matrices: list[WordMatrix | None] = [None] * len(window)
        todo: list[tuple[int, EncodedPair]] = []
        for slot, pair in enumerate(window):
            if not pair.src_words or not pair.tgt_words:
                empty = np.zeros((len(pair.src_words), len(pair.tgt_words)), dtype=np.float32)
                matrices[slot] = (pair, empty, None, None)
                continue
            encoded = EncodedPair(
                pair,
                self.encoder.source.encode(pair.src_words),
                self.encoder.target.encode(pair.tgt_words),
            )
            longest = max(len(encoded.src.ids), len(encoded.tgt.ids) + 1)
            if longest > self.length_limit:
                reason = f"{longest} tokens, more than the model's {self.length_limit}"
                matrices[slot] = (pair, None, reason, None)
                continue
            todo.append((slot, encoded))
        todo.sort(key=lambda item: item[1].cost)
        for batch in self._batches(todo):
            batch_matrices = self._batch_matrices([e for _, e in batch])
            for (slot, encoded), (matrix, null) in zip(batch, batch_matrices, strict=True):
                matrices[slot] = (encoded.pair, matrix, None, null)
        return matrices  # type: ignore[return-value]

    # -- internals --------------------------------------------------------------------

    def _batches(
        self, todo: list[tuple[int, EncodedPair]]
    ) -> Iterator[list[tuple[int, EncodedPair]]]:
        return padded_batches(
            todo, lambda item: item[1].cost, self.batching.batch_size, self.batching.max_tokens
        )

    def _batch_matrices(
        self, batch: list[EncodedPair]
    ) -> list[tuple[np.ndarray, np.ndarray | None]]:
        """Each pair's word matrix, and its target words' null scores (settings.null)."""
        tensors = teacher_forced_batch(
            batch, start_id=self.start_id, pad_id=self.pad_id, device=self.loaded.device
        )
        attention = self.reader(tensors.src_ids, tensors.src_mask, tensors.decoder_ids)
        shift, pooling = self.settings.shift, self.settings.pooling
        scores = word_scores(attention, tensors.maps, shift=shift, pooling=pooling).cpu()
        nulls = None
        if self.settings.null:
            nulls = null_scores(
                attention, tensors.maps, tensors.src_mask, shift=shift, pooling=pooling
            ).cpu()
        return [
            (
                sentence_matrix(scores[row], e.src.n_words, e.tgt.n_words),
                None if nulls is None else nulls[row, : e.tgt.n_words].numpy(),
            )
            for row, e in enumerate(batch)
        ]


def _links_one_direction(matrix: np.ndarray, settings: AlignmentSettings) -> np.ndarray:
    return extract(matrix, settings.method, threshold_value=settings.threshold)


def make_result(
    pair: SentencePair,
    matrix: np.ndarray | None,
    skipped: str | None,
    settings: AlignmentSettings,
    include_matrix: bool,
    reverse_matrix: np.ndarray | None = None,
    *,
    null: np.ndarray | None = None,
    reverse_null: np.ndarray | None = None,
) -> AlignmentResult:
    """Extract links from ``matrix`` (``[n_src, n_tgt]``) as ``settings`` say.

    ``null`` (``[n_tgt]``, :func:`~align_cli.stages.aggregation.null_scores`) leaves every
    target word whose null outweighs its best source word unaligned; ``reverse_null``
    (``[n_src]``, a reverse model's) does the same for source words.

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
    if null is not None:
        mask[:, null > matrix.max(axis=0)] = False
    if reverse_null is not None and reverse_matrix is not None:
        mask[reverse_null > reverse_matrix.max(axis=0), :] = False
    links = links_from_mask(mask)
    scores = [float(combined[i, j]) for i, j in links]
    return AlignmentResult(pair, links, scores, combined if include_matrix else None)


class BidirectionalAligner(Aligner):
    """Two models, source→target and target→source, symmetrised link by link."""

    def __init__(self, forward: AttentionAligner, reverse: AttentionAligner):
        if forward.settings.symmetrize is None:
            raise XalignError(
                "a reverse model needs a symmetrisation to combine the two directions: "
                "settings.symmetrize, e.g. 'grow-diag-final-and' (--symmetrize in the CLI)"
            )
        self.forward = forward
        self.reverse = reverse
        self.settings = forward.settings
        self.include_matrix = forward.include_matrix

    @property
    def signature(self) -> Signature:
        return run_signature(
            self.forward.loaded,
            self.settings,
            self.reverse.loaded,
            settings_source=self.forward.settings_source,
        )

    def align_pairs(
        self, pairs: Iterable[SentencePair], *, include_matrix: bool | None = None
    ) -> Iterator[AlignmentResult]:
        with_matrix = self.include_matrix if include_matrix is None else include_matrix
        for window in windows(pairs, self.forward.batching.window):
            swapped = [replace(p, src_words=p.tgt_words, tgt_words=p.src_words) for p in window]
            forward = self.forward.word_matrices(window)
            backward = self.reverse.word_matrices(swapped)
            for (pair, matrix, skipped, null), (_, reverse_matrix, reverse_skipped, rnull) in zip(
                forward, backward, strict=True
            ):
                if reverse_matrix is None and matrix is not None:
                    matrix, skipped = None, reverse_skipped
                yield make_result(
                    pair,
                    matrix,
                    skipped,
                    self.settings,
                    with_matrix,
                    reverse_matrix,
                    null=null,
                    reverse_null=rnull,
                )
