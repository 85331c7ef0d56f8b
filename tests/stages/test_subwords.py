"""``align_cli.stages.subwords``: words to model ids, and which word every piece belongs to.

On the bundled synthetic MarianMT model (a SentencePiece tokenizer, tests/data/synthetic):
the pieces of word k spell word k, special tokens belong to no word, and tokenizing word
by word through the cache gives exactly the ids the tokenizer gives the whole sentence.
"""

from __future__ import annotations

import pytest

from align_cli.errors import ModelError
from align_cli.stages import subwords
from align_cli.stages.subwords import PairEncoder
from tests.paths import SYNTHETIC

PAIRS = 60  # held-out pairs checked; 3-20 words each, a third of the words in several pieces


@pytest.fixture(scope="module")
def tokenizer():
    from align_cli.model.loading import load_model

    return load_model(str(SYNTHETIC / "fwd"), device="cpu").tokenizer


@pytest.fixture(scope="module")
def pairs() -> list[tuple[list[str], list[str]]]:
    lines = (SYNTHETIC / "heldout.src-tgt").read_text(encoding="utf-8").splitlines()[:PAIRS]
    return [(src.split(), tgt.split()) for src, tgt in (line.split("|||") for line in lines)]


def _sides(tokenizer, pairs):
    encoder = PairEncoder(tokenizer)
    for src, tgt in pairs:
        yield encoder.source, src, " ".join(src), False
        yield encoder.target, tgt, " ".join(tgt), True


def test_the_pieces_of_each_word_spell_that_word(tokenizer, pairs):
    several = 0
    for side, words, _, _ in _sides(tokenizer, pairs):
        encoded = side.encode(words)
        assert encoded.n_words == len(words)
        assert len(encoded.ids) == len(encoded.word_of_token)
        for index, word in enumerate(words):
            ids = encoded.ids[encoded.word_of_token == index].tolist()
            pieces = tokenizer.convert_ids_to_tokens(ids)
            assert "".join(pieces).replace("\u2581", "") == word, (word, pieces)
            several += len(pieces) > 1
        owners = encoded.word_of_token[encoded.word_of_token >= 0].tolist()
        assert owners == sorted(owners)  # the words' pieces in word order, none interleaved
    assert several > 50  # the check covered words of several pieces, not only whole words


def test_special_tokens_belong_to_no_word(tokenizer, pairs):
    specials = set(tokenizer.all_special_ids)
    for side, words, _, _ in _sides(tokenizer, pairs):
        encoded = side.encode(words)
        is_special = [int(i) in specials for i in encoded.ids]
        assert is_special == (encoded.word_of_token == -1).tolist()
        # Marian ends every sentence with </s> and puts nothing in front.
        assert encoded.ids[-1] == tokenizer.eos_token_id and encoded.word_of_token[-1] == -1
        assert encoded.word_of_token[0] == 0


def test_word_by_word_ids_equal_the_sentence_tokenization(tokenizer, pairs):
    for side, words, sentence, target in _sides(tokenizer, pairs):
        whole = tokenizer(text_target=sentence) if target else tokenizer(sentence)
        assert side.encode(words).ids.tolist() == list(whole["input_ids"]), sentence


def test_the_cache_changes_no_ids(tokenizer, pairs, monkeypatch):
    """A warm cache, and a cache so small that it is cleared every few words, give the ids
    a fresh encoder gives."""
    warm = PairEncoder(tokenizer)
    for src, tgt in pairs:  # fill the cache
        warm.source.encode(src)
        warm.target.encode(tgt)
    monkeypatch.setattr(subwords, "CACHE_LIMIT", 3)
    tiny = PairEncoder(tokenizer)
    for src, tgt in pairs:
        fresh = PairEncoder(tokenizer)
        for name, words in (("source", src), ("target", tgt)):
            expected = getattr(fresh, name).encode(words)
            for encoder in (warm, tiny):
                got = getattr(encoder, name).encode(words)
                assert got.ids.tolist() == expected.ids.tolist()
                assert got.word_of_token.tolist() == expected.word_of_token.tolist()
        assert len(tiny.source._cache) <= 3 and len(tiny.target._cache) <= 3


def test_a_repeated_word_gets_the_same_pieces_each_time(tokenizer, pairs):
    word = max((w for src, _ in pairs for w in src), key=len)
    encoded = PairEncoder(tokenizer).source.encode([word, word, word])
    runs = [encoded.ids[encoded.word_of_token == k].tolist() for k in range(3)]
    assert runs[0] == runs[1] == runs[2] and runs[0]


def test_an_unknown_target_language_token_is_refused(tokenizer):
    with pytest.raises(ModelError) as raised:
        PairEncoder(tokenizer, target_language_token=">>xyz<<")
    assert "'>>xyz<<'" in str(raised.value) and "\n" not in str(raised.value)


def test_language_codes_are_refused_by_a_tokenizer_without_languages(tokenizer):
    with pytest.raises(ModelError, match="takes no --src-lang"):
        PairEncoder(tokenizer, src_lang="en")
