"""``align_cli.aligners``: every aligner keeps the one :class:`Aligner` contract.

The attention aligner (the bundled synthetic MarianMT model), the bidirectional one (its
forward and reverse models) and the embedding aligner (a tiny BERT) each: satisfy the
protocol, give ``align_texts`` what ``align_pairs`` gives, take ``include_matrix`` per call
without changing their default, and return one result per pair in input order, empty
pairs included, equal to aligning each pair on its own. The factory refuses an option
that belongs to the other kind of model, by name, in one line.
"""

from __future__ import annotations

import numpy as np
import pytest

import align_cli
from align_cli.aligners.attention import AttentionAligner, BidirectionalAligner
from align_cli.aligners.base import Aligner
from align_cli.aligners.embedding import EmbeddingAligner
from align_cli.aligners.factory import aligner_for
from align_cli.errors import XalignError
from align_cli.io.corpus import pairs_from_texts
from align_cli.settings import (
    AlignerSpec,
    AlignmentSettings,
    BatchingSettings,
    EmbeddingOptions,
    EmbeddingSettings,
)
from tests.paths import SYNTHETIC

FWD, REV = str(SYNTHETIC / "fwd"), str(SYNTHETIC / "rev")
SYMMETRIC = AlignmentSettings(symmetrize="grow-diag-final-and")
# Small budgets, so that 9 pairs span windows and batches and get reordered by length.
SMALL = BatchingSettings(batch_size=2, max_tokens=60, window=4)
KINDS = ["attention", "bidirectional", "embedding"]

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one torch thread


@pytest.fixture(scope="module")
def corpus() -> tuple[list[str], list[str]]:
    """Held-out pairs of different lengths, with empty sides among them."""
    lines = (SYNTHETIC / "heldout.src-tgt").read_text(encoding="utf-8").splitlines()
    split = [line.split("|||") for line in lines[:6]]
    sources = [" ".join(src.split()) for src, _ in split]
    targets = [" ".join(tgt.split()) for _, tgt in split]
    sources[1:1] = ["", sources[3]]
    targets[1:1] = [targets[0], ""]
    sources.append("")
    targets.append("")
    return sources, targets


@pytest.fixture(scope="module")
def fwd():
    from align_cli.model.loading import load_model

    return load_model(FWD, device="cpu", dtype="float32")


@pytest.fixture(scope="module")
def rev():
    from align_cli.model.loading import load_model

    return load_model(REV, device="cpu", dtype="float32")


@pytest.fixture(scope="module")
def bert(bert_dir):
    from align_cli.model.loading import load_model

    return load_model(str(bert_dir), device="cpu", dtype="float32")


def make(kind: str, request, *, include_matrix: bool = False, batching=None) -> Aligner:
    if kind == "attention":
        return AttentionAligner(
            request.getfixturevalue("fwd"), batching=batching, include_matrix=include_matrix
        )
    if kind == "bidirectional":
        forward, reverse = (
            AttentionAligner(
                request.getfixturevalue(name), SYMMETRIC, batching, include_matrix=include_matrix
            )
            for name in ("fwd", "rev")
        )
        return BidirectionalAligner(forward, reverse)
    return EmbeddingAligner(
        request.getfixturevalue("bert"),
        EmbeddingSettings(layer=4),
        batching,
        include_matrix=include_matrix,
    )


def same_results(got, expected) -> None:
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        assert a.pair == b.pair and a.links == b.links and a.skipped == b.skipped
        assert a.scores == pytest.approx(b.scores, abs=1e-5)


# --------------------------------------------------------------------------- the protocol


@pytest.mark.parametrize("kind", KINDS)
def test_every_aligner_satisfies_the_protocol(kind, request):
    aligner = make(kind, request)
    assert isinstance(aligner, Aligner)
    assert aligner.include_matrix is False
    assert str(aligner.signature).endswith("|dtype:float32|device:cpu")


def test_the_protocol_check_is_not_vacuous():
    class NoSignature:
        include_matrix = False

        def align_pairs(self, pairs, *, include_matrix=None):
            return iter(())

        def align_texts(self, sources, targets):
            return []

    assert not isinstance(NoSignature(), Aligner)
    assert not isinstance(object(), Aligner)


@pytest.mark.parametrize("kind", KINDS)
def test_align_texts_equals_align_pairs(kind, request, corpus):
    aligner = make(kind, request)
    sources, targets = corpus
    from_texts = aligner.align_texts(sources, targets)
    same_results(from_texts, list(aligner.align_pairs(pairs_from_texts(sources, targets))))
    # Lists of words are the same sentences as whitespace-joined strings.
    words = aligner.align_texts([s.split() for s in sources], [t.split() for t in targets])
    same_results(words, from_texts)
    assert any(result.links for result in from_texts)


@pytest.mark.parametrize("kind", KINDS)
def test_one_result_per_pair_in_input_order(kind, request, corpus):
    sources, targets = corpus
    pairs = list(pairs_from_texts(sources, targets))
    aligner = make(kind, request, batching=SMALL)
    results = list(aligner.align_pairs(pairs))
    assert [result.pair for result in results] == pairs
    for result in results:
        if not result.pair.src_words or not result.pair.tgt_words:
            assert result.links == [] and result.scores == [] and result.skipped is None
    # Batched and reordered, each result is what the pair gets on its own.
    alone = [next(make(kind, request).align_pairs([pair])) for pair in pairs]
    same_results(results, alone)


@pytest.mark.parametrize("kind", KINDS)
def test_include_matrix_per_call_overrides_the_default_only_for_that_call(kind, request, corpus):
    sources, targets = corpus
    pairs = list(pairs_from_texts(sources, targets))
    for default in (False, True):
        aligner = make(kind, request, include_matrix=default)
        for asked in (None, not default, default):
            results = list(aligner.align_pairs(pairs, include_matrix=asked))
            wanted = default if asked is None else asked
            for result in results:
                if wanted:
                    shape = (len(result.pair.src_words), len(result.pair.tgt_words))
                    assert isinstance(result.matrix, np.ndarray) and result.matrix.shape == shape
                else:
                    assert result.matrix is None
            assert aligner.include_matrix is default  # the call changed nothing
        same_results(results, list(make(kind, request).align_pairs(pairs)))


def test_link_scores_are_the_matrix_cells(request, corpus):
    sources, targets = corpus
    for kind in ("attention", "bidirectional"):
        for result in make(kind, request, include_matrix=True).align_texts(sources, targets):
            assert result.scores == [pytest.approx(result.matrix[i, j]) for i, j in result.links]


def test_a_reverse_model_needs_a_symmetrisation(fwd, rev):
    with pytest.raises(XalignError, match="--symmetrize"):
        BidirectionalAligner(AttentionAligner(fwd), AttentionAligner(rev))


# --------------------------------------------------------------------------- the factory


def test_the_factory_picks_the_path_by_the_model(fwd, rev, bert):
    assert type(aligner_for(fwd, AlignerSpec(model=FWD, device="cpu"))) is AttentionAligner
    both = aligner_for(fwd, AlignerSpec(model=FWD, settings=SYMMETRIC, reverse_model=REV))
    assert type(both) is BidirectionalAligner
    assert both.signature.get("reverse") == REV
    embedding = aligner_for(bert, AlignerSpec(model="bert", embedding=EmbeddingOptions(layer=3)))
    assert type(embedding) is EmbeddingAligner and embedding.settings.layer == 3


@pytest.mark.parametrize(
    ("fields", "flags"),
    [
        ({"attention_options_given": ("layers",)}, "--layers"),
        ({"attention_options_given": ("shift", "heads")}, "--heads, --shift"),
        ({"reverse_model": REV, "src_lang": "en"}, "--reverse-model, --src-lang"),
        ({"target_token": ">>fra<<"}, "--target-token"),
        ({"source_prefix": "translate:"}, "--source-prefix"),
    ],
)
def test_an_encoder_refuses_attention_only_options_by_name(bert, fields, flags):
    with pytest.raises(XalignError) as raised:
        aligner_for(bert, AlignerSpec(model="bert", **fields))
    message = str(raised.value)
    assert message.startswith(flags + ":") and "encoder-only" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("options", "flags"),
    [
        (EmbeddingOptions(layer=3), "--embedding-layer"),
        (EmbeddingOptions(granularity="word"), "--granularity"),
        (EmbeddingOptions(layer=0, granularity="subword"), "--embedding-layer, --granularity"),
    ],
)
def test_a_translation_model_refuses_embedding_only_options_by_name(fwd, options, flags):
    with pytest.raises(XalignError) as raised:
        aligner_for(fwd, AlignerSpec(model=FWD, embedding=options))
    message = str(raised.value)
    assert message.startswith(flags + ":") and "translation model" in message
    assert "\n" not in message


def test_options_both_paths_read_are_not_refused(fwd, bert):
    shared = EmbeddingOptions(method="itermax", threshold=0.2)
    attention = aligner_for(fwd, AlignerSpec(model=FWD, embedding=shared))
    assert type(attention) is AttentionAligner
    embedding = aligner_for(bert, AlignerSpec(model="bert", embedding=shared))
    assert embedding.settings == EmbeddingSettings(method="itermax", threshold=0.2)


# --------------------------------------------------------------------------- align()


def test_align_refuses_an_unknown_keyword_before_loading_anything():
    with pytest.raises(TypeError) as raised:
        align_cli.align(["a"], ["b"], model="no/such/model", layers=(-2,))
    message = str(raised.value)
    assert message.startswith("align() got an unexpected keyword argument 'layers'")
    assert "settings" in message and "src_lang" in message


def test_align_gives_what_the_aligner_gives(fwd, corpus):
    sources, targets = corpus
    results = list(align_cli.align(sources, targets, model=FWD, device="cpu", dtype="float32"))
    same_results(results, AttentionAligner(fwd).align_texts(sources, targets))
