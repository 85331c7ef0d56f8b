"""AER of two predictions on one gold, and whether the difference is significant.

    python benchmarks/paired_aer.py GOLD A.pharaoh B.pharaoh [--samples 10000] [--seed 0]

Prints AER(A), AER(B), AER(A) − AER(B) with its 95% paired-bootstrap interval over
sentences and a two-sided p-value (Koehn 2004; align_cli.tools.bootstrap), for the
README's tables. All files are 0-based Pharaoh, source first.
"""

from __future__ import annotations

import argparse

from align_cli.io.formats import read_pharaoh
from align_cli.tools.bootstrap import counts_matrix, measures, paired_bootstrap
from align_cli.tools.evaluate import count_links


def sentence_counts(gold_path: str, predicted_path: str):
    gold = list(read_pharaoh(gold_path))
    predicted = list(read_pharaoh(predicted_path))
    if len(gold) != len(predicted):
        raise SystemExit(f"{predicted_path}: {len(predicted)} lines, the gold has {len(gold)}")
    return counts_matrix(
        count_links(g.sure, g.possible, p.links) for g, p in zip(gold, predicted, strict=True)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("gold")
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--samples", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    counts_a, counts_b = sentence_counts(args.gold, args.a), sentence_counts(args.gold, args.b)
    test = paired_bootstrap(counts_a, counts_b, samples=args.samples, seed=args.seed)

    def aer(counts) -> float:
        return float(measures(counts.sum(axis=0))["aer"])

    print(
        f"AER {100 * aer(counts_a):.2f} vs {100 * aer(counts_b):.2f}: difference "
        f"{100 * test.difference:+.2f} (95% interval {100 * test.interval.low:+.2f} to "
        f"{100 * test.interval.high:+.2f}), p = {test.p_value:.4f} "
        f"({test.samples} paired resamples, seed {test.seed})"
    )


if __name__ == "__main__":
    main()
