"""Alignment file formats: readers (generators) and writers (pure functions).

Inside xalign a link ``(i, j)`` is 0-based and source first. Files differ:

=========  ===============================================  ==========================
format     one sentence is                                  indices
=========  ===============================================  ==========================
pharaoh    a line of ``i-j`` (sure), ``ipj`` or ``i?j``     0-based by default; gold
           (possible); ``i-j-score`` and ``i-j:score`` add  sets ("talp") are usually
           a score to a link (as some tools write them)     1-based: ``one_based=True``
naacl      lines ``sentence_no pos_src pos_tgt [S|P]        always 1-based; position 0
           [confidence]`` (WPT 2003/2005), grouped by the   is a NULL link and is
           sentence number; a sentence without links has    dropped
           no line at all
giza       GIZA++ ``*.A3.final``: a ``#`` header line, the  1-based positions; the
           target sentence, then ``NULL ({ }) w ({ j k })`` ``NULL`` line's words are
           for the source words (``.gz`` is read as is)     the source
jsonl      one JSON object per line (xalign's own output)   0-based
probs      awesome-align's ``--output_prob_file``: read     as the links file
           next to its links file (see :func:`format_scores`)
=========  ===============================================  ==========================

Readers take a path (``-`` is stdin, ``*.gz`` is decompressed), yield one
:class:`AlignedSentence` per sentence and never hold the file in memory. Every problem is a
:class:`~align_cli.errors.CorpusError` that names the file and the 1-based line.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from align_cli.errors import CorpusError
from align_cli.io.corpus import read_lines
from align_cli.types import AlignmentResult, Link, SentencePair

READ_FORMATS = ("pharaoh", "naacl", "giza", "jsonl")
WRITE_FORMATS = ("pharaoh", "naacl", "giza", "jsonl", "probs")

# Digits of a score written after a link or in a probability file: enough to tell
# probabilities apart, short enough to keep files small.
SCORE_DIGITS = 6
# Decimal places of the score matrix in JSONL: enough to inspect and plot it; the links are
# extracted from the unrounded matrix before it is written.
MATRIX_DECIMALS = 4


@dataclass(frozen=True)
class AlignedSentence:
    """The links of one sentence as read from an alignment file, 0-based, source first.

    ``possible`` holds the links marked possible (``ipj``, ``P``) and never a sure link;
    the *P* set of AER is ``sure | possible``. ``scores`` maps links to the score the file
    gave them, when it gave any. The words are known for formats that carry them (GIZA,
    JSONL).
    """

    index: int  # 0-based position in the file
    line_no: int  # 1-based line where the sentence starts, for error messages
    sure: frozenset[Link] = frozenset()
    possible: frozenset[Link] = frozenset()
    scores: Mapping[Link, float] = field(default_factory=dict)
    src_words: tuple[str, ...] | None = None
    tgt_words: tuple[str, ...] | None = None

    @property
    def links(self) -> frozenset[Link]:
        """Every link, sure or possible."""
        return self.sure | self.possible

    def flipped(self) -> AlignedSentence:
        """The same sentence with source and target swapped."""
        return AlignedSentence(
            self.index,
            self.line_no,
            frozenset((j, i) for i, j in self.sure),
            frozenset((j, i) for i, j in self.possible),
            {(j, i): score for (i, j), score in self.scores.items()},
            self.tgt_words,
            self.src_words,
        )


def display_name(path: str) -> str:
    return "<stdin>" if str(path) == "-" else str(path)


# --------------------------------------------------------------------------- pharaoh

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
        score = None if score_text is None else _parse_score(score_text, token, path, line_no)
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


def _parse_score(text: str, token: str, path: str, line_no: int) -> float:
    try:
        value = float(text)
    except ValueError:
        raise CorpusError(f"score in {token!r} is not a number", path=path, line=line_no) from None
    if math.isnan(value):
        raise CorpusError(f"score in {token!r} is not a number", path=path, line=line_no)
    return value


def read_pharaoh(path: str, *, one_based: bool = False) -> Iterator[AlignedSentence]:
    """Read a Pharaoh / talp file: one line per sentence (an empty line has no links)."""
    name = display_name(path)
    for index, (line_no, text) in enumerate(read_lines(path)):
        sure, possible, scores = parse_pharaoh_line(
            text, one_based=one_based, path=name, line_no=line_no
        )
        yield AlignedSentence(index, line_no, frozenset(sure), frozenset(possible), scores)


def read_pharaoh_with_probs(
    links_path: str, probs_path: str, *, one_based: bool = False
) -> Iterator[AlignedSentence]:
    """Read an awesome-align links file together with its ``--output_prob_file``.

    Line ``k`` of the probability file holds one number per link of line ``k`` of the links
    file, in the same order (see :func:`format_scores`).
    """
    links_name, probs_name = display_name(links_path), display_name(probs_path)
    prob_lines = read_lines(probs_path)
    index = -1
    for index, (line_no, text) in enumerate(read_lines(links_path)):
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
            link: _parse_score(value, value, probs_name, prob_no)
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


def format_pharaoh(links: Iterable[Link]) -> str:
    """Sorted ``i-j`` links separated by spaces (no line end), 0-based, source first."""
    return " ".join(f"{i}-{j}" for i, j in sorted(links))


def format_talp(
    sure: Iterable[Link], possible: Iterable[Link] = (), *, one_based: bool = False
) -> str:
    """Sure links as ``i-j`` and possible-only links as ``ipj``, sorted together."""
    offset = 1 if one_based else 0
    sure_set = set(sure)
    marked = [(link, "-") for link in sure_set]
    marked += [(link, "p") for link in set(possible) - sure_set]
    return " ".join(f"{i + offset}{mark}{j + offset}" for (i, j), mark in sorted(marked))


def format_scores(scores: Sequence[float]) -> str:
    """One line of an awesome-align probability file.

    awesome-align's ``--output_prob_file`` has one line per sentence pair, and on it one
    number per link, separated by spaces, in the same order as the links on the same line
    of the ``--output_file`` (the alignment file). So ``scores[k]`` belongs to ``links[k]``
    of the same :class:`~align_cli.types.AlignmentResult`. Numbers are written with
    :data:`SCORE_DIGITS` significant digits.
    """
    return " ".join(_format_score(score) for score in scores)


def _format_score(score: float) -> str:
    return f"{float(score):.{SCORE_DIGITS}g}"


# --------------------------------------------------------------------------- naacl

_NAACL_MARKS = {"S": True, "P": False}


def read_naacl(path: str) -> Iterator[AlignedSentence]:
    """Read a NAACL/WPT file: ``sentence_no pos_src pos_tgt [S|P] [confidence]``.

    Sentence numbers are 1-based positions in the corpus and must not decrease, so that the
    file can be read as a stream; a sentence with no links has no line and is yielded
    empty. Sentences after the last numbered one cannot be seen: callers that know the
    corpus length pad with :func:`pad_sentences`. Position 0 is the NULL word (WPT's
    convention for "aligned to nothing") and is dropped. A link without a mark is sure.
    """
    name = display_name(path)
    current: _SentenceBuilder | None = None
    next_index = 0
    for line_no, text in read_lines(path):
        fields = text.split()
        if not fields:
            continue
        sentence_no, link, is_sure, confidence = _parse_naacl_fields(fields, name, line_no)
        index = sentence_no - 1
        if current is not None and index != current.index:
            if index < current.index:
                raise CorpusError(
                    f"sentence number {sentence_no} after {current.index + 1}: a NAACL file "
                    "must be sorted by sentence number",
                    path=name,
                    line=line_no,
                )
            yield current.build()
            next_index = current.index + 1
            current = None
        if current is None:
            while next_index < index:
                yield AlignedSentence(next_index, line_no)
                next_index += 1
            current = _SentenceBuilder(index, line_no)
        if link is not None:
            current.add(link, is_sure, confidence)
    if current is not None:
        yield current.build()


def _parse_naacl_fields(
    fields: list[str], path: str, line_no: int
) -> tuple[int, Link | None, bool, float | None]:
    if not 3 <= len(fields) <= 5:
        raise CorpusError(
            f"expected 'sentence_no pos_src pos_tgt [S|P] [confidence]', got {len(fields)} fields",
            path=path,
            line=line_no,
        )
    try:
        sentence_no, pos_src, pos_tgt = (int(value) for value in fields[:3])
    except ValueError:
        raise CorpusError(
            f"sentence number and positions must be integers: {' '.join(fields[:3])!r}",
            path=path,
            line=line_no,
        ) from None
    if sentence_no < 1:
        raise CorpusError(f"sentence number {sentence_no} < 1", path=path, line=line_no)
    if pos_src < 0 or pos_tgt < 0:
        raise CorpusError(f"negative index in link {pos_src} {pos_tgt}", path=path, line=line_no)
    rest = fields[3:]
    is_sure = True
    if rest and rest[0].upper() in _NAACL_MARKS:
        is_sure = _NAACL_MARKS[rest.pop(0).upper()]
    confidence = None
    if rest:
        if len(rest) > 1:
            raise CorpusError(f"unexpected fields {' '.join(rest)!r}", path=path, line=line_no)
        confidence = _parse_score(rest[0], " ".join(fields), path, line_no)
    link = None if pos_src == 0 or pos_tgt == 0 else (pos_src - 1, pos_tgt - 1)
    return sentence_no, link, is_sure, confidence


class _SentenceBuilder:
    def __init__(self, index: int, line_no: int):
        self.index = index
        self.line_no = line_no
        self.sure: set[Link] = set()
        self.possible: set[Link] = set()
        self.scores: dict[Link, float] = {}

    def add(self, link: Link, is_sure: bool, score: float | None) -> None:
        (self.sure if is_sure else self.possible).add(link)
        if score is not None:
            self.scores[link] = score

    def build(self) -> AlignedSentence:
        return AlignedSentence(
            self.index,
            self.line_no,
            frozenset(self.sure),
            frozenset(self.possible - self.sure),
            self.scores,
        )


def format_naacl(
    sentence_no: int,
    sure: Iterable[Link],
    possible: Iterable[Link] = (),
    scores: Mapping[Link, float] | None = None,
) -> str:
    """NAACL lines for one sentence (1-based ``sentence_no``), one per link, no final newline.

    Every line carries its ``S``/``P`` mark; the confidence column is written for the links
    ``scores`` has. A sentence without links gives the empty string (NAACL has no line for
    it).
    """
    sure_set = set(sure)
    marked = [(link, "S") for link in sure_set]
    marked += [(link, "P") for link in set(possible) - sure_set]
    lines = []
    for (i, j), mark in sorted(marked):
        line = f"{sentence_no} {i + 1} {j + 1} {mark}"
        if scores and (i, j) in scores:
            line += f" {_format_score(scores[(i, j)])}"
        lines.append(line)
    return "\n".join(lines)


def pad_sentences(sentences: Iterable[AlignedSentence], count: int) -> Iterator[AlignedSentence]:
    """Yield ``sentences`` and then empty ones up to ``count`` (for NAACL's missing tail)."""
    next_index = 0
    line_no = 0
    for sentence in sentences:
        yield sentence
        next_index = sentence.index + 1
        line_no = sentence.line_no
    for index in range(next_index, count):
        yield AlignedSentence(index, line_no)


# --------------------------------------------------------------------------- GIZA++ A3

_GIZA_HEADER = re.compile(r"#\s*Sentence pair \((\d+)\) source length (\d+) target length (\d+)")


def read_giza_a3(path: str) -> Iterator[AlignedSentence]:
    """Read a GIZA++ ``*.A3.final`` file (gzipped when the name ends in ``.gz``).

    Each sentence is three lines: the ``#`` header, the target sentence, then the source
    words, each followed by ``({ ... })`` with the 1-based positions of the target words
    it generated (``NULL`` first). Link ``(i, j)`` joins source word ``i`` (the ``NULL``
    line, NULL not counted) and target word ``j`` (the second line). In Moses' naming,
    ``en-fr.A3.final`` has French on the NULL line, so its links are French first.
    """
    name = display_name(path)
    lines = read_lines(path)
    index = 0
    for header_no, header in lines:
        if not header.strip() and index > 0:
            continue  # tolerate blank lines between records, as some scripts write them
        target_line = next(lines, None)
        source_line = next(lines, None)
        if target_line is None or source_line is None:
            raise CorpusError(
                "incomplete GIZA A3 record: expected a header line, the target sentence "
                "and the NULL ({ }) line",
                path=name,
                line=header_no,
            )
        yield _parse_giza_record(index, (header_no, header), target_line, source_line, name)
        index += 1


def _parse_giza_record(
    index: int,
    header: tuple[int, str],
    target_line: tuple[int, str],
    source_line: tuple[int, str],
    path: str,
) -> AlignedSentence:
    header_no, header_text = header
    if not header_text.startswith("#"):
        raise CorpusError(
            f"expected a GIZA A3 header line starting with '#', got {header_text[:40]!r}",
            path=path,
            line=header_no,
        )
    tgt_words = tuple(target_line[1].split())
    line_no, text = source_line
    src_words, targets_of = _parse_giza_source_line(text, path, line_no)
    links: set[Link] = set()
    for i, positions in enumerate(targets_of[1:]):
        for position in positions:
            if not 1 <= position <= len(tgt_words):
                raise CorpusError(
                    f"target position {position} of source word {i + 1} "
                    f"({src_words[i]!r}) is outside the {len(tgt_words)}-word target sentence",
                    path=path,
                    line=line_no,
                )
            links.add((i, position - 1))
    declared = _GIZA_HEADER.match(header_text)
    if declared is not None:
        src_len, tgt_len = int(declared.group(2)), int(declared.group(3))
        if (src_len, tgt_len) != (len(src_words), len(tgt_words)):
            raise CorpusError(
                f"header says source length {src_len} and target length {tgt_len}, but the "
                f"record has {len(src_words)} source and {len(tgt_words)} target words",
                path=path,
                line=header_no,
            )
    return AlignedSentence(
        index, header_no, frozenset(links), src_words=src_words, tgt_words=tgt_words
    )


def _parse_giza_source_line(
    text: str, path: str, line_no: int
) -> tuple[tuple[str, ...], list[list[int]]]:
    """Split ``NULL ({ 3 }) w1 ({ 1 2 }) ...`` into the words and their target positions."""
    tokens = text.split()
    words: list[str] = []
    targets_of: list[list[int]] = []
    at = 0
    while at < len(tokens):
        word = tokens[at]
        if at + 1 >= len(tokens) or tokens[at + 1] != "({":
            raise CorpusError(
                f"expected '({{' after word {word!r} in the GIZA A3 alignment line",
                path=path,
                line=line_no,
            )
        at += 2
        positions: list[int] = []
        while at < len(tokens) and tokens[at] != "})":
            try:
                positions.append(int(tokens[at]))
            except ValueError:
                raise CorpusError(
                    f"expected a target position or '}})' after {word!r}, got {tokens[at]!r}",
                    path=path,
                    line=line_no,
                ) from None
            at += 1
        if at >= len(tokens):
            raise CorpusError(f"missing '}})' after word {word!r}", path=path, line=line_no)
        at += 1
        words.append(word)
        targets_of.append(positions)
    if not words or words[0] != "NULL":
        raise CorpusError(
            "the GIZA A3 alignment line must start with 'NULL ({ ... })'", path=path, line=line_no
        )
    return tuple(words[1:]), targets_of


def format_giza_a3(result: AlignmentResult, sentence_no: int) -> str:
    """Three GIZA++ A3 lines (no final newline) for one xalign alignment.

    The source words go on the ``NULL`` line and the target sentence on the second line,
    so GIZA's "source" is xalign's source; target words without a link are listed under
    ``NULL``, as GIZA does. ``sentence_no`` is the 1-based number in the header. xalign has
    no sentence probability, so the header's alignment score is written as 0. GIZA itself
    links each target word to one source word; xalign may list a target word under several
    source words, which this module's reader keeps but Moses' ``giza2bal.pl`` does not.
    """
    return _format_giza_record(
        sentence_no, result.pair.src_words, result.pair.tgt_words, result.links
    )


def format_giza_sentence(sentence: AlignedSentence, sentence_no: int) -> str:
    """:func:`format_giza_a3` for a sentence read from a file (it must carry words)."""
    if sentence.src_words is None or sentence.tgt_words is None:
        raise ValueError("the GIZA A3 format needs the words of each sentence")
    return _format_giza_record(sentence_no, sentence.src_words, sentence.tgt_words, sentence.links)


def _format_giza_record(
    sentence_no: int, src_words: Sequence[str], tgt_words: Sequence[str], links: Iterable[Link]
) -> str:
    targets_of: list[list[int]] = [[] for _ in range(len(src_words) + 1)]
    linked_targets: set[int] = set()
    for i, j in sorted(links):
        targets_of[i + 1].append(j + 1)
        linked_targets.add(j)
    targets_of[0] = [j + 1 for j in range(len(tgt_words)) if j not in linked_targets]
    header = (
        f"# Sentence pair ({sentence_no}) source length {len(src_words)} "
        f"target length {len(tgt_words)} alignment score : 0"
    )
    words = ("NULL", *src_words)
    cells = [
        f"{word} ({{ {''.join(f'{p} ' for p in positions)}}})"
        for word, positions in zip(words, targets_of, strict=True)
    ]
    return "\n".join((header, " ".join(tgt_words), " ".join(cells)))


# --------------------------------------------------------------------------- JSONL


def format_jsonl(
    result: AlignmentResult, *, include_matrix: bool, signature: str | None = None
) -> str:
    """One JSON object (no final newline) for one xalign alignment.

    Keys: ``index`` (0-based), ``src_words``, ``tgt_words``, ``links`` (``[[i, j], ...]``,
    0-based, source first), ``scores`` (``scores[k]`` is the score of ``links[k]``),
    ``skipped`` (why the pair was not aligned, or null), ``matrix`` when asked for and
    present (``[src][tgt]``, rounded to :data:`MATRIX_DECIMALS` places) and ``signature``
    when given (what produced the output).
    """
    record: dict[str, object] = {
        "index": result.pair.index,
        "src_words": list(result.pair.src_words),
        "tgt_words": list(result.pair.tgt_words),
        "links": [[i, j] for i, j in result.links],
        "scores": [_round_score(score) for score in result.scores],
        "skipped": result.skipped,
    }
    if include_matrix and result.matrix is not None:
        record["matrix"] = np.round(
            np.asarray(result.matrix, dtype=float), MATRIX_DECIMALS
        ).tolist()
    if signature is not None:
        record["signature"] = signature
    return json.dumps(record, ensure_ascii=False)


def format_jsonl_sentence(sentence: AlignedSentence) -> str:
    """One JSON object for a sentence read from a file; ``possible`` only when there are any."""
    links = sorted(sentence.sure)
    record: dict[str, object] = {"index": sentence.index}
    if sentence.src_words is not None and sentence.tgt_words is not None:
        record["src_words"] = list(sentence.src_words)
        record["tgt_words"] = list(sentence.tgt_words)
    record["links"] = [[i, j] for i, j in links]
    if sentence.possible:
        record["possible"] = [[i, j] for i, j in sorted(sentence.possible)]
    if sentence.scores:
        record["scores"] = [_round_score(sentence.scores.get(link, math.nan)) for link in links]
        if sentence.possible:
            record["possible_scores"] = [
                _round_score(sentence.scores.get(link, math.nan))
                for link in sorted(sentence.possible)
            ]
    return json.dumps(record, ensure_ascii=False)


def _round_score(score: float) -> float | None:
    value = float(score)
    return None if math.isnan(value) else float(_format_score(value))


def read_jsonl(path: str) -> Iterator[AlignedSentence]:
    """Read xalign's JSONL output (or anything with a ``links`` list per line).

    ``links`` are sure; an optional ``possible`` list holds possible links; ``scores`` (and
    ``possible_scores``) give one number (or null) per link; ``src_words`` and
    ``tgt_words`` are kept when present.
    """
    name = display_name(path)
    for index, (line_no, text) in enumerate(read_lines(path)):
        try:
            record = json.loads(text)
        except json.JSONDecodeError as error:
            raise CorpusError(f"invalid JSON: {error.msg}", path=name, line=line_no) from None
        if not isinstance(record, dict):
            raise CorpusError("expected a JSON object", path=name, line=line_no)
        yield _sentence_from_record(index, line_no, record, name)


def _sentence_from_record(index: int, line_no: int, record: dict, path: str) -> AlignedSentence:
    sure = _json_links(record.get("links", []), "links", path, line_no)
    possible = _json_links(record.get("possible", []), "possible", path, line_no)
    scores: dict[Link, float] = {}
    scores.update(_json_scores(record.get("scores"), sure, "scores", path, line_no))
    scores.update(
        _json_scores(record.get("possible_scores"), possible, "possible_scores", path, line_no)
    )
    src_words = _json_words(record.get("src_words"), "src_words", path, line_no)
    tgt_words = _json_words(record.get("tgt_words"), "tgt_words", path, line_no)
    sure_set = frozenset(sure)
    sentence = AlignedSentence(
        index, line_no, sure_set, frozenset(possible) - sure_set, scores, src_words, tgt_words
    )
    if src_words is not None and tgt_words is not None:
        check_indices(
            sentence, len(src_words), len(tgt_words), path=path, lengths_from="its own words"
        )
    return sentence


def _json_links(value: object, key: str, path: str, line_no: int) -> list[Link]:
    if not isinstance(value, list):
        raise CorpusError(f"'{key}' must be a list of [i, j] pairs", path=path, line=line_no)
    links: list[Link] = []
    for item in value:
        if (
            not isinstance(item, list)
            or len(item) != 2
            or not all(isinstance(x, int) and not isinstance(x, bool) for x in item)
        ):
            raise CorpusError(
                f"malformed link {json.dumps(item)} in '{key}': expected [i, j] with integers",
                path=path,
                line=line_no,
            )
        if item[0] < 0 or item[1] < 0:
            raise CorpusError(
                f"negative index in link {json.dumps(item)} in '{key}'", path=path, line=line_no
            )
        links.append((item[0], item[1]))
    return links


def _json_scores(
    value: object, links: list[Link], key: str, path: str, line_no: int
) -> dict[Link, float]:
    if value is None or value == []:
        return {}  # format_jsonl writes [] for a result that carries no scores
    if not isinstance(value, list) or len(value) != len(links):
        raise CorpusError(
            f"'{key}' must be a list with one number per link ({len(links)})",
            path=path,
            line=line_no,
        )
    scores = {}
    for link, score in zip(links, value, strict=True):
        if score is None:
            continue
        if not isinstance(score, (int, float)) or isinstance(score, bool):
            raise CorpusError(f"'{key}' holds a non-number {score!r}", path=path, line=line_no)
        scores[link] = float(score)
    return scores


def _json_words(value: object, key: str, path: str, line_no: int) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(word, str) for word in value):
        raise CorpusError(f"'{key}' must be a list of strings", path=path, line=line_no)
    return tuple(value)


# --------------------------------------------------------------------------- dispatch


def detect_format(path: str) -> str:
    """Guess a file's format from its name, else from its first non-empty line.

    ``*.A3.final[.gz]`` and files starting with ``# Sentence pair`` are GIZA; ``*.jsonl``
    and lines starting with ``{`` are JSONL; lines of bare integers (``3 4 5 S``) are NAACL;
    anything else is Pharaoh. stdin cannot be peeked at and is Pharaoh.
    """
    name = str(path)
    base = name[:-3] if name.endswith(".gz") else name
    if ".A3." in base or base.endswith(".A3"):
        return "giza"
    if base.endswith(".jsonl"):
        return "jsonl"
    if base.endswith((".naacl", ".wa")):
        return "naacl"
    if name == "-":
        return "pharaoh"
    for _, text in read_lines(path):
        stripped = text.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            return "giza"
        if stripped.startswith("{"):
            return "jsonl"
        fields = stripped.split()
        if 3 <= len(fields) <= 5 and all(value.isdigit() for value in fields[:3]):
            return "naacl"
        return "pharaoh"
    return "pharaoh"


def read_alignments(
    path: str, fmt: str = "auto", *, one_based: bool = False, reverse: bool = False
) -> Iterator[AlignedSentence]:
    """Read any supported format; ``reverse`` swaps the sides of a target-first file.

    ``one_based`` applies to Pharaoh files only: the other formats fix their own convention
    (NAACL and GIZA are 1-based, JSONL is 0-based) and reject the option.
    """
    if fmt == "auto":
        fmt = detect_format(path)
    if fmt not in READ_FORMATS:
        raise CorpusError(f"unknown alignment format {fmt!r}; choose from {READ_FORMATS}")
    if one_based and fmt != "pharaoh":
        raise CorpusError(
            f"the one-based option applies to Pharaoh files; {fmt} files fix their own indices",
            path=display_name(path),
        )
    if fmt == "pharaoh":
        sentences = read_pharaoh(path, one_based=one_based)
    elif fmt == "naacl":
        sentences = read_naacl(path)
    elif fmt == "giza":
        sentences = read_giza_a3(path)
    else:
        sentences = read_jsonl(path)
    if reverse:
        return (sentence.flipped() for sentence in sentences)
    return sentences


# --------------------------------------------------------------------------- walking files together


@dataclass(frozen=True)
class Stream:
    """A file read sentence by sentence, for :func:`zip_streams`.

    ``implicit_tail`` is true for NAACL files, which have no line for sentences without
    links and so may legitimately end before the other files. ``empty_means_no_links``
    lets a file with no lines at all stand for "no links in any sentence" (what an aligner
    that found nothing may leave behind) instead of being too short.
    """

    name: str
    items: Iterable[AlignedSentence] | Iterable[SentencePair]
    implicit_tail: bool = False
    empty_means_no_links: bool = False


def zip_streams(*streams: Stream) -> Iterator[tuple]:
    """Walk several files in step, one sentence of each at a time.

    A file that ends before another is a :class:`CorpusError` naming it and the line where
    the next sentence should have been, unless it has an implicit tail (NAACL) or is empty
    and allowed to be (see :class:`Stream`); it is then filled with empty sentences.
    """
    iterators = [iter(stream.items) for stream in streams]
    last_line = [0] * len(streams)
    read = [0] * len(streams)
    count = 0
    while True:
        items = [next(iterator, None) for iterator in iterators]
        ended = [item is None for item in items]
        if all(ended):
            return
        if any(ended):
            for k, stream in enumerate(streams):
                may_pad = stream.implicit_tail or (stream.empty_means_no_links and read[k] == 0)
                if ended[k] and not may_pad:
                    longer = next(s.name for s, e in zip(streams, ended, strict=True) if not e)
                    raise CorpusError(
                        f"ends after {count} sentences, but {longer} has more; the files "
                        "must have one entry per sentence pair",
                        path=stream.name,
                        line=last_line[k] + 1,
                    )
            items = [
                AlignedSentence(count, last_line[k]) if item is None else item
                for k, item in enumerate(items)
            ]
        for k, item in enumerate(items):
            last_line[k] = max(last_line[k], item.line_no)
            read[k] += not ended[k]
        yield tuple(items)
        count += 1


def check_indices(
    sentence: AlignedSentence,
    n_src: int,
    n_tgt: int,
    *,
    path: str,
    one_based: bool = False,
    lengths_from: str = "the corpus",
    hint: str = "",
) -> None:
    """Raise a :class:`CorpusError` when a link falls outside a sentence of the given lengths.

    The offending link is shown as the file writes it (1-based when ``one_based``);
    ``hint`` is appended to the message (for example which option reads a file 1-based).
    """
    offset = 1 if one_based else 0
    for i, j in sorted(sentence.links):
        if i >= n_src or j >= n_tgt:
            side = "source" if i >= n_src else "target"
            raise CorpusError(
                f"link {i + offset}-{j + offset} points past the end of the {side} sentence "
                f"({n_src} source, {n_tgt} target words in {lengths_from}){hint}",
                path=path,
                line=sentence.line_no,
            )


def format_sentence(sentence: AlignedSentence, fmt: str, *, one_based: bool = False) -> str | None:
    """One sentence in output format ``fmt`` (no final newline); ``None`` means no line.

    NAACL writes nothing for a sentence without links. ``one_based`` applies to Pharaoh
    output only. ``probs`` writes the scores in the order :func:`format_talp` writes the
    links (sorted), as awesome-align's probability file does for its links file; a link
    without a score is written as ``nan``.
    """
    if fmt == "pharaoh":
        return format_talp(sentence.sure, sentence.possible, one_based=one_based)
    if fmt == "naacl":
        return (
            format_naacl(sentence.index + 1, sentence.sure, sentence.possible, sentence.scores)
            or None
        )
    if fmt == "giza":
        return format_giza_sentence(sentence, sentence.index + 1)
    if fmt == "jsonl":
        return format_jsonl_sentence(sentence)
    if fmt == "probs":
        return format_scores(
            [sentence.scores.get(link, math.nan) for link in sorted(sentence.links)]
        )
    raise ValueError(f"unknown output format {fmt!r}; choose from {WRITE_FORMATS}")


def with_words(sentence: AlignedSentence, pair: SentencePair) -> AlignedSentence:
    """``sentence`` with the words of a corpus pair."""
    return replace(sentence, src_words=pair.src_words, tgt_words=pair.tgt_words)
