"""Layer/head sweep: score every decoder layer and head against a gold alignment.

Which layer and heads align best differs from model to model, so a user with a small
gold set can measure it instead of trusting a preset. One teacher-forced pass per batch
reads the cross-attention of **all** decoder layers, per head; every candidate setting

* one head ``h`` of layer ``l``, or the mean of all heads of layer ``l``,
* without and with Shift-Att,

is turned into word matrices by the same pooling and extraction code ``xalign extract``
uses (:func:`align_cli.stages.aggregation.word_scores`,
:func:`align_cli.aligners.attention.make_result`), and scored with AER
(:mod:`align_cli.tools.evaluate`). The best setting's options therefore reproduce its
score with ``xalign extract`` + ``xalign eval``.

The per-head reader below is separate from :class:`~align_cli.attention.CrossAttentionReader`
on purpose: alignment needs one head-averaged ``[B, T, S]`` tensor from one layer and stops
the decoder there; the sweep needs ``[B, layers, heads, T, S]``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace

import torch
from torch import nn

from align_cli.aligners.attention import make_result
from align_cli.errors import ModelError, XalignError
from align_cli.io.formats import AlignedSentence, check_indices
from align_cli.model.loading import LoadedModel
from align_cli.settings import AlignmentSettings, BatchingSettings
from align_cli.stages.aggregation import WordMaps, sentence_matrix, word_scores
from align_cli.stages.attention import (
    CrossAttentionSite,
    find_cross_attention_sites,
    read_cross_attention,
)
from align_cli.stages.batching import EncodedPair, padded_batches, teacher_forced_batch
from align_cli.stages.subwords import PairEncoder
from align_cli.tools.evaluate import IndexZeroWatch, LinkCounts, count_links
from align_cli.types import SentencePair


class PerHeadAttentionReader:
    """Cross-attention probabilities of every decoder layer and head, in float32.

    Like :class:`~align_cli.attention.CrossAttentionReader` it hooks the cross-attention
    query and key projections and computes ``softmax(Q Kᵀ · scaling)`` over the real
    source tokens itself, so the model keeps its fast attention kernel; the decoder stops
    after the last layer's keys and queries exist (its feed-forward block and the LM head
    never run).
    """

    def __init__(self, model: nn.Module):
        self.model = model
        self.sites = find_cross_attention_sites(model)
        head_counts = {site.num_heads for site in self.sites}
        if len(head_counts) != 1:
            raise ModelError(
                "the decoder layers have different numbers of cross-attention heads "
                f"({sorted(head_counts)}); the sweep needs one head count"
            )
        self.num_layers = len(self.sites)
        self.num_heads = head_counts.pop()

    @torch.inference_mode()
    def __call__(
        self, src_ids: torch.Tensor, src_mask: torch.Tensor, decoder_ids: torch.Tensor
    ) -> torch.Tensor:
        """``[batch, layers, heads, decoder_len, src_len]`` probabilities (float32)."""
        batch, dec_len = decoder_ids.shape
        probabilities = torch.zeros(
            batch,
            self.num_layers,
            self.num_heads,
            dec_len,
            src_ids.shape[1],
            dtype=torch.float32,
            device=src_ids.device,
        )
        padding = ~src_mask.bool()[:, None, None, :]

        def keep_layer(site: CrossAttentionSite, query: torch.Tensor, key: torch.Tensor) -> None:
            logits = torch.matmul(query.float(), key.float().transpose(-1, -2)) * site.scaling
            probabilities[:, site.layer] = logits.masked_fill(padding, float("-inf")).softmax(-1)

        read_cross_attention(self.model, self.sites, src_ids, src_mask, decoder_ids, keep_layer)
        return probabilities


@dataclass(frozen=True)
class SweepSetting:
    """One candidate: a layer (0-based), one head or the head mean, and Shift-Att."""

    layer: int
    head: int | None  # None: mean over all heads
    shift: bool

    def settings(self, base: AlignmentSettings) -> AlignmentSettings:
        heads = None if self.head is None else (self.head,)
        return replace(base, layers=(self.layer,), heads=heads, shift=self.shift)

    def extract_options(self, pooling: str, method: str = "argmax") -> list[str]:
        """The ``xalign extract`` options that select this setting."""
        return [
            "--layers",
            str(self.layer),
            "--heads",
            "mean" if self.head is None else str(self.head),
            "--shift" if self.shift else "--no-shift",
            "--pooling",
            pooling,
            "--method",
            method,
        ]


@dataclass(frozen=True)
class SweepRow:
    setting: SweepSetting
    counts: LinkCounts


@dataclass
class SweepResult:
    """Every setting's corpus-level counts, best (lowest AER) first."""

    rows: list[SweepRow]
    sentences: int
    num_layers: int
    num_heads: int
    pooling: str
    skipped: list[int] = field(default_factory=list)  # 1-based corpus lines not run
    method: str = "argmax"
    warnings: list[str] = field(default_factory=list)

    @property
    def best(self) -> SweepRow:
        return self.rows[0]

    def to_dict(self) -> dict[str, object]:
        def row_dict(row: SweepRow) -> dict[str, object]:
            return {
                "layer": row.setting.layer,
                "layer_from_end": row.setting.layer - self.num_layers,
                "heads": "mean" if row.setting.head is None else row.setting.head,
                "shift": row.setting.shift,
                **row.counts.to_dict(),
            }

        return {
            "sentences": self.sentences,
            "layers": self.num_layers,
            "heads": self.num_heads,
            "pooling": self.pooling,
            "method": self.method,
            "skipped_lines": self.skipped,
            "best": {
                **row_dict(self.best),
                "extract_options": self.best.setting.extract_options(self.pooling, self.method),
            },
            "results": [row_dict(row) for row in self.rows],
        }


Scored = tuple[EncodedPair, AlignedSentence]  # a pair to run, and its gold


def _batches(items: list[Scored], batching: BatchingSettings) -> Iterator[list[Scored]]:
    """Length-sorted batches under the pair and padded-token budgets."""
    ordered = sorted(items, key=lambda item: item[0].cost)
    return padded_batches(
        ordered, lambda item: item[0].cost, batching.batch_size, batching.max_tokens
    )


def sweep(
    loaded: LoadedModel,
    pairs: Iterable[SentencePair],
    gold: Iterable[AlignedSentence],
    *,
    shifts: Sequence[bool] = (False, True),
    pooling: str = "mean",
    method: str = "argmax",
    batching: BatchingSettings | None = None,
    src_lang: str | None = None,
    tgt_lang: str | None = None,
    source_prefix: str | None = None,
    target_language_token: str | None = None,
    gold_name: str = "the gold file",
    gold_one_based: bool = False,
    watch_index_zero: bool = False,
) -> SweepResult:
    """Score every (layer, head or head mean, shift) setting with ``method`` extraction.

    Every gold link is checked against its corpus pair, as ``xalign eval --corpus`` does;
    with ``watch_index_zero`` (a Pharaoh gold read 0-based) a gold file that never uses
    index 0 gets a warning, as in ``xalign eval``: it is probably 1-based.
    """
    batching = batching or BatchingSettings(batch_size=16, max_tokens=4000)
    base = AlignmentSettings(pooling=pooling, method=method)
    # Words are encoded, padded and limited exactly as `xalign extract` does it.
    encoder = PairEncoder(
        loaded.tokenizer,
        src_lang=src_lang,
        tgt_lang=tgt_lang,
        source_prefix=source_prefix,
        target_language_token=target_language_token,
    )
    length_limit = batching.max_length or loaded.length_limit
    start_id = loaded.decoder_start_id
    pad = loaded.tokenizer.pad_token_id
    pad_id = int(pad if pad is not None else start_id)
    reader = PerHeadAttentionReader(loaded.model)
    candidates = [
        SweepSetting(layer, head, shift)
        for layer in range(reader.num_layers)
        for head in [None, *range(reader.num_heads)]
        for shift in shifts
    ]
    totals = {candidate: LinkCounts() for candidate in candidates}

    zero = IndexZeroWatch(gold_name, watch_index_zero)
    items: list[Scored] = []
    skipped: list[int] = []
    sentences = 0
    pairs_iter, gold_iter = iter(pairs), iter(gold)
    for pair in pairs_iter:
        reference = next(gold_iter, None)
        if reference is None:
            raise XalignError(
                f"the gold file has fewer sentences than the corpus (no gold for corpus "
                f"line {pair.line_no}); they must be line-aligned"
            )
        sentences += 1
        check_indices(
            reference,
            len(pair.src_words),
            len(pair.tgt_words),
            path=gold_name,
            one_based=gold_one_based,
            lengths_from=f"corpus line {pair.line_no}",
            hint="; if the file is 1-based, pass --gold-one-based" if watch_index_zero else "",
        )
        zero.see(reference)
        if not pair.src_words or not pair.tgt_words:
            _count_empty(totals, reference)
            continue
        src = encoder.source.encode(pair.src_words)
        tgt = encoder.target.encode(pair.tgt_words)
        if max(len(src.ids), len(tgt.ids) + 1) > length_limit:
            skipped.append(pair.line_no)
            _count_empty(totals, reference)
            continue
        items.append((EncodedPair(pair, src, tgt), reference))
    if next(gold_iter, None) is not None:
        raise XalignError(
            f"the gold file has more sentences than the corpus ({sentences}); "
            "they must be line-aligned"
        )
    if sentences == 0:
        raise XalignError("the corpus is empty; nothing to sweep")

    for batch in _batches(items, batching):
        tensors = teacher_forced_batch(
            [encoded for encoded, _ in batch],
            start_id=start_id,
            pad_id=pad_id,
            device=loaded.device,
        )
        probabilities = reader(tensors.src_ids, tensors.src_mask, tensors.decoder_ids)
        for layer in range(reader.num_layers):
            per_head = probabilities[:, layer]
            for head in [None, *range(reader.num_heads)]:
                attention = per_head.mean(dim=1) if head is None else per_head[:, head]
                for shift in shifts:
                    candidate = SweepSetting(layer, head, shift)
                    totals[candidate] += _score(
                        batch, attention, tensors.maps, candidate.settings(base)
                    )
    rows = [SweepRow(candidate, totals[candidate]) for candidate in candidates]
    # Lowest AER first; ties go to the simpler setting (head mean, no shift, lower layer).
    rows.sort(
        key=lambda row: (
            round(row.counts.aer, 12),
            row.setting.head is not None,
            row.setting.shift,
            -row.setting.layer,
        )
    )
    warning = zero.warning("--gold-one-based")
    return SweepResult(
        rows,
        sentences,
        reader.num_layers,
        reader.num_heads,
        pooling,
        skipped,
        method,
        [warning] if warning else [],
    )


def _score(
    batch: list[Scored], attention: torch.Tensor, maps: WordMaps, settings: AlignmentSettings
) -> LinkCounts:
    scores = word_scores(attention, maps, shift=settings.shift, pooling=settings.pooling).cpu()
    total = LinkCounts()
    for row, (encoded, gold) in enumerate(batch):
        matrix = sentence_matrix(scores[row], encoded.src.n_words, encoded.tgt.n_words)
        result = make_result(encoded.pair, matrix, None, settings, include_matrix=False)
        total += count_links(gold.sure, gold.possible, result.links)
    return total


def _count_empty(totals: dict[SweepSetting, LinkCounts], reference: AlignedSentence) -> None:
    """A pair that is not run counts as predicting no link, as ``xalign extract`` does."""
    counts = count_links(reference.sure, reference.possible, ())
    for candidate in totals:
        totals[candidate] += counts
