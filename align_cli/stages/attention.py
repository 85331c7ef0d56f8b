"""Attention stage: one teacher-forced forward pass that yields cross-attention probabilities.

Only what the alignment needs is computed:

* the encoder runs as usual (SDPA attention);
* the decoder runs only up to the last layer the alignment reads: a hook raises
  :class:`_DecoderDone` as soon as that layer's cross-attention queries and keys exist, so
  its attention output, its feed-forward block, every later layer and the LM head are
  never computed;
* no ``output_attentions``: every attention module stays on its fast kernel. For the
  layers we read, forward hooks on the cross-attention's query and key projections
  capture ``Q`` and ``K``, and ``softmax(Q Kᵀ · scaling)`` over the source is computed
  here, head-aggregated, in float32.

The result equals what the model's own eager attention would return (tests check this
against ``output_attentions=True`` in float64).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from align_cli.errors import ModelError
from align_cli.model.kernels import cross_attention_probs

SUPPORTED_FAMILIES = "Marian, M2M100, NLLB, mBART, T5/mT5, BART or FSMT"
# Names the cross-attention block has in the transformers architectures we know.
CROSS_ATTENTION_NAMES = ("encoder_attn", "EncDecAttention", "crossattention", "cross_attn")
QUERY_NAMES = ("q_proj", "q", "query")
KEY_NAMES = ("k_proj", "k", "key")
# Architectures whose attention takes [time, batch, channels] tensors (fairseq layout).
TIME_FIRST_MODEL_TYPES = ("fsmt",)
# T5-style attention does not scale the logits (the scale is folded into initialisation).
UNSCALED_MODEL_TYPES = ("t5", "mt5", "umt5", "longt5", "switch_transformers")


@dataclass(frozen=True)
class CrossAttentionSite:
    """Where one decoder layer's cross-attention reads its queries and keys."""

    layer: int
    query_proj: nn.Module
    key_proj: nn.Module
    num_heads: int
    head_dim: int
    scaling: float
    time_first: bool


def decoder_layers(model: nn.Module) -> nn.ModuleList:
    decoder = model.get_decoder() if hasattr(model, "get_decoder") else None
    for name in ("layers", "block", "layer"):
        layers = getattr(decoder, name, None)
        if isinstance(layers, nn.ModuleList):
            return layers
    model_type = getattr(model.config, "model_type", "unknown")
    raise ModelError(
        f"cannot find the decoder layers of this {type(model).__name__} ({model_type!r}): "
        "its decoder has no layers/block/layer list; xalign reads the cross-attention of "
        f"{SUPPORTED_FAMILIES} decoders, so use one of those"
    )


def _child(module: nn.Module, names: Sequence[str]) -> nn.Module | None:
    for name in names:
        child = getattr(module, name, None)
        if isinstance(child, nn.Module):
            return child
    return None


def find_cross_attention_sites(model: nn.Module) -> list[CrossAttentionSite]:
    """One :class:`CrossAttentionSite` per decoder layer."""
    config = model.config
    model_type = getattr(config, "model_type", "")
    sites = []
    for index, layer in enumerate(decoder_layers(model)):
        attention = None
        for name, module in layer.named_modules():
            if name.split(".")[-1] in CROSS_ATTENTION_NAMES:
                attention = module
                break
        query = _child(attention, QUERY_NAMES) if attention is not None else None
        key = _child(attention, KEY_NAMES) if attention is not None else None
        if attention is None or query is None or key is None:
            raise ModelError(
                f"decoder layer {index} of this {model_type!r} model has no cross-attention "
                f"block ({'/'.join(CROSS_ATTENTION_NAMES)}) with its own query and key "
                f"projections; xalign reads {SUPPORTED_FAMILIES} decoders, so use one of those"
            )
        num_heads = (
            getattr(attention, "num_heads", None)
            or getattr(attention, "n_heads", None)
            or getattr(config, "decoder_attention_heads", None)
            or getattr(config, "num_heads", None)
        )
        head_dim = query.out_features // num_heads
        if model_type in UNSCALED_MODEL_TYPES:
            scaling = 1.0
        else:
            scaling = float(getattr(attention, "scaling", head_dim**-0.5))
        sites.append(
            CrossAttentionSite(
                layer=index,
                query_proj=query,
                key_proj=key,
                num_heads=int(num_heads),
                head_dim=int(head_dim),
                scaling=scaling,
                time_first=model_type in TIME_FIRST_MODEL_TYPES,
            )
        )
    return sites


def normalize_layers(layers: Sequence[int], n_layers: int) -> tuple[int, ...]:
    """Turn negative layer indices into positive ones and check the range."""
    resolved = []
    for layer in layers:
        positive = layer + n_layers if layer < 0 else layer
        if not 0 <= positive < n_layers:
            raise ModelError(
                f"layer {layer} does not exist: the decoder has {n_layers} layers "
                f"(0..{n_layers - 1}, or -1..-{n_layers})"
            )
        resolved.append(positive)
    return tuple(sorted(set(resolved)))


def decoder_arguments(
    model: nn.Module,
    decoder_ids: torch.Tensor,
    encoder_states: torch.Tensor,
    src_mask: torch.Tensor,
) -> dict[str, object]:
    """Keyword arguments for one teacher-forced pass of ``model``'s decoder, without cache."""
    if getattr(model.config, "model_type", "") in TIME_FIRST_MODEL_TYPES:
        # FSMT's (fairseq's) decoder names its masks differently and applies no causal mask
        # unless it is given one: without it every row would also see the later tokens.
        length = decoder_ids.shape[1]
        blocked = torch.finfo(encoder_states.dtype).min
        causal = torch.full(
            (length, length), blocked, dtype=encoder_states.dtype, device=decoder_ids.device
        ).triu(diagonal=1)
        return {
            "input_ids": decoder_ids,
            "encoder_hidden_states": encoder_states,
            "encoder_padding_mask": src_mask,
            # Right padding: with the causal mask a real row never sees a padded position.
            "decoder_padding_mask": None,
            "decoder_causal_mask": causal,
            "use_cache": False,
        }
    return {
        "input_ids": decoder_ids,
        "encoder_hidden_states": encoder_states,
        "encoder_attention_mask": src_mask,
        "use_cache": False,
    }


class _DecoderDone(Exception):
    """Raised from a hook to stop the decoder once the last needed layer has been read."""


LayerReader = Callable[[CrossAttentionSite, torch.Tensor, torch.Tensor], None]


def read_cross_attention(
    model: nn.Module,
    sites: Sequence[CrossAttentionSite],
    src_ids: torch.Tensor,
    src_mask: torch.Tensor,
    decoder_ids: torch.Tensor,
    on_layer: LayerReader,
) -> None:
    """One teacher-forced pass that hands each site's ``Q`` and ``K`` to ``on_layer``.

    ``on_layer(site, query, key)`` gets ``query`` as ``[batch, heads, decoder_len, head_dim]``
    and ``key`` as ``[batch, heads, src_len, head_dim]``, in the order the decoder reaches
    the sites; the decoder is stopped as soon as the last of ``sites`` has been read.
    """
    encoder_states = model.get_encoder()(input_ids=src_ids, attention_mask=src_mask)[0]
    batch, dec_len = decoder_ids.shape
    captured: dict[tuple[int, str], torch.Tensor] = {}
    last_layer = max(site.layer for site in sites)

    def read(site: CrossAttentionSite) -> None:
        query = captured.pop((site.layer, "q"))
        key = captured.pop((site.layer, "k"))
        if site.time_first:
            query, key = query.transpose(0, 1), key.transpose(0, 1)
        query = query.reshape(batch, dec_len, site.num_heads, site.head_dim).transpose(1, 2)
        key = key.reshape(batch, -1, site.num_heads, site.head_dim).transpose(1, 2)
        on_layer(site, query, key)
        if site.layer == last_layer:
            raise _DecoderDone

    def make_hook(site: CrossAttentionSite, kind: str):
        def hook(_module: nn.Module, _inputs: object, output: torch.Tensor) -> None:
            captured[(site.layer, kind)] = output
            if (site.layer, "q") in captured and (site.layer, "k") in captured:
                read(site)

        return hook

    handles = []
    for site in sites:
        handles.append(site.query_proj.register_forward_hook(make_hook(site, "q")))
        handles.append(site.key_proj.register_forward_hook(make_hook(site, "k")))
    try:
        model.get_decoder()(**decoder_arguments(model, decoder_ids, encoder_states, src_mask))
    except _DecoderDone:
        pass
    else:
        raise ModelError(
            "the decoder finished without reaching the cross-attention "
            f"of layer {last_layer}; this architecture is not supported"
        )
    finally:
        for handle in handles:
            handle.remove()


class CrossAttentionReader:
    """Runs encoder + truncated decoder and returns head- and layer-averaged attention.

    ``layers`` and ``heads`` may be negative (Python-style); ``heads=None`` averages all.
    """

    def __init__(
        self,
        model: nn.Module,
        layers: Sequence[int],
        heads: Sequence[int] | None = None,
        *,
        backend: str = "auto",
    ):
        self.model = model
        self.sites = find_cross_attention_sites(model)
        self.layers = normalize_layers(layers, len(self.sites))
        num_heads = self.sites[0].num_heads
        if heads is not None:
            bad = [h for h in heads if not -num_heads <= h < num_heads]
            if bad:
                raise ModelError(
                    f"head {bad[0]} does not exist: the decoder's cross-attention has "
                    f"{num_heads} heads (0..{num_heads - 1})"
                )
            heads = tuple(sorted({h % num_heads for h in heads}))
        self.heads = heads
        self.backend = backend

    @torch.inference_mode()
    def __call__(
        self,
        src_ids: torch.Tensor,
        src_mask: torch.Tensor,
        decoder_ids: torch.Tensor,
    ) -> torch.Tensor:
        """Attention ``[batch, decoder_len, src_len]`` (float32), averaged as configured.

        ``decoder_ids`` are right-padded; padded rows are garbage and must be ignored by
        the caller. The decoder needs no padding mask: with causal attention a real row
        never sees a padded position to its right.
        """
        batch, dec_len = decoder_ids.shape
        total = torch.zeros(
            batch, dec_len, src_ids.shape[1], dtype=torch.float32, device=src_ids.device
        )
        key_mask = src_mask.bool()

        def add_layer(site: CrossAttentionSite, query: torch.Tensor, key: torch.Tensor) -> None:
            total.add_(
                cross_attention_probs(
                    query, key, key_mask, site.scaling, self.heads, backend=self.backend
                )
            )

        sites = [self.sites[layer] for layer in self.layers]
        read_cross_attention(self.model, sites, src_ids, src_mask, decoder_ids, add_layer)
        if len(self.layers) > 1:
            total /= len(self.layers)
        return total
