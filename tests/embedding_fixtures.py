"""A tiny random-weight BERT with a WordPiece tokenizer trained here on real en+fr text.

The model folder is written with ``save_pretrained`` and read back through xalign's own
``load_model`` (and through simalign's loader), exactly as a hub model would be. Nothing
is downloaded: the vocabulary is learnt from ``../shared/data/corpora/newstest``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch

# mBERT's layout of the special tokens: [PAD] 0, [unused1..99], [UNK] 100, [CLS] 101,
# [SEP] 102, [MASK] 103. awesome-align hard-codes 0, 101 and 102 as the ids it leaves out
# of the alignment, so the comparison with it needs them there.
SPECIAL_TOKENS = [
    "[PAD]",
    *(f"[unused{k}]" for k in range(1, 100)),
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
]

_built: dict[tuple[Path, int, int], Path] = {}


def tokenizer_training_lines(shared_data: Path, per_language: int = 2051) -> list[str]:
    """news-test2008 en and fr, and the Romanian side of the roen gold set."""
    lines: list[str] = []
    for language in ("en", "fr"):
        path = shared_data / "corpora" / "newstest" / f"news-test2008.{language}"
        text = path.read_text(encoding="utf-8").split("\n")
        lines.extend(line for line in text[:per_language] if line.strip())
    # There is no Romanian corpus in shared/data: the Romanian side of the roen gold set
    # gives WordPiece the Romanian continuation pieces (##ă, ##ţ), which an initial
    # alphabet alone does not, so Romanian words are not all [UNK].
    gold = (shared_data / "gold" / "roen.src-tgt").read_text(encoding="utf-8").split("\n")
    lines.extend(line.split("|||")[0] for line in gold if "|||" in line)
    return lines


def train_wordpiece(lines: Iterable[str], vocab_size: int = 4000):
    """A cased, mBERT-style WordPiece tokenizer (``BertTokenizer``) learnt from ``lines``."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from tokenizers.processors import TemplateProcessing
    from transformers import BertTokenizer

    backend = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=100))
    # As mBERT: cased, accents kept, Chinese characters split, control characters dropped.
    backend.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=False
    )
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS)
    backend.train_from_iterator(lines, trainer=trainer)
    cls_id, sep_id = backend.token_to_id("[CLS]"), backend.token_to_id("[SEP]")
    backend.post_processor = TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    return BertTokenizer(
        tokenizer_object=backend,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        do_lower_case=False,
        model_max_length=512,
    )


def build_tiny_bert(
    folder: Path,
    shared_data: Path,
    *,
    hidden: int = 64,
    layers: int = 8,
    heads: int = 4,
    seed: int = 0,
) -> Path:
    """Save a random-weight BERT (``layers`` deep, so SimAlign's layer 8 exists) + tokenizer.

    Built once per folder and settings within a test session.
    """
    key = (folder, hidden, layers)
    if key in _built:
        return _built[key]
    from transformers import BertConfig, BertModel

    tokenizer = train_wordpiece(tokenizer_training_lines(shared_data))
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=4 * hidden,
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = BertModel(config)
    model.eval()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    _built[key] = folder
    return folder


def add_awesome_align_files(folder: Path) -> Path:
    """Write what awesome-align's own loader reads: ``pytorch_model.bin`` and ``vocab.txt``.

    awesome-align ships a copy of transformers 2.x that knows neither safetensors nor
    ``tokenizer.json``; the weights and vocabulary are the same as the folder's.
    """
    from safetensors.torch import load_file
    from transformers import AutoTokenizer

    if not (folder / "pytorch_model.bin").exists():
        torch.save(load_file(folder / "model.safetensors"), folder / "pytorch_model.bin")
    if not (folder / "vocab.txt").exists():
        vocab = AutoTokenizer.from_pretrained(folder).get_vocab()
        pieces = sorted(vocab, key=vocab.__getitem__)
        (folder / "vocab.txt").write_text("\n".join(pieces) + "\n", encoding="utf-8")
    return folder
