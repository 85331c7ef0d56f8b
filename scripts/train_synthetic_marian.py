"""Train small MarianMT models on the synthetic language pair, in both directions.

Produces, under ``--out`` (default ``tests/data/synthetic``):

* ``heldout.src-tgt`` / ``heldout.gold``: held-out pairs (never in the training data)
  and their gold alignment (Pharaoh, 0-based, source first);
* ``fwd/``: a ``MarianMTModel`` + ``MarianTokenizer`` translating source -> target;
* ``rev/``: the same for target -> source.

Each model folder loads with ``AutoTokenizer.from_pretrained`` and
``AutoModelForSeq2SeqLM.from_pretrained``. The tokenizer is a real ``MarianTokenizer``:
two SentencePiece unigram models (``source.spm``, ``target.spm``) trained here, and one
joint ``vocab.json`` as in OPUS-MT (``</s>`` = 0, ``<unk>`` = 1, ``<pad>`` = last, which
is also the decoder start token). The training corpus is regenerated from the seeds, so
it is not stored.

Example::

    python scripts/train_synthetic_marian.py --out tests/data/synthetic
"""

from __future__ import annotations

import argparse
import io
import json
import math
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import sentencepiece
import torch
from transformers import MarianConfig, MarianMTModel, MarianTokenizer

sys.path.insert(0, str(Path(__file__).resolve().parent))
import synthetic_language  # noqa: E402  (a sibling script, not an installed package)


@dataclass
class TrainingSettings:
    train_pairs: int = 30000
    heldout_pairs: int = 300
    lexicon_seed: int = 0
    train_seed: int = 2
    heldout_seed: int = 1
    torch_seed: int = 0
    spm_vocab_size: int = 600
    d_model: int = 128
    layers: int = 3
    heads: int = 4
    ffn_dim: int = 256
    dropout: float = 0.1
    batch_size: int = 96
    steps: int = 1000
    warmup_steps: int = 200
    learning_rate: float = 2e-3
    threads: int = 2


def train_sentencepiece(sentences: list[str], vocab_size: int) -> bytes:
    """A BPE model with only ``<unk>``: Marian adds ``</s>`` and ``<pad>`` in vocab.json.

    BPE rather than unigram because on this small, regular vocabulary the unigram trainer
    stops at ~400 pieces and still splits most target words; BPE-600 keeps frequent words
    whole and splits the long and compound ones, which is closer to real OPUS-MT text.
    """
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences),
        model_writer=model,
        model_type="bpe",
        vocab_size=vocab_size,
        character_coverage=1.0,
        # The words are plain ASCII; the default NFKC rules would add ~240 kB per file.
        normalization_rule_name="identity",
        unk_id=0,
        bos_id=-1,
        eos_id=-1,
        pad_id=-1,
        # The corpus is tiny in types; let the trainer stop below the limit if it must.
        hard_vocab_limit=False,
        num_threads=1,
        minloglevel=2,
    )
    return model.getvalue()


def joint_vocabulary(spm_models: list[bytes]) -> dict[str, int]:
    """OPUS-MT layout: ``</s>`` first, ``<unk>`` second, all pieces, ``<pad>`` last."""
    vocabulary = {"</s>": 0, "<unk>": 1}
    for model_bytes in spm_models:
        processor = sentencepiece.SentencePieceProcessor(model_proto=model_bytes)
        for piece_id in range(processor.get_piece_size()):
            if processor.is_unknown(piece_id) or processor.is_control(piece_id):
                continue
            vocabulary.setdefault(processor.id_to_piece(piece_id), len(vocabulary))
    vocabulary["<pad>"] = len(vocabulary)
    return vocabulary


def build_tokenizer(
    source_spm: bytes, target_spm: bytes, vocabulary: dict[str, int], languages: tuple[str, str]
) -> MarianTokenizer:
    # MarianTokenizer reads from files; save_pretrained copies them into the model folder.
    folder = Path(tempfile.mkdtemp(prefix="synthetic-marian-"))
    (folder / "source.spm").write_bytes(source_spm)
    (folder / "target.spm").write_bytes(target_spm)
    (folder / "vocab.json").write_text(json.dumps(vocabulary, indent=2), encoding="utf-8")
    return MarianTokenizer(
        source_spm=str(folder / "source.spm"),
        target_spm=str(folder / "target.spm"),
        vocab=str(folder / "vocab.json"),
        source_lang=languages[0],
        target_lang=languages[1],
        separate_vocabs=False,
    )


def build_model(settings: TrainingSettings, vocabulary: dict[str, int]) -> MarianMTModel:
    pad_id, eos_id = vocabulary["<pad>"], vocabulary["</s>"]
    config = MarianConfig(
        vocab_size=len(vocabulary),
        decoder_vocab_size=len(vocabulary),
        d_model=settings.d_model,
        encoder_layers=settings.layers,
        decoder_layers=settings.layers,
        encoder_attention_heads=settings.heads,
        decoder_attention_heads=settings.heads,
        encoder_ffn_dim=settings.ffn_dim,
        decoder_ffn_dim=settings.ffn_dim,
        activation_function="relu",
        dropout=settings.dropout,
        attention_dropout=0.0,
        activation_dropout=0.0,
        # Sentences are at most 20 words (well under 100 pieces).
        max_position_embeddings=256,
        scale_embedding=True,
        share_encoder_decoder_embeddings=True,
        tie_word_embeddings=True,
        pad_token_id=pad_id,
        eos_token_id=eos_id,
        forced_eos_token_id=eos_id,
        decoder_start_token_id=pad_id,
        bos_token_id=None,
    )
    torch.manual_seed(settings.torch_seed)
    model = MarianMTModel(config)
    model.generation_config.max_length = 128
    model.generation_config.num_beams = 1
    model.generation_config.bad_words_ids = [[pad_id]]
    return model


@dataclass
class EncodedPair:
    input_ids: list[int]
    labels: list[int]


def encode_pairs(
    tokenizer: MarianTokenizer, sources: list[str], targets: list[str]
) -> list[EncodedPair]:
    encoded = tokenizer(sources, text_target=targets)
    return [
        EncodedPair(input_ids, labels)
        for input_ids, labels in zip(encoded["input_ids"], encoded["labels"], strict=True)
    ]


def collate(batch: list[EncodedPair], pad_id: int) -> dict[str, torch.Tensor]:
    source_length = max(len(pair.input_ids) for pair in batch)
    target_length = max(len(pair.labels) for pair in batch)
    input_ids = torch.full((len(batch), source_length), pad_id)
    attention_mask = torch.zeros((len(batch), source_length), dtype=torch.long)
    # -100 is ignored by the loss; the model shifts labels right to make decoder inputs
    # (turning -100 into pad).
    labels = torch.full((len(batch), target_length), -100)
    for row, pair in enumerate(batch):
        input_ids[row, : len(pair.input_ids)] = torch.tensor(pair.input_ids)
        attention_mask[row, : len(pair.input_ids)] = 1
        labels[row, : len(pair.labels)] = torch.tensor(pair.labels)
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


def length_bucketed_batches(
    pairs: list[EncodedPair], batch_size: int, rng: random.Random, pool_batches: int = 50
) -> Iterator[list[EncodedPair]]:
    """Endless shuffled batches of pairs of similar length, so that little is padding.

    Each epoch is shuffled, cut into pools of ``pool_batches`` batches, each pool sorted
    by length and cut into batches, and the batches of the epoch shuffled again.
    """
    while True:
        order = list(range(len(pairs)))
        rng.shuffle(order)
        epoch: list[list[int]] = []
        pool_size = batch_size * pool_batches
        for pool_start in range(0, len(order), pool_size):
            pool = sorted(
                order[pool_start : pool_start + pool_size],
                key=lambda i: (len(pairs[i].labels), len(pairs[i].input_ids)),
            )
            epoch += [pool[k : k + batch_size] for k in range(0, len(pool), batch_size)]
        rng.shuffle(epoch)
        for batch in epoch:
            yield [pairs[i] for i in batch]


def learning_rate_factor(step: int, settings: TrainingSettings) -> float:
    """Linear warm-up, then cosine decay to 5% of the peak."""
    if step < settings.warmup_steps:
        return (step + 1) / settings.warmup_steps
    progress = (step - settings.warmup_steps) / max(1, settings.steps - settings.warmup_steps)
    return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


@torch.no_grad()
def teacher_forced_accuracy(
    model: MarianMTModel, pairs: list[EncodedPair], pad_id: int, batch_size: int = 100
) -> tuple[float, float]:
    """(mean loss per token, fraction of target tokens, EOS included, predicted exactly)."""
    model.eval()
    loss_sum, correct, total = 0.0, 0, 0
    for start in range(0, len(pairs), batch_size):
        batch = collate(pairs[start : start + batch_size], pad_id)
        logits = model(**batch).logits
        mask = batch["labels"] != -100
        loss_sum += torch.nn.functional.cross_entropy(
            logits[mask], batch["labels"][mask], reduction="sum"
        ).item()
        correct += (logits.argmax(-1)[mask] == batch["labels"][mask]).sum().item()
        total += mask.sum().item()
    return loss_sum / total, correct / total


@torch.no_grad()
def greedy_exact_match(
    model: MarianMTModel, tokenizer: MarianTokenizer, sources: list[str], targets: list[str]
) -> float:
    model.eval()
    batch = tokenizer(sources, return_tensors="pt", padding=True)
    generated = model.generate(**batch, num_beams=1, max_length=128)
    hypotheses = tokenizer.batch_decode(generated, skip_special_tokens=True)
    return sum(h.split() == t.split() for h, t in zip(hypotheses, targets, strict=True)) / len(
        sources
    )


def train_direction(
    name: str,
    tokenizer: MarianTokenizer,
    vocabulary: dict[str, int],
    train_pairs: tuple[list[str], list[str]],
    heldout_pairs: tuple[list[str], list[str]],
    settings: TrainingSettings,
    out_folder: Path,
) -> dict[str, float]:
    pad_id = vocabulary["<pad>"]
    train = encode_pairs(tokenizer, *train_pairs)
    heldout = encode_pairs(tokenizer, *heldout_pairs)
    model = build_model(settings, vocabulary)
    parameters = sum(p.numel() for p in model.parameters())
    print(f"[{name}] {parameters:,} parameters, {len(train)} training pairs", flush=True)

    optimizer = torch.optim.AdamW(
        model.parameters(), lr=settings.learning_rate, betas=(0.9, 0.98), weight_decay=0.01
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: learning_rate_factor(step, settings)
    )
    order_rng = random.Random(settings.torch_seed)
    batches = length_bucketed_batches(train, settings.batch_size, order_rng)
    started = time.monotonic()
    running_loss = 0.0
    model.train()
    for step in range(settings.steps):
        batch = collate(next(batches), pad_id)
        loss = model(**batch).loss  # plain token-level cross-entropy, no label smoothing
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        running_loss += loss.item()
        if (step + 1) % 100 == 0:
            print(
                f"[{name}] step {step + 1:5d}  loss {running_loss / 100:.4f}  "
                f"lr {scheduler.get_last_lr()[0]:.2e}  {time.monotonic() - started:6.1f}s",
                flush=True,
            )
            running_loss = 0.0
    training_seconds = time.monotonic() - started

    heldout_loss, heldout_accuracy = teacher_forced_accuracy(model, heldout, pad_id)
    exact_match = greedy_exact_match(model, tokenizer, *heldout_pairs)
    summary = {
        "training_seconds": round(training_seconds, 1),
        "parameters": parameters,
        "heldout_loss": round(heldout_loss, 4),
        "heldout_token_accuracy": round(heldout_accuracy, 4),
        "heldout_greedy_exact_match": round(exact_match, 4),
    }
    print(f"[{name}] {summary}", flush=True)

    out_folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_folder)
    tokenizer.save_pretrained(out_folder)
    (out_folder / "training_summary.json").write_text(
        json.dumps(
            {"command": " ".join(sys.argv), "settings": asdict(settings), **summary}, indent=2
        )
        + "\n",
        encoding="utf-8",
    )
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("tests/data/synthetic"))
    parser.add_argument("--directions", nargs="+", choices=["fwd", "rev"], default=["fwd", "rev"])
    defaults = TrainingSettings()
    for key, value in asdict(defaults).items():
        parser.add_argument(f"--{key.replace('_', '-')}", type=type(value), default=value)
    args = parser.parse_args(argv)
    settings = TrainingSettings(**{key: getattr(args, key) for key in asdict(defaults)})
    torch.set_num_threads(settings.threads)

    lexicon = synthetic_language.build_lexicon(settings.lexicon_seed)
    heldout = synthetic_language.generate_corpus(
        lexicon, settings.heldout_pairs, settings.heldout_seed
    )
    train = synthetic_language.generate_corpus(
        lexicon,
        settings.train_pairs,
        settings.train_seed,
        exclude={" ".join(pair.source) for pair in heldout},
    )
    args.out.mkdir(parents=True, exist_ok=True)
    synthetic_language.write_corpus(
        heldout, args.out / "heldout.src-tgt", args.out / "heldout.gold"
    )

    train_source = [" ".join(pair.source) for pair in train]
    train_target = [" ".join(pair.target) for pair in train]
    heldout_source = [" ".join(pair.source) for pair in heldout]
    heldout_target = [" ".join(pair.target) for pair in heldout]
    source_spm = train_sentencepiece(train_source, settings.spm_vocab_size)
    target_spm = train_sentencepiece(train_target, settings.spm_vocab_size)
    vocabulary = joint_vocabulary([source_spm, target_spm])
    print(f"joint vocabulary: {len(vocabulary)} entries", flush=True)

    for direction in args.directions:
        if direction == "fwd":
            tokenizer = build_tokenizer(source_spm, target_spm, vocabulary, ("sel", "tahu"))
            pairs = (train_source, train_target), (heldout_source, heldout_target)
        else:
            tokenizer = build_tokenizer(target_spm, source_spm, vocabulary, ("tahu", "sel"))
            pairs = (train_target, train_source), (heldout_target, heldout_source)
        train_direction(
            f"synthetic-{direction}",
            tokenizer,
            vocabulary,
            pairs[0],
            pairs[1],
            settings,
            args.out / direction,
        )


if __name__ == "__main__":
    main()
