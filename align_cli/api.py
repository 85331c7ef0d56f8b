"""The one-call Python API: ``align(sources, targets, model=...)``, as ``xalign extract``.

For more control build an aligner yourself (:mod:`align_cli.aligners`): load once, align
many times, choose every setting.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from typing import Any

from align_cli.aligners.factory import build_aligner
from align_cli.io.corpus import pairs_from_texts
from align_cli.settings import AlignerSpec, AlignmentSettings, BatchingSettings, EmbeddingOptions
from align_cli.types import AlignmentResult

# The keyword options align() passes on to AlignerSpec as they are.
_SPEC_OPTIONS = frozenset(
    field.name
    for field in dataclasses.fields(AlignerSpec)
    if field.name not in ("model", "settings", "batching", "include_matrix", "embedding")
    and field.name not in ("attention_options_given", "defaults_from_model", "settings_source")
)


def align(
    sources: Sequence[str] | Sequence[Sequence[str]],
    targets: Sequence[str] | Sequence[Sequence[str]],
    model: str,
    *,
    settings: AlignmentSettings | None = None,
    batching: BatchingSettings | None = None,
    embedding: EmbeddingOptions | None = None,
    include_matrix: bool = False,
    tokenize: str = "whitespace",
    **options: Any,
) -> Iterator[AlignmentResult]:
    """Align sentence pairs with ``model``; yields one :class:`AlignmentResult` per pair.

    ``sources``/``targets`` are sentences (split on whitespace) or lists of words. The
    model is loaded and dispatched exactly as ``xalign extract`` does it (a translation
    model's cross-attention, or an encoder's embeddings). ``options`` are
    ``reverse_model``, ``device``, ``dtype``, ``revision``, ``trust_remote_code``,
    ``src_lang``, ``tgt_lang``, ``source_prefix`` and ``target_token``. ``tokenize``
    splits string sentences (``"unicode"`` for raw text: each result's pair then has
    ``src_offsets``/``tgt_offsets``, the words' ``[start, end)`` character offsets).
    """
    unknown = sorted(set(options) - _SPEC_OPTIONS)
    if unknown:
        raise TypeError(
            f"align() got an unexpected keyword argument {unknown[0]!r}; it takes "
            "settings, batching, embedding, include_matrix, tokenize, "
            f"{', '.join(sorted(_SPEC_OPTIONS))}"
        )
    spec = AlignerSpec(
        model=model,
        settings=settings or AlignmentSettings(),
        # No settings given: a model folder that records its own (xalign.json) uses them.
        defaults_from_model=() if settings is None else None,
        batching=batching or BatchingSettings(),
        embedding=embedding or EmbeddingOptions(),
        include_matrix=include_matrix,
        **options,
    )
    # Checked before a model is loaded.
    pairs = list(pairs_from_texts(sources, targets, tokenize=tokenize))
    return build_aligner(spec).align_pairs(pairs)
