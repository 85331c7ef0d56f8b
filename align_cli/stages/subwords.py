"""Subword stage: the user's words to model token ids, remembering which word each piece is.

Each word is tokenized on its own and the pieces are concatenated between the model's
special tokens (language tags, task prefixes, EOS). For SentencePiece models this equals
tokenizing the whole sentence, since SentencePiece starts every whitespace-separated word
with its own ``▁`` piece; for byte-level BPE (BART, RoBERTa-style) every word but the
first is tokenized with a leading space, which is what the sentence-level tokenizer sees.
Tokenizing word by word lets us cache each word's pieces: corpora are Zipfian, so after a
few thousand sentences almost every word is a cache hit and tokenization costs next to
nothing beside the model.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from align_cli.errors import ModelError

CACHE_LIMIT = 500_000  # words per side; a bounded dict keeps memory flat on huge corpora


@dataclass(frozen=True)
class EncodedSide:
    """One sentence side as model ids, with the word index of every piece.

    ``word_of_token[k]`` is the index of the word that token ``k`` belongs to, or -1 for a
    special token (EOS, language tag, task prefix) that must never be aligned.
    """

    ids: np.ndarray  # int64 [n_tokens]
    word_of_token: np.ndarray  # int64 [n_tokens]
    n_words: int


def _is_byte_level(tokenizer: Any) -> bool:
    """Whether the tokenizer encodes a word differently after a space (GPT-2-style BPE).

    Then a non-first word must be tokenized with its leading space to get the pieces the
    sentence-level tokenizer gives it. The space may become a piece of its own ("Ġ" before
    "x" when the vocabulary has no "Ġx"), so compare with a sentence, not piece counts.
    """

    def pieces(text: str) -> list[int]:
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])

    bare, spaced = pieces("x"), pieces(" x")
    return bare != spaced and pieces("a x") == pieces("a") + spaced


def _fsmt_target_vocabulary(tokenizer: Any) -> dict[str, int] | None:
    """FSMT's target dictionary, which its tokenizer never encodes with.

    ``FSMTTokenizer`` encodes every text, ``text_target`` included, with the source
    language's Moses rules and the *source* dictionary, but the decoder of a fairseq WMT
    model reads ids of its own target dictionary; ``None`` for every other tokenizer.
    """
    if type(tokenizer).__name__ != "FSMTTokenizer":
        return None
    return {token: index for index, token in tokenizer.decoder.items()}


def _fsmt_target_ids(
    tokenizer: Any, vocabulary: dict[str, int], text: str, with_specials: bool
) -> list[int]:
    """fairseq's target side: Moses for the target language, the shared BPE, target ids."""
    language = tokenizer.tgt_lang
    if tokenizer.do_lower_case:
        text = text.lower()
    moses_words = tokenizer.moses_tokenize(tokenizer.moses_pipeline(text, lang=language), language)
    unknown = vocabulary[str(tokenizer.unk_token)]
    ids = [
        vocabulary.get(piece, unknown)
        for word in moses_words
        if word
        for piece in tokenizer.bpe(word).split(" ")
    ]
    if with_specials:
        ids.append(vocabulary[str(tokenizer.sep_token)])  # fairseq ends a sentence with </s>
    return ids


def _locate_pieces(with_specials: list[int], pieces: list[int]) -> int:
    for start in range(len(with_specials) - len(pieces) + 1):
        if with_specials[start : start + len(pieces)] == pieces:
            return start
    return -1


class SideEncoder:
    """Encodes one side (source or target) of sentence pairs for a given tokenizer."""

    def __init__(self, tokenizer: Any, *, target: bool, prefix_text: str | None = None):
        self._tokenizer = tokenizer
        self._target = target
        self._cache: dict[tuple[str, bool], list[int]] = {}
        self._fsmt_target = _fsmt_target_vocabulary(tokenizer) if target else None
        self._space_sensitive = _is_byte_level(tokenizer)
        # What a lone space becomes: the bare word-start piece ("▁") for NLLB and mBART-50,
        # nothing for most tokenizers. A word that normalises to nothing (a zero-width
        # space) becomes just that piece, which the sentence-level tokenizer drops.
        self._blank_word = self._encode(" ", False) or None
        self.prefix_ids, self.suffix_ids = self._special_template()
        if prefix_text:
            # A task prefix ("translate English to French:") is part of the model input
            # but not one of the user's words: it becomes special (unaligned) tokens.
            self.prefix_ids = self.prefix_ids + self._encode(prefix_text.strip(), False)
        self._words_follow_prefix = bool(prefix_text)

    def _encode(self, text: str, with_specials: bool) -> list[int]:
        if self._fsmt_target is not None:
            return _fsmt_target_ids(self._tokenizer, self._fsmt_target, text, with_specials)
        if self._target:
            out = self._tokenizer(text_target=text, add_special_tokens=with_specials)
        else:
            out = self._tokenizer(text, add_special_tokens=with_specials)
        return list(out["input_ids"])

    def _special_template(self) -> tuple[list[int], list[int]]:
        """The special tokens the tokenizer puts before and after a sentence's pieces."""
        probe = "hello"
        pieces = self._encode(probe, False)
        full = self._encode(probe, True)
        start = _locate_pieces(full, pieces) if pieces else -1
        if start < 0:
            raise ModelError(
                "cannot tell where the tokenizer puts special tokens (it changes the pieces "
                "of a word when special tokens are added); this tokenizer is not supported"
            )
        return full[:start], full[start + len(pieces) :]

    def word_pieces(self, word: str, first: bool) -> list[int]:
        key = (word, first or not self._space_sensitive)
        cached = self._cache.get(key)
        if cached is None:
            text = word if key[1] else " " + word
            cached = self._encode(text, False)
            if cached == self._blank_word:
                cached = []
            if len(self._cache) >= CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = cached
        return cached

    def encode(self, words: Sequence[str]) -> EncodedSide:
        ids: list[int] = list(self.prefix_ids)
        owner: list[int] = [-1] * len(self.prefix_ids)
        for index, word in enumerate(words):
            pieces = self.word_pieces(word, index == 0 and not self._words_follow_prefix)
            ids.extend(pieces)
            owner.extend([index] * len(pieces))
        ids.extend(self.suffix_ids)
        owner.extend([-1] * len(self.suffix_ids))
        return EncodedSide(
            np.asarray(ids, dtype=np.int64), np.asarray(owner, dtype=np.int64), len(words)
        )


class PairEncoder:
    """Source and target encoders for one model, with the language/prefix options applied."""

    def __init__(
        self,
        tokenizer: Any,
        *,
        src_lang: str | None = None,
        tgt_lang: str | None = None,
        source_prefix: str | None = None,
        target_language_token: str | None = None,
    ):
        set_languages(tokenizer, src_lang=src_lang, tgt_lang=tgt_lang)
        self.source = SideEncoder(tokenizer, target=False, prefix_text=source_prefix)
        if target_language_token:
            token_id = tokenizer.convert_tokens_to_ids(target_language_token)
            if token_id is None or token_id == tokenizer.unk_token_id:
                raise ModelError(
                    f"the tokenizer has no token {target_language_token!r}; check the "
                    "model's list of target languages (tokens such as >>fra<<)"
                )
            self.source.prefix_ids = [token_id, *self.source.prefix_ids]
        self.target = SideEncoder(tokenizer, target=True)
        unknown = tokenizer.unk_token_id
        for side, name in ((self.source, "source"), (self.target, "target")):
            if unknown is not None and unknown in side.prefix_ids + side.suffix_ids:
                raise ModelError(
                    f"the {name} side's special tokens include the unknown token; check "
                    "--src-lang/--tgt-lang and the target language token against the model"
                )


def language_codes(tokenizer: Any) -> list[str]:
    """The codes ``src_lang``/``tgt_lang`` accept, in the tokenizer's order (empty: unknown).

    M2M100 and mBART-50 map codes to ids in ``lang_code_to_id``; NLLB lists its codes
    (``eng_Latn``, ...) among its extra special tokens.
    """
    by_code = getattr(tokenizer, "lang_code_to_id", None)
    if isinstance(by_code, dict) and by_code:
        return [str(code) for code in by_code]
    extra = getattr(tokenizer, "extra_special_tokens", None) or []
    if isinstance(extra, dict):
        extra = list(extra.values())
    return [str(t) for t in extra if not (str(t).startswith("<") and str(t).endswith(">"))]


def _language_hint(code: str, known: list[str]) -> str:
    """``; did you mean X?`` for codes that start like ``code`` or are spelt close to it."""
    if not known:
        return ""
    similar = [k for k in known if k.lower().startswith(code.lower()[:2])]
    similar += difflib.get_close_matches(code, known, n=3, cutoff=0.6)
    suggestions = list(dict.fromkeys(similar))[:4]
    shown = f"did you mean {' or '.join(suggestions)}? " if suggestions else ""
    return f"; {shown}this model has {len(known)} codes ({', '.join(known[:5])}, ...)"


def set_languages(tokenizer: Any, *, src_lang: str | None, tgt_lang: str | None) -> None:
    """Set M2M100/NLLB/mBART-style language codes, failing clearly on unknown ones.

    A code is checked against the tokenizer's list before it is set: M2M100 accepts any
    ``tgt_lang`` and fails only when a target is encoded, and NLLB maps an unknown code
    to whatever token has that spelling (``en`` is an ordinary piece of its vocabulary).
    """
    known = language_codes(tokenizer)
    for attribute, code in (("src_lang", src_lang), ("tgt_lang", tgt_lang)):
        if code is None:
            continue
        option = "--" + attribute.replace("_", "-")
        if not hasattr(tokenizer, attribute):
            raise ModelError(f"this tokenizer takes no {option}; drop the option")
        hint = _language_hint(code, known)
        if known and code not in known:
            raise ModelError(f"unknown language code {code!r} for {option}{hint}")
        try:
            setattr(tokenizer, attribute, code)
        except (KeyError, ValueError):
            raise ModelError(f"unknown language code {code!r} for {option}{hint}") from None
