"""Teacher alignments: the word links a model is trained on, or settings are chosen by.

``xalign train`` and ``--preset auto`` need word links for the user's own corpus without a
gold standard. They come from one of three places:

* **eflomal** (Östling & Tiedemann 2016; ``pip install eflomal``, the ``train`` extra): a
  Bayesian IBM-model aligner run on the corpus itself, both directions, symmetrised
  (``grow-diag-final-and`` by default, as OPUS-MT's guided-alignment models were trained);
* **a file** the user gives: any format :func:`~align_cli.io.formats.read_alignments`
  reads (fast_align / GIZA++ / awesome-align output, xalign's own), line-aligned with the
  corpus;
* **gold** links, which are just a file (supervised training).

eflomal holds the corpus in memory (it is C and compact: a few bytes per token); xalign
streams the corpus into its input files and the symmetrised links out of its output, one
line at a time. eflomal seeds its sampler from ``/dev/urandom``, so two runs can differ
in a few links: a run that must be repeated exactly should keep the teacher file
(``xalign train`` writes it next to the model) and pass it back as a file.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from align_cli.errors import CorpusError, XalignError
from align_cli.io.formats import AlignedSentence, format_pharaoh, read_alignments
from align_cli.settings import SYMMETRIZATIONS
from align_cli.stages.symmetrize import symmetrize
from align_cli.types import Link, SentencePair

EFLOMAL_MISSING = (
    "the eflomal teacher needs the eflomal package: pip install 'xalign[train]' "
    "(or pip install eflomal), or give teacher alignments as a file"
)


def _links(line: str) -> set[Link]:
    links = set()
    for item in line.split():
        i, _, j = item.partition("-")
        links.add((int(i), int(j)))
    return links


def run_eflomal(
    pairs: Iterable[SentencePair],
    output: Path,
    *,
    symmetrization: str = "grow-diag-final-and",
) -> int:
    """Align ``pairs`` with eflomal in both directions and write the symmetrised links to
    ``output`` (Pharaoh, 0-based, source first), one line per pair. Returns the pair count.

    ``symmetrization`` is a name in :data:`~align_cli.settings.SYMMETRIZATIONS`, or
    ``forward`` / ``reverse`` for one direction alone.
    """
    if symmetrization not in (*SYMMETRIZATIONS, "forward", "reverse"):
        raise XalignError(
            f"unknown teacher symmetrisation {symmetrization!r}; choose "
            f"{', '.join(SYMMETRIZATIONS)}, forward or reverse"
        )
    try:
        import eflomal
    except ImportError:
        raise XalignError(EFLOMAL_MISSING) from None
    with tempfile.TemporaryDirectory(prefix="xalign-eflomal-") as scratch:
        folder = Path(scratch)
        count = 0
        with (
            (folder / "src").open("w", encoding="utf-8") as src,
            (folder / "tgt").open("w", encoding="utf-8") as tgt,
        ):
            for pair in pairs:
                # eflomal reads whitespace-separated tokens: the user's words, as xalign's.
                src.write(" ".join(pair.src_words) + "\n")
                tgt.write(" ".join(pair.tgt_words) + "\n")
                count += 1
        if count == 0:
            raise XalignError("the corpus is empty: no pair for eflomal to align")
        forward_path, reverse_path = folder / "forward", folder / "reverse"
        with (
            (folder / "src").open(encoding="utf-8") as src,
            (folder / "tgt").open(encoding="utf-8") as tgt,
        ):
            eflomal.Aligner().align(
                src,
                tgt,
                links_filename_fwd=str(forward_path),
                links_filename_rev=str(reverse_path),
                quiet=True,
            )
        written = 0
        with (
            forward_path.open(encoding="utf-8") as forward,
            reverse_path.open(encoding="utf-8") as reverse,
            output.open("w", encoding="utf-8") as out,
        ):
            # eflomal writes both directions source first; forward is the direction in
            # which each target word picks its source word (what symmetrize calls forward).
            for forward_line, reverse_line in zip(forward, reverse, strict=True):
                out.write(
                    format_pharaoh(
                        _combine(_links(forward_line), _links(reverse_line), symmetrization)
                    )
                    + "\n"
                )
                written += 1
    if written != count:
        raise XalignError(f"eflomal returned {written} alignments for {count} pairs")
    return count


def _combine(forward: set[Link], reverse: set[Link], method: str) -> list[Link]:
    if method == "forward":
        return sorted(forward)
    if method == "reverse":
        return sorted(reverse)
    return sorted(symmetrize(forward, reverse, method))


def eflomal_links(
    pairs: Iterable[SentencePair], *, symmetrization: str = "grow-diag-final-and"
) -> list[set[Link]]:
    """:func:`run_eflomal` for a corpus that fits in memory: the links of every pair."""
    with tempfile.TemporaryDirectory(prefix="xalign-teacher-") as scratch:
        path = Path(scratch) / "teacher.pharaoh"
        run_eflomal(pairs, path, symmetrization=symmetrization)
        return [set(sentence.links) for sentence in read_teacher(str(path))]


def read_teacher(
    path: str, fmt: str = "auto", *, one_based: bool = False, reverse: bool = False
) -> Iterator[AlignedSentence]:
    """Teacher links from a file (any format :func:`read_alignments` reads), streamed."""
    return read_alignments(path, fmt, one_based=one_based, reverse=reverse)


def zip_with_teacher(
    pairs: Iterable[SentencePair], teacher: Iterable[AlignedSentence], teacher_name: str
) -> Iterator[tuple[SentencePair, frozenset[Link]]]:
    """Each pair with its teacher links; a teacher of another length, or with a link
    outside its pair, is a one-line :class:`~align_cli.errors.CorpusError`."""
    teacher_iter = iter(teacher)
    count = 0
    for pair in pairs:
        sentence = next(teacher_iter, None)
        if sentence is None:
            raise CorpusError(
                f"has {count} alignment(s) but the corpus has more pairs; the teacher "
                "alignments must be line-aligned with the corpus",
                path=teacher_name,
            )
        count += 1
        links = sentence.links
        for i, j in links:
            if i >= len(pair.src_words) or j >= len(pair.tgt_words):
                raise CorpusError(
                    f"link {i}-{j} is outside pair {count} ({len(pair.src_words)} source, "
                    f"{len(pair.tgt_words)} target words; 0-based links expected: is the "
                    "file 1-based, or target first?)",
                    path=teacher_name,
                    line=sentence.line_no,
                )
        yield pair, links
    if next(teacher_iter, None) is not None:
        raise CorpusError(
            f"has more alignments than the corpus has pairs ({count}); the teacher "
            "alignments must be line-aligned with the corpus",
            path=teacher_name,
        )
