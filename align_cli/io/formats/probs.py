"""awesome-align's ``--output_prob_file``: one line per sentence pair, on it one number per
link of the same line of the links file (a Pharaoh file), in the same order.

It holds scores, not links (the ``scores_only`` trait): it is written like any format and
read only together with its links file (:func:`read_pharaoh_with_probs`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

from align_cli.errors import CorpusError
from align_cli.io.corpus import display_name, read_lines
from align_cli.io.formats.base import AlignedSentence, Format, format_score, parse_score
from align_cli.io.formats.pharaoh import parse_pharaoh_links


def read_pharaoh_with_probs(
    links_path: str, probs_path: str, *, one_based: bool = False
) -> Iterator[AlignedSentence]:
    """Read an awesome-align links file together with its ``--output_prob_file``.

    Line ``k`` of the probability file holds one number per link of line ``k`` of the links
    file, in the same order (see :func:`format_scores`).
    """
    links_name, probs_name = display_name(links_path), display_name(probs_path)
    prob_lines = read_lines(probs_path, option_hints=False)
    index = -1
    for index, (line_no, text) in enumerate(read_lines(links_path, option_hints=False)):
        parsed = parse_pharaoh_links(text, one_based=one_based, path=links_name, line_no=line_no)
        prob_line = next(prob_lines, None)
        if prob_line is None:
            raise CorpusError(
                f"ended before the links file {links_name}; the two must have the same "
                "number of lines",
                path=probs_name,
                line=line_no,
            )
        prob_no, prob_text = prob_line
        values = prob_text.split()
        if len(values) != len(parsed):
            raise CorpusError(
                f"{len(values)} probabilities for the {len(parsed)} links on line {line_no} "
                f"of {links_name}",
                path=probs_name,
                line=prob_no,
            )
        sure = {link for link, is_sure, _ in parsed if is_sure}
        possible = {link for link, is_sure, _ in parsed if not is_sure} - sure
        scores = {
            link: parse_score(value, value, probs_name, prob_no)
            for (link, _, _), value in zip(parsed, values, strict=True)
        }
        yield AlignedSentence(index, line_no, frozenset(sure), frozenset(possible), scores)
    extra = next(prob_lines, None)
    if extra is not None:
        raise CorpusError(
            f"has more lines than the links file {links_name} ({index + 1})",
            path=probs_name,
            line=extra[0],
        )


def format_scores(scores: Sequence[float]) -> str:
    """One line of an awesome-align probability file.

    awesome-align's ``--output_prob_file`` has one line per sentence pair, and on it one
    number per link, separated by spaces, in the same order as the links on the same line
    of the ``--output_file`` (the alignment file). So ``scores[k]`` belongs to ``links[k]``
    of the same :class:`~align_cli.types.AlignmentResult`. Numbers are written with
    :data:`~align_cli.io.formats.base.SCORE_DIGITS` significant digits.
    """
    return " ".join(format_score(score) for score in scores)


def write_probs(sentence: AlignedSentence) -> str:
    """The scores of a sentence in the order the Pharaoh writer writes its links (sorted),
    as awesome-align's probability file does for its links file; a link without a score is
    written as ``nan``."""
    return format_scores([sentence.scores.get(link, math.nan) for link in sorted(sentence.links)])


PROBS = Format("probs", "awesome-align probability", writer=write_probs, scores_only=True)
