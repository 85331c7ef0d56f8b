"""The fast_align row of README's quality table (not a dependency: pip install systran-align).

    python benchmarks/fast_align_row.py ALL.src-tgt OUT.pharaoh

ALL is the training corpus followed by the 300 held-out pairs (benchmarks/train_quality.sh
writes it as out/train-quality/all.src-tgt). fast_align (Dyer et al. 2013) runs through
systran-align 3.5.0, SYSTRAN's packaging of it, with fast_align's usual options (-d -o -v:
favour the diagonal, optimise its tension, variational Bayes), both directions; the links
are the package's own symmetrisation of the two (it does not document which heuristic).
The held-out part is written to OUT and scored against tests/data/synthetic/heldout.gold.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import systran_align

from align_cli.io.corpus import read_corpus
from align_cli.io.formats import format_pharaoh, read_pharaoh
from align_cli.tools.evaluate import evaluate

HELDOUT_PAIRS = 300
GOLD = Path(__file__).resolve().parents[1] / "tests/data/synthetic/heldout.gold"


def main() -> None:
    corpus, output = sys.argv[1], Path(sys.argv[2])
    with tempfile.TemporaryDirectory() as scratch:
        forward, backward = f"{scratch}/forward", f"{scratch}/backward"
        systran_align.generate_alignment_probabilities(
            corpus,
            forward,
            backward,
            favor_diagonal=True,
            optimize_tension=True,
            variational_bayes=True,
        )
        aligner = systran_align.Aligner(forward, backward)
        pairs = list(read_corpus([corpus]))[-HELDOUT_PAIRS:]
        results = aligner.align_batch(
            [list(pair.src_words) for pair in pairs], [list(pair.tgt_words) for pair in pairs]
        )
    links = [sorted((int(i), int(j)) for i, j in result["alignments"]) for result in results]
    output.write_text("".join(format_pharaoh(line) + "\n" for line in links), encoding="utf-8")
    gold = [(g.sure, g.possible) for g in read_pharaoh(str(GOLD))]
    totals = evaluate(gold, links).totals
    print(
        f"fast_align: AER {100 * totals.aer:.2f}, precision {100 * totals.precision:.2f}, "
        f"recall {100 * totals.recall:.2f}"
    )


if __name__ == "__main__":
    main()
