"""The training objective: guided alignment on one cross-attention head, and optionally
the translation loss beside it.

Guided alignment (Garg et al. 2019; what Marian's ``--guided-alignment`` trains): the
chosen head's attention of each taught decoder row, summed over the pieces of each
source word (and over the special tokens: the null), ``a``, is pulled towards the row's
target distribution ``t`` (:mod:`align_cli.training.targets`) with the cross-entropy
``-Σ t log a``, averaged over the taught rows. The head's queries and keys are caught by
forward hooks on its layer's query and key projections, as the aligner reads them, and
``softmax(Q Kᵀ · scaling)`` is computed here with gradients.

Which parameters learn (``scope``):

* ``head``: the query and key projections of the chosen layer's cross-attention. With
  the alignment loss alone the decoder is stopped right after that layer's keys and
  queries exist (its feed-forward block, later layers and the LM head never run), and
  only the encoder output and that layer's input are computed, without gradients: a step
  costs little more than aligning the batch.
* ``layer``: every parameter of the chosen decoder layer.
* ``model``: every parameter.

Changing a head changes what the decoder reads, so a model that must stay a translator
is trained with ``translation_weight > 0``: the usual next-token cross-entropy is added,
and the whole decoder runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from align_cli.errors import XalignError
from align_cli.settings import TRAINING_SCOPES
from align_cli.stages.attention import (
    CrossAttentionSite,
    decoder_layers,
    find_cross_attention_sites,
    normalize_layers,
    read_cross_attention,
)
from align_cli.training.data import IGNORED_LABEL, TrainingBatch

# Added to the logits of padding: its attention becomes exactly 0.
MASKED_LOGIT = -1e9
# A taught word the head gives (almost) no attention costs at most -log of this.
PROBABILITY_FLOOR = 1e-12


@dataclass(frozen=True)
class StepLosses:
    """One batch's losses; ``total`` carries the gradients."""

    total: torch.Tensor
    alignment: float
    translation: float | None


class GuidedHead:
    """One cross-attention head of one decoder layer, taught to align."""

    def __init__(self, model: nn.Module, layer: int, head: int):
        self.model = model
        sites = find_cross_attention_sites(model)
        (self.layer,) = normalize_layers((layer,), len(sites))
        self.site: CrossAttentionSite = sites[self.layer]
        heads = self.site.num_heads
        if not -heads <= head < heads:
            raise XalignError(
                f"head {head} does not exist: the decoder's cross-attention has {heads} heads "
                f"(0..{heads - 1})"
            )
        self.head = head % heads
        self.num_layers = len(sites)

    def parameters(self, scope: str) -> Iterator[tuple[str, nn.Parameter]]:
        """The named parameters ``scope`` trains (see the module docstring)."""
        if scope == "model":
            yield from self.model.named_parameters()
            return
        if scope == "layer":
            module: nn.Module = decoder_layers(self.model)[self.layer]
            yield from module.named_parameters()
            return
        if scope == "head":
            for projection in (self.site.query_proj, self.site.key_proj):
                yield from projection.named_parameters()
            return
        raise XalignError(f"unknown training scope {scope!r}; choose {', '.join(TRAINING_SCOPES)}")

    def _head_slice(self, projected: torch.Tensor, batch: int) -> torch.Tensor:
        """``[batch, positions, head_dim]`` of this head from a projection's output."""
        if self.site.time_first:
            projected = projected.transpose(0, 1)
        shaped = projected.reshape(batch, projected.shape[1], self.site.num_heads, -1)
        return shaped[:, :, self.head]

    def head_logits(
        self, query: torch.Tensor, key: torch.Tensor, src_mask: torch.Tensor
    ) -> torch.Tensor:
        """Masked attention logits ``[batch, decoder_rows, src_len]`` in float32."""
        logits = torch.matmul(query.float(), key.float().transpose(-1, -2)) * self.site.scaling
        return logits.masked_fill(~src_mask.bool()[:, None, :], MASKED_LOGIT)

    def forward(
        self, batch: TrainingBatch, *, with_translation: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """This head's logits and, ``with_translation``, the LM logits."""
        forced = batch.forced
        size = forced.src_ids.shape[0]
        if not with_translation:
            caught: dict[str, torch.Tensor] = {}

            def keep(_site: CrossAttentionSite, query: torch.Tensor, key: torch.Tensor) -> None:
                caught["query"] = query[:, self.head]
                caught["key"] = key[:, self.head]

            read_cross_attention(
                self.model, [self.site], forced.src_ids, forced.src_mask, forced.decoder_ids, keep
            )
            return self.head_logits(caught["query"], caught["key"], forced.src_mask), None
        outputs: dict[str, torch.Tensor] = {}

        def hook(name: str):
            def catch(_module: nn.Module, _inputs: object, output: torch.Tensor) -> None:
                outputs[name] = output

            return catch

        handles = [
            self.site.query_proj.register_forward_hook(hook("query")),
            self.site.key_proj.register_forward_hook(hook("key")),
        ]
        try:
            lm_logits = self.model(
                input_ids=forced.src_ids,
                attention_mask=forced.src_mask,
                decoder_input_ids=forced.decoder_ids,
                use_cache=False,
            ).logits
        finally:
            for handle in handles:
                handle.remove()
        query = self._head_slice(outputs["query"], size)
        key = self._head_slice(outputs["key"], size)
        return self.head_logits(query, key, forced.src_mask), lm_logits


def alignment_loss(logits: torch.Tensor, batch: TrainingBatch) -> torch.Tensor:
    """Mean cross-entropy between the taught distributions over source words (and the
    null) and the head's attention summed over each word's pieces."""
    probabilities = logits.softmax(dim=-1)
    slots = batch.slots[:, None, :].expand_as(probabilities)
    pooled = torch.zeros(
        (*probabilities.shape[:2], batch.targets.shape[-1]),
        dtype=probabilities.dtype,
        device=probabilities.device,
    ).scatter_add_(2, slots, probabilities)
    per_row = -(batch.targets * pooled.clamp_min(PROBABILITY_FLOOR).log()).sum(dim=-1)
    taught = batch.taught
    return per_row[taught].sum() / taught.sum().clamp_min(1)


def translation_loss(lm_logits: torch.Tensor, batch: TrainingBatch) -> torch.Tensor:
    """The next-token cross-entropy, averaged over target tokens."""
    return F.cross_entropy(
        lm_logits.float().reshape(-1, lm_logits.shape[-1]),
        batch.labels.reshape(-1),
        ignore_index=IGNORED_LABEL,
    )


def step_losses(head: GuidedHead, batch: TrainingBatch, *, translation_weight: float) -> StepLosses:
    """The losses of one batch: alignment, plus ``translation_weight`` × translation."""
    with_translation = translation_weight > 0
    logits, lm_logits = head.forward(batch, with_translation=with_translation)
    aligned = alignment_loss(logits, batch)
    if lm_logits is None:
        return StepLosses(aligned, float(aligned.detach()), None)
    translated = translation_loss(lm_logits, batch)
    return StepLosses(
        aligned + translation_weight * translated,
        float(aligned.detach()),
        float(translated.detach()),
    )
