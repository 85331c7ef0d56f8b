"""Building an aligner from a description: load the model(s), pick the path, refuse misfits.

:class:`~align_cli.settings.AlignerSpec` is everything needed to build an aligner: small,
typed and picklable, so that Ray actors build the same aligner as the process that made
it. :func:`build_aligner` loads the model and chooses the path by what the model is: a
translation (encoder-decoder) model is read through its cross-attention
(:class:`AttentionAligner`, or :class:`BidirectionalAligner` with a reverse model), an
encoder-only model through the similarity of its hidden states (:class:`EmbeddingAligner`).
An option that belongs to the other path is refused by name rather than silently ignored.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable

from align_cli.aligners.attention import AttentionAligner, BidirectionalAligner, spec_settings
from align_cli.aligners.base import Aligner
from align_cli.aligners.embedding import EmbeddingAligner
from align_cli.errors import ModelError, XalignError
from align_cli.model.loading import LoadedModel, load_model
from align_cli.settings import AlignerSpec


def _flags(keys: Iterable[str]) -> str:
    return ", ".join("--" + key.replace("_", "-") for key in keys)


def is_embedding_model(loaded: LoadedModel) -> bool:
    """Whether ``loaded`` is read through its hidden states (no encoder-decoder structure)."""
    return not getattr(loaded.model.config, "is_encoder_decoder", False)


def _load(name: str, spec: AlignerSpec, *, revision: str | None) -> LoadedModel:
    """:func:`load_model`, with a refused pickle turned into a one-line error, and a
    ``max_length`` the model cannot take refused before any pair is aligned."""
    try:
        loaded = load_model(
            name,
            device=spec.device,
            dtype=spec.dtype,
            revision=revision,
            trust_remote_code=spec.trust_remote_code,
        )
    except pickle.UnpicklingError as error:
        # torch loads .bin checkpoints weights-only: a file holding anything but tensors
        # (code, arbitrary objects) is refused rather than executed.
        reason = str(error).strip().splitlines()[-1] if str(error).strip() else "refused"
        raise ModelError(
            f"refused to unpickle the weights of {name!r} (not plain tensors: {reason}); "
            "use a model with safetensors weights"
        ) from None
    check_max_length(loaded, spec.batching.max_length)
    return loaded


def check_max_length(loaded: LoadedModel, max_length: int | None) -> None:
    """Refuse a ``--max-length`` past the model's position table: the forward pass of a
    longer pair would index past it (an IndexError deep in the model)."""
    limit = loaded.position_limit
    if max_length is None or limit is None or max_length <= limit:
        return
    raise ModelError(
        f"--max-length {max_length} is more than {loaded.name!r} can take: its position "
        f"table holds {limit} tokens per side; give --max-length {limit} or less, or leave it "
        "out for the model's own limit"
    )


def build_aligner(spec: AlignerSpec) -> Aligner:
    """Load the model(s) of ``spec`` and return the aligner they make."""
    return aligner_for(_load(spec.model, spec, revision=spec.revision), spec)


def aligner_for(loaded: LoadedModel, spec: AlignerSpec) -> Aligner:
    """The aligner ``spec`` describes, around an already loaded model (a reverse model,
    if ``spec`` names one, is loaded here)."""
    check_max_length(loaded, spec.batching.max_length)
    if is_embedding_model(loaded):
        foreign = sorted(spec.attention_only_given)
        if foreign:
            raise XalignError(
                f"{_flags(foreign)}: only for translation models (cross-attention); "
                f"{loaded.name!r} is an encoder-only {loaded.model_type!r} model, which takes "
                "--embedding-layer, --granularity, --method and --threshold"
            )
        return EmbeddingAligner(
            loaded,
            spec.embedding.settings(),
            spec.batching,
            include_matrix=spec.include_matrix,
        )
    if spec.embedding.given_only_here:
        raise XalignError(
            f"{_flags(spec.embedding.given_only_here)}: only for encoder-only models (BERT, "
            f"XLM-R, ...); {loaded.name!r} is a translation model, aligned by its "
            "cross-attention (choose its layers with --layers)"
        )
    # The model folder's own settings (xalign.json) when the spec leaves them to it.
    settings, settings_source = spec_settings(loaded, spec)
    aligner = AttentionAligner(
        loaded,
        settings,
        spec.batching,
        src_lang=spec.src_lang,
        tgt_lang=spec.tgt_lang,
        source_prefix=spec.source_prefix,
        target_language_token=spec.target_token,
        include_matrix=spec.include_matrix,
        settings_source=settings_source,
    )
    if spec.reverse_model is None:
        return aligner
    reverse_loaded = _load(spec.reverse_model, spec, revision=None)
    # The reverse model reads the target side as its source: languages swap.
    reverse = AttentionAligner(
        reverse_loaded,
        settings,
        spec.batching,
        src_lang=spec.tgt_lang,
        tgt_lang=spec.src_lang,
        include_matrix=spec.include_matrix,
    )
    return BidirectionalAligner(aligner, reverse)
