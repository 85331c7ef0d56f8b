"""How well does each cross-attention head of a synthetic model align words?

A standalone reference measurement, independent of ``align_cli``: for every decoder layer
and head it reads transformers' own ``output_attentions=True`` cross-attentions on the
held-out pairs, turns them into word alignments and scores them against the gold with AER.

For a target word whose pieces are labels ``a..b-1`` (label ``t`` is predicted at decoder
row ``t``, whose input is label ``t-1`` or the start token):

* plain: rows ``a..b-1``, where the word's pieces are *predicted*;
* Shift-Att (Chen et al., 2020): rows ``a+1..b``, where the pieces are the decoder *input*.

The attention is mean-pooled over the word's rows and over each source word's piece
columns; ``</s>`` columns/rows are left out, and each target word is linked to its argmax
source word. AER uses the gold as both sure and possible links (all links are sure).

Example::

    python scripts/measure_synthetic_attention.py --model tests/data/synthetic/fwd
    python scripts/measure_synthetic_attention.py --model tests/data/synthetic/rev --reverse
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer, PreTrainedTokenizerBase

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "synthetic"

Alignment = set[tuple[int, int]]


def read_pairs(path: Path) -> list[tuple[list[str], list[str]]]:
    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        source, target = line.split("|||")
        pairs.append((source.split(), target.split()))
    return pairs


def read_pharaoh(path: Path) -> list[Alignment]:
    alignments = []
    for line in path.read_text(encoding="utf-8").splitlines():
        links = set()
        for link in line.split():
            i, j = link.split("-")
            links.add((int(i), int(j)))
        alignments.append(links)
    return alignments


def word_spans(
    tokenizer: PreTrainedTokenizerBase, words: list[str], as_target: bool
) -> list[range]:
    """Piece positions of each word in the tokenized sentence (special tokens excluded).

    SentencePiece never merges across spaces, so tokenizing word by word gives the same
    pieces as the whole sentence; this is checked rather than assumed.
    """

    def piece_ids(text: str) -> list[int]:
        key = "text_target" if as_target else "text"
        encoded = tokenizer(**{key: text}, add_special_tokens=False)
        return encoded["input_ids"]

    spans, position = [], 0
    for word in words:
        count = len(piece_ids(word))
        spans.append(range(position, position + count))
        position += count
    if position != len(piece_ids(" ".join(words))):
        raise ValueError(f"word-by-word pieces differ from the sentence's: {words}")
    return spans


def word_attention(
    attention: torch.Tensor, target_spans: list[range], source_spans: list[range], shift: bool
) -> torch.Tensor:
    """[target words, source words] mean attention of one head of one sentence."""
    offset = 1 if shift else 0
    matrix = torch.empty(len(target_spans), len(source_spans))
    for j, target_span in enumerate(target_spans):
        rows = attention[target_span.start + offset : target_span.stop + offset]
        for i, source_span in enumerate(source_spans):
            matrix[j, i] = rows[:, source_span.start : source_span.stop].mean()
    return matrix


@dataclass
class Counts:
    predicted: int = 0
    gold: int = 0
    correct: int = 0

    def add(self, predicted: Alignment, gold: Alignment) -> None:
        self.predicted += len(predicted)
        self.gold += len(gold)
        self.correct += len(predicted & gold)

    @property
    def aer(self) -> float:
        # All gold links are sure, so |A∩S| = |A∩P| and AER = 1 - 2|A∩S| / (|A| + |S|).
        return 1.0 - 2 * self.correct / (self.predicted + self.gold)


@torch.no_grad()
def measure(
    model_folder: Path,
    pairs: list[tuple[list[str], list[str]]],
    gold: list[Alignment],
    reverse: bool,
    batch_size: int = 50,
) -> dict[tuple[str, int, int], Counts]:
    """Counts per (``plain``/``shift``, layer, head); head -1 is the layer's head average."""
    tokenizer = AutoTokenizer.from_pretrained(model_folder)
    # Eager attention: the fused kernels do not return attention weights.
    model = AutoModelForSeq2SeqLM.from_pretrained(model_folder, attn_implementation="eager")
    model.eval()
    counts: dict[tuple[str, int, int], Counts] = {}
    for start in range(0, len(pairs), batch_size):
        batch_pairs = pairs[start : start + batch_size]
        # A reverse model reads the target language; its links are flipped back below.
        inputs = [(t, s) if reverse else (s, t) for s, t in batch_pairs]
        encoded = tokenizer(
            [" ".join(s) for s, _ in inputs],
            text_target=[" ".join(t) for _, t in inputs],
            return_tensors="pt",
            padding=True,
        )
        labels = encoded["labels"].masked_fill(encoded["labels"] == tokenizer.pad_token_id, -100)
        output = model(
            input_ids=encoded["input_ids"],
            attention_mask=encoded["attention_mask"],
            labels=labels,
            output_attentions=True,
        )
        for row, (source_words, target_words) in enumerate(inputs):
            source_spans = word_spans(tokenizer, source_words, as_target=False)
            target_spans = word_spans(tokenizer, target_words, as_target=True)
            reference = gold[start + row]
            for layer, attention in enumerate(output.cross_attentions):
                heads = attention[row]
                for head in range(-1, heads.shape[0]):
                    head_attention = heads.mean(0) if head == -1 else heads[head]
                    for mode in ("plain", "shift"):
                        matrix = word_attention(
                            head_attention, target_spans, source_spans, shift=mode == "shift"
                        )
                        best_source = matrix.argmax(dim=1).tolist()
                        links = {(j, i) if reverse else (i, j) for j, i in enumerate(best_source)}
                        counts.setdefault((mode, layer, head), Counts()).add(links, reference)
    return counts


def format_table(counts: dict[tuple[str, int, int], Counts]) -> str:
    layers = sorted({layer for _, layer, _ in counts})
    heads = sorted({head for _, _, head in counts if head >= 0})
    header = "| mode | layer | " + " | ".join(f"head {h}" for h in heads) + " | head mean |"
    lines = [header, "|" + "---|" * (len(heads) + 3)]
    for mode in ("plain", "shift"):
        for layer in layers:
            cells = [f"{counts[(mode, layer, head)].aer:.3f}" for head in [*heads, -1]]
            lines.append(f"| {mode} | {layer} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=DATA / "fwd")
    parser.add_argument("--pairs", type=Path, default=DATA / "heldout.src-tgt")
    parser.add_argument("--gold", type=Path, default=DATA / "heldout.gold")
    parser.add_argument(
        "--reverse", action="store_true", help="the model translates target -> source"
    )
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    pairs, gold = read_pairs(args.pairs), read_pharaoh(args.gold)
    counts = measure(args.model, pairs, gold, args.reverse)
    print(f"AER of argmax cross-attention alignments, {len(pairs)} pairs, model {args.model}")
    print(format_table(counts))
    best = min(counts, key=lambda key: counts[key].aer)
    print(f"best: {best[0]} layer {best[1]} head {best[2]}: AER {counts[best].aer:.3f}")


if __name__ == "__main__":
    main()
