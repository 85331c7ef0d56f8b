"""Tiny random-weight translation models with real tokenizers, one per model family.

Each family gets a model folder written by ``save_pretrained``, exactly as a hub download
would look, so tests load it through :func:`align_cli.model.loading.load_model` like a user would:

* the tokenizer is the family's own class, trained here on a few thousand real lines of
  Multi30k (SentencePiece unigram or BPE, GPT-2-style byte-level BPE, or fairseq BPE with
  ``</w>`` markers), except for bilingual Marian, which uses the real OPUS-MT tokenizer
  from ``../shared/data/tokenizers``;
* the model is built from a config with the family's architecture, shrunk to 2 layers of
  width 32, and filled with random weights large enough that attention is far from
  uniform (with the usual 0.02 init every head attends almost evenly, and a test comparing
  two near-uniform matrices would pass whatever rows or heads were picked).

Building every family takes a few seconds; tests share one build per session.
"""

from __future__ import annotations

import gzip
import json
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

CORPUS_LINES = 1500  # per language: enough for an 800-piece vocabulary, trained in < 1 s
VOCAB_SIZE = 800
WIDTH = 32
HEADS = 4
LAYERS = 2
SEED = 1234


@dataclass(frozen=True)
class Family:
    """How to build one family's model folder and how to align with it."""

    name: str
    model_type: str
    src: str  # two-letter language of the source text (en, fr, de)
    tgt: str
    build: Callable[[Path, TrainingText], None]
    aligner_options: dict[str, str] = field(default_factory=dict)
    # Byte-level BPE needs a leading space on non-first words; SentencePiece does not.
    byte_level: bool = False
    # Text the source sentence is prefixed with in the model input (T5 task prefix,
    # multilingual OPUS-MT target token), as a sentence-level tokenizer call sees it.
    source_text_prefix: str = ""
    # Packages the family's tokenizer needs beyond xalign's own dependencies.
    needs: tuple[str, ...] = ()


@contextmanager
def single_thread() -> Iterator[None]:
    """Run torch on one thread: these models are tiny, and on a small shared machine
    several threads spend far more time waiting for each other than computing (a forward
    pass of a 2-layer model took a second with the default thread count, 20 ms with one).

    Test modules use it through the ``one_thread`` fixture of ``tests/conftest.py``."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class TrainingText:
    """A few thousand real lines per language from Multi30k, read once."""

    def __init__(self, shared_data: Path):
        self.shared_data = shared_data
        self._corpora = shared_data / "corpora"
        self._lines: dict[str, list[str]] = {}

    def lines(self, *languages: str) -> list[str]:
        out: list[str] = []
        for language in languages:
            if language not in self._lines:
                path = self._corpora / "multi30k" / f"train.{language}.gz"
                with gzip.open(path, "rt", encoding="utf-8") as handle:
                    # Split on "\n" only (see shared/data/README.md).
                    text = handle.read()
                self._lines[language] = text.split("\n")[:CORPUS_LINES]
            out.extend(self._lines[language])
        return out


# --------------------------------------------------------------------------- helpers


def _train_sentencepiece(
    lines: list[str], path_prefix: Path, model_type: str, **options: Any
) -> Path:
    import sentencepiece as spm

    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_prefix=str(path_prefix),
        vocab_size=VOCAB_SIZE,
        model_type=model_type,
        character_coverage=1.0,
        minloglevel=2,
        **options,
    )
    return path_prefix.with_suffix(".model")


def _sentencepiece_pieces(model_file: Path) -> list[str]:
    import sentencepiece as spm

    processor = spm.SentencePieceProcessor(model_file=str(model_file))
    return [processor.id_to_piece(i) for i in range(processor.get_piece_size())]


def _randomise(model: torch.nn.Module) -> None:
    """Replace the 0.02-scale init by weights that keep activations at unit scale, with
    sharper query projections, so that attention is peaked and differs between heads."""
    generator = torch.Generator().manual_seed(SEED)

    def normal(parameter: torch.Tensor, mean: float, std: float) -> None:
        noise = torch.randn(parameter.shape, generator=generator, dtype=parameter.dtype)
        parameter.copy_(mean + std * noise)

    with torch.no_grad():
        for name, module in model.named_modules():
            # Sinusoidal position tables are not learned: keep them as the model made them.
            if "embed_positions" in name:
                continue
            weight = getattr(module, "weight", None)
            bias = getattr(module, "bias", None)
            if isinstance(module, torch.nn.Linear):
                sharpen = 3.0 if name.split(".")[-1] in ("q_proj", "q") else 1.0
                normal(module.weight, 0.0, sharpen / module.in_features**0.5)
            elif isinstance(module, torch.nn.Embedding):
                normal(module.weight, 0.0, 1.0)
            elif isinstance(weight, torch.nn.Parameter) and weight.dim() == 1:
                normal(weight, 1.0, 0.2)  # layer norms
            elif isinstance(weight, torch.nn.Parameter):
                normal(weight, 0.0, 0.2)  # T5's relative attention bias table
            if isinstance(bias, torch.nn.Parameter):
                normal(bias, 0.0, 0.2)
        for name, parameter in model.named_parameters():
            if name.endswith("final_logits_bias"):
                normal(parameter, 0.0, 0.2)


def _save_model(config: Any, folder: Path) -> None:
    from transformers import AutoModelForSeq2SeqLM

    torch.manual_seed(SEED)
    model = AutoModelForSeq2SeqLM.from_config(config)
    _randomise(model)
    model.save_pretrained(folder)


def _bart_like_dims() -> dict[str, int]:
    return {
        "d_model": WIDTH,
        "encoder_layers": LAYERS,
        "decoder_layers": LAYERS,
        "encoder_attention_heads": HEADS,
        "decoder_attention_heads": HEADS,
        "encoder_ffn_dim": 2 * WIDTH,
        "decoder_ffn_dim": 2 * WIDTH,
        "max_position_embeddings": 128,
        "dropout": 0.0,
        "attention_dropout": 0.0,
        "activation_dropout": 0.0,
    }


# --------------------------------------------------------------------------- builders


def build_marian_opus(folder: Path, text: TrainingText) -> None:
    """The real OPUS-MT fr-en tokenizer and the real config, shrunk to 2 tiny layers."""
    from transformers import MarianConfig

    real = text.shared_data / "tokenizers" / "opus-mt-tc-big-fr-en"
    folder.mkdir(parents=True, exist_ok=True)
    for name in (
        "source.spm",
        "target.spm",
        "vocab.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
    ):
        shutil.copy(real / name, folder / name)
    config_dict = json.loads((real / "config.json").read_text(encoding="utf-8"))
    config_dict.update(_bart_like_dims())
    for stale in ("_name_or_path", "torch_dtype", "transformers_version", "architectures"):
        config_dict.pop(stale, None)
    config = MarianConfig(**config_dict)
    config.architectures = ["MarianMTModel"]
    _save_model(config, folder)


MULTILINGUAL_MARIAN_TARGETS = (">>deu<<", ">>fra<<")


def build_marian_multilingual(folder: Path, text: TrainingText) -> None:
    """OPUS-MT en-mul style: one shared SentencePiece vocab, >>xxx<< target tokens."""
    from transformers import MarianConfig, MarianTokenizer

    work = folder.parent / (folder.name + "-work")
    work.mkdir(parents=True, exist_ok=True)
    spm_file = _train_sentencepiece(text.lines("en", "fr", "de"), work / "spm", "unigram")
    pieces = [p for p in _sentencepiece_pieces(spm_file) if p not in ("<unk>", "<s>", "</s>")]
    # Marian's vocab.json: </s> and <unk> first, language tokens, pieces, <pad> last.
    vocab_tokens = ["</s>", "<unk>", *MULTILINGUAL_MARIAN_TARGETS, *pieces, "<pad>"]
    vocab = {token: index for index, token in enumerate(vocab_tokens)}
    (work / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    shutil.copy(spm_file, work / "source.spm")
    shutil.copy(spm_file, work / "target.spm")
    tokenizer = MarianTokenizer(
        source_spm=str(work / "source.spm"),
        target_spm=str(work / "target.spm"),
        vocab=str(work / "vocab.json"),
        source_lang="en",
        target_lang="mul",
    )
    tokenizer.save_pretrained(folder)
    pad = vocab["<pad>"]
    config = MarianConfig(
        vocab_size=len(vocab),
        decoder_vocab_size=len(vocab),
        pad_token_id=pad,
        decoder_start_token_id=pad,
        eos_token_id=vocab["</s>"],
        forced_eos_token_id=vocab["</s>"],
        scale_embedding=True,
        share_encoder_decoder_embeddings=True,
        **_bart_like_dims(),
    )
    _save_model(config, folder)


def _fairseq_spm_folder(work: Path, lines: list[str], model_type: str) -> Path:
    """A ``sentencepiece.bpe.model`` (the file name fairseq-converted models use)."""
    work.mkdir(parents=True, exist_ok=True)
    spm_file = _train_sentencepiece(lines, work / "spm", model_type)
    shutil.copy(spm_file, work / "sentencepiece.bpe.model")
    return work / "sentencepiece.bpe.model"


def build_m2m100(folder: Path, text: TrainingText) -> None:
    """M2M100: SentencePiece BPE + fairseq vocab.json; __en__-style language tokens."""
    from transformers import M2M100Config, M2M100Tokenizer

    work = folder.parent / (folder.name + "-work")
    spm_file = _fairseq_spm_folder(work, text.lines("en", "fr", "de"), "bpe")
    pieces = [p for p in _sentencepiece_pieces(spm_file) if p not in ("<unk>", "<s>", "</s>")]
    vocab_tokens = ["<s>", "<pad>", "</s>", "<unk>", *pieces]
    vocab = {token: index for index, token in enumerate(vocab_tokens)}
    (work / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    tokenizer = M2M100Tokenizer.from_pretrained(work, src_lang="en", tgt_lang="fr")
    tokenizer.save_pretrained(folder)
    # As in facebook/m2m100_418M: the pieces, then 100 language tokens, then 8 "madeup
    # words" (len(tokenizer) counts only the pieces).
    vocab_size = len(vocab) + len(tokenizer.lang_token_to_id) + tokenizer.num_madeup_words
    config = M2M100Config(
        vocab_size=vocab_size,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=0,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,
        scale_embedding=True,
        **_bart_like_dims(),
    )
    _save_model(config, folder)


def build_nllb(folder: Path, text: TrainingText) -> None:
    """NLLB: SentencePiece BPE converted by NllbTokenizer; eng_Latn-style codes."""
    from transformers import M2M100Config, NllbTokenizer
    from transformers.models.nllb.tokenization_nllb import FAIRSEQ_LANGUAGE_CODES

    work = folder.parent / (folder.name + "-work")
    _fairseq_spm_folder(work, text.lines("en", "fr", "de"), "bpe")
    # Converting a bare SentencePiece file drops the 202 language codes that the hub's
    # tokenizer.json carries as special tokens; they are given back here.
    tokenizer = NllbTokenizer.from_pretrained(
        work,
        src_lang="eng_Latn",
        tgt_lang="fra_Latn",
        extra_special_tokens=list(FAIRSEQ_LANGUAGE_CODES),
    )
    tokenizer.save_pretrained(folder)
    config = M2M100Config(
        vocab_size=len(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=0,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,
        scale_embedding=True,
        **_bart_like_dims(),
    )
    _save_model(config, folder)


def build_mbart50(folder: Path, text: TrainingText) -> None:
    """mBART-50: SentencePiece unigram converted by MBart50Tokenizer; en_XX-style codes."""
    from transformers import MBart50Tokenizer, MBartConfig

    work = folder.parent / (folder.name + "-work")
    _fairseq_spm_folder(work, text.lines("en", "fr", "de"), "unigram")
    tokenizer = MBart50Tokenizer.from_pretrained(work, src_lang="en_XX", tgt_lang="fr_XX")
    tokenizer.save_pretrained(folder)
    config = MBartConfig(
        vocab_size=len(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=0,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,
        scale_embedding=True,
        **_bart_like_dims(),
    )
    _save_model(config, folder)


def _build_t5_like(folder: Path, text: TrainingText, model_type: str) -> None:
    from transformers import MT5Config, T5Config, T5Tokenizer

    work = folder.parent / (folder.name + "-work")
    work.mkdir(parents=True, exist_ok=True)
    # T5's SentencePiece model: <pad>=0, </s>=1, <unk>=2, no <s>.
    spm_file = _train_sentencepiece(
        text.lines("en", "fr", "de"),
        work / "spm",
        "unigram",
        pad_id=0,
        eos_id=1,
        unk_id=2,
        bos_id=-1,
    )
    shutil.copy(spm_file, work / "spiece.model")
    tokenizer = T5Tokenizer.from_pretrained(work, extra_ids=8)
    tokenizer.save_pretrained(folder)
    config_class = T5Config if model_type == "t5" else MT5Config
    config = config_class(
        vocab_size=len(tokenizer),
        d_model=WIDTH,
        d_kv=WIDTH // HEADS,
        d_ff=2 * WIDTH,
        num_layers=LAYERS,
        num_decoder_layers=LAYERS,
        num_heads=HEADS,
        dropout_rate=0.0,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.pad_token_id,
        feed_forward_proj="relu" if model_type == "t5" else "gated-gelu",
        tie_word_embeddings=model_type == "t5",
    )
    _save_model(config, folder)


def build_t5(folder: Path, text: TrainingText) -> None:
    _build_t5_like(folder, text, "t5")


def build_mt5(folder: Path, text: TrainingText) -> None:
    _build_t5_like(folder, text, "mt5")


def build_bart(folder: Path, text: TrainingText) -> None:
    """BART: GPT-2-style byte-level BPE (vocab.json + merges.txt), trained here."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import BartConfig, BartTokenizer

    work = folder.parent / (folder.name + "-work")
    work.mkdir(parents=True, exist_ok=True)
    trainer = ByteLevelBPETokenizer()
    trainer.train_from_iterator(
        text.lines("en", "fr"),
        vocab_size=VOCAB_SIZE,
        min_frequency=2,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
        show_progress=False,
    )
    trainer.save_model(str(work))
    tokenizer = BartTokenizer.from_pretrained(work)
    tokenizer.save_pretrained(folder)
    config = BartConfig(
        vocab_size=len(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,
        forced_bos_token_id=tokenizer.bos_token_id,
        **_bart_like_dims(),
    )
    _save_model(config, folder)


def build_fsmt(folder: Path, text: TrainingText) -> None:
    """FSMT (fairseq WMT19): Moses tokenization, joint BPE with ``</w>`` word-end markers,
    and separate source and target vocabularies.

    The target vocabulary lists the same pieces as the source one in another order (as
    two fairseq dictionaries do), so a target side encoded with the source vocabulary
    gets wrong ids and the tests notice.
    """
    from sacremoses import MosesTokenizer
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import FSMTConfig, FSMTTokenizer

    work = folder.parent / (folder.name + "-work")
    work.mkdir(parents=True, exist_ok=True)
    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    tokenized: list[str] = []
    for language in ("en", "fr"):
        moses = MosesTokenizer(lang=language)
        tokenized.extend(
            moses.tokenize(line, aggressive_dash_splits=True, return_str=True, escape=True)
            for line in text.lines(language)
        )
    bpe = Tokenizer(models.BPE(unk_token="<unk>", end_of_word_suffix="</w>"))
    bpe.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    bpe.train_from_iterator(
        tokenized,
        trainers.BpeTrainer(
            vocab_size=VOCAB_SIZE,
            special_tokens=specials,
            end_of_word_suffix="</w>",
            show_progress=False,
        ),
    )
    trained = json.loads(bpe.to_str())["model"]
    source_vocab: dict[str, int] = trained["vocab"]
    pieces = sorted(source_vocab, key=source_vocab.__getitem__)[len(specials) :]
    target_vocab = {token: index for index, token in enumerate(specials + pieces[::-1])}
    merges = [" ".join(m) if isinstance(m, list) else m for m in trained["merges"]]
    (work / "vocab-src.json").write_text(json.dumps(source_vocab), encoding="utf-8")
    (work / "vocab-tgt.json").write_text(json.dumps(target_vocab), encoding="utf-8")
    (work / "merges.txt").write_text("\n".join(merges) + "\n", encoding="utf-8")
    tokenizer = FSMTTokenizer(
        langs=["en", "fr"],
        src_vocab_file=str(work / "vocab-src.json"),
        tgt_vocab_file=str(work / "vocab-tgt.json"),
        merges_file=str(work / "merges.txt"),
    )
    tokenizer.save_pretrained(folder)
    config = FSMTConfig(
        langs=["en", "fr"],
        src_vocab_size=len(source_vocab),
        tgt_vocab_size=len(target_vocab),
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        decoder_start_token_id=2,
        forced_eos_token_id=2,
        **_bart_like_dims(),
    )
    _save_model(config, folder)


FAMILIES: tuple[Family, ...] = (
    Family("marian-opus", "marian", "fr", "en", build_marian_opus),
    Family(
        "marian-multilingual",
        "marian",
        "en",
        "fr",
        build_marian_multilingual,
        aligner_options={"target_language_token": ">>fra<<"},
        source_text_prefix=">>fra<< ",
    ),
    Family(
        "m2m100",
        "m2m_100",
        "en",
        "fr",
        build_m2m100,
        aligner_options={"src_lang": "en", "tgt_lang": "fr"},
    ),
    Family(
        "nllb",
        "m2m_100",
        "en",
        "fr",
        build_nllb,
        aligner_options={"src_lang": "eng_Latn", "tgt_lang": "fra_Latn"},
    ),
    Family(
        "mbart50",
        "mbart",
        "en",
        "fr",
        build_mbart50,
        aligner_options={"src_lang": "en_XX", "tgt_lang": "fr_XX"},
    ),
    Family(
        "t5",
        "t5",
        "en",
        "fr",
        build_t5,
        aligner_options={"source_prefix": "translate English to French:"},
        source_text_prefix="translate English to French: ",
    ),
    Family(
        "mt5",
        "mt5",
        "en",
        "fr",
        build_mt5,
        aligner_options={"source_prefix": "translate English to French:"},
        source_text_prefix="translate English to French: ",
    ),
    Family("bart", "bart", "en", "fr", build_bart, byte_level=True),
    Family("fsmt", "fsmt", "en", "fr", build_fsmt, needs=("sacremoses",)),
)
FAMILIES_BY_NAME = {family.name: family for family in FAMILIES}


class FamilyModels:
    """Builds each family's folder on first use, under one session-wide directory."""

    def __init__(self, root: Path, shared_data: Path):
        import transformers

        transformers.utils.logging.disable_progress_bar()
        self.root = root
        self.text = TrainingText(shared_data)
        self._built: dict[str, Path] = {}

    def folder(self, name: str) -> Path:
        import pytest

        for module in FAMILIES_BY_NAME[name].needs:
            pytest.importorskip(module, reason=f"the {name} tokenizer needs {module}")
        if name not in self._built:
            folder = self.root / name
            FAMILIES_BY_NAME[name].build(folder, self.text)
            self._built[name] = folder
        return self._built[name]
