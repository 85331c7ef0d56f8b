"""Tag-transfer accuracy on gold alignment sets: how often a tag lands exactly where the
gold alignment puts it, when the links come from gold, from published aligners, or from
xalign's model.

For every sentence of a gold set (Hansards En-Fr, Ro-En: ``../shared/data/gold``; the
synthetic held-out set: ``tests/data/synthetic``), tags are inserted at random source
positions (seeded): up to two paired tags ``<b>…</b>`` / ``<i>…</i>`` over spans of 1–4
words (the second nested in the first or beside it) and one standalone ``<x/>`` before a
word. The **reference placement** is the projection through the gold links (sure links
only), computed here on its own, independently of :mod:`align_cli.tools.transfer`:

* a paired tag covers ``[min J, max J + 1)``, ``J`` the target words gold-linked to its
  source words;
* a standalone tag before source word ``k`` goes before the first target word gold-linked
  to ``k``.

A tag is kept only where the projection is well defined: its words (the word after it,
for ``<x/>``) have a gold link, and two tags side by side in the source do not overlap
in the target (a crossing that the transfer must cut, rule 2, has no single right
answer). Then each link source is scored by the share of tags whose target placement
(``place_tags``: start and end word) equals the reference. With the gold links themselves
that share must be 100%: anything less is a bug in the reference or the placement.

    python benchmarks/bench_transfer.py [--seed 13] [--no-model]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from align_cli.io.formats import read_alignments  # noqa: E402
from align_cli.tools.transfer import FALLBACK_KINDS, parse_markup, place_tags  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
SYNTHETIC = ROOT / "tests" / "data" / "synthetic"
PUBLISHED = SHARED / "published"


@dataclass
class Case:
    """One sentence with its tags: the tagged source, the target length, each tag's
    reference span (in the order parse_markup lists the tags) and whether it is paired."""

    tagged: str
    n_tgt: int
    reference: list[tuple[int, int]]
    paired: list[bool]


def projection(gold: list[set[int]], start: int, end: int) -> tuple[int, int] | None:
    linked = [j for i in range(start, end) for j in gold[i]]
    return (min(linked), max(linked) + 1) if linked else None


def make_case(words: list[str], n_tgt: int, gold: list[set[int]], rng: random.Random) -> Case:
    n = len(words)
    spans: list[tuple[int, int, tuple[int, int]]] = []  # source span, reference
    for _ in range(rng.choice([1, 2])):
        for _attempt in range(10):
            if not spans or rng.random() < 0.5:
                length = rng.randint(1, min(4, n))
                start = rng.randint(0, n - length)
                candidate = (start, start + length)
                if spans and not (candidate[1] <= spans[0][0] or spans[0][1] <= candidate[0]):
                    continue  # a second tag beside the first: disjoint in the source
            else:  # nested in the first tag
                outer = spans[0]
                if outer[1] - outer[0] < 2:
                    continue
                start = rng.randint(outer[0], outer[1] - 1)
                candidate = (start, rng.randint(start + 1, outer[1]))
                if candidate == outer[:2]:
                    continue
            reference = projection(gold, *candidate)
            if reference is None or not _consistent(candidate, reference, spans):
                continue
            spans.append((*candidate, reference))
            break
    point = None
    for _attempt in range(10):
        k = rng.randrange(n)
        if gold[k]:
            point = (k, (min(gold[k]), min(gold[k])))
            break
    # Write the source: <x/> before word k, outside any tag that starts or ends there.
    names = ["b", "i"]
    tokens: list[str] = []
    for position in range(n + 1):
        for index, (_, end, _ref) in sorted(
            enumerate(spans), key=lambda item: -item[1][0]
        ):  # inner tags close first
            if end == position:
                tokens.append(f"</{names[index]}>")
        if point is not None and point[0] == position:
            tokens.append("<x/>")
        for index, (start, _end, _ref) in sorted(
            enumerate(spans), key=lambda item: (item[1][0], -item[1][1])
        ):
            if start == position:
                tokens.append(f"<{names[index]}>")
        if position < n:
            tokens.append(words[position])
    tagged = " ".join(tokens)
    # References in the order parse_markup lists tags (text order of openings).
    by_opening = {f"<{names[index]}>": ref for index, (_, _, ref) in enumerate(spans)}
    if point is not None:
        by_opening["<x/>"] = point[1]
    markup = parse_markup(tagged)
    reference = [by_opening[tag.opening] for tag in markup.tags]
    return Case(tagged, n_tgt, reference, [tag.paired for tag in markup.tags])


def _consistent(candidate, reference, spans) -> bool:
    for start, end, other in spans:
        nested = start <= candidate[0] and candidate[1] <= end
        if not nested and (reference[0] < other[1] and other[0] < reference[1]):
            return False  # side by side in the source, overlapping in the target
    return True


def load_gold_set(name: str):
    """(source words, target lengths, sure gold links per sentence) of a gold set."""
    if name == "synthetic":
        corpus, gold_path, one_based = (
            SYNTHETIC / "heldout.src-tgt",
            SYNTHETIC / "heldout.gold",
            False,
        )
    else:
        corpus, gold_path, one_based = (
            SHARED / "gold" / f"{name}.src-tgt",
            SHARED / "gold" / f"{name}.gold",
            True,
        )
    pairs = []
    for line in corpus.read_text(encoding="utf-8").split("\n"):
        if line.strip():
            source, target = line.split("|||")
            pairs.append((source.split(), target.split()))
    golds = [set(s.sure) for s in read_alignments(str(gold_path), one_based=one_based)]
    assert len(golds) == len(pairs), (name, len(golds), len(pairs))
    return pairs, golds


def cases_for(name: str, seed: int) -> tuple[list[Case], list, list]:
    pairs, golds = load_gold_set(name)
    cases = []
    for index, ((src, tgt), links) in enumerate(zip(pairs, golds, strict=True)):
        by_source = [set() for _ in src]
        for i, j in links:
            by_source[i].add(j)
        cases.append(make_case(src, len(tgt), by_source, random.Random(f"{seed}:{name}:{index}")))
    return cases, pairs, golds


def score(cases: list[Case], links_per_sentence: list) -> dict:
    right = {True: 0, False: 0}
    total = {True: 0, False: 0}
    sentences_right = sentences = fallback = 0
    for case, links in zip(cases, links_per_sentence, strict=True):
        placements = place_tags(parse_markup(case.tagged), case.n_tgt, sorted(links))
        all_right = True
        for placement, reference, paired in zip(
            placements, case.reference, case.paired, strict=True
        ):
            total[paired] += 1
            hit = (placement.start, placement.end) == reference
            right[paired] += hit
            all_right &= hit
            fallback += placement.how in FALLBACK_KINDS
        sentences_right += all_right and bool(placements)
        sentences += bool(placements)
    tags = total[True] + total[False]
    return {
        "paired": 100 * right[True] / total[True],
        "standalone": 100 * right[False] / total[False],
        "all": 100 * (right[True] + right[False]) / tags,
        "sentences": 100 * sentences_right / sentences,
        "fallback": 100 * fallback / tags,
        "counts": (total[True], total[False], sentences),
    }


def published(name: str) -> list[tuple[str, str, bool]]:
    """(label, file, target first) of every published output for a gold set."""
    rows = []
    for system in ("lilt-giza", "lilt-fastalign"):
        folder = PUBLISHED / system
        for kind, label in [
            ("", "forward"),
            (".reverse", "reverse"),
            (".intersection", "intersection"),
            (".union", "union"),
            (".grow-diagonal", "grow-diagonal"),
            (".grow-diagonal-final", "grow-diagonal-final"),
        ]:
            rows.append(
                (f"{system} {label}", str(folder / f"test.{name}{kind}.talp"), kind == ".reverse")
            )
    rows.append(
        ("awesome-align", str(PUBLISHED / "awesome-align" / f"{name}.awesome-align.out"), False)
    )
    return rows


def model_rows(pairs, trained: list[str]) -> list[tuple[str, list]]:
    from align_cli.api import align
    from align_cli.settings import resolve_settings

    sources = [src for src, _ in pairs]
    targets = [tgt for _, tgt in pairs]
    fwd, rev = str(SYNTHETIC / "fwd"), str(SYNTHETIC / "rev")
    runs = [
        ("xalign fwd model, default (inter)", {}),
        ("xalign fwd model, --method argmax", {"settings": resolve_settings(method="argmax")}),
        (
            "xalign fwd + rev models, argmax both ways, intersect",
            {
                "settings": resolve_settings(method="argmax", symmetrize="intersect"),
                "reverse_model": rev,
            },
        ),
    ]
    # A folder made by `xalign train` is read as its xalign.json says (no settings given).
    runs += [(f"xalign train output {Path(folder).name}", {"model": folder}) for folder in trained]
    rows = []
    for label, options in runs:
        started = time.perf_counter()
        options = {"model": fwd, **options}
        links = [result.links for result in align(sources, targets, **options)]
        print(f"  ({label}: aligned in {time.perf_counter() - started:.1f} s)", file=sys.stderr)
        rows.append((label, links))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--no-model", action="store_true", help="skip xalign's model rows")
    parser.add_argument(
        "--trained",
        action="append",
        default=[],
        metavar="FOLDER",
        help="also a model folder made by `xalign train` from the synthetic model (repeatable)",
    )
    parser.add_argument(
        "--links",
        action="append",
        default=[],
        metavar="LABEL=FILE",
        help="also the links of a 0-based Pharaoh file of the synthetic held-out pairs "
        "(e.g. eflomal's), repeatable",
    )
    args = parser.parse_args()
    header = (
        "| gold set | links from | paired % | standalone % | all tags % | sentences % "
        "| fallback % |"
    )
    print(header)
    print("|---" * 7 + "|")
    for name in ("enfr", "roen", "synthetic"):
        if name != "synthetic" and not SHARED.is_dir():
            print(f"(skipped {name}: {SHARED} is missing)", file=sys.stderr)
            continue
        cases, pairs, golds = cases_for(name, args.seed)
        rows: list[tuple[str, list]] = [("gold (sure links)", golds)]
        if name != "synthetic":
            for label, path, target_first in published(name):
                links = [s.links for s in read_alignments(path, reverse=target_first)]
                rows.append((label, links))
        else:
            if not args.no_model:
                rows += model_rows(pairs, args.trained)
            for given in args.links:
                label, _, path = given.partition("=")
                rows.append((label, [s.links for s in read_alignments(path)]))
        for label, links in rows:
            result = score(cases, links)
            print(
                f"| {name} | {label} | {result['paired']:.1f} | {result['standalone']:.1f} | "
                f"{result['all']:.1f} | {result['sentences']:.1f} | {result['fallback']:.1f} |"
            )
        paired, standalone, sentences = score(cases, golds)["counts"]
        print(
            f"  ({name}: {sentences} sentences with tags, {paired} paired and "
            f"{standalone} standalone tags)",
            file=sys.stderr,
        )


if __name__ == "__main__":
    main()
