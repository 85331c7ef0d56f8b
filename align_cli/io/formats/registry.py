"""The registered formats, what the commands offer from them, and "auto" resolved by
detection: callers look a format up here and consult its traits (see
:class:`~align_cli.io.formats.base.Format`) instead of comparing names."""

from __future__ import annotations

import zlib
from collections.abc import Iterator

from align_cli.errors import CorpusError
from align_cli.io.corpus import UTF8_BOM, open_binary
from align_cli.io.formats.base import AlignedSentence, Format, Record
from align_cli.io.formats.giza import GIZA
from align_cli.io.formats.jsonl import JSONL
from align_cli.io.formats.naacl import NAACL
from align_cli.io.formats.pharaoh import PHARAOH
from align_cli.io.formats.probs import PROBS

# In the order the commands list them.
FORMATS: dict[str, Format] = {fmt.name: fmt for fmt in (PHARAOH, NAACL, GIZA, JSONL, PROBS)}

AUTO = "auto"  # the format option's value for "detect it" (see detect_format)
READ_FORMATS = tuple(name for name, fmt in FORMATS.items() if fmt.readable)
WRITE_FORMATS = tuple(name for name, fmt in FORMATS.items() if fmt.writable)
# What a command that writes links can write (not a file of scores alone).
LINK_WRITE_FORMATS = tuple(name for name in WRITE_FORMATS if FORMATS[name].holds_links)
READ_CHOICES = (AUTO, *READ_FORMATS)  # for an input's format option

# The format for what nothing claims: an empty file, and any line that is not GIZA, JSONL
# or NAACL.
FALLBACK = PHARAOH
# Names are asked in this order: GIZA's ".A3." may sit anywhere in a name (en-fr.A3.final),
# so it goes before the formats known by their suffix.
_DETECTION_ORDER = (GIZA, JSONL, NAACL)


def detect_format(path: str) -> str:
    """Guess a file's format from its name, else from its first non-empty line.

    ``*.A3.final[.gz]`` and files starting with ``# Sentence pair`` are GIZA; ``*.jsonl``
    and lines starting with ``{`` are JSONL; ``*.naacl``, ``*.wa`` and lines of bare
    integers (``3 4 5 S``) are NAACL; anything else is Pharaoh. Standard input and pipes
    are peeked at without losing what is read: the reader gets it again.
    """
    name = str(path)
    base = name[:-3] if name.endswith(".gz") else name
    for fmt in _DETECTION_ORDER:
        if fmt.claims_name is not None and fmt.claims_name(base):
            return fmt.name
    text = _first_line(name)
    if text is not None:
        for fmt in _DETECTION_ORDER:
            if fmt.claims_line is not None and fmt.claims_line(text):
                return fmt.name
    return FALLBACK.name


def _first_line(path: str) -> str | None:
    """The first non-empty line of ``path``, stripped (None: there is none, or the file
    cannot be read, which the reader then reports with its line)."""
    with open_binary(path, peek=True) as handle:
        try:
            for number, raw in enumerate(handle):
                if number == 0 and raw.startswith(UTF8_BOM):
                    raw = raw[len(UTF8_BOM) :]
                text = raw.decode("utf-8", errors="replace").strip()
                if text:
                    return text
        except (OSError, EOFError, ValueError, zlib.error):
            return None  # a corrupt .gz and the like: the reader names the line
    return None


def readable_format(fmt: str | Format, path: str) -> Format:
    """The readable format named ``fmt`` (a :class:`Format` is taken as is); ``auto`` is
    detected from ``path``."""
    if isinstance(fmt, Format):
        return fmt
    if fmt == AUTO:
        fmt = detect_format(path)
    if fmt not in READ_FORMATS:
        raise CorpusError(f"unknown alignment format {fmt!r}; choose from {READ_FORMATS}")
    return FORMATS[fmt]


def writable_format(fmt: str | Format) -> Format:
    """The writable format named ``fmt`` (a :class:`Format` is taken as is)."""
    if isinstance(fmt, Format):
        return fmt
    if fmt not in WRITE_FORMATS:
        raise ValueError(f"unknown output format {fmt!r}; choose from {WRITE_FORMATS}")
    return FORMATS[fmt]


def read_alignments(
    path: str, fmt: str | Format = AUTO, *, one_based: bool = False, reverse: bool = False
) -> Iterator[AlignedSentence]:
    """Read any supported format; ``reverse`` swaps the sides of a target-first file.

    ``one_based`` applies to Pharaoh files only: the other formats fix their own convention
    (NAACL and GIZA are 1-based, JSONL is 0-based) and reject the option.
    """
    sentences = readable_format(fmt, path).read(path, one_based=one_based)
    if reverse:
        return (sentence.flipped() for sentence in sentences)
    return sentences


def format_sentence(sentence: Record, fmt: str | Format, *, one_based: bool = False) -> str | None:
    """One sentence in output format ``fmt`` (no final newline); ``None`` means no line.

    NAACL writes nothing for a sentence without links. ``one_based`` applies to Pharaoh
    output only. ``probs`` writes the scores in the order :func:`format_talp` writes the
    links (sorted), as awesome-align's probability file does for its links file; a link
    without a score is written as ``nan``.
    """
    return writable_format(fmt).write(sentence, one_based=one_based)
