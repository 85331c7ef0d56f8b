"""Carry inline markup from a source sentence into its translation through the alignment.

The post-editing use xalign is built for: a segment arrives with tags (``<b>…</b>``, a
placeholder ``<x/>``), the machine translation comes back without them, and the tags
must be put on the right target words. ``align_cli.tools.transfer`` does that from the word
alignment: a paired tag covers the target words aligned to its source words (the
smallest span holding them all), nesting is kept, and a tag whose words are unaligned
is still placed, next to its nearest aligned neighbour (rules in ``docs/api.md``).

Three runs:

1. a Hansards sentence with its human gold alignment (links you already have);
2. held-out sentences of xalign's synthetic language, aligned by the small MarianMT model
   trained on it (a model that really learned the alignment): the tags land where the
   gold alignment puts them. The language reorders a lot; when the translation scatters a
   tagged phrase, the tag grows to cover the words in between (a paired tag is
   contiguous), as ``<b>`` does in the first pair;
3. the same with ``xalign extract`` on the command line, for a file of tagged segments.

Run from anywhere: ``python examples/transfer_tags.py``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from _helpers import SHARED_DATA, SYNTHETIC, xalign

from align_cli.io.formats import read_pharaoh
from align_cli.tools.transfer import parse_markup, strip_tags, transfer_tags


def hansards_with_gold_links() -> None:
    corpus, gold = SHARED_DATA / "gold" / "enfr.src-tgt", SHARED_DATA / "gold" / "enfr.gold"
    if not corpus.exists():
        print("1. (skipped: the Hansards gold set is not on this machine)")
        return
    line = 10  # 1-based line of the test set
    source, target = corpus.read_text(encoding="utf-8").split("\n")[line - 1].split("|||")
    sentence = list(read_pharaoh(str(gold), one_based=True))[line - 1]
    words = source.split()
    # Bold the phrase "forest products" and mark the end with a placeholder.
    start = words.index("forest")
    tagged = words[:start] + [f"<b>{words[start]}", f"{words[start + 1]}</b>"]
    tagged += words[start + 2 : -1] + ["<x/>", words[-1]]
    tagged_source = " ".join(tagged)
    print("1. Hansards, gold sure links")
    print(f"   source: {tagged_source}")
    print(f"   target: {' '.join(target.split())}")
    # Sure links only: a possible link (products ~ les) would pull the article into <b>.
    print(f"   tagged: {transfer_tags(tagged_source, target, sentence.sure)}\n")


def synthetic_with_the_trained_model() -> list[tuple[str, str]]:
    """Tag three held-out synthetic pairs, transfer through the model's links."""
    if not (SYNTHETIC / "fwd").is_dir():
        print("2. (skipped: the synthetic model is not in tests/data/synthetic)")
        return []
    from align_cli.aligners.attention import AttentionAligner
    from align_cli.model.loading import load_model

    lines = (SYNTHETIC / "heldout.src-tgt").read_text(encoding="utf-8").split("\n")
    golds = list(read_pharaoh(str(SYNTHETIC / "heldout.gold")))
    aligner = AttentionAligner(load_model(str(SYNTHETIC / "fwd")))
    print("2. Synthetic language, links from the trained model")
    segments = []
    # The first three pairs with six source words or more, so that the tags do not overlap.
    numbers = [n for n, line in enumerate(lines) if len(line.split("|||")[0].split()) >= 6][:3]
    for number in numbers:
        source, target = (side.split() for side in lines[number].split("|||"))
        # Bold words 1-2, italicise the last word but one, a placeholder before the last.
        tagged = [source[0], f"<b>{source[1]}", f"{source[2]}</b>", *source[3:-2]]
        tagged += [f"<i>{source[-2]}</i>", "<x/>", source[-1]]
        tagged_source = " ".join(tagged)
        assert strip_tags(tagged_source).split() == source
        [result] = aligner.align_texts([source], [target])
        by_model = transfer_tags(tagged_source, target, result.links)
        by_gold = transfer_tags(tagged_source, target, golds[number].links)
        print(f"   source: {tagged_source}")
        print(f"   model:  {by_model}")
        print(f"   gold:   {by_gold}   ({'same' if by_model == by_gold else 'differs'})\n")
        segments.append((tagged_source, " ".join(target)))
    return segments


def on_the_command_line(segments: list[tuple[str, str]]) -> None:
    """Files of tagged segments: strip, align with `xalign extract`, put the tags back."""
    if not segments:
        return
    print("3. The same from files, with xalign extract")
    folder = Path(tempfile.mkdtemp(prefix="xalign-tags-"))
    corpus, links_file = folder / "segments.src-tgt", folder / "segments.align"
    corpus.write_text(
        "".join(f"{strip_tags(source)} ||| {target}\n" for source, target in segments),
        encoding="utf-8",
    )
    xalign("extract", "-i", corpus, "-m", SYNTHETIC / "fwd", "-o", links_file, "-q")
    print()
    for (tagged_source, target), sentence in zip(
        segments, read_pharaoh(str(links_file)), strict=True
    ):
        # parse_markup shows what the transfer sees: the words, and each tag's word span.
        tags = ", ".join(
            f"{tag.opening}@{tag.start}-{tag.end}" for tag in parse_markup(tagged_source).tags
        )
        print(f"   tags {tags}: {transfer_tags(tagged_source, target, sentence.links)}")


if __name__ == "__main__":
    hansards_with_gold_links()
    on_the_command_line(synthetic_with_the_trained_model())
