"""Pharaoh / talp: one line per sentence of ``i-j`` (sure), ``ipj`` or ``i?j`` (possible)
links; ``i-j-score`` and ``i-j:score`` add a score to a link (as some tools write them).

0-based by default; gold sets ("talp") are usually 1-based: ``one_based=True``. An empty
line is a sentence without links.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from align_cli.errors import CorpusError
from align_cli.io.corpus import display_name, read_lines
from align_cli.io.formats.base import AlignedSentence, Format, parse_score
from align_cli.types import Link

_PHARAOH_LINK = re.compile(r"([0-9]+)([-p?])([0-9]+)(?:[-:]([^\s:]+))?")  # ASCII digits only
_NEGATIVE_LINK = re.compile(r"-\d+[-p?]-?\d+.*|\d+[-p?]-\d+")


def parse_pharaoh_links(
    text: str, *, one_based: bool = False, path: str = "<string>", line_no: int = 0
) -> list[tuple[Link, bool, float | None]]:
    """Parse one Pharaoh/talp line into ``(link, is_sure, score)`` in file order, 0-based."""
    parsed: list[tuple[Link, bool, float | None]] = []
    for token in text.split():
        match = _PHARAOH_LINK.fullmatch(token)
        if match is None:
            if _NEGATIVE_LINK.fullmatch(token):
                raise CorpusError(f"negative index in link {token!r}", path=path, line=line_no)
            raise CorpusError(
                f"malformed link {token!r}: expected i-j (sure), ipj or i?j (possible), "
                "optionally followed by -score or :score",
                path=path,
                line=line_no,
            )
        first, mark, second, score_text = match.groups()
        link = _to_zero_based(int(first), int(second), one_based, token, path, line_no)
        score = None if score_text is None else parse_score(score_text, token, path, line_no)
        parsed.append((link, mark == "-", score))
    return parsed


def parse_pharaoh_line(
    text: str, *, one_based: bool = False, path: str = "<string>", line_no: int = 0
) -> tuple[set[Link], set[Link], dict[Link, float]]:
    """Parse one Pharaoh/talp line into ``(sure, possible, scores)``, 0-based.

    A link that is both sure and possible (``1-2 1p2``) is sure.
    """
    sure: set[Link] = set()
    possible: set[Link] = set()
    scores: dict[Link, float] = {}
    for link, is_sure, score in parse_pharaoh_links(
        text, one_based=one_based, path=path, line_no=line_no
    ):
        (sure if is_sure else possible).add(link)
        if score is not None:
            scores[link] = score
    return sure, possible - sure, scores


def _to_zero_based(
    first: int, second: int, one_based: bool, token: str, path: str, line_no: int
) -> Link:
    if not one_based:
        return first, second
    if first == 0 or second == 0:
        raise CorpusError(
            f"index 0 in link {token!r} of a file read as 1-based; if the file is 0-based, "
            "drop the one-based option",
            path=path,
            line=line_no,
        )
    return first - 1, second - 1


def read_pharaoh(path: str, *, one_based: bool = False) -> Iterator[AlignedSentence]:
    """Read a Pharaoh / talp file: one line per sentence (an empty line has no links)."""
    name = display_name(path)
    for index, (line_no, text) in enumerate(read_lines(path, option_hints=False)):
        sure, possible, scores = parse_pharaoh_line(
            text, one_based=one_based, path=name, line_no=line_no
        )
        yield AlignedSentence(index, line_no, frozenset(sure), frozenset(possible), scores)


def format_talp(
    sure: Iterable[Link], possible: Iterable[Link] = (), *, one_based: bool = False
) -> str:
    """Sure links as ``i-j`` and possible-only links as ``ipj``, sorted together."""
    offset = 1 if one_based else 0
    sure_set = set(sure)
    marked = [(link, "-") for link in sure_set]
    marked += [(link, "p") for link in set(possible) - sure_set]
    return " ".join(f"{i + offset}{mark}{j + offset}" for (i, j), mark in sorted(marked))


def format_pharaoh(links: Iterable[Link]) -> str:
    """Sorted ``i-j`` links separated by spaces (no line end), 0-based, source first."""
    return format_talp(links)


def write_pharaoh(sentence: AlignedSentence, *, one_based: bool = False) -> str:
    """The Pharaoh line of a sentence (scores are not written: they go to a ``probs`` file)."""
    return format_talp(sentence.sure, sentence.possible, one_based=one_based)


PHARAOH = Format(
    "pharaoh",
    "Pharaoh",
    reader=read_pharaoh,
    writer=write_pharaoh,
    takes_one_based=True,
    takes_probs_file=True,
    # Claims nothing: the registry falls back to it for what no other format claims.
)
