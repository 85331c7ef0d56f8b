"""xalign's embedding path against the reference implementations, link for link.

simalign (Jalili Sabet et al. 2020) is run as published, ``simalign.SentenceAligner`` on
the same local model folder, on real sentence pairs from the en-fr and ro-en gold sets,
for its three extraction methods in both its ``bpe`` and ``word`` modes. Its code loads
and runs unchanged with transformers 5 (``AutoModel`` with ``output_hidden_states``).
awesome-align (Dou & Neubig 2021), when installed, is run through its own ``word_align``
for the softmax-threshold extraction.

simalign is in the ``test`` extra; CI (``XALIGN_REQUIRE_SHARED_DATA=1``) fails rather
than skips when it is missing. awesome-align is not in any extra (it pulls boto3 and
ships its own copy of transformers 2.x), so its comparison skips without it.
"""

from __future__ import annotations

import importlib
import logging
import os
import types

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from align_cli.aligners.embedding import EmbeddingAligner
from align_cli.model.loading import load_model
from align_cli.settings import EmbeddingSettings
from align_cli.stages.extraction import itermax, links_from_mask, match
from tests.embedding_fixtures import add_awesome_align_files

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one torch thread

PAIRS_PER_SET = 50  # from each of enfr and roen: 100 real pairs, a few seconds per mode

# simalign's names: token_type for xalign's granularity, and its method keys.
TOKEN_TYPES = {"subword": "bpe", "word": "word"}
SIMALIGN_METHODS = {"inter": "inter", "itermax": "itermax", "match": "mwmf"}


def _require(module: str, reason: str) -> types.ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError:
        if os.environ.get("XALIGN_REQUIRE_SHARED_DATA") == "1":
            pytest.fail(f"{module} is not installed ({reason})")
        pytest.skip(f"{module} is not installed ({reason})")


@pytest.fixture(scope="module")
def simalign():
    module = _require("simalign", "pip install 'xalign[simalign]' or the test extra")
    # simalign logs every model load at INFO level to its own stderr handler.
    logging.getLogger("simalign.simalign").setLevel(logging.WARNING)
    return module


@pytest.fixture(scope="module")
def bert(bert_dir):
    return load_model(str(bert_dir), device="cpu")


@pytest.fixture(scope="module")
def gold_pairs(shared_data):
    pairs: list[tuple[list[str], list[str]]] = []
    for name in ("enfr", "roen"):
        lines = (shared_data / "gold" / f"{name}.src-tgt").read_text(encoding="utf-8")
        split = [line.split("|||") for line in lines.split("\n") if "|||" in line]
        pairs.extend((src.split(), tgt.split()) for src, tgt in split[:PAIRS_PER_SET])
    return pairs


# -- extraction methods against simalign's own functions ------------------------------------

similarities = st.tuples(st.integers(1, 9), st.integers(1, 9)).flatmap(
    lambda shape: arrays(np.float32, shape, elements=st.floats(0, 1, width=32))
)


@settings(max_examples=300, deadline=None)
@given(similarities)
def test_itermax_equals_simalign_iter_max(simalign, sim):
    # Includes ties (hypothesis likes repeated values): both take numpy's first argmax.
    expected = simalign.SentenceAligner.iter_max(sim) > 0
    assert (itermax(sim) == expected).all()


@pytest.mark.parametrize("seed", range(40))
def test_match_equals_simalign_max_weight_matching(simalign, seed):
    rng = np.random.default_rng(seed)
    shape = tuple(rng.integers(1, 14, size=2))
    sim = rng.random(shape).astype(np.float32)  # continuous: the optimum is unique
    expected = simalign.SentenceAligner.get_max_weight_match(sim) > 0
    assert links_from_mask(match(sim)) == links_from_mask(expected)


# -- whole sentences: simalign.SentenceAligner vs EmbeddingAligner --------------------------


@pytest.mark.parametrize("granularity", ["subword", "word"])
def test_links_equal_simalign_on_real_sentences(simalign, bert, bert_dir, gold_pairs, granularity):
    reference = simalign.SentenceAligner(
        model=str(bert_dir), token_type=TOKEN_TYPES[granularity], matching_methods="mai"
    )
    expected = [reference.get_word_aligns(src, tgt) for src, tgt in gold_pairs]
    sources, targets = [s for s, _ in gold_pairs], [t for _, t in gold_pairs]
    for method, key in SIMALIGN_METHODS.items():
        aligner = EmbeddingAligner(bert, EmbeddingSettings(granularity=granularity, method=method))
        results = aligner.align_texts(sources, targets)
        differing = [
            k
            for k, (links, result) in enumerate(zip(expected, results, strict=True))
            if [tuple(link) for link in links[key]] != result.links
        ]
        assert differing == [], f"{method}: pairs {differing} differ from simalign"
        # Not a vacuous comparison: the methods disagree with each other somewhere.
        assert sum(len(r.links) for r in results) > len(gold_pairs)
    assert any(e["inter"] != e["itermax"] for e in expected)
    assert any(e["inter"] != e["mwmf"] for e in expected)


def test_other_layers_equal_simalign_too(simalign, bert, bert_dir, gold_pairs):
    pairs = gold_pairs[:: len(gold_pairs) // 20]
    for layer in (2, 5):
        reference = simalign.SentenceAligner(
            model=str(bert_dir), token_type="bpe", matching_methods="a", layer=layer
        )
        aligner = EmbeddingAligner(bert, EmbeddingSettings(layer=layer))
        results = aligner.align_texts([s for s, _ in pairs], [t for _, t in pairs])
        for (src, tgt), result in zip(pairs, results, strict=True):
            expected = reference.get_word_aligns(src, tgt)["inter"]
            assert [tuple(link) for link in expected] == result.links


def test_past_510_pieces_simalign_fails_or_truncates_and_xalign_skips(
    simalign, bert, bert_dir, gold_pairs
):
    """simalign issue #46: its tokenizer call truncates to 512 tokens.

    In word mode the word-to-piece map then points past the truncated vectors and
    ``get_word_aligns`` raises IndexError; in bpe mode the words past the cut are
    silently never aligned. xalign treats such a pair as the attention path does: it is
    skipped with a reason (the CLI writes an empty line and warns, or stops with
    --on-long fail), and the pairs around it are aligned normally.
    """
    src = [word for src, _ in gold_pairs[:40] for word in src]  # ~600 pieces, real words
    tgt = gold_pairs[0][1]
    assert len(bert.tokenizer(src, is_split_into_words=True)["input_ids"]) > 512
    word_mode = simalign.SentenceAligner(
        model=str(bert_dir), token_type="word", matching_methods="a"
    )
    with pytest.raises(IndexError):
        word_mode.get_word_aligns(src, tgt)
    bpe_mode = simalign.SentenceAligner(model=str(bert_dir), token_type="bpe", matching_methods="a")
    truncated = bpe_mode.get_word_aligns(src, tgt)["inter"]
    assert max(i for i, _ in truncated) < len(src) - 1  # the tail of the sentence is cut

    for granularity in ("word", "subword"):
        aligner = EmbeddingAligner(bert, EmbeddingSettings(granularity=granularity))
        neighbours = gold_pairs[1], gold_pairs[2]
        results = aligner.align_texts(
            [neighbours[0][0], src, neighbours[1][0]], [neighbours[0][1], tgt, neighbours[1][1]]
        )
        assert results[1].links == [] and "more than the model's 512" in results[1].skipped
        alone = aligner.align_texts([n[0] for n in neighbours], [n[1] for n in neighbours])
        assert [results[0].links, results[2].links] == [r.links for r in alone]


# -- awesome-align's softmax extraction --------------------------------------------------------


def test_softmax_threshold_equals_awesome_align(bert, bert_dir, gold_pairs, tmp_path):
    _require("awesome_align", "pip install awesome-align; it is in no extra")
    from awesome_align import run_align
    from awesome_align.configuration_bert import BertConfig
    from awesome_align.modeling import BertForMaskedLM
    from awesome_align.tokenization_bert import BertTokenizer

    folder = add_awesome_align_files(bert_dir)
    pairs = gold_pairs[::2]
    corpus = tmp_path / "corpus.src-tgt"
    corpus.write_text(
        "".join(f"{' '.join(s)} ||| {' '.join(t)}\n" for s, t in pairs), encoding="utf-8"
    )
    model = BertForMaskedLM.from_pretrained(
        str(folder), config=BertConfig.from_pretrained(str(folder))
    )
    args = types.SimpleNamespace(
        data_file=str(corpus),
        output_file=str(tmp_path / "awesome.out"),
        output_prob_file=None,
        output_word_file=None,
        num_workers=0,
        batch_size=8,
        device="cpu",
        align_layer=8,
        extraction="softmax",
        softmax_threshold=1e-3,
    )
    run_align.word_align(args, model, BertTokenizer.from_pretrained(str(folder)))
    lines = (tmp_path / "awesome.out").read_text(encoding="utf-8").split("\n")[: len(pairs)]
    expected = [sorted(tuple(map(int, link.split("-"))) for link in line.split()) for line in lines]

    aligner = EmbeddingAligner(bert, EmbeddingSettings(method="softmax_threshold"))
    results = aligner.align_texts([s for s, _ in pairs], [t for _, t in pairs])
    differing = [k for k, (e, r) in enumerate(zip(expected, results, strict=True)) if e != r.links]
    assert differing == [], f"pairs {differing} differ from awesome-align"
