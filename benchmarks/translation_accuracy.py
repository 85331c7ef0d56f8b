"""Is a trained model still a translator? Teacher-forced loss and token accuracy.

    python benchmarks/translation_accuracy.py MODEL [MODEL ...]

On the 300 held-out synthetic pairs (tests/data/synthetic/heldout.src-tgt), as
scripts/train_synthetic_marian.py measures its models: the next-token cross-entropy per
target token and the share of target tokens (</s> included) predicted exactly, for the
README's comparison of `xalign train` approaches.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

HELDOUT = Path(__file__).resolve().parents[1] / "tests/data/synthetic/heldout.src-tgt"
BATCH = 50


@torch.no_grad()
def accuracy(folder: str) -> tuple[float, float]:
    """(loss per target token, token accuracy) of ``folder`` on the held-out pairs."""
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSeq2SeqLM.from_pretrained(folder).eval()
    pairs = [line.split(" ||| ") for line in HELDOUT.read_text(encoding="utf-8").splitlines()]
    loss, correct, total = 0.0, 0, 0
    for start in range(0, len(pairs), BATCH):
        chunk = pairs[start : start + BATCH]
        batch = tokenizer(
            [source for source, _ in chunk],
            text_target=[target for _, target in chunk],
            return_tensors="pt",
            padding=True,
        )
        batch["labels"][batch["labels"] == tokenizer.pad_token_id] = -100
        logits = model(**batch).logits
        mask = batch["labels"] != -100
        loss += torch.nn.functional.cross_entropy(
            logits[mask], batch["labels"][mask], reduction="sum"
        ).item()
        correct += int((logits.argmax(-1)[mask] == batch["labels"][mask]).sum())
        total += int(mask.sum())
    return loss / total, correct / total


def main() -> None:
    torch.set_num_threads(1)
    for folder in sys.argv[1:]:
        loss, share = accuracy(folder)
        print(f"{folder}: held-out loss {loss:.4f}, token accuracy {100 * share:.2f}%")


if __name__ == "__main__":
    main()
