"""Every supported model family, end to end, against an independent float64 reference.

For each family (see ``families.py``) a tiny random-weight model with a real tokenizer of
that family is saved to a folder and loaded through ``load_model`` like a hub model.

* The word mapping: each word's pieces decode back to the word, special tokens (EOS,
  language codes, task prefixes, target-language tokens) belong to no word, and the
  word-by-word encoding equals the tokenizer's own sentence-level encoding.
* The word matrices: xalign's matrices (hooked q/k projections, truncated decoder,
  batched with padding) equal a reference computed here from the model's eager
  ``output_attentions=True`` cross-attentions in float64, one sentence at a time, with
  plain loops for row selection, head/layer averaging, pooling and renormalisation.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from align_cli.aligners.attention import AttentionAligner
from align_cli.model.loading import LoadedModel, load_model
from align_cli.settings import AlignmentSettings
from tests.families import FAMILIES, Family, FamilyModels

# Lines of ../shared/data/gold/enfr.src-tgt (0-based) of several lengths, so the batch pads.
GOLD_LINES = (5, 6, 12, 40, 101)
ZERO_WIDTH_SPACE = "\u200b"  # a word SentencePiece and Moses normalise away: zero pieces
LONG_WORD = "anticonstitutionnellement"  # rare: many pieces in an 800-piece vocabulary
EXTRA_PAIR = (
    f"the {ZERO_WIDTH_SPACE} minister spoke {LONG_WORD} .",
    f"le ministre a parlé {LONG_WORD} {ZERO_WIDTH_SPACE} .",
)
SETTINGS = (
    AlignmentSettings(layers=(-2,), heads=None, shift=False),
    AlignmentSettings(layers=(-1,), heads=(0,), shift=True),
    AlignmentSettings(layers=(0, 1), heads=(1, 3), shift=False, pooling="max"),
    AlignmentSettings(layers=(0,), heads=None, shift=True, pooling="sum"),
)
TOLERANCE = 1e-6


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def sentence_pairs(shared_data: Path) -> list[tuple[str, str]]:
    lines = (shared_data / "gold" / "enfr.src-tgt").read_text(encoding="utf-8").split("\n")
    pairs = []
    for index in GOLD_LINES:
        english, french = lines[index].split("|||")
        pairs.append((" ".join(english.split()), " ".join(french.split())))
    return [*pairs, EXTRA_PAIR]


def _oriented(family: Family, pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The English-French pairs in the family's direction (source first)."""
    return pairs if family.src == "en" else [(fr, en) for en, fr in pairs]


def _load(family_models: FamilyModels, family: Family) -> LoadedModel:
    return load_model(str(family_models.folder(family.name)), device="cpu", dtype="float64")


# --------------------------------------------------------------------------- tokenizer side


def _sentence_ids(
    tokenizer: Any, family: Family, folder: Path, text: str, target: bool
) -> list[int]:
    """What the family's own tokenizer makes of a whole sentence, special tokens included."""
    if target and family.model_type == "fsmt":
        return _fsmt_target_ids(tokenizer, folder, text)
    if target:
        return list(tokenizer(text_target=text)["input_ids"])
    return list(tokenizer(family.source_text_prefix + text)["input_ids"])


def _fsmt_target_ids(tokenizer: Any, folder: Path, text: str) -> list[int]:
    """fairseq's target side: the tokenizer's Moses pipeline run for the target language,
    its BPE, and the *target* dictionary read from the model folder.

    (FSMTTokenizer itself only knows the source side: ``text_target`` goes through the
    source language's Moses rules and the source vocabulary.)
    """
    language = json.loads((folder / "tokenizer_config.json").read_text())["langs"][1]
    vocab = json.loads((folder / "vocab-tgt.json").read_text(encoding="utf-8"))
    words = tokenizer.moses_tokenize(tokenizer.moses_pipeline(text, lang=language), language)
    pieces = [piece for word in words for piece in tokenizer.bpe(word).split(" ")]
    return [vocab.get(piece, vocab["<unk>"]) for piece in pieces] + [vocab["</s>"]]


def _special_ids(tokenizer: Any) -> set[int]:
    """Tokens that are never a word's piece: the tokenizer's special tokens (M2M100's
    language tokens are not listed among them), but not <unk>, which stands for a piece
    the vocabulary lacks."""
    language_tokens = getattr(tokenizer, "lang_token_to_id", {}).values()
    special = set(tokenizer.all_special_ids) | set(language_tokens)
    return special - {tokenizer.unk_token_id}


def _prefix_piece_count(tokenizer: Any, family: Family) -> int:
    """Pieces the source text prefix (task prefix, >>fra<<) adds outside the special tokens."""
    if not family.source_text_prefix:
        return 0
    return len(tokenizer(family.source_text_prefix.strip(), add_special_tokens=False)["input_ids"])


def _word_pieces(
    tokenizer: Any, family: Family, folder: Path, word: str, first: bool, target: bool
) -> list[int]:
    """The test's own per-word tokenization (a leading space for non-first byte-level words).

    A word that normalisation removes (a zero-width space) has no piece, except in
    byte-level BPE, which encodes every byte.
    """
    if not family.byte_level and _normalise_word(word) == "":
        return []
    text = word if first or not family.byte_level else " " + word
    if target and family.model_type == "fsmt":
        return _fsmt_target_ids(tokenizer, folder, text)[:-1]
    if target:
        return list(tokenizer(text_target=text, add_special_tokens=False)["input_ids"])
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def reference_encoding(
    tokenizer: Any, family: Family, folder: Path, words: list[str], target: bool
) -> tuple[list[int], list[int]]:
    """Sentence-level ids and the word each one belongs to (-1: special or prefix).

    The ids are the tokenizer's own; special tokens are found with the tokenizer's special
    token mask, the source prefix by its piece count, and the remaining pieces are handed
    to the words in order by each word's piece count. Asserts that those remaining pieces
    are exactly the words' pieces in order (the sentence/word agreement the families'
    tokenizers guarantee for whitespace-separated words).
    """
    ids = _sentence_ids(tokenizer, family, folder, " ".join(words), target)
    special = _special_ids(tokenizer)
    owner = [-1] * len(ids)
    free = [k for k, token in enumerate(ids) if token not in special]
    if not target:
        free = free[_prefix_piece_count(tokenizer, family) :]
    expected: list[int] = []
    word_of_piece: list[int] = []
    for index, word in enumerate(words):
        pieces = _word_pieces(tokenizer, family, folder, word, index == 0, target)
        expected.extend(pieces)
        word_of_piece.extend([index] * len(pieces))
    assert [ids[k] for k in free] == expected, (
        f"{family.name}: sentence-level pieces differ from the words' pieces for {words}"
    )
    for position, word in zip(free, word_of_piece, strict=True):
        owner[position] = word
    return ids, owner


def _decode_pieces(tokenizer: Any, family: Family, pieces: list[int], target: bool) -> str:
    if family.model_type == "fsmt" and not target:
        # FSMTTokenizer.decode always reads the target vocabulary.
        source_tokens = {index: token for token, index in tokenizer.encoder.items()}
        return tokenizer.convert_tokens_to_string([source_tokens[i] for i in pieces])
    return tokenizer.decode(pieces)


def _normalise_word(word: str) -> str:
    return word.replace(ZERO_WIDTH_SPACE, "").strip()


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
def test_word_mapping(
    family: Family, family_models: FamilyModels, sentence_pairs: list[tuple[str, str]]
) -> None:
    loaded = _load(family_models, family)
    folder = family_models.folder(family.name)
    tokenizer = loaded.tokenizer
    aligner = AttentionAligner(loaded, **family.aligner_options)
    special = _special_ids(tokenizer)
    long_word_pieces = 0
    for source, target in _oriented(family, sentence_pairs):
        for text, side, is_target in (
            (source, aligner.encoder.source, False),
            (target, aligner.encoder.target, True),
        ):
            words = text.split()
            encoded = side.encode(words)
            ids, owner = encoded.ids.tolist(), encoded.word_of_token.tolist()
            assert encoded.n_words == len(words)
            # xalign's encoding is the tokenizer's own sentence-level encoding.
            reference_ids, reference_owner = reference_encoding(
                tokenizer, family, folder, words, is_target
            )
            assert ids == reference_ids, f"{family.name} {'target' if is_target else 'source'}"
            assert owner == reference_owner
            for index, word in enumerate(words):
                pieces = [t for t, w in zip(ids, owner, strict=True) if w == index]
                assert not special & set(pieces), f"special token inside word {word!r}"
                if not pieces:
                    # Only a word the tokenizer normalises away may have no piece.
                    assert _normalise_word(word) == "", f"{family.name}: {word!r} lost"
                    continue
                decoded = _decode_pieces(tokenizer, family, pieces, is_target).strip()
                if tokenizer.unk_token_id in pieces:
                    # A piece the vocabulary lacks decodes as <unk>: compare the rest.
                    known = decoded.replace(str(tokenizer.unk_token), "")
                    assert all(part in word for part in known.split()), (word, decoded)
                else:
                    assert decoded == word, f"{family.name}: {word!r} decodes as {decoded!r}"
                if word == LONG_WORD:
                    long_word_pieces = len(pieces)
            unowned = [t for t, w in zip(ids, owner, strict=True) if w < 0]
            assert unowned, "every family adds at least an end-of-sentence token"
            assert unowned[-1] == (tokenizer.eos_token_id if family.model_type != "fsmt" else 2), (
                "the last token is EOS and belongs to no word"
            )
    assert long_word_pieces > 1, "the rare word should be split into several pieces"


# --------------------------------------------------------------------------- reference attention


def _eager_model(folder: Path) -> Any:
    from transformers import AutoModelForSeq2SeqLM

    model = AutoModelForSeq2SeqLM.from_pretrained(
        folder, dtype=torch.float64, attn_implementation="eager"
    )
    return model.eval()


def _teacher_forcing(model: Any, labels: torch.Tensor) -> dict[str, torch.Tensor]:
    """Arguments that make the model build, from the labels, the decoder input it trains
    with (the labels shifted right after its decoder start token)."""
    if model.config.model_type == "fsmt":
        # FSMT would shift the *source* ids; fairseq's own rule rotates EOS to the front.
        from transformers.models.fsmt.modeling_fsmt import shift_tokens_right

        return {"decoder_input_ids": shift_tokens_right(labels.clone(), model.config.pad_token_id)}
    return {"labels": labels}


def reference_matrix(
    model: Any,
    src_ids: list[int],
    src_owner: list[int],
    tgt_ids: list[int],
    tgt_owner: list[int],
    settings: AlignmentSettings,
) -> np.ndarray:
    """``[n_src_words, n_tgt_words]`` from eager float64 attention, with plain loops."""
    labels = torch.tensor([tgt_ids])
    with torch.no_grad():
        output = model(
            input_ids=torch.tensor([src_ids]),
            attention_mask=torch.ones(1, len(src_ids), dtype=torch.long),
            **_teacher_forcing(model, labels),
            output_attentions=True,
            use_cache=False,
        )
    cross = output.cross_attentions
    n_layers = len(cross)
    layers = sorted({layer % n_layers for layer in settings.layers})
    n_heads = cross[0].shape[1]
    heads = range(n_heads) if settings.heads is None else sorted(settings.heads)
    attention = np.zeros((len(tgt_ids), len(src_ids)))
    for layer in layers:
        for head in heads:
            attention += cross[layer][0, head].numpy()
    attention /= len(layers) * len(heads)

    n_src = max(src_owner) + 1
    n_tgt = max(tgt_owner) + 1
    matrix = np.zeros((n_tgt, n_src))
    for j in range(n_tgt):
        # Label position p is predicted at decoder row p and is the input at row p + 1.
        rows = [p + int(settings.shift) for p, w in enumerate(tgt_owner) if w == j]
        for i in range(n_src):
            columns = [c for c, w in enumerate(src_owner) if w == i]
            if not rows or not columns:
                continue
            block = attention[np.ix_(rows, columns)]
            if settings.pooling == "mean":
                matrix[j, i] = block.mean()
            elif settings.pooling == "max":
                matrix[j, i] = block.max()
            else:
                matrix[j, i] = block.sum()
        total = matrix[j].sum()
        if total > 0:
            matrix[j] /= total
    return matrix.T


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
def test_word_matrices_match_eager_reference(
    family: Family,
    family_models: FamilyModels,
    sentence_pairs: list[tuple[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if family.model_type == "fsmt":
        # transformers' FSMT builds its causal mask through float32 and cannot fill it with
        # float64's minimum; the same mask, built in the mask's own dtype:
        from transformers.models.fsmt import modeling_fsmt

        monkeypatch.setattr(
            modeling_fsmt, "fill_with_neg_inf", lambda t: t.fill_(torch.finfo(t.dtype).min)
        )
    folder = family_models.folder(family.name)
    loaded = _load(family_models, family)
    eager = _eager_model(folder)
    tokenizer = loaded.tokenizer
    pairs = _oriented(family, sentence_pairs)
    # The tokenizer is stateful for M2M100/NLLB/mBART (language codes): set it as xalign does.
    AttentionAligner(loaded, **family.aligner_options)
    encodings = []
    for source, target in pairs:
        src = reference_encoding(tokenizer, family, folder, source.split(), target=False)
        tgt = reference_encoding(tokenizer, family, folder, target.split(), target=True)
        encodings.append((src, tgt))

    matrices_by_setting = []
    for settings in SETTINGS:
        aligner = AttentionAligner(loaded, settings, include_matrix=True, **family.aligner_options)
        results = aligner.align_texts([s for s, _ in pairs], [t for _, t in pairs])
        matrices = []
        for result, ((src_ids, src_owner), (tgt_ids, tgt_owner)) in zip(
            results, encodings, strict=True
        ):
            expected = reference_matrix(eager, src_ids, src_owner, tgt_ids, tgt_owner, settings)
            assert result.matrix is not None
            assert result.matrix.shape == expected.shape
            np.testing.assert_allclose(
                result.matrix, expected, atol=TOLERANCE, rtol=0, err_msg=settings.describe()
            )
            matrices.append(expected)
        matrices_by_setting.append(matrices)
    # The comparison means something only if the settings give visibly different matrices
    # and attention is far from uniform.
    first, second = matrices_by_setting[0][0], matrices_by_setting[1][0]
    assert np.abs(first - second).max() > 0.01
    assert (first.max(axis=0) - first.min(axis=0)).max() > 0.01


@pytest.mark.parametrize("family", [f for f in FAMILIES if not f.byte_level], ids=lambda f: f.name)
def test_word_without_pieces_gets_no_link(family: Family, family_models: FamilyModels) -> None:
    """A zero-width space has no piece: its matrix column is empty and it gets no link
    (argmax over an all-zero column would otherwise link it to source word 0)."""
    loaded = _load(family_models, family)
    source, target = EXTRA_PAIR if family.src == "en" else EXTRA_PAIR[::-1]
    argmax = AlignmentSettings(method="argmax")
    aligner = AttentionAligner(loaded, argmax, include_matrix=True, **family.aligner_options)
    (result,) = aligner.align_texts([source], [target])
    empty_target = target.split().index(ZERO_WIDTH_SPACE)
    empty_source = source.split().index(ZERO_WIDTH_SPACE)
    assert result.matrix is not None
    assert not result.matrix[:, empty_target].any()
    assert not result.matrix[empty_source, :].any()
    assert all(j != empty_target and i != empty_source for i, j in result.links)
    # Every other target word is linked (argmax extraction).
    assert {j for _, j in result.links} == set(range(len(target.split()))) - {empty_target}
