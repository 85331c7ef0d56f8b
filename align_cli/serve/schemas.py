"""The JSON the service reads and writes, as pydantic models.

pydantic (v2) checks each request body against these models and reports every problem
with its location (``pairs.3.target``), and the same models give the JSON Schemas of the
OpenAPI description (:mod:`align_cli.serve.openapi`), so the documentation cannot drift
from what is enforced. Unknown fields are refused (``extra="forbid"``): a typo in a
setting is an error, never a silently ignored option.

Settings use the option vocabulary of ``xalign extract`` (the same names with ``_`` for
``-``, the same values: ``"layers": "2:5"``, ``"heads": "mean"``); they override the
server's settings field by field, as options override a preset on the command line.

A segment is a string, split on whitespace, or a list of words (pre-tokenised text).
:func:`words_of` is the one place where a segment becomes words, so that a ``tokenize``
field (raw text, words with character offsets) can be added to the requests beside
``settings`` without changing the rest.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from align_cli.io.corpus import split_words
from align_cli.io.tokenize import DEFAULT_SCHEME, TOKENIZERS
from align_cli.settings import (
    EXTRACTION_METHODS,
    GRANULARITIES,
    POOLINGS,
    PRESETS,
    SYMMETRIZATIONS,
)

Segment = Annotated[
    str | list[str],
    Field(description="A sentence, split on whitespace, or a list of words (pre-tokenised)."),
]
LinkPair = Annotated[
    tuple[int, int], Field(description="(source word, target word), 0-based, source first.")
]


def words_of(segment: str | list[str], tokenize: str = DEFAULT_SCHEME) -> tuple[str, ...]:
    """The words of a segment: text split with ``tokenize`` (whitespace by default), or
    the given words as they are."""
    return split_segment(segment, tokenize)[0]


def split_segment(
    segment: str | list[str], tokenize: str = DEFAULT_SCHEME
) -> tuple[tuple[str, ...], tuple[tuple[int, int], ...] | None]:
    """The words of a segment and their ``[start, end)`` offsets in its text (``None``
    for whitespace, the default, and for a list of words)."""
    if isinstance(segment, str):
        return split_words(segment, tokenize)
    return tuple(segment), None


def segment_chars(segment: str | list[str]) -> int:
    """The length of a segment in characters (a word list counts one space between words)."""
    if isinstance(segment, str):
        return len(segment)
    return sum(len(word) for word in segment) + max(len(segment) - 1, 0)


class _Strict(BaseModel):
    # strict: no "yes" -> True or "3" -> 3 coercions; forbid: unknown fields are errors.
    model_config = ConfigDict(extra="forbid", strict=True)


class RequestSettings(_Strict):
    """Alignment settings for one request, in ``xalign extract``'s option vocabulary.

    Fields left out keep the server's value (what ``xalign serve`` was started with);
    ``preset`` starts from that preset instead, as on the command line.
    """

    preset: Literal[tuple(sorted(PRESETS))] | None = None  # type: ignore[valid-type]
    layers: str | int | list[int] | None = Field(
        None, description="Decoder layer(s): -2, '2,3' or a range '2:5' (averaged)."
    )
    heads: str | int | list[int] | None = Field(
        None, description="'mean' or head indices such as 0 or '0,3' (averaged)."
    )
    shift: bool | None = Field(None, description="Shift-Att (Chen et al. 2020).")
    pooling: Literal[POOLINGS] | None = None  # type: ignore[valid-type]
    method: Literal[tuple(sorted(EXTRACTION_METHODS))] | None = None  # type: ignore[valid-type]
    threshold: float | None = Field(
        None, description="Score above which method 'threshold' links (or softmax_threshold)."
    )
    symmetrize: Literal[SYMMETRIZATIONS] | None = None  # type: ignore[valid-type]
    embedding_layer: int | None = Field(
        None, description="Encoder-only models: the hidden layer compared."
    )
    granularity: Literal[GRANULARITIES] | None = None  # type: ignore[valid-type]

    def given(self) -> dict[str, object]:
        """The fields the request set."""
        return {name: getattr(self, name) for name in self.model_fields_set}


class PairIn(_Strict):
    source: Segment
    target: Segment


class AlignRequest(_Strict):
    """A batch of sentence pairs to align."""

    pairs: list[PairIn] = Field(description="The pairs, aligned and returned in this order.")
    settings: RequestSettings | None = None
    include_matrix: bool = Field(
        False, description="Return each pair's word score matrix (rows: source words)."
    )
    tokenize: Literal[tuple(sorted(TOKENIZERS))] = Field(  # type: ignore[valid-type]
        DEFAULT_SCHEME,
        description="How text segments become words: whitespace (pre-tokenised text) or "
        "unicode (raw text; each result then has the words' character offsets).",
    )
    flags: bool = Field(
        False, description="List each pair's words without a link (unaligned_source/target)."
    )


class AlignResult(BaseModel):
    source_words: list[str]
    target_words: list[str]
    links: list[LinkPair] = Field(description="Sorted links.")
    scores: list[float] = Field(description="scores[k] is the probability of links[k].")
    pharaoh: str = Field(description="The links as one Pharaoh line ('0-0 1-2').")
    skipped: str | None = Field(
        None, description="Why the pair was not aligned (too long for the model); no links."
    )
    matrix: list[list[float]] | None = Field(
        None, description="[source word][target word] scores, with include_matrix."
    )
    source_offsets: list[tuple[int, int]] | None = Field(
        None, description="Each source word's [start, end) code points (tokenize=unicode)."
    )
    target_offsets: list[tuple[int, int]] | None = Field(
        None, description="Each target word's [start, end) code points (tokenize=unicode)."
    )
    unaligned_source: list[int] | None = Field(
        None, description="Source words without a link (possible omissions), with flags."
    )
    unaligned_target: list[int] | None = Field(
        None, description="Target words without a link (possible additions), with flags."
    )


class AlignResponse(BaseModel):
    signature: str = Field(description="What produced the links (xalign's signature line).")
    results: list[AlignResult]


class TransferPairIn(_Strict):
    source: str = Field(description="The source segment with its inline tags.")
    target: Segment = Field(description="The target segment, without tags.")
    links: list[LinkPair] | None = Field(
        None,
        description="Links between the untagged source words and the target words; when "
        "left out the service aligns the pair first.",
    )


class TransferRequest(_Strict):
    """Segments whose source tags are to be carried into the target."""

    pairs: list[TransferPairIn]
    settings: RequestSettings | None = Field(
        None, description="Settings for the pairs the service aligns (those without links)."
    )
    tokenize: Literal[tuple(sorted(TOKENIZERS))] = Field(  # type: ignore[valid-type]
        DEFAULT_SCHEME,
        description="How the source (between its tags) and a text target become words: "
        "whitespace (pre-tokenised text; the tagged target's tokens are joined by single "
        "spaces) or unicode (raw text; the tags go into the target text as it is, which "
        "removing them gives back character for character). Given links index these words.",
    )


class TransferResult(BaseModel):
    target: str = Field(description="The target with the source's tags placed.")
    links: list[LinkPair] = Field(description="The links the tags were placed through.")
    source_words: list[str]
    target_words: list[str]


class TransferResponse(BaseModel):
    signature: str | None = Field(
        None, description="The signature of the alignments made here (none if all were given)."
    )
    results: list[TransferResult]


class ErrorResponse(BaseModel):
    error: str = Field(description="What is wrong, in one line.")
    limit: str | None = Field(None, description="The name of the limit the request hit.")
    max: float | None = Field(None, description="That limit's value.")
    details: list[dict] | None = Field(None, description="Each invalid field, with its location.")


class HealthResponse(BaseModel):
    status: Literal["ok", "starting", "shutting down", "worker stopped"]
    live: bool = Field(description="The process answers.")
    ready: bool = Field(description="It accepts alignment requests.")
    model: str
    signature: str
    queue_pairs: int = Field(description="Pairs waiting for the model now.")
