"""Align the English-French Hansards test set and score it against the human gold.

The Hansards set (Och & Ney 2000; WPT 2003) is the standard word-alignment benchmark:
447 sentence pairs with sure (``i-j``) and possible (``ipj``) links, 1-based. This
example aligns a slice of it, scores the result with AER, and draws the worst sentences.

With network access you would simply run, on the whole set::

    xalign extract -i enfr.src-tgt --model opus-mt-en-fr -o enfr.opus.txt
    xalign eval enfr.gold enfr.opus.txt --gold-one-based --per-sentence 5 --corpus enfr.src-tgt
    xalign show -i enfr.src-tgt -a enfr.opus.txt -g enfr.gold --gold-one-based --worst 3

The machines this example is tested on cannot reach the model hub, so by default it builds
a small *untrained* model with the real OPUS-MT tokenizer and architecture: the commands
and files are exactly those of a real run, but the scores are chance level. Give it a real
model folder to see real numbers (``hf download Helsinki-NLP/opus-mt-en-fr --local-dir
opus-mt-en-fr`` on a machine with network)::

    python examples/align_and_score_hansards.py --model opus-mt-en-fr --lines 447

Run from anywhere: ``python examples/align_and_score_hansards.py [--lines N] [--out DIR]``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from _helpers import build_untrained_marian, have_matplotlib, shared_data_or_exit, xalign


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="A local model folder (default: an untrained one).")
    parser.add_argument("--lines", type=int, default=60, help="How many pairs (max 447).")
    parser.add_argument("--out", type=Path, help="Where to write the files (default: temp).")
    args = parser.parse_args()

    gold_dir = shared_data_or_exit("gold")
    out = args.out or Path(tempfile.mkdtemp(prefix="xalign-hansards-"))
    out.mkdir(parents=True, exist_ok=True)

    # A slice of the test set: the corpus and its gold, line for line.
    corpus, gold = out / "enfr.src-tgt", out / "enfr.gold"
    for source, target in ((gold_dir / "enfr.src-tgt", corpus), (gold_dir / "enfr.gold", gold)):
        lines = source.read_text(encoding="utf-8").split("\n")[: args.lines]
        target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{args.lines} pairs of the Hansards test set in {out}")

    if args.model is None:
        shared_data_or_exit("tokenizers", "opus-mt-tc-big-fr-en")
        model = build_untrained_marian(out / "untrained-opus-mt")
        print(f"built an untrained OPUS-MT-shaped model in {model} (chance-level alignments)")
    else:
        model = Path(args.model)

    prediction = out / "enfr.pred.txt"
    # 1. Align: one line of 0-based `i-j` links per pair, English (source) first.
    xalign("extract", "-i", corpus, "--model", model, "-o", prediction, "--force")
    # 2. Score: the gold set is 1-based, hence --gold-one-based.
    xalign(
        "eval",
        gold,
        prediction,
        "--gold-one-based",
        "--per-sentence",
        "3",
        "--corpus",
        corpus,
    )
    # 3. Look at the worst sentence, in the terminal and (with matplotlib) as a picture.
    show = ["show", "-i", corpus, "-a", prediction, "-g", gold, "--gold-one-based"]
    xalign(*show, "--worst", "1")
    if have_matplotlib():
        xalign(*show, "--worst", "3", "-o", out / "worst.png")
    else:
        print("\n(pip install 'xalign[plot]' to draw the worst sentences as a PNG)")


if __name__ == "__main__":
    main()
