"""Per-request settings: the server's aligner, or one built for the request's settings
around the *same* loaded model(s).

A request may choose any alignment setting the command line has (layers, heads, shift,
pooling, method, threshold, symmetrize; the embedding layer and granularity for
encoder-only models), but never a model: :meth:`AlignerVariants.spec_for` only replaces
settings in the server's :class:`~align_cli.settings.AlignerSpec`, and
:meth:`AlignerVariants.aligner` builds aligners around the models loaded at start-up,
never calling a loader. The spec is the key the batcher groups jobs by: requests with
equal settings share runs of the model.

Aligners are built by the model worker thread (an encoder-only aligner probes its model
when built, and only that thread may run the model), and the last few are kept.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict

from align_cli.aligners.attention import AttentionAligner, BidirectionalAligner
from align_cli.aligners.base import Aligner
from align_cli.aligners.factory import aligner_for
from align_cli.errors import XalignError
from align_cli.settings import (
    ATTENTION_ONLY_OPTIONS,
    DEFAULT_THRESHOLDS,
    PRESETS,
    AlignerSpec,
    AlignmentSettings,
    EmbeddingOptions,
    parse_heads,
    parse_layers,
)

# Fields of AlignmentSettings a request may set, as named in the request.
ATTENTION_FIELDS = ("layers", "heads", "shift", "pooling", "method", "threshold", "symmetrize")


def _indices(value: object, parse, what: str) -> tuple[int, ...] | None:
    """A request's layers/heads: the CLI's text syntax, one integer, or a list of them."""
    if isinstance(value, str):
        return parse(value)
    if isinstance(value, int):
        return (value,)
    if isinstance(value, list) and value:
        return tuple(value)
    raise XalignError(f"{what} must be text such as '2,3', an integer or a non-empty list")


class AlignerVariants:
    """The server's aligner plus the aligners requests' settings ask for."""

    def __init__(self, spec: AlignerSpec, aligner: Aligner, *, keep: int = 8):
        self.spec = spec
        self.base = aligner
        self.keep = keep
        self._built: OrderedDict[AlignerSpec, Aligner] = OrderedDict()

    def spec_for(self, given: dict[str, object]) -> AlignerSpec:
        """The server's spec with the settings a request gave (names as in the request).

        Raises :class:`XalignError` for a value the command line would refuse.
        """
        if not given:
            return self.spec
        preset = given.get("preset")
        # The server's settings as its aligner resolved them (the layer picked by depth,
        # settings a model folder records), unless the request starts from a preset.
        current = getattr(self.base, "settings", None)
        if not isinstance(current, AlignmentSettings):
            current = self.spec.settings
        base = PRESETS[preset].settings if preset is not None else current  # type: ignore[index]
        overrides: dict[str, object] = {
            name: given[name] for name in ATTENTION_FIELDS if given.get(name) is not None
        }
        if "layers" in overrides:
            overrides["layers"] = _indices(overrides["layers"], parse_layers, "layers")
        if "heads" in overrides:
            heads = overrides["heads"]
            overrides["heads"] = (
                parse_heads(heads) if isinstance(heads, str) else _indices(heads, None, "heads")
            )
        settings = dataclasses.replace(base, **overrides)
        if given.get("threshold") is not None and settings.method not in DEFAULT_THRESHOLDS:
            raise XalignError(
                "threshold applies to method threshold or softmax_threshold; the method "
                f"here is {settings.method}"
            )
        embedding = self.spec.embedding
        embedding = EmbeddingOptions(
            layer=given.get("embedding_layer", embedding.layer),  # type: ignore[arg-type]
            granularity=given.get("granularity", embedding.granularity),  # type: ignore[arg-type]
            method=given.get("method", embedding.method),  # type: ignore[arg-type]
            threshold=given.get("threshold", embedding.threshold),  # type: ignore[arg-type]
        )
        attention_given = set(self.spec.attention_options_given)
        attention_given |= {name for name in ATTENTION_ONLY_OPTIONS if given.get(name) is not None}
        # The request's settings are final: no model-folder defaults replace them.
        final = {"defaults_from_model": None} if hasattr(self.spec, "defaults_from_model") else {}
        return dataclasses.replace(
            self.spec,
            **final,
            settings=settings,
            embedding=embedding,
            attention_options_given=tuple(
                name for name in ATTENTION_ONLY_OPTIONS if name in attention_given
            ),
        )

    def aligner(self, spec: AlignerSpec) -> Aligner:
        """The aligner of ``spec`` (one of :meth:`spec_for`'s), around the loaded models.

        Call from the model worker thread only.
        """
        if spec == self.spec:
            return self.base
        if spec in self._built:
            self._built.move_to_end(spec)
            return self._built[spec]
        aligner = self._build(spec)
        self._built[spec] = aligner
        while len(self._built) > self.keep:
            self._built.popitem(last=False)
        return aligner

    def _build(self, spec: AlignerSpec) -> Aligner:
        base = self.base
        if isinstance(base, BidirectionalAligner):
            # aligner_for would load the reverse model again; both are loaded already.
            forward = AttentionAligner(
                base.forward.loaded,
                spec.settings,
                spec.batching,
                src_lang=spec.src_lang,
                tgt_lang=spec.tgt_lang,
                source_prefix=spec.source_prefix,
                target_language_token=spec.target_token,
                include_matrix=spec.include_matrix,
            )
            reverse = AttentionAligner(
                base.reverse.loaded,
                spec.settings,
                spec.batching,
                src_lang=spec.tgt_lang,
                tgt_lang=spec.src_lang,
                include_matrix=spec.include_matrix,
            )
            return BidirectionalAligner(forward, reverse)
        loaded = getattr(base, "loaded", None)
        if loaded is None:
            raise XalignError("this server's aligner takes no per-request settings")
        return aligner_for(loaded, dataclasses.replace(spec, reverse_model=None))
