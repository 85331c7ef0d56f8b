"""xalign's word matrices equal a float64 reimplementation over transformers' eager attention.

The reference runs the model one sentence at a time with ``output_attentions=True`` (eager
attention, float64) and aggregates with plain loops. xalign runs batched, with padding,
on SDPA, reading Q and K through hooks. Both must agree to 1e-6.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from align_cli.aligners.attention import AttentionAligner
from align_cli.model.loading import load_model
from align_cli.settings import AlignmentSettings, BatchingSettings
from align_cli.stages.attention import decoder_layers
from tests.marian_fixtures import OPUS_TOKENIZER, build_tiny_marian

PAIRS = [
    ("Le chat noir dort .", "The black cat sleeps ."),
    ("Bonjour !", "Hello there , friend !"),
    (
        "Il a 25 ans et travaille à l' Assemblée nationale depuis 1997 .",
        "He is 25 and has worked at the National Assembly since 1997 .",
    ),
    ("oui", "yes"),
    ("Anticonstitutionnellement , c' est extraordinaire", "Unconstitutionally , it is amazing"),
]


@pytest.fixture(scope="module", params=[(32, 2, 3, 4), (48, 1, 2, 6)], ids=["3-layers", "2-layers"])
def model_folder(request, tmp_path_factory, shared_data):
    d_model, enc, dec, heads = request.param
    folder = tmp_path_factory.mktemp("marian")
    return build_tiny_marian(
        folder, d_model=d_model, encoder_layers=enc, decoder_layers=dec, heads=heads
    )


def reference_matrix(
    model, tokenizer, src: str, tgt: str, layers, heads, shift, pooling
) -> np.ndarray:
    """Word matrix [n_src, n_tgt] from eager attention, computed the obvious way."""
    src_words, tgt_words = src.split(), tgt.split()
    src_pieces = [tokenizer(w, add_special_tokens=False)["input_ids"] for w in src_words]
    tgt_pieces = [
        tokenizer(text_target=w, add_special_tokens=False)["input_ids"] for w in tgt_words
    ]
    src_ids = [i for p in src_pieces for i in p] + [tokenizer.eos_token_id]
    labels = [i for p in tgt_pieces for i in p] + [tokenizer.eos_token_id]
    decoder_ids = [model.config.decoder_start_token_id] + labels
    out = model(
        input_ids=torch.tensor([src_ids]),
        decoder_input_ids=torch.tensor([decoder_ids]),
        output_attentions=True,
    )
    n_layers = len(out.cross_attentions)
    chosen = [layer % n_layers for layer in layers]
    attn = torch.stack([out.cross_attentions[layer][0] for layer in chosen])  # [L,H,T,S]
    n_heads = attn.shape[1]
    head_list = list(range(n_heads)) if heads is None else [h % n_heads for h in heads]
    attn = attn[:, head_list].mean(dim=(0, 1)).numpy()  # [T, S]

    def spans(pieces):
        start, out_spans = 0, []
        for p in pieces:
            out_spans.append(range(start, start + len(p)))
            start += len(p)
        return out_spans

    matrix = np.zeros((len(src_words), len(tgt_words)))
    for j, tgt_span in enumerate(spans(tgt_pieces)):
        rows = [p + (1 if shift else 0) for p in tgt_span]
        for i, src_span in enumerate(spans(src_pieces)):
            by_row = [[attn[r, s] for s in src_span] for r in rows]
            if pooling == "mean":
                matrix[i, j] = np.mean(by_row)
            elif pooling == "sum":
                matrix[i, j] = np.sum(by_row)
            else:
                matrix[i, j] = np.max(by_row)
        matrix[:, j] /= matrix[:, j].sum()
    return matrix


SETTINGS = [
    AlignmentSettings(layers=(-1,), pooling="mean"),
    AlignmentSettings(layers=(0,), heads=(0,), pooling="sum"),
    AlignmentSettings(layers=(-2,), heads=(1, 3), shift=True, pooling="max"),
    AlignmentSettings(layers=(0, 1), shift=True, pooling="mean"),
    AlignmentSettings(),  # the defaults
]


@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: s.describe())
def test_word_matrices_match_eager_float64_reference(model_folder, settings):
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    reference_model = AutoModelForSeq2SeqLM.from_pretrained(
        model_folder, attn_implementation="eager", dtype=torch.float64
    ).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_folder)
    n_heads = reference_model.config.decoder_attention_heads
    if settings.heads and max(settings.heads) >= n_heads:
        settings = replace(settings, heads=(0, n_heads - 1))
    loaded = load_model(str(model_folder), dtype="float64", device="cpu")
    # batch_size 3 puts pairs of different lengths (so padding) into one batch.
    aligner = AttentionAligner(
        loaded, settings, BatchingSettings(batch_size=3), include_matrix=True
    )
    results = aligner.align_texts([s for s, _ in PAIRS], [t for _, t in PAIRS])
    settings = aligner.settings  # with the default layer resolved for this decoder
    with torch.no_grad():
        for (src, tgt), result in zip(PAIRS, results, strict=True):
            expected = reference_matrix(
                reference_model,
                tokenizer,
                src,
                tgt,
                settings.layers,
                settings.heads,
                settings.shift,
                settings.pooling,
            )
            assert result.matrix.shape == expected.shape
            np.testing.assert_allclose(result.matrix, expected, atol=1e-6, rtol=0)


def test_lm_head_and_unused_decoder_layers_are_never_run(model_folder):
    loaded = load_model(str(model_folder), device="cpu")
    layers = decoder_layers(loaded.model)
    calls: list[str] = []
    hooks = [
        loaded.model.get_output_embeddings().register_forward_hook(
            lambda *_: calls.append("lm_head")
        )
    ]
    for index, layer in enumerate(layers):
        hooks.append(
            layer.register_forward_pre_hook(lambda *_, index=index: calls.append(f"layer{index}"))
        )
        hooks.append(
            layer.encoder_attn.out_proj.register_forward_hook(
                lambda *_, index=index: calls.append(f"cross_out{index}")
            )
        )
    aligner = AttentionAligner(loaded, AlignmentSettings(layers=(0,)))
    aligner.align_texts(["Le chat dort ."], ["The cat sleeps ."])
    # Layer 0 starts, its cross-attention output projection never runs (the hook stops the
    # decoder right after Q and K), and nothing after it runs.
    assert calls == ["layer0"]
    for hook in hooks:
        hook.remove()


def test_output_attentions_is_not_requested(model_folder, monkeypatch):
    loaded = load_model(str(model_folder), device="cpu")
    assert loaded.model.config._attn_implementation == "sdpa"
    seen = []
    original = loaded.model.get_decoder().forward

    def spy(*args, **kwargs):
        seen.append(kwargs.get("output_attentions"))
        return original(*args, **kwargs)

    monkeypatch.setattr(loaded.model.get_decoder(), "forward", spy)
    AttentionAligner(loaded).align_texts(["Bonjour"], ["Hello"])
    assert seen == [None]


def test_real_opus_tokenizer_maps_gold_sentences_to_words(shared_data):
    """Every word of the Hansards test set gets pieces that spell it back, digits and
    punctuation included, and per-word pieces equal the whole sentence's tokenization."""
    from transformers import AutoTokenizer

    from align_cli.stages.subwords import PairEncoder

    tokenizer = AutoTokenizer.from_pretrained(OPUS_TOKENIZER)
    encoder = PairEncoder(tokenizer)
    lines = (shared_data / "gold/enfr.src-tgt").read_text(encoding="utf-8").splitlines()
    checked = 0
    for line in lines[:150]:
        # This tokenizer reads French on the source side and writes English.
        english, french = (part.split() for part in line.split("|||"))
        encoded = encoder.source.encode(french)
        assert encoded.ids[-1] == tokenizer.eos_token_id and encoded.word_of_token[-1] == -1
        for index, word in enumerate(french):
            pieces = encoded.ids[encoded.word_of_token == index].tolist()
            assert pieces, f"word {word!r} got no piece"
            assert tokenizer.decode(pieces).strip() == word.replace("\u00a0", " ")
        whole = tokenizer(" ".join(french))["input_ids"]
        assert whole == encoded.ids.tolist()
        target = encoder.target.encode(english)
        assert target.ids.tolist() == tokenizer(text_target=" ".join(english))["input_ids"]
        checked += 1
    assert checked == 150
