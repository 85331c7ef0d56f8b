"""Tiny random-weight MarianMT models built from the real OPUS-MT config and tokenizer.

They go through ``save_pretrained`` and come back through xalign's own loading code, as a
hub model would.
"""

from __future__ import annotations

from pathlib import Path

import torch

from tests.paths import SHARED_DATA

OPUS_TOKENIZER = SHARED_DATA / "tokenizers/opus-mt-tc-big-fr-en"


def build_tiny_marian(
    folder: Path,
    *,
    d_model: int = 32,
    encoder_layers: int = 2,
    decoder_layers: int = 3,
    heads: int = 4,
    seed: int = 0,
) -> Path:
    """Save a shrunk opus-mt-tc-big-fr-en (random weights, real tokenizer) to ``folder``."""
    from transformers import AutoTokenizer, MarianConfig, MarianMTModel

    config = MarianConfig.from_pretrained(OPUS_TOKENIZER)
    config.update(
        {
            "d_model": d_model,
            "encoder_layers": encoder_layers,
            "decoder_layers": decoder_layers,
            "encoder_attention_heads": heads,
            "decoder_attention_heads": heads,
            "encoder_ffn_dim": 2 * d_model,
            "decoder_ffn_dim": 2 * d_model,
            "dtype": "float32",
        }
    )
    torch.manual_seed(seed)
    model = MarianMTModel(config)
    # Random init gives near-uniform attention; sharper queries make argmax decisions
    # (and therefore the comparisons in the tests) meaningful.
    with torch.no_grad():
        for layer in model.model.decoder.layers:
            layer.encoder_attn.q_proj.weight.mul_(8.0)
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(OPUS_TOKENIZER).save_pretrained(folder)
    return folder
