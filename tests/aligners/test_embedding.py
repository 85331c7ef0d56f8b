"""The embedding path (encoder-only models, SimAlign's method), without simalign itself.

A random-weight BERT with a WordPiece vocabulary learnt from real newstest text goes
through ``save_pretrained`` and xalign's own ``load_model``. The comparison with the
reference implementations is in ``test_embedding_vs_simalign.py``; here are the parts
that need no reference: extraction methods, the layer hook, batching, word pooling, edge
cases and the CLI.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from align_cli.aligners.embedding import EmbeddingAligner
from align_cli.aligners.factory import aligner_for
from align_cli.errors import ModelError, XalignError
from align_cli.model.loading import is_encoder_only, load_model
from align_cli.settings import AlignerSpec, BatchingSettings, EmbeddingOptions, EmbeddingSettings
from align_cli.stages.extraction import extract, links_from_mask, match, softmax_threshold
from align_cli.stages.hidden_states import HiddenStateReader
from tests.cli_runner import run_cli

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one torch thread

# -- extraction methods -----------------------------------------------------------------

matrices = st.tuples(st.integers(1, 6), st.integers(1, 6)).flatmap(
    lambda shape: arrays(np.float64, shape, elements=st.floats(-1, 1, allow_nan=False))
)


@settings(max_examples=200, deadline=None)
@given(matrices)
def test_match_is_a_maximum_weight_matching_of_full_size(scores):
    links = match(scores)
    n_src, n_tgt = scores.shape
    assert links.sum() == min(n_src, n_tgt)
    assert (links.sum(axis=0) <= 1).all() and (links.sum(axis=1) <= 1).all()
    # Brute force over every way to give each word of the shorter side its own partner.
    best = -np.inf
    if n_src <= n_tgt:
        for cols in itertools.permutations(range(n_tgt), n_src):
            best = max(best, scores[np.arange(n_src), list(cols)].sum())
    else:
        for rows in itertools.permutations(range(n_src), n_tgt):
            best = max(best, scores[list(rows), np.arange(n_tgt)].sum())
    assert scores[links].sum() == pytest.approx(best, abs=1e-9)


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def test_softmax_threshold_needs_both_directions_above_the_threshold():
    # Source word 0 prefers target 0 and target 0 prefers source 0; source 1 is flat.
    logits = np.array([[9.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    links = softmax_threshold(logits, 0.3)
    by_row, by_col = _softmax(logits, 1), _softmax(logits, 0)
    assert (links == ((by_row > 0.3) & (by_col > 0.3))).all()
    assert links_from_mask(links) == [(0, 0), (1, 1), (1, 2)]
    # awesome-align's default threshold is 0.001, the one ``extract`` uses by default.
    assert (extract(logits, "softmax_threshold") == softmax_threshold(logits, 0.001)).all()


def test_softmax_threshold_is_stable_on_large_dot_products():
    logits = np.array([[1000.0, 0.0], [0.0, 1000.0]], dtype=np.float32)
    assert links_from_mask(softmax_threshold(logits)) == [(0, 0), (1, 1)]


@pytest.mark.parametrize("method", ["match", "softmax_threshold"])
def test_new_methods_give_no_links_on_empty_matrices(method):
    assert extract(np.zeros((0, 3)), method).shape == (0, 3)


# -- a tiny BERT -------------------------------------------------------------------------

ENFR = "gold/enfr.src-tgt"


@pytest.fixture(scope="module")
def bert(bert_dir):
    return load_model(str(bert_dir), device="cpu")


@pytest.fixture(scope="module")
def gold_pairs(shared_data):
    lines = (shared_data / ENFR).read_text(encoding="utf-8").split("\n")
    pairs = [line.split("|||") for line in lines if "|||" in line]
    return [(src.split(), tgt.split()) for src, tgt in pairs[:60]]


def test_an_encoder_only_model_loads_as_its_bare_encoder(bert):
    assert type(bert.model).__name__ == "BertModel"
    assert not bert.model.config.is_encoder_decoder
    assert is_encoder_only(bert.model.config)


def test_a_decoder_only_model_is_still_refused(tmp_path):
    from transformers import GPT2Config, GPT2Model

    GPT2Model(GPT2Config(n_layer=1, n_embd=8, n_head=2, vocab_size=50)).save_pretrained(tmp_path)
    with pytest.raises(ModelError, match="decoder-only models are not supported"):
        load_model(str(tmp_path), device="cpu")


@pytest.mark.parametrize("layer", [1, 3, 8, -1, -3])
def test_the_hooked_layer_equals_output_hidden_states(bert, layer):
    reader = HiddenStateReader(bert.model, layer)
    assert reader.stops_early
    ids = torch.tensor([[101, 1500, 1600, 1700, 102], [101, 1800, 102, 0, 0]])
    mask = (ids != 0).long()
    full = bert.model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
    assert torch.equal(reader(ids, mask), full.hidden_states[layer])


def test_the_forward_pass_stops_after_the_chosen_layer(bert):
    ran: list[int] = []
    handles = [
        block.register_forward_hook(lambda *_, k=k: ran.append(k))
        for k, block in enumerate(bert.model.encoder.layer)
    ]
    try:
        HiddenStateReader(bert.model, 3)(torch.tensor([[101, 1500, 102]]), torch.ones(1, 3))
    finally:
        for handle in handles:
            handle.remove()
    assert ran == [0, 1, 2]


def test_a_hook_that_does_not_reproduce_the_layer_falls_back_to_all_layers(bert):
    reader = HiddenStateReader(bert.model, 5)
    reader._block = bert.model.encoder.layer[1]  # as if the wrong blocks had been found
    ids = torch.tensor([[101, 1500, 1600, 102]])
    reader.verify(ids)
    assert not reader.stops_early
    full = bert.model(input_ids=ids, output_hidden_states=True)
    assert torch.equal(reader(ids, torch.ones_like(ids)), full.hidden_states[5])


def test_layer_zero_reads_the_embedding_output(bert):
    reader = HiddenStateReader(bert.model, 0)
    ids = torch.tensor([[101, 1500, 102]])
    full = bert.model(input_ids=ids, output_hidden_states=True)
    assert torch.equal(reader(ids, torch.ones_like(ids)), full.hidden_states[0])


@pytest.mark.parametrize("layer", [9, -10])
def test_a_layer_out_of_range_is_a_one_line_error(bert, layer):
    with pytest.raises(XalignError, match="out of range.*8 layers"):
        HiddenStateReader(bert.model, layer)


def _reference_word_similarity(bert, src: list[str], tgt: list[str], layer: int) -> np.ndarray:
    """Each sentence alone through the model, pieces mean-pooled with the tokenizer's word_ids."""
    vectors = []
    for words in (src, tgt):
        encoded = bert.tokenizer(words, is_split_into_words=True, return_tensors="pt")
        hidden = bert.model(**encoded, output_hidden_states=True).hidden_states[layer][0]
        owners = np.array([-1 if w is None else w for w in encoded.word_ids()])
        vectors.append(
            torch.stack([hidden[torch.from_numpy(owners == k)].mean(0) for k in range(len(words))])
        )
    unit = [torch.nn.functional.normalize(v, dim=-1) for v in vectors]
    return ((unit[0] @ unit[1].T + 1) / 2).detach().numpy()


@pytest.mark.parametrize("layer", [8, 4])
def test_word_granularity_matrix_is_the_cosine_of_mean_pooled_pieces(bert, gold_pairs, layer):
    pairs = gold_pairs[:12]
    aligner = EmbeddingAligner(
        bert, EmbeddingSettings(layer=layer, granularity="word"), include_matrix=True
    )
    results = aligner.align_texts([s for s, _ in pairs], [t for _, t in pairs])
    for (src, tgt), result in zip(pairs, results, strict=True):
        expected = _reference_word_similarity(bert, src, tgt, layer)
        np.testing.assert_allclose(result.matrix, expected, atol=2e-5)
        assert result.links == links_from_mask(extract(expected, "inter"))
        expected_scores = [float(expected[i, j]) for i, j in result.links]
        assert result.scores == pytest.approx(expected_scores, abs=2e-5)


@pytest.mark.parametrize("granularity", ["word", "subword"])
@pytest.mark.parametrize("method", ["inter", "itermax", "match", "softmax_threshold"])
def test_batching_and_order_do_not_change_the_links(bert, gold_pairs, granularity, method):
    pairs = gold_pairs[:40]
    settings = EmbeddingSettings(granularity=granularity, method=method)
    one_by_one = EmbeddingAligner(bert, settings, BatchingSettings(batch_size=1))
    batched = EmbeddingAligner(bert, settings, BatchingSettings(batch_size=16, window=25))
    # A small token budget: chunks of a few pairs, and sentences longer than a batch's
    # budget that still run, each in a batch of its own.
    budgeted = EmbeddingAligner(
        bert, settings, BatchingSettings(batch_size=16, max_tokens=40, window=25)
    )
    sources, targets = [s for s, _ in pairs], [t for _, t in pairs]
    assert max(len(bert.tokenizer(" ".join(s))["input_ids"]) for s in sources) > 40
    expected = [r.links for r in one_by_one.align_texts(sources, targets)]
    for aligner in (batched, budgeted):
        results = aligner.align_texts(sources, targets)
        assert [r.pair.index for r in results] == list(range(len(pairs)))
        assert [r.links for r in results] == expected


def test_subword_links_are_any_linked_piece_pair(bert):
    # "Nistorescu" splits into several pieces; a word pair is linked when any of its
    # pieces are, so the word-level links are the pieces' links mapped through owners.
    aligner = EmbeddingAligner(bert, EmbeddingSettings(granularity="subword", method="match"))
    src, tgt = ["de", "Cornel", "Nistorescu"], ["by", "Cornel", "Nistorescu"]
    encoded = [aligner.encoder.encode(words) for words in (src, tgt)]
    assert len(encoded[0].ids) > len(src) + 2  # at least one word has several pieces
    result = aligner.align_texts([src], [tgt])[0]
    # Recompute at the piece level by hand, each sentence alone through the model.
    hidden = [
        bert.model(input_ids=torch.from_numpy(e.ids[None]), output_hidden_states=True)
        .hidden_states[8][0]
        .detach()
        for e in encoded
    ]
    keep = [e.word_of_token >= 0 for e in encoded]
    unit = [
        torch.nn.functional.normalize(h[torch.from_numpy(k)], dim=-1)
        for h, k in zip(hidden, keep, strict=True)
    ]
    pieces = match(((unit[0] @ unit[1].T + 1) / 2).numpy())
    owners = [e.word_of_token[k] for e, k in zip(encoded, keep, strict=True)]
    piece_i, piece_j = np.nonzero(pieces)
    expected = sorted(
        {(int(owners[0][i]), int(owners[1][j])) for i, j in zip(piece_i, piece_j, strict=True)}
    )
    assert result.links == expected


@pytest.mark.parametrize("granularity", ["word", "subword"])
def test_a_word_the_tokenizer_drops_is_left_unaligned_and_changes_nothing_else(
    bert, gold_pairs, granularity
):
    # BERT's normaliser deletes a soft hyphen, so that "word" has no piece and no vector.
    # SimAlign averages an empty set of vectors for it (NaN) in word mode; xalign leaves
    # it out of the extraction, which must then give the links of the sentence without it.
    src, tgt = gold_pairs[5]
    with_dropped = [*src[:2], "\u00ad", *src[2:]]
    for method in ("inter", "itermax", "match"):
        aligner = EmbeddingAligner(bert, EmbeddingSettings(granularity=granularity, method=method))
        assert aligner.encoder.word_pieces("\u00ad", first=False) == []
        plain, dropped = aligner.align_texts([src, with_dropped], [tgt, tgt])
        assert all(i != 2 for i, _ in dropped.links)
        shifted = [(i + 1 if i >= 2 else i, j) for i, j in plain.links]
        assert dropped.links == shifted


def test_empty_sides_and_too_long_pairs_keep_their_place(bert, gold_pairs):
    long_src = ["Nistorescu"] * 120  # several pieces per word: far past 512 tokens
    sources = [gold_pairs[0][0], [], long_src, gold_pairs[1][0]]
    targets = [gold_pairs[0][1], ["x"], ["short"], gold_pairs[1][1]]
    aligner = EmbeddingAligner(bert, include_matrix=True)
    results = aligner.align_texts(sources, targets)
    assert [r.pair.index for r in results] == [0, 1, 2, 3]
    assert results[0].links and results[3].links
    assert results[1].links == [] and results[1].skipped is None
    assert results[1].matrix.shape == (0, 1)
    assert results[2].links == [] and "more than the model's 512" in results[2].skipped
    alone = aligner.align_texts([gold_pairs[1][0]], [gold_pairs[1][1]])[0]
    assert alone.links == results[3].links


def test_an_encoder_refuses_options_of_the_attention_path_by_name(bert):
    heads_and_shift = AlignerSpec("bert", attention_options_given=("heads", "shift"))
    with pytest.raises(XalignError, match="--heads, --shift: only for translation models"):
        aligner_for(bert, heads_and_shift)
    chosen = EmbeddingOptions(layer=6, granularity="word", method="itermax")
    aligner = aligner_for(bert, AlignerSpec("bert", embedding=chosen))
    assert "embedding-layer:6|granularity:word|sim:cosine|extract:itermax" in str(aligner.signature)
    softmax = EmbeddingOptions(method="softmax_threshold")
    threshold = aligner_for(bert, AlignerSpec("bert", embedding=softmax))
    assert "sim:dot|extract:softmax_threshold>0.001" in str(threshold.signature)


def test_signature_says_what_was_done(bert):
    signature = str(EmbeddingAligner(bert).signature)
    assert signature.startswith("xalign:")
    assert "|embedding-layer:8|granularity:subword|sim:cosine|extract:inter|sym:none" in signature


# -- the CLI -------------------------------------------------------------------------------


@pytest.fixture()
def corpus_file(tmp_path, gold_pairs):
    path = tmp_path / "corpus.en-fr"
    lines = [f"{' '.join(s)} ||| {' '.join(t)}" for s, t in gold_pairs[:20]]
    lines.insert(3, "Hello ||| ")  # an empty target side keeps its line
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("options", "settings"),
    [
        ([], EmbeddingSettings()),
        (
            ["--granularity", "word", "--method", "itermax", "--embedding-layer", "6"],
            EmbeddingSettings(layer=6, granularity="word", method="itermax"),
        ),
        (["--method", "softmax_threshold"], EmbeddingSettings(method="softmax_threshold")),
    ],
)
def test_cli_extract_with_an_encoder_matches_the_library(
    bert, bert_dir, corpus_file, options, settings
):
    result = run_cli(["extract", "-i", corpus_file, "-m", bert_dir, *options])
    assert result.exit_code == 0, result.stderr
    assert settings.describe() in result.stderr  # the signature line
    lines = corpus_file.read_text(encoding="utf-8").split("\n")[:-1]
    sources = [line.split("|||")[0] for line in lines]
    targets = [line.split("|||")[1] for line in lines]
    expected = EmbeddingAligner(bert, settings).align_texts(sources, targets)
    got = result.stdout.split("\n")[:-1]
    assert len(got) == len(lines)
    assert got[3] == ""
    assert got == [" ".join(f"{i}-{j}" for i, j in r.links) for r in expected]


def test_cli_jsonl_with_matrix(bert_dir, corpus_file):
    result = run_cli(
        ["extract", "-i", corpus_file, "-m", bert_dir, "--format", "jsonl", "--matrix", "-q"]
    )
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout.split("\n")[0])
    matrix = np.array(record["matrix"])
    assert matrix.shape == (len(record["src_words"]), len(record["tgt_words"]))
    assert ((matrix >= 0) & (matrix <= 1)).all()  # (cos + 1) / 2
    # A link's score is its cell of the matrix.
    for (i, j), score in zip(record["links"], record["scores"], strict=True):
        assert score == pytest.approx(matrix[i, j], abs=1e-3)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--heads", "0"], "--heads: only for translation models"),
        (["--layers", "-2", "--no-shift"], "--layers, --shift: only for translation models"),
        (["--embedding-layer", "12"], "--embedding-layer 12 is out of range"),
    ],
)
def test_cli_refuses_options_that_do_not_apply_to_an_encoder(
    bert_dir, corpus_file, options, message
):
    result = run_cli(["extract", "-i", corpus_file, "-m", bert_dir, *options])
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_refuses_embedding_options_for_a_translation_model(tmp_path, corpus_file):
    from tests.marian_fixtures import build_tiny_marian

    marian = build_tiny_marian(tmp_path / "marian")
    result = run_cli(["extract", "-i", corpus_file, "-m", marian, "--granularity", "word"])
    assert result.exit_code == 2
    assert "--granularity: only for encoder-only models" in result.stderr
