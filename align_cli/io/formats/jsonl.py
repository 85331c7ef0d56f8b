"""JSONL: one JSON object per line, xalign's own output (``xalign extract --format jsonl``)
and anything with a ``links`` list per line. 0-based; carries the words when present.

Written only when present or asked for, so that older outputs keep their bytes: ``id``
(a JSONL request's own id), ``src_offsets`` / ``tgt_offsets`` (each word's ``[start,
end)`` code points in its side's raw text, ``--tokenize unicode``) and ``unaligned_src`` /
``unaligned_tgt`` (``--flags``: indices of the words without a link).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator

import numpy as np

from align_cli.errors import CorpusError
from align_cli.io.corpus import display_name, read_lines
from align_cli.io.formats.base import AlignedSentence, Format, Record, as_sentence, format_score
from align_cli.io.formats.streams import check_indices
from align_cli.types import Link

# Decimal places of the score matrix in JSONL: enough to inspect and plot it; the links are
# extracted from the unrounded matrix before it is written.
MATRIX_DECIMALS = 4


def format_jsonl(
    record: Record, *, include_matrix: bool = False, signature: str | None = None
) -> str:
    """One JSON object (no final newline) for one sentence or xalign alignment.

    Keys: ``index`` (0-based), ``src_words`` and ``tgt_words`` (when known), ``links``
    (``[[i, j], ...]``, 0-based, source first, sorted; the sure links of a sentence read
    from a file), ``possible`` (only when there are any), ``scores`` (``scores[k]`` is the
    score of ``links[k]``, null where there is none; ``possible_scores`` likewise). An
    aligner's result (or a sentence made from one, with :class:`RunInfo`) always has
    ``scores`` and ``skipped`` (why the pair was not aligned, or null), ``matrix`` when
    asked for with ``include_matrix`` and present (``[src][tgt]``, rounded to
    :data:`MATRIX_DECIMALS` places) and ``signature`` when given (what produced the
    output); the two keywords apply to results.
    """
    sentence = as_sentence(record, include_matrix=include_matrix, signature=signature)
    run = sentence.run
    links = sorted(sentence.sure)
    out: dict[str, object] = {}
    if run is not None and run.key is not None:
        out["id"] = run.key
    out["index"] = sentence.index
    if sentence.src_words is not None and sentence.tgt_words is not None:
        out["src_words"] = list(sentence.src_words)
        out["tgt_words"] = list(sentence.tgt_words)
    if run is not None and run.src_offsets is not None and run.tgt_offsets is not None:
        out["src_offsets"] = [list(span) for span in run.src_offsets]
        out["tgt_offsets"] = [list(span) for span in run.tgt_offsets]
    out["links"] = [[i, j] for i, j in links]
    if sentence.possible:
        out["possible"] = [[i, j] for i, j in sorted(sentence.possible)]
    if sentence.scores:
        out["scores"] = [_round_score(sentence.scores.get(link, math.nan)) for link in links]
        if sentence.possible:
            out["possible_scores"] = [
                _round_score(sentence.scores.get(link, math.nan))
                for link in sorted(sentence.possible)
            ]
    elif run is not None:
        out["scores"] = []  # xalign's own records always have the key (the reader knows)
    if run is not None:
        out["skipped"] = run.skipped
        if run.matrix is not None:
            out["matrix"] = np.round(np.asarray(run.matrix, dtype=float), MATRIX_DECIMALS).tolist()
        if run.signature is not None:
            out["signature"] = run.signature
        if run.flags and sentence.src_words is not None and sentence.tgt_words is not None:
            out["unaligned_src"] = unaligned(len(sentence.src_words), (i for i, _ in links))
            out["unaligned_tgt"] = unaligned(len(sentence.tgt_words), (j for _, j in links))
    return json.dumps(out, ensure_ascii=False)


def unaligned(length: int, linked: Iterable[int]) -> list[int]:
    """The indices below ``length`` that no link uses: the words a reviewer should check
    (a source word without a link may be an omission, a target word an addition)."""
    used = set(linked)
    return [k for k in range(length) if k not in used]


def _round_score(score: float) -> float | None:
    value = float(score)
    return None if math.isnan(value) else float(format_score(value))


def read_jsonl(path: str) -> Iterator[AlignedSentence]:
    """Read xalign's JSONL output (or anything with a ``links`` list per line).

    ``links`` are sure; an optional ``possible`` list holds possible links; ``scores`` (and
    ``possible_scores``) give one number (or null) per link; ``src_words`` and
    ``tgt_words`` are kept when present.
    """
    name = display_name(path)
    for index, (line_no, text) in enumerate(read_lines(path, option_hints=False)):
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


def read_jsonl_matrices(path: str) -> Iterator[np.ndarray | None]:
    """The ``matrix`` of each line of an xalign JSONL file (``None`` where absent).

    :func:`read_jsonl` reads the links and words; this reads the matrices it leaves out,
    line by line in the same order.
    """
    name = display_name(path)
    for line_no, text in read_lines(path, option_hints=False):
        try:
            record = json.loads(text)
        except json.JSONDecodeError as error:
            raise CorpusError(f"invalid JSON: {error.msg}", path=name, line=line_no) from None
        yield _matrix(record, name, line_no)


def read_jsonl_with_matrices(path: str) -> Iterator[tuple[AlignedSentence, np.ndarray | None]]:
    """Each sentence of a JSONL file with its ``matrix`` (``None`` where absent), in one
    pass: a pipe or standard input can be read only once."""
    name = display_name(path)
    for index, (line_no, text) in enumerate(read_lines(path, option_hints=False)):
        try:
            record = json.loads(text)
        except json.JSONDecodeError as error:
            raise CorpusError(f"invalid JSON: {error.msg}", path=name, line=line_no) from None
        if not isinstance(record, dict):
            raise CorpusError("expected a JSON object", path=name, line=line_no)
        yield _sentence_from_record(index, line_no, record, name), _matrix(record, name, line_no)


def _matrix(record: object, name: str, line_no: int) -> np.ndarray | None:
    matrix = record.get("matrix") if isinstance(record, dict) else None
    if matrix is None:
        return None
    try:
        values = np.asarray(matrix, dtype=float)
    except (TypeError, ValueError):  # ragged rows, or not numbers
        values = None
    if values is not None and values.size == 0 and values.ndim <= 2:
        return None  # an empty pair has nothing to shade
    if values is None or values.ndim != 2:
        raise CorpusError("'matrix' must be a list of rows of numbers", path=name, line=line_no)
    return values


def _claims_name(base: str) -> bool:
    return base.endswith(".jsonl")


def _claims_line(text: str) -> bool:
    return text.startswith("{")


JSONL = Format(
    "jsonl",
    "JSONL",
    reader=read_jsonl,
    writer=format_jsonl,
    carries_words=True,
    claims_name=_claims_name,
    claims_line=_claims_line,
    read_matrices=read_jsonl_with_matrices,
)
